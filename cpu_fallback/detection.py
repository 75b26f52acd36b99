"""Kernels of the detection ops: vectorised numpy on ``[N, 4|5] float32`` box rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from dataio._errors import RecordError
from dataio.ops import detection as Det
from dataio.ops.cond import MISSING
from dataio.ops.draws import draw_coin
from dataio.runtime.chain import ChainContext
from dataio.runtime.records import lookup_field
from dataio.cpu_fallback.pixels import hwc_u8
from dataio.runtime.rows import RowFailure, describe_value


def to_xyxy(boxes: np.ndarray, fmt: str) -> np.ndarray:
    """``[N, 4]`` boxes converted to corner form (float64)."""
    b = boxes.astype(np.float64)
    if fmt == "xyxy":
        return b
    if fmt == "xywh":
        return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
    return np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], axis=1)


def from_xyxy(boxes: np.ndarray, fmt: str) -> np.ndarray:
    """Corner-form boxes converted back to ``fmt``."""
    if fmt == "xyxy":
        return boxes
    size = boxes[:, 2:] - boxes[:, :2]
    if fmt == "xywh":
        return np.concatenate([boxes[:, :2], size], axis=1)
    return np.concatenate([boxes[:, :2] + size / 2, size], axis=1)


def _rows(op: Any, value: Any, columns: tuple[int, ...]) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim != 2 or value.shape[1] not in columns \
            or value.dtype != np.float32:
        raise RowFailure("transform", op.qualname, f"expects float32 boxes [N, {'|'.join(map(str, columns))}]; "
                                                   f"got {describe_value(value)}")
    return value


def _with_boxes(rows: np.ndarray, xyxy: np.ndarray, fmt: str) -> np.ndarray:
    out = rows.copy()
    out[:, :4] = from_xyxy(xyxy, fmt)
    return out


def bbox_flip_kernel(op: Det.BboxHflip | Det.BboxVflip, value: Any, spec: Any, ctx: ChainContext,
                     out: Any) -> np.ndarray:
    """``x → 1 − x`` (or ``y``) with probability ``prob``; one draw, as ``hflip``/``vflip``."""
    flip = draw_coin(ctx.rng, op.prob)  # the same draw as hflip/vflip, so boxes follow the image
    rows = _rows(op, value, (4, 5))
    if not flip:
        return rows
    xyxy = to_xyxy(rows[:, :4], op.format)
    lo, hi = (0, 2) if isinstance(op, Det.BboxHflip) else (1, 3)
    xyxy[:, [lo, hi]] = 1.0 - xyxy[:, [hi, lo]]
    return _with_boxes(rows, xyxy, op.format)


def bbox_pad_kernel(op: Det.BboxPad, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Boxes of the source re-normalised to the padded canvas."""
    rows = _rows(op, value, (4, 5))
    h, w = ctx.arg(op, "src_h", minimum=1), ctx.arg(op, "src_w", minimum=1)
    top, bottom, left, right = (ctx.arg(op, s) for s in ("top", "bottom", "left", "right"))
    xyxy = to_xyxy(rows[:, :4], op.format)
    xyxy[:, [0, 2]] = (xyxy[:, [0, 2]] * w + left) / (w + left + right)
    xyxy[:, [1, 3]] = (xyxy[:, [1, 3]] * h + top) / (h + top + bottom)
    return _with_boxes(rows, xyxy, op.format)


def bbox_crop_kernel(op: Det.BboxCrop, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Clip to the window, re-normalise to it, drop boxes left with no area."""
    rows = _rows(op, value, (5,))
    x0, y0, x1, y1 = op.window
    xyxy = to_xyxy(rows[:, :4], op.format)
    xyxy[:, [0, 2]] = (np.clip(xyxy[:, [0, 2]], x0, x1) - x0) / (x1 - x0)
    xyxy[:, [1, 3]] = (np.clip(xyxy[:, [1, 3]], y0, y1) - y0) / (y1 - y0)
    keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    return _with_boxes(rows[keep], xyxy[keep], op.format)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of corner-form boxes ``[N, 4]`` × ``[M, 4]``."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms_kernel(op: Det.Nms, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Greedy NMS by descending score (stable on ties)."""
    rows = _rows(op, value, (5,))
    rows = rows[rows[:, 4] >= op.score_thresh]
    rows = rows[np.argsort(-rows[:, 4], kind="stable")]
    overlaps = iou_matrix(*(to_xyxy(rows[:, :4], op.box_format),) * 2)
    suppressed = np.zeros(len(rows), dtype=bool)
    kept = []
    for i in range(len(rows)):  # one step per kept box; each step is vectorised over the rest
        if suppressed[i]:
            continue
        kept.append(i)
        if op.top_k is not None and len(kept) == op.top_k:
            break
        suppressed |= overlaps[i] > op.iou_thresh
    return rows[kept]


def soft_nms_kernel(op: Det.SoftNms, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Gaussian soft-NMS: pick the best remaining box, decay the others' scores by its overlap."""
    rows = _rows(op, value, (5,)).astype(np.float64)
    boxes = to_xyxy(rows[:, :4], op.box_format)
    scores = rows[:, 4].copy()
    remaining = list(np.flatnonzero(scores >= op.score_thresh))
    kept: list[tuple[int, float]] = []
    while remaining and (op.top_k is None or len(kept) < op.top_k):
        best = max(remaining, key=lambda i: (scores[i], -i))
        remaining.remove(best)
        kept.append((int(best), float(scores[best])))
        if not remaining:
            break
        rest = np.array(remaining)
        iou = iou_matrix(boxes[best:best + 1], boxes[rest])[0]
        decay = np.where(iou > op.iou_thresh, np.exp(-(iou ** 2) / op.sigma), 1.0)
        scores[rest] *= decay
        remaining = [i for i in remaining if scores[i] >= op.score_thresh]
    result = np.array([[*rows[i, :4], s] for i, s in kept], dtype=np.float32).reshape(-1, 5)
    return result


def box_encoder_kernel(op: Det.BoxEncoder, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Match anchors to boxes (threshold + each box's best anchor) and encode the offsets."""
    rows = _rows(op, value, (5,))
    anchors = np.asarray(op.anchors, dtype=np.float64)
    encoded = np.zeros((len(anchors), 5), dtype=np.float32)
    if len(rows) == 0:
        return encoded
    boxes = rows[:, :4].astype(np.float64)
    overlaps = iou_matrix(anchors, boxes)  # [A, N]
    best_box = overlaps.argmax(axis=1)
    matched = overlaps.max(axis=1) >= op.iou_threshold
    best_anchor = overlaps.argmax(axis=0)  # every box claims its best anchor
    best_box[best_anchor] = np.arange(len(boxes))
    matched[best_anchor] = True
    chosen = boxes[best_box[matched]]
    a = anchors[matched]
    a_size = a[:, 2:] - a[:, :2]
    a_centre = a[:, :2] + a_size / 2
    size = np.maximum(chosen[:, 2:] - chosen[:, :2], 1e-12)
    centre = chosen[:, :2] + size / 2
    s0, s1, s2, s3 = op.scale
    encoded[matched, 0:2] = (centre - a_centre) / a_size * (s0, s1)
    encoded[matched, 2:4] = np.log(size / a_size) * (s2, s3)
    encoded[matched, 4] = rows[best_box[matched], 4]
    return encoded


def sample_crop_window(op: Det.RandomBboxCrop, boxes: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """The SSD crop window ``[x0, y0, x1, y1]`` (normalised) for ``boxes``, or ``None`` to keep the image."""
    options = op.options
    threshold = options[int(rng.integers(len(options)))]
    if threshold >= 1.0 or len(boxes) == 0:
        return None
    xyxy = boxes[:, :4].astype(np.float64)
    centres = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    for _ in range(op.max_attempts):
        side = rng.uniform(*op.scale)
        aspect = rng.uniform(*op.aspect_ratio)
        w, h = side * np.sqrt(aspect), side / np.sqrt(aspect)
        x0, y0 = rng.uniform(0.0, 1.0), rng.uniform(0.0, 1.0)  # drawn even when the size is rejected
        if w > 1.0 or h > 1.0:
            continue
        window = np.array([x0 * (1 - w), y0 * (1 - h), x0 * (1 - w) + w, y0 * (1 - h) + h])
        inside = np.all((centres > window[:2]) & (centres < window[2:]), axis=1)
        if inside.any() and iou_matrix(window[None, :], xyxy[inside]).max() >= threshold:
            return window
    return None


def random_bbox_crop_kernel(op: Det.RandomBboxCrop, value: Any, spec: Any, ctx: ChainContext,
                            out: Any) -> np.ndarray:
    """Crop boxes (``[N, 5]`` input) or an image (``boxes=col(...)``) to the sampled window."""
    if op.boxes is None:
        rows = _rows(op, value, (5,))
        window = sample_crop_window(op, rows, ctx.rng)
        if window is None:
            return rows
        centres = (rows[:, :2] + rows[:, 2:4]) / 2
        keep = np.all((centres > window[:2]) & (centres < window[2:]), axis=1)
        x0, y0, x1, y1 = (float(v) for v in window)
        cropped = Det.BboxCrop(window=(x0, y0, x1, y1))
        return bbox_crop_kernel(cropped, rows[keep], spec, ctx, out)
    pixels = hwc_u8(value, op.qualname)
    boxes = np.asarray(_record_boxes(op, ctx), dtype=np.float32)
    window = sample_crop_window(op, boxes, ctx.rng)
    if window is None:
        return pixels
    h, w = pixels.shape[:2]
    x0, x1 = int(round(window[0] * w)), max(int(round(window[2] * w)), int(round(window[0] * w)) + 1)
    y0, y1 = int(round(window[1] * h)), max(int(round(window[3] * h)), int(round(window[1] * h)) + 1)
    return pixels[y0:y1, x0:x1]


def _record_boxes(op: Det.RandomBboxCrop, ctx: ChainContext) -> Any:
    field = op.boxes.field
    found = lookup_field(ctx.record, field)
    if found is MISSING:
        raise RecordError(f"record {ctx.where}: missing field {field!r} read by random_bbox_crop(boxes=...)")
    array = np.asarray(found, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != 5:
        raise RowFailure("transform", op.qualname,
                         f"field {field!r} must hold [N, 5] boxes; got {describe_value(found)}")
    return array
