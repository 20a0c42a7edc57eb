"""The text encoder's weights are pinned by SHA-256 and checked before loading."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mer.facs import text
from mer.facs.text import (
    KNOWN_ENCODERS,
    PINNED_WEIGHTS,
    EncoderError,
    check_weights,
    file_sha256,
    load_encoder,
    package_directory,
)

NAME = "all-MiniLM-L6-v2"


def _installed_weights() -> Path:
    return package_directory(KNOWN_ENCODERS[NAME]) / PINNED_WEIGHTS[NAME][0]


def test_the_installed_weights_match_their_pin() -> None:
    check_weights(_installed_weights(), PINNED_WEIGHTS[NAME][1])  # raises if not
    assert file_sha256(_installed_weights()) == PINNED_WEIGHTS[NAME][1]


def test_changed_bytes_fail_naming_file_and_both_hashes(tmp_path: Path) -> None:
    copy = tmp_path / "model.safetensors"
    shutil.copyfile(_installed_weights(), copy)
    with copy.open("r+b") as stream:  # flip one byte of the copy, not of the installed package
        stream.seek(1000)
        byte = stream.read(1)
        stream.seek(1000)
        stream.write(bytes([byte[0] ^ 0xFF]))
    expected = PINNED_WEIGHTS[NAME][1]
    actual = file_sha256(copy)
    assert actual != expected
    with pytest.raises(EncoderError, match=re.escape(f"{copy} have SHA-256 {actual}, expected "
                                                     f"{expected}")):
        check_weights(copy, expected)
    with pytest.raises(EncoderError, match=r"missing.safetensors not found \(expected SHA-256"):
        check_weights(tmp_path / "missing.safetensors", expected)


def test_load_encoder_checks_before_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []
    monkeypatch.setattr(text.importlib, "import_module", loaded.append)
    monkeypatch.setitem(PINNED_WEIGHTS, NAME, (PINNED_WEIGHTS[NAME][0], "0" * 64))
    with pytest.raises(EncoderError, match="model.safetensors have SHA-256 53aa5117.*expected 0{64}"):
        load_encoder(NAME)
    assert loaded == []  # the model was never imported
