"""The Facial Action Coding System (FACS) table: action unit number -> name and muscles.

Written for this project from the FACS literature (Ekman, Friesen and Hager, *Facial Action Coding
System*, 2002; the muscular basis as usually tabulated with it). Names are lower case, as they read
inside a sentence. ``kind`` says what a code is:

- ``"action"``: a muscular action unit, with the muscle(s) that produce it;
- ``"gross"``: a gross behaviour code (tongue, jaw, cheeks, lips), no single muscle named;
- ``"head"``: a head position or movement (51-58);
- ``"eye"``: an eye position or movement (61-64).

Codes 3, 40, 47-50 and 59-60 are not FACS codes (3 is unused, 40 and 47-50 are not defined in the
2002 manual) and are absent, so a sheet that writes them fails with the code named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

Kind = Literal["action", "gross", "head", "eye"]

#: AUs whose action can be limited to the top (``T``) or bottom (``B``) lip.
LIP_AUS: Final[frozenset[int]] = frozenset({18, 22, 23, 24, 28})


@dataclass(frozen=True)
class ActionUnit:
    """One FACS code.

    Attributes:
        number: the FACS number (1 = inner brow raiser).
        name: the FACS name, lower case (``"inner brow raiser"``).
        muscles: the muscular basis as a phrase (``"frontalis, pars medialis"``), or None for
            gross behaviour, head and eye codes.
        kind: ``"action"``, ``"gross"``, ``"head"`` or ``"eye"`` (see the module docstring).
    """

    number: int
    name: str
    muscles: str | None
    kind: Kind = "action"


_ROWS: Final[tuple[tuple[int, str, str | None, Kind], ...]] = (
    (1, "inner brow raiser", "frontalis, pars medialis", "action"),
    (2, "outer brow raiser", "frontalis, pars lateralis", "action"),
    (4, "brow lowerer", "depressor glabellae, depressor supercilii, corrugator supercilii",
     "action"),
    (5, "upper lid raiser", "levator palpebrae superioris", "action"),
    (6, "cheek raiser", "orbicularis oculi, pars orbitalis", "action"),
    (7, "lid tightener", "orbicularis oculi, pars palpebralis", "action"),
    (8, "lips toward each other", "orbicularis oris", "action"),
    (9, "nose wrinkler", "levator labii superioris alaeque nasi", "action"),
    (10, "upper lip raiser", "levator labii superioris", "action"),
    (11, "nasolabial deepener", "zygomaticus minor", "action"),
    (12, "lip corner puller", "zygomaticus major", "action"),
    (13, "sharp lip puller", "levator anguli oris", "action"),
    (14, "dimpler", "buccinator", "action"),
    (15, "lip corner depressor", "depressor anguli oris", "action"),
    (16, "lower lip depressor", "depressor labii inferioris", "action"),
    (17, "chin raiser", "mentalis", "action"),
    (18, "lip pucker", "incisivii labii superioris and inferioris", "action"),
    (19, "tongue show", None, "gross"),
    (20, "lip stretcher", "risorius, platysma", "action"),
    (21, "neck tightener", "platysma", "action"),
    (22, "lip funneler", "orbicularis oris", "action"),
    (23, "lip tightener", "orbicularis oris", "action"),
    (24, "lip pressor", "orbicularis oris", "action"),
    (25, "lips part", "depressor labii inferioris, relaxation of mentalis or orbicularis oris",
     "action"),
    (26, "jaw drop", "masseter; relaxed temporalis and internal pterygoid", "action"),
    (27, "mouth stretch", "pterygoids, digastric", "action"),
    (28, "lip suck", "orbicularis oris", "action"),
    (29, "jaw thrust", None, "gross"),
    (30, "jaw sideways", None, "gross"),
    (31, "jaw clencher", "masseter", "action"),
    (32, "lip bite", None, "gross"),
    (33, "cheek blow", None, "gross"),
    (34, "cheek puff", None, "gross"),
    (35, "cheek suck", None, "gross"),
    (36, "tongue bulge", None, "gross"),
    (37, "lip wipe", None, "gross"),
    (38, "nostril dilator", "nasalis, pars alaris", "action"),
    (39, "nostril compressor", "nasalis, pars transversa, and depressor septi nasi", "action"),
    (41, "lid droop", "relaxation of levator palpebrae superioris", "action"),
    (42, "slit", "orbicularis oculi", "action"),
    (43, "eyes closed", "relaxation of levator palpebrae superioris; orbicularis oculi, "
     "pars palpebralis", "action"),
    (44, "squint", "orbicularis oculi, pars palpebralis", "action"),
    (45, "blink", "relaxation of levator palpebrae superioris; orbicularis oculi, "
     "pars palpebralis", "action"),
    (46, "wink", "orbicularis oculi", "action"),
    (51, "head turn left", None, "head"),
    (52, "head turn right", None, "head"),
    (53, "head up", None, "head"),
    (54, "head down", None, "head"),
    (55, "head tilt left", None, "head"),
    (56, "head tilt right", None, "head"),
    (57, "head forward", None, "head"),
    (58, "head back", None, "head"),
    (61, "eyes turn left", None, "eye"),
    (62, "eyes turn right", None, "eye"),
    (63, "eyes up", None, "eye"),
    (64, "eyes down", None, "eye"),
)

#: AU number -> :class:`ActionUnit`, ascending (read-only).
FACS: Final[Mapping[int, ActionUnit]] = MappingProxyType(
    {number: ActionUnit(number, name, muscles, kind) for number, name, muscles, kind in _ROWS}
)


def action_unit(number: int) -> ActionUnit:
    """Return the FACS entry of AU ``number``.

    Raises:
        KeyError: if ``number`` is not a FACS code (the message lists the known range).
    """
    try:
        return FACS[number]
    except KeyError:
        raise KeyError(f"AU {number} is not in the FACS table (codes 1-64 without 3, 40, 47-50, "
                       "59, 60)") from None
