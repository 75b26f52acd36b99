"""The GPU executor's registrations against the op table: the graph node of each op the DALI graph runs.

This is the one module that says which ops the graph takes and how. An op runs in the
graph in one of two ways:

- **host-planned** (``build`` is ``None``): geometric ops (kinds ``resample``, ``window``,
  ``flip``) are reduced per sample on the host, with the core's sample geometry
  (:mod:`dataio.ops.geometry`), to one region, output size and flips, which the graph
  executes with one ROI resize or slice and one flip (:func:`dataio.gpu.graph.define_pipeline`);
- **a node builder**: ``build(fn, types, image, op, channels, settings)`` appends the op's DALI
  operators after ``image`` and returns the new node (decoders and pixel ops); ``settings`` is
  the pipeline's :class:`~dataio.gpu.settings.GraphSettings` (GPU or CPU operators, decoder setup).

Ops with no entry run on the CPU fallback's kernels inside the GPU executor — and so does
a slot whose chain the graph cannot take as a whole (:func:`dataio.gpu.graph.slot_graph`).
Every op with an entry has a parity case in ``tests/parity_cases.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dataio.ops import decoders as D
from dataio.ops import transforms as T

from dataio.gpu.settings import GraphSettings

NodeBuilder = Callable[[Any, Any, Any, Any, int, GraphSettings], Any]
"""``(fn, types, image, op, channels, settings) -> node``; DALI's ``fn``/``types`` are passed in (imported lazily)."""


@dataclass(frozen=True, slots=True)
class GraphNode:
    """How the graph runs one op.

    Attributes:
        label: what ``plan.explain(device="cuda")`` and ``docs/ops.md`` print.
        build: the node builder, or ``None`` for ops planned on the host into the sample plan.
    """

    label: str
    build: NodeBuilder | None = None


def _decode_image(fn: Any, types: Any, encoded: Any, op: D.ImageDecoder, channels: int,
                  settings: GraphSettings) -> Any:
    return fn.decoders.image(encoded, device="mixed" if settings.on_gpu else "cpu",
                             output_type=types.RGB if channels == 3 else types.GRAY, **settings.decoder_args())


def _channel_affine(fn: Any, types: Any, image: Any, op: T.ChannelAffine, channels: int,
                    settings: GraphSettings) -> Any:
    scale, bias = op.channel_affine(channels)
    return fn.crop_mirror_normalize(image, mean=list(-bias / scale), std=list(1.0 / scale), output_layout="CHW",
                                    dtype=types.FLOAT)


_RESIZE = GraphNode("DALI fn.experimental.resize (CV-CUDA), host-planned ROI")
_WINDOW = GraphNode("host-planned window -> fn.resize ROI / fn.slice")
_FLIP = GraphNode("DALI fn.flip (host-drawn flags)")
_AFFINE = GraphNode("DALI fn.crop_mirror_normalize -> CHW float32", _channel_affine)

GRAPH_NODES: dict[str, GraphNode] = {
    "decoders.image": GraphNode("DALI fn.decoders.image mixed (nvImageCodec/nvJPEG)", _decode_image),
    "transforms.resize": _RESIZE,
    "transforms.resize_short": _RESIZE,
    "transforms.resize_long": _RESIZE,
    "transforms.fit_to_bucket": _RESIZE,
    "transforms.random_resized_crop": _RESIZE,
    "transforms.center_crop": _WINDOW,
    "transforms.crop": _WINDOW,
    "transforms.random_crop": _WINDOW,
    "transforms.hflip": _FLIP,
    "transforms.vflip": _FLIP,
    "transforms.normalize_chw_from_hwc_u8": _AFFINE,
    "transforms.symmetric_chw": _AFFINE,
    "transforms.unit_chw": _AFFINE,
    "transforms.pack_chw_f32": _AFFINE,
}
"""Graph nodes by op qualname (the op table's names)."""
