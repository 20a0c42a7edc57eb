"""Stage `au_text` with a fake encoder; the real MiniLM encoder (slow)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from mer.data.errors import DataError
from mer.facs.au_sets import AU_SET_COLUMNS
from mer.facs.text import KNOWN_ENCODERS, EncoderError, load_encoder
from mer.stages import au_text
from mer.facs.embeddings import au_text_inputs, au_text_schema, au_text_table, describe_clips


class FakeEncoder:
    """Deterministic unit vectors from a hash of the text; counts what it was asked."""

    name = "fake-8"
    dim = 8

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], dtype=np.uint8)
                for t in texts]
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim) - 127.5
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _clips(codes: list[str | None]) -> pa.Table:
    n = len(codes)
    return pa.table({
        "dataset": ["casme2"] * n, "subject": [f"sub0{i % 2}" for i in range(n)],
        "clip": [f"c{i}" for i in range(n)], "action_units": codes,
        "source_file": ["sheet.xlsx"] * n, "source_row": list(range(2, n + 2)),
    })


def test_the_table_has_one_row_per_clip_and_embeds_each_text_once() -> None:
    encoder = FakeEncoder()
    table = au_text_table(_clips(["4+R12", "12R+4", None, "?", "4"]), encoder)
    assert table.schema == au_text_schema(8)
    rows = table.to_pylist()
    assert [r["clip"] for r in rows] == ["c0", "c1", "c2", "c3", "c4"]
    assert rows[0]["description"] == rows[1]["description"]  # canonical order
    assert "on the right" in rows[0]["description"]
    assert "on the left" in rows[0]["description_mirrored"]
    assert rows[0]["embedding"] == rows[1]["embedding"] != rows[0]["embedding_mirrored"]
    assert rows[4]["embedding"] == rows[4]["embedding_mirrored"]  # no side: same text
    for row in rows[2:4]:  # blank and "?": nothing to embed
        assert row["description"] is None and row["embedding"] is None
    assert {r["encoder"] for r in rows} == {"fake-8"}
    assert len(encoder.calls) == 1 and len(encoder.calls[0]) == 3  # 4+R12, 4+L12, 4
    assert np.allclose(np.linalg.norm(rows[4]["embedding"]), 1.0, atol=1e-6)


def test_a_bad_code_names_the_clip_and_sheet_row() -> None:
    with pytest.raises(DataError, match=r"clip casme2/sub01/c1 \(sheet.xlsx row 3\).*AU 40"):
        describe_clips(_clips(["4", "40+12"]), source="clips.parquet")


def test_inputs_join_on_the_clip_keys_with_zeros_for_uncoded() -> None:
    table = au_text_table(_clips(["4+R12", None, "4"]), FakeEncoder())
    inputs = au_text_inputs(table, ["casme2", "casme2"], ["sub00", "sub01"], ["c2", "c1"])
    assert set(inputs) == {"au_text", "au_text_mirrored", "au_set", "au_set_mirrored"}
    assert inputs["au_text"].dtype == torch.float32 and inputs["au_text"].shape == (2, 8)
    assert inputs["au_text"][0].tolist() == pytest.approx(table.column("embedding")[2].as_py())
    assert torch.count_nonzero(inputs["au_text"][1]) == 0
    first = {AU_SET_COLUMNS[i] for i in torch.nonzero(inputs["au_set"][0]).flatten().tolist()}
    mirrored = {AU_SET_COLUMNS[i]
                for i in torch.nonzero(inputs["au_set_mirrored"][0]).flatten().tolist()}
    assert first == mirrored == {(4, "left"), (4, "right")}  # "4"
    assert torch.count_nonzero(inputs["au_set"][1]) == 0  # uncoded
    sided = au_text_inputs(table, ["casme2"], ["sub00"], ["c0"])  # "4+R12"
    assert {AU_SET_COLUMNS[i] for i in torch.nonzero(sided["au_set_mirrored"][0]).flatten()
            .tolist()} == {(4, "left"), (4, "right"), (12, "left")}
    with pytest.raises(DataError, match=r"no row, e.g. \['casme2/sub00/c9'\]"):
        au_text_inputs(table, ["casme2"], ["sub00"], ["c9"])


def test_main_writes_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clips = tmp_path / "clips.parquet"
    pq.write_table(_clips(["1+2", "L10"]), clips)
    monkeypatch.setattr(au_text, "load_encoder", lambda name, device: FakeEncoder())
    out = tmp_path / "processed" / "au_text.parquet"
    assert au_text.main(["--clips", str(clips), "--out", str(out)]) == 0
    table = pq.read_table(out)
    assert table.num_rows == 2 and table.column("description")[1].as_py() == (
        "upper lip raiser on the left (levator labii superioris)")


def test_an_unloadable_encoder_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EncoderError, match="unknown text encoder 'bert-base'"):
        load_encoder("bert-base")
    monkeypatch.setitem(KNOWN_ENCODERS, "all-MiniLM-L6-v2", "no_such_package_xyz")
    with pytest.raises(EncoderError, match="no_such_package_xyz.*no other encoder"):
        load_encoder("all-MiniLM-L6-v2")


@pytest.mark.slow
def test_the_real_encoder_puts_au12_near_its_name() -> None:
    encoder = load_encoder("all-MiniLM-L6-v2")
    table = au_text_table(_clips(["12"]), encoder)
    au12 = np.asarray(table.column("embedding")[0].as_py(), dtype=np.float32)
    names = encoder.encode(["lip corner puller", "brow lowerer"])
    assert encoder.dim == 384 and au12.shape == (384,)
    assert float(au12 @ names[0]) > float(au12 @ names[1])
