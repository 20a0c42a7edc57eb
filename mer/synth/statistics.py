"""Numbers derived from the real coding sheets, and the macro-expression AU prototypes.

How :data:`SHEET_STATISTICS` was derived: ``mer.synth.derive.derive_statistics`` over the CASME II
2014 sheet (``CASME2-coding-20140508.xlsx``, 255 rows) and the SAMM v2 sheet
(``SAMM_Micro_FACS_Codes_v2.xlsx``, 159 rows, header on sheet row 14), i.e. per corpus:
- ``emotions``: clips per ``Estimated Emotion`` (lower case);
- ``combos``: per emotion, the ``Action Units`` codes reduced to the AUs that have a displacement
  field (``ref(...)`` dropped, first of alternatives kept, intensity letters dropped, ``A``
  (asymmetric) made bilateral, ``L``/``R`` kept) and counted; rows with no supported AU are left out;
- ``onset_to_apex`` / ``apex_to_offset``: frames at 200 fps at the percentiles
  ``derive.QUANTILE_LEVELS`` (0, 10, ..., 100) over rows with onset <= apex <= offset.
Only these numbers are committed; the sheets are not. ``tests/synth/test_statistics.py``
re-derives them when ``../shared/annotations`` is present.
"""

from __future__ import annotations

from typing import Any, Final

SHEET_STATISTICS: Final[dict[str, dict[str, Any]]] = (
    {'casme2': {'apex_to_offset': (0, 15, 20, 22, 27, 30, 35, 40, 45, 55, 102),
                'combos': {'disgust': (('4+7', 20), ('4', 11), ('4+9', 4), ('4+R10', 4),
                                       ('4+7+9', 3), ('4+10', 2), ('4+6+7', 2), ('4+7+10', 2),
                                       ('4+9+10', 2), ('4+L10', 2), ('4+5+7+9', 1),
                                       ('4+5+L10', 1), ('4+6+7+9', 1), ('4+9+17', 1),
                                       ('4+L9+14', 1), ('L10', 1), ('L4', 1), ('L7+L10', 1),
                                       ('R10', 1), ('R2+15', 1), ('R4+R10', 1)),
                           'fear': (('20', 1),),
                           'happiness': (('12', 6), ('L12', 6), ('6+12', 5), ('14', 3),
                                         ('R12', 3), ('1+12', 1), ('12+15', 1), ('12+L14', 1),
                                         ('15', 1), ('4+R12', 1), ('6+12+17', 1), ('6+7+12', 1),
                                         ('L14+L15', 1), ('R6+R12', 1)),
                           'others': (('4', 60), ('14', 12), ('17', 4), ('4+7', 3), ('R14', 3),
                                      ('24', 2), ('12', 1), ('15', 1), ('4+12', 1), ('4+7+12', 1),
                                      ('4+L14', 1), ('6+7+12', 1), ('7', 1), ('L6+L7', 1),
                                      ('R4', 1)),
                           'repression': (('17', 13), ('15', 4), ('15+17', 4), ('14', 2),
                                          ('12+14+17', 1), ('12+15', 1), ('14+15', 1),
                                          ('4+15+17', 1)),
                           'sadness': (('1', 5), ('1+4', 1), ('L1', 1)),
                           'surprise': (('1+2', 5), ('L1+L2', 5), ('1', 4), ('1+L2', 2),
                                        ('R2', 2), ('1+R2+25', 1), ('2', 1), ('25', 1),
                                        ('L2+12', 1), ('L2+14', 1), ('L2+26', 1), ('R1+R2', 1))},
                'emotions': {'disgust': 63,
                             'fear': 2,
                             'happiness': 32,
                             'others': 99,
                             'repression': 27,
                             'sadness': 7,
                             'surprise': 25},
                'onset_to_apex': (0, 18, 21, 25, 28, 30, 35, 38, 43, 53, 88)},
     'samm': {'apex_to_offset': (1, 17, 25, 32, 36, 40, 44, 50, 57, 63, 81),
              'combos': {'anger': (('7', 31), ('4', 12), ('4+7', 4), ('4+7+43', 3), ('43', 2),
                                   ('17', 1), ('4+6+7+9+43', 1), ('L4', 1), ('L7', 1)),
                         'contempt': (('L14', 4), ('R14', 2), ('14', 1), ('14+25+26', 1),
                                      ('L12', 1), ('R12', 1), ('R14+17', 1), ('R14+R17', 1)),
                         'disgust': (('9', 2), ('10', 1), ('4+9', 1), ('9+12', 1), ('L10', 1),
                                     ('R10', 1), ('R10+25+26', 1)),
                         'fear': (('20', 2), ('R20', 2), ('20+25+26', 1), ('7+20+26', 1),
                                  ('L20', 1)),
                         'happiness': (('12', 12), ('L12', 4), ('7+12', 3), ('R6+R15', 2),
                                       ('12+24', 1), ('L12+25', 1), ('L2+12', 1), ('R6+R12', 1)),
                         'other': (('L2', 8), ('24', 6), ('R2', 4), ('25', 2), ('2', 1),
                                   ('4', 1)),
                         'sadness': (('1', 2), ('17', 2), ('12+15', 1), ('15+17', 1)),
                         'surprise': (('5', 8), ('1+2', 3), ('1+2+L14', 1), ('25+26', 1),
                                      ('26', 1), ('5+24', 1))},
              'emotions': {'anger': 57,
                           'contempt': 12,
                           'disgust': 9,
                           'fear': 8,
                           'happiness': 26,
                           'other': 26,
                           'sadness': 6,
                           'surprise': 15},
              'onset_to_apex': (1, 18, 22, 25, 29, 32, 34, 36, 42, 50, 96)}}
)

#: CK+ emotion codes (the ``Emotion/*_emotion.txt`` numbers).
CK_EMOTIONS: Final[dict[int, str]] = {
    0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy", 6: "sadness",
    7: "surprise",
}

#: Macro-expression AU prototypes per CK+ emotion (EMFACS-style prototypes, not from a sheet),
#: reduced to the AUs with a field (AU23 -> 24, AU16 -> 25); each with a relative frequency.
MACRO_PROTOTYPES: Final[dict[str, tuple[tuple[str, int], ...]]] = {
    "anger": (("4+5+7+24", 3), ("4+7+24", 2), ("4+5+7+17", 1)),
    "contempt": (("R14", 2), ("L14", 2), ("R12+R14", 1)),
    "disgust": (("9+15+25", 2), ("9+10+17", 2), ("10+15", 1)),
    "fear": (("1+2+4+5+20+25", 3), ("1+2+4+5+25+26", 1), ("1+4+20+25", 1)),
    "happy": (("6+12", 3), ("6+12+25", 2), ("12+25", 1)),
    "sadness": (("1+4+15", 3), ("1+4+15+17", 2), ("4+15+17", 1)),
    "surprise": (("1+2+5+25+26", 3), ("1+2+25+26", 2), ("1+2+5+26", 1)),
}
