"""The model registry: names, hyper-parameters and their errors."""

from __future__ import annotations

import pytest

from mer.models import MerModel, create_model, default_hparams, list_models, register_model


def test_builtin_models_are_registered() -> None:
    assert {"ststnet", "micro_attention"} <= set(list_models())
    assert list_models() == sorted(list_models())


def test_create_model_builds_a_mer_model_with_hparams() -> None:
    model = create_model("ststnet", input_size=32, dropout=0.25)
    assert isinstance(model, MerModel)
    assert model.input_size == 32


def test_unknown_model_names_it_and_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'stst'.*micro_attention.*ststnet"):
        create_model("stst")


def test_unknown_hparam_names_it_and_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'ststnet'.*\['input_sise'\].*dropout.*input_size"):
        create_model("ststnet", input_sise=28)


def test_registering_a_taken_name_fails() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_model("ststnet")(lambda: None)


def test_default_hparams_lists_the_factory_defaults() -> None:
    assert default_hparams("ststnet") == {"input_size": 28, "dropout": 0.0}
    assert default_hparams("micro_attention")["input_size"] == 64
