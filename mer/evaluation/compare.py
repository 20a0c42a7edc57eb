"""Compare two metrics files (``dvc metrics diff`` semantics) and decide on promotion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Decision:
    """Whether a retrained model replaces the promoted one, and why.

    Attributes:
        promote: True when the new metric is not worse than the previous one by more than
            ``tolerance`` (or there is no previous one).
        model, dataset, metric: which number decided (``dataset`` is ``"all"``).
        previous: the previous value, None on the first run.
        new: the new value.
        change: ``new - previous`` (None on the first run).
        tolerance: the largest drop still promoted.
        reason: one sentence for people.
    """

    promote: bool
    model: str
    dataset: str
    metric: str
    previous: float | None
    new: float
    change: float | None
    tolerance: float
    reason: str


def flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` for numeric leaves (intervals become ``.0``/``.1``)."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        elif isinstance(value, list):
            flat |= flatten({str(i): v for i, v in enumerate(value)}, f"{name}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def metrics_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Every metric in either file: ``{"old", "new", "diff"}`` (None where one side lacks it)."""
    before, after = flatten(old), flatten(new)
    return {
        key: {"old": before.get(key), "new": after.get(key),
              "diff": after[key] - before[key] if key in before and key in after else None}
        for key in sorted(before.keys() | after.keys())
    }


def decide(old: dict[str, Any] | None, new: dict[str, Any], *, model: str, metric: str,
           tolerance: float) -> Decision:
    """Promote unless ``new[model]["all"][metric]`` fell by more than ``tolerance``.

    Raises:
        KeyError: the new metrics lack the deciding model or metric (named).
    """
    if model not in new or metric not in new[model].get("all", {}):
        raise KeyError(f"new metrics have no {model}.all.{metric}")
    value = float(new[model]["all"][metric])
    previous = old.get(model, {}).get("all", {}).get(metric) if old else None
    if previous is None:
        return Decision(True, model, "all", metric, None, value, None, tolerance,
                        "no previous result: the first model is promoted")
    change = value - float(previous)
    promote = change >= -tolerance
    verb = "promoted" if promote else "kept the previous model"
    reason = (f"{model} {metric} {float(previous):.4f} -> {value:.4f} ({change:+.4f}; "
              f"tolerance {tolerance}): {verb}")
    return Decision(promote, model, "all", metric, float(previous), value, change, tolerance,
                    reason)
