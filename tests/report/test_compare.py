"""The report's top: forest plot of every model's UF1, the baseline marked, paired comparisons."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mer.data.errors import DataError
from mer.report.build import results_section
from mer.report.compare import (comparisons_section, forest_rows, forest_svg,
                                parse_comparisons)


def _scores(uf1: float, ci: list[float] | None = None) -> dict[str, Any]:
    return {"uf1": uf1, "uf1_ci": ci if ci is not None else [uf1 - 0.1, uf1 + 0.1],
            "uar": uf1, "uar_ci": [uf1 - 0.1, uf1 + 0.1], "accuracy": 0.5, "n_clips": 9,
            "n_subjects": 3}


METRICS = {"lightman": {"all": _scores(0.52), "casme2": _scores(0.6)},
           "flow_logreg": {"all": _scores(0.41)},
           "lightman_no_aux": {"all": _scores(0.48)},
           "smic_only": {"smic": _scores(0.9)}}

COMPARISONS = {"baseline": "flow_logreg", "seeds": [0, 1, 2], "n_resamples": 1000, "rows": [
    {"a": "lightman", "b": "lightman_no_aux", "kind": "ablation",
     "uf1": {"a": 0.52, "b": 0.48, "diff": 0.04, "ci95": [-0.01, 0.09]},
     "uar": {"a": 0.5, "b": 0.45, "diff": 0.05, "ci95": [0.01, 0.09]}},
    {"a": "lightman", "b": "flow_logreg", "kind": "baseline",
     "uf1": {"a": 0.52, "b": 0.41, "diff": 0.11, "ci95": [0.03, 0.19]},
     "uar": {"a": 0.5, "b": 0.55, "diff": -0.05, "ci95": [-0.1, -0.01]}}]}


def test_forest_rows_best_first_composite_only() -> None:
    rows = forest_rows(METRICS)
    assert [(r.model, r.uf1) for r in rows] == [("lightman", 0.52), ("lightman_no_aux", 0.48),
                                                ("flow_logreg", 0.41)]
    assert rows[0].low == pytest.approx(0.42) and rows[0].high == pytest.approx(0.62)


def test_forest_svg_marks_the_baseline_and_draws_every_interval() -> None:
    svg = forest_svg(forest_rows(METRICS), "flow_logreg")
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "http" not in svg
    assert svg.count("<circle") == 3 and svg.count('stroke-width="2"') == 3
    assert "flow_logreg (baseline)</text>" in svg and "lightman (baseline)" not in svg
    assert svg.count("#d9730d") == 3  # the baseline's dotted line, interval and dot
    assert "0.520 [0.420, 0.620]" in svg
    # a dot sits at its UF1 on the 0..1 axis (left margin 230 px, 440 px wide)
    assert re.search(r'<circle cx="458\.8" cy="[\d.]+" r="4\.5" fill="#1f5fa8"/>', svg)


def test_forest_without_interval_draws_the_dot_alone() -> None:
    svg = forest_svg(forest_rows({"m": {"all": {"uf1": 0.3}}}), None)
    assert svg.count("<circle") == 1 and 'stroke-width="2"' not in svg


def test_parse_comparisons_and_table() -> None:
    comparisons = parse_comparisons(COMPARISONS, "comparisons.json")
    assert comparisons.baseline == "flow_logreg" and comparisons.seeds == (0, 1, 2)
    html = comparisons_section(comparisons)
    assert html.index("<td>baseline</td>") < html.index("<td>ablation</td>")  # baselines first
    assert "+0.110 [+0.030, +0.190]" in html and "b better" in html  # UAR interval below zero
    assert html.count("no clear difference") == 1 and html.count("a better") == 2 + 1
    assert "1000 resamples, seeds 0, 1, 2" in html


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "other"}, r"rows\[0\]: kind 'other' is not one of ablation, baseline"),
    ({"uf1": {"a": 0.5, "b": 0.4, "diff": 0.1}}, r"rows\[0\]: 'uf1' needs numbers"),
    ({"a": None}, r"rows\[0\]: a row needs the strings"),
])
def test_parse_comparisons_names_the_bad_row(change: dict[str, Any], message: str) -> None:
    bad = json.loads(json.dumps(COMPARISONS))
    bad["rows"][0].update(change)
    with pytest.raises(DataError, match=message):
        parse_comparisons(bad, "comparisons.json")


def test_lineage_column_without_a_stray_none() -> None:
    runs = {"models/default/m": {"prefect_flow_run_id": "0123456789abcdef"},
            "data/processed/predictions/default/m.parquet": {"prefect_flow_run_id": None}}
    lineage = SimpleNamespace(stage="evaluate", lineages={"m": SimpleNamespace(runs=runs)})
    html = results_section({"m": {"all": _scores(0.5)}}, lineage)  # type: ignore[arg-type]
    assert "run 01234567</a>" in html and "None" not in html


def test_report_stage_puts_the_overview_first(tmp_path: Path) -> None:
    from mer.report import ReportInputs, build_report  # noqa: PLC0415

    page = build_report(ReportInputs(metrics=METRICS,
                                     comparisons=parse_comparisons(COMPARISONS, "c.json")))
    positions = [page.index(f'<h2 id="{section}"') for section in
                 ("overview", "comparisons", "results", "figures")]
    assert positions == sorted(positions)
    assert page.index("<svg") < page.index('<h2 id="comparisons"')
