"""Batch buffers are reused only once nothing outside the loader references them."""

from __future__ import annotations

import numpy as np
import pytest

import dataio
from dataio.runtime.buffers import BufferPool


def _pipe(batch_size: int = 4) -> dataio.Pipeline:
    return dataio.pipeline(dataio.slot("image").decode_image().resize(h=32, w=32).normalize("imagenet"),
                           dataio.batch(batch_size, prefetch=2))


def test_dropped_batches_give_their_buffers_back(jpeg_paths: list[str]) -> None:
    with _pipe().bind([{"image": p} for p in jpeg_paths]).run("numpy", device="cpu") as loader:
        addresses = [batch["image"].ctypes.data for _ in range(3) for batch in loader]
    assert len(set(addresses)) < len(addresses) // 2  # 18 batches from a handful of buffers


@pytest.mark.parametrize("output", ["numpy", "torch"])
def test_kept_batches_and_views_are_never_overwritten(jpeg_paths: list[str], output: str) -> None:
    if output == "torch":
        pytest.importorskip("torch")
    records = [{"image": p} for p in jpeg_paths]
    with _pipe().bind(records).run("numpy", device="cpu", order="submit") as loader:
        expected = [np.array(batch["image"]) for batch in loader]  # copies
    kept, kept_views, snapshots = [], [], []
    with _pipe().bind(records).run(output, device="cpu", order="submit") as loader:
        for _ in range(2):  # a second epoch would reuse anything wrongly given back
            for number, batch in enumerate(loader):
                value = batch["image"]
                if number % 2 == 0:
                    kept.append((number, value))  # the whole batch
                else:
                    kept_views.append((number, value[1:3]))  # only a view of it
                snapshots.append(np.array(value.numpy() if hasattr(value, "numpy") else value))
    for number, value in kept:
        np.testing.assert_array_equal(np.asarray(value), expected[number])
    for number, view in kept_views:
        np.testing.assert_array_equal(np.asarray(view), expected[number][1:3])
    assert len(snapshots) == 2 * len(expected)


def test_the_pool_hands_out_a_buffer_only_when_unreferenced() -> None:
    pool = BufferPool(keep=2)
    first = pool.take((2, 3), np.float32)
    assert pool.take((2, 3), np.float32) is not first  # `first` is still referenced here
    view = first[1]
    address = first.ctypes.data
    del first
    assert pool.take((2, 3), np.float32).ctypes.data != address  # the view keeps it alive
    del view
    assert pool.take((2, 3), np.float32).ctypes.data == address
    assert pool.take((4,), np.uint8).shape == (4,)  # another shape: its own buffers
