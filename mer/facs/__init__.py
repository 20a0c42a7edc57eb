"""The Facial Action Coding System: the AU table, and coded AUs ("4+R12") parsed and put in words.

``describe_au_code("4+R12")`` -> ``"brow lowerer (depressor glabellae, depressor supercilii,
corrugator supercilii), lip corner puller on the right (zygomaticus major)"``. The text encoder
that embeds such sentences lives in :mod:`mer.facs.text` (imported on demand, never here).
"""

from mer.facs.codes import (AUCode, AUCodeError, AUTerm, describe, describe_au_code,
                            describe_term, parse_au_code)
from mer.facs.table import FACS, LIP_AUS, ActionUnit, action_unit

__all__ = [
    "FACS",
    "LIP_AUS",
    "AUCode",
    "AUCodeError",
    "AUTerm",
    "ActionUnit",
    "action_unit",
    "describe",
    "describe_au_code",
    "describe_term",
    "parse_au_code",
]
