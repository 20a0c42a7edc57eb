"""The report's top: a forest plot of every model's UF1 and the table of paired comparisons.

The forest plot is inline SVG (no script, no reference outside, the same bytes for the same
numbers). The comparisons file is the lead's paired bootstrap of model entries
(``{"baseline", "seeds", "n_resamples", "rows": [{"a", "b", "kind", "uf1": {"a", "b", "diff",
"ci95"}, "uar": {...}}]}``, ``diff = a - b``), checked by :func:`parse_comparisons`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mer.data.errors import DataError
from mer.report.html import esc, table

#: The model entry marked as the baseline when the comparisons file names none.
DEFAULT_BASELINE: Final[str] = "flow_logreg"
_KINDS: Final[tuple[str, ...]] = ("ablation", "baseline")
_ROW_H, _LEFT, _PLOT_W, _RIGHT = 22, 230, 440, 150


@dataclass(frozen=True)
class ForestRow:
    """One model entry's composite UF1 and its 95% interval (None where not recorded)."""

    model: str
    uf1: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Difference:
    """One metric of a paired comparison: both scores, ``diff = a - b`` and its 95% interval."""

    a: float
    b: float
    diff: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """One row of the comparisons file: ``a`` against ``b`` on the same clips."""

    a: str
    b: str
    kind: str
    uf1: Difference
    uar: Difference


@dataclass(frozen=True)
class Comparisons:
    """The comparisons file: the baseline's name, the seeds and resamples, the rows."""

    baseline: str
    seeds: tuple[int, ...]
    n_resamples: int
    rows: tuple[Comparison, ...]


def forest_rows(metrics: Mapping[str, Any], dataset: str = "all") -> list[ForestRow]:
    """Every model entry's UF1 on ``dataset`` (the composite), best first, then by name."""
    rows = []
    for model, per_dataset in metrics.items():
        scores = per_dataset.get(dataset) if isinstance(per_dataset, Mapping) else None
        if not isinstance(scores, Mapping) or not _finite(scores.get("uf1")):
            continue
        ci = scores.get("uf1_ci")
        low, high = (float(ci[0]), float(ci[1])) if (
            isinstance(ci, Sequence) and len(ci) == 2 and all(_finite(c) for c in ci)) \
            else (None, None)
        rows.append(ForestRow(model, float(scores["uf1"]), low, high))
    return sorted(rows, key=lambda r: (-r.uf1, r.model))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def forest_svg(rows: Sequence[ForestRow], baseline: str | None) -> str:
    """An inline SVG forest plot: one line per model, the UF1 a dot, its 95% interval a bar.

    The x axis runs from 0 to 1 (UF1) with gridlines every 0.1 and the chance level of three
    balanced classes (1/3) dashed; the baseline's row is drawn in orange with its UF1 as a
    dotted vertical line, so every other model reads as left or right of it.
    """
    height = _ROW_H * len(rows) + 46
    width = _LEFT + _PLOT_W + _RIGHT

    def x(value: float) -> float:
        return round(_LEFT + _PLOT_W * min(max(value, 0.0), 1.0), 1)

    parts = [f'<svg class="forest" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="system-ui,sans-serif" '
             f'font-size="12"><title>UF1 of every model with its 95% interval</title>']
    for tick in range(11):
        value = tick / 10
        parts.append(f'<line x1="{x(value)}" y1="8" x2="{x(value)}" y2="{height - 30}" '
                     f'stroke="#e4e4e4"/><text x="{x(value)}" y="{height - 16}" '
                     f'text-anchor="middle" fill="#555">{value:.1f}</text>')
    parts.append(f'<line x1="{x(1 / 3)}" y1="8" x2="{x(1 / 3)}" y2="{height - 30}" '
                 f'stroke="#999" stroke-dasharray="4 3"/><text x="{x(1 / 3) + 3}" y="{height - 32}"'
                 f' fill="#777" font-size="10">chance</text>')
    marked = next((r for r in rows if r.model == baseline), None)
    if marked is not None:
        parts.append(f'<line x1="{x(marked.uf1)}" y1="8" x2="{x(marked.uf1)}" '
                     f'y2="{height - 30}" stroke="#d9730d" stroke-dasharray="2 2"/>')
    for k, row in enumerate(rows):
        y = 8 + _ROW_H * k + _ROW_H / 2
        colour = "#d9730d" if row is marked else "#1f5fa8"
        name = esc(row.model) + (" (baseline)" if row is marked else "")
        weight = ' font-weight="600"' if row is marked else ""
        parts.append(f'<text x="{_LEFT - 8}" y="{y + 4}" text-anchor="end"{weight}>{name}</text>')
        if row.low is not None and row.high is not None:
            parts.append(f'<line x1="{x(row.low)}" y1="{y}" x2="{x(row.high)}" y2="{y}" '
                         f'stroke="{colour}" stroke-width="2"/>')
            interval = f" [{row.low:.3f}, {row.high:.3f}]"
        else:
            interval = ""
        parts.append(f'<circle cx="{x(row.uf1)}" cy="{y}" r="4.5" fill="{colour}"/>'
                     f'<text x="{_LEFT + _PLOT_W + 8}" y="{y + 4}" fill="#333">'
                     f'{row.uf1:.3f}{interval}</text>')
    parts.append(f'<text x="{_LEFT + _PLOT_W / 2}" y="{height - 2}" text-anchor="middle" '
                 f'fill="#333">UF1 (composite), 95% interval</text></svg>')
    return "".join(parts)


def forest_section(metrics: Mapping[str, Any], baseline: str | None) -> str:
    """The forest plot under its heading, or a note when no model has a composite UF1."""
    rows = forest_rows(metrics)
    head = "<h2 id=\"overview\">Every model at a glance</h2>"
    if not rows:
        return head + "<p class=\"muted\">No model has a composite UF1.</p>"
    named = baseline if any(r.model == baseline for r in rows) else None
    note = (f"the baseline <code>{esc(named)}</code> in orange, its UF1 dotted"
            if named else "no baseline entry in these metrics")
    return (head + "<p class=\"muted\">UF1 on the composite (<code>all</code>) with its 95% "
            f"subject-level bootstrap interval, best first; {note}; chance (1/3) dashed.</p>"
            + forest_svg(rows, named))


def parse_comparisons(data: Any, where: str) -> Comparisons:
    """Check the comparisons file's structure (see the module docstring).

    Raises:
        DataError: naming ``where`` and the row, for a missing or mistyped field, a kind other
            than ablation or baseline, or an interval that is not two numbers.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("rows"), list):
        raise DataError(where, "comparisons file must be an object with a list 'rows'")
    rows = []
    for k, row in enumerate(data["rows"]):
        at = f"{where} rows[{k}]"
        if not isinstance(row, Mapping) or not all(isinstance(row.get(f), str)
                                                   for f in ("a", "b", "kind")):
            raise DataError(at, "a row needs the strings 'a', 'b' and 'kind'")
        if row["kind"] not in _KINDS:
            raise DataError(at, f"kind {row['kind']!r} is not one of {', '.join(_KINDS)}")
        rows.append(Comparison(row["a"], row["b"], row["kind"], _difference(row, "uf1", at),
                               _difference(row, "uar", at)))
    seeds = data.get("seeds", [])
    resamples = data.get("n_resamples", 0)
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds) \
            or not isinstance(resamples, int):
        raise DataError(where, "'seeds' must be a list of integers and 'n_resamples' an integer")
    baseline = data.get("baseline", DEFAULT_BASELINE)
    if not isinstance(baseline, str):
        raise DataError(where, "'baseline' must be a model entry's name")
    return Comparisons(baseline, tuple(seeds), resamples, tuple(rows))


def _difference(row: Mapping[str, Any], metric: str, at: str) -> Difference:
    item = row.get(metric)
    ci = item.get("ci95") if isinstance(item, Mapping) else None
    values = [item.get(f) for f in ("a", "b", "diff")] if isinstance(item, Mapping) else []
    if not (len(values) == 3 and all(_finite(v) for v in values) and isinstance(ci, list)
            and len(ci) == 2 and all(_finite(c) for c in ci)):
        raise DataError(at, f"'{metric}' needs numbers 'a', 'b', 'diff' and 'ci95' [low, high]")
    return Difference(*(float(v) for v in values), float(ci[0]), float(ci[1]))


def _verdict(d: Difference) -> str:
    if d.low > 0:
        return '<span class="pass">a better</span>'
    if d.high < 0:
        return '<span class="fail">b better</span>'
    return '<span class="muted">no clear difference</span>'


def comparisons_section(comparisons: Comparisons) -> str:
    """The paired comparisons: baselines first, then ablations; each difference with its
    interval and whether the interval leaves zero."""
    rows = []
    for c in sorted(comparisons.rows, key=lambda c: (c.kind != "baseline", c.a, c.b)):
        cells = [esc(c.kind), esc(c.a), esc(c.b)]
        for d in (c.uf1, c.uar):
            cells += [esc(f"{d.a:.3f}"), esc(f"{d.b:.3f}"),
                      esc(f"{d.diff:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"), _verdict(d)]
        rows.append(cells)
    seeds = ", ".join(str(s) for s in comparisons.seeds) or "-"
    return ("<h2 id=\"comparisons\">Paired comparisons and ablations</h2>"
            f"<p class=\"muted\">Differences a &minus; b on the same clips, with 95% paired "
            f"bootstrap intervals ({comparisons.n_resamples} resamples, seeds {esc(seeds)}); "
            f"baseline <code>{esc(comparisons.baseline)}</code>. \"a better\" or \"b better\" "
            f"only where the interval leaves zero.</p>"
            + table(["kind", "a", "b", "UF1 a", "UF1 b", "UF1 a − b [95% CI]", "UF1",
                     "UAR a", "UAR b", "UAR a − b [95% CI]", "UAR"], rows,
                    numeric=(3, 4, 5, 7, 8, 9), raw=True))
