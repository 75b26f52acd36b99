"""A slot value as a payload source: where a record's bytes are (in memory, a path, a URI, a reader).

:func:`byte_source` interprets one slot value by the record model's rules (``docs/api.md``,
records): a path or URI string, ``PathLike``, bytes, a number (packed little-endian), a
numeric numpy array, a reader object, or a ``{"path"|"uri"|"url"|"reader": ..., "offset",
"size" | "range", "headers", "max_response_bytes"}`` mapping. :mod:`dataio.io.bytes` reads it.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from dataio._errors import RecordTypeError
from dataio.io.uri import is_uri, validate_uri

_SOURCE_FIELDS = ("reader", "path", "url", "uri")


class ByteSource(NamedTuple):
    """Where a slot's payload comes from: in-memory bytes, a local path, a URI or a reader (a named tuple:
    one per row and slot, cheap to make)."""

    data: Any = None  # bytes-like or a reader object with read_all()
    path: str | None = None  # local path or URI
    offset: int | None = None
    size: int | None = None
    headers: Mapping[str, str] | None = None
    max_response_bytes: int | None = None

    @property
    def window(self) -> tuple[int, int] | None:
        """``(start, end)`` of the requested byte range, or ``None`` for the whole payload (``offset`` and
        ``size`` are set together)."""
        if self.offset is None or self.size is None:
            return None
        return self.offset, self.offset + self.size

    @property
    def label(self) -> str:
        """How messages name the payload."""
        if self.path is not None:
            return self.path if self.offset is None else f"{self.path}[{self.offset}:+{self.size}]"
        return "<in-memory payload>"


def byte_source(value: Any, *, slot: str, where: str) -> ByteSource:
    """Interpret a slot value as a payload source (docs/api.md §2.6 step 2).

    Raises:
        RecordTypeError: a value type dataio cannot take bytes from (e.g. ``bool``).
        ValueError: a malformed URI or an inconsistent mapping (fatal).
    """
    if isinstance(value, str):
        if is_uri(value):
            validate_uri(value)
        return ByteSource(path=value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ByteSource(value)  # positional: a third cheaper than by keyword, per row
    if hasattr(type(value), "__fspath__"):  # os.PathLike, without the ABC machinery (slow once DALI is imported)
        return ByteSource(path=os.fspath(value))
    if isinstance(value, (bool, np.bool_)):
        raise RecordTypeError(
            f"record {where}, slot {slot!r}: a bool is not a payload; use numpy.uint8(value) for a flag"
        )
    if isinstance(value, int):
        return ByteSource(data=struct.pack("<q", value))
    if isinstance(value, float):
        return ByteSource(data=struct.pack("<d", value))
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.kind not in "biufc" or not array.dtype.isnative:
            raise RecordTypeError(
                f"record {where}, slot {slot!r}: numpy dtype {array.dtype} is not a numeric native-endian "
                "dtype"
            )
        return ByteSource(data=np.ascontiguousarray(array).tobytes())
    if isinstance(value, Mapping):
        return _mapping_source(value, slot=slot, where=where)
    if callable(getattr(value, "read_all", None)):
        return ByteSource(data=value)
    raise RecordTypeError(
        f"record {where}, slot {slot!r}: cannot read bytes from a {type(value).__name__}; expected a "
        "path/URI str, PathLike, bytes, a number, a numpy array or a {'path'|'uri'|'reader': ...} mapping"
    )


def _mapping_source(value: Mapping[str, Any], *, slot: str, where: str) -> ByteSource:
    encoded = value.get("bytes")
    if encoded is not None:  # Hugging Face's encoded image/audio: the bytes win; the path only names them
        if not isinstance(encoded, (bytes, bytearray, memoryview)):
            raise RecordTypeError(f"record {where}, slot {slot!r}: 'bytes' must be bytes-like; got "
                                  f"{type(encoded).__name__}")
        name = value.get("path")
        return ByteSource(data=encoded, path=name if isinstance(name, str) else None)
    found = [f for f in _SOURCE_FIELDS if f in value]
    if len(found) != 1:
        raise RecordTypeError(
            f"record {where}, slot {slot!r}: a payload mapping needs exactly one of "
            f"{', '.join(_SOURCE_FIELDS)}; got keys {sorted(map(str, value))}"
        )
    offset, size = value.get("offset"), value.get("size")
    if "range" in value:
        if offset is not None or size is not None:
            raise ValueError(f"record {where}, slot {slot!r}: give 'range' or 'offset'+'size', not both")
        offset, size = value["range"]
    if (offset is None) != (size is None):
        raise ValueError(f"record {where}, slot {slot!r}: 'offset' and 'size' go together")
    base = value[found[0]]
    if found[0] == "reader" or isinstance(base, (str, os.PathLike)):
        inner = byte_source(base, slot=slot, where=where)
    else:
        raise RecordTypeError(f"record {where}, slot {slot!r}: {found[0]!r} must be a str or PathLike")
    headers = value.get("headers")
    if headers is not None and not (inner.path or "").startswith(("http://", "https://")):
        raise ValueError(f"record {where}, slot {slot!r}: 'headers' apply to http(s) URIs only")
    return ByteSource(
        data=inner.data, path=inner.path,
        offset=None if offset is None else int(offset), size=None if size is None else int(size),
        headers=headers, max_response_bytes=value.get("max_response_bytes"),
    )
