"""The safetensors layout: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.

Parsing is done here rather than through the ``safetensors`` package so tensors can be
viewed without copying (from bytes, an mmap or a device buffer). numpy has no bfloat16 or
float8: ``BF16`` tensors come out as ``int16`` and ``F8_*`` as ``uint8`` bit patterns (docs/api.md §8);
torch views them back.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np

from dataio._errors import DecodeError

DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_), "U8": np.dtype(np.uint8), "I8": np.dtype(np.int8),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "U32": np.dtype("<u4"), "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F16": np.dtype("<f2"), "BF16": np.dtype("<i2"),
    "F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "C64": np.dtype("<c8"),
    "F8_E4M3": np.dtype(np.uint8), "F8_E5M2": np.dtype(np.uint8),  # numpy has no float8: bit patterns
}
MAX_HEADER_BYTES = 100_000_000
"""Headers larger than this are refused (the reference format caps them at 100 MB)."""


def parse_header(buffer: Any, label: str = "<safetensors>", *,
                 total_size: int | None = None) -> tuple[dict[str, Any], int]:
    """``(header, offset of the tensor data)`` of a safetensors payload.

    ``buffer`` may hold only the beginning of the file (at least the header) when
    ``total_size`` gives the file's size (a remote file read in ranges).

    Raises:
        DecodeError: truncated data, an oversized or non-JSON header, or inconsistent offsets.
    """
    view = memoryview(buffer)
    if len(view) < 8:
        raise DecodeError(f"{label}: {len(view)} bytes is too short for a safetensors header", label)
    (length,) = struct.unpack("<Q", view[:8])
    if length > MAX_HEADER_BYTES or 8 + length > len(view):
        raise DecodeError(f"{label}: header length {length} does not fit the {len(view)}-byte payload", label)
    try:
        header = json.loads(bytes(view[8:8 + length]))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"{label}: the header is not valid JSON: {exc}", label) from None
    if not isinstance(header, dict):
        raise DecodeError(f"{label}: the header is not a JSON object", label)
    body = (len(view) if total_size is None else total_size) - 8 - length
    for name, entry in header.items():
        if name != "__metadata__":
            _check_entry(label, name, entry, body)
    return header, 8 + length


def _check_entry(label: str, name: str, entry: Any, body: int) -> None:
    try:
        dtype = DTYPES[entry["dtype"]]
        shape = [int(d) for d in entry["shape"]]
        start, end = (int(o) for o in entry["data_offsets"])
    except (KeyError, TypeError, ValueError):
        raise DecodeError(f"{label}: tensor {name!r} has a malformed or unsupported header entry {entry!r}",
                          label) from None
    if not 0 <= start <= end <= body or end - start != math.prod(shape) * dtype.itemsize:
        raise DecodeError(f"{label}: tensor {name!r} has offsets {start}..{end} inconsistent with its "
                          f"shape {shape} and the {body}-byte data section", label)


def tensor(buffer: Any, header: dict[str, Any], data_offset: int, key: str, label: str = "<safetensors>") -> np.ndarray:
    """A read-only zero-copy view of tensor ``key``.

    Raises:
        KeyError: no tensor of that name.
    """
    entry = header.get(key) if key != "__metadata__" else None
    if entry is None:
        names = [n for n in header if n != "__metadata__"]
        raise KeyError(f"{label}: no tensor {key!r} (has {len(names)}: {', '.join(map(repr, names[:8]))}"
                       f"{', ...' if len(names) > 8 else ''})")
    start, end = entry["data_offsets"]
    flat = np.frombuffer(buffer, dtype=DTYPES[entry["dtype"]], count=(end - start) // DTYPES[entry["dtype"]].itemsize,
                         offset=data_offset + start)
    return flat.reshape(entry["shape"])
