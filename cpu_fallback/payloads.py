"""Decoders for non-image payloads: ``bytes``, ``text``, ``json``, ``npy``, ``safetensors``, ``pt``, ``passthrough``.

Signature: ``decoder(op, payload, ctx)``; ``ctx.label`` names the payload in errors.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from dataio._deps import require
from dataio._errors import DecodeError
from dataio.formats import npy as npy_format
from dataio.formats import safetensors as safetensors_format
from dataio.ops import decoders as D
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure

_BOM = b"\xef\xbb\xbf"


def bytes_decoder(op: D.BytesDecoder, data: bytes | memoryview, ctx: ChainContext) -> np.ndarray:
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


def text_decoder(op: D.TextDecoder, data: bytes | memoryview, ctx: ChainContext) -> Any:
    """UTF-8 text as ``[N] uint8`` (re-encoded, so lossy decoding yields valid UTF-8), or a ``str``."""
    text = _text(op, data, ctx.label)
    return text if op.as_object else _utf8_array(text)


def json_decoder(op: D.JsonDecoder, data: bytes | memoryview, ctx: ChainContext) -> Any:
    """One JSON document: its text, a projected string field, or the parsed value."""
    label = ctx.label
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


def npy_decoder(op: D.NpyDecoder, data: bytes | memoryview, ctx: ChainContext) -> np.ndarray:
    """A ``.npy`` file's array; object dtypes are refused (no pickle is ever loaded)."""
    label = ctx.label
    try:
        array = npy_format.load(data)  # not np.load: its header parse is not thread-safe on CPython 3.11
    except ValueError as exc:
        raise RowFailure("decode", op.qualname, f"{label}: not a loadable .npy array: {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufc":
        raise RowFailure("decode", op.qualname, f"{label}: dtype {getattr(array, 'dtype', '?')} is not numeric")
    if not array.dtype.isnative:  # frameworks take native byte order only
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def safetensors_decoder(op: D.SafetensorsDecoder, data: bytes | memoryview, ctx: ChainContext) -> np.ndarray:
    """The named tensor of a safetensors payload, as a zero-copy view."""
    label = ctx.label
    key = ctx.arg(op, "tensor_key", str)
    try:
        header, offset = safetensors_format.parse_header(data, label)
        return safetensors_format.tensor(data, header, offset, key, label)
    except (DecodeError, KeyError) as exc:
        raise RowFailure("decode", op.qualname, f"{type(exc).__name__}: {exc.args[0]}") from None


def pt_decoder(op: D.PtDecoder, data: bytes | memoryview, ctx: ChainContext) -> np.ndarray:
    """One tensor of a torch checkpoint via ``torch.load(weights_only=True)`` (no pickle code runs)."""
    label = ctx.label
    torch = require("torch", "decoders.pt")
    key = ctx.arg(op, "tensor_key", str)
    try:
        loaded = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - the restricted unpickler refuses code as UnpicklingError
        raise RowFailure("decode", op.qualname, f"{label}: not a loadable weights-only checkpoint: "
                                                f"{type(exc).__name__}: {exc}") from None
    value = loaded.get(key) if isinstance(loaded, dict) else None
    if value is None or not isinstance(value, torch.Tensor):
        raise RowFailure("decode", op.qualname, f"KeyError: {label}: no tensor {key!r} in the checkpoint")
    if not value.is_contiguous():
        raise RowFailure("decode", op.qualname, f"{label}: tensor {key!r} is not contiguous")
    if value.dtype == torch.bfloat16:
        value = value.view(torch.int16)  # numpy has no bfloat16: bit patterns, as for safetensors
    return value.numpy()


_TRUE, _FALSE = ("true", "1"), ("false", "0")


def scalar_decoder(op: D.ScalarDecoder, value: Any, ctx: ChainContext) -> np.ndarray:
    """One number as a 0-d array of ``op.dtype``: a record's int/float/bool taken as it is, text parsed; the
    conversion is exact or the row fails."""
    dtype = np.dtype(op.dtype)
    if not isinstance(value, (bool, int, float, np.generic)):  # text: a str, or a payload's bytes
        value = _scalar_text(op, value, ctx.label, dtype)
    number = value.item() if isinstance(value, np.generic) else value
    if isinstance(number, complex) or not isinstance(number, (bool, int, float)):
        raise RowFailure("decode", op.qualname, f"{ctx.label}: {number!r} is not a number")
    if dtype.kind == "b":
        if number not in (0, 1):
            raise RowFailure("decode", op.qualname, f"{ctx.label}: {number!r} is not a bool (0 or 1)")
        return np.array(bool(number))
    if dtype.kind in "iu":
        if isinstance(number, float) and not number.is_integer():
            raise RowFailure("decode", op.qualname, f"{ctx.label}: {number!r} is not an integer ({op.dtype})")
        info = np.iinfo(dtype)
        if not info.min <= number <= info.max:
            raise RowFailure("decode", op.qualname, f"{ctx.label}: {number!r} is out of {op.dtype}'s range")
        return np.array(int(number), dtype=dtype)
    return np.array(number, dtype=dtype)


def _scalar_text(op: D.ScalarDecoder, value: Any, label: str, dtype: np.dtype) -> Any:
    """The number a text holds (bytes as UTF-8, surrounding whitespace ignored)."""
    try:
        text = value if isinstance(value, str) else bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise RowFailure("decode", op.qualname, f"{label}: the payload is not UTF-8 text") from None
    word = text.strip()
    try:
        if dtype.kind == "b" and word.lower() in _TRUE + _FALSE:
            return word.lower() in _TRUE
        return int(word) if dtype.kind in "iub" else float(word)
    except ValueError:
        raise RowFailure("decode", op.qualname, f"{label}: {word[:40]!r} is not one {op.dtype} number") from None


def passthrough_decoder(op: D.PassthroughDecoder, value: Any, ctx: ChainContext) -> Any:
    """The slot's value itself, or its ``field``."""
    if op.field is None:
        return value
    if isinstance(value, dict):
        if op.field not in value:
            raise RowFailure("decode", op.qualname, f"the value has no key {op.field!r}")
        return value[op.field]
    if not hasattr(value, op.field):
        raise RowFailure("decode", op.qualname, f"a {type(value).__name__} has no attribute {op.field!r}")
    return getattr(value, op.field)
