"""Record sources over Python callables, iterables, iterators and samplers (docs/api.md §5).

``from_callable`` records hold *lazy readers*: ``fn(i)`` runs when the row is read, on the
worker pool, and its exceptions become that row's error (stage ``"read"``), not the epoch's.
The value ``fn`` returns is then read like any slot value (§2.6 step 2: bytes, a path or
URI, a number, a numpy array, a ``{"path": ...}`` mapping).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from dataio._errors import PlanError
from dataio._validate import as_int
from dataio.sources.base import RecordSource

SAMPLER_LOGGER = logging.getLogger("dataio.sampler")
_UNSET: Any = object()


class _Call:
    """``fn(i)``, computed once on first use (slots of one row share it; they are read in one thread)."""

    __slots__ = ("fn", "index", "lock", "value")

    def __init__(self, fn: Callable[[int], Any], index: int) -> None:
        self.fn, self.index = fn, index
        self.lock = threading.Lock()
        self.value: Any = _UNSET

    def result(self) -> Any:
        with self.lock:
            if self.value is _UNSET:
                self.value = self.fn(self.index)
            return self.value


class LazyReader:
    """A slot value read when the row is read: ``fn(i)`` (or its ``slot`` field), then read as a payload."""

    __slots__ = ("call", "slot", "label")

    def __init__(self, call: _Call, slot: str | None, label: str) -> None:
        self.call, self.slot, self.label = call, slot, label

    def read_all(self) -> bytes | memoryview:
        from dataio.io.bytes import read_payload
        from dataio.io.payloads import byte_source

        value = self.call.result()
        if self.slot is not None:
            if not isinstance(value, Mapping) or self.slot not in value:
                raise KeyError(f"{self.label}: fn({self.call.index}) returned no field {self.slot!r} "
                               f"(got {type(value).__name__})")
            value = value[self.slot]
        if hasattr(value, "read_all"):
            return value.read_all()
        return read_payload(byte_source(value, slot=self.slot or "reader", where=self.label))

    def __repr__(self) -> str:
        return f"<LazyReader {self.label}{'' if self.slot is None else f'[{self.slot!r}]'}>"


def _record(call: _Call, prefix: str, slots: tuple[str, ...] | None, label: str | None) -> dict[str, Any]:
    """``{"key": "<prefix>:<i>", "reader": ...}``, or one lazy reader per slot."""
    where = f"{label or prefix}:{call.index}"
    if slots is None:
        return {"key": f"{prefix}:{call.index}", "reader": LazyReader(call, None, where)}
    return {"key": f"{prefix}:{call.index}", **{s: LazyReader(call, s, where) for s in slots}}


def _constant(value: Any) -> Callable[[int], Any]:
    return lambda _: value


def _check_slots(func: str, slots: Any) -> tuple[str, ...] | None:
    if slots is None:
        return None
    if isinstance(slots, str) or not all(isinstance(s, str) for s in slots):
        raise TypeError(f"{func}(slots={slots!r}): slots must be a sequence of slot names")
    return tuple(slots)


class _CallableSource(RecordSource):
    def __init__(self, fn: Callable[[int], Any], length: int, slots: tuple[str, ...] | None, label: str | None,
                 extras: Callable[[int], dict[str, Any]] | None) -> None:
        super().__init__("from_callable", length=length, slots=slots, label=label)
        self._fn, self._n, self._slots, self._label, self._extras = fn, length, slots, label, extras

    def _length(self) -> int:
        return self._n

    def _record(self, index: int) -> dict[str, Any]:
        record = _record(_Call(self._fn, index), "pycall", self._slots, self._label)
        if self._extras is not None:
            extra = self._extras(index)
            if not isinstance(extra, Mapping):
                raise TypeError(f"from_callable(extras=...): extras({index}) returned a {type(extra).__name__}, "
                                "not a dict")
            record.update(extra)
        return record

    def _records(self, seed: int, epoch: int) -> Iterator[dict[str, Any]]:
        return (self._record(i) for i in range(self._n))


def from_callable(fn: Callable[[int], Any], *, length: int, slots: Sequence[str] | None = None,
                  label: str | None = None, extras: Callable[[int], dict[str, Any]] | None = None) -> RecordSource:
    """Records ``0..length-1`` whose payloads ``fn(i)`` produces lazily, when the row is read.

    Args:
        fn: ``index -> value`` (a payload per §2.6, or with ``slots`` a mapping holding one per slot).
        length: the number of records.
        slots: slot names to take from ``fn(i)``'s mapping; without it the payload is the field
            ``"reader"``.
        label: names the source in error messages.
        extras: ``index -> dict`` of further record fields (scalars for ``col(...)``, ``"seed"``).
    """
    if not callable(fn):
        raise TypeError(f"from_callable(fn={fn!r}): fn must be callable")
    if extras is not None and not callable(extras):
        raise TypeError(f"from_callable(extras={extras!r}): extras must be callable")
    return _CallableSource(fn, as_int("from_callable", "length", length, minimum=0),
                           _check_slots("from_callable", slots), label, extras)


class _IterableSource(RecordSource):
    def __init__(self, source: Iterable[Any] | Callable[[], Iterable[Any]], slots: tuple[str, ...] | None,
                 label: str | None, *, kind: str, prefix: str, single_pass: bool = False) -> None:
        super().__init__(kind, slots=slots, label=label)
        self._source, self._slots, self._label, self._prefix = source, slots, label, prefix
        self.single_pass = single_pass

    def _length(self) -> int | None:
        source = self._source
        return len(source) if not callable(source) and hasattr(source, "__len__") else None  # type: ignore[arg-type]

    def _records(self, seed: int, epoch: int) -> Iterator[dict[str, Any]]:
        items = self._source() if callable(self._source) else self._source
        if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
            raise TypeError(f"{self._kind}: the source produced a {type(items).__name__}, not an iterable")
        for index, item in enumerate(items):
            yield _record(_Call(_constant(item), index), self._prefix, self._slots, self._label)


def from_iterable(source: Iterable[Any] | Callable[[], Iterable[Any]], *, slots: Sequence[str] | None = None,
                  label: str | None = None) -> RecordSource:
    """Records over an iterable's items (re-iterated each epoch) or a zero-arg callable (called each epoch).

    Items are payloads like ``from_callable``'s ``fn(i)`` values; keys are ``pyiter:{i}``.
    """
    if isinstance(source, Iterator):
        raise TypeError("from_iterable(): a one-shot iterator cannot be re-read each epoch; use from_iterator() "
                        "or pass a zero-argument callable that returns a fresh iterable")
    if isinstance(source, (str, bytes)) or not (callable(source) or isinstance(source, Iterable)):
        raise TypeError(f"from_iterable(source={source!r}): expected an iterable or a zero-argument callable")
    return _IterableSource(source, _check_slots("from_iterable", slots), label, kind="from_iterable",
                           prefix="pyiter")


def from_iterator(iterator: Iterator[Any], *, slots: Sequence[str] | None = None,
                  label: str | None = None) -> RecordSource:
    """A single-pass source over a one-shot iterator (a second epoch raises ``RuntimeError``)."""
    if not isinstance(iterator, Iterator):
        raise TypeError(f"from_iterator(iterator=...): expected an iterator; got {type(iterator).__name__} "
                        "(use from_iterable for re-iterable collections)")
    return _IterableSource(iterator, _check_slots("from_iterator", slots), label, kind="from_iterator",
                           prefix="pyiter", single_pass=True)


ON_ERROR = ("raise", "warn", "skip")


def from_sampler(sampler: Iterable[Sequence[Any]], record_fn: Callable[[Any], Mapping[str, Any] | None] | None = None,
                 *, batch_key: str = "batch_id", on_error: str = "warn") -> Callable[[], Iterator[dict[str, Any]]]:
    """A factory for ``bind``: each call iterates ``sampler`` afresh and tags rows with their sampler batch.

    Args:
        sampler: yields batches (sequences) of rows, e.g. a torch ``BatchSampler``.
        record_fn: ``row -> record`` (a mapping, or ``None`` to drop the row); default: the row itself.
        batch_key: the field holding the sampler batch number (0-based) — ``group_by(batch_key)``
            then reproduces the sampler's batches.
        on_error: what a ``record_fn`` exception does: ``"raise"``, ``"warn"`` (log on
            ``dataio.sampler`` and drop the row) or ``"skip"`` (drop it).
    """
    if on_error not in ON_ERROR:
        raise PlanError(f"from_sampler(on_error={on_error!r}): on_error must be one of "
                        f"{', '.join(map(repr, ON_ERROR))}")
    if not isinstance(batch_key, str):
        raise TypeError(f"from_sampler(batch_key={batch_key!r}): batch_key must be a str")
    if record_fn is not None and not callable(record_fn):
        raise TypeError(f"from_sampler(record_fn={record_fn!r}): record_fn must be callable")

    def records() -> Iterator[dict[str, Any]]:
        for number, rows in enumerate(sampler):
            for row in rows:
                try:
                    record = record_fn(row) if record_fn is not None else row
                except Exception as exc:
                    if on_error == "raise":
                        raise
                    if on_error == "warn":
                        SAMPLER_LOGGER.warning("from_sampler: record_fn failed on row %r of sampler batch %d: %s",
                                               row, number, exc)
                    continue
                if record is None:
                    continue
                if not isinstance(record, Mapping):
                    raise TypeError(f"from_sampler: record_fn returned a {type(record).__name__} for row {row!r}; "
                                    "expected a mapping or None")
                yield {**record, batch_key: number}

    return records
