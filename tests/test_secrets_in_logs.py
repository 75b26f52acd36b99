"""Secrets never printed: with every logger at DEBUG, a write and a read through S3, GCS, Azure and HTTP servers
on 127.0.0.1 leave no credential in any log line (dataio's, the storage clients', the HTTP libraries')."""

from __future__ import annotations

import functools
import http.server
import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from storage_servers import AZURITE_ACCOUNT, AZURITE_KEY

import dataio
from dataio.io import config
from dataio.io.redact import REDACTED, redacted
from dataio.io.resolve import filesystem, locate

S3_KEY_ID, S3_SECRET, S3_TOKEN = "AKIAEXAMPLESECRET001", "s3-secret-value-Zq9x", "session-token-value-Hj7k"
BEARER, PASSWORD = "bearer-token-value-Pq3r", "uri-password-Lm5n"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, captured as formatted text."""
    caplog.set_level(logging.DEBUG)
    for name in ("botocore", "aiobotocore", "s3fs", "gcsfs", "azure", "adlfs", "fsspec", "aiohttp", "urllib3"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield caplog
    finally:
        config.reset()


def _round_trip(root: str) -> None:
    filesystem(locate(root)).mkdir(root.split("://", 1)[1].split("/", 1)[0])
    dataio.write(f"{root}/x.bin", b"payload")
    assert dataio.read(f"{root}/x.bin") == b"payload"
    assert dataio.read(f"{root}/x.bin", offset=1, size=3) == b"ayl"


def _assert_clean(logs: pytest.LogCaptureFixture, *secrets: str) -> None:
    text = logs.text  # what a handler printed: every record, formatted
    assert logs.records, "nothing was logged at DEBUG: the test would prove nothing"
    for secret in secrets:
        assert secret not in text


def test_s3_credentials_never_reach_the_logs(debug_logs: pytest.LogCaptureFixture, s3_endpoint: str) -> None:
    dataio.configure_endpoint("s3", s3_endpoint)
    dataio.configure_credentials("s3", access_key_id=S3_KEY_ID, secret_access_key=S3_SECRET, session_token=S3_TOKEN)
    _round_trip(f"s3://secrets-{uuid.uuid4().hex[:8]}")
    _assert_clean(debug_logs, S3_KEY_ID, S3_SECRET, S3_TOKEN)
    assert REDACTED in debug_logs.text  # botocore did log the signed headers; they were scrubbed


def test_azure_account_key_never_reaches_the_logs(debug_logs: pytest.LogCaptureFixture, azure_endpoint: str) -> None:
    dataio.configure_endpoint("az", azure_endpoint)
    dataio.configure_credentials("az", method="azure_key", account_name=AZURITE_ACCOUNT, account_key=AZURITE_KEY)
    _round_trip(f"az://secrets-{uuid.uuid4().hex[:8]}")
    _assert_clean(debug_logs, AZURITE_KEY)


def test_gcs_debug_logging_reads_and_writes(debug_logs: pytest.LogCaptureFixture, gcs_endpoint: str) -> None:
    dataio.configure_endpoint("gs", gcs_endpoint)
    _round_trip(f"gs://secrets-{uuid.uuid4().hex[:8]}")
    _assert_clean(debug_logs, BEARER)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # the stdlib signature
        pass


def test_http_bearer_tokens_and_uri_passwords_never_reach_the_logs(debug_logs: pytest.LogCaptureFixture,
                                                                    tmp_path: Path) -> None:
    pytest.importorskip("aiohttp")
    (tmp_path / "x.bin").write_bytes(b"payload")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        dataio.configure_storage_options("http", headers={"Authorization": f"Bearer {BEARER}"})
        assert dataio.read(f"http://127.0.0.1:{port}/x.bin") == b"payload"
        dataio.configure_storage_options("http")
        uri = f"http://reader:{PASSWORD}@127.0.0.1:{port}/x.bin"
        assert dataio.read(uri) == b"payload"
        with pytest.raises(FileNotFoundError) as caught:
            dataio.read(uri.replace("x.bin", "absent.bin"))
        assert PASSWORD not in str(caught.value) and "<credentials>@127.0.0.1" in str(caught.value)
        logging.getLogger("dataio").debug("fetched %s with headers %s", uri, {"Authorization": f"Bearer {BEARER}"})
    finally:
        server.shutdown()
        server.server_close()
    _assert_clean(debug_logs, BEARER, PASSWORD)


def test_the_patterns() -> None:
    assert redacted("GET https://u:p@host/x?X-Amz-Signature=abc&sig=def&ok=1") == (
        f"GET https://<credentials>@host/x?X-Amz-Signature={REDACTED}&sig={REDACTED}&ok=1")
    assert redacted("{'Authorization': 'AWS4-HMAC-SHA256 Credential=AKIAXXXXXXXXXXXXXXXX/2026'}") == (
        f"{{'Authorization': '{REDACTED}'}}")
    assert redacted("DefaultEndpointsProtocol=http;AccountName=a;AccountKey=c2VjcmV0;BlobEndpoint=x") == (
        f"DefaultEndpointsProtocol=http;AccountName=a;AccountKey={REDACTED};BlobEndpoint=x")
    assert redacted("x-amz-security-token: FQoGZXIvYXdz") == f"x-amz-security-token: {REDACTED}"
