"""Detection ops (docs/api.md §3.2 "Detection"): float32 boxes normalised to [0, 1].

Box rows are ``[N, 4]`` (a box) or ``[N, 5]`` (a box then a label ≥ 1, or a box then a
score for the suppression ops). ``format`` is ``"xyxy"`` (corners), ``"xywh"`` (top-left
corner and size) or ``"cxcywh"`` (centre and size). ``bbox_hflip``/``bbox_vflip`` draw
their coin exactly as ``hflip``/``vflip`` do, so on sibling slots of one record a first
``hflip`` and a first ``bbox_hflip`` agree (docs/api.md §4.7).
"""

from __future__ import annotations

from typing import Any

from dataio._errors import PlanError
from dataio._validate import as_choice, as_float, as_float_pair, as_int, as_name
from dataio.ops._args import dim
from dataio.ops._base import TensorSpec, Transform, op
from dataio.ops.cond import Param

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def _expect_boxes(op_: Transform, spec: TensorSpec, columns: tuple[int, ...]) -> TensorSpec:
    op_.expect(spec, dtype="float32")
    if spec.shape is not None and (len(spec.shape) != 2 or spec.shape[1] not in (*columns, None)):
        want = " or ".join(f"[N, {c}]" for c in columns)
        raise PlanError(f"{op_.op_name}: expects float32 boxes {want}; got {spec.describe()}")
    return TensorSpec("float32", None, (None, spec.shape[1] if spec.shape is not None else None))


class _BoxFlip(Transform):
    __slots__ = ()

    def __post_init__(self) -> None:
        self.set("prob", as_float(self.op_name, "prob", self.prob, minimum=0.0, maximum=1.0))  # type: ignore[attr-defined]
        as_choice(self.op_name, "format", self.format, BOX_FORMATS)  # type: ignore[attr-defined]

    def infer(self, spec: TensorSpec) -> TensorSpec:
        out = _expect_boxes(self, spec, (4, 5))
        return TensorSpec("float32", None, spec.shape if spec.shape is not None else out.shape)


@op("bbox_hflip", random=True)
class BboxHflip(_BoxFlip):
    """Mirror boxes left-right with probability ``prob`` (``x → 1 − x``).

    Args:
        prob: probability in [0, 1].
        format: ``"xyxy"``, ``"xywh"`` or ``"cxcywh"``.
    """

    prob: float = 0.5
    format: str = "xyxy"


@op("bbox_vflip", random=True)
class BboxVflip(_BoxFlip):
    """Mirror boxes top-bottom with probability ``prob`` (``y → 1 − y``).

    Args:
        prob: probability in [0, 1].
        format: ``"xyxy"``, ``"xywh"`` or ``"cxcywh"``.
    """

    prob: float = 0.5
    format: str = "xyxy"


@op("bbox_pad")
class BboxPad(Transform):
    """Re-normalise boxes of a ``src_h`` × ``src_w`` image to the image padded by the given margins.

    Use with ``pad(top=..., ...)`` on the image slot.

    Args:
        src_h: source image height (int or ``col(...)``).
        src_w: source image width.
        top, bottom, left, right: padding in pixels (>= 0).
        format: ``"xyxy"``, ``"xywh"`` or ``"cxcywh"``.
    """

    src_h: Any
    src_w: Any
    top: Any = 0
    bottom: Any = 0
    left: Any = 0
    right: Any = 0
    format: str = "xyxy"

    def __post_init__(self) -> None:
        self.set("src_h", dim("bbox_pad", "src_h", self.src_h))
        self.set("src_w", dim("bbox_pad", "src_w", self.src_w))
        for side in ("top", "bottom", "left", "right"):
            self.set(side, dim("bbox_pad", side, getattr(self, side), minimum=0))
        as_choice("bbox_pad", "format", self.format, BOX_FORMATS)

    def infer(self, spec: TensorSpec) -> TensorSpec:
        _expect_boxes(self, spec, (4, 5))
        return spec


@op("bbox_crop")
class BboxCrop(Transform):
    """Clip ``[N, 5]`` boxes (box + label) to ``window`` and re-normalise them to it; empty boxes are dropped.

    Args:
        window: ``(x0, y0, x1, y1)`` in normalised coordinates, ``0 <= x0 < x1 <= 1`` (same for y).
        format: the boxes' format.
    """

    window: tuple[float, float, float, float]
    format: str = "xyxy"

    def __post_init__(self) -> None:
        values = tuple(as_float("bbox_crop", "window", v, minimum=0.0, maximum=1.0) for v in self.window)
        if len(values) != 4 or not (values[0] < values[2] and values[1] < values[3]):
            raise ValueError(f"bbox_crop(window={self.window!r}): window must be (x0, y0, x1, y1) with x0 < x1, "
                             "y0 < y1 in [0, 1]")
        self.set("window", values)
        as_choice("bbox_crop", "format", self.format, BOX_FORMATS)

    def infer(self, spec: TensorSpec) -> TensorSpec:
        _expect_boxes(self, spec, (5,))
        return TensorSpec("float32", None, (None, 5))


class _Suppression(Transform):
    __slots__ = ()

    def infer(self, spec: TensorSpec) -> TensorSpec:
        _expect_boxes(self, spec, (5,))
        return TensorSpec("float32", None, (None, 5))

    def _check_common(self) -> None:
        name = self.op_name
        self.set("iou_thresh", as_float(name, "iou_thresh", self.iou_thresh, minimum=0.0, maximum=1.0))  # type: ignore[attr-defined]
        self.set("score_thresh", as_float(name, "score_thresh", self.score_thresh))  # type: ignore[attr-defined]
        if self.top_k is not None:  # type: ignore[attr-defined]
            self.set("top_k", as_int(name, "top_k", self.top_k, minimum=1))  # type: ignore[attr-defined]
        as_choice(name, "box_format", self.box_format, BOX_FORMATS)  # type: ignore[attr-defined]


@op("nms")
class Nms(_Suppression):
    """Greedy non-maximum suppression of ``[N, 5]`` (box + score) rows; output by descending score.

    Args:
        iou_thresh: drop a box overlapping a kept one by more than this IoU.
        score_thresh: drop boxes scoring below this first.
        top_k: keep at most this many.
        box_format: the boxes' format.
    """

    iou_thresh: float = 0.5
    score_thresh: float = 0.05
    top_k: int | None = None
    box_format: str = "xyxy"

    def __post_init__(self) -> None:
        self._check_common()


@op("soft_nms")
class SoftNms(_Suppression):
    """Gaussian soft-NMS: scores decay by ``exp(−IoU² / sigma)`` for overlaps above ``iou_thresh``.

    Args:
        iou_thresh: overlaps above this decay the score.
        sigma: Gaussian width (> 0).
        score_thresh: drop boxes whose (decayed) score falls below this.
        top_k: keep at most this many.
        box_format: the boxes' format.
    """

    iou_thresh: float = 0.3
    sigma: float = 0.5
    score_thresh: float = 0.001
    top_k: int | None = None
    box_format: str = "xyxy"

    def __post_init__(self) -> None:
        self._check_common()
        self.set("sigma", as_float("soft_nms", "sigma", self.sigma, minimum=0.0, exclusive_minimum=True))


SSD_THRESHOLDS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
"""Default minimum-IoU options of ``random_bbox_crop`` (1.0 keeps the whole image), as in SSD."""


@op("random_bbox_crop", random=True)
class RandomBboxCrop(Transform):
    """SSD-style random crop that keeps objects: on ``[N, 5]`` boxes, or on an image given its boxes.

    Per record: pick a minimum IoU from ``thresholds`` (1.0 = no crop); up to ``max_attempts``
    times draw a window (side ``scale`` fraction, aspect ``w/h`` in ``aspect_ratio``, uniform
    position) and accept it when some box centre lies inside it and that box's IoU with the
    window reaches the threshold; otherwise keep the whole image. On boxes: boxes whose
    centre is inside are kept, clipped and re-normalised to the window. On an ``HWC uint8``
    image: ``boxes=col(field)`` names the record field holding the same ``[N, 5]`` boxes, and
    the image is cut to the same window — with the op first among the random ops of both
    chains, image and boxes get the same window (sibling slots share the record seed).

    Args:
        thresholds: minimum-IoU options, each in [0, 1] (default SSD's).
        aspect_ratio: ``(lo, hi)`` window width/height range, > 0.
        scale: ``(lo, hi)`` window side as a fraction of the image, in (0, 1].
        max_attempts: window draws per record (>= 1).
        boxes: for image input, the record field with the boxes.
    """

    thresholds: tuple[float, ...] | None = None
    aspect_ratio: tuple[float, float] = (0.5, 2.0)
    scale: tuple[float, float] = (0.3, 1.0)
    max_attempts: int = 50
    boxes: Any = None

    def __post_init__(self) -> None:
        if self.thresholds is not None:
            values = tuple(as_float("random_bbox_crop", "thresholds", t, minimum=0.0, maximum=1.0)
                           for t in self.thresholds)
            if not values:
                raise ValueError("random_bbox_crop(thresholds=[]): needs at least one option")
            self.set("thresholds", values)
        self.set("aspect_ratio", as_float_pair("random_bbox_crop", "aspect_ratio", self.aspect_ratio, minimum=0.0,
                                               exclusive_minimum=True))
        self.set("scale", as_float_pair("random_bbox_crop", "scale", self.scale, minimum=0.0, maximum=1.0,
                                        exclusive_minimum=True))
        self.set("max_attempts", as_int("random_bbox_crop", "max_attempts", self.max_attempts, minimum=1))
        if self.boxes is not None:
            self.set("boxes", self.boxes if isinstance(self.boxes, Param) else Param(as_name(
                "random_bbox_crop", "boxes", self.boxes)))

    @property
    def options(self) -> tuple[float, ...]:
        """The minimum-IoU options in use."""
        return self.thresholds if self.thresholds is not None else SSD_THRESHOLDS

    def infer(self, spec: TensorSpec) -> TensorSpec:
        if self.boxes is None:
            _expect_boxes(self, spec, (5,))
            return TensorSpec("float32", None, (None, 5))
        self.expect(spec, dtype="uint8", layout="hwc")
        if spec.shape is None:
            return spec
        return TensorSpec("uint8", "hwc", (None, None, spec.shape[2]))


@op("box_encoder")
class BoxEncoder(Transform):
    """SSD target encoding: ``[N, 5]`` (xyxy box + label ≥ 1) → ``[A, 5]`` per anchor (offsets + label).

    Each anchor takes the box it overlaps most when that IoU ≥ ``iou_threshold``; every box also
    claims its best anchor. A matched anchor holds ``((cx − acx)/aw·s0, (cy − acy)/ah·s1,
    log(w/aw)·s2, log(h/ah)·s3, label)``; an unmatched one zeros and label 0 (background).

    Args:
        anchors: ``[A, 4]`` anchor boxes, xyxy, normalised.
        iou_threshold: minimum IoU for an anchor to take a box.
        scale: the four encoding scales ``(s0, s1, s2, s3)``.
    """

    anchors: tuple[tuple[float, float, float, float], ...]
    iou_threshold: float = 0.5
    scale: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)

    def __post_init__(self) -> None:
        rows = []
        for anchor in self.anchors:
            values = tuple(as_float("box_encoder", "anchors", v) for v in anchor)
            if len(values) != 4 or not (values[0] < values[2] and values[1] < values[3]):
                raise ValueError(f"box_encoder(anchors=...): each anchor is (x0, y0, x1, y1) with x0 < x1, y0 < y1; "
                                 f"got {anchor!r}")
            rows.append(values)
        if not rows:
            raise ValueError("box_encoder(anchors=[]): needs at least one anchor")
        self.set("anchors", tuple(rows))
        self.set("iou_threshold", as_float("box_encoder", "iou_threshold", self.iou_threshold, minimum=0.0,
                                           maximum=1.0))
        scale = tuple(as_float("box_encoder", "scale", v, minimum=0.0, exclusive_minimum=True) for v in self.scale)
        if len(scale) != 4:
            raise ValueError(f"box_encoder(scale={self.scale!r}): needs 4 values")
        self.set("scale", scale)

    def infer(self, spec: TensorSpec) -> TensorSpec:
        _expect_boxes(self, spec, (5,))
        return TensorSpec("float32", None, (len(self.anchors), 5))


def box_encoder(anchors: Any, /, *, iou_threshold: float = 0.5,
                scale: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)) -> BoxEncoder:
    """SSD target encoding against ``anchors`` (see :class:`BoxEncoder`)."""
    return BoxEncoder(anchors=anchors, iou_threshold=iou_threshold, scale=scale)


bbox_hflip = BboxHflip
bbox_vflip = BboxVflip
bbox_pad = BboxPad
bbox_crop = BboxCrop
nms = Nms
soft_nms = SoftNms

random_bbox_crop = RandomBboxCrop

__all__ = ["bbox_hflip", "bbox_vflip", "bbox_pad", "bbox_crop", "random_bbox_crop", "box_encoder", "nms",
           "soft_nms"]
