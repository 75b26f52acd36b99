"""Turning one admitted record into a :class:`PreparedRow`: the executor-neutral part of a row.

Runs per-record maps and the ``context`` hook, evaluates slot gates, finds each active
slot's payload source and the record key and seed (docs/api.md §2.6, §4.7), then reads the
payloads. Everything here that raises is fatal (a broken record source or user hook)
except reads, which become row failures with stage ``"read"`` naming the path/URI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from dataio.io.bytes import fetch_many, is_remote, read_payload
from dataio.plan import Plan
from dataio.io.payloads import ByteSource, byte_source
from dataio.runtime.records import INACTIVE, lookup_field, record_key, record_seed, slot_value
from dataio.runtime.rows import RowFailure, describe_exception
from dataio.seeds import derive


@dataclass(slots=True)
class PreparedRow:
    """One record ready for an executor.

    Attributes:
        position: row position within its batch as assembled.
        index: logical index of the record in the epoch.
        record: the record after per-record maps.
        key: the record key (``batch.keys``).
        seed: the record seed every slot chain starts from.
        seed_words: ``seed``'s SeedSequence words when the batch was hashed at once
            (:func:`dataio.seeds.seed_words`), else ``None``.
        sources: per slot, its :class:`ByteSource`, the raw value (decoders that take no
            payload, e.g. ``passthrough``) or :data:`INACTIVE`.
        context: the ``context`` hook's result (``None`` without one).
        payloads: per slot, the payload bytes once read (``None`` for an inactive slot); empty until
            :func:`read_rows` ran.
        failure: the first row failure (with its slot), if any.
    """

    position: int
    index: int
    record: Any
    key: str
    seed: int
    sources: list[Any]
    context: Any = None
    seed_words: Any = None
    payloads: list[Any] = field(default_factory=list)
    failure: tuple[RowFailure, str] | None = None

    @property
    def needs_remote_io(self) -> bool:
        """True when a payload lives behind a non-local URI (read on the IO pool)."""
        for source in self.sources:
            if isinstance(source, ByteSource) and source.data is None and is_remote(source):
                return True
        return False


def prepare_row(plan: Plan, record: Any, *, position: int, index: int, seed: int, epoch: int,
                context: Any = None, derived: tuple[int, Any] | None = None) -> PreparedRow:
    """Apply per-record maps and ``context``; resolve slot sources, key and seed.

    ``derived``: ``(derive(seed, epoch, index), its seed words)`` when the caller worked them
    out for the whole batch (:func:`dataio.seeds.derive_many`, :func:`dataio.seeds.seed_words`).

    Raises:
        RecordError / RecordTypeError / ValueError: a broken record (fatal).
        Exception: whatever a user map or ``context`` raised (fatal, unwrapped).
    """
    for stage in plan.record_maps:
        record = stage.op(record)  # type: ignore[operator] # record maps hold plain callables (compile_plan)
    slots = plan.slots
    single = len(slots) == 1
    where = _RecordName(record, index)
    values = []
    for slot in slots:
        if slot.skip is not None and slot.skip.holds(partial(lookup_field, record)):
            values.append(INACTIVE)
        else:
            values.append(slot_value(record, slot.name, optional=slot.optional, single_slot=single, where=where))
    key = record_key(record, values, index)
    sources = values.copy()  # the value itself where the slot is inactive or its decoder takes the value
    for i, (value, slot) in enumerate(zip(values, slots, strict=True)):
        decoder = slot.decoder
        if value is not INACTIVE and decoder.takes_payload and not isinstance(value, decoder.value_types):
            sources[i] = byte_source(value, slot=slot.name, where=repr(key))
    own_seed = record_seed(record)
    words = None
    if own_seed is not None:
        row_seed = own_seed
    elif derived is not None:
        row_seed, words = derived
    else:
        row_seed = derive(seed, epoch, index)
    hook = context(record) if context is not None else None
    return PreparedRow(position, index, record, key, row_seed, sources, hook, words)


class _RecordName:
    """How messages name a record: its key when its fields give one, else its logical index.

    Worked out only when a message is made (``str``): every row makes one, few rows fail.
    """

    __slots__ = ("record", "index")

    def __init__(self, record: Any, index: int) -> None:
        self.record = record
        self.index = index

    def __str__(self) -> str:
        key = record_key(self.record, [], self.index)
        return repr(key) if key != str(self.index) else f"at logical index {self.index}"


def read_rows(rows: list[PreparedRow], slots: Any) -> None:
    """Read the payloads of several rows; remote ones are fetched together (:func:`fetch_many`).

    Each row's first failing read becomes its failure (stage ``"read"``, naming the path/URI).
    """
    remote: list[tuple[PreparedRow, int, ByteSource]] = []
    for row in rows:
        row.payloads = [None] * len(row.sources)
        for i, source in enumerate(row.sources):
            if source is INACTIVE or row.failure is not None:
                continue
            if not isinstance(source, ByteSource):  # a decoder that takes the Python value itself
                row.payloads[i] = source
            elif is_remote(source):
                remote.append((row, i, source))
            else:
                try:
                    row.payloads[i] = read_payload(source)
                except Exception as exc:  # noqa: BLE001 - any read failure is this row's (docs/api.md §11)
                    _fail(row, slots[i].name, source, exc)
    if not remote:
        return
    for (row, i, source), result in zip(remote, fetch_many([s for _, _, s in remote]), strict=True):
        if row.failure is not None:
            continue
        if isinstance(result, BaseException):
            _fail(row, slots[i].name, source, result)
        else:
            row.payloads[i] = result


def _fail(row: PreparedRow, slot: str, source: ByteSource, exc: BaseException) -> None:
    message = describe_exception(exc)
    if source.label not in message:
        message = f"{source.label}: {message}"
    row.failure = (RowFailure("read", "read", message), slot)
