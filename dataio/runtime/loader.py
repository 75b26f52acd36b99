"""``DataLoader``: running epochs of a plan over records, judging row failures.

The loader takes ``(plan, records, options, executor)`` — options validated and the
executor chosen by :meth:`dataio.binding.BoundPipeline.run`. Iterating it runs one epoch through an
:class:`~dataio.runtime.engine.Epoch`; this module turns each finished batch
assembly into what the user receives: the ``on_failure`` policy, ``log_errors``,
the :class:`~dataio.Batch`, then the per-batch maps.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sized
from typing import Any

from dataio._errors import PlanError, RowError
from dataio._validate import as_int
from dataio.io.retry import counters as io_counters
from dataio.ops._base import BatchTransform
from dataio.plan import BatchStage, CollateStage, Plan
from dataio.runtime.assembly import BatchAssembly
from dataio.runtime.batch import Batch, BatchColumns
from dataio.runtime.buffers import BufferPool
from dataio.runtime.grouping import batch_records
from dataio.runtime.engine import EpochRun, EpochRunCancelled
from dataio.runtime.options import RunOptions
from dataio.runtime.pools import cpu_pool_size
from dataio.runtime.protocol import Executor
from dataio.seeds import BATCH_STREAM, derive, generator
from dataio.sources.base import RecordSource
from dataio.runtime.sharding import Cursor, ShardSpec, rank_length, rank_records, resolve_shard
from dataio.runtime.fingerprint import records_fingerprint
from dataio.sources.units import UnitCursor, UnitStream

ROWS_LOGGER = logging.getLogger("dataio.rows")
STATE_VERSION = 3
_SKIPPED: Any = object()



NativeBatchOp = tuple[BatchTransform, dict[str, int]]


def bind_batch_transforms(plan: Plan) -> list[NativeBatchOp]:
    """The plan's native batch transforms with their slot parameters resolved to indices.

    Raises:
        KeyError: a batch transform names an unknown slot.
        PlanError: a slot's static description does not suit the op (e.g. ``mixup`` on uint8).
    """
    specs = [s.output for s in plan.slots]
    bound = []
    for stage in plan.batch_maps:
        if isinstance(stage.op, BatchTransform):
            resolve = getattr(stage.op, "resolve", None)
            bound.append((stage.op, resolve(plan.slot_names, specs) if resolve is not None else {}))
    return bound


class DataLoader:
    """Iterate for one epoch of batches; use as a context manager (docs/api.md §4.3).

    Made by ``pipeline.bind(records).run(...)``, which validates ``options`` and creates
    ``executor`` with them.

    Attributes:
        device: where batches are delivered (``"cpu"`` for the CPU fallback).
        executor: ``"cpu_fallback"`` or ``"gpu"``.
    """

    def __init__(self, plan: Plan, records: Any, options: RunOptions, executor: Executor,
                 shard: ShardSpec) -> None:
        self._plan = plan
        self._records = records
        self._options = options
        self._executor = executor
        self._native = bind_batch_transforms(plan)
        self._epoch = 0
        self._seed = options.seed
        self._shard = shard
        self._resume: Cursor | None = None  # where the next iteration starts, after load_state_dict
        self._cursor = Cursor()  # where the current (or last) iteration's stream started
        self._layout = records._unit_layout() if isinstance(records, RecordSource) else None
        """The source's units, when ranks take whole units (dataio.sources.units); else ``None``."""
        self._unit_resume: UnitCursor | None = None  # the units' place for the next iteration
        self._units: UnitStream | None = None  # the current (or last) iteration's stream of units
        self._consumed = 0
        self._clock = executor.clock  # the executor's stages and the runtime's, on one clock
        self._buffers = BufferPool(keep=options.prefetch + 2, pinned=options.pin_memory)
        """Batch buffers reused once consumers let go: ``prefetch`` being filled, the one being delivered and
        the one the training step still holds."""
        self._io_start = io_counters()  # the process's remote-read retries and failures when the loader was made
        self._active: weakref.ref[_EpochIterator] | None = None
        self._run: EpochRun | None = None  # kept so close() waits for its tasks even if the iterator is gone
        self._closed = False

    @property
    def device(self) -> str:
        """Where batches are delivered: ``"cpu"`` or ``"cuda:N"``."""
        return self._executor.device

    @property
    def executor(self) -> str:
        """The executor running the plan: ``"cpu_fallback"`` or ``"gpu"``."""
        return self._executor.name

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise RuntimeError(f"DataLoader.{what}: the loader is closed")

    def _active_iterator(self) -> _EpochIterator | None:
        active = self._active() if self._active is not None else None
        return active if active is not None and not active.finished else None

    def __iter__(self) -> Iterator[Any]:
        self._check_open("__iter__")
        if self._active_iterator() is not None:
            raise RuntimeError("DataLoader: another iteration is still active; finish or close it first")
        cursor, self._resume = self._resume or Cursor(), None
        self._cursor = cursor
        self._consumed = cursor.skip
        options = self._options
        size = getattr(self._plan.shape, "size", 1)
        base = 0  # records consumed before the stream's first (a unit stream starts after them)
        if self._layout is not None:
            units, self._unit_resume = self._unit_resume or UnitCursor(), None
            self._units = UnitStream(self._records, self._layout, self._shard, seed=self._seed, epoch=self._epoch,
                                     cursor=units, consumed=cursor.skip)
            base = cursor.skip
            batches = batch_records(self._plan.shape, self._units, first_number=cursor.batch_offset + -(-base // size))
        else:
            stream = rank_records(self._epoch_records(), self._shard, seed=self._seed, epoch=self._epoch,
                                  batch_size=size, global_start=cursor.global_start)
            batches = batch_records(self._plan.shape, stream, skip_records=cursor.skip,
                                    first_number=cursor.batch_offset)
        run = EpochRun(self._plan, self._executor, batches,
                       epoch=self._epoch, seed=self._seed, concurrency=options.concurrency,
                       prefetch=options.prefetch, order=options.order, context=options.context, clock=self._clock,
                       buffers=self._buffers)
        if self._run is not None:
            self._run.cancel()  # an abandoned epoch: make sure none of its work is still running
        self._run = run
        iterator = _EpochIterator(self, run, base)
        self._active = weakref.ref(iterator)
        return iterator

    def _epoch_records(self) -> Iterable[Any]:
        records = self._records
        if isinstance(records, RecordSource):
            return records.epoch_records(self._seed, self._epoch)  # shuffles by (seed, epoch)
        if not callable(records):
            return records
        produced = records()
        if isinstance(produced, (str, bytes)) or not isinstance(produced, Iterable):
            raise TypeError(f"bind(records=factory): the factory returned a {type(produced).__name__}, "
                            "not an iterable of records")
        return produced

    def __len__(self) -> int:
        return batch_count(self._plan, self._records, self._shard)

    # -- delivery (consumer thread) ----------------------------------------------------------

    def _deliver(self, assembly: BatchAssembly) -> Any:
        """The user-facing result of one finished batch, or ``_SKIPPED`` for a dropped empty batch."""
        survivors = assembly.survivors()
        errors = [assembly.failures[p] for p in sorted(assembly.failures)]
        self._judge(assembly, survivors, errors)
        if not survivors and errors and self._options.on_failure == 0 and not self._options.emit_empty_batches:
            return _SKIPPED
        self._log(errors)
        options = self._options
        content = BatchColumns(
            columns=assembly.columns(survivors),
            keys=[assembly.keys[p] for p in survivors],
            indices=survivors,
            context=[assembly.contexts[p] for p in survivors] if options.context is not None else None,
            hws=assembly.original_hws(survivors),
        )
        self._executor.deliver(content, self._batch_transforms(content, assembly.number))
        result: Any = Batch(
            slot_names=self._plan.slot_names, columns=content.columns, adapter=options.adapter,
            ragged=options.ragged, keys=content.keys, indices=content.indices, errors=errors,
            context=content.context, original_hws=content.hws, batch_number=assembly.number,
            masks=content.masks,
        )
        for stage in self._plan.batch_maps:
            if not isinstance(stage.op, BatchTransform):
                result = stage.op(result)
        return result

    def _batch_transforms(self, content: BatchColumns, number: int) -> list[tuple[BatchTransform, dict[str, int], Any]]:
        """The native batch transforms with their slot indices and generators (docs/api.md §4.7)."""
        if not content.keys:
            return []
        bound = []
        for position, (op, slots) in enumerate(self._native):
            stream = BATCH_STREAM + position
            seed = derive(self._seed, self._epoch, number, stream)
            if getattr(op, "seed", None) is not None:
                seed = derive(op.seed, 0, seed, stream)  # type: ignore[attr-defined]
            bound.append((op, slots, generator(seed)))
        return bound

    def _judge(self, assembly: BatchAssembly, survivors: list[int], errors: list[dict[str, Any]]) -> None:
        policy = self._options.on_failure
        if not errors:
            return
        if policy == "strict":
            first = errors[0]
            more = len(errors) - 1
            raise RowError(
                f"batch {assembly.number}, row {first['index']} (key {first['key']!r}) failed in "
                f"{first['stage']} ({first['op']}): {first['message']}"
                + (f"; {more} further row{'s' * (more != 1)} of this batch failed" if more else ""),
                errors,
            )
        needed = 1 if policy == "skip" else policy
        if len(survivors) < needed:  # type: ignore[operator]
            raise RowError(
                f"batch {assembly.number}: {len(survivors)} of {assembly.size} rows survived, fewer than "
                f"{needed} (on_failure={policy!r}); first error: {errors[0]['message']}",
                errors,
            )

    def _log(self, errors: list[dict[str, Any]]) -> None:
        log = self._options.log_errors
        if log is False:
            return
        for error in errors:
            if log is True:
                ROWS_LOGGER.warning("row %s (key %r) failed in %s (%s): %s", error["index"], error["key"],
                                    error["stage"], error["op"], error["message"])
            else:
                log(error)

    # -- observability -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Where this loader's time went since ``run()``, and what bounds it.

        Returns:
            ``elapsed_s``, ``batches``, ``records`` and ``failed_rows`` delivered,
            ``records_per_s``; ``stages``: per stage (``source``, ``read``, ``decode``,
            ``transform``, ``collate``, ``wait``) the ``seconds`` summed over threads, ``calls``
            and ``ms_per_call``; ``workers`` (CPU pool threads); ``queues``: records in flight,
            batches open and ready in the current epoch; ``bottleneck``: a one-line hint;
            ``executor``: the executor's own counters (the GPU executor: ``graph_rows``,
            ``failed_batches``, ``cpu_reruns``, ``graph_build_errors`` by slot; empty for the CPU fallback);
            ``io``: remote reads ``retries`` and ``failed_reads`` (given up after the retries) in this
            process since the loader was made (docs/io.md, "Transient failures").
        """
        run = self._run
        queues = run.depths() if run is not None else {"records_in_flight": 0, "batches_open": 0,
                                                       "batches_ready": 0}
        io_now = io_counters()
        return {**self._clock.snapshot(workers=cpu_pool_size(), queues=queues), "executor": self._executor.counters(),
                "io": {name: io_now[name] - self._io_start[name] for name in io_now}}

    # -- state ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Where the loader is: epoch, records consumed, seed, signature (docs/api.md §4.8)."""
        self._check_open("state_dict")
        return {
            "version": STATE_VERSION,
            "epoch": self._epoch,
            "samples_consumed": self._consumed,
            "output_order": self._options.order,
            "rng_seed": self._seed,
            "pipeline_signature": self._plan.signature,
            "shard": self._shard.as_dict(),
            "global_start": self._cursor.global_start,
            "batch_offset": self._cursor.batch_offset,
            **({"units": self._unit_cursor().as_dict()} if self._layout is not None else {}),
            "records": records_fingerprint(self._records),
        }

    def _unit_cursor(self) -> UnitCursor:
        """Where this rank stands in its units (a unit source): a loaded place not yet used, else the place
        after the records consumed."""
        if self._unit_resume is not None:
            return self._unit_resume
        if self._units is None or self._consumed == 0:
            return UnitCursor()
        return self._units.cursor_at(self._consumed)

    def load_state_dict(self, state: dict[str, Any], *, elastic: bool = False) -> None:
        """Resume from ``state`` at the next iteration (from the start of the batch in progress).

        Args:
            state: from :meth:`state_dict`.
            elastic: accept a state saved under another number of ranks (or by another rank):
                the epoch's not-yet-consumed records are dealt over this loader's ranks
                (``docs/sharding.md`` states the rule). Without it a shard mismatch is an error.

        Raises:
            RuntimeError: an iteration is active, or the loader is closed.
            TypeError / ValueError: see docs/api.md §4.8.
        """
        self._check_open("load_state_dict")
        if self._active_iterator() is not None:
            raise RuntimeError("DataLoader.load_state_dict: an iteration is active; finish or close it first")
        _validate_state(state, self._plan.signature, self._shard, elastic=elastic)
        _validate_records(state, self._records, self._plan)
        self._epoch = state["epoch"]
        self._seed = state["rng_seed"]
        cursor = Cursor(state.get("global_start", 0), state["samples_consumed"], state.get("batch_offset", 0))
        saved = state["shard"]
        units = None
        if self._layout is not None:
            if "units" not in state:
                raise PlanError("load_state_dict: the state has no 'units' entry, and this loader reads a source "
                                "whose ranks take whole shards; it was saved by a loader over other records")
            units = UnitCursor.from_state(state["units"])
        if saved["of"] != self._shard.of:  # elastic: deal what the old ranks left over the new ones
            size = getattr(self._plan.shape, "size", 1)
            if units is not None:
                units = units.redealt(saved["of"])
                cursor = Cursor(0, 0, cursor.batch_offset + -(-cursor.skip // size))
            else:
                cursor = cursor.redealt(saved["of"], size)
        self._resume = cursor
        self._unit_resume = units
        self._consumed = cursor.skip

    @property
    def epoch(self) -> int:
        """The epoch the next iteration runs (it advances when an iteration runs to its end)."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Run epoch ``epoch`` from its start at the next iteration — its record order, shuffle and draws — as
        ``torch.utils.data.DistributedSampler.set_epoch`` does; for training loops that stop an epoch early
        (an iteration left before its end does not advance the epoch). A resume point loaded with
        :meth:`load_state_dict` and not yet used is dropped.

        Raises:
            RuntimeError: an iteration is active, or the loader is closed.
            TypeError / ValueError: ``epoch`` is not an int >= 0.
        """
        self._check_open("set_epoch")
        if self._active_iterator() is not None:
            raise RuntimeError("DataLoader.set_epoch: an iteration is active; finish or close it first")
        self._epoch = as_int("set_epoch", "epoch", epoch, minimum=0)
        self._resume = None
        self._unit_resume = None
        self._units = None
        self._consumed = 0
        self._cursor = Cursor()

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the active iteration (bounded wait) and refuse further use. Idempotent."""
        if self._closed:
            return
        self._closed = True
        active = self._active() if self._active is not None else None
        if active is not None:
            active.finished = True
        if self._run is not None:
            self._run.cancel()  # also when the iterator was already dropped (cancelled without waiting)
        self._buffers.clear()

    def __enter__(self) -> DataLoader:
        self._check_open("__enter__")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.close()
        except Exception:  # never replace the body's exception
            if exc[0] is None:
                raise

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"epoch {self._epoch}"
        return f"DataLoader(executor={self.executor!r}, device={self.device!r}, {state})"


def batch_count(plan: Plan, records: Any, shard: ShardSpec) -> int:
    """Batches per epoch on ``shard``'s rank (``len(loader)``).

    Raises:
        TypeError: unsized or factory records, or a ``group_by`` plan (known only while iterating).
    """
    shape = plan.shape
    if callable(records) or not isinstance(records, Sized):
        raise TypeError("len(loader): the record source has no known length")
    n = len(records)
    if isinstance(shape, BatchStage):
        return rank_length(n, shard, shape.size, drop_last=shape.drop_last)
    if isinstance(shape, CollateStage):
        return n
    raise TypeError("len(loader): group_by batches are only known while iterating")


def _validate_state(state: Any, signature: str, shard: ShardSpec, *, elastic: bool) -> None:
    if not isinstance(state, Mapping):
        raise TypeError(f"load_state_dict(state=...): expected a dict; got {type(state).__name__}")
    required = ("version", "epoch", "samples_consumed", "output_order", "rng_seed", "pipeline_signature", "shard")
    missing = [k for k in required if k not in state]
    if missing:
        raise PlanError(f"load_state_dict: state is missing {', '.join(missing)}")
    if state["version"] != STATE_VERSION:
        raise PlanError(f"load_state_dict: unsupported state version {state['version']!r} (expected {STATE_VERSION})")
    for key in ("epoch", "samples_consumed", "rng_seed", "global_start", "batch_offset"):
        value = state.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PlanError(f"load_state_dict: {key} must be a non-negative int; got {value!r}")
    if state["rng_seed"] >= 2**64:
        raise PlanError(f"load_state_dict: rng_seed must be < 2**64; got {state['rng_seed']}")
    if state["output_order"] not in ("submit", "completion"):
        raise PlanError("load_state_dict: output_order must be 'submit' or 'completion'; "
                        f"got {state['output_order']!r}")
    if state["pipeline_signature"] != signature:
        raise PlanError("load_state_dict: the state was saved by a different pipeline (signature "
                        f"{str(state['pipeline_signature'])[:16]}… != {signature[:16]}…)")
    _validate_saved_shard(state["shard"], shard, elastic=elastic)
    if state["output_order"] == "completion" and state["samples_consumed"] > 0:
        raise PlanError("load_state_dict: a mid-epoch state saved under order='completion' cannot be resumed "
                        "exactly; save it under order='submit'")


def _validate_records(state: Mapping[str, Any], records: Any, plan: Plan) -> None:
    """The state was saved over these records, and its place lies inside the saving rank's epoch of them."""
    saved, ours = state.get("records"), records_fingerprint(records)
    if saved is not None and ours is not None and saved != ours:
        raise PlanError(f"load_state_dict: the state was saved over other records (fingerprint {saved} != {ours}): "
                        "bind the records the loader was saved with")
    if not isinstance(plan.shape, BatchStage):  # collate/group_by count records inside items: no bound to check
        return
    try:  # the saving rank's epoch over these records (its own layout: pad and sticky included)
        capacity = batch_count(plan, records, resolve_shard(state["shard"])) * plan.shape.size
    except TypeError:  # the records' number is unknown: nothing to check against
        return
    if state["samples_consumed"] > capacity:
        raise PlanError(f"load_state_dict: the state has {state['samples_consumed']} records consumed, past the "
                        f"{capacity} of the saving rank's epoch: it was saved over other records")


def _validate_saved_shard(saved: Any, shard: ShardSpec, *, elastic: bool) -> None:
    try:
        spec = resolve_shard(saved)
    except (TypeError, ValueError) as exc:
        raise PlanError(f"load_state_dict: invalid shard {saved!r}: {exc}") from None
    if (spec.id, spec.of) == (shard.id, shard.of):
        return
    if not elastic:
        raise PlanError(f"load_state_dict: the state was saved by rank {spec.id} of {spec.of}, this loader is rank "
                        f"{shard.id} of {shard.of}; pass elastic=True to deal the epoch's remaining records over "
                        "this loader's ranks")
    if spec.sticky != shard.sticky:
        raise PlanError(f"load_state_dict(elastic=True): the state was saved with sticky={spec.sticky}, this loader "
                        f"has sticky={shard.sticky}: the epochs' record orders differ")


class _EpochIterator:
    """The iterator ``iter(loader)`` returns: one epoch; releases the loader when done or dropped."""

    def __init__(self, loader: DataLoader, run: EpochRun, base: int = 0) -> None:
        self._loader = loader
        self._run = run
        self._base = base  # records of the epoch consumed before the run's stream began (a unit stream's resume)
        self._delivered = 0  # records (incl. failed rows) in batches taken from the engine
        self.finished = False

    def __iter__(self) -> _EpochIterator:
        return self

    def __next__(self) -> Any:
        if self.finished:
            raise StopIteration
        loader = self._loader
        try:
            while True:
                clock = loader._clock
                with clock.timing("wait"):
                    assembly = self._run.next_assembly()
                if assembly.work is not None:  # e.g. collect a device graph's outputs
                    assembly.apply(loader._executor.collect_batch(assembly.work))
                    assembly.work = None
                with clock.timing("collate"):
                    result = loader._deliver(assembly)
                clock.delivered(assembly.size - len(assembly.failures), len(assembly.failures))
                self._delivered += assembly.size
                loader._consumed = self._base + self._run.first_start + self._delivered
                if result is not _SKIPPED:
                    return result
        except EpochRunCancelled:
            self._end()  # closed while waiting: the epoch is abandoned, not finished
            raise StopIteration from None
        except StopIteration:
            self._end()
            loader._epoch += 1
            loader._consumed = 0
            loader._cursor = Cursor()
            loader._units = None
            raise
        except BaseException:
            self._end()
            raise

    def _end(self) -> None:
        self.finished = True
        self._run.cancel()

    def close(self) -> None:
        """Abandon the epoch: cancel its work (bounded wait)."""
        if not self.finished:
            self._end()

    def __del__(self) -> None:
        if not getattr(self, "finished", True):
            self.finished = True
            self._run.cancel(wait=False)
