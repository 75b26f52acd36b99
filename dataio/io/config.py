"""Credentials, endpoints and transport settings per scheme (docs/api.md §6.4).

Configuration is validated completely before anything changes, does no network IO, and
bumps a generation counter so the resolver builds fresh clients for requests started
afterwards. Secrets are held in :class:`Secret`, whose ``repr``/``str`` never show the value,
so they cannot leak through reprs, logs or error messages.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from dataio._errors import PlanError
from dataio.io import redact

SCHEMES = ("s3", "r2", "gs", "az", "hf", "hfd")
TRANSPORT_ENDPOINTS = (*SCHEMES, "https", "default")
HTTP_VERSIONS = ("h1", "h2", "auto")

_SECRET_FIELDS = frozenset({"secret_access_key", "session_token", "token", "credential_json", "account_key",
                            "sas_token"})
_METHOD_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # method -> (required, optional)
    "default": ((), ()),
    "env": ((), ()),
    "env_prefix": (("prefix",), ()),
    "explicit": (("access_key_id", "secret_access_key"), ("session_token",)),
    "hf_token": (("token",), ()),
    "gcs_credential_json": (("credential_json",), ()),
    "gcs_credential_path": (("credential_path",), ()),
    "azure_key": (("account_name", "account_key"), ()),
    "azure_sas": (("account_name", "sas_token"), ()),
}
_SCHEME_METHODS = {
    "s3": ("default", "env", "env_prefix", "explicit"),
    "r2": ("default", "env", "env_prefix", "explicit"),
    "gs": ("default", "env", "gcs_credential_json", "gcs_credential_path"),
    "az": ("default", "env", "azure_key", "azure_sas"),
    "hf": ("default", "env", "hf_token"),
    "hfd": ("default", "env", "hf_token"),
}
FIELDS = tuple(sorted({f for required, optional in _METHOD_FIELDS.values() for f in (*required, *optional)}))

H2_UNSUPPORTED = ("{what}: HTTP/2 cannot be honoured: dataio's {endpoint} transport (fsspec over aiohttp) speaks "
                  "HTTP/1.1 only; use 'h1' or 'auto'")


class Secret:
    """A secret string: ``reveal()`` gives the value; ``repr``/``str`` never do."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Credentials:
    """One configured credential: the method and its fields (secret fields as :class:`Secret`)."""

    scheme: str
    method: str
    fields: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        """A field's value (revealed), or ``None``."""
        value = self.fields.get(name)
        return value.reveal() if isinstance(value, Secret) else value


@dataclass(frozen=True)
class Transport:
    """Transport settings of one endpoint (``None`` = the default's, then the environment's)."""

    http_version: str | None = None
    timeout_secs: float | None = None
    readall_chunk_mib: int | None = None
    readall_concurrency: int | None = None


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.credentials: dict[tuple[str, str | None], Credentials] = {}
        self.endpoints: dict[str, str] = {}
        self.transports: dict[str, Transport] = {}
        self.storage_options: dict[str, dict[str, Any]] = {}
        self.generation = 0


_REGISTRY = _Registry()


def configure_credentials(scheme: str, *, method: str | None = None, bucket: str | None = None,
                          **fields: Any) -> None:
    """Register credentials for ``scheme`` (and only ``bucket``, when given). No network IO.

    Args:
        scheme: ``s3``, ``r2``, ``gs``, ``az``, ``hf`` or ``hfd``.
        method: see docs/api.md §6.4; ``None`` with both S3 keys given means ``"explicit"``.
        bucket: a bucket (az: container, hf: repo id) this credential is for.
        **fields: the fields the method consumes (``access_key_id``, ``secret_access_key``,
            ``session_token``, ``prefix``, ``token``, ``credential_json``, ``credential_path``,
            ``account_name``, ``account_key``, ``sas_token``).

    Raises:
        ValueError: an unknown scheme or method, a method unfit for the scheme, a missing
            field, or a field the method does not use (secrets are never echoed).
    """
    scheme = _scheme("configure_credentials", scheme)
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise PlanError(f"configure_credentials({scheme!r}): unknown field(s) {', '.join(unknown)}")
    given = {k: v for k, v in fields.items() if v is not None}
    if method is None:
        if {"access_key_id", "secret_access_key"} <= set(given):
            method = "explicit"
        else:
            raise PlanError(f"configure_credentials({scheme!r}): name a method (one of "
                            f"{', '.join(_SCHEME_METHODS[scheme])})")
    if method not in _METHOD_FIELDS:
        raise PlanError(f"configure_credentials({scheme!r}, method={method!r}): unknown method")
    if method not in _SCHEME_METHODS[scheme]:
        raise PlanError(f"configure_credentials({scheme!r}, method={method!r}): not a method for {scheme}; use one "
                        f"of {', '.join(_SCHEME_METHODS[scheme])}")
    required, optional = _METHOD_FIELDS[method]
    missing = [f for f in required if f not in given]
    stray = sorted(set(given) - set(required) - set(optional))
    if missing:
        raise PlanError(f"configure_credentials({scheme!r}, method={method!r}): missing {', '.join(missing)}")
    if stray:
        raise PlanError(f"configure_credentials({scheme!r}, method={method!r}): method {method!r} does not use "
                        f"{', '.join(stray)}")
    for name, value in given.items():
        if not isinstance(value, str):
            raise TypeError(f"configure_credentials({scheme!r}): {name} must be a str")
    if bucket is not None and (not isinstance(bucket, str) or not bucket):
        raise PlanError(f"configure_credentials({scheme!r}): bucket must be a non-empty str")
    stored = {k: Secret(v) if k in _SECRET_FIELDS else v for k, v in given.items()}
    redact.remember(v for k, v in given.items() if k in _SECRET_FIELDS or k == "access_key_id")
    redact.install()
    with _REGISTRY.lock:
        _REGISTRY.credentials[(scheme, bucket)] = Credentials(scheme, method, stored)
        _REGISTRY.generation += 1


def configure_endpoint(scheme: str, url: str) -> None:
    """Send ``scheme``'s requests to ``url`` (an absolute ``http(s)://`` URL: MinIO, R2, an emulator).

    Raises:
        ValueError: an unknown scheme or a URL that is not absolute http(s).
    """
    scheme = _scheme("configure_endpoint", scheme)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or "://" not in url or \
            not url.split("://", 1)[1].strip("/"):
        raise PlanError(f"configure_endpoint({scheme!r}, {url!r}): url must be an absolute http(s):// URL")
    with _REGISTRY.lock:
        _REGISTRY.endpoints[scheme] = url.rstrip("/")
        _REGISTRY.generation += 1


def configure_transport(endpoint: str, *, http_version: str | None = None, pool_max_idle: int | None = None,
                        timeout_secs: float | None = None, readall_chunk_mib: int | None = None,
                        readall_concurrency: int | None = None) -> None:
    """Replace ``endpoint``'s transport overrides (omitted options revert to ``default``, then env).

    Raises:
        ValueError: an unknown endpoint or an invalid value.
        NotImplementedError: ``pool_max_idle`` (reserved), or ``http_version="h2"`` (the
            transports speak HTTP/1.1 only).
    """
    if endpoint not in TRANSPORT_ENDPOINTS:
        raise PlanError(f"configure_transport({endpoint!r}): endpoint must be one of {', '.join(TRANSPORT_ENDPOINTS)}")
    if pool_max_idle is not None:
        raise NotImplementedError("configure_transport(pool_max_idle=...): reserved; connection pools are sized by "
                                  "the client libraries")
    if http_version is not None:
        if http_version not in HTTP_VERSIONS:
            raise PlanError(f"configure_transport({endpoint!r}, http_version={http_version!r}): one of "
                            f"{', '.join(HTTP_VERSIONS)}")
        if http_version == "h2":
            raise NotImplementedError(H2_UNSUPPORTED.format(what=f"configure_transport({endpoint!r})",
                                                            endpoint=endpoint))
    if timeout_secs is not None and (isinstance(timeout_secs, bool) or not isinstance(timeout_secs, (int, float))
                                     or not math.isfinite(timeout_secs) or timeout_secs <= 0):
        raise PlanError(f"configure_transport({endpoint!r}, timeout_secs={timeout_secs!r}): a positive finite number")
    for name, value in (("readall_chunk_mib", readall_chunk_mib), ("readall_concurrency", readall_concurrency)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise PlanError(f"configure_transport({endpoint!r}, {name}={value!r}): a positive int")
    transport = Transport(http_version, None if timeout_secs is None else float(timeout_secs), readall_chunk_mib,
                          readall_concurrency)
    with _REGISTRY.lock:
        _REGISTRY.transports[endpoint] = transport
        _REGISTRY.generation += 1


STORAGE_OPTION_SCHEMES = (*SCHEMES, "http", "https")
_SECRET_OPTION = re.compile(r"(?i)key|secret|token|password|credential|sas|headers|auth")
"""Storage options whose string values are kept out of logs (headers: an Authorization header's value)."""


def configure_storage_options(scheme: str, **options: Any) -> None:
    """Keyword arguments passed through to the fsspec filesystem dataio builds for ``scheme`` (replacing the
    previous ones for it; none resets them).

    They are applied last, over dataio's own settings: a top-level option replaces dataio's
    value, and a dict-valued one (``client_kwargs``, ``config_kwargs``) updates dataio's dict
    key by key. Credentials set here are used as given and never printed by dataio.

    Raises:
        TypeError: ``scheme`` is not a str.
        ValueError: an unknown scheme.
    """
    if not isinstance(scheme, str):
        raise TypeError(f"configure_storage_options(scheme={scheme!r}): scheme must be a str")
    if scheme not in STORAGE_OPTION_SCHEMES:
        raise PlanError(f"configure_storage_options({scheme!r}): scheme must be one of "
                        f"{', '.join(STORAGE_OPTION_SCHEMES)}")
    redact.remember(s for name, value in options.items() if _SECRET_OPTION.search(name)
                    for s in _secret_strings(value))
    redact.install()
    with _REGISTRY.lock:
        _REGISTRY.storage_options[scheme] = dict(options)
        _REGISTRY.generation += 1


def _secret_strings(value: Any) -> Iterable[str]:
    """Every string in a storage option's value (nested dicts and sequences), for the log redaction."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secret_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secret_strings(item)


def with_storage_options(scheme: str, settings: dict[str, Any]) -> dict[str, Any]:
    """dataio's constructor ``settings`` for ``scheme``'s filesystem with the user's storage options applied."""
    with _REGISTRY.lock:
        options = dict(_REGISTRY.storage_options.get(scheme, {}))
    merged = dict(settings)
    for name, value in options.items():
        if isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = {**merged[name], **value}
        else:
            merged[name] = value
    return merged


def _scheme(func: str, scheme: Any) -> str:
    if not isinstance(scheme, str):
        raise TypeError(f"{func}(scheme={scheme!r}): scheme must be a str")
    if scheme not in SCHEMES:
        raise PlanError(f"{func}({scheme!r}): scheme must be one of {', '.join(SCHEMES)}")
    return scheme


# -- lookups (the resolver) ------------------------------------------------------------------------


def generation() -> int:
    """Bumped by every ``configure_*`` call: clients built before it are stale."""
    return _REGISTRY.generation


def credentials_for(scheme: str, bucket: str | None) -> Credentials | None:
    """(scheme, bucket) → (scheme) → ``None`` (the client library's default chain and environment)."""
    with _REGISTRY.lock:
        return _REGISTRY.credentials.get((scheme, bucket)) or _REGISTRY.credentials.get((scheme, None))


_ENDPOINT_ENV = {"r2": ("R2_ENDPOINT_URL",), "s3": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
                 "gs": ("STORAGE_EMULATOR_HOST",), "hf": ("HF_ENDPOINT",), "hfd": ("HF_ENDPOINT",), "az": ()}


def endpoint_for(scheme: str) -> str | None:
    """The configured endpoint, else the scheme's standard environment variable, else ``None``."""
    with _REGISTRY.lock:
        configured = _REGISTRY.endpoints.get(scheme)
        if configured is None and scheme == "hfd":
            configured = _REGISTRY.endpoints.get("hf")  # one Hub serves model and dataset repos
    if configured is not None:
        return configured
    for name in _ENDPOINT_ENV.get(scheme, ()):
        value = os.environ.get(name)
        if value:
            return value.rstrip("/")
    return None


def transport_for(endpoint: str) -> Transport:
    """``endpoint``'s overrides over ``default``'s (options left ``None`` fall back to the environment)."""
    with _REGISTRY.lock:
        own, default = _REGISTRY.transports.get(endpoint, Transport()), _REGISTRY.transports.get("default",
                                                                                                   Transport())
    return Transport(**{name: getattr(own, name) if getattr(own, name) is not None else getattr(default, name)
                        for name in (f.name for f in fields(Transport))})


def reset() -> None:
    """Forget every configuration (tests; a fresh process starts empty)."""
    with _REGISTRY.lock:
        _REGISTRY.credentials.clear()
        _REGISTRY.endpoints.clear()
        _REGISTRY.transports.clear()
        _REGISTRY.storage_options.clear()
        _REGISTRY.generation += 1
