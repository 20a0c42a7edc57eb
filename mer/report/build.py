"""The evaluation report as one self-contained HTML page, built from objects (no file reads).

Sections: a forest plot of every model's UF1 with the baseline marked, the paired comparisons
(when given), results with 95% intervals per model entry and dataset, the evaluation figures,
flow pictures of a few clips, micro-attention maps (when given), the quality gates, and the
lineage of the numbers. The same inputs
give the same bytes: no timestamp, every mapping in a fixed order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from mer.data.schema import LABELS
from mer.lineage import AuditReport
from mer.lineage.lock import flatten_params
from mer.report.attention import AttentionClip, attention_section
from mer.report.compare import (DEFAULT_BASELINE, Comparisons, comparisons_section,
                                forest_section)
from mer.report.flowviz import flow_to_rgb, grey_to_rgb, png_bytes, wheel_legend
from mer.report.html import esc, figure, page, table
from mer.report.pretraining import pretraining_section

_ALL: Final[str] = "all"
_MAX_LISTED: Final[int] = 10


@dataclass(frozen=True)
class FlowClip:
    """One clip's flow arrays (see ``mer flow``): u, v, strain (H, W) float32 px; onset, apex
    (H, W) uint8 grey; with its table row's facts."""

    dataset: str
    subject: str
    clip: str
    label: str | None
    onset_frame: int
    apex_frame: int
    apex_estimated: bool
    u: np.ndarray
    v: np.ndarray
    strain: np.ndarray
    onset: np.ndarray
    apex: np.ndarray


@dataclass(frozen=True)
class ReportInputs:
    """Everything the page shows.

    Attributes:
        metrics: ``{model: {dataset: {metric: value}}}`` (reports/metrics.json).
        predictions: the pooled predictions frame (``model, dataset, clip, y_pred, prob_*``).
        figures: ``(file name, PNG bytes)``, in display order.
        quality: ``(report name, gate report)`` of each gate (reports/quality/**.json).
        flow_clips: the clips to picture.
        lineage: the audit of the metrics file, or None (then ``lineage_note`` says why).
        comparisons: the paired comparisons of model entries, or None.
        data_docs: the gates' Great Expectations Data Docs folder as a link relative to the
            page, or None; gate report ``macro/flow.json`` links ``<data_docs>/macro/flow/``.
        attention: per model entry whose network exposes attention, ``(entry, its attention
            masks of a few clips)``; empty: no section.
        pretraining: the pretrain stage's metrics (reports/pretrain/metrics.json), or None.
    """

    metrics: Mapping[str, Any]
    predictions: pd.DataFrame | None = None
    figures: Sequence[tuple[str, bytes]] = ()
    quality: Sequence[tuple[str, Mapping[str, Any]]] = ()
    flow_clips: Sequence[FlowClip] = ()
    lineage: AuditReport | None = None
    lineage_note: str = ""
    title: str = "mer: micro-expression recognition, leave-one-subject-out"
    sources: Mapping[str, str] = field(default_factory=dict)  # what -> path, shown at the top
    comparisons: Comparisons | None = None
    data_docs: str | None = None
    attention: Sequence[tuple[str, Sequence[AttentionClip]]] = ()
    pretraining: Mapping[str, Any] | None = None


def choose_clips(flow_table: pd.DataFrame, n: int) -> pd.DataFrame:
    """Pick ``n`` labelled clips, one label after another (negative, positive, surprise, ...),
    each the first of its label by (dataset, subject, clip): a fixed, varied choice."""
    labelled = flow_table[flow_table["label"].notna()].sort_values(["dataset", "subject", "clip"])
    by_label = {label: labelled[labelled["label"] == label] for label in LABELS}
    chosen, depth = [], 0
    while len(chosen) < n and depth < len(labelled):
        for label in LABELS:
            if depth < len(by_label[label]) and len(chosen) < n:
                chosen.append(by_label[label].iloc[depth])
        depth += 1
    return pd.DataFrame(chosen)


def _interval(scores: Mapping[str, Any], name: str) -> str:
    value, ci = scores.get(name), scores.get(f"{name}_ci")
    if value is None:
        return ""
    text = f"{value:.3f}"
    if isinstance(ci, Sequence) and len(ci) == 2:
        return f"{text} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def _datasets(per_model: Mapping[str, Any]) -> list[str]:
    return sorted(per_model, key=lambda d: (d != _ALL, d))


def results_section(metrics: Mapping[str, Any], lineage: AuditReport | None) -> str:
    """Results per model entry (ablations included) and dataset, with 95% intervals."""
    rows = []
    for model in sorted(metrics):
        runs = lineage.lineages[model].runs if lineage and model in lineage.lineages else {}
        run = ", ".join(str(r["prefect_flow_run_id"])[:8] for r in runs.values()
                        if r.get("prefect_flow_run_id")) or "-"
        for dataset in _datasets(metrics[model]):
            s = metrics[model][dataset]
            link = (f'<a href="#lineage-{esc(model)}">{esc(lineage.stage)} / run {esc(run)}</a>'
                    if lineage else "-")
            rows.append([esc(model), esc(dataset), esc(_interval(s, "uf1")),
                         esc(_interval(s, "uar")), esc(f"{s.get('accuracy', float('nan')):.3f}"),
                         esc(s.get("n_clips", "")), esc(s.get("n_subjects", "")), link])
    return ("<h2 id=\"results\">Results</h2><p class=\"muted\">Pooled leave-one-subject-out "
            "predictions, scored as MEGC2019 (UF1, UAR); intervals are 95% subject-level "
            "bootstrap intervals. Every model entry is listed (ablations included); "
            "<code>all</code> is the composite.</p>"
            + table(["model", "dataset", "UF1 [95% CI]", "UAR [95% CI]", "accuracy", "clips",
                     "subjects", "lineage"], rows, numeric=(2, 3, 4, 5, 6), raw=True))


def figures_section(figures: Sequence[tuple[str, bytes]], models: Sequence[str]) -> str:
    """The evaluation's PNGs, grouped by model entry (a figure named ``<kind>_<model>.png``)."""
    groups: dict[str, list[str]] = {}
    for name, png in figures:
        stem = name.rsplit(".", 1)[0]
        owners = [m for m in models if stem.endswith(f"_{m}")]
        owner = max(owners, key=len) if owners else "other"
        groups.setdefault(owner, []).append(figure(png, name))
    parts = ["<h2 id=\"figures\">Confusion matrices and per-subject scores</h2>"]
    owners = sorted(m for m in groups if m != "other") + (["other"] if "other" in groups else [])
    for owner in owners:
        parts.append(f"<h3>{esc(owner)}</h3>" + "".join(groups[owner]))
    if not figures:
        parts.append("<p class=\"muted\">No figures.</p>")
    return "\n".join(parts)


def _clip_predictions(predictions: pd.DataFrame | None, clip: FlowClip) -> str:
    if predictions is None or predictions.empty:
        return ""
    same = (predictions["dataset"] == clip.dataset) & (predictions["clip"] == clip.clip)
    rows = predictions[same]
    found = []
    for _, row in rows.sort_values("model").iterrows():
        label = LABELS[int(row["y_pred"])]
        prob = row.get(f"prob_{label}")
        found.append(f"{row['model']}: {label}" + (f" ({prob:.2f})" if prob is not None else ""))
    return "; predicted " + ", ".join(found) if found else ""


def flow_section(clips: Sequence[FlowClip], predictions: pd.DataFrame | None) -> str:
    """Onset, apex, colour-coded flow and strain of each clip, one common magnitude scale."""
    parts = ["<h2 id=\"flow\">Optical flow of a few clips</h2>"]
    if not clips:
        return parts[0] + "<p class=\"muted\">No flow clips.</p>"
    magnitudes = np.concatenate([np.hypot(c.u, c.v)[np.isfinite(c.u) & np.isfinite(c.v)]
                                 for c in clips])
    scale = float(np.percentile(magnitudes, 99)) if magnitudes.size else 1.0
    scale = scale if scale > 0 else 1.0
    parts.append(
        f"<p class=\"muted\">TV-L1 flow onset &rarr; apex on the aligned face, Middlebury colour "
        f"coding: hue is the direction (legend), saturation the magnitude, full at "
        f"{scale:.2f} px (the 99th percentile over these clips; darker beyond). Strain: "
        f"bright is high.</p>" + figure(png_bytes(wheel_legend(96)), "direction legend: "
                                        "right red, down yellow, left cyan, up violet"))
    for c in clips:
        apex = f"{c.apex_frame}" + (" (estimated)" if c.apex_estimated else "")
        caption = (f"{c.dataset}/{c.subject}/{c.clip}: {c.label or 'unlabelled'}; onset frame "
                   f"{c.onset_frame}, apex frame {apex}{_clip_predictions(predictions, c)}")
        parts.append(
            f"<h3>{esc(c.dataset)}/{esc(c.clip)}</h3><p>{esc(caption)}</p>"
            + figure(png_bytes(grey_to_rgb(c.onset)), "onset frame", "px")
            + figure(png_bytes(grey_to_rgb(c.apex)), "apex frame", "px")
            + figure(png_bytes(flow_to_rgb(c.u, c.v, scale)), "flow (u, v)", "px")
            + figure(png_bytes(grey_to_rgb(c.strain)), "optical strain", "px"))
    return "\n".join(parts)


def _describe(row: Mapping[str, Any]) -> str:
    keys = [k for k in ("dataset", "subject", "clip", "reason", "source_file", "source_row")
            if row.get(k) not in (None, "")]
    keys += sorted(k for k in row if k not in keys and row.get(k) not in (None, ""))
    return ", ".join(f"{k}={row[k]}" for k in keys)


def quality_section(reports: Sequence[tuple[str, Mapping[str, Any]]],
                    data_docs: str | None = None) -> str:
    """Each gate: passed or failed, rows checked, failed rules (with clips), dropped clips, and
    a link to its Data Docs when ``data_docs`` (a folder relative to the page) is given."""
    rows = []
    for name, report in reports:
        verdict = ('<span class="pass">passed</span>' if report.get("success")
                   else '<span class="fail">FAILED</span>')
        failed = [c for c in report.get("checks", []) if not c.get("success")]
        rules = "<br>".join(
            esc(f"{c.get('rule')} ({c.get('n_failed')}): ")
            + esc("; ".join(_describe(r) for r in c.get("failed", [])[:_MAX_LISTED]))
            for c in failed) or "none"
        dropped = report.get("dropped", [])
        drops = esc(f"{len(dropped)}") + ("<br>" + "<br>".join(
            esc(_describe(r)) for r in dropped[:_MAX_LISTED]) if dropped else "")
        row = [esc(name), esc(report.get("gate", "")), verdict, esc(report.get("n_rows", "")),
               esc(len(report.get("checks", []))), rules, drops]
        if data_docs is not None:
            href = f"{data_docs.rstrip('/')}/{name.removesuffix('.json')}/index.html"
            row.append(f"<a href=\"{esc(href)}\">Data Docs</a>")
        rows.append(row)
    header = ["report", "gate", "result", "rows", "rules", "failed rules", "dropped clips"]
    return ("<h2 id=\"quality\">Data-quality gates</h2>"
            + table(header + (["validation"] if data_docs is not None else []), rows,
                    numeric=(3, 4), raw=True))


def lineage_section(lineage: AuditReport | None, note: str) -> str:
    """Where each number comes from: stage chain, commit, runs, key input hashes, params."""
    parts = ["<h2 id=\"lineage\">Lineage of the numbers</h2>"]
    if lineage is None:
        return parts[0] + f"<p class=\"muted\">{esc(note or 'No lineage recorded.')}</p>"
    git = lineage.environment.git
    commit = (f"{git.commit}" + (f" (work tree dirty: {git.n_changed} paths)" if git.dirty
                                 else " (clean)")) if git.commit else f"none ({git.error})"
    if not lineage.verified:
        check = "hashes as recorded in dvc.lock (not compared with the disk here; run `mer audit`)"
    elif lineage.ok:
        check = "every recorded hash matched the files on disk"
    else:
        check = "MISMATCH: " + "; ".join(m.describe() for m in lineage.failures)
    packages = ", ".join(f"{k} {v}" for k, v in lineage.environment.packages.items() if v)
    parts.append(table(["what", "value"], [
        ["metrics file", esc(lineage.metrics_file)],
        ["written by stage", f"<code>{esc(lineage.stage)}</code>"],
        ["git commit", f"<code>{esc(commit)}</code>"],
        ["dvc.lock committed in", f"<code>{esc(git.lock_commit or 'no commit')}</code>"],
        ["check", esc(check)],
        ["python, packages", esc(f"{lineage.environment.python}; {packages}")],
        ["CPU code paths", esc(lineage.environment.cpu_summary())],
    ], raw=True))
    for key in sorted(lineage.lineages):
        item = lineage.lineages[key]
        runs = [[esc(out), f"<code>{esc(run.get('prefect_flow_run_id') or 'not under Prefect')}"
                 f"</code>", esc(run.get("torch", ""))] for out, run in sorted(item.runs.items())]
        inputs = lineage.inputs(key)
        artifacts = [[esc(r["path"]), f"<code>{esc(r['md5'])}</code>", esc(r["stage"])]
                     for r in inputs if r["kind"] == "artifact"]
        sources = [[esc(r["path"]), f"<code>{esc(r['md5'])}</code>", esc(r["stage"])]
                   for r in inputs if r["kind"] == "source"]
        params = [[esc(name), esc(p), f"<code>{esc(json.dumps(v))}</code>"]
                  for name in item.stages
                  for p, v in flatten_params(lineage.stages[name].params).items()]
        parts.append(
            f"<h3 id=\"lineage-{esc(key)}\">{esc(key)}</h3>"
            f"<p>stages: <code>{esc(' <- '.join(item.stages))}</code></p>"
            + (table(["training output", "Prefect flow run", "torch"], runs, raw=True)
               if runs else "")
            + table(["input (produced by a stage)", "md5", "used by"], artifacts, raw=True)
            + "<details><summary>code and other sources</summary>"
            + table(["source", "md5", "used by"], sources, raw=True) + "</details>"
            + "<details><summary>params</summary>"
            + table(["stage", "param", "value"], params, raw=True) + "</details>")
    return "\n".join(parts)


def build_report(inputs: ReportInputs) -> str:
    """The whole page as a string (see the module docstring)."""
    sources = "".join(f"<li>{esc(what)}: <code>{esc(path)}</code></li>"
                      for what, path in inputs.sources.items())
    header = (f"<h1>{esc(inputs.title)}</h1>"
              "<p class=\"muted\">Sections: <a href=\"#overview\">overview</a>, "
              + ("<a href=\"#comparisons\">comparisons</a>, " if inputs.comparisons else "")
              + ("<a href=\"#pretraining\">pretraining</a>, " if inputs.pretraining else "")
              + "<a href=\"#results\">results</a>, "
              "<a href=\"#figures\">figures</a>, <a href=\"#flow\">flow</a>, "
              + ("<a href=\"#attention\">attention</a>, " if inputs.attention else "")
              + "<a href=\"#quality\">quality gates</a>, <a href=\"#lineage\">lineage</a>.</p>"
              + (f"<ul class=\"muted\">{sources}</ul>" if sources else ""))
    baseline = inputs.comparisons.baseline if inputs.comparisons else DEFAULT_BASELINE
    return page(inputs.title, [
        header,
        forest_section(inputs.metrics, baseline),
        comparisons_section(inputs.comparisons) if inputs.comparisons else "",
        pretraining_section(inputs.pretraining) if inputs.pretraining else "",
        results_section(inputs.metrics, inputs.lineage),
        figures_section(inputs.figures, sorted(inputs.metrics)),
        flow_section(inputs.flow_clips, inputs.predictions),
        attention_section(inputs.attention) if inputs.attention else "",
        quality_section(inputs.quality, inputs.data_docs),
        lineage_section(inputs.lineage, inputs.lineage_note),
    ])
