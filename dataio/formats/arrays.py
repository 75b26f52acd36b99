"""``read_numpy`` (``docs/formats.md``): one array from a path, URI, bytes or file object.

``read_numpy`` reads ``.npy`` with dataio's own header parser (:mod:`dataio.formats.npy`;
thread-safe, no pickles) and ``.npz`` archives as a dict. A local ``.npy`` is mapped
copy-on-write by default, so the array is a view of the page cache: no copy, writable,
and the file never changes. The source and framework helpers here are shared with
:func:`dataio.read_image` (:mod:`dataio.images`).
"""

from __future__ import annotations

import io
import mmap
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from dataio._errors import DecodeError, PlanError
from dataio.formats import npy
from dataio.io.resolve import locate

FRAMEWORKS = ("numpy", "torch")


def check_framework(framework: str) -> None:
    if framework not in FRAMEWORKS:
        raise PlanError(f"framework={framework!r}: one of {', '.join(map(repr, FRAMEWORKS))}")


def to_framework(framework: str, array: np.ndarray) -> Any:
    if framework == "numpy":
        return array
    import torch

    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return torch.from_numpy(array if array.flags.writeable else array.copy())


def source_label(src: Any) -> str:
    if isinstance(src, (str, os.PathLike)):
        return os.fspath(src)
    return getattr(src, "name", None) or f"<{type(src).__name__}>"


def payload_bytes(src: Any, *, map_local: bool) -> Any:
    """The bytes of ``src`` (a copy-on-write map for a local file when ``map_local``)."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        return src
    if hasattr(src, "read") and not isinstance(src, (str, os.PathLike)):
        return src.read()
    from dataio.io.verbs import read

    location = locate(src)
    if map_local and location.is_local:
        with open(location.path, "rb") as f:
            try:
                return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
            except ValueError:  # empty file
                return b""
    return read(src)


def read_numpy(src: Any, *, framework: str = "numpy", mmap: bool = True) -> Any:
    """The array of a ``.npy`` (or a dict of arrays for ``.npz``); a list of sources gives a list, read concurrently.

    Raises:
        DecodeError: not an npy/npz payload, or a truncated one (naming ``src``).
        ValueError: an object dtype (pickles are never loaded); an unknown framework.
    """
    check_framework(framework)
    if isinstance(src, (list, tuple)):
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(src))), thread_name_prefix="dataio-read") as pool:
            return list(pool.map(lambda item: read_numpy(item, framework=framework, mmap=mmap), src))
    label = source_label(src)
    data = payload_bytes(src, map_local=mmap)
    if bytes(memoryview(data)[:4]) == b"PK\x03\x04":
        return _npz(data, label, framework)
    try:
        array = npy.view(data)
    except ValueError as exc:  # object dtypes included: a .npy and an .npz member fail alike
        raise DecodeError(f"{label}: {exc}", label) from None
    return to_framework(framework, array)


def _npz(data: Any, label: str, framework: str) -> dict[str, Any]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    except zipfile.BadZipFile as exc:
        raise DecodeError(f"{label}: not an npz archive: {exc}", label) from None
    out = {}
    with archive:
        for name in archive.namelist():
            try:
                out[name.removesuffix(".npy")] = to_framework(framework, npy.load(archive.read(name)))
            except ValueError as exc:
                raise DecodeError(f"{label}[{name}]: {exc}", label) from None
    return out
