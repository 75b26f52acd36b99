"""URI recognition and validation (docs/api.md §6.1).

A ``str`` containing ``://`` is a URI; anything else is a local path. Validation is
pure string work (no IO): unknown schemes, ``file://host/...``, empty buckets/keys and
``.``/``..`` segments are refused with a ``ValueError`` naming the URI.
"""

from __future__ import annotations

from dataio._errors import DataIOError

SCHEMES = ("file", "http", "https", "s3", "r2", "gs", "gcs", "az", "abfs", "hf", "hfd")


class InvalidURI(DataIOError, ValueError):
    """A malformed URI or one with an unknown scheme."""


def is_uri(text: str) -> bool:
    """True when ``text`` is a URI rather than a local path."""
    return "://" in text


def split(uri: str) -> tuple[str, str]:
    """``(scheme, rest)`` of a URI."""
    scheme, _, rest = uri.partition("://")
    return scheme, rest


def validate_uri(uri: str) -> str:
    """Return ``uri`` if well-formed, else raise :class:`InvalidURI` naming it."""
    scheme, rest = split(uri)
    if scheme not in SCHEMES:
        raise InvalidURI(f"{uri!r}: unknown URI scheme {scheme!r}; supported: {', '.join(SCHEMES)}")
    if scheme == "file":
        if not rest.startswith("/"):
            raise InvalidURI(f"{uri!r}: file URIs must be absolute (file:///path); hosts are not supported")
        return uri
    if scheme in ("http", "https"):
        if not rest or rest.startswith("/"):
            raise InvalidURI(f"{uri!r}: missing host")
        return uri
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise InvalidURI(f"{uri!r}: empty bucket/container")
    if any(part in (".", "..") for part in key.split("/")):
        raise InvalidURI(f"{uri!r}: '.' and '..' path segments are not allowed")
    return uri
