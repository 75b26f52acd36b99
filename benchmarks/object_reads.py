"""Many small objects: 1 000 × 100 KB read from the GCS emulator and from local files.

Side by side, in one process, each after a warm-up, median of ``--runs``:

- ``fsspec loop``: ``fs.cat_file(path)`` one object after another (what a naive Dataset does);
- ``fsspec cat``: ``fs.cat(paths)``, fsspec's own concurrent batch read;
- ``dataio.read loop``: the direct verb, one after another;
- ``dataio pipeline``: a ``decode_bytes`` slot over the URIs, batches of 64, ``concurrency``
  records in flight (reads on the IO pool).

The GCS emulator is fake-gcs-server from the test install, started and stopped here.

    python benchmarks/object_reads.py --objects 1000 --size 102400 --runs 3
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the storage-server helpers the tests use
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


def timed(runs: int, count: int, body: Callable[[], int]) -> tuple[float, list[float]]:
    body()  # warm-up: connections, caches
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        got = body()
        rates.append(got / (time.perf_counter() - start))
        assert got == count, (got, count)
    return statistics.median(rates), rates


def measure(label: str, uris: list[str], fs: object, paths: list[str], runs: int, concurrency: int) -> list[str]:
    import dataio

    pipe = dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.batch(64))
    records = [{"x": u} for u in uris]

    def pipeline() -> int:
        with pipe.bind(records).run("numpy", device="cpu", concurrency=concurrency) as loader:
            return sum(len(b) for b in loader)

    cases = {
        "fsspec loop": lambda: sum(1 for p in paths if fs.cat_file(p)),  # type: ignore[attr-defined]
        "fsspec cat (concurrent)": lambda: len(fs.cat(paths)),  # type: ignore[attr-defined]
        "dataio.read loop": lambda: sum(1 for u in uris if dataio.read(u)),
        f"dataio pipeline (concurrency={concurrency})": pipeline,
    }
    rows = []
    for name, body in cases.items():
        median, rates = timed(runs, len(uris), body)
        rows.append(f"| {label} | {name} | {median:,.0f} | {', '.join(f'{r:,.0f}' for r in rates)} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--size", type=int, default=100 * 1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()

    import fsspec

    import dataio
    from dataio.io.resolve import filesystem, locate
    from storage_servers import fake_gcs_command, serving

    payloads = [os.urandom(args.size) for _ in range(args.objects)]
    print("| source | reader | objects/s (median) | runs |\n|---|---|---:|---|")
    rows = []
    with tempfile.TemporaryDirectory() as root:
        paths = [os.path.join(root, f"{i:05d}.bin") for i in range(args.objects)]
        for path, data in zip(paths, payloads, strict=True):
            Path(path).write_bytes(data)
        rows += measure("local files", paths, fsspec.filesystem("file"), paths, args.runs, args.concurrency)

    with serving("fake-gcs-server", fake_gcs_command) as endpoint:
        dataio.configure_endpoint("gs", endpoint)
        fs = filesystem(locate("gs://bench/x"))
        fs.mkdir("bench")
        keys = [f"bench/{i:05d}.bin" for i in range(args.objects)]
        fs.pipe(dict(zip(keys, payloads, strict=True)))
        rows += measure("GCS emulator", [f"gs://{k}" for k in keys], fs, keys, args.runs, args.concurrency)


if __name__ == "__main__":
    main()
