"""custom_op: identity in the signature, as a map, and as a slot op with a declared output."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

import dataio


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def run(stage: dataio.SlotStage, arrays: list[np.ndarray], **options: Any) -> dataio.Batch:
    pipe = dataio.pipeline(stage, dataio.batch(len(arrays)))
    with pipe.bind([{"x": npy(a)} for a in arrays]).run("numpy", **options) as loader:
        return next(iter(loader))


@dataio.custom_op(name="double", version="1", dtype="float32", shape=(2, None))
def double(array: np.ndarray) -> np.ndarray:
    return (array * 2).astype(np.float32)


def test_slot_custom_op_runs_and_declares_its_output() -> None:
    batch = run(dataio.slot("x").decode_npy().apply(double), [np.ones((2, 3), np.int32)])
    np.testing.assert_array_equal(batch["x"], np.full((1, 2, 3), 2.0, np.float32))
    plan = dataio.pipeline(dataio.slot("x").decode_npy().apply(double), dataio.batch(1)).plan
    assert plan.slots[0].output.describe() == "float32 [2, ?]"
    assert "custom" in plan.explain(device="cpu")


def test_declared_output_violations_are_row_errors() -> None:
    batch = run(dataio.slot("x").decode_npy().apply(double), [np.ones((3, 3), np.int32), np.ones((2, 1))],
                on_failure=0)
    assert len(batch) == 1 and batch.errors[0]["op"] == "custom:double" and "declared" in batch.errors[0]["message"]


def test_user_exceptions_are_fatal_and_unwrapped() -> None:
    class Oops(Exception):
        pass

    @dataio.custom_op(name="boom")
    def boom(array: np.ndarray) -> np.ndarray:
        raise Oops("user bug")

    with pytest.raises(Oops, match="user bug"):
        run(dataio.slot("x").decode_npy().apply(boom), [np.ones(2)])


def test_identity_is_name_and_version_only() -> None:
    def make(version: str, body: int) -> dataio.Pipeline:
        op = dataio.custom_op(lambda a: a + body, name="shift", version=version)
        return dataio.pipeline(dataio.slot("x").decode_npy().apply(op), dataio.batch(1))

    assert make("1", 1).signature == make("1", 2).signature != make("2", 1).signature


def test_declaration_validation() -> None:
    with pytest.raises(ValueError, match="dtype"):
        dataio.custom_op(lambda a: a, name="bad", dtype="not-a-dtype")
    with pytest.raises(ValueError, match="layout"):
        dataio.custom_op(lambda a: a, name="bad", layout="whc")
