"""Host Python per row on the GPU executor's path: what each row costs the CPU before DALI works on it.

A GPU node's throughput is capped by the GIL-held Python each row costs on the host, not by
the GPU: this script measures it stage by stage, single-threaded (so every microsecond here
is GIL-held), on the quick-start pipeline with the graph built on DALI's CPU operators (the
host work is the same as on a GPU):

- ``seeds``: the runtime's per-batch seed work (every record's seed derived and hashed at once,
  as the engine does when it admits a batch), per row;
- ``prepare``: the runtime's per-row work before the executor (maps, slot values, key, payload
  sources) — reads excluded;
- ``run_row``: the executor's per-row work (JPEG header, sample geometry and draws, deferral);
- ``record``: the runtime recording the row's result in the batch;
- ``feed``: feeding a batch of ``--batch-size`` rows to the pipeline, per row.

It prints a table of µs per row (median over ``--repeats`` passes) and, with ``--profile``,
the top functions of a cProfile run of the same work.

    python benchmarks/gpu_host_path.py --images 1024 --batch-size 256 --repeats 5 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from _harness import machine  # noqa: E402


def measure(images: int, batch_size: int, repeats: int, data: Path, profile: bool) -> dict[str, Any]:
    from dataio._demo import quickstart_pipeline
    from dataio._synthetic import write_jpeg_set
    from dataio.gpu.executor import GpuExecutor
    from dataio.gpu.graph import build_pipeline, feed
    from dataio.runtime.assembly import BatchAssembly
    from dataio.runtime.options import validate_run
    from dataio.runtime.rowprep import prepare_row, read_payloads
    from dataio.seeds import derive_many, seed_words

    paths = write_jpeg_set(data, images, seed=0, sizes="imagenet")
    pipe = quickstart_pipeline(batch_size)
    plan = pipe.plan
    options = validate_run(plan, output="numpy", concurrency="auto", on_failure="skip", log_errors=False, order=None,
                           seed=0, context=None, pin_memory=False, ragged="list", device="cpu",
                           emit_empty_batches=True, max_prefetch_bytes=None)
    executor = GpuExecutor(plan, options, on_gpu=False)
    (graph,) = executor.graphs.values()
    pipeline = build_pipeline([graph], batch_size=batch_size, device_id=None, on_gpu=False)
    records = [{"image": p} for p in paths]

    def one_pass(timings: dict[str, float]) -> None:
        for start in range(0, len(records) - batch_size + 1, batch_size):
            assembly = BatchAssembly(plan.slots, 0, batch_size)
            rows = []
            t0 = time.perf_counter()
            seeds = derive_many(0, 0, np.arange(start, start + batch_size, dtype=np.uint64))
            derived = list(zip(seeds.tolist(), seed_words(seeds), strict=True))
            timings["seeds"] += time.perf_counter() - t0
            for position, record in enumerate(records[start:start + batch_size]):
                t0 = time.perf_counter()
                row = prepare_row(plan, record, position=position, index=start + position, seed=0, epoch=0,
                                  derived=derived[position])
                t1 = time.perf_counter()
                read_payloads(row, plan.slots)  # reading the bytes: not host Python to count
                t2 = time.perf_counter()
                result = executor.run_row(row, assembly.outs(position))
                t3 = time.perf_counter()
                assembly.record_row(row, result)
                t4 = time.perf_counter()
                timings["prepare"] += t1 - t0
                timings["run_row"] += t3 - t2
                timings["record"] += t4 - t3
                rows.append(row)
            staged = [item for _, item in assembly.deferred_batches()[0].deferred]
            t0 = time.perf_counter()
            feed(pipeline, [graph], [[s.payload for s in staged]], [[s.sample for s in staged]],
                 [[s.args for s in staged]])
            timings["feed"] += time.perf_counter() - t0
            pipeline.run()  # DALI's own work: not counted

    per_row: dict[str, list[float]] = {k: [] for k in ("seeds", "prepare", "run_row", "record", "feed")}
    counted = (len(records) // batch_size) * batch_size
    one_pass({k: 0.0 for k in per_row})  # warm-up
    for _ in range(repeats):
        timings = {k: 0.0 for k in per_row}
        one_pass(timings)
        for key, seconds in timings.items():
            per_row[key].append(1e6 * seconds / counted)
    result: dict[str, Any] = {"machine": machine(), "rows": counted, "batch_size": batch_size,
                              "us_per_row": {k: statistics.median(v) for k, v in per_row.items()}}
    result["us_per_row"]["total"] = sum(result["us_per_row"].values())
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        one_pass({k: 0.0 for k in per_row})
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        result["profile"] = out.getvalue()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", default=str(ROOT / "_data" / "host_path"))
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile run too")
    args = parser.parse_args()
    result = measure(args.images, args.batch_size, args.repeats, Path(args.data), args.profile)
    print(f"{result['machine']}; {result['rows']} rows, batches of {result['batch_size']}, DALI CPU operators")
    print("| stage | µs per row |\n|---|---:|")
    for stage, value in result["us_per_row"].items():
        print(f"| {stage} | {value:.1f} |")
    if "profile" in result:
        print(result["profile"])


if __name__ == "__main__":
    main()
