"""Backend exceptions as the builtins API.md §6.1 names, each message naming the URI.

fsspec backends raise a mix: builtins (s3fs translates most botocore errors), HTTP client
errors, google/azure SDK errors. :func:`translated` maps them by type, status code and error
code to ``FileNotFoundError``, ``PermissionError``, ``ConnectionError`` or ``TimeoutError``
(subclassing :class:`~dataio.DataIOError` too), and leaves anything else as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from dataio._errors import DataIOError


class ObjectNotFound(DataIOError, FileNotFoundError):
    """No such file, object or bucket."""


class AccessDenied(DataIOError, PermissionError):
    """The credentials are missing or not allowed to do this."""


class MemberNotFound(DataIOError, KeyError):
    """No such member in an archive."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class TransportError(DataIOError, ConnectionError):
    """The network failed after the client's retries."""


class TransportTimeout(DataIOError, TimeoutError):
    """The request timed out."""


_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchBucket", "404", "NotFound", "BlobNotFound", "ContainerNotFound",
                    "ResourceNotFound"}
_DENIED_CODES = {"AccessDenied", "403", "401", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden",
                 "AuthorizationFailure", "AuthenticationFailed", "NoCredentialsError"}


def _status(exc: BaseException) -> int | None:
    for attr in ("status", "status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        meta = response.get("ResponseMetadata", {})
        if isinstance(meta.get("HTTPStatusCode"), int):
            return meta["HTTPStatusCode"]
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code is not None:
            return str(code)
    code = getattr(exc, "error_code", None)
    return str(code) if code is not None else None


def _denied_underneath(exc: BaseException) -> bool:
    """An access refusal (401/403, a gated repo) anywhere in the chain of causes."""
    seen: set[int] = set()
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if _status(cause) in (401, 403) or type(cause).__name__ == "GatedRepoError":
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def translate(exc: BaseException, uri: str) -> BaseException:
    """The builtin-typed exception for ``exc`` (``exc`` itself when it is not an IO condition)."""
    if isinstance(exc, (ObjectNotFound, AccessDenied, TransportError, TransportTimeout)):
        return exc
    message = f"{uri}: {exc}" if uri not in str(exc) else str(exc)
    status, code = _status(exc), _code(exc)
    if _denied_underneath(exc):  # e.g. HfFileSystem reports a gated repo as "not found"
        return AccessDenied(message)
    if isinstance(exc, FileNotFoundError) or status == 404 or code in _NOT_FOUND_CODES:
        return ObjectNotFound(message)
    if isinstance(exc, PermissionError) or status in (401, 403) or code in _DENIED_CODES \
            or type(exc).__name__ in ("NoCredentialsError", "DefaultCredentialsError", "ClientAuthenticationError"):
        return AccessDenied(message)
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or type(exc).__name__ in ("ServerTimeoutError",
                                                                                        "ReadTimeoutError",
                                                                                        "ConnectTimeoutError"):
        return TransportTimeout(message)
    if isinstance(exc, ConnectionError) or type(exc).__name__ in (
            "ClientConnectorError", "ServerDisconnectedError", "EndpointConnectionError", "ClientOSError",
            "ServiceRequestError", "ConnectionClosedError"):
        return TransportError(message)
    return exc


@contextmanager
def translated(uri: str) -> Iterator[None]:
    """Run a backend call; re-raise IO conditions as the builtins the contract names."""
    try:
        yield
    except (IsADirectoryError, NotADirectoryError, FileExistsError):
        raise
    except Exception as exc:
        mapped = translate(exc, uri)
        if mapped is exc:
            raise
        raise mapped from exc
