"""Assembling one batch: per-slot batch buffers that kernels write into, per-row outcomes.

Shared by the executors. When a slot's output is static (dtype and shape known from
the plan) its column is one preallocated array ``[rows, *shape]`` (recycled from the
loader's :class:`~dataio.runtime.buffers.BufferPool` once no consumer holds it) and the
last kernel of the chain writes row ``i`` straight into ``buffer[i]``; the delivered tensor *is*
that buffer (failed rows are compacted in place). Other slots collect per-row values
and are stacked once at the end, or kept as a list when rows differ in shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataio.plan import SlotPlan
from dataio.runtime.arrays import namespace, take_rows
from dataio.runtime.batch import Column
from dataio.runtime.buffers import BufferPool
from dataio.runtime.rows import RowFailure


class Assembly:
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
            take((size, *s.output.shape), s.output.dtype) if s.output.is_static and size else None
            for s in slots
        ]
        self.values: list[dict[int, Any]] = [{} for _ in slots]
        self.inactive: list[set[int]] = [set() for _ in slots]
        self.hws: list[dict[int, tuple[int, int]]] = [{} for _ in slots]
        self.keys: dict[int, str] = {}
        self.contexts: dict[int, Any] = {}
        self.indices: dict[int, int] = {}
        self.failures: dict[int, dict[str, Any]] = {}
        self.staged: dict[int, list[Any]] = {}
        """Per slot, rows an executor set aside for batch-level work in ``finish_batch`` (e.g. a graph)."""
        self.pending: dict[int, Any] = {}
        """Per slot, batch-level work started in ``finish_batch`` and collected in ``complete_batch``."""
        self.delivered: dict[int, Any] = {}
        """Per slot, a full column ``[size, ...]`` (numpy or cupy) that replaces ``buffers``/``values``."""

    def out(self, slot: int, position: int) -> np.ndarray | None:
        """Where the last kernel of ``slot`` should write row ``position`` (``None``: return a value)."""
        buffer = self.buffers[slot]
        return None if buffer is None else buffer[position]

    def put(self, slot: int, position: int, value: Any) -> None:
        """Store a row's final value (a no-op when the kernel already wrote into the buffer).

        Raises:
            RowFailure: the value does not fit the slot's static shape/dtype (stage ``"collate"``).
        """
        buffer = self.buffers[slot]
        if buffer is None:
            self.values[slot][position] = value
            return
        target = buffer[position]
        if isinstance(value, np.ndarray) and value.shape == target.shape and value.dtype == target.dtype:
            if value.ctypes.data != target.ctypes.data or value.strides != target.strides:
                np.copyto(target, value)  # the last kernel did not write in place
            return
        got = f"{value.dtype} {list(value.shape)}" if isinstance(value, np.ndarray) else type(value).__name__
        raise RowFailure("collate", "collate",
                         f"row value {got} does not match the slot's {self.slots[slot].output.describe()}")

    def set_inactive(self, slot: int, position: int) -> None:
        """Mark an optional/gated slot as producing nothing for this row."""
        self.inactive[slot].add(position)

    def fail(self, position: int, error: dict[str, Any]) -> None:
        """Record the row's failure (the first one wins)."""
        self.failures.setdefault(position, error)

    def survivors(self) -> list[int]:
        """Positions of rows that did not fail, in order."""
        return [p for p in range(self.size) if p not in self.failures and p in self.keys]

    def columns(self, survivors: list[int]) -> list[Column]:
        """One :class:`Column` per slot over the surviving rows."""
        return [self._column(i, survivors) for i in range(len(self.slots))]

    def _column(self, slot: int, survivors: list[int]) -> Column:
        is_object = self.slots[slot].output.is_object
        inactive = self.inactive[slot]
        delivered = self.delivered.get(slot)
        if delivered is not None:
            if not inactive.intersection(survivors):
                return Column(take_rows(delivered, survivors), None, False)
            return Column(None, [None if p in inactive else delivered[p] for p in survivors], False)
        buffer = self.buffers[slot]
        if buffer is not None and not inactive.intersection(survivors):
            return Column(_compact(buffer, survivors), None, False)
        if buffer is not None:
            rows = [None if p in inactive else buffer[p] for p in survivors]
        else:
            rows = [None if p in inactive else self.values[slot][p] for p in survivors]
        if is_object or not rows or any(r is None for r in rows):
            return Column(None, rows, is_object)
        first = rows[0]
        xp = namespace(first)
        if all(r.shape == first.shape and r.dtype == first.dtype for r in rows):
            return Column(xp.stack(rows), None, False)
        return Column(None, [xp.ascontiguousarray(r) for r in rows], False)

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
