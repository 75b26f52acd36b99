"""The URI layer: one resolver over fsspec for local paths and object stores (API.md §6).

Files:
    uri.py    recognising and validating URIs (schemes, malformed paths)
    globs.py  glob patterns with one meaning on every backend (segments, ``**``)
    bytes.py  reading a payload (:class:`~dataio.runtime.records.ByteSource`) into memory
"""
