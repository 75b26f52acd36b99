"""Record sources over archives: ``webdataset`` tar shards and ``archive`` (tar, tar.gz, zip) entries (docs/api.md §5).

Payloads are never extracted to disk. A member of an uncompressed local tar becomes a
``{"path", "offset", "size"}`` payload, read with one ranged read when its row is read;
members of compressed or remote archives are read while the archive streams by (a tar.gz
cannot be entered in the middle) and carried as bytes. A member larger than
``max_output_bytes`` becomes a payload whose read fails, so it is that row's error, not the
epoch's (a guard against decompression bombs).
"""

from __future__ import annotations

import os
import re
import tarfile
import zipfile
from collections.abc import Iterator, Sequence
from itertools import islice
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from dataio._validate import as_bool, as_int
from dataio.io import handles
from dataio.io.uri import SCHEMES, is_uri, split
from dataio.sources.units import OneRank, UnitCursor, UnitLayout, rank_units
from dataio.sources.base import RecordSource
from dataio.sources.member_names import POLICIES, safe_members
from dataio.sources.shard_cache import ShardCache

_BRACES = re.compile(r"\{(\d+)\.\.(\d+)\}")
DEFAULT_MAX_OUTPUT = 2**30


class OversizedMember:
    """The payload of a member over ``max_output_bytes``: reading it is the row's error."""

    __slots__ = ("label", "size", "limit")

    def __init__(self, label: str, size: int, limit: int) -> None:
        self.label, self.size, self.limit = label, size, limit

    def read_all(self) -> bytes:
        raise ValueError(f"{self.label}: member of {self.size} bytes exceeds max_output_bytes={self.limit}")


@dataclass(frozen=True, slots=True)
class Member:
    """One regular-file member of an archive, with its payload (see the module docstring)."""

    name: str
    size: int
    payload: Any


def expand_braces(pattern: str) -> list[str]:
    """``shard-{000..009}.tar`` → ten names (zero padding kept); at most one range.

    Raises:
        ValueError: more than one brace range, or ``lo > hi``.
    """
    ranges = _BRACES.findall(pattern)
    if not ranges:
        return [pattern]
    if len(ranges) > 1:
        raise ValueError(f"webdataset({pattern!r}): only one {{lo..hi}} brace range is supported")
    match = _BRACES.search(pattern)
    lo, hi = match.group(1), match.group(2)  # type: ignore[union-attr]
    if int(lo) > int(hi):
        raise ValueError(f"webdataset({pattern!r}): brace range {lo}..{hi} is empty")
    width = len(lo) if lo.startswith("0") else 0
    head, tail = pattern[: match.start()], pattern[match.end():]  # type: ignore[union-attr]
    return [head + str(i).zfill(width) + tail for i in range(int(lo), int(hi) + 1)]


def tar_members(path: str, max_output_bytes: int) -> Iterator[Member]:
    """Regular-file members of a tar shard in order, opened lazily; directories and links skipped."""
    local = path[len("file://"):] if path.startswith("file://") else path
    if not is_uri(local):
        try:
            tar = tarfile.open(local, "r:")  # noqa: SIM115 - uncompressed: members are byte ranges of the file
        except tarfile.ReadError:
            with open(local, "rb") as stream:  # compressed: read members as the archive streams by
                yield from _streamed(stream, path, max_output_bytes)
            return
        with tar:
            for info in tar:
                if info.isfile():
                    yield Member(info.name, info.size, _ranged(local, info, max_output_bytes))
        return
    if split(path)[0] in SCHEMES:  # through dataio's IO layer: configured endpoints, credentials and timeouts
        with handles.stream(path) as remote:
            yield from _streamed(remote, path, max_output_bytes)
        return
    import fsspec  # any other fsspec protocol (memory://, a user's own), with fsspec's own settings

    with fsspec.open(path, "rb") as remote:
        yield from _streamed(remote, path, max_output_bytes)


def _ranged(path: str, info: tarfile.TarInfo, limit: int) -> Any:
    if info.size > limit:
        return OversizedMember(f"{path}:{info.name}", info.size, limit)
    return {"path": path, "offset": info.offset_data, "size": info.size}


def _streamed(stream: Any, label: str, limit: int) -> Iterator[Member]:
    """Members of a tar read from ``stream`` (anything with ``read(n)``) as it goes by."""
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for info in tar:
            if not info.isfile():
                continue
            if info.size > limit:
                yield Member(info.name, info.size, OversizedMember(f"{label}:{info.name}", info.size, limit))
                continue
            member = tar.extractfile(info)
            yield Member(info.name, info.size, member.read() if member is not None else b"")


class _WebDataset(RecordSource):
    def __init__(self, shards: list[str], max_output_bytes: int, *, shard_shuffle: bool, resampled: bool,
                 cache: ShardCache | None, unsafe_names: str) -> None:
        super().__init__("webdataset", shards=shards, max_output_bytes=max_output_bytes, shard_shuffle=shard_shuffle,
                         resampled=resampled, cache_dir=None if cache is None else str(cache.directory),
                         unsafe_names=unsafe_names)
        self._limit = max_output_bytes
        self._unsafe_names = unsafe_names
        self._layout = UnitLayout(tuple(shards), shard_shuffle, resampled)
        self._cache = cache

    def _unit_layout(self) -> UnitLayout:
        return self._layout

    def _unit_records(self, unit: int, skip: int) -> Iterator[dict[str, Any]]:
        shard = self._layout.names[unit]
        return islice(_samples(shard, self._members(shard)), skip, None)

    def _members(self, shard: str) -> Iterator[Member]:
        """The shard's members, from its local copy when the shard is remote and a cache is set."""
        local = shard
        if self._cache is not None and is_uri(shard) and not shard.startswith("file://"):
            local = self._cache.local_path(shard)
        yield from safe_members(tar_members(local, self._limit), shard, self._unsafe_names)

    def _records(self, seed: int, epoch: int) -> Iterator[dict[str, Any]]:
        for _, unit, _, _ in rank_units(self._layout, OneRank(), seed=seed, epoch=epoch, cursor=UnitCursor()):
            yield from self._unit_records(unit, 0)


def _samples(shard: str, members: Iterator[Member]) -> Iterator[dict[str, Any]]:
    """Consecutive members sharing a stem (the name up to the basename's first dot) form one record."""
    sample: dict[str, Any] | None = None
    for member in members:
        path = PurePosixPath(member.name)
        stem_name, dot, extension = path.name.partition(".")
        if not dot or not stem_name:
            continue  # no extension (or a hidden file): not a sample field
        stem = str(path.parent / stem_name) if str(path.parent) != "." else stem_name
        if sample is None or sample["__key__"] != stem:
            if sample is not None:
                yield sample
            sample = {"__key__": stem, "__shard__": shard}
        if extension in sample:
            raise ValueError(f"webdataset {shard!r}: sample {stem!r} has two {extension!r} members")
        sample[extension] = member.payload
    if sample is not None:
        yield sample


def webdataset(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, shard_shuffle: bool = False,
               resampled: bool = False, cache_dir: str | os.PathLike[str] | None = None,
               cache_limit_bytes: int | None = None, unsafe_names: str = "error",
               max_output_bytes: int = DEFAULT_MAX_OUTPUT) -> RecordSource:
    """Samples of WebDataset tar shards: ``{"__key__", "__shard__", <extension>: payload, ...}``.

    Ranks take whole shards: under ``run(shard=...)`` each rank opens only the shards dealt to it
    (docs/sharding.md, "Shard-aware sources"), and resumes from its shard and offset without
    opening the shards it finished.

    Args:
        paths: shard paths or URIs (plain or gzip-compressed tars); one ``{lo..hi}`` range
            per pattern expands to many shards.
        shard_shuffle: put the shards in a new order every epoch, by ``(seed, epoch)`` (samples
            keep their order within a shard; add a batch-level shuffle for more mixing).
        resampled: draw shards with replacement, endlessly: an epoch never ends (stop it with
            your step count); each rank draws from its own generator.
        cache_dir: a local folder for copies of remote shards: a shard is fetched whole once,
            then read as a local file (by every rank of the machine, every epoch).
        cache_limit_bytes: the cache's size bound, least recently used shards removed first
            (``None``: unbounded); hold at least two shards per rank on the machine.
        unsafe_names: a member named so that it could escape a folder (absolute, a drive, a ``..``
            component, a NUL byte): ``"error"`` (:class:`UnsafeMemberName`), ``"sanitize"`` (kept
            under its normalised relative name) or ``"skip"``.
        max_output_bytes: the largest member read; a larger one fails its row.

    Raises:
        FileNotFoundError: a local shard that does not exist (checked when the source is built).
        ValueError: a bad brace range; while iterating, a sample with two members of one extension.
    """
    patterns = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    shards = [s for p in patterns for s in expand_braces(os.fspath(p))]
    for shard in shards:
        local = shard[len("file://"):] if shard.startswith("file://") else shard
        if not is_uri(local) and not os.path.isfile(local):
            raise FileNotFoundError(f"webdataset(): no such shard: {shard!r}")
    return _WebDataset(shards, as_int("webdataset", "max_output_bytes", max_output_bytes, minimum=1),
                       shard_shuffle=as_bool("webdataset", "shard_shuffle", shard_shuffle),
                       resampled=as_bool("webdataset", "resampled", resampled),
                       cache=_cache("webdataset", cache_dir, cache_limit_bytes),
                       unsafe_names=_policy("webdataset", unsafe_names))


def _policy(where: str, unsafe_names: Any) -> str:
    if unsafe_names not in POLICIES:
        raise ValueError(f"{where}(unsafe_names={unsafe_names!r}): one of {', '.join(POLICIES)}")
    return str(unsafe_names)


def _cache(where: str, directory: str | os.PathLike[str] | None, limit: int | None) -> ShardCache | None:
    """The shard cache a source asked for, its arguments checked."""
    if limit is not None:
        limit = as_int(where, "cache_limit_bytes", limit, minimum=1)
    if directory is None:
        if limit is not None:
            raise ValueError(f"{where}(cache_limit_bytes={limit}): a limit needs cache_dir=")
        return None
    if not isinstance(directory, (str, os.PathLike)) or is_uri(os.fspath(directory)):
        raise TypeError(f"{where}(cache_dir={directory!r}): cache_dir must be a local folder path")
    return ShardCache(directory, limit)


class Archive:
    """The entries of one tar (``.tar``, ``.tar.gz``, ``.tgz``) or zip archive (docs/api.md §5 ``archive``)."""

    def __init__(self, path: str, max_output_bytes: int, unsafe_names: str = "error") -> None:
        self.path = path
        self._limit = max_output_bytes
        self._zip = zipfile.is_zipfile(path)
        self._unsafe_names = unsafe_names

    def _members(self, limit: int | None = None) -> Iterator[Member]:
        """The regular-file members with safe names (``limit``: the largest read; 0 reads none)."""
        return safe_members(self._raw_members(self._limit if limit is None else limit), self.path, self._unsafe_names)

    def _raw_members(self, limit: int) -> Iterator[Member]:
        if not self._zip:
            yield from tar_members(self.path, limit)
            return
        with zipfile.ZipFile(self.path) as archive:
            for info in archive.infolist():
                if info.is_dir() or _is_zip_link(info):
                    continue
                if info.file_size > limit:
                    payload: Any = OversizedMember(f"{self.path}:{info.filename}", info.file_size, limit)
                else:
                    payload = archive.read(info)
                yield Member(info.filename, info.file_size, payload)

    def keys(self) -> list[str]:
        """Member names, directories left out."""
        return [m["name"] for m in self.index()]

    def index(self) -> list[dict[str, Any]]:
        """``{"name", "size"}`` per member (reads the archive's directory, or streams a compressed tar)."""
        return [{"name": m.name, "size": m.size} for m in self._members(limit=0)]

    def entries(self) -> RecordSource:
        """A source of ``{"key", "name", "reader"}`` records, one per member, in archive order."""
        return _ArchiveEntries(self)

    def __repr__(self) -> str:
        return f"Archive({self.path!r})"


class _ArchiveEntries(RecordSource):
    def __init__(self, archive: Archive) -> None:
        super().__init__("archive", path=archive.path)
        self._archive = archive

    def _records(self, seed: int, epoch: int) -> Iterator[dict[str, Any]]:
        return ({"key": m.name, "name": m.name, "reader": m.payload} for m in self._archive._members())


def archive(path: str | os.PathLike[str], *, unsafe_names: str = "error",
            max_output_bytes: int = DEFAULT_MAX_OUTPUT) -> Archive:
    """An :class:`Archive` over a local tar, tar.gz/tgz or zip file.

    ``unsafe_names``: a member named so that it could escape a folder: ``"error"``
    (:class:`~dataio.sources.member_names.UnsafeMemberName` when its name is read), ``"sanitize"``
    or ``"skip"`` (as :func:`webdataset`).

    Raises:
        FileNotFoundError: no such file.
        ValueError: neither a tar nor a zip archive.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"archive(): no such file: {path!r}")
    if not (zipfile.is_zipfile(path) or tarfile.is_tarfile(path)):
        raise ValueError(f"archive({path!r}): not a tar or zip archive")
    return Archive(path, as_int("archive", "max_output_bytes", max_output_bytes, minimum=1),
                   _policy("archive", unsafe_names))


def _is_zip_link(info: zipfile.ZipInfo) -> bool:
    """A symbolic link stored in a zip (Unix mode in the external attributes): never read, never followed."""
    return (info.external_attr >> 16) & 0o170000 == 0o120000
