"""The GPU executor: image slots through the DALI graph, everything else on the CPU kernels.

It speaks the runtime's protocol (:mod:`dataio.runtime.protocol`) and never writes the
runtime's batch state; its per-batch state is its own :class:`GraphRun` list.

Per row, ``run_row`` (pool threads): a graph slot's payload header is read (undecodable
payloads and cap violations become row errors before the graph sees them) and the slot is
*deferred* to the batch's graph run; slots the graph cannot take, and formats it does not
read, run through the CPU fallback's kernels right away. Nothing else runs per row.

Per batch, in two steps so that DALI works ahead of the consumer:

- ``start_batch`` (the thread that finished the batch's last row): each graph slot's
  geometry is planned for the whole batch at once (the core's
  :func:`dataio.ops.geometry.plan_batch`, numpy over the rows; only draws and ``col(...)``
  arguments run per row), the pixel ops' parameters are drawn, and the rows are fed to the
  slot's pipeline (:class:`~dataio.gpu.graph_queue.GraphQueue`, depth = the run's
  prefetch); the call returns. Rows the graph declines (a window past the edge before a
  resample, a drawn operation it does not replay) run on the CPU kernels at collection.
- ``collect_batch`` (the consumer, when the batch is next to deliver): the outputs are
  collected — copied into the slot's column in device memory (the runtime's host buffer in
  DALI's CPU mode) — and rows the host produced are copied in; ``deliver`` then moves the
  batch's other tensor columns to the device and runs the batch transforms there.

If DALI fails a batch — one corrupt payload does that (DALI issue #3913) — every staged
row of it is decoded again on the CPU path (same plan, same seed), so the batch survives
and only the bad rows become row errors; a new pipeline is built for the next batch.

``on_gpu=False`` places every graph op on DALI's CPU operators (``device_id=None``): how
CI runs this executor. ``delivery`` chooses where columns live (:mod:`dataio.gpu.delivery`).
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
from dataclasses import dataclass, field
from functools import partial
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from dataio.cpu_fallback.executor import CpuExecutor
from dataio.formats.image_header import read_header, read_jpeg_header
from dataio.plan import Plan
from dataio.runtime.batch import BatchColumns
from dataio.runtime.chain import ChainContext
from dataio.runtime.options import RunOptions
from dataio.runtime.pools import cpu_pool
from dataio.runtime.protocol import BatchResult, Deferred, RowResult, SlotBatch
from dataio.runtime.rowprep import PreparedRow
from dataio.runtime.rows import RowFailure

from dataio.gpu.delivery import Delivery
from dataio.gpu.graph import SlotGraph, build_pipeline, draw_pixel_args, feed, graph_slots
from dataio.gpu.graph_queue import GraphQueue, Ticket
from dataio.gpu.settings import machine_settings
from dataio.ops.geometry import BatchPlan, plan_batch


GRAPH_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "TIFF", "WEBP", "PPM")
"""Formats staged for the graph; DALI applies EXIF orientation like Pillow (tested bit-exact)."""


@dataclass(slots=True)
class CachedGraph:
    """A built pipeline shared by every executor of the same plan, slot, device and depth."""

    batch_size: int
    queue: GraphQueue


_GRAPHS: dict[tuple[str, int, str, bool, int], CachedGraph] = {}
"""Built pipelines, least recently used first."""
_GRAPHS_LOCK = threading.Lock()
MAX_CACHED_GRAPHS = 8
"""Pipelines kept built at once; past it the least recently used is drained and released (each holds DALI's
working memory and a driver thread)."""
_BUILD_ERRORS: dict[tuple[str, int, str, bool], str] = {}
"""Per (plan signature, slot, device, placement): why its pipeline could not be built. Never retried in this
process: the slot's rows run on the CPU kernels (the first failure is logged on ``dataio``)."""
LOGGER = logging.getLogger("dataio")


def release_graphs() -> None:
    """Drain, stop and drop every cached pipeline (registered ``atexit``).

    DALI has been seen to abort when pipelines are destroyed during interpreter teardown
    (DALI issue #6166); releasing them while the interpreter is whole avoids that.
    """
    with _GRAPHS_LOCK:
        cached = list(_GRAPHS.values())
        _GRAPHS.clear()
    for graph in cached:
        try:
            graph.queue.close()
        except Exception:  # noqa: BLE001 - shutting down: a failed iteration has nobody left to tell
            pass
    del cached


atexit.register(release_graphs)


def _forget_graphs_after_fork() -> None:
    """A forked child cannot use the parent's pipelines (their driver threads are the parent's, and a device
    the parent initialised is unusable): it builds its own on first use. Build errors stay remembered."""
    global _GRAPHS_LOCK
    _GRAPHS_LOCK = threading.Lock()
    _GRAPHS.clear()


os.register_at_fork(after_in_child=_forget_graphs_after_fork)


def _retire(queue: GraphQueue) -> None:
    """Close a replaced queue (broken, or too small) once its submitted batches are done, off the caller's thread:
    their tickets still belong to batches in flight."""
    threading.Thread(target=queue.close, name="dataio-dali-retire", daemon=True).start()


class GraphUnavailable(RuntimeError):
    """The slot's DALI pipeline could not be built earlier in this process."""


@dataclass(slots=True)
class GraphStats:
    """What the graph did, so a silent fallback to the CPU path is visible (tests, diagnostics).

    Attributes:
        graph_rows: rows whose slot value came out of a DALI graph.
        failed_batches: graph runs DALI failed (their rows went through the CPU path).
        cpu_reruns: rows decoded again on the CPU after a failed graph run.
        adopted_columns: columns that are DALI's output buffer itself (no device-to-device copy).
        declined_rows: rows of graph slots run on the CPU kernels instead (a format the graph does not read, a
            sample it cannot plan, or a drawn operation it does not replay).
    """

    graph_rows: int = 0
    failed_batches: int = 0
    cpu_reruns: int = 0
    adopted_columns: int = 0
    declined_rows: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


class StagedRow(NamedTuple):
    """A row deferred to its slot's graph run (the item of its :class:`~dataio.runtime.protocol.Deferred`; a
    named tuple, cheap to make per row)."""

    row: PreparedRow
    payload: Any
    hw: tuple[int, int]
    """The decoded (height, width), from the header."""


@dataclass(slots=True)
class GraphRun:
    """One graph slot's share of a batch, from feeding to collection: this executor's per-batch state.

    Attributes:
        index: the slot.
        share: what the runtime handed over (deferred rows, host buffer, host-produced rows).
        fed: ``(position, staged row)`` of the deferred rows the graph runs, in order (planned in
            :meth:`GpuExecutor.start_batch`).
        declined: the deferred rows the graph declined: the CPU kernels run them at collection.
        contexts: per fed row, its chain context after the graph's draws (the host continues it
            for the chain's tail), or ``None`` when planning read no record.
        layout: ``(shape, dtype)`` of the slot's column ``[size, ...]`` when its rows share one
            shape, ``None`` for per-row values (shapes not fixed).
        column: where the outputs go: the runtime's host buffer, or a column of the executor's own
            (device layout) — DALI's own output adopted as it is when it holds every row of the
            batch in order, else a new array the outputs are copied into. ``None`` until then.
        values: per-row outputs by position when ``layout`` is ``None`` (written by the queue's sink).
        ticket: the fed iteration, or ``None`` when feeding failed.
        error: why feeding failed.
    """

    index: int
    share: SlotBatch
    layout: tuple[tuple[int, ...], Any] | None
    column: Any = None
    values: dict[int, Any] = field(default_factory=dict)
    fed: list[tuple[int, StagedRow]] = field(default_factory=list)
    declined: list[tuple[int, StagedRow]] = field(default_factory=list)
    contexts: list[ChainContext] | None = None
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
        num_threads: DALI's CPU worker threads per pipeline; ``None`` chooses from the machine
            (:func:`dataio.gpu.settings.machine_settings`, ``DATAIO_DALI_THREADS``).
    """

    name = "gpu"

    def __init__(self, plan: Plan, options: RunOptions, *, on_gpu: bool = True, delivery: Delivery | None = None,
                 num_threads: int | None = None) -> None:
        self.plan = plan
        self.device = options.device
        self.on_gpu = on_gpu
        self.cpu = CpuExecutor(plan, options)
        self.clock = self.cpu.clock
        """Stage times, shared with the CPU kernels this executor runs."""
        self.graphs = {g.index: g for g in graph_slots(plan)}
        self._build_keys = {index: (plan.signature, index, self.device, on_gpu) for index in self.graphs}
        """Per graph slot, its key in the process-wide caches (worked out once: every row checks it)."""
        self._device_id = int(self.device.partition(":")[2] or 0) if on_gpu else None
        if delivery is None:
            delivery = Delivery.device(self._device_id) if self._device_id is not None else Delivery.host()
        self.delivery = delivery
        self._num_threads = num_threads
        self._depth = options.prefetch
        self._batch_size = getattr(plan.shape, "size", 1)
        self.stats = GraphStats()

    # -- per row (pool threads) -------------------------------------------------------------

    def run_row(self, row: PreparedRow, buffers: list[np.ndarray | None]) -> RowResult:
        """Defer graph slots to the batch's graph run, run the other slots on the CPU; a failing slot ends the row."""
        return self.cpu.run_row(row, buffers, defer=self._defer)

    def _defer(self, index: int, row: PreparedRow) -> tuple[Deferred, tuple[int, int]] | None:
        """Slot ``index`` of ``row`` staged for the batch's graph run (with its decoded size, from the header), or
        ``None`` to run it on the CPU kernels: not a graph slot, a pipeline that cannot be built here, or a format
        the graph does not read. All a graph row costs the host before its batch is planned.

        Raises:
            RowFailure: an undecodable header or a cap exceeded.
        """
        graph = self.graphs.get(index)
        if graph is None or (_BUILD_ERRORS and self._build_key(graph) in _BUILD_ERRORS):
            return None
        payload = row.payloads[index]
        try:
            header = read_jpeg_header(payload) or read_header(payload)
        except ValueError as exc:
            raise RowFailure("decode", "decoders.image", f"{row.sources[index].label}: {exc}") from None
        if header.format not in GRAPH_FORMATS:  # formats the CPU decoder covers more completely
            self.stats.add(declined_rows=1)
            return None
        violation = graph.decoder.cap_violation(header.height, header.width, graph.channels)
        if violation is not None:
            raise RowFailure("decode", "decoders.image", f"{row.sources[index].label}: {violation}")
        hw = (header.height, header.width)
        return Deferred(StagedRow(row, payload, hw)), hw

    # -- per batch: plan and feed (the thread that finished the last row) -------------------------

    def start_batch(self, slots: dict[int, SlotBatch]) -> list[GraphRun]:
        """Plan and feed each graph slot's deferred rows to its pipeline; outputs are collected in
        :meth:`collect_batch`.

        Raises:
            RecordError: a ``col(...)`` argument's field is missing (fatal, as on the CPU kernels).
        """
        runs = []
        for index, share in slots.items():
            run = self._graph_run(index, share)
            graph = self.graphs[index]
            plan, args = self._plan(graph, run)
            if run.fed:
                feed_slot = partial(_feed_slot, graph, [staged.payload for _, staged in run.fed], plan, args)
                try:
                    queue = self._queue(graph, len(run.fed), [staged.hw for _, staged in run.fed])
                    run.ticket = queue.submit(feed_slot, partial(self._write, run, owned=queue.owns_outputs))
                except Exception as exc:  # noqa: BLE001 - a failed feed is a failed graph batch: CPU rerun
                    run.error = exc
            runs.append(run)
        return runs

    def _plan(self, graph: SlotGraph, run: GraphRun) -> tuple[BatchPlan, list[np.ndarray]]:
        """The batch's geometry (numpy over the rows) and pixel-op draws; sets ``run.fed`` and ``run.declined``.

        Draws per row, in chain order from the row's seed — the CPU kernels' order — so a declined
        row, rerun there from its seed, is the row it would have been.
        """
        staged = run.share.deferred
        hws = np.array([item.hw for _, item in staged], np.int64).reshape(-1, 2)
        contexts = [self.cpu.context(item.row, graph.index) for _, item in staged] if graph.record_dependent else None
        plan = plan_batch(graph.geometry, hws[:, 0], hws[:, 1], contexts, unplanned_on=(RowFailure,))
        planned = plan.planned.copy()
        args = draw_pixel_args(graph, contexts, plan.sizes, planned)
        run.contexts = contexts
        if planned.all():  # the common case: the graph takes the whole batch
            run.fed = staged
            return plan, args
        rows = np.flatnonzero(planned)
        run.fed = [staged[i] for i in rows.tolist()]
        run.declined = [staged[i] for i in np.flatnonzero(~planned).tolist()]
        run.contexts = None if contexts is None else [contexts[i] for i in rows.tolist()]
        self.stats.add(declined_rows=len(run.declined))
        return plan.take(rows), args

    def _graph_run(self, index: int, share: SlotBatch) -> GraphRun:
        """The slot's run, with the runtime's host buffer as its column unless columns are the executor's own."""
        output = self.plan.slots[index].output
        if not output.is_static:
            return GraphRun(index, share, None)
        shape, dtype = output.static_layout
        layout = ((share.size, *shape), dtype)
        return GraphRun(index, share, layout, None if self.delivery.separate else share.buffer)

    def _own_column(self, run: GraphRun) -> Any:
        """The run's column of its own, allocated on first need."""
        if run.column is None:
            run.column = self.delivery.column(*run.layout)  # type: ignore[misc]
        return run.column

    def _write(self, run: GraphRun, outputs: tuple[Any, ...], owned: bool) -> None:
        """The queue's sink, on its driver thread: take one slot's outputs out of DALI's buffers.

        ``owned``: the outputs are this iteration's own (DALI's dynamic executor hands them over):
        a column of every row in order is adopted as it is, and per-row values are views, with no copy.
        """
        (out,) = outputs
        positions = [p for p, _ in run.fed]
        if self.graphs[run.index].tail is not None:  # the host runs the chain's tail on these: host memory
            run.values.update(zip(positions, self.delivery.host_samples(out), strict=True))
            return
        if run.layout is None:
            run.values.update(zip(positions, self.delivery.samples(out, owned=owned), strict=True))
            return
        if self.delivery.separate and owned and run.column is None and positions == list(range(run.share.size)):
            run.column = self.delivery.adopt(out, *run.layout)
            if run.column is not None:
                self.stats.add(adopted_columns=1)
                return
        self.delivery.scatter(self._own_column(run) if self.delivery.separate else run.column, positions, out)

    def _queue(self, graph: SlotGraph, rows: int, sizes: list[tuple[int, int]]) -> GraphQueue:
        """The process-wide pipeline for (plan signature, slot, device, depth), rebuilt when broken or too small.

        ``sizes`` (the batch's decoded sizes) size the hardware decoder's buffers of a new pipeline.
        """
        key = (*self._build_key(graph), self._depth)
        with _GRAPHS_LOCK:
            error = _BUILD_ERRORS.get(self._build_key(graph))
            if error is not None:
                raise GraphUnavailable(error)
            cached = _GRAPHS.pop(key, None)  # re-inserted below: the most recently used
            if cached is None or cached.queue.broken is not None or cached.batch_size < rows:
                batch_size = max(rows, self._batch_size, cached.batch_size if cached is not None else 0)
                settings = machine_settings(self.on_gpu, sizes)
                if self._num_threads is not None:
                    settings = dataclasses.replace(settings, num_threads=self._num_threads)
                try:
                    pipeline = build_pipeline([graph], batch_size=batch_size, device_id=self._device_id,
                                              on_gpu=self.on_gpu, prefetch=self._depth, settings=settings)
                except Exception as exc:
                    self._record_build_error(graph, exc)
                    raise
                if cached is not None:
                    _retire(cached.queue)
                cached = CachedGraph(batch_size, GraphQueue(pipeline, self._depth))
            _GRAPHS[key] = cached
            while len(_GRAPHS) > MAX_CACHED_GRAPHS:
                _retire(_GRAPHS.pop(next(iter(_GRAPHS))).queue)
            return cached.queue

    def _build_key(self, graph: SlotGraph) -> tuple[str, int, str, bool]:
        return self._build_keys[graph.index]

    def _record_build_error(self, graph: SlotGraph, exc: Exception) -> None:
        """Remember (and log, once) that the slot's pipeline cannot be built; its rows go to the CPU kernels."""
        reason = f"{type(exc).__name__}: {exc}"
        _BUILD_ERRORS[self._build_key(graph)] = reason
        LOGGER.warning("GPU executor: the DALI pipeline of slot %r could not be built on %s (%s); the slot's rows "
                       "run on the CPU kernels from now on in this process", graph.name, self.device, reason)

    def counters(self) -> dict[str, Any]:
        """What the graph did (``loader.stats()["executor"]``): rows it produced, failed graph batches, rows
        rerun on the CPU after one, columns handed over without a copy, and per slot the error that kept its
        pipeline from being built."""
        with self.stats.lock:
            counts = {"graph_rows": self.stats.graph_rows, "failed_batches": self.stats.failed_batches,
                      "cpu_reruns": self.stats.cpu_reruns, "adopted_columns": self.stats.adopted_columns,
                      "declined_rows": self.stats.declined_rows}
        errors = {g.name: _BUILD_ERRORS[self._build_key(g)] for g in self.graphs.values()
                  if self._build_key(g) in _BUILD_ERRORS}
        return {**counts, "graph_build_errors": errors}

    # -- per batch: collect (the consumer) -------------------------------------------------------

    def collect_batch(self, handle: list[GraphRun]) -> BatchResult:
        """Collect the graph outputs; rerun a failed graph batch's rows on the CPU; assemble device columns."""
        self.delivery.bind_thread()
        result = BatchResult()
        for run in handle:
            error = run.error
            if run.ticket is not None:
                try:
                    with self.clock.timing("decode"):  # the graph's decode and transforms
                        run.ticket.collect()
                except Exception as exc:  # noqa: BLE001 - DALI fails the whole batch for one bad sample
                    error = exc
            host = dict(run.share.host_rows)  # rows produced on the host, to bring into the column
            if error is None:
                self.stats.add(graph_rows=len(run.fed))
                values = run.values
                if self.graphs[run.index].tail is not None:
                    self._run_tails(run, host, result)
                    values = {}
                self._run_on_cpu(run, run.declined, host, result)
            else:
                LOGGER.debug("GPU executor: slot %r's graph run failed (%s: %s); its rows rerun on the CPU kernels",
                             self.plan.slots[run.index].name, type(error).__name__, error)
                self.stats.add(failed_batches=1, cpu_reruns=len(run.fed))
                values = {}
                self._run_on_cpu(run, run.share.deferred, host, result)
            self._gather(run, host, values, result)
        self.delivery.flush()  # the host rows' copies, before the batch is handed over
        return result

    def _run_tails(self, run: GraphRun, host: dict[int, Any], result: BatchResult) -> None:
        """The rest of each graph row's chain after the graph's part, continuing the row's generator."""
        program, first, index = self.cpu.programs[run.index], self.graphs[run.index].tail, run.index
        contexts = run.contexts or [self.cpu.context(staged.row, index) for _, staged in run.fed]
        items = [(position, (staged, ctx)) for (position, staged), ctx in zip(run.fed, contexts, strict=True)]

        def tail(position: int, item: tuple[StagedRow, ChainContext], out: np.ndarray | None) -> Any:
            return program.run_tail(run.values[position], first, item[1], out, self.clock)

        self._rows_on_pool(run, items, tail, host, result)

    def _run_on_cpu(self, run: GraphRun, rows: list[tuple[int, StagedRow]], host: dict[int, Any],
                    result: BatchResult) -> None:
        """``rows`` through the CPU kernels, same plan and seed: declined rows, or every row of a failed graph
        batch (per-sample isolation)."""
        self._rows_on_pool(run, rows, lambda _, staged, out: self.cpu.run_slot(staged.row, run.index, out)[0], host,
                           result)

    def _rows_on_pool(self, run: GraphRun, items: list[tuple[int, Any]],
                      work: Callable[[int, Any, np.ndarray | None], Any], host: dict[int, Any],
                      result: BatchResult) -> None:
        """``work(position, item, buffer row)`` for every ``(position, item)`` on the CPU pool (the consumer
        waits): values into ``host``, row failures into ``result``."""
        if not items:
            return
        buffer, name = run.share.buffer, self.plan.slots[run.index].name

        def one(entry: tuple[int, Any]) -> tuple[int, Any]:
            position, item = entry
            try:
                return position, work(position, item, None if buffer is None else buffer[position, ...])
            except RowFailure as failure:
                return position, failure

        for position, value in cpu_pool().map(one, items):
            if isinstance(value, RowFailure):
                result.failures[position] = (value, name)
            else:
                host[position] = value

    def _gather(self, run: GraphRun, host: dict[int, Any], values: dict[int, Any], result: BatchResult) -> None:
        """Hand the slot's rows back: a whole column of the executor's own (host rows copied in, one copy
        per batch), or per-row values (host rows moved to the executor's memory)."""
        index = run.index
        if run.layout is None:
            result.values[index] = {**{p: self.delivery.from_host(v) for p, v in host.items()}, **values}
        elif self.delivery.separate:
            column = self._own_column(run)
            rows, fitting = [], []
            for position in sorted(host):
                value = np.asarray(host[position])
                if value.shape == column.shape[1:] and value.dtype == column.dtype:
                    rows.append(position)
                    fitting.append(value)
                else:  # a kernel's output that does not fit the plan's description: this row's failure
                    result.failures[position] = (RowFailure("collate", "collate", f"row value {value.dtype} "
                                                            f"{list(value.shape)} does not fit the slot's column"),
                                                 self.plan.slots[index].name)
            if rows:
                self.delivery.copy_rows(column, rows, fitting)
            result.columns[index] = column
        else:  # the runtime's host buffer: graph rows were scattered into it, reruns wrote into their rows
            result.values[index] = {p: host[p] for p in host if p not in run.share.host_rows}

    # -- delivery (the consumer) ---------------------------------------------------------------

    def deliver(self, content: BatchColumns, transforms: list[tuple[Any, dict[str, int], Any]]) -> None:
        """Move the batch's host tensor columns to where this executor delivers (the device on a GPU), then run
        the batch transforms on the delivered columns with the shared array kernels."""
        self.delivery.place(content)
        self.cpu.deliver(content, transforms)


def _feed_slot(graph: SlotGraph, payloads: list[Any], plan: BatchPlan, args: list[np.ndarray],
               pipeline: Any) -> list[Any]:
    return feed(pipeline, [graph], [payloads], [plan], [args])


def create_executor(plan: Plan, options: RunOptions) -> GpuExecutor:
    """The GPU executor for ``plan`` on ``options.device`` (``"cuda:N"``)."""
    return GpuExecutor(plan, options)
