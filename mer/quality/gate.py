"""Run a list of checks on a table with Great Expectations and report which rows broke which rule."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from mer.data.errors import DataError

#: Columns that identify a row in every gate's report, when the frame has them.
KEY_COLUMNS: tuple[str, ...] = ("dataset", "clip", "source_file", "source_row")
#: At most this many failing rows are listed per rule (the count is always exact).
MAX_LISTED = 50


@dataclass(frozen=True)
class Check:
    """One rule: a sentence for people and the Great Expectations expectation that tests it.

    Args:
        rule: the rule as an error message states it, e.g. ``"onset <= apex"``.
        expectation: class name in ``great_expectations.expectations``.
        kwargs: the expectation's arguments.
    """

    rule: str
    expectation: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check: the failing rows' keys (at most MAX_LISTED) and their count."""

    rule: str
    expectation: str
    success: bool
    n_failed: int
    failed: list[dict[str, Any]]


@dataclass(frozen=True)
class GateReport:
    """Outcome of one gate over one table."""

    gate: str
    success: bool
    n_rows: int
    checks: list[CheckResult]
    dropped: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        """Stable JSON (sorted keys, trailing newline) for ``reports/quality/<gate>.json``."""
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str) + "\n"

    def first_failure(self) -> tuple[CheckResult, dict[str, Any] | None] | None:
        """The first failed check and its first failing row, or None when the gate passed."""
        for check in self.checks:
            if not check.success:
                return check, (check.failed[0] if check.failed else None)
        return None


class GateError(DataError):
    """A quality gate failed; ``report`` holds every failing rule and clip."""

    def __init__(self, report: GateReport) -> None:
        failure = report.first_failure()
        assert failure is not None, "GateError needs a failed report"
        check, row = failure
        where = _describe_row(report.gate, row)
        more = sum(c.n_failed for c in report.checks if not c.success) - 1
        rule = f"breaks '{check.rule}'" + (f" (and {more} more failures)" if more > 0 else "")
        super().__init__(where, rule)
        self.report = report


def _describe_row(gate: str, row: dict[str, Any] | None) -> str:
    """Name a failing row as ``<file> row <n> (clip <dataset>/<clip>)`` from what it has."""
    if row is None:
        return f"gate '{gate}'"
    parts = [str(row["source_file"])] if row.get("source_file") else [f"gate '{gate}'"]
    if row.get("source_row") is not None:
        parts.append(f"row {row['source_row']}")
    if row.get("clip") is not None:
        parts.append(f"(clip {row.get('dataset', '?')}/{row['clip']})")
    return " ".join(parts)


def run_gate(name: str, frame: pd.DataFrame, checks: list[Check]) -> GateReport:
    """Validate ``frame`` against ``checks`` in an ephemeral Great Expectations context.

    Args:
        name: the gate's name (also the report's file stem).
        frame: one row per clip; key columns from KEY_COLUMNS are reported for failing rows.
        checks: the rules.

    Returns:
        A report; it does not raise on failure (see GateError).
    """
    import great_expectations as gx  # noqa: PLC0415 - costs ~3 s, only where validation runs
    from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: PLC0415

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for index, check in enumerate(checks):
        expectation = getattr(gx.expectations, check.expectation)
        suite.add_expectation(expectation(**check.kwargs, meta={"check": index}))
    batch = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe(name)
    )
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    keys = [column for column in KEY_COLUMNS if column in frame.columns]
    result = validation.run(
        batch_parameters={"dataframe": frame.reset_index(drop=True)},
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": keys},
    )
    outcomes = {outcome.expectation_config.meta["check"]: outcome for outcome in result.results}
    results = [
        _check_result(check, outcomes[index].success, outcomes[index].result, keys)
        for index, check in enumerate(checks)
    ]
    return GateReport(name, all(r.success for r in results), len(frame), results)


def _check_result(
    check: Check, success: bool | None, result: dict[str, Any], keys: list[str]
) -> CheckResult:
    """Reduce one expectation's result to the failing rows' key columns."""
    rows = result.get("unexpected_index_list") or []
    failed = [{key: _plain(row.get(key)) for key in keys if key in row} for row in rows]
    n_failed = int(result.get("unexpected_count", len(failed)) or (0 if success else 1))
    return CheckResult(check.rule, check.expectation, bool(success), n_failed, failed[:MAX_LISTED])


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so reports serialise the same everywhere."""
    return value.item() if hasattr(value, "item") else value
