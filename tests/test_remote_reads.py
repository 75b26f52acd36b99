"""Payloads behind http(s) URIs are read on the IO pool, against a real server on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import dataio


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # the stdlib signature
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static file server for ``tmp_path`` on an ephemeral loopback port."""
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_http_payloads_and_missing_objects(http_root: tuple[str, Path]) -> None:
    pytest.importorskip("aiohttp")
    base, root = http_root
    for i in range(5):
        (root / f"blob{i}.bin").write_bytes(bytes([i]) * (i + 1))
    records = [{"x": f"{base}/blob{i}.bin"} for i in range(5)] + [{"x": f"{base}/absent.bin"}]
    pipe = dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.batch(6))
    with pipe.bind(records).run("numpy") as loader:
        batch = next(iter(loader))
    assert batch.keys == ["blob0", "blob1", "blob2", "blob3", "blob4"]
    assert [r.tolist() for r in batch["x"]] == [[i] * (i + 1) for i in range(5)]
    (error,) = batch.errors
    assert error["stage"] == "read" and error["key"] == "absent" and "absent.bin" in error["message"]


def test_http_ranges(http_root: tuple[str, Path]) -> None:
    pytest.importorskip("aiohttp")
    base, root = http_root
    (root / "data.bin").write_bytes(bytes(range(100)))
    pipe = dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.batch(1))
    record = {"x": {"uri": f"{base}/data.bin", "offset": 10, "size": 4}}
    with pipe.bind([record]).run("numpy") as loader:
        np.testing.assert_array_equal(next(iter(loader))["x"][0], [10, 11, 12, 13])


# -- transient failures: retried with backoff, counted; 404 at once ------------------------------------


class _FlakyHandler(http.server.BaseHTTPRequestHandler):
    """``/<status>-<n>/<name>``: answers ``status`` to the first ``n`` GETs of that path, then the file ``name``
    (its bytes are the name); ``/cut/<name>`` promises more bytes than it sends, every time. Counts GETs."""

    def log_message(self, format: str, *args: object) -> None:  # the stdlib signature
        pass

    def do_GET(self) -> None:
        server = self.server
        with server.lock:  # type: ignore[attr-defined]
            seen = server.gets[self.path] = server.gets.get(self.path, 0) + 1  # type: ignore[attr-defined]
        first, _, name = self.path.strip("/").partition("/")
        body = name.encode()
        if first == "echo":  # the request's X-Test header as the body
            body = self.headers.get("X-Test", "none").encode()
            first = "200-0"
        if first == "cut":
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + 100))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        status, _, times = first.partition("-")
        if seen <= int(times):
            self.send_response(int(status))
            self.send_header("Content-Length", "0")
            if status == "429":
                self.send_header("Retry-After", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, dict[str, int]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FlakyHandler)
    server.gets, server.lock = {}, threading.Lock()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="flaky-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.gets  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_transient_replies_are_retried_and_counted(flaky_server: tuple[str, dict[str, int]],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aiohttp")
    base, gets = flaky_server
    monkeypatch.setenv("DATAIO_IO_RETRIES", "3")
    records = [{"x": f"{base}/503-2/a"}, {"x": f"{base}/429-1/b"}, {"x": f"{base}/500-9/c"},
               {"x": f"{base}/404-9/d"}, {"x": f"{base}/cut/e"}]
    pipe = dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.batch(5))
    with pipe.bind(records).run("numpy") as loader:
        batch = next(iter(loader))
        stats = loader.stats()["io"]
    assert [bytes(v) for v in batch["x"]] == [b"a", b"b"]
    errors = {e["key"]: e["message"] for e in batch.errors}
    assert "gave up after 4 attempts" in errors["c"] and f"{base}/500-9/c" in errors["c"]
    assert "gave up after 4 attempts" in errors["e"]  # a body cut short is a transport failure
    assert "gave up" not in errors["d"] and "404-9/d" in errors["d"]
    assert gets["/404-9/d"] == 1  # a 404 is not retried
    assert gets["/500-9/c"] == 4 and gets["/cut/e"] == 4
    assert stats == {"retries": 2 + 1 + 3 + 3, "failed_reads": 2}


def test_a_direct_read_gives_up_with_an_oserror_naming_the_uri(flaky_server: tuple[str, dict[str, int]],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aiohttp")
    base, gets = flaky_server
    monkeypatch.setenv("DATAIO_IO_RETRIES", "1")
    assert dataio.read(f"{base}/503-1/ok") == b"ok"
    with pytest.raises(ConnectionError, match=r"503-5/no: gave up after 2 attempts") as caught:
        dataio.read(f"{base}/503-5/no")
    assert isinstance(caught.value, OSError) and isinstance(caught.value, dataio.DataIOError)
    with pytest.raises(FileNotFoundError, match="404-5/gone"):
        dataio.read(f"{base}/404-5/gone")
    assert gets["/404-5/gone"] == 1


def test_storage_options_reach_the_filesystem(flaky_server: tuple[str, dict[str, int]]) -> None:
    pytest.importorskip("aiohttp")
    base, _ = flaky_server
    try:
        dataio.configure_storage_options("http", headers={"X-Test": "from-options"})
        assert dataio.read(f"{base}/echo/x") == b"from-options"
        dataio.configure_storage_options("http")  # none: dataio's own settings again
        assert dataio.read(f"{base}/echo/x") == b"none"
        with pytest.raises(ValueError, match="scheme must be one of"):
            dataio.configure_storage_options("ftp", host="x")
    finally:
        dataio.configure_storage_options("http")


def test_an_unreachable_hub_is_a_connection_error_naming_the_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("huggingface_hub")
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DATAIO_IO_RETRIES", "1")
    try:
        dataio.configure_endpoint("hf", f"http://127.0.0.1:{port}")
        with pytest.raises(ConnectionError, match="hf://someone/repo/data.bin"):
            dataio.read("hf://someone/repo/data.bin")
    finally:
        from dataio.io import config

        config.reset()
