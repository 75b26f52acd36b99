"""Regression tests for edge cases found in review: chained resizes, alpha, draft alignment, casts,
resume under collate/group_by, closing from elsewhere, zero-sized per-record dims."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import numpy as np
import pytest
from PIL import Image

import dataio
from dataio import transforms as T
from tests.conftest import encode


def one(stage: dataio.SlotStage, record: dict[str, Any], **options: Any) -> dataio.Batch:
    pipe = dataio.pipeline(stage, dataio.batch(1))
    with pipe.bind([record]).run("numpy", **options) as loader:
        return next(iter(loader))


def test_two_resizes_in_a_row_both_apply() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    stage = dataio.slot("x").decode_image().resize(h=16, w=16, interp="bilinear").resize(h=128, w=128,
                                                                                        interp="bilinear")
    got = one(stage, {"x": encode(Image.fromarray(noise))})["x"][0]
    small = Image.fromarray(noise).resize((16, 16), Image.Resampling.BILINEAR)
    expected = np.asarray(small.resize((128, 128), Image.Resampling.BILINEAR))
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_resizing_rgba_keeps_colour_under_low_alpha() -> None:
    pixels = np.full((8, 8, 4), (200, 100, 50, 1), dtype=np.uint8)
    stage = dataio.slot("x").decode_image(mode="rgba").resize(h=4, w=4, interp="bilinear")
    got = one(stage, {"x": encode(Image.fromarray(pixels, "RGBA"))})["x"][0]
    np.testing.assert_array_equal(got, np.full((4, 4, 4), (200, 100, 50, 1), dtype=np.uint8))


def test_draft_view_is_aligned_for_sides_not_divisible_by_the_scale() -> None:
    yy, xx = np.mgrid[0:601, 0:1001]
    checker = (((yy // 50) + (xx // 50)) % 2 * 255).astype(np.uint8)
    payload = encode(Image.fromarray(np.dstack([checker] * 3)), "JPEG", quality=95)
    got = one(dataio.slot("x").decode_image().resize(h=64, w=64), {"x": payload})["x"][0]
    with Image.open(io.BytesIO(payload)) as source:
        full = np.asarray(source.convert("RGB").resize((64, 64), Image.Resampling.BICUBIC))
    assert np.abs(got.astype(int) - full.astype(int)).mean() <= 2.0


@pytest.mark.parametrize(("dtype", "expected"), [
    ("int32", [2147483647, -2147483648, 2147483647, 1]),
    ("uint32", [3000000000, 0, 4294967295, 1]),
])
def test_float32_to_32_bit_ints_saturates(dtype: str, expected: list[int]) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([3e9, -3e9, 5e9, 1.0], dtype=np.float32))
    got = one(dataio.slot("x").decode_npy().cast(dtype=dtype), {"x": buffer.getvalue()})["x"][0]
    assert got.tolist() == expected


@pytest.mark.parametrize("shape", ["collate", "group_by"])
def test_resume_twice_under_collate_and_group_by(shape: str) -> None:
    records = [{"key": f"r{i}", "x": b"v", "g": i // 2} for i in range(10)]
    if shape == "collate":
        stage: Any = dataio.collate()
        source: Any = [records[i:i + 2] for i in range(0, 10, 2)]
    else:
        stage, source = dataio.group_by("g"), records
    pipe = dataio.pipeline(dataio.slot("x").decode_bytes(), stage)
    with pipe.bind(source).run("numpy") as loader:
        iterator = iter(loader)
        next(iterator), next(iterator)
        state = loader.state_dict()
    with pipe.bind(source).run("numpy") as loader:
        loader.load_state_dict(state)
        iterator = iter(loader)
        assert next(iterator).keys == ["r4", "r5"]
        state = loader.state_dict()
    assert state["samples_consumed"] == 6
    with pipe.bind(source).run("numpy") as loader:
        loader.load_state_dict(state)
        assert next(iter(loader)).keys == ["r6", "r7"]


def test_close_from_another_thread_unblocks_next() -> None:
    def slow(record: Any) -> Any:
        time.sleep(0.3)
        return record

    pipe = dataio.pipeline(dataio.map(slow), dataio.slot("x").decode_bytes(), dataio.batch(4))
    loader = pipe.bind([{"x": b"v"}] * 8).run("numpy")
    outcome: dict[str, Any] = {}

    def consume() -> None:
        try:
            outcome["value"] = next(iter(loader))
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome["error"] = exc

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.1)
    loader.close()
    consumer.join(10)
    assert not consumer.is_alive(), "next() stayed blocked after close()"
    assert isinstance(outcome.get("error"), StopIteration) or "value" in outcome


def test_with_break_then_close_runs_no_user_code_afterwards() -> None:
    calls = []

    def context(record: Any) -> Any:
        time.sleep(0.02)
        calls.append(1)
        return None

    pipe = dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.batch(2))
    with pipe.bind([{"x": b"v"}] * 64).run("numpy", context=context, concurrency=16) as loader:
        for _ in loader:
            break
    settled = len(calls)
    time.sleep(0.3)
    assert len(calls) == settled


@pytest.mark.parametrize("op", [T.center_crop(h=dataio.col("h"), w=4), T.random_crop(h=dataio.col("h"), w=4)])
def test_zero_size_from_a_field_is_a_row_error(op: Any) -> None:
    image = encode(Image.fromarray(np.zeros((8, 8, 3), np.uint8)))
    batch = one(dataio.slot("x").decode_image().apply(op), {"x": image, "h": 0}, on_failure=0)
    assert len(batch) == 0 and "must be an int >= 1" in batch.errors[0]["message"]


def test_bad_group_key_still_delivers_the_complete_group_before_it() -> None:
    records = [{"x": b"v", "g": 1}, {"x": b"v", "g": 1}, {"x": b"v"}]
    pipe = dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.group_by("g"))
    with pipe.bind(records).run("numpy") as loader:
        iterator = iter(loader)
        assert len(next(iterator)) == 2
        with pytest.raises(KeyError, match="group_by"):
            next(iterator)
