"""Reading slot payloads into memory.

Local paths are read with plain file IO (the fastest path for small files); URIs go
through the resolver's fsspec filesystems. Many remote payloads are fetched together
(:func:`fetch_many`): one concurrent ``cat_ranges`` per filesystem, so a batch of small
objects costs about one round trip, not one per object. Failures are the builtins the
contract names (``FileNotFoundError``, ``PermissionError``, ...) with the path or URI in
the message; the runtime turns them into row errors with stage ``"read"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataio.io.uri import is_uri

if TYPE_CHECKING:
    from dataio.io.payloads import ByteSource


def read_payload(source: ByteSource) -> bytes | memoryview:
    """The bytes of ``source``, honouring ``offset``/``size``.

    Raises:
        OSError: the file/object cannot be read (message names it).
        ValueError: the payload exceeds ``max_response_bytes``.
    """
    window = source.window
    if source.data is not None:
        data = source.data.read_all() if hasattr(source.data, "read_all") else source.data
        if window is not None:
            data = memoryview(data)[window[0]:window[1]]
            if len(data) != window[1] - window[0]:
                raise EOFError(f"{source.label}: range lies beyond the end of the {len(data)}-byte payload")
    else:
        data = _read_path(source.path, source.offset, source.size)  # type: ignore[arg-type]
    return _checked(source, data)


def _checked(source: ByteSource, data: Any) -> Any:
    """Enforce ``max_response_bytes`` and the requested window on what a read returned."""
    window = source.window if source.data is None else None
    if window is not None and len(data) > window[1] - window[0]:
        data = data[window[0]:window[1]]  # a server that ignored Range sent everything
    limit = source.max_response_bytes
    if limit is not None and len(data) > limit:
        raise ValueError(f"{source.label}: payload of {len(data)} bytes exceeds max_response_bytes={limit}")
    if window is not None and len(data) != window[1] - window[0]:
        raise EOFError(f"{source.label}: range [{window[0]}, {window[1]}) lies beyond the end "
                       f"of the object (got {len(data)} of {window[1] - window[0]} bytes)")
    return data


def is_remote(source: ByteSource) -> bool:
    """A payload behind a non-local URI (read on the IO pool, batched by :func:`fetch_many`)."""
    path = source.path or ""
    return source.data is None and is_uri(path) and not path.startswith("file://")


def fetch_many(sources: list[ByteSource]) -> list[Any]:
    """The payload of each remote source, or the exception reading it raised (in order).

    Sources on one async filesystem are fetched by one concurrent ``cat_ranges``; requests
    with their own HTTP headers, and synchronous filesystems, are read one by one.
    """
    from dataio.io.errors import translate
    from dataio.io.resolve import filesystem, locate
    from dataio.io.retry import is_transient

    results: list[Any] = [None] * len(sources)
    groups: dict[int, tuple[Any, list[int]]] = {}
    for i, source in enumerate(sources):
        try:
            fs = filesystem(locate(source.path))  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - this payload's failure, not the batch's
            results[i] = exc
            continue
        if source.headers or not getattr(fs, "async_impl", False):
            try:
                results[i] = read_payload(source)
            except Exception as exc:  # noqa: BLE001
                results[i] = exc
            continue
        groups.setdefault(id(fs), (fs, []))[1].append(i)
    for fs, members in groups.values():
        paths = [locate(sources[i].path).path for i in members]  # type: ignore[arg-type]
        windows = [sources[i].window for i in members]
        starts = [None if w is None else w[0] for w in windows]
        ends = [None if w is None else w[1] for w in windows]
        try:
            fetched = fs.cat_ranges(paths, starts, ends, on_error="return")
        except Exception as exc:  # noqa: BLE001 - the whole call failed: every member carries it
            fetched = [exc] * len(members)
        for i, value in zip(members, fetched, strict=True):
            source = sources[i]
            if isinstance(value, BaseException):  # read alone: retried where the client does not retry
                results[i] = _read_again(source) if is_transient(value) else translate(value, source.label)
                continue
            try:
                results[i] = _checked(source, value)
            except Exception as exc:  # noqa: BLE001
                results[i] = exc
    return results


def _read_again(source: ByteSource) -> Any:
    """A remote payload whose batched fetch failed transiently, read alone under the rest of its retries; or the
    exception that read ended with."""
    try:
        return _checked(source, _read_uri(source.path, source.offset, source.size,  # type: ignore[arg-type]
                                          failed_before=1))
    except Exception as exc:  # noqa: BLE001 - the payload's failure
        return exc


def _read_path(path: str, offset: int | None, size: int | None) -> bytes:
    if is_uri(path):
        data = _read_uri(path, offset, size)
    else:
        with open(path, "rb") as f:  # OSError messages already name the path
            if offset is None:
                return f.read()
            f.seek(offset)
            data = f.read(size)
    return data


def _read_uri(uri: str, offset: int | None, size: int | None, *, failed_before: int = 0) -> bytes:
    """Through the resolver (the scheme's configured credentials, endpoint and transport), with retries on
    transient failures (:mod:`dataio.io.retry`; ``failed_before``: attempts that already failed)."""
    from dataio.io.resolve import filesystem, locate
    from dataio.io.retry import retrying

    location = locate(uri)
    fs = filesystem(location)
    start, end = (None, None) if offset is None or size is None else (offset, offset + size)
    return retrying(lambda: fs.cat_file(location.path, start=start, end=end), uri, location.scheme,
                    failed_before=failed_before)
