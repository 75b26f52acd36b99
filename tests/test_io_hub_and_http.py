"""hf:// and hfd:// URIs against our Hub server, and plain http(s) reads from it: read-only verbs and handles."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

import dataio
from dataio.io import config

TOKEN = "hf_secret_token_value"


@pytest.fixture
def hub(hf_endpoint: str) -> Iterator[dict[str, str]]:
    """A model repo and a dataset repo with a few files, and dataio pointed at the Hub."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hf_endpoint, token=TOKEN)
    model, data = f"org/model-{uuid.uuid4().hex[:8]}", f"org/data-{uuid.uuid4().hex[:8]}"
    api.create_repo(model)
    api.create_repo(data, repo_type="dataset")
    buffer = io.BytesIO()
    np.save(buffer, np.arange(5))
    api.upload_file(path_or_fileobj=b"0123456789", path_in_repo="dir/digits.txt", repo_id=model)
    api.upload_file(path_or_fileobj=buffer.getvalue(), path_in_repo="arrays/a.npy", repo_id=data,
                    repo_type="dataset")
    dataio.configure_endpoint("hf", hf_endpoint)
    dataio.configure_credentials("hf", method="hf_token", token=TOKEN)
    try:
        yield {"endpoint": hf_endpoint, "model": model, "data": data}
    finally:
        config.reset()


def test_hub_reads_heads_windows_and_streams(hub: dict[str, str]) -> None:
    uri = f"hf://{hub['model']}/dir/digits.txt"
    assert dataio.read(uri) == b"0123456789"
    assert dataio.read(f"hf://{hub['model']}@main/dir/digits.txt", offset=3, size=4) == b"3456"
    assert dataio.read(uri, offset=8, size=10) == b"89" and dataio.read(uri, offset=50, size=2) == b""
    info = dataio.head(uri)
    assert info.content_length == 10 and info.etag
    assert dataio.exists(uri) and not dataio.exists(f"hf://{hub['model']}/dir/none.txt")
    with pytest.raises(FileNotFoundError, match="none.txt"):
        dataio.read(f"hf://{hub['model']}/dir/none.txt")
    with pytest.raises(FileNotFoundError):
        dataio.read("hf://org/no-such-repo/x.txt")
    with dataio.stream(uri, offset=2, size=5) as s:
        assert s.read_all() == b"23456"
    assert dataio.reader(uri).range(1, 3).read_all() == b"123"


def test_dataset_repos_feed_pipelines(hub: dict[str, str]) -> None:
    records = [{"x": f"hfd://{hub['data']}/arrays/a.npy"}, {"x": f"hfd://{hub['data']}/arrays/missing.npy"}]
    pipe = dataio.pipeline(dataio.slot("x").decode_npy(), dataio.batch(2))
    with pipe.bind(records).run("numpy", device="cpu") as loader:
        (batch,) = list(loader)
    assert batch["x"].tolist() == [[0, 1, 2, 3, 4]]
    assert batch.errors[0]["stage"] == "read" and "missing.npy" in batch.errors[0]["message"]


def test_hub_and_http_are_read_only(hub: dict[str, str]) -> None:
    for call in (lambda: dataio.write(f"hf://{hub['model']}/new.txt", b"x"),
                 lambda: dataio.delete(f"hf://{hub['model']}/dir/digits.txt"),
                 lambda: dataio.ls(f"hf://{hub['model']}"),
                 lambda: dataio.glob(f"hf://{hub['model']}/**/*.txt"),
                 lambda: dataio.writer(f"hfd://{hub['data']}/x.bin"),
                 lambda: dataio.ls(f"{hub['endpoint']}/"),
                 lambda: dataio.write(f"{hub['endpoint']}/x", b"")):
        with pytest.raises(NotImplementedError):
            call()


def test_plain_http_reads_with_ranges_and_headers(hub: dict[str, str]) -> None:
    url = f"{hub['endpoint']}/{hub['model']}/resolve/main/dir/digits.txt"
    assert dataio.read(url) == b"0123456789"
    assert dataio.read(url, offset=4, size=3, headers={"X-Test": "1"}) == b"456"
    assert dataio.head(url).content_length == 10
    with dataio.stream(url) as s:
        assert b"".join(s.iter_bytes(3)) == b"0123456789"
    with pytest.raises(FileNotFoundError, match="nothing.txt"):
        dataio.read(f"{hub['endpoint']}/{hub['model']}/resolve/main/nothing.txt")


def test_gated_repos_need_the_token(hub: dict[str, str]) -> None:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub["endpoint"], token=TOKEN)
    gated = f"org/gated-{uuid.uuid4().hex[:8]}"
    api.create_repo(gated, private=True)
    api.upload_file(path_or_fileobj=b"secret weights", path_in_repo="w.bin", repo_id=gated)
    assert dataio.read(f"hf://{gated}/w.bin") == b"secret weights"
    dataio.configure_credentials("hf", method="hf_token", token="hf_wrong_token")
    with pytest.raises(PermissionError, match="w.bin") as raised:
        dataio.read(f"hf://{gated}/w.bin")
    assert "hf_wrong_token" not in str(raised.value) and TOKEN not in str(raised.value)


def test_network_failures_and_timeouts_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import threading

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nobody listens once the socket closes
    monkeypatch.setenv("DATAIO_IO_RETRIES", "1")
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}"):
        dataio.read(f"http://127.0.0.1:{port}/x.bin")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True)
    thread.start()
    dataio.configure_transport("https", timeout_secs=0.5)
    try:
        with pytest.raises(TimeoutError, match="slow.bin: gave up after 2 attempts"):
            dataio.read(f"http://127.0.0.1:{silent.getsockname()[1]}/slow.bin")
    finally:
        config.reset()
        for connection in accepted:
            connection.close()
        silent.close()
