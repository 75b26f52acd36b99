"""One resolver from URIs to fsspec filesystems (docs/api.md §6.1).

``locate`` turns a path or URI into a :class:`Location` (scheme aliases folded: ``gcs`` →
``gs``, ``abfs`` → ``az``; ``r2`` is S3 at an endpoint; ``hfd`` is a Hugging Face dataset
repo). ``filesystem`` builds the backend's client from the configured credentials,
endpoint and transport (:mod:`dataio.io.config`) and caches it until the configuration
changes; ``DATAIO_OBJECT_SHARDS`` independent clients (own connection pools) are kept per
backend and requests are spread over them by path. Backends are imported on first use;
a missing one is :class:`~dataio.BackendUnavailable` naming the extra to install.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
import zlib
from dataclasses import dataclass
from typing import Any

from dataio._deps import require
from dataio._errors import PlanError
from dataio._env import worker_count
from dataio.io import config, redact
from dataio.io.uri import is_uri, validate_uri

ALIASES = {"gcs": "gs", "abfs": "az"}
OBJECT_STORES = ("s3", "r2", "gs", "az")
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_RETRIES = 5


@dataclass(frozen=True, slots=True)
class Location:
    """Where a path or URI points.

    Attributes:
        uri: the text as given.
        scheme: ``file``, ``http``, ``https``, ``s3``, ``r2``, ``gs``, ``az``, ``hf`` or ``hfd``.
        path: the path in the backend's filesystem (``bucket/key`` for object stores).
        bucket: the bucket / container / repo id, for object stores and hf.
    """

    uri: str
    scheme: str
    path: str
    bucket: str | None

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    def child(self, path: str) -> str:
        """The URI (or local path) of ``path`` in this location's filesystem."""
        if self.is_local:
            return path
        if self.scheme in ("http", "https"):
            return path
        if self.scheme == "hfd":
            return f"hfd://{path.removeprefix('datasets/')}"
        return f"{self.scheme}://{path}"


def locate(uri: str | os.PathLike[str]) -> Location:
    """The :class:`Location` of a local path or a URI.

    Raises:
        ValueError: a malformed URI or an unknown scheme (naming it).
        NotImplementedError: an object URI with a ``?query``.
    """
    text = os.fspath(uri)
    if not isinstance(text, str):
        raise TypeError(f"expected a path or URI str; got {type(uri).__name__}")
    if not is_uri(text):
        return Location(text, "file", text, None)
    validate_uri(text)
    scheme, _, rest = text.partition("://")
    scheme = ALIASES.get(scheme, scheme)
    if scheme == "file":
        return Location(text, "file", rest, None)
    if scheme in ("http", "https"):
        return Location(text, scheme, text, None)
    if "?" in rest:
        raise NotImplementedError(f"{text!r}: query strings are not supported on {scheme} URIs")
    if scheme in ("hf", "hfd"):
        repo = "/".join(rest.split("/")[:2]).split("@")[0]
        return Location(text, scheme, ("datasets/" if scheme == "hfd" else "") + rest, repo)
    return Location(text, scheme, rest.rstrip("/"), rest.partition("/")[0])


_CACHE: dict[tuple[Any, ...], Any] = {}
_CACHE_LOCK = threading.Lock()


def filesystem(location: Location) -> Any:
    """The fsspec filesystem serving ``location`` (built on first use, rebuilt after a ``configure_*``)."""
    shards = worker_count("DATAIO_OBJECT_SHARDS", 8) if location.scheme in OBJECT_STORES else 1
    shard = zlib.crc32(location.path.encode()) % shards
    key = (location.scheme, location.bucket, config.generation(), shard)
    with _CACHE_LOCK:
        fs = _CACHE.get(key)
        if fs is None:
            fs = _build(location)
            _CACHE[key] = fs
        return fs


def _build(location: Location) -> Any:
    redact.install()  # the clients built here log at DEBUG what dataio passes them: keep secrets out
    scheme = location.scheme
    if scheme == "file":
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem()
    if scheme in ("http", "https"):
        return _http(scheme)
    if scheme in ("s3", "r2"):
        return _s3(scheme, location.bucket)
    if scheme == "gs":
        return _gcs(location.bucket)
    if scheme == "az":
        return _azure(location.bucket)
    return _hf(scheme, location.bucket)


def _timeout(endpoint: str) -> float:
    transport = config.transport_for(endpoint)
    return transport.timeout_secs if transport.timeout_secs is not None else DEFAULT_TIMEOUT_S


def _check_http_version(endpoint: str) -> None:
    """Refuse HTTP/2 rather than ignore it (the aiohttp-based transports speak HTTP/1.1)."""
    chosen = config.transport_for(endpoint).http_version
    if chosen is None and endpoint in ("s3", "r2"):
        chosen = os.environ.get("DATAIO_S3_HTTP_VERSION", "h1")
        if chosen not in config.HTTP_VERSIONS:
            warnings.warn(f"DATAIO_S3_HTTP_VERSION={chosen!r} is not one of {', '.join(config.HTTP_VERSIONS)}; "
                          "using h1", RuntimeWarning, stacklevel=2)
        elif chosen == "h2":
            raise NotImplementedError(config.H2_UNSUPPORTED.format(what="DATAIO_S3_HTTP_VERSION=h2",
                                                                   endpoint=endpoint))


def _s3(scheme: str, bucket: str | None) -> Any:
    s3fs = require("s3fs", f"{scheme}:// URIs")
    _check_http_version(scheme)
    endpoint = config.endpoint_for(scheme)
    if scheme == "r2" and endpoint is None:
        raise PlanError("r2:// URIs need an endpoint: configure_endpoint('r2', 'https://<account>.r2."
                        "cloudflarestorage.com') or R2_ENDPOINT_URL")
    options: dict[str, Any] = {}
    creds = config.credentials_for(scheme, bucket)
    if creds is not None and creds.method == "explicit":
        options.update(key=creds.get("access_key_id"), secret=creds.get("secret_access_key"),
                       token=creds.get("session_token"))
    elif creds is not None and creds.method == "env_prefix":
        prefix = creds.get("prefix") or ""
        options.update(key=os.environ.get(f"{prefix}ACCESS_KEY_ID"),
                       secret=os.environ.get(f"{prefix}SECRET_ACCESS_KEY"),
                       token=os.environ.get(f"{prefix}SESSION_TOKEN"))
    timeout = _timeout(scheme)
    client: dict[str, Any] = {"endpoint_url": endpoint} if endpoint else {}
    if scheme == "r2":
        client.setdefault("region_name", "auto")
    return s3fs.S3FileSystem(**config.with_storage_options(scheme, dict(
        skip_instance_cache=True, client_kwargs=client, config_kwargs={
            "connect_timeout": timeout, "read_timeout": timeout,
            "retries": {"max_attempts": DEFAULT_RETRIES, "mode": "standard"}}, **options)))


def _gcs(bucket: str | None) -> Any:
    gcsfs = require("gcsfs", "gs:// URIs")
    _check_http_version("gs")
    endpoint = config.endpoint_for("gs")
    creds = config.credentials_for("gs", bucket)
    token: Any = None
    if creds is not None and creds.method == "gcs_credential_path":
        token = creds.get("credential_path")
    elif creds is not None and creds.method == "gcs_credential_json":
        token = json.loads(creds.get("credential_json") or "{}")
    elif endpoint is not None and creds is None:
        token = "anon"  # an emulator: no Google credentials to look for
    if endpoint is not None and not endpoint.startswith("http"):
        endpoint = f"http://{endpoint}"  # STORAGE_EMULATOR_HOST may be host:port
    return gcsfs.GCSFileSystem(**config.with_storage_options("gs", dict(
        skip_instance_cache=True, token=token, endpoint_url=endpoint, timeout=_timeout("gs"), retries=DEFAULT_RETRIES)))


def _azure(container: str | None) -> Any:
    adlfs = require("adlfs", "az:// URIs")
    _check_http_version("az")
    creds = config.credentials_for("az", container)
    endpoint = config.endpoint_for("az")
    options: dict[str, Any] = {}
    if creds is not None and creds.method in ("azure_key", "azure_sas"):
        account = creds.get("account_name")
        options["account_name"] = account
        if creds.method == "azure_key":
            options["account_key"] = creds.get("account_key")
        else:
            options["sas_token"] = creds.get("sas_token")
        if endpoint is not None:
            secret = f"AccountKey={options.pop('account_key')}" if "account_key" in options else \
                f"SharedAccessSignature={options.pop('sas_token')}"
            options = {"connection_string": f"DefaultEndpointsProtocol={endpoint.split('://')[0]};"
                                            f"AccountName={account};{secret};BlobEndpoint={endpoint};"}
    else:
        options["account_name"] = (os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
                                   or os.environ.get("AZURE_STORAGE_ACCOUNT"))
        connection = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        if connection:
            options = {"connection_string": connection}
    return adlfs.AzureBlobFileSystem(**config.with_storage_options("az", dict(skip_instance_cache=True, **options)))


def _hf(scheme: str, repo: str | None) -> Any:
    hub = require("huggingface_hub", f"{scheme}:// URIs")
    creds = config.credentials_for(scheme, repo)
    token = creds.get("token") if creds is not None and creds.method == "hf_token" else None
    return hub.HfFileSystem(**config.with_storage_options(scheme, dict(
        token=token, endpoint=config.endpoint_for(scheme), skip_instance_cache=True)))


def _http(scheme: str) -> Any:
    aiohttp = require("aiohttp", f"{scheme}:// URIs")
    from fsspec.implementations.http import HTTPFileSystem

    _check_http_version("https")
    timeout = _timeout("https")
    return HTTPFileSystem(**config.with_storage_options(scheme, dict(
        skip_instance_cache=True, client_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout)})))
