"""Sharding an epoch across ranks (docs/api.md §4.6) and the elastic-resume rule.

An epoch has one **global order**: the source's logical order (``sticky=True``), or that
order permuted by ``(seed, epoch)`` (``sticky=False``; the same permutation on every rank).
A rank's records are the global order dealt round-robin — position ``p`` goes to rank
``p % of`` — optionally padded by repeating the rank's last record so every rank yields
the same number of full batches. Every record keeps its **logical index** (its position in
the source), which seeds its random ops (§4.7): a record is augmented the same way
whichever rank reads it, which is what makes elastic resume exact.

Elastic resume. A state saved under ``of=N`` after its rank consumed ``c`` records says the
first ``global_start + c·N`` positions of the epoch's global order are consumed — exact when
every old rank consumed the same number of records, as in lockstep data-parallel training
(every rank steps on every batch; with ``pad=True``, the default, ranks never run out at
different times). Loaded under ``of=M``, the remaining positions are dealt round-robin
over the ``M`` new ranks (padding, if on, computed over what remains). With ``M == N`` this
is exactly the stream the rank would have continued with, so a same-size resume is the
same rule.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np

from dataio._errors import PlanError
from dataio._validate import as_bool, as_int
from dataio.seeds import derive

SHUFFLE_STREAM = 0x5A4D
"""``stream`` value of the ``sticky=False`` permutation seed (``derive(seed, epoch, 0, SHUFFLE_STREAM)``)."""


class ShardSpec:
    """Which part of every epoch this process reads (docs/api.md §4.6).

    Args:
        id: this rank, ``0 <= id < of``.
        of: the number of ranks; ``1`` means no sharding.
        sticky: ``True``: record ``i`` of the source belongs to rank ``i % of`` every epoch;
            ``False``: the order is first permuted by ``(seed, epoch)``, the same on every rank.
        pad: every rank yields the same number of full batches (its last record repeated).

    Raises:
        TypeError / ValueError: a non-int or out-of-range ``id``/``of``, a non-bool flag.
    """

    __slots__ = ("_id", "_of", "_sticky", "_pad")

    def __init__(self, *, id: int, of: int, sticky: bool = True, pad: bool = True) -> None:  # noqa: A002
        self._of = as_int("ShardSpec", "of", of, minimum=1)
        self._id = as_int("ShardSpec", "id", id, minimum=0)
        if self._id >= self._of:
            raise PlanError(f"ShardSpec(id={id}, of={of}): id must be < of")
        self._sticky = as_bool("ShardSpec", "sticky", sticky)
        self._pad = as_bool("ShardSpec", "pad", pad)

    id = property(lambda self: self._id, doc="This rank.")
    of = property(lambda self: self._of, doc="The number of ranks.")
    sticky = property(lambda self: self._sticky, doc="Records stay on their rank across epochs.")
    pad = property(lambda self: self._pad, doc="Ranks yield equal numbers of full batches.")

    @property
    def is_sharded(self) -> bool:
        """True when this spec reads a part of each epoch (``of > 1``)."""
        return self._of > 1

    def as_dict(self) -> dict[str, Any]:
        """``{"id", "of", "sticky", "pad"}``: the form ``run(shard=...)`` and ``state_dict`` use."""
        return {"id": self._id, "of": self._of, "sticky": self._sticky, "pad": self._pad}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ShardSpec) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.as_dict().values()))

    def __repr__(self) -> str:
        return f"ShardSpec(id={self._id}, of={self._of}, sticky={self._sticky}, pad={self._pad})"


NO_SHARD = ShardSpec(id=0, of=1)
_KEYS = ("id", "of", "sticky", "pad")
LOGGER = logging.getLogger("dataio")


def resolve_shard(value: Any) -> ShardSpec:
    """``run(shard=...)`` as a :class:`ShardSpec` (``NO_SHARD`` for ``None``).

    ``"auto"`` reads ``torch.distributed`` when it is initialised, else JAX's process index and
    count when the program imported ``jax`` and initialised ``jax.distributed``, else the ``RANK``
    and ``WORLD_SIZE`` environment variables (as set by torchrun), else SLURM's ``SLURM_PROCID``
    and ``SLURM_NTASKS``, else no sharding — said once per process on the ``dataio`` logger.

    Raises:
        TypeError: not ``None``, ``"auto"``, a ``ShardSpec`` or a mapping.
        PlanError: unknown or missing keys, out-of-range values, or unusable launcher variables (one of a pair
            set without the other, or not a non-negative int).
    """
    if value is None:
        return NO_SHARD
    if isinstance(value, ShardSpec):
        return value
    if value == "auto":
        return _auto_shard()
    if not isinstance(value, Mapping):
        raise TypeError(f"run(shard={value!r}): shard must be None, 'auto', a ShardSpec or a mapping with 'id' "
                        "and 'of'")
    unknown = sorted(set(value) - set(_KEYS))
    if unknown or not {"id", "of"} <= set(value):
        raise PlanError(f"run(shard={dict(value)!r}): shard needs keys 'id' and 'of' (optional 'sticky', "
                        f"'pad'){'; unknown: ' + ', '.join(map(repr, unknown)) if unknown else ''}")
    return ShardSpec(**value)


def _auto_shard() -> ShardSpec:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return ShardSpec(id=dist.get_rank(), of=dist.get_world_size())
    except ImportError:
        pass
    jax = sys.modules.get("jax")  # a JAX program imported it; importing it here would start JAX's backends
    if jax is not None and jax.distributed.is_initialized():
        return ShardSpec(id=jax.process_index(), of=jax.process_count())
    for rank_name, world_name in _LAUNCHER_VARIABLES:
        rank, world = os.environ.get(rank_name), os.environ.get(world_name)
        if rank is None and world is None:
            continue
        if rank is None or world is None or not (rank.isdigit() and world.isdigit()):
            raise PlanError(f"run(shard='auto'): {rank_name}={rank!r} and {world_name}={world!r} must both be set "
                            "to non-negative ints")
        return ShardSpec(id=int(rank), of=int(world))
    _warn_one_rank()
    return NO_SHARD


_LAUNCHER_VARIABLES = (("RANK", "WORLD_SIZE"), ("SLURM_PROCID", "SLURM_NTASKS"))
"""Where ``shard="auto"`` reads rank and world size after ``torch.distributed``: torchrun's, then SLURM's."""


@functools.cache
def _warn_one_rank() -> None:
    """Say once per process that ``shard="auto"`` found no distributed launch (a single process is then all
    ranks: a mistake when the launcher was not seen)."""
    LOGGER.warning("run(shard='auto'): no torch.distributed process group, no jax.distributed, no RANK/WORLD_SIZE "
                   "(torchrun) and no SLURM_PROCID/SLURM_NTASKS: this process reads every record (one rank)")


def rank_records(records: Iterable[Any], spec: ShardSpec, *, seed: int, epoch: int, batch_size: int,
                 global_start: int = 0) -> Iterator[tuple[int, Any]]:
    """This rank's ``(logical index, record)`` stream for one epoch.

    Args:
        records: the epoch's records in logical order.
        spec: the sharding; ``of == 1`` yields every record (permuted if ``sticky=False``, never padded).
        seed, epoch: the run seed and epoch (``sticky=False`` permutation).
        batch_size: the batch size (padding rounds up to full batches).
        global_start: positions of the global order consumed before this stream (elastic resume).
    """
    source = iter(records)
    try:
        ordered = _drop(_global_order(source, spec, seed, epoch), global_start)
        if not spec.is_sharded:
            yield from ordered
        else:
            yield from _dealt(ordered, spec, batch_size)
    finally:  # the iterator was made here (from a factory or a source): finish it now, not at GC
        close = getattr(source, "close", None)
        if callable(close):
            close()


def _dealt(ordered: Iterator[tuple[int, Any]], spec: ShardSpec, batch_size: int) -> Iterator[tuple[int, Any]]:
    """Every ``of``-th pair from position ``id``, then the padding."""
    dealt, remaining = 0, 0
    last: tuple[int, Any] | None = None
    for position, pair in enumerate(ordered):
        remaining = position + 1
        if last is None:
            last = pair  # the first remaining record pads a rank that gets none
        if position % spec.of == spec.id:
            dealt += 1
            last = pair
            yield pair
    if spec.pad and last is not None:
        target = math.ceil(math.ceil(remaining / spec.of) / batch_size) * batch_size
        for _ in range(target - dealt):
            yield last


def rank_length(total: int, spec: ShardSpec, batch_size: int, *, drop_last: bool) -> int:
    """Batches a rank yields per epoch from ``total`` records (``len(loader)``)."""
    if not spec.is_sharded:
        n = total
    elif spec.pad:
        return math.ceil(math.ceil(total / spec.of) / batch_size)
    else:
        n = len(range(spec.id, total, spec.of))
    return n // batch_size if drop_last else math.ceil(n / batch_size)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a rank's stream starts within an epoch (what a state records beyond the spec's keys).

    Attributes:
        global_start: positions of the epoch's global order dealt before this stream (non-zero
            only after an elastic resume).
        skip: records of this stream already consumed (the batch in progress is replayed).
        batch_offset: batches delivered before this stream (batch numbers continue from it,
            so batch transforms draw what they would have drawn).
    """

    global_start: int = 0
    skip: int = 0
    batch_offset: int = 0

    def redealt(self, old_of: int, batch_size: int) -> Cursor:
        """The elastic rule: every old rank consumed the batches this one did; deal the rest afresh."""
        batches = -(-self.skip // batch_size)  # whole batches; off a boundary only after a final short one
        return Cursor(self.global_start + batches * batch_size * old_of, 0, self.batch_offset + batches)


def _global_order(records: Iterator[Any], spec: ShardSpec, seed: int, epoch: int) -> Iterator[tuple[int, Any]]:
    if spec.sticky:
        return enumerate(records)
    materialised: Sequence[Any] = list(records)
    order = np.random.default_rng(derive(seed, epoch, 0, SHUFFLE_STREAM)).permutation(len(materialised))
    return ((int(i), materialised[int(i)]) for i in order)


def _drop(pairs: Iterator[tuple[int, Any]], count: int) -> Iterator[tuple[int, Any]]:
    """``pairs`` after its first ``count`` items."""
    return islice(pairs, count, None)
