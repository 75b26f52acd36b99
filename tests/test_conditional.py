"""Conditional ops and branches: which arm runs, randomness, plan checks and signatures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import dataio
from dataio import transforms as T
from dataio.cond import shape


def npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


IMAGE = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)


def run(stage: dataio.SlotStage, records: list[dict[str, Any]], seed: int = 0) -> Any:
    pipe = dataio.pipeline(stage, dataio.batch(len(records)))
    with pipe.bind(records).run("numpy", seed=seed, on_failure="strict") as loader:
        return next(iter(loader))["x"]


def slot() -> dataio.SlotStage:
    return dataio.slot("x").decode_npy()


def test_when_then_elif_otherwise_picks_the_first_true_arm() -> None:
    stage = (slot().when(dataio.col("kind").eq("h")).then(T.hflip(prob=1.0))
             .elif_(dataio.col("kind").is_in(["v", "vv"])).then(T.vflip(prob=1.0))
             .otherwise(T.hflip(prob=1.0), T.vflip(prob=1.0)))
    records = [{"x": npy(IMAGE), "kind": k} for k in ("h", "vv", "other")]
    out = run(stage, records)
    np.testing.assert_array_equal(out[0], IMAGE[:, ::-1])
    np.testing.assert_array_equal(out[1], IMAGE[::-1])
    np.testing.assert_array_equal(out[2], IMAGE[::-1, ::-1])


def test_branch_without_otherwise_leaves_value_unchanged_and_missing_field_is_null() -> None:
    stage = slot().when(dataio.col("flip").eq(True)).then(T.hflip(prob=1.0))
    out = run(stage, [{"x": npy(IMAGE), "flip": True}, {"x": npy(IMAGE)}])
    np.testing.assert_array_equal(out[0], IMAGE[:, ::-1])
    np.testing.assert_array_equal(out[1], IMAGE)


def test_shape_predicates_read_the_current_tensor() -> None:
    stage = slot().when(shape(1).gt(5)).then(T.crop(y=0, x=0, h=4, w=5)).otherwise(T.pad_axis(axis=1, target=5))
    wide, narrow = IMAGE, IMAGE[:, :4]
    out = run(stage, [{"x": npy(wide)}, {"x": npy(narrow)}])
    np.testing.assert_array_equal(out[0], IMAGE[:, :5])
    assert out[1].shape == (4, 5, 3) and not out[1][:, 4].any()


def test_elif_and_otherwise_must_follow_then() -> None:
    with pytest.raises(ValueError, match="directly follow"):
        slot().otherwise(T.hflip())
    with pytest.raises(ValueError, match="directly follow"):
        slot().when(dataio.col("a").eq(1)).then(T.hflip()).hflip().elif_(dataio.col("a").eq(2))
    with pytest.raises(ValueError, match="at least one op"):
        slot().when(dataio.col("a").eq(1)).then()


def test_sometimes_uses_one_coin_per_record_and_the_seed() -> None:
    stage = slot().apply(T.sometimes([T.hflip(prob=1.0), T.vflip(prob=1.0)], prob=0.5))
    records = [{"x": npy(IMAGE)} for _ in range(40)]
    out = run(stage, records, seed=3)
    flipped = [np.array_equal(r, IMAGE[::-1, ::-1]) for r in out]
    unchanged = [np.array_equal(r, IMAGE) for r in out]
    assert all(f or u for f, u in zip(flipped, unchanged, strict=True))  # whole body or nothing
    assert 8 < sum(flipped) < 32
    np.testing.assert_array_equal(out, run(stage, records, seed=3))
    assert not np.array_equal(out, run(stage, records, seed=4))


def test_choice_weights_zero_means_never() -> None:
    stage = slot().apply(T.choice([T.hflip(prob=1.0), T.vflip(prob=1.0)], weights=[0.0, 1.0]))
    out = run(stage, [{"x": npy(IMAGE)} for _ in range(10)])
    for row in out:
        np.testing.assert_array_equal(row, IMAGE[::-1])


def test_some_of_runs_n_distinct_arms() -> None:
    arms = [T.pad_axis(axis=0, target=5), T.hflip(prob=1.0), T.vflip(prob=1.0)]
    stage = slot().apply(T.cast(dtype="int32"), T.some_of(3, arms))
    out = run(stage, [{"x": npy(IMAGE)}])
    expected = np.pad(IMAGE.astype(np.int32), ((0, 1), (0, 0), (0, 0)))[::-1, ::-1]
    np.testing.assert_array_equal(out[0], expected)


def test_arm_validation() -> None:
    with pytest.raises(ValueError, match="at least one op"):
        T.sometimes([])
    with pytest.raises(ValueError, match="2 weights for 3 arms"):
        T.choice([T.hflip(), T.vflip(), T.hflip()], weights=[1, 1])
    with pytest.raises(ValueError, match="n must be <="):
        T.some_of(3, [T.hflip()])
    with pytest.raises(TypeError, match="Cond"):
        T.select([("a", T.hflip())])


def test_incompatible_arms_fail_at_pipeline() -> None:
    stage = (dataio.slot("x").decode_image().when(dataio.col("a").eq(1)).then(T.resize(h=8, w=8))
             .otherwise(T.resize(h=9, w=9)))
    with pytest.raises(dataio.PlanError, match="different static sizes"):
        dataio.pipeline(stage, dataio.batch(2))


def test_predicates_are_part_of_the_signature() -> None:
    def pipe(value: int) -> dataio.Pipeline:
        return dataio.pipeline(slot().when(dataio.col("a").eq(value)).then(T.hflip()), dataio.batch(2))

    assert pipe(1).signature == pipe(1).signature != pipe(2).signature


def test_active_when_never_reads_a_gated_off_field(tmp_path: Any) -> None:
    mask = tmp_path / "mask.npy"
    np.save(mask, np.ones((2, 2), np.uint8))
    pipe = dataio.pipeline(
        dataio.slot("x").decode_npy(),
        dataio.slot("mask", optional=True).decode_npy().active_when(dataio.col("has_mask").eq(True)),
        dataio.batch(3))
    records = [{"x": npy(IMAGE), "mask": str(mask), "has_mask": True},
               {"x": npy(IMAGE), "mask": str(tmp_path / "absent.npy"), "has_mask": False},
               {"x": npy(IMAGE), "mask": str(tmp_path / "absent.npy")}]
    with pipe.bind(records).run("numpy", on_failure="strict") as loader:
        batch = next(iter(loader))
    assert batch.errors == [] and batch["mask"][1] is None and batch["mask"][2] is None
    np.testing.assert_array_equal(batch["mask"][0], np.ones((2, 2)))


def test_skip_when_with_shape_predicate_is_refused() -> None:
    with pytest.raises(ValueError, match="shape predicates"):
        slot().skip_when(shape(0).gt(1))


@pytest.mark.parametrize(("cond", "record", "expected"), [
    (dataio.col("a").eq(1), {"a": 1}, True),
    (dataio.col("a").eq(1), {}, False),
    (dataio.col("a").is_null(), {}, True),
    (dataio.col("a").is_null(), {"a": None}, True),
    (dataio.col("a").is_not_null(), {"a": 0}, True),
    (dataio.col("a").lt(3), {"a": None}, False),
    (dataio.col("a").is_in(["x", "y"]), {"a": "y"}, True),
    (dataio.col("a").gt(1) & dataio.col("b").eq("k"), {"a": 2, "b": "k"}, True),
    (dataio.col("a").gt(1) & dataio.col("b").eq("k"), {"a": 2}, False),
    (dataio.col("a").gt(1) | dataio.col("b").eq("k"), {"b": "k"}, True),
    (~dataio.col("a").eq(1), {"a": 2}, True),
    (dataio.cond.all([dataio.col("a").ge(0), dataio.col("a").le(5)]), {"a": 5}, True),
    (dataio.cond.any([dataio.col("a").ne(0)]), {"a": 0}, False),
    (dataio.cond.const(True), {}, True),
])
def test_predicates_on_records(cond: Any, record: dict[str, Any], expected: bool) -> None:
    assert cond.holds(lambda f: record.get(f, dataio.ops.cond.MISSING)) is expected
