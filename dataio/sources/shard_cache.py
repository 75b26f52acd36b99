"""A bounded local cache of remote tar shards, shared safely by the ranks of a machine (``webdataset(cache_dir=...)``).

A remote shard is copied whole to ``cache_dir`` the first time a rank reads it, then read as a
local file: its members become byte ranges, and later epochs (or other ranks on the machine)
read no byte from the store. Copies are written to a temporary name and renamed into place,
so a reader never sees a partial shard; two ranks fetching the same shard at once each write
their own copy and the last rename wins (both are whole). After each copy the least recently
used shards are removed until the cache fits ``limit_bytes`` — never the one just fetched; a
shard is marked used each time it is read. A shard that another rank removes while this one
is reading it stays readable through the open file (POSIX), but its ranged payloads would not:
size the cache to hold at least two shards per rank on the machine.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from dataio.io.globs import IN_PROGRESS, sweep_stale_once
from dataio.io.handles import stream

_PART = ".part"


class ShardCache:
    """Local copies of remote shards under ``directory``, at most ``limit_bytes`` in all (``None``: unbounded)."""

    def __init__(self, directory: str | os.PathLike[str], limit_bytes: int | None) -> None:
        self.directory = Path(directory)
        self.limit_bytes = limit_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        sweep_stale_once(self.directory)  # partial copies a killed process left

    def local_path(self, uri: str) -> str:
        """The local copy of ``uri``, fetched first when the cache has none.

        Raises:
            OSError: the fetch failed (the cache keeps no partial copy).
        """
        target = self.directory / (hashlib.sha256(uri.encode()).hexdigest()[:32] + _suffix(uri))
        try:
            os.utime(target)  # used now: the last to be evicted
            return str(target)
        except FileNotFoundError:
            pass
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{target.name}.", suffix=_PART)
        try:
            with os.fdopen(descriptor, "wb") as copy, stream(uri) as source:
                shutil.copyfileobj(source, copy, 2**20)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._evict(keep=target)
        return str(target)

    def _evict(self, keep: Path) -> None:
        """Remove the least recently used shards until the cache fits its limit (``keep`` stays)."""
        if self.limit_bytes is None:
            return
        entries = []
        for path in self.directory.iterdir():
            if IN_PROGRESS.search(path.name) or path == keep:
                continue
            try:
                info = path.stat()
            except FileNotFoundError:  # another rank removed it meanwhile
                continue
            entries.append((info.st_mtime, info.st_size, path))
        total = sum(size for _, size, _ in entries) + keep.stat().st_size
        for _, size, path in sorted(entries):
            if total <= self.limit_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size


def _suffix(uri: str) -> str:
    """The shard's extension (``.tar``, ``.tar.gz``, ``.tgz``), so the copy is recognised as what it is."""
    name = uri.rsplit("/", 1)[-1]
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.endswith(suffix):
            return suffix
    return ""
