"""``Batch``: what the loader yields (docs/api.md §4.4).

A batch holds columns (arrays for stacked slots — numpy on the host, cupy in device
memory when the GPU executor delivers —, lists for object/ragged slots) and converts a column
to the requested framework on first access, caching
the result. It stays valid after the loader moves on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from dataio.runtime.arrays import take_rows
from dataio.runtime.output import Adapter

Ragged = Literal["list", "error", "skip"]


class Column:
    """One slot's values for the surviving rows of a batch.

    Attributes:
        stacked: an array with a leading batch dim, when every row had one shape and dtype.
        rows: per-row values otherwise (``None`` at rows where an optional slot was inactive).
        is_object: the slot holds Python objects (never converted).
        refused: why the batch does not deliver this ragged slot, for a batch unpickled without its rows.
    """

    __slots__ = ("stacked", "rows", "is_object", "refused")

    def __init__(self, stacked: np.ndarray | None, rows: list[Any] | None, is_object: bool,
                 refused: str | None = None) -> None:
        self.stacked = stacked
        self.rows = rows
        self.is_object = is_object
        self.refused = refused

    @property
    def is_ragged(self) -> bool:
        """Tensor rows of differing shapes (kept as a list)."""
        rows = self.rows
        return self.refused is not None or (
            self.stacked is None and not self.is_object and rows is not None and len(rows) > 0
            and all(r is not None for r in rows))


@dataclass(slots=True)
class BatchColumns:
    """A batch's data before delivery: what native batch transforms read and rewrite (host or device arrays).

    Attributes:
        columns: one per slot.
        keys, indices: per surviving row.
        context: per surviving row, or ``None`` without a ``context`` hook.
        hws: per slot, the decoded (h, w) per row for image slots, else ``None``.
        masks: per slot index, a bool array marking real (``True``) vs padded values, for
            slots that ``pad_to_longest`` stacked.
    """

    columns: list[Column]
    keys: list[str]
    indices: list[int]
    context: list[Any] | None
    hws: list[list[tuple[int, int] | None] | None]
    masks: dict[int, np.ndarray] = field(default_factory=dict)

    def permute_rows(self, order: list[int], *, axis: int = 0) -> None:
        """Reorder every row-aligned field by ``order`` (``new[i] = old[order[i]]``).

        Args:
            order: the permutation.
            axis: the axis of stacked tensors that indexes rows.
        """
        for column in self.columns:
            if column.stacked is not None:
                column.stacked = take_rows(column.stacked, order, axis=axis)
            elif column.rows is not None:
                column.rows = [column.rows[i] for i in order]
        self.keys = [self.keys[i] for i in order]
        self.indices = [self.indices[i] for i in order]
        if self.context is not None:
            self.context = [self.context[i] for i in order]
        self.hws = [None if h is None else [h[i] for i in order] for h in self.hws]
        self.masks = {slot: take_rows(mask, order, axis=axis) for slot, mask in self.masks.items()}


class Batch:
    """One batch of surviving rows.

    ``batch["image"]`` / ``batch[0]`` return a slot's values (a framework tensor with a
    leading batch dim, a list for object/ragged/partially-active slots); ``keys``,
    ``indices``, ``errors`` and ``context`` describe the rows.
    """

    __slots__ = ("_columns", "_adapter", "_ragged", "_cache", "slot_names", "keys", "indices",
                 "errors", "context", "_hws", "batch_number", "_masks", "_moved_masks")

    def __init__(
        self,
        *,
        slot_names: list[str],
        columns: list[Column],
        adapter: Adapter,
        ragged: Ragged,
        keys: list[str],
        indices: list[int],
        errors: list[dict[str, Any]],
        context: list[Any] | None,
        original_hws: list[list[tuple[int, int] | None] | None],
        batch_number: int,
        masks: dict[int, np.ndarray] | None = None,
    ) -> None:
        self.slot_names = slot_names
        self._columns = columns
        self._adapter = adapter
        self._ragged = ragged
        self._cache: dict[int, Any] = {}
        self.keys = keys
        self.indices = indices
        self.errors = errors
        self.context = context
        self._hws = original_hws
        self.batch_number = batch_number
        self._masks = masks or {}
        self._moved_masks: dict[str, Any] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def _index(self, key: str | int) -> int:
        if isinstance(key, str):
            try:
                return self.slot_names.index(key)
            except ValueError:
                raise KeyError(f"no slot {key!r}; slots are {self.slot_names}") from None
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise TypeError(f"batch[...] takes a slot name or index; got {type(key).__name__}")
        n = len(self.slot_names)
        if not -n <= key < n:
            raise IndexError(f"slot index {key} out of range for {n} slots")
        return int(key) % n

    def __getitem__(self, key: str | int) -> Any:
        index = self._index(key)
        if index not in self._cache:
            self._cache[index] = self._materialise(index)
        return self._cache[index]

    def _materialise(self, index: int) -> Any:
        column = self._columns[index]
        if column.refused is not None:
            raise RuntimeError(column.refused)
        if not self.keys:
            return []
        if column.stacked is not None:
            return self._adapter(column.stacked)
        rows = column.rows or []
        if column.is_object or not rows:
            return list(rows)
        if column.is_ragged and self._ragged != "list":
            raise RuntimeError(
                f"slot {self.slot_names[index]!r} is ragged (rows differ in shape) and run(ragged="
                f"{self._ragged!r}) does not deliver ragged slots; use ragged='list' or a padding op"
            )
        return [None if r is None else self._adapter(r) for r in rows]

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self.slot_names)))

    def __contains__(self, name: object) -> bool:
        return name in self.slot_names

    @property
    def tensors(self) -> tuple[Any, ...]:
        """Values of all non-object slots (ragged ones per ``run(ragged=...)``)."""
        out = []
        for i, column in enumerate(self._columns):
            if column.is_object or (column.is_ragged and self._ragged == "skip"):
                continue
            out.append(self[i])
        return tuple(out)

    @property
    def tensor(self) -> Any:
        """The only tensor slot; ``RuntimeError`` when there is not exactly one."""
        tensors = self.tensors
        if len(tensors) != 1:
            raise RuntimeError(f"batch.tensor needs exactly one tensor slot; this batch has {len(tensors)}")
        return tensors[0]

    @property
    def masks(self) -> dict[str, Any]:
        """Padding masks by slot name (``True`` = real value), for slots stacked by ``pad_to_longest``.

        Same shape as the padded tensor, converted like the slot's values.
        """
        if self._moved_masks is not None:
            return dict(self._moved_masks)
        return {self.slot_names[i]: self._adapter(mask) for i, mask in self._masks.items()}

    def as_dict(self) -> dict[str, Any]:
        """``{slot name: value}`` for every slot this batch delivers (a ragged slot under ``ragged="skip"`` or
        ``"error"`` is left out): the plain mapping Hugging Face and accelerate code expects of a batch."""
        return {name: self[index] for index, name in enumerate(self.slot_names)
                if not (self._columns[index].is_ragged and self._ragged != "list")}

    def to(self, device: Any, non_blocking: bool = False) -> Batch:
        """A copy of the batch with every tensor slot and mask moved by the tensors' own
        ``.to(device, non_blocking=...)`` (torch tensors: ``run(output="torch")``); object slots are
        shared as they are. Lightning and accelerate call this when they move a batch to a device.

        Raises:
            TypeError: the slot values have no ``.to`` (numpy, DLPack or a custom adapter's output).
        """
        moved = Batch(slot_names=self.slot_names, columns=self._columns, adapter=self._adapter, ragged=self._ragged,
                      keys=self.keys, indices=self.indices, errors=self.errors, context=self.context,
                      original_hws=self._hws, batch_number=self.batch_number, masks=self._masks)
        for index, column in enumerate(self._columns):
            if column.is_object or (column.is_ragged and self._ragged != "list"):
                continue  # not tensors, or values this batch does not deliver
            moved._cache[index] = _moved(self[index], device, non_blocking)
        moved._moved_masks = {name: _moved(mask, device, non_blocking) for name, mask in self.masks.items()}
        return moved

    def original_hws(self, slot: int = 0) -> list[tuple[int, int] | None]:
        """Decoded (height, width) per row for an image slot, else ``None`` per row."""
        hws = self._hws[self._index(slot)]
        return list(hws) if hws is not None else [None] * len(self)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle the delivered values, not the conversion that made them: a batch crosses processes (a worker of
        ``torch.utils.data.DataLoader``) with its tensors as they are (torch sends them through shared memory).
        A slot this batch does not deliver (ragged under ``ragged="error"``) keeps raising its error."""
        columns = []
        for index, column in enumerate(self._columns):
            try:
                value = self[index]
            except RuntimeError as exc:
                columns.append(Column(None, None, False, refused=str(exc)))
                continue
            if column.stacked is not None and not isinstance(value, list):
                columns.append(Column(value, None, False))
            else:
                columns.append(Column(None, list(value), column.is_object))
        masks = {self.slot_names.index(name): mask for name, mask in self.masks.items()}
        return _unpickled_batch, (self.slot_names, columns, self._ragged, self.keys, self.indices, self.errors,
                                  self.context, self._hws, self.batch_number, masks)

    def __repr__(self) -> str:
        return (f"Batch(number={self.batch_number}, rows={len(self)}, slots={self.slot_names}, "
                f"errors={len(self.errors)})")


def _delivered(value: Any) -> Any:
    """The conversion of an unpickled batch: its values were converted before it was pickled."""
    return value


def _unpickled_batch(slot_names: list[str], columns: list[Column], ragged: Ragged, keys: list[str],
                     indices: list[int], errors: list[dict[str, Any]], context: list[Any] | None,
                     hws: list[Any], batch_number: int, masks: dict[int, Any]) -> Batch:
    return Batch(slot_names=slot_names, columns=columns, adapter=_delivered, ragged=ragged, keys=keys,
                 indices=indices, errors=errors, context=context, original_hws=hws, batch_number=batch_number,
                 masks=masks)


def _moved(value: Any, device: Any, non_blocking: bool) -> Any:
    """A slot value (a tensor, or a list of tensors and ``None``) moved with its tensors' ``.to``."""
    if isinstance(value, list):
        return [None if item is None else _moved(item, device, non_blocking) for item in value]
    if not callable(getattr(value, "to", None)):
        raise TypeError(f"Batch.to: slot values are {type(value).__name__}, which have no .to(device); "
                        "use run(output='torch') to move batches with Batch.to")
    return value.to(device, non_blocking=non_blocking)
