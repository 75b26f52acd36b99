"""Backend exceptions as the builtins docs/api.md §6.1 names, each message naming the URI.

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
from dataio.io.redact import redacted


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


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (its own, or its response's), if any."""
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


_CONNECTION_TYPES = ("ClientConnectorError", "ServerDisconnectedError", "EndpointConnectionError", "ClientOSError",
                     "ServiceRequestError", "ConnectionClosedError", "ClientPayloadError",  # aiohttp: body cut short
                     "ConnectError", "ReadError", "RemoteProtocolError")  # httpx (huggingface_hub)
_TIMEOUT_TYPES = ("ServerTimeoutError", "ReadTimeoutError", "ConnectTimeoutError", "ConnectTimeout", "ReadTimeout",
                  "PoolTimeout")


def _kind(exc: BaseException) -> type[BaseException] | None:
    """Which contract condition ``exc`` itself is, judging by status, code and type (``None``: none)."""
    status, code, name = status_of(exc), _code(exc), type(exc).__name__
    if status in (401, 403) or code in _DENIED_CODES or isinstance(exc, PermissionError) or name in (
            "GatedRepoError", "NoCredentialsError", "DefaultCredentialsError", "ClientAuthenticationError"):
        return AccessDenied
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or name in _TIMEOUT_TYPES:
        return TransportTimeout
    if isinstance(exc, ConnectionError) or name in _CONNECTION_TYPES or status == 429 or (
            status is not None and status >= 500):
        return TransportError
    if isinstance(exc, FileNotFoundError) or status == 404 or code in _NOT_FOUND_CODES:
        return ObjectNotFound
    return None


def _underneath(exc: BaseException) -> type[BaseException] | None:
    """A refusal, timeout or connection failure in the chain of causes (libraries often report those
    as "not found": HfFileSystem for a gated repo, fsspec http for a refused connection)."""
    seen: set[int] = set()
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        kind = _kind(cause)
        if kind in (AccessDenied, TransportTimeout, TransportError):
            return kind
        cause = cause.__cause__ or cause.__context__
    return None


def translate(exc: BaseException, uri: str) -> BaseException:
    """The builtin-typed exception for ``exc`` (``exc`` itself when it is not an IO condition)."""
    if isinstance(exc, (ObjectNotFound, AccessDenied, TransportError, TransportTimeout)):
        return exc
    message = redacted(f"{uri}: {exc}" if uri not in str(exc) else str(exc))  # no userinfo, keys or tokens
    kind = _underneath(exc) or _kind(exc)
    return exc if kind is None else kind(message)


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
