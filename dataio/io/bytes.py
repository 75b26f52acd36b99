"""Reading a slot payload into memory.

Local paths are read with plain file IO (the fastest path for small files); URIs go
through fsspec. Failures raise the builtin the contract names (``FileNotFoundError``,
``PermissionError``, ``IsADirectoryError``, ...) with the path or URI in the message; the
runtime turns them into row errors with stage ``"read"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataio.io.uri import is_uri

if TYPE_CHECKING:
    from dataio.runtime.records import ByteSource


def read_payload(source: ByteSource) -> bytes | memoryview:
    """The bytes of ``source``, honouring ``offset``/``size``.

    Raises:
        OSError: the file/object cannot be read (message names it).
        ValueError: the payload exceeds ``max_response_bytes``.
    """
    if source.data is not None:
        data = source.data.read_all() if hasattr(source.data, "read_all") else source.data
        if source.offset is not None:
            data = memoryview(data)[source.offset:source.offset + source.size]
            if len(data) != source.size:
                raise EOFError(f"{source.label}: range lies beyond the end of the {len(data)}-byte payload")
    else:
        data = _read_path(source.path, source.offset, source.size)  # type: ignore[arg-type]
    limit = source.max_response_bytes
    if limit is not None and len(data) > limit:
        raise ValueError(f"{source.label}: payload of {len(data)} bytes exceeds max_response_bytes={limit}")
    return data


def _read_path(path: str, offset: int | None, size: int | None) -> bytes:
    if is_uri(path):
        data = _read_uri(path, offset, size)
    else:
        with open(path, "rb") as f:  # OSError messages already name the path
            if offset is None:
                return f.read()
            f.seek(offset)
            data = f.read(size)
    if offset is None or size is None:
        return data
    if len(data) > size:  # an HTTP server that ignores Range answers with the whole object
        data = data[offset:offset + size]
    if len(data) != size:
        raise EOFError(f"{path}: range [{offset}, {offset + size}) lies beyond the end of the object "
                       f"(got {len(data)} of {size} bytes)")
    return data


def _read_uri(uri: str, offset: int | None, size: int | None) -> bytes:
    """Through the resolver: the scheme's configured credentials, endpoint and transport."""
    from dataio.io.errors import translated
    from dataio.io.resolve import filesystem, locate

    location = locate(uri)
    fs = filesystem(location)
    with translated(uri):
        if offset is None:
            return fs.cat_file(location.path)
        return fs.cat_file(location.path, start=offset, end=offset + size)
