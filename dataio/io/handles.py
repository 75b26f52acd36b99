"""IO handles (docs/api.md §6.2 ``stream``, §6.3): ``Reader`` (lazy, with decoding overlays), ``Writer``, ``Stream``.

A :class:`Reader` is a description — URI, window, overlays — and does no IO until read, so
it can sit in records as a slot value (it has ``read_all``). Overlays (``gunzip``,
``zstd_decode``, ``tar_entry``, ``zip_entry``) return new readers and run on
``read_all``; each caps its output at ``max_output_bytes``. Member names with ``..`` or an
absolute path are refused when the overlay is made.

A :class:`Writer` publishes nothing until it commits, and an abort (an exception inside
its ``with`` block, or garbage collection while open) leaves any previous object intact:
local files are written to a temp file renamed on commit; S3 streams a multipart upload
completed on commit and aborted otherwise; GCS and Azure spool the body to a local temp
file (memory stays bounded) uploaded on commit — they cannot stream, so
``require_streaming=True`` refuses them.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from dataio._errors import DecodeError, PlanError
from dataio.io import verbs
from dataio.io.errors import MemberNotFound, ObjectNotFound, translated
from dataio.io.globs import sweep_stale_once
from dataio.io.resolve import Location, filesystem, locate

DEFAULT_MAX_OUTPUT = 2**32
STREAMING_SCHEMES = ("file", "s3", "r2")


# -- Reader -----------------------------------------------------------------------------------------


class Reader:
    """Bytes at a URI, read lazily, optionally decoded by overlays (see the module docstring)."""

    __slots__ = ("uri", "offset", "size", "max_response_bytes", "headers", "_overlays")

    def __init__(self, uri: str | os.PathLike[str], *, offset: int | None = None, size: int | None = None,
                 max_response_bytes: int | None = None, headers: Mapping[str, str] | None = None,
                 _overlays: tuple[tuple[str, Any, int], ...] = ()) -> None:
        verbs._check_window("reader", offset, size)
        self.uri = os.fspath(uri)
        locate(self.uri)  # a malformed URI is an error now, not at the first read
        self.offset, self.size = offset, size
        self.max_response_bytes = max_response_bytes
        self.headers = dict(headers) if headers else None
        self._overlays = _overlays

    def _with(self, kind: str, argument: Any, limit: int) -> Reader:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise PlanError(f"{kind}(max_output_bytes={limit!r}): a positive int")
        return Reader(self.uri, offset=self.offset, size=self.size, max_response_bytes=self.max_response_bytes,
                      headers=self.headers, _overlays=(*self._overlays, (kind, argument, limit)))

    # overlays
    def range(self, offset: int, size: int) -> Reader:
        """A reader of ``[offset, offset + size)`` within this one's bytes (before any overlay)."""
        if self._overlays:
            raise PlanError("range(): narrow the window before adding decoding overlays")
        verbs._check_window("range", offset, size)
        start = (self.offset or 0) + offset
        if self.size is not None:
            size = max(0, min(size, self.size - offset))
        return Reader(self.uri, offset=start, size=size, max_response_bytes=self.max_response_bytes,
                      headers=self.headers)

    def gunzip(self, *, max_output_bytes: int = DEFAULT_MAX_OUTPUT) -> Reader:
        """A reader of the gunzipped bytes (at most ``max_output_bytes``)."""
        return self._with("gunzip", None, max_output_bytes)

    def zstd_decode(self, *, max_output_bytes: int = DEFAULT_MAX_OUTPUT) -> Reader:
        """A reader of the zstd-decoded bytes (at most ``max_output_bytes``)."""
        return self._with("zstd_decode", None, max_output_bytes)

    def tar_entry(self, name: str, *, max_output_bytes: int = DEFAULT_MAX_OUTPUT) -> Reader:
        """A reader of the tar member ``name`` (at most ``max_output_bytes``)."""
        return self._with("tar_entry", _member_name(name), max_output_bytes)

    def tar_entry_at(self, index: int, *, max_output_bytes: int = DEFAULT_MAX_OUTPUT) -> Reader:
        """A reader of the tar member at position ``index`` (at most ``max_output_bytes``)."""
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise PlanError(f"tar_entry_at({index!r}): a non-negative int")
        return self._with("tar_entry_at", index, max_output_bytes)

    def zip_entry(self, name: str, *, max_output_bytes: int = DEFAULT_MAX_OUTPUT) -> Reader:
        """A reader of the zip member ``name`` (at most ``max_output_bytes``)."""
        return self._with("zip_entry", _member_name(name), max_output_bytes)

    # reads
    def read_all(self) -> bytes:
        """The bytes, decoded by every overlay in order."""
        data = self._raw()
        for kind, argument, limit in self._overlays:
            data = _DECODERS[kind](data, argument, limit, self._label())
        return data

    def read_range(self, start: int, length: int, *, fallback: bool = False) -> bytes:
        """``length`` bytes from ``start``; on decoded overlays only with ``fallback=True`` (decodes everything)."""
        verbs._check_window("read_range", start, length)
        if self._overlays:
            if not fallback:
                raise RuntimeError(f"read_range() on a decoded reader ({self._label()}) reads the whole object; "
                                   "pass fallback=True to accept that")
            return self.read_all()[start: start + length]
        return self.range(start, length)._raw()

    def archive_entries(self, kind: str) -> list[dict[str, Any]]:
        """Members of the tar or zip archive these bytes hold: name, size, compressed_size, data_offset,
        compression, crc32 (``None`` where the format has no such field)."""
        data = self.read_all()
        if kind == "tar":
            with _open_tar(data, self._label()) as tar:
                return [{"name": m.name, "size": m.size, "compressed_size": m.size, "data_offset": m.offset_data,
                         "compression": None, "crc32": None} for m in tar.getmembers() if m.isfile()]
        if kind == "zip":
            with _open_zip(data, self._label()) as archive:
                return [{"name": i.filename, "size": i.file_size, "compressed_size": i.compress_size,
                         "data_offset": i.header_offset, "compression": _ZIP_METHODS.get(i.compress_type,
                                                                                         str(i.compress_type)),
                         "crc32": i.CRC} for i in archive.infolist() if not i.is_dir()]
        raise PlanError(f"archive_entries(kind={kind!r}): 'tar' or 'zip'")

    def capabilities(self) -> dict[str, Any]:
        """What this reader can do, without IO."""
        scheme = locate(self.uri).scheme
        return {"scheme": scheme, "range_reads": not self._overlays,
                "overlays": [kind for kind, _, _ in self._overlays], "lazy": True}

    def __iter__(self) -> Iterator[bytes]:
        """The bytes in chunks of up to 1 MiB."""
        data = self.read_all()
        return (data[i: i + 2**20] for i in range(0, len(data), 2**20))

    def _raw(self) -> bytes:
        return verbs.read(self.uri, offset=self.offset, size=self.size, headers=self.headers,
                          max_response_bytes=self.max_response_bytes)

    def _label(self) -> str:
        window = "" if self.offset is None else f"[{self.offset}:+{self.size}]"
        return self.uri + window + "".join(f".{kind}({argument!r})" if argument is not None else f".{kind}()"
                                           for kind, argument, _ in self._overlays)

    def __repr__(self) -> str:
        return f"Reader({self._label()!r})"


def reader(uri: str | os.PathLike[str], *, offset: int | None = None, size: int | None = None,
           max_response_bytes: int | None = None, headers: Mapping[str, str] | None = None) -> Reader:
    """A lazy :class:`Reader` of ``uri`` (no IO until a read; errors surface then)."""
    return Reader(uri, offset=offset, size=size, max_response_bytes=max_response_bytes, headers=headers)


def _member_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise PlanError(f"archive member {name!r}: a non-empty str")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith("\\") or ":" in path.parts[0]:
        raise PlanError(f"archive member {name!r}: absolute paths and '..' segments are refused")
    return name


def _capped(data: bytes, limit: int, label: str) -> bytes:
    if len(data) > limit:
        raise ValueError(f"{label}: decoded output exceeds max_output_bytes={limit}")
    return data


def _gunzip(data: bytes, _: Any, limit: int, label: str) -> bytes:
    decoder = zlib.decompressobj(wbits=47)  # gzip or zlib header
    try:
        out = decoder.decompress(data, limit + 1)
    except zlib.error as exc:
        raise DecodeError(f"{label}: not gzip data: {exc}") from None
    if len(out) > limit or decoder.unconsumed_tail:
        raise ValueError(f"{label}: decoded output exceeds max_output_bytes={limit}")
    if not decoder.eof:
        raise DecodeError(f"{label}: truncated gzip stream")
    return out


def _zstd(data: bytes, _: Any, limit: int, label: str) -> bytes:
    from dataio._deps import require

    zstandard = require("zstandard", "Reader.zstd_decode()")
    try:
        reader_ = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data))
        out = reader_.read(limit + 1)
    except zstandard.ZstdError as exc:
        raise DecodeError(f"{label}: not zstd data: {exc}") from None
    return _capped(out, limit, label)


def _open_tar(data: bytes, label: str) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    except tarfile.TarError as exc:
        raise DecodeError(f"{label}: not a tar archive: {exc}") from None


def _open_zip(data: bytes, label: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise DecodeError(f"{label}: not a zip archive: {exc}") from None


def _tar_member(data: bytes, name: Any, limit: int, label: str) -> bytes:
    with _open_tar(data, label) as tar:
        files = [m for m in tar.getmembers() if m.isfile()]
        if isinstance(name, int):
            if name >= len(files):
                raise MemberNotFound(f"{label}: the archive has {len(files)} file members, no index {name}")
            member = files[name]
        else:
            found = next((m for m in files if m.name == name), None)
            if found is None:
                raise MemberNotFound(f"{label}: no member {name!r} in the tar archive")
            member = found
        if member.size > limit:
            raise ValueError(f"{label}: member of {member.size} bytes exceeds max_output_bytes={limit}")
        extracted = tar.extractfile(member)
        return extracted.read() if extracted is not None else b""


def _zip_member(data: bytes, name: Any, limit: int, label: str) -> bytes:
    with _open_zip(data, label) as archive:
        try:
            info = archive.getinfo(name)
        except KeyError:
            raise MemberNotFound(f"{label}: no member {name!r} in the zip archive") from None
        if info.file_size > limit:
            raise ValueError(f"{label}: member of {info.file_size} bytes exceeds max_output_bytes={limit}")
        try:
            with archive.open(info) as member:
                return _capped(member.read(limit + 1), limit, label)
        except (zipfile.BadZipFile, zlib.error) as exc:
            raise DecodeError(f"{label}: corrupt zip member: {exc}") from None


_DECODERS = {"gunzip": _gunzip, "zstd_decode": _zstd, "tar_entry": _tar_member, "tar_entry_at": _tar_member,
             "zip_entry": _zip_member}
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
                zipfile.ZIP_LZMA: "lzma"}


# -- Writer -----------------------------------------------------------------------------------------


class Writer:
    """Writes an object that appears only on commit (see the module docstring)."""

    def __init__(self, uri: str | os.PathLike[str], *, content_type: str | None = None, atomic: bool = True,
                 mkdir_parents: bool = False, require_streaming: bool = False) -> None:
        self._location = locate(uri)
        scheme = self._location.scheme
        if scheme in verbs.READ_ONLY:
            raise NotImplementedError(f"writer({self._location.uri!r}): {scheme} URIs are read-only")
        verbs._require_key(self._location, "writer")
        if require_streaming and scheme not in STREAMING_SCHEMES:
            raise NotImplementedError(f"writer({self._location.uri!r}, require_streaming=True): {scheme} uploads "
                                      "are spooled to a local temp file and sent on commit")
        self._content_type = content_type
        self._atomic = atomic
        self._mkdir_parents = mkdir_parents
        self._sink: Any = None
        self._gzip: Any = None
        self._started = False
        self.closed = False
        self._etag: str | None = None

    @property
    def uri(self) -> str:
        """The URI the object appears at on commit."""
        return self._location.uri

    def capabilities(self) -> dict[str, Any]:
        """``{"scheme", "streaming", "atomic", "gzip"}``: how this writer writes on its backend."""
        scheme = self._location.scheme
        return {"scheme": scheme, "streaming": scheme in STREAMING_SCHEMES, "atomic": self._atomic or scheme != "file",
                "gzip": self._gzip is not None}

    def gzip_encode(self) -> Writer:
        """Compress what is written with gzip (call before the first write)."""
        if self._started:
            raise RuntimeError(f"writer({self.uri!r}).gzip_encode(): call it before the first write")
        self._gzip = zlib.compressobj(wbits=31)
        return self

    def write_chunks(self, chunks: Iterable[Any]) -> Writer:
        """Append each bytes-like chunk (``TypeError`` naming the index of one that is not)."""
        for index, chunk in enumerate(chunks):
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"writer({self.uri!r}).write_chunks(): chunk {index} is a {type(chunk).__name__}, "
                                "not bytes-like")
            self._write(bytes(chunk))
        return self

    def write(self, data: Any) -> Writer:
        """Append one bytes-like chunk."""
        return self.write_chunks([data])

    def write_all(self, data: Any) -> str | None:
        """Write ``data`` and commit; returns what :meth:`close` returns."""
        self.write(data)
        return self.close()

    def _write(self, data: bytes) -> None:
        if self.closed:
            raise RuntimeError(f"writer({self.uri!r}): already closed")
        if self._sink is None:
            self._sink = self._open()
        self._started = True
        if self._gzip is not None:
            data = self._gzip.compress(data)
        if data:
            with translated(self.uri):
                self._sink.write(data)

    def _open(self) -> Any:
        location = self._location
        if location.is_local:
            return _LocalSink(location, atomic=self._atomic, mkdir_parents=self._mkdir_parents)
        if location.scheme in STREAMING_SCHEMES:
            return _StreamingSink(location, self._content_type)
        return _SpooledSink(location, self._content_type)

    def close(self) -> str | None:
        """Commit (idempotent): returns the ETag on object stores, ``None`` locally."""
        if self.closed:
            return self._etag
        if self._sink is None:
            self._sink = self._open()  # an empty object is still an object
        if self._gzip is not None:
            tail = self._gzip.flush()
            if tail:
                with translated(self.uri):
                    self._sink.write(tail)
        self.closed = True
        with translated(self.uri):
            self._etag = self._sink.commit()
        return self._etag

    def abort(self) -> None:
        """Drop what was written; a previous object stays as it was."""
        if self.closed:
            return
        self.closed = True
        if self._sink is not None:
            self._sink.abort()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        if not getattr(self, "closed", True):
            warnings.warn(f"writer({self.uri!r}) was garbage-collected without close(); nothing was published",
                          ResourceWarning, stacklevel=2)
            self.abort()

    def __repr__(self) -> str:
        return f"Writer({self.uri!r}, {'closed' if self.closed else 'open'})"


def writer(uri: str | os.PathLike[str], *, content_type: str | None = None, atomic: bool = True,
           mkdir_parents: bool = False, require_streaming: bool = False) -> Writer:
    """A :class:`Writer` of ``uri`` (see the module docstring for when the object appears)."""
    return Writer(uri, content_type=content_type, atomic=atomic, mkdir_parents=mkdir_parents,
                  require_streaming=require_streaming)


class _LocalSink:
    def __init__(self, location: Location, *, atomic: bool, mkdir_parents: bool) -> None:
        target = Path(location.path)
        if not target.parent.is_dir():
            if not mkdir_parents:
                raise ObjectNotFound(f"{location.uri}: the parent directory {str(target.parent)!r} does not exist "
                                     "(pass mkdir_parents=True)")
            target.parent.mkdir(parents=True, exist_ok=True)
        self._target = target
        if atomic:
            sweep_stale_once(target.parent)
        self._temp = target.parent / f".{target.name}.{os.getpid()}.{id(self)}.tmp" if atomic else target
        self._file = open(self._temp, "wb")  # noqa: SIM115 - closed by commit/abort

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self._temp != self._target:
            os.replace(self._temp, self._target)

    def abort(self) -> None:
        self._file.close()
        if self._temp != self._target:
            self._temp.unlink(missing_ok=True)


class _StreamingSink:
    """S3: a multipart upload, completed on commit, aborted otherwise."""

    def __init__(self, location: Location, content_type: str | None) -> None:
        fs = filesystem(location)
        options = {"ContentType": content_type} if content_type else {}
        with translated(location.uri):
            self._file = fs.open(location.path, "wb", autocommit=False, **options)
        self._fs, self._path = fs, location.path

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self) -> str | None:
        self._file.close()
        self._file.commit()
        return verbs._etag(self._fs.info(self._path))

    def abort(self) -> None:
        self._file.discard()
        self._file.closed = True  # never let fsspec's __del__ close (and upload) it


class _SpooledSink:
    """GCS, Azure: the body is held in memory up to 8 MiB, then in a local temp file; uploaded on commit."""

    MEMORY_LIMIT = 8 * 2**20

    def __init__(self, location: Location, content_type: str | None) -> None:
        self._location = location
        self._options = {"content_type": content_type} if content_type else {}
        self._memory: io.BytesIO | None = io.BytesIO()
        self._disk: Any = None  # a named temp file once the body outgrows memory (put_file needs a path)

    def write(self, data: bytes) -> None:
        if self._memory is not None and self._memory.tell() + len(data) > self.MEMORY_LIMIT:
            self._disk = tempfile.NamedTemporaryFile(prefix="dataio-upload-")  # noqa: SIM115 - closed on commit/abort
            self._disk.write(self._memory.getbuffer())
            self._memory = None
        (self._memory if self._memory is not None else self._disk).write(data)

    def commit(self) -> str | None:
        location = self._location
        fs = filesystem(location)
        try:
            if self._memory is not None:
                fs.pipe_file(location.path, self._memory.getvalue(), **self._options)
            else:
                self._disk.flush()
                fs.put_file(self._disk.name, location.path, **self._options)
            return verbs._etag(fs.info(location.path))
        finally:
            self.abort()

    def abort(self) -> None:
        self._memory = None
        if self._disk is not None:
            self._disk.close()


# -- Stream ------------------------------------------------------------------------------------------


class Stream:
    """An open read of an object: the attributes of :class:`~dataio.io.verbs.HeadInfo`, then
    bytes or lines through one cursor, plus ``closed`` and ``bytes_read``."""

    def __init__(self, uri: str | os.PathLike[str], *, offset: int | None = None, size: int | None = None,
                 headers: Mapping[str, str] | None = None, max_response_bytes: int | None = None) -> None:
        verbs._check_window("stream", offset, size)
        info = verbs.head(uri, headers=headers)  # opening waits for the headers only
        for name in HEAD_FIELDS:
            setattr(self, name, getattr(info, name))
        self._location = locate(uri)
        self._limit = max_response_bytes
        self._remaining = size
        if self._location.is_local:
            self._file: Any = open(self._location.path, "rb")  # noqa: SIM115 - closed by close()
        else:
            with translated(self._location.uri):
                self._file = filesystem(self._location).open(self._location.path, "rb", block_size=2**20)
        if offset:
            self._file.seek(offset)
        self.closed = False
        self.bytes_read = 0

    def _read(self, n: int) -> bytes:
        if self.closed:
            return b""
        if self._remaining is not None:
            n = min(n, self._remaining)
            if n <= 0:
                return b""
        with translated(self._location.uri):
            data = self._file.read(n)
        self.bytes_read += len(data)
        if self._limit is not None and self.bytes_read > self._limit:
            raise RuntimeError(f"{self._location.uri}: body exceeds max_response_bytes={self._limit}")
        if self._remaining is not None:
            self._remaining -= len(data)
        return data

    def iter_bytes(self, chunk_size: int = 65536) -> Iterator[bytes]:
        """Chunks of up to ``chunk_size`` bytes until the end (or ``close``)."""
        while chunk := self._read(chunk_size):
            yield chunk

    def iter_lines(self, *, max_line_bytes: int = 8_388_608) -> Iterator[str]:
        """UTF-8 lines without their ``\\n``/``\\r\\n``; a line over ``max_line_bytes`` is a ``ValueError``."""
        pending = b""
        for chunk in self.iter_bytes():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield _line(line, max_line_bytes, self._location.uri)
            if len(pending) > max_line_bytes:
                raise ValueError(f"{self._location.uri}: a line longer than max_line_bytes={max_line_bytes}")
        if pending:
            yield _line(pending, max_line_bytes, self._location.uri)

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes from the cursor (all that remain for ``size < 0``); ``b""`` at the end."""
        return self.read_all() if size < 0 else self._read(size)

    def read_all(self) -> bytes:
        """The rest of the bytes."""
        return b"".join(self.iter_bytes(2**20))

    def close(self) -> None:
        """Stop reading (idempotent); iterators end."""
        if not self.closed:
            self.closed = True
            self._file.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Stream({self._location.uri!r}, {'closed' if self.closed else 'open'}, read={self.bytes_read})"


HEAD_FIELDS = tuple(f.name for f in dataclasses.fields(verbs.HeadInfo))


def _line(raw: bytes, limit: int, uri: str) -> str:
    if len(raw) > limit:
        raise ValueError(f"{uri}: a line longer than max_line_bytes={limit}")
    return raw.removesuffix(b"\r").decode("utf-8")


def stream(uri: str | os.PathLike[str], *, offset: int | None = None, size: int | None = None,
           headers: Mapping[str, str] | None = None, max_response_bytes: int | None = None) -> Stream:
    """Open ``uri`` for reading as a :class:`Stream` (a context manager)."""
    return Stream(uri, offset=offset, size=size, headers=headers, max_response_bytes=max_response_bytes)


__all__ = ["Reader", "Writer", "Stream", "reader", "writer", "stream"]
