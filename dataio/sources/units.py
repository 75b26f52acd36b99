"""Sources made of units — tar shards — that ranks take whole (docs/sharding.md, "Shard-aware sources").

A record-level shard (:mod:`dataio.runtime.sharding`) makes every rank read every record and
keep its own; for a webdataset that means every rank opens every tar. A source made of units
instead deals the units: in each epoch the units are put in one order (the source's, or a
permutation by ``(seed, epoch)`` when it shuffles shards or the run shuffles, ``sticky=False``),
and rank ``r`` of ``n`` takes
positions ``r, r + n, r + 2n, …`` of it — with ``pad`` (the default) every rank takes
``ceil(units / n)``, wrapping around to the start of the order, so ranks read the same number
of units. In resampled mode each rank draws units with replacement, endlessly, from its own
generator. A record's logical index (its seed, docs/api.md §4.7) is its unit's index shifted
left by 32 bits plus its offset in the unit, so a record draws the same values whichever rank
reads it; resampled records count draws instead of units.

Resume. A rank's place is ``(position, offset)``: the position of its current unit in its own
list and the records of that unit it consumed. Loading it skips the earlier units without
opening them. Elastic resume assumes lockstep training over shards of equal size — every old
rank stood at the same ``(position, offset)`` — and deals what remains over the new ranks:
the ``of`` units the old ranks were in, each with ``offset`` records consumed, then the units
none had opened. A :class:`UnitCursor` carries that remainder, and a second elastic resume
composes with the first.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import count, islice
from typing import Any, Protocol

import numpy as np

from dataio._errors import PlanError
from dataio.seeds import derive

UNIT_SHIFT = 32
"""A record's logical index is ``unit << UNIT_SHIFT | offset``: up to 2**32 records per unit."""
UNIT_ORDER_STREAM = 0x5A55
"""``stream`` value of the shard-shuffle seed (``derive(seed, epoch, 0, UNIT_ORDER_STREAM)``)."""
RESAMPLE_STREAM = 0x5A56
"""``stream`` value of a rank's resampling seed (``derive(seed, epoch, rank, RESAMPLE_STREAM)``)."""


class Ranks(Protocol):
    """Which rank this is, of how many, and how units are dealt (a :class:`dataio.ShardSpec` is one)."""

    @property
    def id(self) -> int: ...
    @property
    def of(self) -> int: ...
    @property
    def pad(self) -> bool: ...
    @property
    def sticky(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class OneRank:
    """Every unit to one reader, in the source's order (plain iteration of a source)."""

    id: int = 0
    of: int = 1
    pad: bool = False
    sticky: bool = True


@dataclass(frozen=True, slots=True)
class UnitLayout:
    """What a unit source tells the runtime: its units' names, and how they are ordered.

    Attributes:
        names: the units (e.g. tar shard paths), in the source's order.
        shuffle: a new order of the units every epoch, by ``(seed, epoch)``.
        resampled: units drawn with replacement, endlessly (an epoch never ends).
    """

    names: tuple[str, ...]
    shuffle: bool = False
    resampled: bool = False


@dataclass(frozen=True, slots=True)
class UnitCursor:
    """Where a rank resumes in an epoch of units.

    Attributes:
        start: units of the epoch's order wholly consumed before the current dealing (elastic).
        skips: records already consumed of the units at ``start``, ``start + 1``, … (the units
            the old ranks were in at an elastic resume).
        position: this rank's current unit, as a position in its own list of units.
        offset: records of that unit this rank consumed.
    """

    start: int = 0
    skips: tuple[int, ...] = ()
    position: int = 0
    offset: int = 0

    def skip(self, entry: int) -> int:
        """Records consumed before this dealing of entry ``entry`` of the remaining units."""
        return self.skips[entry] if entry < len(self.skips) else 0

    def redealt(self, old_of: int) -> UnitCursor:
        """The elastic rule: every old rank consumed ``position`` units and ``offset`` records of the next."""
        consumed = self.position * old_of
        skips = tuple(self.skip(consumed + j) + self.offset for j in range(old_of))
        return UnitCursor(self.start + consumed, skips, 0, 0)

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "skips": list(self.skips), "position": self.position, "offset": self.offset}

    @classmethod
    def from_state(cls, saved: Any) -> UnitCursor:
        """A cursor from a state's ``"units"`` entry.

        Raises:
            PlanError: not a mapping of non-negative ints (and a list of them for ``skips``).
        """
        if not isinstance(saved, Mapping) or set(saved) != {"start", "skips", "position", "offset"}:
            raise PlanError(f"load_state_dict: units must be a dict with start, skips, position, offset; got {saved!r}")
        values = [saved["start"], saved["position"], saved["offset"], *saved.get("skips", [])]
        if not isinstance(saved["skips"], list) or any(isinstance(v, bool) or not isinstance(v, int) or v < 0
                                                        for v in values):
            raise PlanError(f"load_state_dict: units holds a value that is not a non-negative int: {saved!r}")
        return cls(saved["start"], tuple(saved["skips"]), saved["position"], saved["offset"])


def unit_order(units: int, shuffle: bool, seed: int, epoch: int) -> list[int]:
    """The epoch's order of the units: theirs, or a permutation by ``(seed, epoch)``."""
    if not shuffle:
        return list(range(units))
    return np.random.default_rng(derive(seed, epoch, 0, UNIT_ORDER_STREAM)).permutation(units).tolist()


def rank_units(layout: UnitLayout, spec: Ranks, *, seed: int, epoch: int,
               cursor: UnitCursor) -> Iterator[tuple[int, int, int, int]]:
    """This rank's units from ``cursor`` on: ``(position, unit, base, skip)`` — its position in the rank's list,
    the unit's index, the index base of its records' logical indices, and the records to skip in it."""
    units = len(layout.names)
    if units == 0:
        return
    if layout.resampled:
        draws = np.random.default_rng(derive(seed, epoch, spec.id, RESAMPLE_STREAM))
        for position in count():
            unit = int(draws.integers(units))
            if position >= cursor.position:
                base = (position * spec.of + spec.id) << UNIT_SHIFT
                yield position, unit, base, cursor.offset if position == cursor.position else 0
        return
    remaining = unit_order(units, layout.shuffle or not spec.sticky, seed, epoch)[cursor.start:]
    if not remaining:
        return
    if spec.pad:
        entries = [(k * spec.of + spec.id) % len(remaining) for k in range(math.ceil(len(remaining) / spec.of))]
    else:
        entries = list(range(spec.id, len(remaining), spec.of))
    for position, entry in islice(enumerate(entries), cursor.position, None):
        skip = cursor.skip(entry) + (cursor.offset if position == cursor.position else 0)
        yield position, remaining[entry], remaining[entry] << UNIT_SHIFT, skip


class UnitStream:
    """One rank's ``(logical index, record)`` stream over a unit source, which remembers where each of its units
    began so that a count of consumed records becomes a :class:`UnitCursor` (:meth:`cursor_at`).

    ``consumed``: records of this rank's epoch consumed before ``cursor`` (the stream's first count).
    """

    def __init__(self, source: Any, layout: UnitLayout, spec: Ranks, *, seed: int, epoch: int,
                 cursor: UnitCursor, consumed: int) -> None:
        self._source, self._layout, self._spec = source, layout, spec
        self._seed, self._epoch, self._cursor, self._consumed = seed, epoch, cursor, consumed
        self._begins: list[int] = []  # per unit begun, the count at which its offset 0 lies
        self._positions: list[int] = []

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        seen = self._consumed
        cursor = self._cursor
        for position, unit, base, skip in rank_units(self._layout, self._spec, seed=self._seed, epoch=self._epoch,
                                                     cursor=cursor):
            extra = cursor.offset if position == cursor.position else 0  # consumed of it by this rank before
            self._begins.append(seen - extra)
            self._positions.append(position)
            offset = skip
            for record in self._source._unit_records(unit, skip):
                yield base | offset, record
                offset += 1
                seen += 1

    def cursor_at(self, consumed: int) -> UnitCursor:
        """The cursor after ``consumed`` records of the rank's epoch (records this stream has produced)."""
        if consumed <= self._consumed or not self._begins:
            return self._cursor
        k = bisect.bisect_right(self._begins, consumed) - 1
        return UnitCursor(self._cursor.start, self._cursor.skips, self._positions[k], consumed - self._begins[k])
