"""Per-row failures: what went wrong with one record, as data (docs/api.md §4.4–4.5)."""

from __future__ import annotations

from typing import Any, Literal

Stage = Literal["read", "decode", "transform", "collate"]


class RowFailure(Exception):
    """One record's slot failed in a way ``on_failure`` may tolerate.

    Raised inside executors and kernels; the runtime turns it into an error dict on
    ``batch.errors`` (or a :class:`~dataio.RowError` under ``"strict"``).
    """

    def __init__(self, stage: Stage, op: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.op = op
        self.message = message

    def as_dict(self, index: int, key: str | None, slot: str | None) -> dict[str, Any]:
        """The ``batch.errors`` entry for row ``index``."""
        where = f"slot {slot!r}: " if slot is not None else ""
        return {"index": index, "key": key, "stage": self.stage, "op": self.op,
                "message": f"{where}{self.message}"}


def describe_value(value: Any) -> str:
    """How row errors name a value they cannot take: ``float32 array [3, 4]`` or its type name."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{dtype} array {list(shape)}"
    return type(value).__name__


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` for an exception caught inside a kernel."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class UserCodeError(Exception):
    """Carries an exception raised by user code inside a kernel (a slot custom op) to the runtime.

    User exceptions are fatal and surface from ``next()`` unchanged (docs/api.md §4.5); this
    wrapper only keeps kernels' row-error handling from claiming them.
    """

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original
