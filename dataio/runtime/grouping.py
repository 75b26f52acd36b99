"""The shape stages as record grouping: turning one epoch's record stream into :class:`BatchRecords`.

A :class:`BatchRecords` holds the ``(logical index, record)`` pairs of one batch, pulled from the
source before any of them is admitted, so a batch's size is known when its buffers
are allocated. ``batch`` groups ``size`` consecutive records, ``collate`` takes each
upstream item as a batch, ``group_by`` ends a batch when the key changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from dataio.plan import BatchStage, CollateStage, GroupByStage, ShapeStage


@dataclass(frozen=True, slots=True)
class BatchRecords:
    """The records of one batch.

    Attributes:
        number: the batch number within the epoch.
        records: ``(logical index, record)`` pairs.
        start: position of the batch's first record in this rank's stream (records before it).
    """

    number: int
    records: list[tuple[int, Any]]
    start: int


def batch_records(shape: ShapeStage, records: Iterable[tuple[int, Any]], *, skip_records: int = 0,
           first_number: int = 0) -> Iterator[BatchRecords]:
    """The batches of one epoch, starting at the batch that contains record ``skip_records``.

    Args:
        shape: the shape stage.
        records: this rank's ``(logical index, record)`` pairs in order (for ``collate``, the
            upstream items; their indices are ignored).
        skip_records: records of this stream already consumed (a resume).
        first_number: the number of the stream's first batch (batches consumed before this
            stream, after an elastic resume).

    Closing the generator closes the record iterator it made.
    """
    iterator = iter(records)
    try:
        if isinstance(shape, BatchStage):
            for batch in _batches(shape, iterator, skip_records):
                yield BatchRecords(first_number + batch.number, batch.records, batch.start)
        elif isinstance(shape, CollateStage):
            yield from _collated((item for _, item in iterator), skip_records)
        else:
            yield from _grouped(shape, iterator, skip_records)
    finally:
        close = getattr(iterator, "close", None)
        if callable(close):
            close()


def _batches(shape: BatchStage, iterator: Iterator[tuple[int, Any]], skip_records: int) -> Iterator[BatchRecords]:
    """``start`` counts records of this stream; each pair keeps its own logical index.

    Delivered batches are whole, so ``skip_records`` ends off a batch boundary only after the
    stream's final short batch: rounding up then skips it, as the uninterrupted run would.
    """
    first_batch = -(-skip_records // shape.size)
    position = 0
    for _ in range(first_batch * shape.size):
        if next(iterator, _END) is _END:
            return
        position += 1
    number = first_batch
    while True:
        group: list[tuple[int, Any]] = list(islice(iterator, shape.size))
        if not group or (shape.drop_last and len(group) < shape.size):
            return
        yield BatchRecords(number, group, position)
        position += len(group)
        number += 1


def _collated(iterator: Iterator[Any], skip_records: int) -> Iterator[BatchRecords]:
    index = 0
    for number, item in enumerate(iterator):
        if isinstance(item, (str, bytes, bytearray, Mapping)) or not isinstance(item, Iterable):
            raise TypeError(f"collate(): upstream item {number} is a {type(item).__name__}; each item must be "
                            "an iterable of records (one batch)")
        records = list(item)
        start, index = index, index + len(records)
        if start < skip_records and index <= skip_records:
            continue
        yield BatchRecords(number, [(start + i, r) for i, r in enumerate(records)], start)


def _grouped(shape: GroupByStage, iterator: Iterator[tuple[int, Any]], skip_records: int) -> Iterator[BatchRecords]:
    number = 0
    group: list[tuple[int, Any]] = []
    current: Any = _END
    for index, record in iterator:
        try:
            key = group_key(shape, record, index)
        except Exception:
            if group and index > skip_records:
                yield BatchRecords(number, group, group[0][0])  # the complete group before the bad record goes out
            raise
        if group and key != current:
            if index > skip_records:
                yield BatchRecords(number, group, group[0][0])
            number += 1
            group = []
        current = key
        group.append((index, record))
    if group and group[-1][0] + 1 > skip_records:
        yield BatchRecords(number, group, group[0][0])


def group_key(shape: GroupByStage, record: Any, index: int) -> Any:
    """The ``group_by`` key of one record (a field, a positional item or a computed value).

    Keys are read from records as the source yields them — before per-record maps, which
    run on the worker pool after a batch is formed.
    """
    key = shape.key
    if callable(key):
        return key(record)
    try:
        return record[key]
    except (KeyError, IndexError, TypeError):
        from dataio._errors import RecordError

        raise RecordError(f"group_by(key={key!r}): record at logical index {index} has no such "
                          f"{'field' if isinstance(key, str) else 'item'}") from None


_END: Any = object()
