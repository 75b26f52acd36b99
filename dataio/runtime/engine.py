"""One epoch of a loader: admission window, worker tasks, ordering, failure policy, shutdown.

There is no loader-owned thread. Work runs on the process-wide pools; *admission*
(pulling records from the source and submitting their tasks) happens in
:meth:`EpochRun.pump`, which the consumer calls from ``next()`` and every worker calls
when it finishes a record, so the window stays full while the training step runs.
A non-blocking lock plus a "pump again" flag keeps exactly one admitter at a time
without lost wake-ups.

Limits: at most ``concurrency`` records in flight (admitted, not yet finished) and at
most ``prefetch`` batches admitted but not yet delivered.

Records are admitted in *runs* of consecutive rows of one batch, one pool task per run
(:func:`rows_per_task`): a task's bookkeeping (the future, the pool's queue, the window's
lock, the stage clock) is paid once per run, not per row — on the GPU executor's path a
row's own host work is a few microseconds, less than a task costs.

Failures: row failures live in the batch's assembly (the runtime records what the
executor returns) and are judged by the ``on_failure`` policy on the consumer thread.
Anything else raised by a task or the source is *fatal*: admission stops, batches wholly
before the failing one are still delivered, then ``next()`` raises the original exception.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from dataio.plan import Plan
from dataio.runtime.assembly import BatchAssembly
from dataio.runtime.buffers import BufferPool
from dataio.runtime.grouping import BatchRecords
from dataio.runtime.pools import cpu_pool, cpu_pool_size, io_pool
from dataio.runtime.protocol import Executor
from dataio.runtime.rowprep import PreparedRow, prepare_row, read_rows
from dataio.runtime.stats import StageClock
from dataio.runtime.rows import UserCodeError
from dataio.seeds import derive_many, seed_words

class EpochRunCancelled(Exception):
    """Raised by :meth:`EpochRun.next_assembly` when the epoch was cancelled while the consumer waited."""


CLOSE_TIMEOUT_S = 5.0
"""How long ``close()`` waits for running tasks before giving up on them (docs/api.md §4.9)."""


@dataclass(slots=True)
class _AdmittedBatch:
    """A batch admitted into the window."""

    batch: BatchRecords
    assembly: BatchAssembly
    seeds: list[int]
    """``derive(seed, epoch, index)`` of each record, worked out for the batch at once."""
    seed_words: np.ndarray | list[None]
    """Their SeedSequence words (:func:`dataio.seeds.seed_words`): each row's generator starts from them; ``None``
    per row when the plan never draws (hashing a batch's seeds costs more than the rest of a GPU row)."""
    admitted: int = 0
    finished: int = 0


@dataclass(frozen=True, slots=True)
class _Fatal:
    batch_number: int
    error: BaseException


REMOTE_BATCH = 64
"""Remote rows one IO task reads together (one concurrent request per payload)."""
MAX_ROWS_PER_TASK = 32
"""The longest run of rows one pool task works through."""


def rows_per_task(concurrency: int, workers: int) -> int:
    """Rows per pool task: a quarter of each worker's share of the window, between 1 and
    :data:`MAX_ROWS_PER_TASK` — long enough to pay a task's bookkeeping once for many cheap rows,
    short enough that every worker has several tasks of the window to balance the load with."""
    return max(1, min(MAX_ROWS_PER_TASK, concurrency // (4 * max(workers, 1))))


class EpochRun:
    """The state of one iteration over the records."""

    def __init__(self, plan: Plan, executor: Executor, batches: Iterator[BatchRecords], *, epoch: int, seed: int,
                 concurrency: int, prefetch: int, order: str, context: Any, clock: StageClock | None = None,
                 buffers: BufferPool | None = None) -> None:
        self._plan = plan
        self._buffers = buffers
        self._clock = clock if clock is not None else StageClock()
        self._executor = executor
        self._batches = batches
        self._epoch = epoch
        self._seed = seed
        self._concurrency = concurrency
        self._prefetch = prefetch
        self._order = order
        self._context = context
        self._cond = threading.Condition()
        self._admit_lock = threading.Lock()
        self._pump_requested = False
        self._current: _AdmittedBatch | None = None
        self._open: set[int] = set()  # numbers of batches admitted, not yet taken by the consumer
        self._in_flight = 0  # records admitted, not yet finished
        self._running = 0  # tasks executing right now
        self._ready: dict[int, BatchAssembly] = {}
        self._completed: deque[int] = deque()
        self._next_number: int | None = None  # submit order: the next batch to deliver
        self._source_done = False
        self._fatal: _Fatal | None = None
        self._cancelled = False
        self._source_closed = False
        self._wait_deadline: float | None = None
        self._futures: set[Future[Any]] = set()
        self._remote: deque[tuple[_AdmittedBatch, PreparedRow]] = deque()  # rows waiting for remote reads
        self._rows_per_task = rows_per_task(concurrency, cpu_pool_size())
        self._draws = plan.draws
        self.first_start = 0
        """Records of the epoch before its first batch (non-zero when resuming)."""

    # -- admission ---------------------------------------------------------------------------

    def pump(self) -> None:
        """Admit records while the window allows; safe from any thread, never waits for another admitter."""
        while True:
            self._pump_requested = True
            if not self._admit_lock.acquire(blocking=False):
                return  # the admitting thread will see the request
            try:
                while self._pump_requested:
                    self._pump_requested = False
                    self._admit()
            finally:
                self._admit_lock.release()
            if not self._pump_requested:
                return

    def _admit(self) -> None:
        while True:
            with self._cond:
                if self._cancelled or self._fatal is not None or self._in_flight >= self._concurrency:
                    return
                pending = self._current
                need_batch = pending is None or pending.admitted == len(pending.batch.records)
                if need_batch and (self._source_done or len(self._open) >= self._prefetch):
                    return
            if need_batch:
                pending = self._open_next_batch()
                if pending is None:
                    return
                continue
            assert pending is not None
            with self._cond:
                start = pending.admitted
                count = min(self._rows_per_task, len(pending.batch.records) - start,
                            self._concurrency - self._in_flight)
                pending.admitted += count
                self._in_flight += count
            self._submit(cpu_pool(), self._prepare, [pending] * count, pending, start, count)

    def _open_next_batch(self) -> _AdmittedBatch | None:
        """Pull the next batch's records from the source (user code: failures are fatal)."""
        try:
            with self._clock.timing("source"):
                batch = next(self._batches)
        except StopIteration:
            with self._cond:
                self._source_done = True
                self._cond.notify_all()
            return None
        except BaseException as exc:  # noqa: BLE001 - source failures surface from next()
            self._set_fatal(self._upcoming_number(), exc)
            return None
        assembly = BatchAssembly(self._plan.slots, batch.number, len(batch.records), self._buffers)
        seeds = derive_many(self._seed, self._epoch, np.array([i for i, _ in batch.records], np.uint64))
        words = seed_words(seeds) if self._draws else [None] * len(seeds)
        pending = _AdmittedBatch(batch, assembly, seeds.tolist(), words)
        with self._cond:
            if self._next_number is None:
                self._next_number = batch.number
                self.first_start = batch.start
            self._current = pending
            self._open.add(batch.number)
        if not batch.records:
            self._complete(pending)
        return pending

    def _upcoming_number(self) -> int:
        current = self._current
        if current is not None:
            return current.batch.number + 1
        return self._next_number if self._next_number is not None else 0

    def _submit(self, pool: Any, fn: Any, owners: list[_AdmittedBatch], *args: Any) -> None:
        """Run ``fn(*args)`` on ``pool`` for the rows of ``owners`` (one entry per row: its batch)."""
        try:
            future = pool.submit(fn, *args)
        except RuntimeError as exc:  # interpreter shutting down
            for owner in owners:
                self._set_fatal(owner.batch.number, exc)
            self._finish_rows(owners)
            return
        with self._cond:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[Any]) -> None:
        with self._cond:
            self._futures.discard(future)

    # -- worker tasks -----------------------------------------------------------------------

    def _prepare(self, pending: _AdmittedBatch, start: int, count: int) -> None:
        """Rows ``start .. start + count`` of the batch: maps, hooks, sources, local reads, the executor; rows with
        remote payloads go to the IO pool."""
        if not self._enter():
            return self._finish_rows([pending] * count)
        local: list[PreparedRow] = []
        remote: list[tuple[_AdmittedBatch, PreparedRow]] = []
        source_s = read_s = 0.0
        try:
            t0 = time.perf_counter()
            for position in range(start, start + count):
                if self._cancelled:
                    break
                index, record = pending.batch.records[position]
                row = prepare_row(self._plan, record, position=position, index=index, seed=self._seed,
                                  epoch=self._epoch, context=self._context,
                                  derived=(pending.seeds[position], pending.seed_words[position]))
                if row.needs_remote_io:
                    remote.append((pending, row))
                else:
                    local.append(row)
            t1 = time.perf_counter()
            source_s = t1 - t0
            read_rows(local, self._plan.slots)  # the run's local payloads, together
            read_s = time.perf_counter() - t1
            for row in local:
                self._execute(pending, row)
        except BaseException as exc:  # noqa: BLE001 - fatal: surfaces from next()
            self._set_fatal(pending.batch.number, exc)
        finally:
            self._clock.add("source", source_s, len(local) + len(remote))
            self._clock.add("read", read_s, len(local))
            if remote:
                self._remote.extend(remote)
                self._submit(io_pool(), self._read_remote, [owner for owner, _ in remote], pending)
            self._leave()
            self._finish_rows([pending] * (count - len(remote)))

    def _read_remote(self, pending: _AdmittedBatch) -> None:
        """Read the queued remote rows together (one task is queued per run of rows queued; a task takes up to
        :data:`REMOTE_BATCH`, whichever run queued them).

        ``pending`` only names a batch for errors raised before any row is taken.
        """
        taken: list[tuple[_AdmittedBatch, PreparedRow]] = []
        while len(taken) < REMOTE_BATCH:
            try:
                taken.append(self._remote.popleft())
            except IndexError:
                break
        if not taken:
            return  # an earlier task read these rows with its own
        if not self._enter():
            return self._finish_rows([owner for owner, _ in taken])
        try:
            with self._clock.timing("read"):
                read_rows([row for _, row in taken], self._plan.slots)
            for first in range(0, len(taken), self._rows_per_task):
                part = taken[first:first + self._rows_per_task]
                self._submit(cpu_pool(), self._process, [owner for owner, _ in part], part)
        except BaseException as exc:  # noqa: BLE001
            for owner, _ in taken:
                self._set_fatal(owner.batch.number, exc)
            self._finish_rows([owner for owner, _ in taken])
        finally:
            self._leave()

    def _process(self, rows: list[tuple[_AdmittedBatch, PreparedRow]]) -> None:
        """The executor's work on rows whose remote payloads were read."""
        if not self._enter():
            return self._finish_rows([owner for owner, _ in rows])
        try:
            for owner, row in rows:
                try:
                    self._execute(owner, row)
                except BaseException as exc:  # noqa: BLE001
                    self._set_fatal(owner.batch.number, exc)
        finally:
            self._leave()
            self._finish_rows([owner for owner, _ in rows])

    def _execute(self, pending: _AdmittedBatch, row: PreparedRow) -> None:
        assembly = pending.assembly
        result = None if row.failure is not None else self._executor.run_row(row, assembly.buffers)
        assembly.record_row(row, result)

    def _enter(self) -> bool:
        with self._cond:
            if self._cancelled:
                return False
            self._running += 1
            return True

    def _leave(self) -> None:
        with self._cond:
            self._running -= 1
            if self._cancelled:  # only cancel() waits for running tasks; waking the consumer per row costs switches
                self._cond.notify_all()

    def _finish_rows(self, owners: list[_AdmittedBatch]) -> None:
        """Rows are done (one entry per row: its batch); complete the batches they finish, admit more."""
        done = []
        with self._cond:
            self._in_flight -= len(owners)
            for pending in owners:
                pending.finished += 1
                if pending.finished == len(pending.batch.records) and not self._cancelled:
                    done.append(pending)
        for pending in done:
            self._complete(pending)
        self.pump()

    def _complete(self, pending: _AdmittedBatch) -> None:
        """Every row of the batch is in: start the executor's per-batch work, if any, then mark it ready."""
        assembly = pending.assembly
        try:
            deferred = assembly.deferred_batches()
            if deferred:
                assembly.work = self._executor.start_batch(deferred)
        except BaseException as exc:  # noqa: BLE001
            self._set_fatal(pending.batch.number, exc)
            return
        with self._cond:
            self._ready[pending.batch.number] = pending.assembly
            self._completed.append(pending.batch.number)
            self._cond.notify_all()

    def _set_fatal(self, batch_number: int, error: BaseException) -> None:
        if isinstance(error, UserCodeError):
            error = error.original
        with self._cond:
            if self._fatal is None or batch_number < self._fatal.batch_number:
                self._fatal = _Fatal(batch_number, error)
            self._cond.notify_all()

    def depths(self) -> dict[str, int]:
        """Queue depths right now: records in flight, batches open (admitted, not taken) and ready."""
        with self._cond:
            return {"records_in_flight": self._in_flight, "batches_open": len(self._open),
                    "batches_ready": len(self._ready)}

    # -- delivery ---------------------------------------------------------------------------

    def next_assembly(self) -> BatchAssembly:
        """The next deliverable batch (per ``order``); raises the fatal error or ``StopIteration``."""
        while True:
            self.pump()
            with self._cond:
                if self._cancelled:
                    raise EpochRunCancelled  # closed from another thread or a signal handler
                taken = self._take()
                if taken is not None:
                    self._open.discard(taken.number)
                    return taken
                fatal = self._fatal
                if fatal is not None and not any(n < fatal.batch_number for n in self._open):
                    raise fatal.error  # every batch before the failing one has been delivered
                if self._source_done and not self._open:
                    raise StopIteration
                self._cond.wait(0.5)

    def _take(self) -> BatchAssembly | None:
        fatal_number = self._fatal.batch_number if self._fatal is not None else None
        if self._order == "submit":
            number = self._next_number
            if number is None or number not in self._ready or (fatal_number is not None and number >= fatal_number):
                return None
            self._next_number = number + 1
            return self._ready.pop(number)
        for number in self._completed:
            if fatal_number is None or number < fatal_number:
                self._completed.remove(number)
                self._next_number = max(self._next_number or 0, number + 1)
                return self._ready.pop(number)
        return None

    # -- shutdown ---------------------------------------------------------------------------

    def cancel(self, *, wait: bool = True) -> None:
        """Stop admission, drop queued tasks and results; with ``wait``, wait (bounded) for running tasks.

        Idempotent; a waiting call after a non-waiting one still waits. Closes the record
        iterator the epoch made (generator ``finally`` blocks run).
        """
        with self._cond:
            first = not self._cancelled
            self._cancelled = True
            futures = list(self._futures) if first else []
            self._ready.clear()
            self._completed.clear()
            self._cond.notify_all()
        for future in futures:
            future.cancel()
        if not wait:
            self._close_source(blocking=False)
            return
        with self._cond:
            if self._wait_deadline is None:  # one bounded wait in total, however often cancel() is called
                self._wait_deadline = time.monotonic() + CLOSE_TIMEOUT_S
            deadline = self._wait_deadline
            while self._running and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
        self._close_source(blocking=True, deadline=deadline)

    def _close_source(self, *, blocking: bool, deadline: float = 0.0) -> None:
        """Close the batch generator (and so the record iterator) unless it is mid-call elsewhere."""
        acquired = self._admit_lock.acquire(timeout=max(0.0, deadline - time.monotonic())) if blocking \
            else self._admit_lock.acquire(blocking=False)
        if not acquired:
            return  # the source is running on another thread; cancellation stops any further call
        try:
            if self._source_closed:
                return
            self._source_closed = True
            close = getattr(self._batches, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # noqa: BLE001 - a failing generator cleanup must not mask the caller's error
                    pass
        finally:
            self._admit_lock.release()

    @property
    def running_tasks(self) -> int:
        """Tasks of this epoch executing right now (0 after a completed ``cancel``)."""
        with self._cond:
            return self._running
