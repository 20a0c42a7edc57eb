"""Data-quality gates between stages, checked with Great Expectations.

Each gate turns a stage's per-clip table into a frame of plain columns, runs a list of
:class:`~mer.quality.gate.Check` on it and returns a :class:`~mer.quality.gate.GateReport`
that names every failing clip and rule. Great Expectations is imported only here, lazily.
"""

from mer.quality.gate import Check, GateError, GateReport, run_gate

__all__ = ["Check", "GateError", "GateReport", "run_gate"]
