"""Assembling one batch: per-slot batch buffers that kernels write into, per-row outcomes.

The runtime owns this state and is its only writer: executors return results
(:class:`~dataio.runtime.protocol.RowResult` per row, :class:`~dataio.runtime.protocol.BatchResult`
per batch) and :meth:`BatchAssembly.record_row` / :meth:`BatchAssembly.apply` put them in; every row
failure goes through :meth:`BatchAssembly.fail`. When a slot's output is static (dtype and shape known from
the plan) its column is one preallocated array ``[rows, *shape]`` (recycled from the
loader's :class:`~dataio.runtime.buffers.BufferPool` once no consumer holds it) and the
last kernel of the chain writes row ``i`` straight into ``buffer[i]``; the delivered tensor *is*
that buffer (failed rows are compacted in place). Other slots collect per-row values
and are stacked once at the end, or kept as a list when rows differ in shape.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from dataio.plan import SlotPlan
from dataio.runtime.arrays import namespace, take_rows
from dataio.runtime.batch import Column
from dataio.runtime.buffers import BufferPool
from dataio.runtime.protocol import NOT_RUN, BatchResult, Deferred, RowResult, SlotBatch
from dataio.runtime.records import INACTIVE
from dataio.runtime.rowprep import PreparedRow
from dataio.runtime.rows import RowFailure


class BatchAssembly:
    """The rows of one batch while they are being produced (written from worker threads).

    Attributes:
        number: the batch number within the epoch.
        size: rows admitted into the batch.
        keys, contexts, indices: per row position.
        failures: per failed row position, its error dict.
    """

    def __init__(self, slots: tuple[SlotPlan, ...], number: int, size: int, pool: BufferPool | None = None) -> None:
        self.slots = slots
        self.number = number
        self.size = size
        take = pool.take if pool is not None else np.empty
        self.buffers: list[np.ndarray | None] = [
            _buffer(take, size, *s.output.static_layout) if s.output.is_static and size else None for s in slots
        ]
        self.values: list[dict[int, Any]] = [{} for _ in slots]
        self.inactive: list[set[int]] = [set() for _ in slots]
        self.hws: list[dict[int, tuple[int, int]]] = [{} for _ in slots]
        self.keys: dict[int, str] = {}
        self.contexts: dict[int, Any] = {}
        self.indices: dict[int, int] = {}
        self.failures: dict[int, dict[str, Any]] = {}
        self.deferred: list[list[tuple[int, Any]]] = [[] for _ in slots]
        """Per slot, ``(position, item)`` of rows the executor defers to its per-batch work."""
        self.work: Any = None
        """The executor's handle on the per-batch work it started (``start_batch``), until collected."""
        self.executor_columns: dict[int, Any] = {}
        """Per slot, a whole column ``[size, ...]`` (numpy or cupy) that replaces ``buffers``/``values``."""

    def record_row(self, row: PreparedRow, result: RowResult | None) -> None:
        """Put one finished row in: its identity, and the executor's ``result`` (``None`` when the row
        failed before reaching the executor, e.g. a read)."""
        position = row.position
        self.indices[position] = row.index
        self.contexts[position] = row.context
        if row.failure is not None:
            failure, slot_name = row.failure
            self.fail(position, row.key, slot_name, failure)
        elif result is not None:
            for slot, value in enumerate(result.values):
                if value is NOT_RUN:
                    continue
                if value is INACTIVE:
                    self.inactive[slot].add(position)
                elif isinstance(value, Deferred):
                    self.deferred[slot].append((position, value.item))
                else:
                    try:
                        self.put(slot, position, value)
                    except RowFailure as failure:
                        self.fail(position, row.key, self.slots[slot].name, failure)
                        break
                hw = result.hws[slot]
                if hw is not None:
                    self.hws[slot][position] = hw
            if result.failure is not None:
                row_failure, slot_name = result.failure
                self.fail(position, row.key, slot_name, row_failure)
        self.keys[position] = row.key

    def deferred_batches(self) -> dict[int, SlotBatch]:
        """Per slot with deferred rows (of rows that did not fail), its :class:`SlotBatch`."""
        out = {}
        for slot, deferred in enumerate(self.deferred):
            items = sorted((p, item) for p, item in deferred if p not in self.failures)
            if not items:
                continue
            skip = self.failures.keys() | self.inactive[slot] | {p for p, _ in items}
            buffer = self.buffers[slot]
            host_rows = {p: buffer[p, ...] if buffer is not None else self.values[slot][p]
                         for p in range(self.size) if p in self.keys and p not in skip}
            out[slot] = SlotBatch(self.size, items, buffer, host_rows)
        return out

    def apply(self, result: BatchResult) -> None:
        """Put the per-batch work's result in (consumer thread, before delivery)."""
        self.executor_columns.update(result.columns)
        for slot, values in result.values.items():
            for position, value in values.items():
                if position in self.failures:
                    continue
                try:
                    self.put(slot, position, value)
                except RowFailure as failure:  # a value that does not fit the slot's static description
                    self.fail(position, self.keys.get(position), self.slots[slot].name, failure)
        for position, (row_failure, slot_name) in result.failures.items():
            self.fail(position, self.keys.get(position), slot_name, row_failure)

    def put(self, slot: int, position: int, value: Any) -> None:
        """Store a row's final value (a no-op when the kernel already wrote into the buffer).

        Raises:
            RowFailure: the value does not fit the slot's static shape/dtype (stage ``"collate"``).
        """
        buffer = self.buffers[slot]
        if buffer is None:
            self.values[slot][position] = value
            return
        target = buffer[position, ...]  # a view, 0-d rows included
        if isinstance(value, np.ndarray) and value.shape == target.shape and value.dtype == target.dtype:
            if value.ctypes.data != target.ctypes.data or value.strides != target.strides:
                np.copyto(target, value)  # the last kernel did not write in place
            return
        got = f"{value.dtype} {list(value.shape)}" if isinstance(value, np.ndarray) else type(value).__name__
        raise RowFailure("collate", "collate",
                         f"row value {got} does not match the slot's {self.slots[slot].output.describe()}")

    def fail(self, position: int, key: str | None, slot: str | None, failure: RowFailure) -> None:
        """Record row ``position``'s failure in ``slot`` (the first one wins): the one way rows fail."""
        if position not in self.failures:
            self.failures[position] = failure.as_dict(position, key, slot)

    def survivors(self) -> list[int]:
        """Positions of rows that did not fail, in order."""
        return [p for p in range(self.size) if p not in self.failures and p in self.keys]

    def columns(self, survivors: list[int]) -> list[Column]:
        """One :class:`Column` per slot over the surviving rows."""
        return [self._column(i, survivors) for i in range(len(self.slots))]

    def _column(self, slot: int, survivors: list[int]) -> Column:
        is_object = self.slots[slot].output.is_object
        inactive = self.inactive[slot]
        delivered = self.executor_columns.get(slot)
        if delivered is not None:
            if not inactive.intersection(survivors):
                return Column(take_rows(delivered, survivors), None, False)
            return Column(None, [None if p in inactive else delivered[p] for p in survivors], False)
        buffer = self.buffers[slot]
        if buffer is not None and not inactive.intersection(survivors):
            return Column(_compact(buffer, survivors), None, False)
        if buffer is not None:
            rows = [None if p in inactive else buffer[p, ...] for p in survivors]
        else:
            rows = [None if p in inactive else self.values[slot][p] for p in survivors]
        if is_object or not rows or any(r is None for r in rows):
            return Column(None, rows, is_object)
        arrays = cast(list[Any], rows)  # no None among them (checked above)
        first = arrays[0]
        xp = namespace(first)
        if all(r.shape == first.shape and r.dtype == first.dtype for r in arrays):
            return Column(xp.stack(arrays), None, False)
        return Column(None, [xp.ascontiguousarray(r) for r in arrays], False)

    def original_hws(self, survivors: list[int]) -> list[list[tuple[int, int] | None] | None]:
        """Per slot: the decoded (h, w) of each surviving row for image slots, else ``None``."""
        out: list[list[tuple[int, int] | None] | None] = []
        for hws in self.hws:
            out.append([hws.get(p) for p in survivors] if hws else None)
        return out


def _compact(buffer: np.ndarray, survivors: list[int]) -> np.ndarray:
    """Move surviving rows to the front of ``buffer`` (in place) and return that prefix."""
    for new, old in enumerate(survivors):
        if new != old:
            buffer[new] = buffer[old]
    return buffer[: len(survivors)]


def _buffer(take: Any, size: int, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """A ``[size, *shape]`` batch buffer of a static slot (from the pool when there is one)."""
    return take((size, *shape), dtype)
