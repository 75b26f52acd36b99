"""The dataio exception hierarchy (docs/api.md §11).

Every exception dataio raises by its own decision derives from :class:`DataIOError`
*and* from the builtin a user would naturally catch, so ``except ValueError`` and
``except dataio.DataIOError`` both work.
"""

from __future__ import annotations

from typing import Any


class DataIOError(Exception):
    """Root of every exception dataio raises by its own decision."""


class PlanError(DataIOError, ValueError):
    """An invalid pipeline, op parameter, run option or resume state."""


class RowError(DataIOError, RuntimeError):
    """Rows of a batch failed and the ``on_failure`` policy does not allow it.

    Attributes:
        errors: the per-row error dicts (``index``, ``key``, ``stage``, ``op``, ``message``).
    """

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors: list[dict[str, Any]] = list(errors or [])


class DecodeError(DataIOError, ValueError):
    """A payload could not be decoded.

    Attributes:
        uri: the path or URI of the payload when known, else ``None``.
    """

    def __init__(self, message: str, uri: str | None = None) -> None:
        super().__init__(message)
        self.uri = uri


class BackendUnavailable(DataIOError, ImportError):
    """An optional package a feature needs is not installed (the message names the extra)."""


class DeviceUnavailable(DataIOError, RuntimeError):
    """CUDA, a GPU library, GDS, nvJPEG or host pinning is not usable here (the message says why)."""


class RecordError(DataIOError, KeyError):
    """A record lacks a slot's key or a referenced field: a broken record source, always fatal."""

    def __str__(self) -> str:  # KeyError would repr() the message; show it as written
        return str(self.args[0]) if self.args else ""


class RecordTypeError(DataIOError, TypeError):
    """A slot value has a type dataio cannot read bytes from: a broken record source, always fatal."""
