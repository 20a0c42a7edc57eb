"""Errors of face alignment."""

from __future__ import annotations

from mer.data.errors import DataError


class NoFaceError(DataError):
    """No face was found on the reference frame nor on its neighbours.

    The message is one line, ``<clip>: <rule>``, like every :class:`~mer.data.errors.DataError`.
    """
