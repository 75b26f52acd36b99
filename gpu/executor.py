"""The GPU executor: image slots through the DALI graph, everything else on the CPU kernels.

Per row (pool threads): a graph slot's payload header is read (undecodable payloads and
cap violations become row errors before the graph sees them), its sample is planned on
the host (:mod:`dataio.gpu.sample_plan`) and the row is staged; slots the graph cannot
take, and samples it cannot plan, run through the CPU fallback's kernels right away.
Per batch (``finish_batch``): each graph slot's staged rows are fed to its DALI pipeline
and the outputs written into the batch. If DALI fails the whole batch — one corrupt
payload does that (DALI issue #3913) — every staged row is decoded again on the CPU
path, so the batch survives and only the bad rows become row errors.

``on_gpu=False`` places every graph op on DALI's CPU operators (``device_id=None``): how
CI runs this executor. A graph runs one fed batch at a time (DALI queue depth 1): overlap
comes from the runtime, which keeps ``batch(prefetch=K)`` batches in flight, each fed to
the graph as soon as its rows are staged. Outputs are delivered in host memory for now; handing device
tensors to torch without a copy comes with the GPU session.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataio.cpu_fallback.executor import CpuExecutor
from dataio.formats.image_header import read_header
from dataio.ops._base import TensorSpec
from dataio.plan import Plan
from dataio.runtime.assembly import Assembly
from dataio.runtime.batch import BatchContent
from dataio.runtime.chain import ChainContext
from dataio.runtime.records import INACTIVE
from dataio.runtime.rowprep import PreparedRow
from dataio.runtime.rows import RowFailure

from dataio.gpu.graph import SlotGraph, build_pipeline, feed, graph_slots
from dataio.gpu.sample_plan import SamplePlan, plan_sample


GRAPH_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "TIFF", "WEBP", "PPM")
"""Formats staged for the graph; DALI applies EXIF orientation like Pillow (tested bit-exact)."""


@dataclass(slots=True)
class CachedGraph:
    """A built pipeline shared by every executor of the same plan, slot and device; one batch at a time."""

    batch_size: int
    pipeline: Any
    lock: threading.Lock


_GRAPHS: dict[tuple[str, int, str, bool], CachedGraph] = {}
_GRAPHS_LOCK = threading.Lock()


@dataclass(slots=True)
class GraphStats:
    """What the graph did, so a silent fallback to the CPU path is visible (tests, diagnostics).

    Attributes:
        graph_rows: rows whose slot value came out of a DALI graph.
        failed_batches: graph runs DALI failed (their rows went through the CPU path).
        cpu_reruns: rows decoded again on the CPU after a failed graph run.
    """

    graph_rows: int = 0
    failed_batches: int = 0
    cpu_reruns: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


@dataclass(frozen=True, slots=True)
class StagedRow:
    """A row waiting for its slot's graph run."""

    row: PreparedRow
    payload: Any
    sample: SamplePlan


class GpuExecutor:
    """Runs a plan's graph-capable image slots through DALI, the rest through the CPU kernels."""

    name = "gpu"

    def __init__(self, plan: Plan, device: str, *, on_gpu: bool = True, num_threads: int = 2) -> None:
        self.plan = plan
        self.device = device
        self.on_gpu = on_gpu
        self.cpu = CpuExecutor(plan)
        self.graphs = {g.index: g for g in graph_slots(plan)}
        self._device_id = int(device.partition(":")[2] or 0) if on_gpu else None
        self._num_threads = num_threads
        self.stats = GraphStats()

    # -- per row (pool threads) -------------------------------------------------------------

    def process_row(self, assembly: Assembly, row: PreparedRow) -> None:
        """Stage graph slots, run the other slots on the CPU; a failing slot fails the row."""
        for index in range(len(self.plan.slots)):
            graph = self.graphs.get(index)
            if graph is not None and row.sources[index] is not INACTIVE:
                staged = self._stage(assembly, graph, row)
                if staged is False:
                    return
                if staged:
                    continue
            if not self.cpu.run_slot(assembly, row, index):
                return

    def _stage(self, assembly: Assembly, graph: SlotGraph, row: PreparedRow) -> bool | None:
        """``True``: staged; ``None``: run this sample on the CPU; ``False``: the row failed."""
        index, position = graph.index, row.position
        slot = self.plan.slots[index]
        payload = row.payloads[index]
        label = row.sources[index].label
        try:
            header = read_header(payload)
        except ValueError as exc:
            failure = RowFailure("decode", "decoders.image", f"{label}: {exc}")
            assembly.fail(position, failure.as_dict(position, row.key, slot.name))
            return False
        if header.format not in GRAPH_FORMATS:
            return None  # formats the CPU decoder covers more completely
        violation = slot.decoder.cap_violation(header.height, header.width, graph.channels)  # type: ignore[attr-defined]
        if violation is not None:
            failure = RowFailure("decode", "decoders.image", f"{label}: {violation}")
            assembly.fail(position, failure.as_dict(position, row.key, slot.name))
            return False
        ctx = ChainContext(row.record, row.seed, repr(row.key), label)
        try:
            sample = plan_sample(graph.geometry, header.height, header.width, ctx)
        except RowFailure as failure:
            assembly.fail(position, failure.as_dict(position, row.key, slot.name))
            return False
        if sample is None:
            return None
        assembly.hws[index][position] = (header.height, header.width)
        assembly.staged.setdefault(index, []).append(StagedRow(row, payload, sample))
        return True

    # -- per batch ---------------------------------------------------------------------------------

    def finish_batch(self, assembly: Assembly) -> None:
        """Run each graph slot's staged rows through its pipeline; on a graph failure, decode them on the CPU."""
        for index, staged in assembly.staged.items():
            staged = [s for s in staged if s.row.position not in assembly.failures]
            if not staged:
                continue
            try:
                outputs = self._run_graph(index, staged, assembly.size)
            except Exception:  # noqa: BLE001 - DALI fails the whole batch for one bad sample
                self.stats.add(failed_batches=1, cpu_reruns=len(staged))
                self._rerun_on_cpu(assembly, index, staged)
                continue
            self.stats.add(graph_rows=len(staged))
            for item, value in zip(staged, outputs, strict=True):
                try:
                    assembly.put(index, item.row.position, value)
                except RowFailure as failure:
                    assembly.fail(item.row.position, failure.as_dict(item.row.position, item.row.key,
                                                                     self.plan.slots[index].name))

    def _run_graph(self, index: int, staged: list[StagedRow], capacity: int) -> list[np.ndarray]:
        graph = self.graphs[index]
        cached = self._graph(graph, max(capacity, len(staged)))
        with cached.lock:  # a DALI pipeline runs one batch at a time
            try:
                feed(cached.pipeline, [graph], [[s.payload for s in staged]], [[s.sample for s in staged]])
                (out,) = cached.pipeline.run()
            except Exception:
                self._forget(graph)  # its state is unknown after a failure: rebuild next time
                raise
            host = out.as_cpu() if self.on_gpu else out
            return [np.array(host[i]) for i in range(len(staged))]

    def _key(self, graph: SlotGraph) -> tuple[str, int, str, bool]:
        return self.plan.signature, graph.index, self.device, self.on_gpu

    def _graph(self, graph: SlotGraph, batch_size: int) -> CachedGraph:
        """The process-wide pipeline for (plan signature, slot, device), rebuilt for a larger batch."""
        with _GRAPHS_LOCK:
            cached = _GRAPHS.get(self._key(graph))
            if cached is None or cached.batch_size < batch_size:
                pipeline = build_pipeline([graph], batch_size=batch_size, device_id=self._device_id,
                                          on_gpu=self.on_gpu, num_threads=self._num_threads, prefetch=1)
                cached = CachedGraph(batch_size, pipeline, threading.Lock())
                _GRAPHS[self._key(graph)] = cached
            return cached

    def _forget(self, graph: SlotGraph) -> None:
        with _GRAPHS_LOCK:
            _GRAPHS.pop(self._key(graph), None)

    def _rerun_on_cpu(self, assembly: Assembly, index: int, staged: list[StagedRow]) -> None:
        """Per-sample isolation: decode each staged row with the CPU kernels (same plan, same seed)."""
        for item in staged:
            self.cpu.run_slot(assembly, item.row, index)

    def run_batch_transform(self, op: Any, slots: dict[str, int], content: BatchContent,
                            specs: list[TensorSpec], rng: np.random.Generator) -> None:
        """Batch transforms run on the host columns with the CPU kernels."""
        self.cpu.run_batch_transform(op, slots, content, specs, rng)


def create_executor(plan: Plan, device: str) -> GpuExecutor:
    """The GPU executor for ``plan`` on ``device`` (``"cuda:N"``)."""
    return GpuExecutor(plan, device)
