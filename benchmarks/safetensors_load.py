"""Loading a ~2 GB sharded safetensors checkpoint: dataio vs the safetensors package vs torch.load.

The checkpoint (float32 tensors, 4 shards written by ``dataio.write_safetensors``) and a
``torch.save`` copy of the same tensors sit in the page cache (read once first), so the
figures compare the loaders, not the disk. Each loader must return every tensor with all
of its pages readable: a checksum over one byte per 4 KiB page is taken from each result,
which makes lazily mapped loaders (dataio) fault their pages in. The limit is the
page-cache copy bandwidth: ``readinto`` of the same bytes into one preallocated buffer.

    python benchmarks/safetensors_load.py --gib 2 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PAGE = 4096


def touch(tensors: dict[str, Any]) -> int:
    """A checksum over one byte per page of every tensor (forces mapped pages in)."""
    total = 0
    for value in tensors.values():
        array = value.numpy() if hasattr(value, "numpy") else value
        total += int(np.asarray(array).reshape(-1).view(np.uint8)[::PAGE].sum())
    return total


def timed(runs: int, body: Callable[[], int]) -> tuple[float, list[float]]:
    body()  # warm-up
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import safetensors.numpy
    import torch

    import dataio

    tensor_bytes = 64 * 2**20
    count = max(1, int(args.gib * 2**30 // tensor_bytes))
    rng = np.random.default_rng(0)
    tensors = {f"layer.{i}.weight": rng.standard_normal(tensor_bytes // 4, dtype=np.float32).reshape(-1, 1024)
               for i in range(count)}
    total = sum(t.nbytes for t in tensors.values())
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as root:
        start = time.perf_counter()
        dataio.write_safetensors(f"{root}/ckpt", tensors, max_shard_size=(total + 3) // 4)
        write_s = time.perf_counter() - start
        torch.save({k: torch.from_numpy(v) for k, v in tensors.items()}, f"{root}/ckpt.pt")
        del tensors
        shards = sorted(str(p) for p in Path(f"{root}/ckpt").glob("*.safetensors"))
        for path in [*shards, f"{root}/ckpt.pt"]:  # into the page cache
            with open(path, "rb") as f:
                while f.read(2**26):
                    pass
        buffer = bytearray(max(os.path.getsize(p) for p in shards))

        def copy_limit() -> int:
            for path in shards:
                with open(path, "rb", buffering=0) as f:
                    f.readinto(buffer)
            return 0

        cases = {
            "page-cache copy (limit)": copy_limit,
            "dataio.read_safetensors (numpy, mmap)": lambda: touch(dataio.read_safetensors(f"{root}/ckpt")),
            "dataio.read_safetensors (torch)": lambda: touch(dataio.read_safetensors(f"{root}/ckpt",
                                                                                     framework="torch")),
            "safetensors.numpy.load_file": lambda: sum(touch(safetensors.numpy.load_file(p)) for p in shards),
            "safetensors safe_open (pt)": lambda: sum(touch(_safe_open(p)) for p in shards),
            "torch.load": lambda: touch(torch.load(f"{root}/ckpt.pt", weights_only=True)),
            "torch.load(mmap=True)": lambda: touch(torch.load(f"{root}/ckpt.pt", weights_only=True, mmap=True)),
        }
        print(f"checkpoint: {total / 2**30:.2f} GiB in {len(shards)} shards; dataio wrote it in {write_s:.2f} s "
              f"({total / 2**30 / write_s:.2f} GiB/s)\n")
        print("| loader | seconds (median) | GiB/s | runs |\n|---|---:|---:|---|")
        for name, body in cases.items():
            median, seconds = timed(args.runs, body)
            print(f"| {name} | {median:.3f} | {total / 2**30 / median:.2f} | "
                  f"{', '.join(f'{s:.3f}' for s in seconds)} |", flush=True)


def _safe_open(path: str) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is not a dict


if __name__ == "__main__":
    main()
