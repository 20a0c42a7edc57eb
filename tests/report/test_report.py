"""The HTML report from small fixtures: tables, inline images only, stable bytes, lineage."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mer.report import choose_clips, png_bytes
from mer.stages import report as report_stage

LABELS = ["negative", "positive", "surprise"]


def _scores(uf1: float) -> dict:
    return {"accuracy": 0.6, "n_clips": 3, "n_subjects": 2, "uar": 0.55, "uar_ci": [0.4, 0.7],
            "uf1": uf1, "uf1_ci": [uf1 - 0.1, uf1 + 0.1]}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A DVC-like project: lock, metrics, predictions, figures, gates, flow table and arrays."""
    (tmp_path / ".dvc").mkdir()
    reports = tmp_path / "reports"
    metrics = {"ststnet": {"all": _scores(0.5), "casme2": _scores(0.45)},
               "ststnet_no_strain": {"all": _scores(0.42)}}
    (reports / "figures").mkdir(parents=True)
    (reports / "metrics.json").write_text(json.dumps(metrics))
    for name in ("confusion_ststnet", "per_subject_ststnet", "confusion_ststnet_no_strain"):
        (reports / "figures" / f"{name}.png").write_bytes(png_bytes(np.zeros((4, 4), np.uint8)))
    rows = []
    for k, clip in enumerate(["c0", "c1", "c2"]):
        for model in ("ststnet", "ststnet_no_strain"):
            probs = np.roll([0.7, 0.2, 0.1], k)
            rows.append({"model": model, "dataset": "casme2", "subject": "s1", "clip": clip,
                         "fold": 0, "y_true": k, "y_pred": k,
                         **{f"prob_{label}": p for label, p in zip(LABELS, probs)}})
    pd.DataFrame(rows).to_parquet(reports / "predictions.parquet")
    quality = reports / "quality"
    (quality / "macro").mkdir(parents=True)
    passed = {"gate": "clips", "success": True, "n_rows": 3, "dropped": [],
              "checks": [{"rule": "clips exist", "success": True, "n_failed": 0, "failed": []}]}
    failed = {"gate": "flow", "success": False, "n_rows": 3,
              "dropped": [{"dataset": "casme2", "clip": "c9", "reason": "apex '/'"}],
              "checks": [{"rule": "flow values are finite", "success": False, "n_failed": 1,
                          "failed": [{"dataset": "casme2", "clip": "c1"}]}]}
    (quality / "clips.json").write_text(json.dumps(passed))
    (quality / "macro" / "flow.json").write_text(json.dumps(failed))
    flow_dir = tmp_path / "flow"
    rng = np.random.default_rng(0)
    table = []
    for k, clip in enumerate(["c0", "c1", "c2", "c3"]):
        path = f"casme2/s1/{clip}.npz"
        (flow_dir / "casme2" / "s1").mkdir(parents=True, exist_ok=True)
        np.savez(flow_dir / path, u=rng.normal(size=(16, 16)).astype(np.float32),
                 v=rng.normal(size=(16, 16)).astype(np.float32),
                 strain=rng.random((16, 16)).astype(np.float32),
                 onset=rng.integers(0, 255, (16, 16), dtype=np.uint8),
                 apex=rng.integers(0, 255, (16, 16), dtype=np.uint8))
        table.append({"dataset": "casme2", "subject": "s1", "clip": clip, "path": path,
                      "label": [*LABELS, None][k], "onset_frame": 10, "apex_frame": 20 + k,
                      "apex_estimated": k == 2})
    pd.DataFrame(table).to_parquet(tmp_path / "flow.parquet")
    lock = {"schema": "2.0", "stages": {"evaluate": {
        "cmd": "mer evaluate", "deps": [{"path": "models", "md5": "feedbeef.dir"}],
        "params": {"params.yaml": {"evaluate": {"seed": 0}}},
        "outs": [{"path": "reports/metrics.json", "md5": "0123abcd"}]}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    return tmp_path


def _argv(root: Path, out: Path) -> list[str]:
    r = root / "reports"
    return ["--metrics", str(r / "metrics.json"), "--predictions", str(r / "predictions.parquet"),
            "--quality", str(r / "quality"), "--figures", str(r / "figures"),
            "--flow-table", str(root / "flow.parquet"), "--flow-dir", str(root / "flow"),
            "--out", str(out)]


def test_report_is_self_contained_and_has_the_tables(project: Path) -> None:
    out = project / "reports" / "index.html"
    assert report_stage.main(_argv(project, out)) == 0
    page = out.read_text(encoding="utf-8")
    # results: every model entry (the ablation too) and dataset, with intervals
    for model, dataset, uf1 in [("ststnet", "all", "0.500 [0.400, 0.600]"),
                                ("ststnet", "casme2", "0.450 [0.350, 0.550]"),
                                ("ststnet_no_strain", "all", "0.420 [0.320, 0.520]")]:
        assert re.search(f"<td>{model}</td><td>{dataset}</td><td class=\"num\">"
                         f"{re.escape(uf1)}</td>", page)
    # gates: passed and failed, the failed rule with its clip, the dropped clip
    assert "clips.json" in page and "macro/flow.json" in page
    assert "FAILED" in page and "flow values are finite (1): dataset=casme2, clip=c1" in page
    assert "dataset=casme2, clip=c9, reason=apex &#x27;/&#x27;" in page
    assert "Data Docs" not in page  # no --data-docs: no links to folders that may not exist
    # flow pictures: three labelled clips, the spotted apex marked
    assert page.count("<h3>casme2/c") == 3 and "apex frame 22 (estimated)" in page
    assert "predicted ststnet: negative (0.70)" in page
    # figures grouped by the longest model name they end with
    assert page.index("<h3>ststnet</h3>") < page.index("per_subject_ststnet.png")
    assert page.index("<h3>ststnet_no_strain</h3>") < page.index("confusion_ststnet_no_strain.png")
    # lineage from dvc.lock
    assert "written by stage" in page and "0123abcd" not in page  # outs are not inputs
    assert "feedbeef.dir" in page and "evaluate.seed" in page
    # self-contained: no reference outside, every image inline
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page and "url(" not in page
    sources = re.findall(r'<img[^>]* src="([^"]*)"', page)
    assert len(sources) == 3 + 1 + 3 * 4  # figures, legend, 4 pictures per clip
    assert all(s.startswith("data:image/png;base64,") for s in sources)


def test_same_inputs_same_bytes(project: Path) -> None:
    first, second = project / "a.html", project / "b.html"
    report_stage.main(_argv(project, first))
    report_stage.main(_argv(project, second))
    assert first.read_bytes() == second.read_bytes()


def test_without_a_lineage_record(project: Path) -> None:
    (project / "dvc.lock").unlink()
    out = project / "index.html"
    assert report_stage.main(_argv(project, out)) == 0
    assert "no lineage:" in out.read_text(encoding="utf-8")


def test_choose_clips_one_label_after_another() -> None:
    table = pd.DataFrame({"dataset": ["d"] * 5, "subject": ["s"] * 5,
                          "clip": ["a", "b", "c", "d", "e"],
                          "label": ["negative", "negative", "surprise", None, "positive"]})
    assert choose_clips(table, 4)["clip"].tolist() == ["a", "e", "c", "b"]
    assert choose_clips(table, 10)["clip"].tolist() == ["a", "e", "c", "b"]


def test_each_gate_links_its_data_docs(project: Path) -> None:
    out = project / "reports" / "index.html"
    argv = [*_argv(project, out), "--data-docs", str(project / "reports" / "data_docs")]
    assert report_stage.main(argv) == 0
    page = out.read_text(encoding="utf-8")
    assert '<a href="data_docs/clips/index.html">Data Docs</a>' in page
    assert '<a href="data_docs/macro/flow/index.html">Data Docs</a>' in page


def _micro_attention_entry(project: Path) -> Path:
    """A trained-looking micro_attention entry (random weights, fold 0) with its predictions."""
    import torch  # noqa: PLC0415 - only these tests need it

    from mer.models import create_model  # noqa: PLC0415

    entry = project / "models" / "default" / "micro_attention"
    entry.mkdir(parents=True)
    hparams = {"input_size": 32, "widths": [4, 4, 8, 8]}
    (entry / "config.yaml").write_text(yaml.safe_dump(
        {"params": {"name": "micro_attention", "hparams": hparams}}))
    torch.manual_seed(0)
    torch.save(create_model("micro_attention", **hparams).state_dict(), entry / "fold_00.pt")
    path = project / "reports" / "predictions.parquet"
    predictions = pd.read_parquet(path)
    extra = predictions[predictions["model"] == "ststnet"].assign(model="micro_attention")
    pd.concat([predictions, extra]).to_parquet(path)
    return entry


def test_attention_maps_of_a_few_clips_per_class(project: Path) -> None:
    entry = _micro_attention_entry(project)
    out = project / "reports" / "index.html"
    argv = [*_argv(project, out), "--attention-model", str(entry), "--attention-clips", "1"]
    assert report_stage.main(argv) == 0
    page = out.read_text(encoding="utf-8")
    section = page[page.index("<h2 id=\"attention\">"):page.index("<h2 id=\"quality\">")]
    assert "Model entry <code>micro_attention</code>" in section
    assert section.count("<h4>casme2/c") == 3  # one clip of each class
    for k, label in enumerate(LABELS):
        assert f"casme2/s1/c{k}: {label}; fold 0" in section
    # per clip: the apex and one overlay per block, at the block's resolution (32 px input)
    assert section.count("<img") == 3 * 5
    assert section.count(">block 1: 8 x 8") == 3 and section.count(">block 4: 1 x 1") == 3
    assert "href=\"#attention\"" in page
    assert report_stage.main(_argv(project, project / "plain.html")) == 0
    assert "id=\"attention\"" not in (project / "plain.html").read_text(encoding="utf-8")


def test_attention_maps_need_the_entry_s_predictions(project: Path) -> None:
    entry = _micro_attention_entry(project)
    renamed = entry.with_name("micro_attention_apex")
    entry.rename(renamed)
    with pytest.raises(Exception, match="has no prediction of entry 'micro_attention_apex'"):
        report_stage.main([*_argv(project, project / "x.html"), "--attention-model", str(renamed)])


def test_the_models_folder_gives_the_maps_of_every_entry_with_attention(project: Path) -> None:
    # No micro_attention entry needed: every trained entry whose network exposes attention is
    # shown; a plain (no units) entry and a model without attention_masks are left out.
    import torch  # noqa: PLC0415

    from mer.models import create_model  # noqa: PLC0415

    entry = _micro_attention_entry(project)
    renamed = entry.with_name("micro_attention_apex")
    entry.rename(renamed)
    hparams = {"input_size": 32, "widths": [4, 4, 8, 8], "inputs": "apex"}
    (renamed / "config.yaml").write_text(yaml.safe_dump(
        {"params": {"name": "micro_attention", "hparams": hparams}}))
    torch.save(create_model("micro_attention", **hparams).state_dict(), renamed / "fold_00.pt")
    plain = renamed.with_name("micro_attention_plain")
    plain.mkdir()
    (plain / "config.yaml").write_text(yaml.safe_dump(
        {"params": {"name": "micro_attention", "hparams": {"attention": False}}}))
    logreg = renamed.with_name("flow_logreg")
    logreg.mkdir()
    (logreg / "config.yaml").write_text(yaml.safe_dump({"params": {"name": "flow_logreg"}}))
    path = project / "reports" / "predictions.parquet"
    predictions = pd.read_parquet(path)
    predictions["model"] = predictions["model"].replace("micro_attention", "micro_attention_apex")
    predictions.to_parquet(path)
    out = project / "reports" / "index.html"
    argv = [*_argv(project, out), "--attention-models-dir", str(renamed.parent),
            "--attention-clips", "1"]
    assert report_stage.main(argv) == 0
    section = out.read_text(encoding="utf-8")
    section = section[section.index("<h2 id=\"attention\">"):section.index("<h2 id=\"quality\">")]
    assert section.count("<h3>Model entry") == 1
    assert "Model entry <code>micro_attention_apex</code>" in section
    assert section.count("<h4>casme2/c") == 3
