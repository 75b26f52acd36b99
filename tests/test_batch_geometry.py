"""The batch geometry planner (``dataio.ops.geometry.plan_batch``): numpy over a batch, one image's answer per row.

The GPU executor plans a whole batch at once; each row must get exactly what the CPU
kernels' arithmetic gives that image alone, and the same draws from its own record.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dataio.ops import transforms as T
from dataio.ops.cond import Param
from dataio.ops.geometry import plan_batch, resized_hw
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure
from dataio.seeds import derive

SIZES = np.random.default_rng(7).integers(1, 3000, size=(4000, 2))


@pytest.mark.parametrize("op", [T.ResizeShort(size=224), T.ResizeLong(size=333), T.FitToBucket(h=160, w=96)],
                         ids=lambda op: op.op_name)
def test_resize_arithmetic_on_arrays_is_the_per_image_arithmetic(op: Any) -> None:
    target = (160, 96) if isinstance(op, T.FitToBucket) else None
    heights, widths = resized_hw(op, SIZES[:, 0], SIZES[:, 1], target)
    expected = [resized_hw(op, int(h), int(w), target) for h, w in SIZES]
    assert [(int(h), int(w)) for h, w in zip(heights, widths, strict=True)] == expected


def _contexts(records: list[dict[str, Any]], seed: int = 3) -> list[ChainContext]:
    return [ChainContext(r, derive(seed, 0, i), repr(i), "test") for i, r in enumerate(records)]


CHAINS = {
    "resize_short+center_crop": (T.ResizeShort(size=64), T.CenterCrop(h=56, w=48)),
    "random_resized_crop+hflip+vflip": (T.RandomResizedCrop(h=32, w=40), T.HFlip(), T.VFlip(prob=0.3)),
    "random_crop+resize": (T.RandomCrop(h=20, w=24), T.Resize(h=Param("h"), w=30)),
    "fit_to_bucket+hflip": (T.FitToBucket(h=48, w=Param("w")), T.HFlip()),
    "crop+center_crop": (T.Crop(y=Param("y"), x=2, h=30, w=30), T.CenterCrop(h=40, w=40)),
}


@pytest.mark.parametrize("name", list(CHAINS))
def test_each_row_of_a_batch_plan_is_that_image_planned_alone(name: str) -> None:
    ops = CHAINS[name]
    sizes = SIZES[:64] // 8 + 16
    records = [{"h": 10 + i % 7, "w": 40 + i % 5, "y": i % 9} for i in range(len(sizes))]
    batch = plan_batch(ops, sizes[:, 0], sizes[:, 1], _contexts(records), unplanned_on=(RowFailure,))
    for i, (h, w) in enumerate(sizes):
        alone = plan_batch(ops, np.array([h]), np.array([w]), [_contexts(records)[i]], unplanned_on=(RowFailure,))
        assert batch.planned[i] == alone.planned[0]
        np.testing.assert_array_equal(batch.regions[i], alone.regions[0])
        np.testing.assert_array_equal(batch.sizes[i], alone.sizes[0])
        np.testing.assert_array_equal(batch.flips[i], alone.flips[0])
    assert batch.planned.any()


def test_rows_the_graph_cannot_take_are_left_unplanned() -> None:
    heights, widths = np.array([100, 20, 100, 100]), np.array([100, 100, 100, 100])
    records: list[dict[str, Any]] = [{"y": 0}, {"y": 0}, {"y": 95}, {"y": -1}]
    crop = plan_batch((T.Crop(y=Param("y"), x=0, h=10, w=10),), heights, widths, _contexts(records),
                      unplanned_on=(RowFailure,))
    # inside; inside a short image; past the bottom edge (the kernel's error); a bad col() value (the kernel's)
    assert crop.planned.tolist() == [True, True, False, False]
    padded = plan_batch((T.ResizeShort(size=64), T.CenterCrop(h=80, w=64)), heights, widths)
    assert not padded.planned.any()  # a window past the edge, then resampled: zero padding is the CPU's rule
    sliced = plan_batch((T.CenterCrop(h=120, w=64),), heights, widths)
    assert sliced.planned.all() and sliced.resample is None  # a padded window alone is one fn.slice
    np.testing.assert_array_equal(sliced.regions[1], [-50.0, 18.0, 70.0, 82.0])


def test_a_missing_col_field_is_fatal_not_a_declined_row() -> None:
    with pytest.raises(KeyError, match="missing field 'y'"):
        plan_batch((T.Crop(y=Param("y"), x=0, h=4, w=4),), np.array([10]), np.array([10]), _contexts([{}]),
                   unplanned_on=(RowFailure,))
