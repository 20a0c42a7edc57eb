"""Validate tables against the expectation suites kept in ``mer/quality/suites/*.json``.

A suite is a Great Expectations suite as JSON: each expectation's ``meta.rule`` is the sentence a
failure states, and thresholds that depend on params.yaml are ``{"$PARAMETER": name}`` in its
kwargs (and ``{name}`` in its rule), filled in when the gate runs. The validation results can be
rendered as Great Expectations Data Docs (HTML) in a folder of their own.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mer.data.errors import DataError

#: Columns that identify a row in every gate's report, when the frame has them.
KEY_COLUMNS: tuple[str, ...] = ("dataset", "clip", "source_file", "source_row", "frame")
#: At most this many failing rows are listed per rule (the count is always exact).
MAX_LISTED = 50
#: The folder of the expectation suites, one ``<name>.json`` each.
SUITES = Path(__file__).parent / "suites"


@dataclass(frozen=True)
class Batch:
    """One table to validate and the suite it is validated against.

    Args:
        suite: the suite's file stem in :data:`SUITES`, e.g. ``"clips"``.
        frame: the table, one row per clip (or per frame), with the columns the suite names.
    """

    suite: str
    frame: pd.DataFrame


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one expectation: the failing rows' keys (at most MAX_LISTED) and their count."""

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
    """Name a failing row as ``<file> row <n> (clip <dataset>/<clip>) frame <path>``."""
    if row is None:
        return f"gate '{gate}'"
    parts = [str(row["source_file"])] if row.get("source_file") else [f"gate '{gate}'"]
    if row.get("source_row") is not None:
        parts.append(f"row {row['source_row']}")
    if row.get("clip") is not None:
        parts.append(f"(clip {row.get('dataset', '?')}/{row['clip']})")
    if row.get("frame") is not None:
        parts.append(f"frame {row['frame']}")
    return " ".join(parts)


def load_suite(name: str) -> dict[str, Any]:
    """Read ``suites/<name>.json``; a DataError names the file when it is missing or broken."""
    path = SUITES / f"{name}.json"
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(path, f"cannot read the expectation suite ({error})") from error
    rules = [expectation.get("meta", {}).get("rule") for expectation in suite["expectations"]]
    if None in rules or len(set(rules)) != len(rules):
        raise DataError(path, "every expectation needs its own meta.rule")
    return suite


def run_gate(name: str, batches: list[Batch], parameters: dict[str, Any],
             data_docs: Path | None = None) -> GateReport:
    """Validate each batch against its suite in an ephemeral Great Expectations context.

    Args:
        name: the gate's name (also the report's file stem).
        batches: the tables and their suites; the first one's rows are the report's ``n_rows``.
        parameters: values of the suites' ``$PARAMETER`` placeholders (and of their rules').
        data_docs: when given, the validation results are rendered there as Data Docs
            (``index.html``), replacing what the folder held.

    Returns:
        A report with the checks in suite order; it does not raise on failure (see GateError).
    """
    import great_expectations as gx  # noqa: PLC0415 - costs ~3 s, only where validation runs
    from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: PLC0415

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    checks: list[CheckResult] = []
    for batch in batches:
        definition = load_suite(batch.suite)
        suite = context.suites.add(gx.ExpectationSuite(**definition))
        data = (
            context.data_sources.add_pandas(batch.suite)
            .add_dataframe_asset(batch.suite)
            .add_batch_definition_whole_dataframe(batch.suite)
        )
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}: {batch.suite}", data=data, suite=suite)
        )
        keys = [column for column in KEY_COLUMNS if column in batch.frame.columns]
        result = validation.run(
            batch_parameters={"dataframe": batch.frame.reset_index(drop=True)},
            expectation_parameters=parameters,
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": keys},
        )
        outcomes = {outcome.expectation_config.meta["rule"]: outcome for outcome in result.results}
        for expectation in definition["expectations"]:
            outcome = outcomes[expectation["meta"]["rule"]]
            _raise_if_broken(batch.suite, expectation, outcome.exception_info)
            checks.append(_check_result(_rule(expectation, parameters), expectation["type"],
                                        outcome.success, outcome.result, keys))
    if data_docs is not None:
        _build_data_docs(context, data_docs)
    n_rows = len(batches[0].frame) if batches else 0
    return GateReport(name, all(check.success for check in checks), n_rows, checks)


def _rule(expectation: dict[str, Any], parameters: dict[str, Any]) -> str:
    """The rule's sentence with its parameters filled in (lists joined by '/')."""
    shown = {key: "/".join(map(str, value)) if isinstance(value, list | tuple) else value
             for key, value in parameters.items()}
    return str(expectation["meta"]["rule"]).format(**shown)


def _raise_if_broken(suite: str, expectation: dict[str, Any], info: dict[str, Any]) -> None:
    """An expectation that could not run (a column the table lacks) is a bug in the suite."""
    if info and info.get("raised_exception"):
        raise DataError(SUITES / f"{suite}.json",
                        f"expectation '{expectation['meta']['rule']}' could not run: "
                        f"{info.get('exception_message')}")


def _check_result(rule: str, expectation: str, success: bool | None, result: dict[str, Any],
                  keys: list[str]) -> CheckResult:
    """Reduce one expectation's result to the failing rows' key columns."""
    rows = result.get("unexpected_index_list") or []
    failed = [{key: _plain(row.get(key)) for key in keys if key in row} for row in rows]
    n_failed = int(result.get("unexpected_count", len(failed)) or (0 if success else 1))
    return CheckResult(rule, expectation, bool(success), n_failed, failed[:MAX_LISTED])


def _build_data_docs(context: Any, folder: Path) -> None:
    """Render the context's suites and validation results as Data Docs in ``folder``.

    The site is built beside ``folder`` and then moved in, so the folder holds one whole site
    of this run (Data Docs carry the run's time, which is why they are not a DVC output).
    """
    folder = folder.resolve()  # GE wants an absolute site folder
    staging = folder.with_name(f".{folder.name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    context.add_data_docs_site("mer", {
        "class_name": "SiteBuilder", "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(staging)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    context.build_data_docs(site_names=["mer"])
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so reports serialise the same everywhere."""
    return value.item() if hasattr(value, "item") else value
