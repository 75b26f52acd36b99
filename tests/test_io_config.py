"""configure_credentials / configure_endpoint / configure_transport: validation, lookup, secrecy."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import dataio
from dataio.io import config

SECRET = "s3cr3t-Value-that-must-not-leak"


@pytest.fixture(autouse=True)
def clean_config() -> Iterator[None]:
    config.reset()
    yield
    config.reset()


def test_credentials_are_validated_per_scheme_and_method() -> None:
    dataio.configure_credentials("s3", access_key_id="AK", secret_access_key=SECRET)  # explicit implied
    assert config.credentials_for("s3", "any").method == "explicit"
    dataio.configure_credentials("s3", method="env_prefix", prefix="MINIO_", bucket="special")
    assert config.credentials_for("s3", "special").method == "env_prefix"  # per-bucket override first
    assert config.credentials_for("s3", "other").method == "explicit"
    assert config.credentials_for("gs", None) is None
    for bad, match in [
        (dict(scheme="ftp", method="default"), "scheme must be one of"),
        (dict(scheme="s3", method="nope"), "unknown method"),
        (dict(scheme="gs", method="hf_token", token="t"), "not a method for gs"),
        (dict(scheme="az", method="azure_key", account_name="a"), "missing account_key"),
        (dict(scheme="hf", method="hf_token", token="t", prefix="X"), "does not use prefix"),
        (dict(scheme="s3", method="explicit", access_key_id="a", secret_access_key="b", color="red"), "unknown"),
        (dict(scheme="s3"), "name a method"),
    ]:
        with pytest.raises(ValueError, match=match):
            dataio.configure_credentials(**bad)


def test_secrets_never_appear_in_reprs_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    dataio.configure_credentials("az", method="azure_key", account_name="acct", account_key=SECRET)
    creds = config.credentials_for("az", None)
    assert SECRET not in repr(creds) and SECRET not in str(creds) and "***" in repr(creds)
    assert creds.get("account_key") == SECRET  # the client still gets it
    with pytest.raises(ValueError) as raised:
        dataio.configure_credentials("az", method="azure_sas", account_name="acct", sas_token=SECRET,
                                     account_key=SECRET)
    assert SECRET not in str(raised.value)
    assert SECRET not in caplog.text


def test_endpoints_and_transport() -> None:
    dataio.configure_endpoint("r2", "https://acct.r2.cloudflarestorage.com/")
    assert config.endpoint_for("r2") == "https://acct.r2.cloudflarestorage.com"
    for url in ("ftp://x", "localhost:9000", "http://", 3):
        with pytest.raises((ValueError, TypeError)):
            dataio.configure_endpoint("s3", url)  # type: ignore[arg-type]
    dataio.configure_transport("default", timeout_secs=5)
    dataio.configure_transport("s3", http_version="h1", readall_chunk_mib=8)
    transport = config.transport_for("s3")
    assert (transport.http_version, transport.timeout_secs, transport.readall_chunk_mib) == ("h1", 5.0, 8)
    with pytest.raises(NotImplementedError, match="HTTP/1.1 only"):
        dataio.configure_transport("s3", http_version="h2")
    with pytest.raises(NotImplementedError, match="reserved"):
        dataio.configure_transport("s3", pool_max_idle=4)
    with pytest.raises(ValueError):
        dataio.configure_transport("s3", timeout_secs=float("inf"))
    with pytest.raises(ValueError):
        dataio.configure_transport("ftp")
    assert config.transport_for("s3").readall_chunk_mib == 8  # failed calls changed nothing


def test_r2_needs_an_endpoint_and_h2_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("s3fs")
    monkeypatch.delenv("R2_ENDPOINT_URL", raising=False)
    with pytest.raises(ValueError, match="r2:// URIs need an endpoint"):
        dataio.read("r2://bucket/key")
    monkeypatch.setenv("DATAIO_S3_HTTP_VERSION", "h2")
    with pytest.raises(NotImplementedError, match="DATAIO_S3_HTTP_VERSION=h2"):
        dataio.read("s3://bucket/key")


def test_an_invalid_http_version_in_the_environment_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("s3fs")
    from dataio.io.resolve import filesystem, locate

    monkeypatch.setenv("DATAIO_S3_HTTP_VERSION", "h3")
    with pytest.warns(RuntimeWarning, match="DATAIO_S3_HTTP_VERSION='h3'"):
        filesystem(locate("s3://bucket/key"))
