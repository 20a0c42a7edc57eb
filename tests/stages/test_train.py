"""Stage `train`: entries resolved before any work, ablations at their base's budget, seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from mer.config import Params, load_params
from mer.stages.train import make_job, save_state

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SUBJECTS = [f"casme2/{i:02d}" for i in range(1, 6)]


def _flat(config: dict[str, Any]) -> dict[str, Any]:
    """``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}`` (one level, as ablations declare keys)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat |= {f"{key}.{inner}": v for inner, v in value.items()}
        else:
            flat[key] = value
    return flat


def _params(**changes: Any) -> Params:
    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    for section, values in changes.items():
        raw[section] = values
    return Params.model_validate(raw)


def test_each_ablation_differs_from_its_base_only_in_its_declared_keys() -> None:
    params = load_params(PROJECT_ROOT / "params.yaml")
    assert params.ablations, "params.yaml declares no ablation"
    for name, ablation in params.ablations.items():
        base = _flat(make_job(params, ablation.base, SUBJECTS).resolved())
        resolved = _flat(make_job(params, name, SUBJECTS).resolved())
        changed = {key for key in base.keys() | resolved.keys()
                   if base.get(key) != resolved.get(key)}
        declared = ablation.changes()
        assert changed, f"{name} trains exactly as its base {ablation.base}"
        assert changed <= set(declared), f"{name}: {sorted(changed - set(declared))} undeclared"
        for key, value in declared.items():
            assert resolved[key] == value, f"{name}: {key} is {resolved[key]!r}, not {value!r}"


def test_resolved_config_fills_every_default() -> None:
    params = load_params(PROJECT_ROOT / "params.yaml")
    lightman = make_job(params, "lightman_no_aux", SUBJECTS).resolved()
    assert lightman["trainer_options"]["episodes"] == \
        params.models["lightman"].trainer_options["episodes"]
    assert lightman["trainer_options"]["use_aux"] is False
    assert {"epochs", "lr", "batch_size", "weight_decay", "lr_schedule"} <= set(lightman["train"])
    assert "grid" in make_job(params, "flow_logreg", SUBJECTS).resolved()["hparams"]
    assert make_job(params, "ststnet", SUBJECTS).resolved()["trainer_options"] == {}


def test_seeds_share_the_folds() -> None:
    params = load_params(PROJECT_ROOT / "params.yaml")
    one = make_job(params, "ststnet", SUBJECTS)
    three = make_job(params, "ststnet", SUBJECTS, seeds=(0, 1, 2))
    assert three.seeds == (0, 1, 2) and one.seeds == tuple(params.train.seeds)
    assert three.folds == one.folds
    assert three.for_seed(2).config.seed == 2 and three.for_seed(2).folds == one.folds


@pytest.mark.parametrize(("section", "entry", "match"), [
    ("models", {"ststnet": {"name": "ststnet", "train": {"epoch": 3}}}, r"ststnet.train.*epoch"),
    ("models", {"ststnet": {"name": "ststnet", "train": {"seed": 3}}}, "train.seeds"),
    ("models", {"ststnet": {"name": "ststnet", "hparams": {"dropuot": 0.1}}}, "dropuot"),
    ("models", {"ststnet": {"name": "ststnet", "trainer": "contrastive",
                            "trainer_options": {"temprature": 0.1}}}, "temprature"),
    ("models", {"ststnet": {"name": "ststnet", "trainer": "superviesd"}}, "superviesd"),
])
def test_a_misspelt_setting_fails_before_any_work(section: str, entry: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):  # when params.yaml is read, or the job made
        make_job(_params(**{section: entry, "ablations": {}}), "ststnet", SUBJECTS)


def test_an_ablation_must_name_a_known_base_and_valid_changes() -> None:
    with pytest.raises(ValueError, match="ablations.x.base"):
        _params(ablations={"x": {"base": "nope"}})
    with pytest.raises(ValueError, match="ablations.x"):
        _params(ablations={"x": {"base": "ststnet", "pretrain": {"kind": "magic"}}})
    with pytest.raises(ValueError, match="seeds must be distinct"):
        _params(train={"seeds": [1, 1]})


def test_the_same_state_saved_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    """torch.save to a file names the archive after it: the atomic write must not show."""
    state = {"layer.weight": torch.arange(6.0).reshape(2, 3), "layer.bias": torch.ones(2)}
    first, second = tmp_path / "a" / "model.pt", tmp_path / "b" / "other.pt"
    first.parent.mkdir()
    second.parent.mkdir()
    save_state(first, state)
    save_state(second, state)
    assert first.read_bytes() == second.read_bytes()
    loaded = torch.load(first, weights_only=True)
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[k], state[k]) for k in state)
