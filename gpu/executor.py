"""The GPU executor: image slots through the DALI graph, everything else on the CPU kernels.

Per row (pool threads): a graph slot's payload header is read (undecodable payloads and
cap violations become row errors before the graph sees them), its sample is planned on
the host (the core's :func:`dataio.ops.geometry.plan_sample`) and the row is staged; slots the graph cannot
take, and samples it cannot plan, run through the CPU fallback's kernels right away.

Per batch, in two steps so that DALI works ahead of the consumer:

- ``finish_batch`` (the thread that finished the batch's last row): each graph slot's
  staged rows are fed to its pipeline (:class:`~dataio.gpu.graph_queue.GraphQueue`,
  depth = ``batch(prefetch=K)``) and the call returns.
- ``complete_batch`` (the consumer, when the batch is next to deliver): the outputs are
  collected — copied into the slot's column in device memory (host memory in DALI's CPU
  mode) — and ``place`` moves the batch's other tensor columns to the device.

If DALI fails a batch — one corrupt payload does that (DALI issue #3913) — every staged
row of it is decoded again on the CPU path (same plan, same seed), so the batch survives
and only the bad rows become row errors; a new pipeline is built for the next batch.

``on_gpu=False`` places every graph op on DALI's CPU operators (``device_id=None``): how
CI runs this executor. ``delivery`` chooses where columns live (:mod:`dataio.gpu.delivery`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial
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
from dataio.runtime.options import RunOptions
from dataio.runtime.rowprep import PreparedRow
from dataio.runtime.rows import RowFailure

from dataio.gpu.delivery import Delivery
from dataio.gpu.graph import SlotGraph, build_pipeline, feed, graph_slots
from dataio.gpu.graph_queue import GraphQueue, Ticket
from dataio.ops.geometry import SamplePlan, plan_sample


GRAPH_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "TIFF", "WEBP", "PPM")
"""Formats staged for the graph; DALI applies EXIF orientation like Pillow (tested bit-exact)."""


@dataclass(slots=True)
class CachedGraph:
    """A built pipeline shared by every executor of the same plan, slot, device and depth."""

    batch_size: int
    queue: GraphQueue


_GRAPHS: dict[tuple[str, int, str, bool, int], CachedGraph] = {}
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


@dataclass(slots=True)
class GraphRun:
    """One graph slot's share of a batch, from feeding to collection.

    Attributes:
        staged: the rows fed, in feed order.
        column: where the outputs go: the slot's column ``[size, ...]`` (a device array, or
            the assembly's host buffer), or ``None`` for per-row values (shapes not fixed).
        ticket: the fed iteration, or ``None`` when feeding failed.
        error: why feeding failed.
    """

    staged: list[StagedRow]
    column: Any
    ticket: Ticket | None = None
    error: BaseException | None = None


class GpuExecutor:
    """Runs a plan's graph-capable image slots through DALI, the rest through the CPU kernels.

    Args:
        plan: the compiled plan.
        options: the resolved run options: ``device`` (``"cuda:N"``, or ``"cpu"`` in CPU mode) and
            ``prefetch`` (DALI's queue depth, already bounded by ``max_prefetch_bytes``).
        on_gpu: place the graph's ops on the GPU; ``False`` runs DALI's CPU operators.
        delivery: where columns live; default device memory on the GPU, the batch's host
            buffers in CPU mode.
        num_threads: DALI's CPU worker threads per pipeline.
    """

    name = "gpu"

    def __init__(self, plan: Plan, options: RunOptions, *, on_gpu: bool = True, delivery: Delivery | None = None,
                 num_threads: int = 2) -> None:
        self.plan = plan
        self.device = options.device
        self.on_gpu = on_gpu
        self.cpu = CpuExecutor(plan, options)
        self.clock = self.cpu.clock
        """Stage times, shared with the CPU kernels this executor runs."""
        self.graphs = {g.index: g for g in graph_slots(plan)}
        self._device_id = int(self.device.partition(":")[2] or 0) if on_gpu else None
        if delivery is None:
            delivery = Delivery.device(self._device_id) if self._device_id is not None else Delivery.host()
        self.delivery = delivery
        self._num_threads = num_threads
        self._depth = options.prefetch
        self._batch_size = getattr(plan.shape, "size", 1)
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

    # -- per batch: feed (the thread that finished the last row) -------------------------------

    def finish_batch(self, assembly: Assembly) -> None:
        """Feed each graph slot's staged rows to its pipeline; outputs are collected in :meth:`complete_batch`."""
        for index, staged in assembly.staged.items():
            staged = [s for s in staged if s.row.position not in assembly.failures]
            if not staged:
                continue
            run = GraphRun(staged, self._column(assembly, index))
            graph = self.graphs[index]
            feed_slot = partial(_feed_slot, graph, [s.payload for s in staged], [s.sample for s in staged])
            sink = partial(self._write, assembly, index, run)
            try:
                run.ticket = self._queue(graph, len(staged)).submit(feed_slot, sink)
            except Exception as exc:  # noqa: BLE001 - a failed feed is a failed graph batch: CPU rerun
                run.error = exc
            assembly.pending[index] = run

    def _column(self, assembly: Assembly, index: int) -> Any:
        """Where a graph slot's outputs go (see :class:`GraphRun`)."""
        output = self.plan.slots[index].output
        if not output.is_static:
            return None
        if self.delivery.separate:
            return self.delivery.column((assembly.size, *output.shape), output.dtype)
        return assembly.buffers[index]

    def _write(self, assembly: Assembly, index: int, run: GraphRun, outputs: tuple[Any, ...]) -> None:
        """The queue's sink: copy one slot's outputs out of DALI's buffers (under the queue's lock)."""
        (out,) = outputs
        positions = [s.row.position for s in run.staged]
        if run.column is not None:
            self.delivery.scatter(run.column, positions, out)
            return
        for position, value in zip(positions, self.delivery.samples(out), strict=True):
            assembly.values[index][position] = value

    def _queue(self, graph: SlotGraph, rows: int) -> GraphQueue:
        """The process-wide pipeline for (plan signature, slot, device, depth), rebuilt when broken or too small."""
        key = (self.plan.signature, graph.index, self.device, self.on_gpu, self._depth)
        with _GRAPHS_LOCK:
            cached = _GRAPHS.get(key)
            if cached is None or cached.queue.broken is not None or cached.batch_size < rows:
                batch_size = max(rows, self._batch_size, cached.batch_size if cached is not None else 0)
                pipeline = build_pipeline([graph], batch_size=batch_size, device_id=self._device_id,
                                          on_gpu=self.on_gpu, num_threads=self._num_threads, prefetch=self._depth)
                cached = CachedGraph(batch_size, GraphQueue(pipeline, self._depth))
                _GRAPHS[key] = cached
            return cached.queue

    # -- per batch: collect (the consumer) -------------------------------------------------------

    def complete_batch(self, assembly: Assembly) -> None:
        """Collect the graph outputs; rerun a failed graph batch's rows on the CPU; assemble device columns."""
        self.delivery.bind_thread()
        for index, run in assembly.pending.items():
            error = run.error
            if run.ticket is not None:
                try:
                    with self.cpu.clock.timing("decode"):  # the graph's decode and transforms
                        run.ticket.collect()
                except Exception as exc:  # noqa: BLE001 - DALI fails the whole batch for one bad sample
                    error = exc
            if error is None:
                self.stats.add(graph_rows=len(run.staged))
                from_graph = {s.row.position for s in run.staged}
            else:
                self.stats.add(failed_batches=1, cpu_reruns=len(run.staged))
                for item in run.staged:  # per-sample isolation: the CPU kernels, same plan and seed
                    self.cpu.run_slot(assembly, item.row, index)
                from_graph = set()
            if self.delivery.separate:
                self._gather_cpu_rows(assembly, index, run.column, from_graph)
        assembly.pending.clear()

    def _gather_cpu_rows(self, assembly: Assembly, index: int, column: Any, from_graph: set[int]) -> None:
        """Bring the rows the CPU path produced into the slot's separate column (one copy per batch)."""
        skip = from_graph | assembly.failures.keys() | assembly.inactive[index]
        if column is None:
            values = assembly.values[index]
            for position in values.keys() - skip:
                values[position] = self.delivery.from_host(values[position])
            return
        rows = [p for p in range(assembly.size) if p not in skip and p in assembly.keys]
        if rows:
            self.delivery.copy_rows(column, rows, assembly.buffers[index])
        assembly.delivered[index] = column

    def place(self, content: BatchContent) -> None:
        """Move the batch's host tensor columns to where this executor delivers (the device on a GPU)."""
        self.delivery.place(content)

    def run_batch_transform(self, op: Any, slots: dict[str, int], content: BatchContent,
                            specs: list[TensorSpec], rng: np.random.Generator) -> None:
        """Batch transforms run on the delivered columns (device arrays on a GPU) with the shared kernels."""
        self.cpu.run_batch_transform(op, slots, content, specs, rng)


def _feed_slot(graph: SlotGraph, payloads: list[Any], samples: list[SamplePlan], pipeline: Any) -> None:
    feed(pipeline, [graph], [payloads], [samples])


def create_executor(plan: Plan, options: RunOptions) -> GpuExecutor:
    """The GPU executor for ``plan`` on ``options.device`` (``"cuda:N"``)."""
    return GpuExecutor(plan, options)
