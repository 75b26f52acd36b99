"""Batch-hashed seeds start the very generators numpy's own seeding does (docs/api.md §4.7)."""

from __future__ import annotations

import numpy as np
import pytest

from dataio.seeds import derive, derive_many, generator, seed_words

EDGE_SEEDS = [0, 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1]


@pytest.mark.parametrize(("seed", "epoch"), [(0, 0), (12345, 3), (2**64 - 1, 2**40)])
def test_derive_many_is_derive_for_every_index(seed: int, epoch: int) -> None:
    indices = np.array([0, 1, 7, 2**31, 2**63 - 1, 2**64 - 1], dtype=np.uint64)
    assert derive_many(seed, epoch, indices).tolist() == [derive(seed, epoch, int(i)) for i in indices]


def test_seed_words_are_numpy_seed_sequence_words_and_start_the_same_stream() -> None:
    seeds = EDGE_SEEDS + np.random.default_rng(5).integers(0, 2**64 - 1, 200, dtype=np.uint64, endpoint=True).tolist()
    words = seed_words(np.array(seeds, dtype=np.uint64))
    for seed, row in zip(seeds, words, strict=True):
        np.testing.assert_array_equal(row, np.random.SeedSequence(seed).generate_state(4, np.uint64))
        fast, reference = generator(seed, row), generator(seed)
        assert fast.random(4).tolist() == reference.random(4).tolist()
        assert fast.permutation(6).tolist() == reference.permutation(6).tolist()
        assert fast.standard_normal(3).tolist() == reference.standard_normal(3).tolist()


def test_the_draws_uniform_is_numpy_uniform_bit_for_bit() -> None:
    from dataio.ops.draws import uniform

    for seed in EDGE_SEEDS:
        fast, reference = generator(seed), generator(seed)
        for lo, hi in [(0.0, 1.0), (-0.4, 0.4), (0.08, 1.0), (-1.2039728043259361, 0.28768207245178085), (3.0, 3.0)]:
            assert uniform(fast, lo, hi) == reference.uniform(lo, hi)
