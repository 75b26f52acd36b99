"""Several real processes on 127.0.0.1: ranks found by ``shard="auto"`` from JAX's and torch's own process
groups, and what each rank reads."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
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
