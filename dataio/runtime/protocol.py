"""What the runtime needs from an executor, and the results executors hand back.

The runtime owns every batch's state (:class:`~dataio.runtime.assembly.BatchAssembly`); an
executor never writes it. It returns results instead:

- per row, on a pool thread: :meth:`Executor.run_row` gives a :class:`RowResult` — per slot a
  value (written into the batch buffer row the runtime lends it, where there is one), or
  :class:`Deferred` for work the executor does per batch, or the row's failure;
- per batch, only when some slot was deferred: :meth:`Executor.start_batch` (the thread that
  finished the batch's last row) starts that work — e.g. feeds a DALI graph — and returns the
  executor's own handle at once; :meth:`Executor.collect_batch` (the consumer, when the batch
  is next to deliver) waits for it and gives a :class:`BatchResult`;
- at delivery, on the consumer: :meth:`Executor.deliver` moves the surviving columns to where
  the executor delivers them and runs the native batch transforms on them.

That is what the GPU executor's feed-ahead needs; the CPU fallback defers nothing, so only
``run_row`` and ``deliver`` do work there. :meth:`Executor.counters` adds the executor's own
figures to ``loader.stats()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from dataio.ops._base import BatchTransform
    from dataio.runtime.batch import BatchColumns
    from dataio.runtime.rowprep import PreparedRow
    from dataio.runtime.rows import RowFailure
    from dataio.runtime.stats import StageClock


NOT_RUN: Any = type("NotRun", (), {"__repr__": lambda self: "NOT_RUN"})()
"""A slot value in a :class:`RowResult` for slots not run because an earlier slot of the row failed."""


@dataclass(slots=True)
class Deferred:
    """A slot value the executor produces per batch; ``item`` is the executor's own (e.g. a staged sample).

    Not frozen: a frozen dataclass's ``__init__`` costs twice as much, and the GPU path makes one per row.
    """

    item: Any


@dataclass(slots=True)
class RowResult:
    """What one row's slots produced.

    Attributes:
        values: per slot, its value, ``INACTIVE`` (optional or gated off), a :class:`Deferred`, or
            :data:`NOT_RUN` after a failed slot.
        hws: per slot, the decoded (height, width) for image slots, else ``None``.
        failure: the row's failure and the slot it happened in, or ``None``.
    """

    values: list[Any]
    hws: list[tuple[int, int] | None]
    failure: tuple[RowFailure, str] | None = None

    @classmethod
    def empty(cls, slots: int) -> RowResult:
        """A result with no slot run yet."""
        return cls([NOT_RUN] * slots, [None] * slots, None)


@dataclass(frozen=True, slots=True)
class SlotBatch:
    """One slot's share of a finished batch, as :meth:`Executor.start_batch` receives it.

    Attributes:
        size: rows in the batch.
        deferred: ``(position, Deferred.item)`` of the rows the executor deferred, in position order.
        buffer: the slot's host batch buffer ``[size, ...]`` (static outputs), or ``None``; the
            executor may write its rows into it.
        host_rows: position → value of the rows the executor produced in ``run_row`` (their
            buffer row where there is a buffer); failed and inactive rows are absent.
    """

    size: int
    deferred: list[tuple[int, Any]]
    buffer: np.ndarray | None
    host_rows: Mapping[int, Any]


@dataclass(slots=True)
class BatchResult:
    """What the per-batch work produced.

    Attributes:
        columns: slot → a whole column ``[size, ...]`` (device or host memory) holding every row of
            :attr:`SlotBatch.host_rows` and every deferred row that did not fail; it replaces the
            slot's buffer and values.
        values: slot → position → value, for deferred rows of slots without a column (and host
            rows the executor moved to its own memory).
        failures: position → (failure, slot name) of deferred rows that failed.
    """

    columns: dict[int, Any] = field(default_factory=dict)
    values: dict[int, dict[int, Any]] = field(default_factory=dict)
    failures: dict[int, tuple[RowFailure, str]] = field(default_factory=dict)


class Executor(Protocol):
    """What the runtime needs from an executor (see the module docstring)."""

    name: str
    device: str
    clock: StageClock
    """Stage timings (``loader.stats()``); the runtime adds its own stages to the same clock."""

    def run_row(self, row: PreparedRow, buffers: list[np.ndarray | None]) -> RowResult:
        """Run ``row``'s active slots (pool thread); ``buffers[i][row.position]`` is where slot ``i``'s last kernel
        may write (``buffers[i]`` is ``None`` when the slot has no batch buffer)."""

    def start_batch(self, slots: dict[int, SlotBatch]) -> Any:
        """Start the per-batch work of the deferred ``slots`` (by slot index); return a handle without waiting."""

    def collect_batch(self, handle: Any) -> BatchResult:
        """Wait for the work :meth:`start_batch` started and return what it produced (consumer thread)."""

    def counters(self) -> dict[str, Any]:
        """Executor-specific counters for ``loader.stats()["executor"]`` (e.g. the GPU graph's rows and errors)."""

    def deliver(self, content: BatchColumns, transforms: list[tuple[BatchTransform, dict[str, int], Any]]) -> None:
        """Move ``content``'s columns to where batches are delivered, then apply each native batch
        transform ``(op, slot indices, generator)`` in order (consumer thread)."""
