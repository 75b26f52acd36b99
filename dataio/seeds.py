"""Deterministic seeds (docs/api.md §4.7): random values depend on data, never on timing.

``derive(seed, epoch, index)`` mixes the run seed, the epoch and a record's logical
index (or a batch number) with SplitMix64, so every record gets an independent,
reproducible 64-bit seed whatever the worker count, ordering or resumption.

A record's generator is numpy's ``Generator(PCG64(seed))``. Seeding one costs ~8 µs, most
of it numpy's ``SeedSequence`` hashing; the runtime hashes a whole batch's seeds at once
(:func:`derive_many`, :func:`seed_words`, vectorised) and each row's generator then starts
from its words (:func:`generator`) — the same stream, bit for bit, at a fifth of the cost.
"""

from __future__ import annotations

from typing import Any

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


def derive_many(seed: int, epoch: int, indices: np.ndarray) -> np.ndarray:
    """:func:`derive` for many indices at once (``uint64``; numpy's wrap-around is SplitMix64's modulus)."""
    x = _splitmix64(_splitmix64(_splitmix64(seed & _MASK) ^ (epoch & _MASK)) ^ 0)
    with np.errstate(over="ignore"):
        return _splitmix64_array(np.uint64(x) ^ np.asarray(indices).astype(np.uint64))


def _splitmix64_array(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(_GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


# numpy's SeedSequence constants (numpy/random/bit_generator.pyx), pool of 4 uint32 words
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_LOW32 = np.uint64(0xFFFFFFFF)


def seed_words(seeds: np.ndarray) -> np.ndarray:
    """``SeedSequence(seed).generate_state(4, uint64)`` for each 64-bit seed: ``[n, 4] uint64``.

    numpy's hashing, vectorised over seeds (uint32 arithmetic held in uint64 lanes, masked):
    the pool takes the seed's two 32-bit words and two zeros (a seed below 2**32 has one word,
    and hashing a missing word is hashing 0), is mixed, then 8 uint32 words are drawn from it.
    """
    seeds = np.asarray(seeds, dtype=np.uint64)
    zero = np.zeros_like(seeds)
    hash_const = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_const
        value = (value ^ np.uint64(hash_const)) & _LOW32
        hash_const = (hash_const * _MULT_A) & 0xFFFFFFFF
        value = (value * np.uint64(hash_const)) & _LOW32
        return value ^ (value >> np.uint64(16))

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result = (np.uint64(_MIX_L) * x - np.uint64(_MIX_R) * y) & _LOW32  # type: ignore[operator] # uint64 arrays
        return result ^ (result >> np.uint64(16))

    with np.errstate(over="ignore"):
        pool = [hashmix(word) for word in (seeds & _LOW32, seeds >> np.uint64(32), zero, zero)]
        for source in range(4):
            for target in range(4):
                if source != target:
                    pool[target] = mix(pool[target], hashmix(pool[source]))
        hash_const = _INIT_B
        words = []
        for i in range(8):
            value = (pool[i % 4] ^ np.uint64(hash_const)) & _LOW32
            hash_const = (hash_const * _MULT_B) & 0xFFFFFFFF
            value = (value * np.uint64(hash_const)) & _LOW32
            words.append(value ^ (value >> np.uint64(16)))
    return np.stack([words[2 * k] | (words[2 * k + 1] << np.uint64(32)) for k in range(4)], axis=1)


class _HashedSeed(np.random.bit_generator.ISeedSequence):
    """A seed whose SeedSequence words are already known (:func:`seed_words`): PCG64 takes them as they are."""

    __slots__ = ("words",)

    def __init__(self, words: np.ndarray) -> None:
        self.words = words

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        return self.words


def generator(seed: int, words: np.ndarray | None = None) -> np.random.Generator:
    """The random generator a slot chain draws from, started at ``seed``.

    ``words``: ``seed``'s row of :func:`seed_words`, when the caller hashed a batch at once
    (the same generator, without numpy's per-seed hashing).
    """
    if words is not None:
        return np.random.Generator(np.random.PCG64(_HashedSeed(words)))  # type: ignore[arg-type] # an ISeedSequence
    return np.random.Generator(np.random.PCG64(seed))
