"""Host Python per row on the GPU executor's path: what each row costs the CPU before DALI works on it.

A GPU node's throughput is capped by the GIL-held Python each row costs on the host, not by
the GPU. This script measures it two ways, on the quick-start pipeline (``--pipeline
augment``: random resized crop → flip → colour jitter → normalize, whose draws run per row)
with the graph built on DALI's CPU operators (the host work is the same as on a GPU). The
payloads are in memory (read before the clock starts, as from a tar shard or a record file:
reading the bytes is not the host path's cost); ``--payloads files`` reads them from disk
between the stages instead (still not counted).

1. **Stages**, single-threaded (every microsecond here is GIL-held), replaying what the
   loader does per batch of ``--batch-size`` rows:

   - ``seeds``: the runtime's per-batch seed work (every record's seed derived at once, and
     hashed when the chain draws), per row;
   - ``prepare``: the runtime's per-row work before the executor (maps, slot values, key,
     payload sources);
   - ``run_row``: the executor's per-row work (the image header, its checks, deferral);
   - ``record``: the runtime recording the row's result in the batch;
   - ``plan``: the executor planning the batch's geometry (numpy over the rows) and drawing
     the pixel ops' parameters, per row;
   - ``feed``: feeding the batch to the pipeline, per row.

   Median over ``--repeats`` passes (the fastest and slowest pass's totals too: a shared
   machine's neighbours move them); ``--profile`` adds the top functions of a cProfile run.

2. **Loader**: the real ``DataLoader`` with the GPU executor over the same records, one epoch
   per repeat: the CPU time of the loader's Python threads (the pool's workers and the
   consumer), per row, from each thread's CPU clock. It counts what the stages leave out
   (pool tasks, the window's locks, collection) and what threads lose to each other. The
   DALI driver thread is shown apart and left out of the sum: in DALI's CPU mode it also runs
   DALI's operators; its Python work is the ``feed`` stage.

    python benchmarks/gpu_host_path.py --images 1024 --batch-size 256 --repeats 5 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from _harness import machine  # noqa: E402

STAGES = ("seeds", "prepare", "run_row", "record", "plan", "feed")


def measure(images: int, batch_size: int, repeats: int, data: Path, profile: bool,
            pipeline_name: str = "quickstart", payloads: str = "memory") -> dict[str, Any]:
    from dataio._demo import augment_pipeline, quickstart_pipeline
    from dataio._synthetic import write_jpeg_set

    paths = write_jpeg_set(data, images, seed=0, sizes="imagenet")
    pipe = (augment_pipeline if pipeline_name == "augment" else quickstart_pipeline)(batch_size)
    records = [{"image": p.read_bytes() if payloads == "memory" else p} for p in map(Path, paths)]
    counted = (len(records) // batch_size) * batch_size
    replay = _Replay(pipe.plan, records, batch_size)
    per_row: dict[str, list[float]] = {k: [] for k in STAGES}
    replay.one_pass({k: 0.0 for k in STAGES})  # warm-up
    for _ in range(repeats):
        timings = dict.fromkeys(STAGES, 0.0)
        replay.one_pass(timings)
        for key, seconds in timings.items():
            per_row[key].append(1e6 * seconds / counted)
    stages = {k: statistics.median(v) for k, v in per_row.items()}
    totals = [sum(run) for run in zip(*per_row.values(), strict=True)]
    result: dict[str, Any] = {"machine": machine(), "rows": counted, "batch_size": batch_size,
                              "us_per_row": {**stages, "total": sum(stages.values())},
                              "total_min": min(totals), "total_max": max(totals),
                              "loader": _loader_cpu(pipe, records, repeats)}
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        replay.one_pass(dict.fromkeys(STAGES, 0.0))
        profiler.disable()
        out = io.StringIO()
        # dataio's own functions (DALI's run is not host-path work): the largest 20 by their own time
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(r"dataio|/gpu/|cpu_fallback", 20)
        result["profile"] = out.getvalue()
    return result


class _Replay:
    """The loader's per-row and per-batch host work on one thread, stage by stage."""

    def __init__(self, plan: Any, records: list[dict[str, Any]], batch_size: int) -> None:
        from dataio.gpu.executor import GpuExecutor
        from dataio.gpu.graph import build_pipeline

        self.plan, self.records, self.batch_size = plan, records, batch_size
        self.executor = GpuExecutor(plan, _options(plan), on_gpu=False)
        (self.graph,) = self.executor.graphs.values()
        self.pipeline = build_pipeline([self.graph], batch_size=batch_size, device_id=None, on_gpu=False)

    def one_pass(self, timings: dict[str, float]) -> None:
        from dataio.gpu.graph import feed
        from dataio.runtime.assembly import BatchAssembly
        from dataio.runtime.rowprep import prepare_row, read_rows
        from dataio.seeds import derive_many, seed_words

        plan, executor, graph, size = self.plan, self.executor, self.graph, self.batch_size
        for start in range(0, len(self.records) - size + 1, size):
            assembly = BatchAssembly(plan.slots, 0, size)
            t0 = time.perf_counter()
            seeds = derive_many(0, 0, np.arange(start, start + size, dtype=np.uint64))
            words = seed_words(seeds) if plan.draws else [None] * size  # as the engine: words only for draws
            derived = list(zip(seeds.tolist(), words, strict=True))
            timings["seeds"] += time.perf_counter() - t0
            rows = []
            t0 = time.perf_counter()
            for position, record in enumerate(self.records[start:start + size]):
                rows.append(prepare_row(plan, record, position=position, index=start + position, seed=0, epoch=0,
                                        derived=derived[position]))
            timings["prepare"] += time.perf_counter() - t0
            read_rows(rows, plan.slots)  # reading the bytes: not the host path's cost
            t0 = time.perf_counter()  # each stage over the whole batch: no clock calls inside the per-row loops
            results = [executor.run_row(row, assembly.buffers) for row in rows]
            t1 = time.perf_counter()
            for row, result in zip(rows, results, strict=True):
                assembly.record_row(row, result)
            timings["run_row"] += t1 - t0
            timings["record"] += time.perf_counter() - t1
            t0 = time.perf_counter()
            run = executor._graph_run(graph.index, assembly.deferred_batches()[0])
            batch_plan, args = executor._plan(graph, run)  # what start_batch does before DALI is fed
            t1 = time.perf_counter()
            feed(self.pipeline, [graph], [[staged.payload for _, staged in run.fed]], [batch_plan], [args])
            timings["plan"] += t1 - t0
            timings["feed"] += time.perf_counter() - t1
            self.pipeline.run()  # DALI's own work: not counted


def _options(plan: Any) -> Any:
    from dataio.runtime.options import validate_run

    return validate_run(plan, output="numpy", concurrency="auto", on_failure="skip", log_errors=False, order=None,
                        seed=0, context=None, pin_memory=False, ragged="list", device="cpu",
                        emit_empty_batches=True, max_prefetch_bytes=None)


def _loader_cpu(pipe: Any, records: list[dict[str, Any]], repeats: int) -> dict[str, Any]:
    """Per row, the CPU seconds of the loader's Python threads over whole epochs of the real loader (median)."""
    import dataio
    from dataio.gpu.executor import GpuExecutor
    from dataio.runtime.loader import DataLoader

    bound = pipe.bind(records * 4)  # long enough epochs that a loader's per-epoch set-up is not counted per row

    def epoch() -> tuple[int, dict[str, float]]:
        """One epoch; the clocks run from the loader's first batch request to its last batch (its making and
        closing are per-loader costs, not per-row ones)."""
        options = _options(pipe.plan)
        executor = GpuExecutor(pipe.plan, options, on_gpu=False)
        seen: dict[int, tuple[str, float]] = {}
        rows = 0
        with DataLoader(pipe.plan, bound.records, options, executor, dataio.ShardSpec(id=0, of=1)) as loader:
            before = _thread_cpu(seen)
            for batch in loader:
                rows += len(batch)
                _thread_cpu(seen)  # threads may end before the epoch does: sample while they live
            _thread_cpu(seen)
        spent: dict[str, float] = {}
        for ident, (name, seconds) in seen.items():
            name = name.rstrip("0123456789_") or name
            spent[name] = spent.get(name, 0.0) + seconds - before.get(ident, (name, 0.0))[1]
        return rows, spent

    epoch()  # warm-up: pools, the pipeline
    runs = []
    for _ in range(max(repeats, 1)):
        rows, spent = epoch()
        driver = spent.pop(DRIVER_THREAD, 0.0)
        runs.append((1e6 * sum(spent.values()) / rows, {k: 1e6 * v / rows for k, v in sorted(spent.items())},
                     1e6 * driver / rows))
    runs.sort(key=lambda run: run[0])
    total, threads, driver = runs[(len(runs) - 1) // 2]
    return {"us_per_row": total, "threads": threads, "driver": driver}


DRIVER_THREAD = "dataio-dali-driver"


def _thread_cpu(seen: dict[int, tuple[str, float]]) -> dict[int, tuple[str, float]]:
    """Record each live Python thread's CPU seconds in ``seen`` by thread ident; return a copy."""
    for thread in threading.enumerate():
        try:
            seconds = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))  # type: ignore[arg-type]
        except (OSError, TypeError):
            continue  # ended meanwhile
        seen[thread.ident] = (thread.name, seconds)  # type: ignore[index]
    return dict(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", default=str(ROOT / "_data" / "host_path"))
    parser.add_argument("--pipeline", choices=("quickstart", "augment"), default="quickstart")
    parser.add_argument("--payloads", choices=("memory", "files"), default="memory")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile run too")
    args = parser.parse_args()
    result = measure(args.images, args.batch_size, args.repeats, Path(args.data), args.profile, args.pipeline,
                     args.payloads)
    print(f"{result['machine']}; {args.pipeline} pipeline, payloads in {args.payloads}, {result['rows']} rows, "
          f"batches of {result['batch_size']}, DALI CPU operators")
    print("| stage (one thread) | µs per row |\n|---|---:|")
    for stage, value in result["us_per_row"].items():
        print(f"| {stage} | {value:.1f} |")
    print(f"| (total per pass: fastest, slowest) | {result['total_min']:.1f}, {result['total_max']:.1f} |")
    loader = result["loader"]
    print("\n| loader: Python threads' CPU | µs per row |\n|---|---:|")
    for name, value in loader["threads"].items():
        print(f"| {name} | {value:.1f} |")
    print(f"| loader threads | {loader['us_per_row']:.1f} |")
    print(f"| ({DRIVER_THREAD}: feeds, and runs DALI's CPU operators) | {loader['driver']:.1f} |")
    if "profile" in result:
        print(result["profile"])


if __name__ == "__main__":
    main()
