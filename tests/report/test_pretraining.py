"""The report's pretraining section shows the held-out ratio, the probe and the paired interval."""

from __future__ import annotations

from mer.report import build
from mer.report.pretraining import pretraining_section

METRICS = {
    "reconstruction": {"held_out": {"l1": 0.006, "copy_l1": 0.01, "ratio": 0.6, "n_pairs": 48.0,
                                    "subjects": 6, "clips": 48}},
    "probe": {"clips": 150, "subjects": 16,
              "uf1": {"ma2mi": 0.512, "random_init": 0.431},
              "uar": {"ma2mi": 0.5, "random_init": 0.45},
              "difference": {"uf1": {"a": 0.512, "b": 0.431, "diff": 0.081,
                                     "ci95": [-0.02, 0.17], "share_positive": 0.9}}},
}


def test_section_shows_ratio_probe_and_interval() -> None:
    html = pretraining_section(METRICS)
    assert "<b>0.600</b>" in html and "6 held-out macro subjects" in html
    assert "0.512" in html and "0.431" in html
    assert "+0.081" in html and "[-0.020, +0.170]" in html


def test_report_has_the_section_only_when_given() -> None:
    with_section = build.build_report(build.ReportInputs(metrics={}, pretraining=METRICS))
    without = build.build_report(build.ReportInputs(metrics={}))
    assert 'id="pretraining"' in with_section and 'id="pretraining"' not in without
