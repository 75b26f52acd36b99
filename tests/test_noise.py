"""The counter-based normals of ``gaussian_noise`` (``dataio.ops.noise``): a standard normal per element, a pure
function of the record's key and the element's index."""

from __future__ import annotations

import numpy as np

from dataio.ops.noise import NUMPY, key_halves, standard_normals

INDEX = np.arange(1 << 20, dtype=np.uint32)


def test_the_normals_are_standard_normal() -> None:
    z = standard_normals(INDEX, np.array([0x12345678], np.uint32), NUMPY)
    assert z.dtype == np.float32 and np.isfinite(z).all()
    assert abs(z.mean()) < 0.005 and abs(z.std() - 1) < 0.005
    for threshold, tail in ((1.0, 0.3173), (1.96, 0.05), (3.0, 0.0027)):  # two-sided tails of N(0, 1)
        assert abs((np.abs(z) > threshold).mean() - tail) < 0.1 * tail + 2e-4, threshold
    assert abs(np.mean(z ** 4) - 3) < 0.05  # kurtosis


def test_neighbours_and_keys_are_unrelated() -> None:
    z = standard_normals(INDEX, np.array([7], np.uint32), NUMPY)
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 0.005  # along the index
    other = standard_normals(INDEX, np.array([8], np.uint32), NUMPY)  # the next key
    assert abs(np.corrcoef(z, other)[0, 1]) < 0.005


def test_a_value_depends_only_on_its_key_and_index() -> None:
    key = np.array([99], np.uint32)
    whole = standard_normals(INDEX[:1000], key, NUMPY)
    part = standard_normals(INDEX[500:1000], key, NUMPY)
    np.testing.assert_array_equal(whole[500:], part)


def test_the_graph_gets_the_key_exactly_in_two_float32_halves() -> None:
    for key in (0, 1, 0xFFFF, 0x10000, 0xDEADBEEF, 0xFFFFFFFF):
        high, low = (np.float32(half) for half in key_halves(key))
        assert int(high) * 65536 + int(low) == key
