"""Deterministic seeds (docs/api.md §4.7): random values depend on data, never on timing.

``derive(seed, epoch, index)`` mixes the run seed, the epoch and a record's logical
index (or a batch number) with SplitMix64, so every record gets an independent,
reproducible 64-bit seed whatever the worker count, ordering or resumption.
"""

from __future__ import annotations

import numpy as np

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _splitmix64(x: int) -> int:
    x = (x + _GOLDEN) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def derive(seed: int, epoch: int, index: int, stream: int = 0) -> int:
    """A 64-bit seed for ``(seed, epoch, index)``; ``stream`` separates record and batch seeds."""
    x = _splitmix64(seed & _MASK)
    x = _splitmix64(x ^ (epoch & _MASK))
    x = _splitmix64(x ^ (stream & _MASK))
    return _splitmix64(x ^ (index & _MASK))


BATCH_STREAM = 0xB47C4
"""``stream`` value for batch-transform seeds (``derive(seed, epoch, batch_no, BATCH_STREAM)``)."""


def generator(seed: int) -> np.random.Generator:
    """The random generator a slot chain draws from, started at ``seed``."""
    return np.random.Generator(np.random.PCG64(seed))
