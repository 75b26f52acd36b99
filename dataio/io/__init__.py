"""The URI layer: one resolver over fsspec for local paths and object stores (docs/api.md §6).

Files:
    uri.py      recognising and validating URIs (schemes, malformed paths)
    config.py   configure_credentials / configure_endpoint / configure_transport; secrets redacted
    resolve.py  URI -> Location -> fsspec filesystem (cached per configuration, sharded clients)
    errors.py   backend errors as FileNotFoundError / PermissionError / ConnectionError / TimeoutError
    verbs.py    read, write (atomic), head, exists, ls, glob, delete
    handles.py  reader (lazy, decoding overlays), writer (commit or abort), stream
    globs.py    glob patterns with one meaning on every backend (segments, ``**``)
    payloads.py a slot value as a payload source (:class:`~dataio.io.payloads.ByteSource`)
    bytes.py    reading a payload into memory (many remote ones in one round trip)
"""

from dataio.io.config import (
    configure_credentials, configure_endpoint, configure_storage_options, configure_transport,
)
from dataio.io.handles import Reader, Stream, Writer, reader, stream, writer
from dataio.io.verbs import HeadInfo, delete, exists, glob, head, ls, read, write

__all__ = ["configure_credentials", "configure_endpoint", "configure_storage_options", "configure_transport",
           "HeadInfo", "read", "write",
           "head", "exists", "ls", "glob", "delete", "Reader", "Writer", "Stream", "reader", "writer", "stream"]
