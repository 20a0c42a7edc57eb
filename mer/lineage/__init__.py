"""Lineage of reported numbers: the DVC stage, inputs, params, code and run behind each one.

Public API: :func:`audit_metrics` -> :class:`AuditReport` (``format_text``, ``to_dict``),
:func:`read_lock`, :func:`upstream`, :func:`verify`, :func:`reproduce`. DVC is imported only
when a check runs, never at import.
"""

from mer.lineage.audit import AuditReport, Lineage, Metric, audit_metrics, find_root, format_text
from mer.lineage.environment import Environment, GitState, environment, package_versions
from mer.lineage.lock import LockedPath, LockedStage, producing_stage, read_lock, upstream
from mer.lineage.reproduce import Reproduction, reproduce
from mer.lineage.verify import Mismatch, verify

__all__ = [
    "AuditReport",
    "Environment",
    "GitState",
    "Lineage",
    "LockedPath",
    "LockedStage",
    "Metric",
    "Mismatch",
    "Reproduction",
    "audit_metrics",
    "environment",
    "find_root",
    "format_text",
    "package_versions",
    "producing_stage",
    "read_lock",
    "reproduce",
    "upstream",
    "verify",
]
