"""Properties linking the plan and the CPU executor (Hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import dataio
from dataio import transforms as T
from tests.conftest import encode

sides = st.integers(min_value=1, max_value=80)


@settings(max_examples=40, deadline=None)
@given(height=sides, width=sides, short=st.integers(1, 64), crop_h=st.integers(1, 48), crop_w=st.integers(1, 48))
def test_static_output_shape_is_what_the_executor_produces(height: int, width: int, short: int, crop_h: int,
                                                           crop_w: int) -> None:
    pixels = np.random.default_rng(height * 100 + width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    pipe = dataio.pipeline(
        dataio.slot("x").decode_image().resize_short(short).center_crop(h=crop_h, w=crop_w).normalize("imagenet"),
        dataio.batch(1))
    planned = pipe.plan.slots[0].output
    with pipe.bind([{"x": encode(Image.fromarray(pixels))}]).run("numpy", on_failure="strict") as loader:
        value = next(iter(loader))["x"]
    assert planned.is_static and value.shape == (1, *planned.shape) and value.dtype == np.float32


@settings(max_examples=40, deadline=None)
@given(height=sides, width=sides, short=st.integers(1, 64))
def test_resize_short_keeps_the_aspect_ratio(height: int, width: int, short: int) -> None:
    pixels = np.zeros((height, width, 3), np.uint8)
    pipe = dataio.pipeline(dataio.slot("x").decode_image().apply(T.resize_short(size=short)), dataio.batch(1))
    with pipe.bind([{"x": encode(Image.fromarray(pixels))}]).run("numpy", on_failure="strict") as loader:
        h, w = next(iter(loader))["x"].shape[1:3]
    assert min(h, w) == short
    assert abs(max(h, w) - max(height, width) * short / min(height, width)) <= 0.5 + 1e-9 or max(h, w) == 1


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 9), min_size=1, max_size=30), batch_size=st.integers(1, 7),
       drop_last=st.booleans())
def test_batches_partition_the_records(sizes: list[int], batch_size: int, drop_last: bool) -> None:
    records = [{"key": f"r{i}", "x": bytes(n)} for i, n in enumerate(sizes)]
    pipe = dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.batch(batch_size, drop_last=drop_last))
    with pipe.bind(records).run("numpy", concurrency=3) as loader:
        keys = [b.keys for b in loader]
        assert len(keys) == len(loader)
    flat = [k for batch in keys for k in batch]
    expected = len(sizes) - (len(sizes) % batch_size if drop_last else 0)
    assert flat == [f"r{i}" for i in range(expected)]
