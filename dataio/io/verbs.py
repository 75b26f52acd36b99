"""Direct IO verbs on any path or URI (docs/api.md §6.2): read, write, head, exists, ls, glob, delete.

Local paths use the OS directly (atomic writes: a temp file in the target's directory,
fsynced, then renamed over it); everything else goes through the resolver's fsspec
filesystem. Errors are the builtins §6.1 names, with the URI in the message.
"""

from __future__ import annotations

import email.utils
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataio._errors import PlanError
from dataio.io import config
from dataio.io.errors import ObjectNotFound, translated
from dataio.io.globs import has_magic, matching, sweep_stale_once, walk_local
from dataio.io.retry import retrying
from dataio.io.resolve import Location, filesystem, locate

FORMATS = ("bytes", "text", "json", "jsonl", "ndjson")
DEFAULT_READALL_CHUNK_MIB = 32
DEFAULT_READALL_CONCURRENCY = 8
READ_ONLY = ("http", "https", "hf", "hfd")


@dataclass(frozen=True)
class HeadInfo:
    """What ``head`` learns about an object without reading it."""

    status: int
    url: str
    http_version: str
    content_length: int | None
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None


# -- read -------------------------------------------------------------------------------------------


def read(uri: str | os.PathLike[str], *, offset: int | None = None, size: int | None = None,
         headers: Mapping[str, str] | None = None, max_response_bytes: int | None = None, format: str = "bytes",  # noqa: A002 - the contract's parameter name
         encoding: str = "utf-8", errors: str = "strict") -> Any:
    """The bytes (or text / JSON / JSON Lines) at ``uri``, optionally only ``[offset, offset + size)``.

    The window is clipped at the end of the object (a window past it gives ``b""``).

    Raises:
        ValueError: ``offset``/``size`` not given together or negative; an unknown ``format``.
        FileNotFoundError / PermissionError / ConnectionError / TimeoutError: see docs/api.md §6.1.
        IsADirectoryError: ``uri`` is a directory.
        RuntimeError: the body is larger than ``max_response_bytes``.
    """
    if format not in FORMATS:
        raise PlanError(f"read(format={format!r}): format must be one of {', '.join(FORMATS)}")
    _check_window("read", offset, size)
    location = locate(uri)
    _require_key(location, "read")
    data = _read_local(location, offset, size) if location.is_local else _read_remote(location, offset, size,
                                                                                        headers)
    if max_response_bytes is not None and len(data) > max_response_bytes:
        raise RuntimeError(f"{location.uri}: body of {len(data)} bytes exceeds max_response_bytes={max_response_bytes}")
    if format == "bytes":
        return data
    text = bytes(data).decode(encoding, errors)
    if format == "text":
        return text
    if format == "json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _check_window(verb: str, offset: Any, size: Any) -> None:
    if (offset is None) != (size is None):
        raise PlanError(f"{verb}(): give offset and size together, or neither")
    for name, value in (("offset", offset), ("size", size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{verb}({name}={value!r}): {name} must be an int")
        if value is not None and value < 0:
            raise PlanError(f"{verb}({name}={value}): {name} must be >= 0")


def _require_key(location: Location, verb: str) -> None:
    if location.scheme in ("s3", "r2", "gs", "az") and "/" not in location.path:
        raise PlanError(f"{verb}({location.uri!r}): needs an object key, not a bucket")


def _read_local(location: Location, offset: int | None, size: int | None) -> bytes:
    path = location.path
    if os.path.isdir(path):
        raise IsADirectoryError(f"{location.uri}: is a directory")
    with translated(location.uri), open(path, "rb") as f:
        if offset is None:
            return f.read()
        f.seek(offset)
        return f.read(size)


def _read_remote(location: Location, offset: int | None, size: int | None,
                 headers: Mapping[str, str] | None) -> bytes:
    """The object or its window, retried on transient failures (:mod:`dataio.io.retry`)."""
    fs = filesystem(location)
    extra = {"headers": dict(headers)} if headers and location.scheme in ("http", "https") else {}

    def attempt() -> bytes:
        if offset is None or size is None:  # offset and size come together (_check_window)
            return _read_whole(fs, location, extra)
        if size == 0:
            return b""
        length = fs.size(location.path)
        if offset >= length:
            return b""
        return fs.cat_file(location.path, start=offset, end=min(offset + size, length), **extra)

    return retrying(attempt, location.uri, location.scheme)


def _read_whole(fs: Any, location: Location, extra: dict[str, Any]) -> bytes:
    """A whole object; a large one in concurrent ranges (``configure_transport(readall_*)``)."""
    transport = config.transport_for(location.scheme if location.scheme != "http" else "https")
    chunk = (transport.readall_chunk_mib or DEFAULT_READALL_CHUNK_MIB) * 2**20
    in_flight = transport.readall_concurrency or DEFAULT_READALL_CONCURRENCY
    if extra or not getattr(fs, "async_impl", False):
        return fs.cat_file(location.path, **extra)
    length = fs.size(location.path)
    if length is None or length <= chunk:
        return fs.cat_file(location.path)
    starts = list(range(0, length, chunk))
    parts: list[bytes] = []
    for first in range(0, len(starts), in_flight):
        window = starts[first: first + in_flight]
        parts += fs.cat_ranges([location.path] * len(window), window, [min(s + chunk, length) for s in window])
    return b"".join(parts)


# -- write ------------------------------------------------------------------------------------------


def write(uri: str | os.PathLike[str], data: Any, *, format: str | None = None, encoding: str = "utf-8",  # noqa: A002 - the contract's parameter name
          errors: str = "strict", content_type: str | None = None, mkdir_parents: bool = False,
          atomic: bool = True, ensure_ascii: bool = False, indent: int | None = None, sort_keys: bool = False,
          separators: tuple[str, str] | None = None) -> str | None:
    """Write ``data`` to ``uri``; never leaves a partial object. Returns the ETag (object stores) or ``None``.

    Bytes-like data is written raw, a ``str`` as text, anything else as JSON — or JSON Lines
    (one item per line) for a ``.jsonl``/``.ndjson`` target; ``format`` forces one.

    Raises:
        TypeError: ``format="bytes"`` with data that is not bytes-like.
        FileNotFoundError: the local parent directory is missing (unless ``mkdir_parents``).
        NotImplementedError: a read-only scheme (http(s), hf).
    """
    location = locate(uri)
    if location.scheme in READ_ONLY:
        raise NotImplementedError(f"write({location.uri!r}): {location.scheme} URIs are read-only")
    _require_key(location, "write")
    payload = _encode(location.uri, data, format, encoding, errors,
                      {"ensure_ascii": ensure_ascii, "indent": indent, "sort_keys": sort_keys,
                       "separators": separators})
    if location.is_local:
        _write_local(location, payload, mkdir_parents=mkdir_parents, atomic=atomic)
        return None
    fs = filesystem(location)
    options = {"ContentType": content_type} if content_type and location.scheme in ("s3", "r2") else \
        {"content_type": content_type} if content_type else {}
    with translated(location.uri):
        fs.pipe_file(location.path, payload, **options)  # one PUT, or a committed multipart upload
        return _etag(fs.info(location.path))


def _encode(uri: str, data: Any, format: str | None, encoding: str, errors: str,  # noqa: A002 - the contract's parameter name
            json_options: dict[str, Any]) -> bytes:
    if format is not None and format not in FORMATS:
        raise PlanError(f"write(format={format!r}): format must be one of {', '.join(FORMATS)}")
    bytes_like = isinstance(data, (bytes, bytearray, memoryview))
    if format is None:
        format = ("bytes" if bytes_like else "text" if isinstance(data, str)  # noqa: A001 - the contract's name
                  else "jsonl" if uri.endswith((".jsonl", ".ndjson")) else "json")
    if format == "bytes":
        if not bytes_like:
            raise TypeError(f"write({uri!r}, format='bytes'): data must be bytes-like; got {type(data).__name__}")
        return bytes(data)
    if format == "text":
        if not isinstance(data, str):
            raise TypeError(f"write({uri!r}, format='text'): data must be a str; got {type(data).__name__}")
        return data.encode(encoding, errors)
    if format == "json":
        return json.dumps(data, **json_options).encode(encoding, errors)
    lines = [json.dumps(item, **{**json_options, "indent": None}) for item in data]
    return "".join(f"{line}\n" for line in lines).encode(encoding, errors)


def _write_local(location: Location, payload: bytes, *, mkdir_parents: bool, atomic: bool) -> None:
    target = Path(location.path)
    parent = target.parent
    if not parent.is_dir():
        if not mkdir_parents:
            raise ObjectNotFound(f"{location.uri}: the parent directory {str(parent)!r} does not exist "
                                 "(pass mkdir_parents=True)")
        parent.mkdir(parents=True, exist_ok=True)
    if not atomic:
        target.write_bytes(payload)
        return
    sweep_stale_once(parent)
    handle = tempfile.NamedTemporaryFile(dir=parent, prefix=f".{target.name}.", suffix=".tmp",  # noqa: SIM115
                                         delete=False)  # closed by the commit or the abort
    try:
        with handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _etag(info: Mapping[str, Any]) -> str | None:
    for key in ("ETag", "etag", "Etag", "blob_id"):  # blob_id: the Hub's git object id
        value = info.get(key)
        if value:
            return str(value).strip('"')
    return None


# -- metadata ---------------------------------------------------------------------------------------


def head(uri: str | os.PathLike[str], *, headers: Mapping[str, str] | None = None) -> HeadInfo:
    """Size, ETag, modification time and content type of an object, without reading it.

    Raises:
        FileNotFoundError / PermissionError / ConnectionError / TimeoutError: see docs/api.md §6.1.
    """
    location = locate(uri)
    if location.is_local:
        with translated(location.uri):
            stat = os.stat(location.path)
        return HeadInfo(200, Path(location.path).resolve().as_uri(), "n/a", stat.st_size,
                        last_modified=email.utils.formatdate(stat.st_mtime, usegmt=True))
    fs = filesystem(location)
    with translated(location.uri):
        info = fs.info(location.path, **({"headers": dict(headers)} if headers and location.scheme.startswith("http")
                                         else {}))
    modified = info.get("LastModified") or info.get("updated") or info.get("last_modified") or info.get("mtime")
    if hasattr(modified, "timestamp"):
        modified = email.utils.formatdate(modified.timestamp(), usegmt=True)
    settings = info.get("content_settings")
    content_type = info.get("ContentType") or info.get("contentType") or info.get("mimetype") or \
        (getattr(settings, "content_type", None) if settings is not None else None)
    raw_headers = {str(k).lower(): str(v) for k, v in (info.get("headers") or {}).items()} if isinstance(
        info.get("headers"), Mapping) else {}
    return HeadInfo(200, location.uri, "1.1", info.get("size"), raw_headers, _etag(info),
                    None if modified is None else str(modified), content_type)


def exists(uri: str | os.PathLike[str], *, headers: Mapping[str, str] | None = None) -> bool:
    """Whether ``uri`` exists; ``False`` only for not-found (other errors propagate)."""
    location = locate(uri)
    if location.is_local:
        return os.path.exists(location.path)
    try:
        head(uri, headers=headers)
    except FileNotFoundError:
        return False
    return True


def ls(uri: str | os.PathLike[str]) -> list[str]:
    """Every file/object below a directory or prefix (recursive), sorted; a file gives itself; nothing, ``[]``.

    Local listings are paths; object stores give full URIs.
    """
    location = locate(uri)
    if location.scheme in READ_ONLY:
        raise NotImplementedError(f"ls({location.uri!r}): {location.scheme} URIs cannot be listed")
    if location.is_local:
        path = location.path
        return [path] if os.path.isfile(path) else sorted(walk_local(path))
    fs = filesystem(location)
    with translated(location.uri):
        try:
            if fs.isfile(location.path):
                return [location.uri]
            found = fs.find(location.path)
        except FileNotFoundError:
            return []
    return sorted(location.child(p) for p in found)


def glob(pattern: str | os.PathLike[str]) -> list[str]:
    """Paths / URIs matching ``pattern`` (``*``, ``?``, ``[...]`` within a segment, ``**`` across), sorted."""
    location = locate(pattern)
    if location.scheme in READ_ONLY:
        raise NotImplementedError(f"glob({location.uri!r}): {location.scheme} URIs cannot be listed")
    if not has_magic(location.path):
        return [_as_listed(location)] if _is_file(location) else []
    if location.is_local:
        return matching(location.path, walk_local)
    fs = filesystem(location)

    def find(root: str) -> list[str]:
        try:
            return fs.find(root)
        except FileNotFoundError:
            return []

    with translated(location.uri):
        return [location.child(p) for p in matching(location.path, find)]


def _as_listed(location: Location) -> str:
    return location.path if location.is_local else location.uri


def _is_file(location: Location) -> bool:
    if location.is_local:
        return os.path.isfile(location.path)
    with translated(location.uri):
        return bool(filesystem(location).isfile(location.path))


def delete(uri: str | os.PathLike[str], *, recursive: bool = False, workers: int | None = None) -> None:
    """Remove a file/object (missing is fine); ``recursive`` removes a directory tree / every object under a prefix.

    Raises:
        IsADirectoryError: a local directory without ``recursive=True``.
        NotImplementedError: a read-only scheme.
    """
    location = locate(uri)
    if location.scheme in READ_ONLY:
        raise NotImplementedError(f"delete({location.uri!r}): {location.scheme} URIs are read-only")
    if location.is_local:
        path = location.path
        if os.path.isdir(path):
            if not recursive:
                raise IsADirectoryError(f"delete({location.uri!r}): a directory; pass recursive=True")
            shutil.rmtree(path)
        else:
            Path(path).unlink(missing_ok=True)
        return
    fs = filesystem(location)
    with translated(location.uri):
        if not recursive:
            try:
                fs.rm_file(location.path)
            except FileNotFoundError:
                pass
            return
        try:
            objects = fs.find(location.path)
        except FileNotFoundError:
            return
        if not objects:
            return
        batches = [objects[i: i + 1000] for i in range(0, len(objects), 1000)]
        with ThreadPoolExecutor(max_workers=max(1, workers or 4), thread_name_prefix="dataio-delete") as pool:
            list(pool.map(fs.rm, batches))
