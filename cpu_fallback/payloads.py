"""Decoders for non-image payloads: ``bytes``, ``text``, ``json``, ``npy``."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from dataio.ops import decoders as D
from dataio.runtime.rows import RowFailure

_BOM = b"\xef\xbb\xbf"


def bytes_decoder(op: D.BytesDecoder, data: bytes | memoryview, label: str) -> np.ndarray:
    """The payload as a ``[N] uint8`` array (a view of the payload, no copy)."""
    return np.frombuffer(data, dtype=np.uint8)


def _text(op: D.TextDecoder | D.JsonDecoder, data: bytes | memoryview, label: str) -> str:
    raw = bytes(data)
    if op.strip_bom and raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    try:
        return raw.decode("utf-8", errors="replace" if op.encoding == "utf-8-lossy" else "strict")
    except UnicodeDecodeError as exc:
        raise RowFailure("decode", op.qualname, f"{label}: invalid UTF-8 at byte {exc.start}") from None


def _utf8_array(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def text_decoder(op: D.TextDecoder, data: bytes | memoryview, label: str) -> Any:
    """UTF-8 text as ``[N] uint8`` (re-encoded, so lossy decoding yields valid UTF-8), or a ``str``."""
    text = _text(op, data, label)
    return text if op.as_object else _utf8_array(text)


def json_decoder(op: D.JsonDecoder, data: bytes | memoryview, label: str) -> Any:
    """One JSON document: its text, a projected string field, or the parsed value."""
    text = _text(op, data, label)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowFailure("decode", op.qualname, f"{label}: invalid JSON: {exc}") from None
    if op.field is not None:
        if not isinstance(document, dict) or op.field not in document:
            raise RowFailure("decode", op.qualname, f"{label}: no top-level field {op.field!r}")
        document = document[op.field]
        if not op.as_object and not isinstance(document, str):
            raise RowFailure("decode", op.qualname,
                             f"{label}: field {op.field!r} holds a {type(document).__name__}, not a string")
        return document if op.as_object else _utf8_array(document)
    return document if op.as_object else _utf8_array(text)


def npy_decoder(op: D.NpyDecoder, data: bytes | memoryview, label: str) -> np.ndarray:
    """A ``.npy`` file's array; object dtypes are refused (no pickle is ever loaded)."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise RowFailure("decode", op.qualname, f"{label}: not a loadable .npy array: {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufc":
        raise RowFailure("decode", op.qualname, f"{label}: dtype {getattr(array, 'dtype', '?')} is not numeric")
    if not array.dtype.isnative:  # frameworks take native byte order only
        array = array.astype(array.dtype.newbyteorder("="))
    return array
