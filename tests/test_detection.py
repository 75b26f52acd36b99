"""Detection ops against hand-computed oracles."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

import dataio
from dataio import transforms as T


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float32))
    return buffer.getvalue()


def run(boxes: Any, *ops: Any, seed: int = 0, **fields: Any) -> np.ndarray:
    pipe = dataio.pipeline(dataio.slot("b").decode_npy().apply(*ops), dataio.batch(1))
    with pipe.bind([{"b": npy(boxes), **fields}]).run("numpy", seed=seed, on_failure="strict") as loader:
        return next(iter(loader))["b"][0]


BOXES = [[0.1, 0.2, 0.4, 0.6, 3.0]]


@pytest.mark.parametrize(("fmt", "box", "flipped"), [
    ("xyxy", [0.1, 0.2, 0.4, 0.6], [0.6, 0.2, 0.9, 0.6]),
    ("xywh", [0.1, 0.2, 0.3, 0.4], [0.6, 0.2, 0.3, 0.4]),
    ("cxcywh", [0.25, 0.4, 0.3, 0.4], [0.75, 0.4, 0.3, 0.4]),
])
def test_bbox_hflip_in_every_format(fmt: str, box: list[float], flipped: list[float]) -> None:
    got = run([box + [7.0]], T.bbox_hflip(prob=1.0, format=fmt))
    np.testing.assert_allclose(got, [flipped + [7.0]], atol=1e-6)


def test_bbox_vflip() -> None:
    np.testing.assert_allclose(run(BOXES, T.bbox_vflip(prob=1.0)), [[0.1, 0.4, 0.4, 0.8, 3.0]], atol=1e-6)


def test_bbox_hflip_agrees_with_image_hflip_on_sibling_slots() -> None:
    image = np.zeros((4, 10, 1), np.float32)
    image[:, :2] = 1.0  # a bright band at the left edge
    pipe = dataio.pipeline(dataio.slot("img").decode_npy().hflip(), dataio.slot("b").decode_npy().bbox_hflip(),
                           dataio.batch(32))
    records = [{"img": npy(image), "b": npy([[0.0, 0.0, 0.2, 1.0]])} for _ in range(32)]
    with pipe.bind(records).run("numpy", seed=5) as loader:
        batch = next(iter(loader))
    image_flipped = batch["img"][:, 0, -1, 0] == 1.0
    boxes_flipped = np.isclose(batch["b"][:, 0, 0], 0.8)
    np.testing.assert_array_equal(image_flipped, boxes_flipped)
    assert 0 < image_flipped.sum() < 32


def test_bbox_pad_renormalises_to_the_padded_canvas() -> None:
    got = run([[0.0, 0.0, 1.0, 1.0]], T.bbox_pad(src_h=100, src_w=200, top=10, bottom=30, left=50, right=0))
    np.testing.assert_allclose(got, [[50 / 250, 10 / 140, 250 / 250, 110 / 140]], atol=1e-6)


def test_bbox_crop_clips_renormalises_and_drops_empty() -> None:
    rows = [[0.1, 0.1, 0.5, 0.5, 1.0], [0.8, 0.8, 0.9, 0.9, 2.0]]
    got = run(rows, T.bbox_crop(window=(0.0, 0.0, 0.5, 0.5)))
    np.testing.assert_allclose(got, [[0.2, 0.2, 1.0, 1.0, 1.0]], atol=1e-6)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    rows = [[0.0, 0.0, 0.5, 0.5, 0.6], [0.01, 0.01, 0.5, 0.5, 0.9], [0.6, 0.6, 1.0, 1.0, 0.7],
            [0.0, 0.0, 0.1, 0.1, 0.01]]
    got = run(rows, T.nms(iou_thresh=0.5, score_thresh=0.05))
    np.testing.assert_allclose(got[:, 4], [0.9, 0.7])
    assert run(rows, T.nms(top_k=1)).shape == (1, 5)


def test_soft_nms_decays_instead_of_dropping() -> None:
    rows = [[0.0, 0.0, 0.5, 0.5, 0.9], [0.0, 0.0, 0.5, 0.45, 0.8]]
    got = run(rows, T.soft_nms(iou_thresh=0.3, sigma=0.5))
    iou = 0.45 / 0.5
    np.testing.assert_allclose(got[:, 4], [0.9, 0.8 * np.exp(-iou ** 2 / 0.5)], rtol=1e-5)


def test_detection_validation_and_shapes() -> None:
    with pytest.raises(ValueError, match="format"):
        T.bbox_hflip(format="yxyx")
    with pytest.raises(ValueError, match="window"):
        T.bbox_crop(window=(0.5, 0.0, 0.2, 1.0))
    with pytest.raises(dataio.PlanError, match=r"\[N, 5\]"):
        dataio.pipeline(dataio.slot("b").decode_npy().reshape(shape=[-1, 4]).cast(dtype="float32").nms(),
                        dataio.batch(1))


def test_box_encoder_matches_and_encodes() -> None:
    anchors = [(0.0, 0.0, 0.5, 0.5), (0.5, 0.5, 1.0, 1.0), (0.0, 0.5, 0.5, 1.0)]
    rows = [[0.05, 0.05, 0.45, 0.55, 2.0]]
    got = run(rows, T.box_encoder(anchors, iou_threshold=0.5))
    assert got.shape == (3, 5)
    w, h = 0.4, 0.5
    expected = [(0.25 - 0.25) / 0.5 * 10, (0.3 - 0.25) / 0.5 * 10, np.log(w / 0.5) * 5, np.log(h / 0.5) * 5, 2.0]
    np.testing.assert_allclose(got[0], expected, atol=1e-5)
    np.testing.assert_array_equal(got[1], 0)  # background
    weak = run([[0.6, 0.0, 0.7, 0.1, 4.0]], T.box_encoder(anchors, iou_threshold=0.9))
    assert (weak[:, 4] == 4.0).sum() == 1  # a box always claims its best anchor


def test_random_bbox_crop_keeps_objects_and_agrees_with_the_image_crop() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    image[30:60, 40:80] = 255  # the object, also described by the box below
    box = [[0.4, 0.3, 0.8, 0.6, 1.0]]
    pipe = dataio.pipeline(
        dataio.slot("img").decode_npy().random_bbox_crop(thresholds=[0.1], boxes=dataio.col("boxes")),
        dataio.slot("b").decode_npy().random_bbox_crop(thresholds=[0.1]),
        dataio.batch(16))
    records = [{"img": _u8(image), "b": npy(box), "boxes": np.array(box, np.float32)} for _ in range(16)]
    with pipe.bind(records).run("numpy", seed=7, on_failure="strict") as loader:
        batch = next(iter(loader))
    cropped_sizes = set()
    for crop, boxes in zip(batch["img"], batch["b"], strict=True):
        assert len(boxes) == 1  # the object's centre is always kept
        h, w = crop.shape[:2]
        cropped_sizes.add((h, w))
        x0, y0, x1, y1 = boxes[0, :4]
        ys, xs = np.nonzero(crop[:, :, 0])
        # the object's pixels in the cropped image sit where the cropped box says (within a pixel)
        assert abs(xs.min() / w - x0) <= 1.5 / w and abs((xs.max() + 1) / w - x1) <= 1.5 / w
        assert abs(ys.min() / h - y0) <= 1.5 / h and abs((ys.max() + 1) / h - y1) <= 1.5 / h
    assert len(cropped_sizes) > 1


def _u8(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_random_bbox_crop_no_crop_option() -> None:
    got = run([[0.1, 0.1, 0.2, 0.2, 1.0]], T.random_bbox_crop(thresholds=[1.0]))
    np.testing.assert_allclose(got, [[0.1, 0.1, 0.2, 0.2, 1.0]])
