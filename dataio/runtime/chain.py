"""What a kernel sees of the record it works on: per-record arguments and randomness.

Shared by every executor. A :class:`ChainContext` is made per (record, slot): it
resolves ``col(...)`` arguments against the record and hands out the slot chain's
random generator, started from the record seed (docs/api.md §4.7) so sibling slots of one
record draw the same first values.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from dataio._errors import RecordError
from dataio.ops._base import Op
from dataio.ops.cond import MISSING, Param
from dataio.runtime.records import lookup_field
from dataio.runtime.rows import RowFailure
from dataio.seeds import generator


class ChainContext:
    """Per-record state for one slot chain.

    Attributes:
        record: the record after per-record maps.
        seed: the record seed.
        where: how messages name the record (its key).
        label: how messages name the payload (path/URI or ``<in-memory payload>``).
        seed_words: the seed's SeedSequence words when the batch hashed them (a faster start
            of the same generator), else ``None``.
    """

    __slots__ = ("record", "seed", "where", "label", "seed_words", "_rng")

    def __init__(self, record: Any, seed: int, where: str, label: str, seed_words: Any = None) -> None:
        self.record = record
        self.seed = seed
        self.where = where
        self.label = label
        self.seed_words = seed_words
        self._rng: np.random.Generator | None = None

    @property
    def rng(self) -> np.random.Generator:
        """The chain's generator; successive random ops draw successive values."""
        if self._rng is None:
            self._rng = generator(self.seed, self.seed_words)
        return self._rng

    def arg(self, op: Op, name: str, kind: type = int, *, minimum: int = 0) -> Any:
        """Parameter ``name`` of ``op``, reading a ``col(...)`` reference from the record.

        Args:
            op: the op.
            name: the parameter.
            kind: what a referenced field must hold: ``int``, ``float`` or ``str``.
            minimum: the smallest int accepted (1 for sizes, 0 for offsets and padding).

        Raises:
            RecordError: the referenced field is missing (fatal, docs/api.md §2.6 step 3).
            RowFailure: the field holds a value of the wrong kind.
        """
        value = getattr(op, name)
        if not isinstance(value, Param):
            return value
        found = lookup_field(self.record, value.field)
        if found is MISSING:
            raise RecordError(f"record {self.where}: missing field {value.field!r} read by "
                              f"{op.qualname}({name}=col({value.field!r}))")
        checked = _as_kind(found, kind, minimum)
        if checked is None:
            stage: Literal["decode", "transform"] = "decode" if op.namespace == "decoders" else "transform"
            rule = {int: f"an int >= {minimum}", float: "a finite number", str: "a str"}[kind]
            raise RowFailure(stage, op.qualname, f"{name}=col({value.field!r}) must be {rule}; got {found!r}")
        return checked


def _as_kind(value: Any, kind: type, minimum: int) -> Any:
    """``value`` as ``kind`` when it is one (ints at least ``minimum``), else ``None``."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if kind is int:
        return int(value) if isinstance(value, (int, np.integer)) and value >= minimum else None
    if kind is float:
        ok = isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value)
        return float(value) if ok else None
    return value if isinstance(value, str) else None
