"""``loader.stats()``: where a loader's time goes, per stage, and what bounds it.

Stages (seconds summed over all threads, with the number of timed calls):

- ``source``: pulling records from the record source and preparing them (per-record maps,
  ``context``, slot lookup);
- ``read``: reading payloads (files, URIs, lazy readers);
- ``decode`` / ``transform``: the slot chains' decoders and transforms (on the GPU executor,
  the graph's work counts as ``decode`` once a batch is collected);
- ``collate``: assembling delivered batches (compaction, batch transforms, per-batch maps);
- ``wait``: the consumer blocked in ``next()`` waiting for a batch.

Worker stages run in parallel, so their sums are divided by the pool size to compare them
with the consumer's wall time; the largest share names the bottleneck.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

STAGES = ("source", "read", "decode", "transform", "collate", "wait")
WORKER_STAGES = ("read", "decode", "transform")


class StageClock:
    """Thread-safe stage totals for one loader (cumulative over its epochs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds = dict.fromkeys(STAGES, 0.0)
        self._calls = dict.fromkeys(STAGES, 0)
        self.started = time.perf_counter()
        self.batches = 0
        self.records = 0
        self.failed_rows = 0

    def add(self, stage: str, seconds: float, calls: int = 1) -> None:
        with self._lock:
            self._seconds[stage] += seconds
            self._calls[stage] += calls

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start)

    def delivered(self, rows: int, failed: int) -> None:
        with self._lock:
            self.batches += 1
            self.records += rows
            self.failed_rows += failed

    def snapshot(self, *, workers: int, queues: dict[str, int]) -> dict[str, Any]:
        """The dict ``loader.stats()`` returns (see :meth:`dataio.DataLoader.stats`)."""
        with self._lock:
            seconds, calls = dict(self._seconds), dict(self._calls)
            batches, records, failed = self.batches, self.records, self.failed_rows
        elapsed = time.perf_counter() - self.started
        return {
            "elapsed_s": elapsed,
            "batches": batches,
            "records": records,
            "failed_rows": failed,
            "records_per_s": records / elapsed if elapsed > 0 else 0.0,
            "stages": {s: {"seconds": seconds[s], "calls": calls[s],
                           "ms_per_call": 1e3 * seconds[s] / calls[s] if calls[s] else 0.0} for s in STAGES},
            "workers": workers,
            "queues": queues,
            "bottleneck": bottleneck(seconds, workers),
        }


def bottleneck(seconds: dict[str, float], workers: int) -> str:
    """A one-line reading of the stage totals."""
    busy = {s: seconds[s] / max(workers, 1) for s in WORKER_STAGES}
    busy["source"] = seconds["source"]
    busy["collate"] = seconds["collate"]
    if not any(busy.values()) and not seconds["wait"]:
        return "no batches yet"
    stage = max(busy, key=lambda s: busy[s])
    consumer = seconds["wait"] + seconds["collate"]
    if seconds["wait"] < 0.1 * max(consumer, 1e-9) or seconds["wait"] < 0.05 * sum(busy.values()):
        return "the consumer: batches are ready before they are asked for (the loader keeps up)"
    hints = {
        "read": "reading payloads: raise DATAIO_IO_WORKERS or concurrency for remote data, or use faster storage",
        "decode": "decoding: raise DATAIO_CPU_WORKERS, decode at a smaller size, or use the GPU executor",
        "transform": "transforms: raise DATAIO_CPU_WORKERS or move ops to the GPU executor",
        "source": "the record source or per-record maps (single-threaded): make them cheaper",
        "collate": "collation and batch transforms on the consumer thread",
    }
    return hints[stage]
