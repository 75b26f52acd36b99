"""The GPU executor's registrations against the op table: the graph node of each op the DALI graph runs.

This is the one module that says which ops the graph takes and how. An op runs in the
graph in one of two ways:

- **host-planned** (``build`` is ``None``): geometric ops (kinds ``resample``, ``window``,
  ``flip``) are reduced per sample on the host, with the core's sample geometry
  (:mod:`dataio.ops.geometry`), to one region, output size and flips, which the graph
  executes with one ROI resize or slice and one flip (:func:`dataio.gpu.graph.define_pipeline`);
- **a node builder**: ``build(fn, types, image, op, channels, settings, args)`` appends the op's
  DALI operators after ``image`` and returns the new node (decoders and pixel ops); ``settings``
  is the pipeline's :class:`~dataio.gpu.settings.GraphSettings` (GPU or CPU operators, decoder
  setup). A random op also has a ``draw(op, ctx)``: the host draws its per-sample parameters
  with the core's draw functions (:mod:`dataio.ops.draws`, the CPU kernel's own calls), in
  chain order, and ``args`` is the graph input they are fed through (a 1-D vector per sample).

Ops with no entry run on the CPU fallback's kernels inside the GPU executor — and so does
a slot whose chain the graph cannot take as a whole (:func:`dataio.gpu.graph.slot_graph`).
Every op with an entry has a parity case in ``tests/parity_cases.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dataio.ops import decoders as D
from dataio.ops import photometric as P
from dataio.ops import transforms as T
from dataio.ops.draws import draw_coin
from dataio.ops.geometry import SampleContext

from dataio.gpu.settings import GraphSettings

NodeBuilder = Callable[[Any, Any, Any, Any, int, GraphSettings, Any], Any]
"""``(fn, types, image, op, channels, settings, args) -> node``; DALI's ``fn``/``types`` are passed in (imported
lazily); ``args`` is the per-sample parameter input of a node with a ``draw``, else ``None``."""

NodeDraw = Callable[[Any, SampleContext], np.ndarray]
"""``(op, ctx) -> int32 vector``: the per-sample parameters of one op, drawn from ``ctx.rng``."""


@dataclass(frozen=True, slots=True)
class GraphNode:
    """How the graph runs one op.

    Attributes:
        label: what ``plan.explain(device="cuda")`` and ``docs/ops.md`` print.
        build: the node builder, or ``None`` for ops planned on the host into the sample plan.
    """

    label: str
    build: NodeBuilder | None = None
    draw: NodeDraw | None = None
    """How the host draws the op's per-sample parameters (random ops); ``None``: the op draws nothing."""
    accepts: Callable[[Any, int], bool] | None = None
    """``(op, input channels) -> bool``: whether the node takes this configuration of the op (``None``: all)."""


def _decode_image(fn: Any, types: Any, encoded: Any, op: D.ImageDecoder, channels: int,
                  settings: GraphSettings, args: Any) -> Any:
    return fn.decoders.image(encoded, device="mixed" if settings.on_gpu else "cpu",
                             output_type=types.RGB if channels == 3 else types.GRAY, **settings.decoder_args())


def _channel_affine(fn: Any, types: Any, image: Any, op: T.ChannelAffine, channels: int,
                    settings: GraphSettings, args: Any) -> Any:
    scale, bias = op.channel_affine(channels)
    return fn.crop_mirror_normalize(image, mean=list(-bias / scale), std=list(1.0 / scale), output_layout="CHW",
                                    dtype=types.FLOAT)


def _coin(op: Any, ctx: SampleContext) -> np.ndarray:
    """One coin (``prob``): the draw of ``invert``, ``solarize``, ``posterize`` (their CPU kernels' own)."""
    return np.array([draw_coin(ctx.rng, op.prob)], dtype=np.int32)


def _where_fired(fn: Any, types: Any, image: Any, args: Any, changed: Callable[[Any], Any]) -> Any:
    """``changed(x)`` on the samples whose coin fired, ``x`` elsewhere; exact integer arithmetic on uint8."""
    x = fn.cast(image, dtype=types.INT32)
    fired = args[0]
    return fn.cast(x + fired * (changed(x) - x), dtype=types.UINT8)


def _invert(fn: Any, types: Any, image: Any, op: P.Invert, channels: int, settings: GraphSettings,
            args: Any) -> Any:
    return _where_fired(fn, types, image, args, lambda x: 255 - x)


def _solarize(fn: Any, types: Any, image: Any, op: P.Solarize, channels: int, settings: GraphSettings,
              args: Any) -> Any:
    return _where_fired(fn, types, image, args, lambda x: x + (x >= op.threshold) * (255 - 2 * x))


def _grayscale(fn: Any, types: Any, image: Any, op: P.Grayscale, channels: int, settings: GraphSettings,
               args: Any) -> Any:
    """Pillow's integer luma (the CPU kernel's, bit-exact) on every channel of an RGB image, where the coin fired."""
    x = fn.cast(image, dtype=types.INT32)
    luma = (19595 * x[:, :, 0] + 38470 * x[:, :, 1] + 7471 * x[:, :, 2] + 32768) // 65536
    luma = fn.expand_dims(luma, axes=[2], new_axis_names="C")
    return fn.cast(x + args[0] * (fn.cat(*[luma] * channels, axis=2) - x), dtype=types.UINT8)


def _posterize(fn: Any, types: Any, image: Any, op: P.Posterize, channels: int, settings: GraphSettings,
               args: Any) -> Any:
    mask = (0xFF << (8 - op.bits)) & 0xFF
    return _where_fired(fn, types, image, args, lambda x: x & mask)


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
    "transforms.grayscale": GraphNode("DALI integer luma, Pillow's weights (host-drawn coin)", _grayscale, _coin,
                                      lambda op, channels: op.num_output_channels == channels == 3),
    "transforms.invert": GraphNode("DALI integer arithmetic (host-drawn coin)", _invert, _coin),
    "transforms.solarize": GraphNode("DALI integer arithmetic (host-drawn coin)", _solarize, _coin),
    "transforms.posterize": GraphNode("DALI integer arithmetic (host-drawn coin)", _posterize, _coin),
}
"""Graph nodes by op qualname (the op table's names)."""
