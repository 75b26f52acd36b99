"""The ``.npy`` format (versions 1.0–3.0), parsed without ``ast``.

``numpy.load`` reads the header dict with ``ast.literal_eval``, which on CPython 3.11 is
not safe to call from several threads at once: under the decode pool it fails at random
with ``SystemError: AST constructor recursion depth mismatch``. The header is a fixed,
numpy-written dict literal, so a strict pattern reads it instead; anything that does not
match is refused with a clear error rather than evaluated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

MAGIC = b"\x93NUMPY"
_HEADER = re.compile(
    r"\{\s*"
    r"(?=(?:.*?)'descr'\s*:\s*'(?P<descr>[^']*)')"
    r"(?=(?:.*?)'fortran_order'\s*:\s*(?P<fortran>True|False))"
    r"(?=(?:.*?)'shape'\s*:\s*\((?P<shape>[0-9,\s]*)\))",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class NpyHeader:
    """What a ``.npy`` header says.

    Attributes:
        dtype: the array's dtype (any byte order).
        fortran_order: the data is laid out column-major.
        shape: the array's shape.
        offset: where the data starts.
    """

    dtype: np.dtype
    fortran_order: bool
    shape: tuple[int, ...]
    offset: int

    @property
    def nbytes(self) -> int:
        return self.dtype.itemsize * math.prod(self.shape)


def parse_header(data: bytes | memoryview) -> NpyHeader:
    """Read the header of an ``.npy`` payload.

    Raises:
        ValueError: not an ``.npy`` payload, an unknown version, a header that is not the
            plain dict numpy writes, or a dtype that is not a plain (non-structured) one.
    """
    view = memoryview(data)
    if len(view) < 10 or bytes(view[:6]) != MAGIC:
        raise ValueError("not an .npy payload (no \\x93NUMPY magic)")
    major = view[6]
    if major == 1:
        length, start = int.from_bytes(view[8:10], "little"), 10
    elif major in (2, 3):
        if len(view) < 12:
            raise ValueError("truncated .npy header")
        length, start = int.from_bytes(view[8:12], "little"), 12
    else:
        raise ValueError(f"unsupported .npy version {major}.{view[7]}")
    if len(view) < start + length:
        raise ValueError(f"truncated .npy header: {length} bytes announced, {len(view) - start} present")
    text = bytes(view[start: start + length]).decode("utf-8" if major == 3 else "latin-1")
    match = _HEADER.match(text)
    if match is None:
        raise ValueError(f"unreadable .npy header {text.strip()!r} (a plain dtype, fortran_order and shape "
                         "are expected)")
    try:
        dtype = np.dtype(match["descr"])
    except TypeError as exc:
        raise ValueError(f"unknown .npy dtype {match['descr']!r}: {exc}") from None
    shape = tuple(int(d) for d in match["shape"].replace(" ", "").split(",") if d)
    return NpyHeader(dtype, match["fortran"] == "True", shape, start + length)


def view(data: Any) -> np.ndarray:
    """The array of an ``.npy`` payload as a view of ``data`` (no copy; read-only over ``bytes``).

    Raises:
        ValueError: see :func:`parse_header`; an object dtype; fewer data bytes than announced.
    """
    header = parse_header(data)
    if header.dtype.hasobject:
        raise ValueError(f"dtype {header.dtype} holds Python objects (pickles are never loaded)")
    available = len(memoryview(data)) - header.offset
    if available < header.nbytes:
        raise ValueError(f"truncated .npy data: {header.nbytes} bytes announced by shape {list(header.shape)} "
                         f"and dtype {header.dtype}, {available} present")
    flat = np.frombuffer(data, dtype=header.dtype, count=math.prod(header.shape), offset=header.offset)
    return flat.reshape(header.shape[::-1]).T if header.fortran_order else flat.reshape(header.shape)


def load(data: bytes | memoryview) -> np.ndarray:
    """The array of an ``.npy`` payload (a copy, writable, in the file's byte order and layout).

    Raises:
        ValueError: see :func:`view`.
    """
    return view(data).copy(order="K")
