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
