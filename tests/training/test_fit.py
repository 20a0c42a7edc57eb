"""fit / predict: determinism, learning, transfer, and the isolation of global state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import torch

from mer.models import create_model
from mer.training import FeatureSet, TrainConfig, fit, predict
from mer.training.fit import class_weights, deterministic_algorithms
from mer.training.toy import toy_features

FAST: dict[str, dict[str, Any]] = {
    "ststnet": {},
    "micro_attention": {"input_size": 32, "widths": (8, 8, 16, 16)},
}


@pytest.fixture(scope="module")
def toy() -> FeatureSet:
    """6 subjects x 12 clips of 32 x 32, class written in the flow (weakly: signal 0.3 px)."""
    return toy_features(n_subjects=6, clips_per_subject=12, size=32, signal=0.3, seed=0)


def _split(data: FeatureSet, test: list[str]) -> tuple[FeatureSet, FeatureSet]:
    test_index = data.subject_indices(test)
    train_index = np.setdiff1d(np.arange(len(data)), test_index)
    return data.subset(train_index), data.subset(test_index)


def _state_bytes(state: dict[str, torch.Tensor]) -> dict[str, bytes]:
    return {key: value.numpy().tobytes() for key, value in state.items()}


@pytest.mark.parametrize("name", sorted(FAST))
def test_two_fits_give_bit_identical_state(name: str, toy: FeatureSet) -> None:
    config = TrainConfig(epochs=2, batch_size=16, lr=1e-2, device="cpu", seed=7)
    first = fit(create_model(name, **FAST[name]), toy, config)
    # A model whose weights and global RNG differ: fit re-initialises from the seed.
    torch.manual_seed(123)
    second = fit(create_model(name, **FAST[name]), toy, config)
    assert _state_bytes(first.state_dict) == _state_bytes(second.state_dict)
    assert first.history == second.history
    other_seed = fit(create_model(name, **FAST[name]), toy, TrainConfig(
        epochs=2, batch_size=16, lr=1e-2, device="cpu", seed=8))
    assert _state_bytes(first.state_dict) != _state_bytes(other_seed.state_dict)


def test_fit_leaves_global_torch_state_as_it_was(toy: FeatureSet) -> None:
    model = create_model("ststnet", dropout=0.5)  # dropout draws from the RNG while training
    torch.manual_seed(5)
    rng_before = torch.get_rng_state()
    assert not torch.are_deterministic_algorithms_enabled()
    fit(model, toy, TrainConfig(epochs=1, device="cpu"))
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize(("name", "epochs"), [("ststnet", 30), ("micro_attention", 12)])
def test_training_learns_the_toy_classes(name: str, epochs: int, toy: FeatureSet) -> None:
    train, test = _split(toy, ["toy/s04", "toy/s05"])
    model = create_model(name, **FAST[name])
    config = TrainConfig(epochs=epochs, batch_size=16, lr=1e-2, device="cpu")
    result = fit(model, train, config, val=test)
    history = result.history
    assert len(history) == epochs
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert {"val_loss", "val_accuracy"} <= set(history[-1])
    probs = predict(create_model(name, **FAST[name]), result.state_dict, test, device="cpu")
    assert probs.dtype == np.float32 and probs.shape == (len(test), 3)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float((probs.argmax(axis=1) == test.labels.numpy()).mean())
    assert accuracy >= 0.7  # chance is 1/3


def test_norm_statistics_come_from_the_training_data(toy: FeatureSet) -> None:
    result = fit(create_model("ststnet", input_size=32), toy, TrainConfig(epochs=1, device="cpu"))
    flow = toy.inputs["flow"].double()
    expected = flow.mean(dim=(0, 2, 3)).float()
    assert torch.allclose(result.state_dict["norm.flow_mean"], expected, atol=1e-6)


def test_init_state_is_loaded_then_finetuned(toy: FeatureSet) -> None:
    name, hparams = "micro_attention", FAST["micro_attention"]
    pretrained = fit(create_model(name, **hparams), toy,
                     TrainConfig(epochs=2, lr=1e-2, device="cpu", seed=1)).state_dict
    tiny_steps = TrainConfig(epochs=1, lr=1e-12, device="cpu", seed=2)
    tuned = fit(create_model(name, **hparams), toy, tiny_steps, init_state=pretrained).state_dict
    scratch = fit(create_model(name, **hparams), toy, tiny_steps).state_dict
    key = "stem.0.weight"
    assert torch.allclose(tuned[key], pretrained[key], atol=1e-8)
    assert not torch.allclose(scratch[key], pretrained[key], atol=1e-3)


def test_mismatched_init_state_fails_clearly(toy: FeatureSet) -> None:
    other = create_model("micro_attention", widths=(8, 8, 16, 32)).state_dict()
    model = create_model("micro_attention", **FAST["micro_attention"])
    with pytest.raises(ValueError, match=r"init_state does not fit MicroAttentionResNet.*shape"):
        fit(model, toy, TrainConfig(epochs=1, device="cpu"), init_state=other)
    missing = r"missing keys \['classifier.bias', 'classifier.weight'\]"
    with pytest.raises(ValueError, match=missing):
        fit(create_model("ststnet"), toy, TrainConfig(epochs=1, device="cpu"),
            init_state={k: v for k, v in create_model("ststnet").state_dict().items()
                        if not k.startswith("classifier")})


def test_class_weights_balance_the_classes() -> None:
    weights = class_weights(torch.tensor([0, 0, 0, 1, 2, 2]))
    assert torch.allclose(weights, torch.tensor([6 / 9, 6 / 3, 6 / 6]))
    assert class_weights(torch.tensor([1, 1]))[0] == 0.0


@pytest.mark.parametrize("change", [{"epochs": 0}, {"lr": 0.0}, {"device": "tpu"},
                                    {"max_shift": 0.5}, {"lr_schedule": "step"}])
def test_train_config_rejects_out_of_range_values(change: dict[str, Any]) -> None:
    (key,) = change
    with pytest.raises(ValueError, match=f"{key}\\n"):
        TrainConfig(**change)


@pytest.mark.parametrize("warn_only", [False, True])
def test_deterministic_algorithms_restores_the_previous_setting(warn_only: bool) -> None:
    torch.use_deterministic_algorithms(True, warn_only=warn_only)
    try:
        with deterministic_algorithms():
            assert torch.are_deterministic_algorithms_enabled()
            assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled() == warn_only
    finally:
        torch.use_deterministic_algorithms(False)


def test_fits_in_two_threads_give_the_sequential_weights(toy: FeatureSet) -> None:
    """Two fits side by side on Python threads, each with one torch thread as every training
    stage runs (``runtime.threads: 1``): with ``MKL_CBWR`` (tests/conftest.py) MKL's sums are
    reproducible for a fixed thread count, and two fits sharing a larger pool change it."""
    configs = [TrainConfig(epochs=2, batch_size=16, lr=1e-2, device="cpu", seed=s) for s in (1, 2)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone = [_state_bytes(fit(create_model("ststnet"), toy, c).state_dict) for c in configs]
        with ThreadPoolExecutor(max_workers=2) as pool:
            together = list(pool.map(lambda c: fit(create_model("ststnet"), toy, c), configs))
    finally:
        torch.set_num_threads(threads)
    assert [_state_bytes(r.state_dict) for r in together] == alone
