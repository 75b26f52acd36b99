"""Feeding one built DALI pipeline ahead: up to ``depth`` batches in flight, collected in feed order.

DALI overlaps the iterations it has scheduled (host decode of one batch with device work
on the previous ones) up to its ``prefetch_queue_depth``. With ``external_source`` fed
from Python that only happens if batches are fed *ahead* of collecting outputs, so a
:class:`GraphQueue` splits a graph run in two, around a driver thread of its own that makes
every DALI call (DALI's pipeline is driven from one thread):

- :meth:`GraphQueue.submit` (the thread that finished a batch's rows): queue the batch and
  return a :class:`Ticket` at once — never waiting on the device. The driver feeds the
  batch's inputs and ``schedule_run()`` as soon as fewer than ``depth`` iterations are
  outstanding.
- the driver collects the oldest outstanding iteration whenever it cannot feed (``outputs()``
  or ``share_outputs()``, blocking on DALI with no lock held) and hands it to the ticket's
  sink, in feed order.
- :meth:`Ticket.collect` (the consumer, when it delivers that batch): waits until the
  ticket is done.

DALI's first ``schedule_run()`` prefetches ``depth`` iterations at once and needs that
many fed batches; the queue primes it by feeding the first batch ``depth`` times and
discarding the extra outputs (once per built pipeline).

When DALI fails an iteration — one undecodable sample fails the whole batch, DALI issue
#3913 — what happens next depends on DALI's executor:

- the **dynamic executor** (DALI 2's default; dataio asks for it): the failure belongs to
  that iteration alone; the iterations scheduled after it run normally. Only the failed
  batch's ticket fails (the executor reruns its rows on the CPU); the pipeline is kept.
  After :data:`BREAK_AFTER` failed iterations in a row the pipeline is assumed broken.
- the legacy executor: the pipeline object is no longer usable, and since DALI runs
  iterations asynchronously the error may surface when an *earlier-scheduled* iteration is
  collected. Every iteration still outstanding fails with it, the queue is marked broken,
  and the executor builds a new pipeline and runs the failed batches' rows on the CPU.

Every DALI call happens on the driver thread, so one pipeline is never driven from two
threads at once, and the queue's lock is never held while DALI works.

Inputs are fed without a copy (``external_source(no_copy=True)``: DALI reads the payload
bytes where they lie), so what a feed returns is kept alive by the queue until the outputs
of every iteration fed with it are released — priming duplicates included. A broken queue
keeps the inputs of the iterations it abandoned for as long as it (and its pipeline) lives.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

Feed = Callable[[Any], Any]
"""Feeds one batch's inputs into the pipeline (``pipeline.feed_input`` calls); returns what DALI reads without
a copy, which must outlive the iteration."""

Sink = Callable[[tuple[Any, ...]], None]
"""Receives one iteration's outputs: to copy out, or to keep where the queue :attr:`GraphQueue.owns_outputs`."""


BREAK_AFTER = 3
"""Failed iterations in a row after which a dynamic-executor pipeline is rebuilt (a device fault, not data)."""


class GraphBroken(RuntimeError):
    """The pipeline failed an earlier iteration; it cannot run this batch."""


class Ticket:
    """One fed batch: collect it to have its sink called, or to learn why it failed."""

    __slots__ = ("queue", "number", "error", "done")

    def __init__(self, queue: GraphQueue, number: int) -> None:
        self.queue = queue
        self.number = number
        self.error: BaseException | None = None
        self.done = False

    def collect(self) -> None:
        """Wait for this batch's outputs and hand them to its sink.

        Raises:
            BaseException: what DALI raised for this iteration (or an earlier one that broke
                the pipeline), or what the sink raised.
        """
        self.queue.collect(self)
        if self.error is not None:
            raise self.error


class GraphQueue:
    """One built pipeline driven ahead of its outputs by a thread of its own (see the module docstring).

    Args:
        pipeline: the built DALI pipeline (``prefetch_queue_depth == depth``).
        depth: iterations scheduled but not collected, at most.

    Attributes:
        broken: the error that made the pipeline unusable, or ``None``.
    """

    def __init__(self, pipeline: Any, depth: int) -> None:
        self.pipeline = pipeline
        self.depth = depth
        self.broken: BaseException | None = None
        self.recovers = bool(getattr(pipeline, "exec_dynamic", False))
        """A failed iteration leaves the pipeline usable (DALI's dynamic executor)."""
        self.owns_outputs = self.recovers
        """Each iteration's outputs are its own to keep (DALI's dynamic executor: ``outputs()`` hands the
        buffers over); otherwise DALI reuses them once released, and sinks must copy them out."""
        self._failures_in_a_row = 0
        self._cond = threading.Condition()
        self._waiting: deque[tuple[Ticket, Feed, Sink]] = deque()
        """Submitted, not fed yet (the driver feeds them as DALI has room)."""
        self._outstanding: deque[tuple[Ticket | None, Sink | None, Any]] = deque()  # None: a priming duplicate
        self._abandoned: list[Any] = []
        """Inputs of iterations a break left uncollected: DALI may still read them."""
        self._primed = False
        self._closing = False
        self._count = 0
        self._driver = threading.Thread(target=self._drive, name="dataio-dali-driver", daemon=True)
        self._driver.start()

    def submit(self, feed: Feed, sink: Sink) -> Ticket:
        """Queue one batch for feeding; returns at once (the driver thread feeds it when DALI has room).

        Raises:
            GraphBroken: the pipeline failed earlier (build a new one). A feed that fails later
                fails its ticket and breaks the queue.
        """
        with self._cond:
            if self.broken is not None:
                raise GraphBroken(f"the DALI pipeline failed an earlier batch: {self.broken}") from self.broken
            if self._closing:
                raise GraphBroken("the graph queue is closed")
            ticket = Ticket(self, self._count)
            self._count += 1
            self._waiting.append((ticket, feed, sink))
            self._cond.notify_all()
            return ticket

    def collect(self, ticket: Ticket) -> None:
        """Wait until ``ticket`` is done (its sink has run, or its error is set); earlier batches finish first."""
        with self._cond:
            while not ticket.done:
                self._cond.wait()

    def drain(self) -> None:
        """Wait until every submitted batch is done (their sinks run; failures stay on their tickets)."""
        with self._cond:
            while self._waiting or self._outstanding:
                self._cond.wait()

    def close(self) -> None:
        """Drain, then stop the driver thread; the queue takes no more batches."""
        self.drain()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if threading.current_thread() is not self._driver:
            self._driver.join()

    # -- the driver thread: every DALI call happens here -------------------------------------------

    def _drive(self) -> None:
        """Run :meth:`_step` until closed; an unexpected error breaks the queue (its tickets fail with it) rather
        than leaving waiters behind a dead thread."""
        try:
            while self._step():
                pass
        except BaseException as exc:  # noqa: BLE001 - a bug here must fail the batches, not hang the consumer
            with self._cond:
                self._break(exc)
                self._closing = True

    def _step(self) -> bool:
        """Feed a waiting batch while DALI has room, else collect the oldest iteration (blocking on DALI, holding
        no lock, so submitting threads never wait on the device); ``False`` once closed."""
        with self._cond:
            while not (self._closing or (self.broken is None and (self._waiting or self._outstanding))):
                self._fail_waiting()  # a broken pipeline is fed nothing more
                self._cond.wait()
            if self._closing:
                self._fail_waiting()
                return False
            job = self._waiting.popleft() if self._waiting and len(self._outstanding) < self.depth else None
        if job is not None:
            self._feed(*job)
        else:
            self._collect_oldest()
        return True

    def _feed(self, ticket: Ticket, feed: Feed, sink: Sink) -> None:
        fed: list[Any] = []
        try:
            for _ in range(1 if self._primed else self.depth):
                fed.append(feed(self.pipeline))
            self.pipeline.schedule_run()
        except BaseException as exc:  # noqa: BLE001 - the feed's failure is its ticket's; inputs may be half fed
            with self._cond:
                self._abandoned.append(fed)
                self._finish(ticket, exc)
                self._break(exc)
            return
        with self._cond:
            self._outstanding.append((ticket, sink, fed[0]))
            if not self._primed:
                self._outstanding.extend([(None, None, inputs) for inputs in fed[1:]])
                self._primed = True

    def _collect_oldest(self) -> None:
        with self._cond:
            if not self._outstanding:
                return
            ticket, sink, _inputs = self._outstanding[0]  # the inputs die with this frame, after the release
        try:  # host-synchronised either way: any stream may read them
            outputs = tuple(self.pipeline.outputs() if self.owns_outputs else self.pipeline.share_outputs())
        except BaseException as exc:  # noqa: BLE001 - DALI failed this iteration
            with self._cond:
                self._outstanding.popleft()
                self._finish(ticket, exc)
                self._failures_in_a_row += ticket is not None  # a failed priming duplicate is its batch's failure
                if not self.recovers or self._failures_in_a_row >= BREAK_AFTER:
                    self._break(exc)
            return
        error: BaseException | None = None
        try:
            if sink is not None:
                sink(outputs)
        except BaseException as exc:  # noqa: BLE001 - the sink's own failure belongs to its ticket
            error = exc
        finally:
            if not self.owns_outputs:
                self.pipeline.release_outputs()
        with self._cond:
            self._failures_in_a_row = 0
            self._outstanding.popleft()
            self._finish(ticket, error)

    def _break(self, error: BaseException) -> None:
        """Fail every outstanding and waiting batch with ``error``; the pipeline is not used again (under the
        condition's lock)."""
        self.broken = error
        while self._outstanding:
            ticket, _, inputs = self._outstanding.popleft()
            self._abandoned.append(inputs)
            self._finish(ticket, error)
        self._fail_waiting()

    def _fail_waiting(self) -> None:
        error = self.broken or GraphBroken("the graph queue is closed")
        while self._waiting:
            ticket, _, _ = self._waiting.popleft()
            self._finish(ticket, error)

    def _finish(self, ticket: Ticket | None, error: BaseException | None) -> None:
        if ticket is not None:
            ticket.error = error
            ticket.done = True
        self._cond.notify_all()
