"""The stage graph `mer run` schedules from (``flows.dvc_graph.stage_graph``), read from the real
dvc.yaml: dependencies come first, each stage names the stages it waits for, targets cut the
graph to what they need; every stage that trains tracks the torch thread count, an ablation its
base entry's settings."""

from __future__ import annotations

from pathlib import Path

import yaml

from flows.dvc_graph import stage_graph

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_every_stage_comes_after_the_stages_it_waits_for() -> None:
    graph = stage_graph(PROJECT_ROOT)
    position = {name: k for k, name in enumerate(graph)}
    for name, upstream in graph.items():
        assert all(position[up] < position[name] for up in upstream), name
    assert "validate_clips@micro" in graph["faces@micro"]  # a gate holds back what follows it
    assert {"validate_flow@micro", "validate_flow@macro"} <= set(graph["train@lightman"])
    assert graph["synth"] == ()


def test_targets_keep_only_what_they_depend_on() -> None:
    graph = stage_graph(PROJECT_ROOT, ["validate_clips@micro"])
    assert "validate_clips@micro" in graph and "synth" in graph
    assert not any(name.startswith(("faces", "flow", "train", "pretrain")) for name in graph)
    assert all(set(upstream) <= graph.keys() for upstream in graph.values())


def test_a_foreach_name_targets_each_of_its_members() -> None:
    graph = stage_graph(PROJECT_ROOT, ["validate_flow"])
    assert {"validate_flow@micro", "validate_flow@macro", "flow@macro"} <= graph.keys()
    assert not any(name.startswith(("train", "pretrain")) for name in graph)


def test_every_training_stage_tracks_the_torch_thread_count() -> None:
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    training = [name for name in stages if name == "pretrain" or name.startswith("train")]
    assert len(training) == 5
    for name in training:
        stage = stages[name].get("do", stages[name])
        assert "runtime.threads" in stage["params"], name


def test_an_ablation_tracks_its_base_entry_and_no_other() -> None:
    """Retuning one model entry reruns its own ablations, not every ablation of the project."""
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    params = stages["train_ablation"]["do"]["params"]
    assert "models.${item.base}" in params and "models" not in params
    entries = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    assert all("base" in ablation for ablation in entries["ablations"].values())
