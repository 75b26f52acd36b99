"""Several real processes on 127.0.0.1: ranks found by ``shard="auto"`` from JAX's and torch's own process
groups, and what each rank reads."""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

WORKERS = Path(__file__).parent / "workers"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_processes(commands: list[list[str]], timeout: float = 120) -> list[dict]:
    """Start every command at once; each must exit 0 and print one JSON line last."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    processes = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
                 for c in commands]
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            assert process.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    return results


def test_shard_auto_reads_jax_process_index_and_output_is_jax_arrays() -> None:
    pytest.importorskip("jax")
    port, count = free_port(), 2
    results = run_processes([[sys.executable, str(WORKERS / "jax_rank.py"), str(port), str(i), str(count)]
                             for i in range(count)])
    assert [(r["index"], r["count"]) for r in results] == [(0, 2), (1, 2)]
    for rank, result in enumerate(results):
        assert all(b["is_jax"] for b in result["batches"])
        keys = [k for b in result["batches"] for k in b["keys"]]
        assert keys == [f"r{i}" for i in range(rank, 8, 2)]  # round-robin: rank r takes positions r, r+2, ...
        assert [v for b in result["batches"] for v in b["values"]] == [int(k[1:]) for k in keys]


# -- webdataset shards dealt to torchrun ranks ------------------------------------------------------------


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with byte ranges; counts the body bytes sent per path in ``server.sent``."""

    def log_message(self, format: str, *args: object) -> None:  # the stdlib signature
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        ranged = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
        start, end = (0, len(data) - 1) if not ranged else (
            int(ranged.group(1)), min(int(ranged.group(2) or len(data) - 1), len(data) - 1))
        body = data[start:end + 1]
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        self.wfile.write(body)
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.sent[self.path] = self.server.sent.get(self.path, 0) + len(body)  # type: ignore[attr-defined]

    def do_HEAD(self) -> None:
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(path.stat().st_size))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()


@pytest.fixture
def counting_server(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, int]]]:
    """A file server on 127.0.0.1 for ``tmp_path / "www"`` that counts the bytes it sends per path."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_CountingHandler,
                                                                                directory=str(root)))
    server.sent, server.lock = {}, threading.Lock()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="counting-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, server.sent  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def write_shards(root: Path, shards: int, per_shard: int) -> list[str]:
    """``shard-NN.tar`` files of ``per_shard`` samples ``sS_I`` with a ``.cls`` and a 2 KB ``.bin`` member."""
    keys = []
    for s in range(shards):
        with tarfile.open(root / f"shard-{s:02d}.tar", "w") as tar:
            for i in range(per_shard):
                key = f"s{s}_{i}"
                keys.append(key)
                for extension, data in (("cls", str(s * per_shard + i).encode()), ("bin", bytes([i]) * 2048)):
                    info = tarfile.TarInfo(f"{key}.{extension}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return keys


def torchrun(ranks: int, *args: str) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={ranks}",
               f"--master_port={free_port()}", "--master_addr=127.0.0.1", str(WORKERS / "torch_rank.py"), *args]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-4000:]


def read_results(out: Path, mode: str, ranks: int) -> list[dict]:
    return [json.loads((out / f"{mode}-rank{r}.json").read_text()) for r in range(ranks)]


def test_torchrun_ranks_open_only_their_own_shards(counting_server: tuple[str, Path, dict[str, int]],
                                                   tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("aiohttp")
    base, root, sent = counting_server
    keys = write_shards(root, shards=6, per_shard=4)
    out = tmp_path / "out"
    out.mkdir()
    torchrun(3, "all", f"{base}/shard-{{00..05}}.tar", str(out))
    results = read_results(out, "all", 3)
    assert [(r["rank"], r["world"]) for r in results] == [(0, 3), (1, 3), (2, 3)]
    for rank, result in enumerate(results):  # rank r takes shards r and r + 3, whole and in order
        assert result["keys"] == [f"s{s}_{i}" for s in (rank, rank + 3) for i in range(4)]
    assert sorted(k for r in results for k in r["keys"]) == sorted(keys)
    sizes = {f"/shard-{s:02d}.tar": (root / f"shard-{s:02d}.tar").stat().st_size for s in range(6)}
    assert sent == sizes  # across ranks, each shard's bytes were sent once: the data set's bytes


def test_torchrun_elastic_resume_from_three_ranks_to_two(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    root = tmp_path / "shards"
    root.mkdir()
    keys = write_shards(root, shards=9, per_shard=4)
    out = tmp_path / "out"
    out.mkdir()
    pattern = str(root / "shard-{00..08}.tar")
    torchrun(3, "save", pattern, str(out), "3")  # 3 batches of 2: each rank is 2 samples into its second shard
    saved = read_results(out, "save", 3)
    assert [r["state"]["units"] for r in saved] == [{"start": 0, "skips": [], "position": 1, "offset": 2}] * 3
    for name in ("shard-00.tar", "shard-01.tar", "shard-02.tar"):
        (root / name).write_bytes(b"not a tar " * 200)  # finished shards: a resume that opened them would fail
    torchrun(2, "resume", pattern, str(out))
    resumed = read_results(out, "resume", 2)
    consumed = [k for r in saved for k in r["keys"]] + [k for r in resumed for k in r["keys"]]
    assert sorted(consumed) == sorted(keys)  # every sample once: none lost, none repeated


def test_cache_dir_fetches_each_remote_shard_once_and_stays_bounded(counting_server: tuple[str, Path, dict[str, int]],
                                                                    tmp_path: Path) -> None:
    pytest.importorskip("aiohttp")
    import dataio
    from dataio.sources.shard_cache import ShardCache

    base, root, sent = counting_server
    keys = write_shards(root, shards=4, per_shard=3)
    size = (root / "shard-00.tar").stat().st_size
    cache = tmp_path / "cache"
    pipe = dataio.pipeline(dataio.slot("cls").decode_scalar(), dataio.batch(3))
    source = dataio.webdataset(f"{base}/shard-{{00..03}}.tar", cache_dir=cache)
    with pipe.bind(source).run("numpy", device="cpu") as loader:
        epochs = [[k for b in loader for k in b.keys] for _ in range(2)]
    assert epochs == [keys, keys]
    assert sent == {f"/shard-{s:02d}.tar": size for s in range(4)}  # the second epoch read the local copies
    assert sorted(p.stat().st_size for p in cache.iterdir()) == [size] * 4

    bounded = tmp_path / "bounded"
    source = dataio.webdataset(f"{base}/shard-{{00..03}}.tar", cache_dir=bounded, cache_limit_bytes=2 * size)
    with pipe.bind(source).run("numpy", device="cpu") as loader:
        assert [k for b in loader for k in b.keys] == keys
    assert len(list(bounded.iterdir())) == 2  # the two most recently used

    shared = ShardCache(tmp_path / "shared", None)  # ranks of one machine fetching one shard at once
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda _: shared.local_path(f"{base}/shard-01.tar"), range(8)))
    assert len(set(paths)) == 1 and Path(paths[0]).read_bytes() == (root / "shard-01.tar").read_bytes()
    assert [p.name for p in (tmp_path / "shared").iterdir() if p.name.endswith(".part")] == []
    with pytest.raises(TypeError, match="cache_dir"):
        dataio.webdataset(f"{base}/shard-00.tar", cache_dir=f"{base}/elsewhere")
    with pytest.raises(ValueError, match="needs cache_dir"):
        dataio.webdataset(f"{base}/shard-00.tar", cache_limit_bytes=10)
