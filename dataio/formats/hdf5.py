"""HDF5 through h5py (docs/api.md §7 ``read_hdf5`` / ``open_hdf5``), from local files or any URI.

Local files are opened by path; other URIs through the resolver's fsspec file object
(h5py reads file-like objects), so only the byte ranges h5py asks for are fetched.
Dataset keys are accepted with or without the leading ``/``; ``keys()`` lists absolute names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from dataio._deps import require
from dataio._errors import DecodeError, PlanError
from dataio.io.errors import ObjectNotFound, translated
from dataio.io.resolve import filesystem, locate


def _selection(selection: Any) -> Any:
    """Basic indexing only: ints, positive-step slices, at most one ``...``."""
    if selection is None:
        return ()
    items = selection if isinstance(selection, tuple) else (selection,)
    if sum(item is Ellipsis for item in items) > 1:
        raise PlanError(f"selection={selection!r}: at most one '...'")
    for item in items:
        if item is Ellipsis or (isinstance(item, (int, np.integer)) and not isinstance(item, bool)):
            continue
        if isinstance(item, slice):
            if item.step is not None and item.step <= 0:
                raise PlanError(f"selection={selection!r}: slice steps must be positive")
            continue
        raise TypeError(f"selection={selection!r}: only ints, slices and one '...' (basic indexing)")
    return items


class Hdf5Session:
    """An open HDF5 file: list datasets, read them whole or in part, read their metadata."""

    def __init__(self, uri: str | os.PathLike[str]) -> None:
        h5py = require("h5py", "open_hdf5()")
        self.uri = os.fspath(uri)
        location = locate(self.uri)
        self._handle: Any = None
        if location.is_local:
            if not os.path.isfile(location.path):
                raise ObjectNotFound(f"{self.uri}: no such file")
            source: Any = location.path
        else:
            with translated(self.uri):
                source = self._handle = filesystem(location).open(location.path, "rb")
        try:
            self._file = h5py.File(source, "r")
        except OSError as exc:
            if self._handle is not None:
                self._handle.close()
            raise DecodeError(f"{self.uri}: not an HDF5 file ({exc})", self.uri) from None

    def _dataset(self, key: str) -> Any:
        self._check_open()
        name = "/" + key.lstrip("/")
        item = self._file.get(name)
        if item is None or not hasattr(item, "shape"):
            raise KeyError(f"{self.uri}: no dataset {name!r}")
        return item

    def _check_open(self) -> None:
        if not self._file.id.valid:
            raise PlanError(f"open_hdf5({self.uri!r}): the session is closed")

    def keys(self) -> list[str]:
        """Absolute names of every dataset, e.g. ``"/g/y"``."""
        self._check_open()
        names: list[str] = []
        self._file.visititems(lambda name, item: names.append("/" + name) if hasattr(item, "shape") else None)
        return names

    def read(self, *, key: str, selection: Any = None, copy: bool = True) -> np.ndarray:
        """The dataset ``key``, or its ``selection``; ``copy=False`` may share memory (read-only)."""
        dataset = self._dataset(key)
        items = _selection(selection)
        array = dataset[items] if items else dataset[()]
        array = np.asarray(array)
        if not copy:
            array.flags.writeable = False
        return array

    def metadata(self, *, key: str) -> dict[str, Any]:
        """``{"shape", "dtype", "attrs"}`` of dataset ``key``."""
        dataset = self._dataset(key)
        return {"shape": tuple(dataset.shape), "dtype": str(dataset.dtype),
                "attrs": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dataset.attrs.items()}}

    def close(self) -> None:
        """Idempotent; later reads raise ``ValueError``."""
        if self._file.id.valid:
            self._file.close()
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> Hdf5Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and "/" + key.lstrip("/") in self.keys()

    def __repr__(self) -> str:
        return f"Hdf5Session({self.uri!r})"


def open_hdf5(uri: str | os.PathLike[str]) -> Hdf5Session:
    """An :class:`Hdf5Session` over a local file or any URI.

    Raises:
        FileNotFoundError: no such file (naming it).
        DecodeError: not an HDF5 file (a ValueError).
    """
    return Hdf5Session(uri)


def read_hdf5(uri: str | os.PathLike[str], *, key: str, selection: Any = None, copy: bool = True) -> np.ndarray:
    """One dataset (or a basic-indexing ``selection`` of it) from an HDF5 file.

    Raises:
        FileNotFoundError: no such file; KeyError: no such dataset; ValueError / TypeError: a bad selection.
    """
    with Hdf5Session(uri) as session:
        return session.read(key=key, selection=selection, copy=copy)
