"""``RecordSource``: a re-iterable record collection that knows its epoch (docs/api.md §5).

The loader asks a source for one epoch's records with :meth:`RecordSource.epoch_records`,
passing the run seed and the epoch, so ``shuffle(seed=None)`` can permute by
``(seed, epoch)`` and stay reproducible and resumable (§4.7). Plain iteration is epoch 0
with seed 0. Transformations (``shuffle``, ``map_records``, ``filter_records``) return new
sources and never touch payloads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

import numpy as np

from dataio._validate import as_int, as_seed
from dataio.sources.units import UnitLayout
from dataio.seeds import derive

SHUFFLE_STREAM = 0x5F1E
"""``stream`` value of source-shuffle seeds (``derive(seed, epoch, 0, SHUFFLE_STREAM)``)."""


class RecordSource:
    """Records for ``Pipeline.bind``; iterate it, or let the loader iterate it per epoch.

    Subclasses implement :meth:`_records` and, when known, :meth:`_length`; a random-access
    source also implements :meth:`_record` (``shuffle`` then permutes indices, not records).
    """

    single_pass = False
    """Whether the source can be iterated once only (a one-shot iterator behind it)."""

    def __init__(self, kind: str, **details: Any) -> None:
        self._kind = kind
        self._details = details
        self._passes = 0
        self._lock = threading.Lock()

    # -- what subclasses provide -----------------------------------------------------------

    def _records(self, seed: int, epoch: int) -> Iterator[Any]:
        raise NotImplementedError

    def _length(self) -> int | None:
        return None

    def _record(self, index: int) -> Any:
        raise TypeError(f"{self._kind} records are not random-access")

    def _unit_layout(self) -> UnitLayout | None:
        """The source's units (e.g. tar shards), when ranks take whole units (:mod:`dataio.sources.units`);
        ``None``: ranks share out records."""
        return None

    def _unit_records(self, unit: int, skip: int) -> Iterator[Any]:
        """The records of unit ``unit``, after its first ``skip`` (sources with a unit layout)."""
        raise TypeError(f"{self._kind} records do not come in units")

    @property
    def random_access(self) -> bool:
        """True when the source has a length and fetches a record by index (``len`` and indexing work)."""
        return type(self)._record is not RecordSource._record and self._length() is not None

    # -- the public surface ----------------------------------------------------------------

    def epoch_records(self, seed: int = 0, epoch: int = 0) -> Iterator[Any]:
        """One epoch's records.

        Raises:
            RuntimeError: a single-pass source iterated a second time.
        """
        if self.single_pass:
            with self._lock:
                self._passes += 1
                if self._passes > 1:
                    raise RuntimeError(f"{self._kind}: this source reads a one-shot iterator and was already "
                                       "iterated; use from_iterable(lambda: ...) for a source read every epoch")
        return self._records(seed, epoch)

    def __iter__(self) -> Iterator[Any]:
        return self.epoch_records(0, 0)

    def __len__(self) -> int:
        length = self._length()
        if length is None:
            raise TypeError(f"len(): the length of this {self._kind} source is not known")
        return length

    def shuffle(self, *, seed: int | None = None, buffer_size: int | None = None) -> RecordSource:
        """The same records in a seeded random order.

        Args:
            seed: ``None``: a new order every epoch, from ``(run seed, epoch)``; an int: the same
                order every epoch.
            buffer_size: ``None``: a full shuffle (random-access sources permute indices; others
                are read into a list per epoch); an int: a streaming shuffle through a buffer of
                that many records (the only option for single-pass sources).

        Raises:
            TypeError: a full shuffle of a single-pass source.
        """
        if seed is not None:
            seed = as_seed("shuffle", "seed", seed)
        if buffer_size is not None:
            buffer_size = as_int("shuffle", "buffer_size", buffer_size, minimum=1)
        elif self.single_pass:
            raise TypeError(f"shuffle(): a single-pass {self._kind} source cannot be shuffled whole; pass "
                            "buffer_size=N for a streaming shuffle")
        return _Shuffled(self, seed, buffer_size)

    def map_records(self, fn: Callable[[Any], Any]) -> RecordSource:
        """Each record replaced by ``fn(record)`` (applied as records are produced)."""
        if not callable(fn):
            raise TypeError(f"map_records(fn={fn!r}): fn must be callable")
        return _Mapped(self, fn)

    def filter_records(self, predicate: Callable[[Any], bool]) -> RecordSource:
        """Only the records for which ``predicate(record)`` is true (the length becomes unknown)."""
        if not callable(predicate):
            raise TypeError(f"filter_records(predicate={predicate!r}): predicate must be callable")
        return _Filtered(self, predicate)

    def describe(self) -> dict[str, Any]:
        """What the source is: its kind, length (``None`` if unknown) and construction details."""
        return {"kind": self._kind, "length": self._length(), "single_pass": self.single_pass, **self._details}

    def __repr__(self) -> str:
        length = self._length()
        return f"<RecordSource {self._kind}{'' if length is None else f', {length} records'}>"


def shuffle_generator(seed: int | None, run_seed: int, epoch: int) -> np.random.Generator:
    """The generator of one epoch's shuffle: fixed for an explicit ``seed``, else per (run seed, epoch)."""
    if seed is not None:
        return np.random.default_rng(derive(seed, 0, 0, SHUFFLE_STREAM))
    return np.random.default_rng(derive(run_seed, epoch, 0, SHUFFLE_STREAM))


class _Derived(RecordSource):
    def __init__(self, inner: RecordSource, kind: str, **details: Any) -> None:
        super().__init__(kind, source=inner.describe(), **details)
        self.inner = inner
        self.single_pass = inner.single_pass

    def epoch_records(self, seed: int = 0, epoch: int = 0) -> Iterator[Any]:
        return self._records(seed, epoch)  # the inner source enforces single-pass use


class _Shuffled(_Derived):
    def __init__(self, inner: RecordSource, seed: int | None, buffer_size: int | None) -> None:
        super().__init__(inner, "shuffle", seed=seed, buffer_size=buffer_size)
        self._seed, self._buffer_size = seed, buffer_size

    def _length(self) -> int | None:
        return self.inner._length()

    def _records(self, seed: int, epoch: int) -> Iterator[Any]:
        rng = shuffle_generator(self._seed, seed, epoch)
        if self._buffer_size is not None:
            return _buffered(self.inner.epoch_records(seed, epoch), self._buffer_size, rng)
        if self.inner.random_access:
            inner = self.inner
            return (inner._record(int(i)) for i in rng.permutation(inner._length()))  # type: ignore[arg-type]
        records = list(self.inner.epoch_records(seed, epoch))
        return (records[int(i)] for i in rng.permutation(len(records)))


def _buffered(records: Iterator[Any], size: int, rng: np.random.Generator) -> Iterator[Any]:
    """A streaming shuffle: fill a buffer, then emit a random slot and refill it."""
    buffer: list[Any] = []
    for record in records:
        if len(buffer) < size:
            buffer.append(record)
            continue
        slot = int(rng.integers(size))
        yield buffer[slot]
        buffer[slot] = record
    order = rng.permutation(len(buffer))
    yield from (buffer[int(i)] for i in order)


class _Mapped(_Derived):
    def __init__(self, inner: RecordSource, fn: Callable[[Any], Any]) -> None:
        super().__init__(inner, "map_records", fn=getattr(fn, "__qualname__", repr(fn)))
        self._fn = fn

    def _length(self) -> int | None:
        return self.inner._length()

    def _record(self, index: int) -> Any:
        return self._fn(self.inner._record(index))

    @property
    def random_access(self) -> bool:
        return self.inner.random_access

    def _records(self, seed: int, epoch: int) -> Iterator[Any]:
        return (self._fn(record) for record in self.inner.epoch_records(seed, epoch))

    def _unit_layout(self) -> UnitLayout | None:
        return self.inner._unit_layout()

    def _unit_records(self, unit: int, skip: int) -> Iterator[Any]:
        return (self._fn(record) for record in self.inner._unit_records(unit, skip))


class _Filtered(_Derived):
    def __init__(self, inner: RecordSource, predicate: Callable[[Any], bool]) -> None:
        super().__init__(inner, "filter_records", predicate=getattr(predicate, "__qualname__", repr(predicate)))
        self._predicate = predicate

    def _records(self, seed: int, epoch: int) -> Iterator[Any]:
        return (record for record in self.inner.epoch_records(seed, epoch) if self._predicate(record))

    def _unit_layout(self) -> UnitLayout | None:
        return self.inner._unit_layout()

    def _unit_records(self, unit: int, skip: int) -> Iterator[Any]:
        kept = (record for record in self.inner._unit_records(unit, 0) if self._predicate(record))
        return islice(kept, skip, None)  # offsets count the records this source yields
