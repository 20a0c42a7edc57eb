"""Data-quality gates between stages, checked with Great Expectations.

Each gate turns a stage's per-clip table (and, for clips, its frames) into frames of the table's
columns, validates them against the expectation suites kept in ``mer/quality/suites/*.json`` and
returns a :class:`~mer.quality.gate.GateReport` that names every failing clip and rule; the
results can also be rendered as Data Docs. Great Expectations is imported only here, lazily.
"""

from mer.quality.gate import Batch, GateError, GateReport, run_gate

__all__ = ["Batch", "GateError", "GateReport", "run_gate"]
