"""The canonical clip table: one row per micro- (or macro-) expression clip, whatever the corpus.

Every reader produces a table with :data:`CLIP_SCHEMA`; every later stage reads it. Frame numbers
are the corpus's own (``img46.jpg`` is frame 46), not positions in a list.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

#: The MEGC2019 composite classes, in the order of the official ground-truth codes 0, 1, 2.
LABELS: Final[tuple[str, ...]] = ("negative", "positive", "surprise")

#: Native emotion (lower case) -> composite class, per corpus format; absent emotions map to null.
#: CASME II follows the official composite (fear and sadness are left out of it).
EMOTION_TO_LABEL: Final[dict[str, dict[str, str]]] = {
    "casme2": {"disgust": "negative", "repression": "negative",
               "happiness": "positive", "surprise": "surprise"},
    "samm": {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
             "sadness": "negative", "happiness": "positive", "surprise": "surprise"},
    "smic": {"negative": "negative", "positive": "positive", "surprise": "surprise"},
    "casme3": {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
               "sad": "negative", "sadness": "negative", "happy": "positive",
               "happiness": "positive", "surprise": "surprise"},
    "mmew": {"anger": "negative", "disgust": "negative", "fear": "negative", "sadness": "negative",
             "happiness": "positive", "surprise": "surprise"},
    # CK+ (macro): neutral and unlabelled sequences map to null.
    "ckplus": {"anger": "negative", "contempt": "negative", "disgust": "negative",
               "fear": "negative", "sadness": "negative", "happy": "positive",
               "surprise": "surprise"},
}

CLIP_SCHEMA: Final[pa.Schema] = pa.schema(
    [
        pa.field("dataset", pa.string(), nullable=False),  # corpus format: casme2, samm, smic, ...
        pa.field("subject", pa.string(), nullable=False),  # as spelled on disk (sub01, 006, s1)
        pa.field("clip", pa.string(), nullable=False),  # clip id, unique within a dataset
        pa.field("root", pa.string(), nullable=False),  # corpus root directory as configured
        pa.field("frames", pa.list_(pa.string()), nullable=False),  # relative to root, ascending
        pa.field("frame_numbers", pa.list_(pa.int32()), nullable=False),  # parallel to frames
        pa.field("onset", pa.int32(), nullable=False),  # frame number
        pa.field("apex", pa.int32(), nullable=True),  # frame number; null where not annotated
        pa.field("offset", pa.int32(), nullable=False),  # frame number
        pa.field("fps", pa.float32(), nullable=False),
        pa.field("action_units", pa.string(), nullable=True),  # FACS code as written, e.g. "4+R12"
        pa.field("emotion", pa.string(), nullable=False),  # native emotion, lower case
        pa.field("label", pa.string(), nullable=True),  # one of LABELS or null
        pa.field("source_file", pa.string(), nullable=False),  # sheet (or folder) the row came from
        pa.field("source_row", pa.int32(), nullable=True),  # 1-based row as a spreadsheet shows it
    ]
)


def empty_clip_table() -> pa.Table:
    """Return a clip table with no rows and the canonical schema."""
    return CLIP_SCHEMA.empty_table()
