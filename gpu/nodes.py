"""The GPU executor's registrations against the op table: the graph node of each op the DALI graph runs.

This is the one module that says which ops the graph takes and how. An op runs in the
graph in one of two ways:

- **host-planned** (``build`` is ``None``): geometric ops (kinds ``resample``, ``window``,
  ``flip``) are reduced per sample on the host, with the core's sample geometry
  (:mod:`dataio.ops.geometry`), to one region, output size and flips, which the graph
  executes with one ROI resize or slice and one flip (:func:`dataio.gpu.graph.define_pipeline`);
- **a node builder**: ``build(node_input, image, op)`` appends the op's DALI operators after
  ``image`` and returns the new node (decoders and pixel ops; :class:`NodeInput` carries DALI's
  ``fn``/``types``, the pipeline's settings, the op's input description and its argument
  input). A random op also has a ``draw(op, ctx, hw)``: the host draws its per-sample
  parameters with the core's draw functions (:mod:`dataio.ops.draws`, the CPU kernel's own
  calls) in chain order, for the sample's current size, and feeds them as one float32 vector
  per sample.

The builders live by family: :mod:`dataio.gpu.point_nodes` (per-pixel arithmetic),
:mod:`dataio.gpu.filter_nodes` (convolutions), :mod:`dataio.gpu.spatial_nodes` (warps,
erasing, padding). Ops with no entry run on the CPU fallback's kernels inside the GPU
executor (none of them is an image op DALI has an operator for). Every op with an entry has a
parity case in ``tests/parity_cases.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dataio.ops._base import TensorSpec
from dataio.ops.geometry import SampleContext

from dataio.gpu import augment_nodes as AUG
from dataio.gpu import filter_nodes as F
from dataio.gpu import point_nodes as P
from dataio.gpu import spatial_nodes as S
from dataio.gpu.settings import GraphSettings


@dataclass(frozen=True, slots=True)
class NodeInput:
    """What a node builder gets besides the image node and the op.

    Attributes:
        fn: DALI's ``nvidia.dali.fn`` (imported lazily by the graph builder).
        types: DALI's ``nvidia.dali.types``.
        math: DALI's ``nvidia.dali.math`` (floor, clamp, min/max on data nodes).
        settings: the pipeline's settings (GPU or CPU operators, decoder setup).
        spec: the plan's description of the op's input (for a decoder: of its output).
        channels: the input's channels (for a decoder: its output's).
        args: the per-sample float32 parameter vector of an op with a ``draw``, else ``None``.
    """

    fn: Any
    types: Any
    math: Any
    settings: GraphSettings
    spec: TensorSpec
    channels: int
    args: Any = None


NodeBuilder = Callable[[NodeInput, Any, Any], Any]
"""``(node_input, image, op) -> node``."""

NodeDraw = Callable[[Any, SampleContext, tuple[int, int]], Sequence[float] | np.ndarray | None]
"""``(op, ctx, (height, width)) -> numbers`` (a list or an array, fed as float32): the per-sample parameters of
one op, drawn from ``ctx.rng`` (and resolved from the record, for ``col(...)`` arguments) for an image of that
size; ``None`` declines the row (it runs its whole slot on the CPU kernels, from the same seed)."""


@dataclass(frozen=True, slots=True)
class GraphNode:
    """How the graph runs one op.

    Attributes:
        label: what ``plan.explain(device="cuda")`` and ``docs/ops.md`` print.
        build: the node builder, or ``None`` for ops planned on the host into the sample plan.
        draw: how the host draws the op's per-sample parameters; ``None``: the op draws nothing.
        accepts: ``(op, input spec) -> bool``: whether the node takes this configuration of the op
            (``None``: every configuration the plan lets through).
        resizes: ``(op, (height, width), args) -> (height, width)`` for a node that changes the
            image size (the next ops' draws see the new size); ``None``: same size.
    """

    label: str
    build: NodeBuilder | None = None
    draw: NodeDraw | None = None
    accepts: Callable[[Any, TensorSpec], bool] | None = None
    resizes: Callable[[Any, tuple[int, int], np.ndarray], tuple[int, int]] | None = None


_RESIZE = GraphNode("DALI fn.experimental.resize (CV-CUDA), host-planned ROI")
_WINDOW = GraphNode("host-planned window -> fn.resize ROI / fn.slice")
_FLIP = GraphNode("DALI fn.flip (host-drawn flags)")
_AFFINE = GraphNode("DALI fn.crop_mirror_normalize -> CHW float32", P.channel_affine)
_COIN_ARITHMETIC = "DALI integer arithmetic (host-drawn coin)"
_POLICY = GraphNode("host-drawn operations, split per sample: NN warps, Pillow blends, SMOOTH and LUT arithmetic, "
                    "fn.equalize", AUG.policy, AUG.draw, AUG.policy_accepts)

GRAPH_NODES: dict[str, GraphNode] = {
    "decoders.image": GraphNode("DALI fn.decoders.image mixed (nvImageCodec/nvJPEG); grey: Pillow's luma of "
                                "the RGB decode", P.decode_image),
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
    "transforms.normalize": GraphNode("DALI arithmetic per channel, float32", P.normalize, None,
                                      P.normalize_accepts),
    "transforms.grayscale": GraphNode("DALI integer luma, Pillow's weights (host-drawn coin)", P.grayscale, P.coin,
                                      P.grayscale_accepts),
    "transforms.invert": GraphNode(_COIN_ARITHMETIC, P.invert, P.coin, P.takes_hwc_u8),
    "transforms.solarize": GraphNode(_COIN_ARITHMETIC, P.solarize, P.coin, P.takes_hwc_u8),
    "transforms.posterize": GraphNode(_COIN_ARITHMETIC, P.posterize, P.coin, P.takes_hwc_u8),
    "transforms.equalize": GraphNode("DALI fn.equalize (host-drawn coin)", P.equalize, P.coin, P.takes_hwc_u8),
    "transforms.gaussian_noise": GraphNode("DALI integer hash + Box-Muller per element (host-drawn key)",
                                           P.gaussian_noise, P.draw_noise, P.noise_accepts),
    "transforms.color_jitter": GraphNode("DALI arithmetic: Pillow's blends and uint8 HSV, host-drawn factors, "
                                         "the order by conditional split", P.color_jitter, P.draw_jitter,
                                         P.takes_rgb_u8),
    "transforms.gaussian_blur": GraphNode("DALI fn.gaussian_blur (host-drawn sigma)", F.gaussian_blur,
                                          F.draw_sigma, P.takes_hwc_u8),
    "transforms.median_blur": GraphNode("DALI min/max network over the 3x3 neighbours (radius 1)", F.median_blur,
                                        None, F.median_accepts),
    "transforms.sharpen": GraphNode("DALI fn.gaussian_blur + arithmetic", F.sharpen, None, P.takes_hwc_u8),
    "transforms.random_erasing": GraphNode("DALI fn.erase (host-drawn rectangle)", S.random_erasing, S.draw_erasing,
                                           S.erasing_accepts),
    "transforms.pad": GraphNode("DALI fn.slice, out_of_bounds_policy=pad (constant mode)", S.pad, S.draw_pad,
                                S.pad_accepts, S.padded_hw),
    "transforms.grid_mask": GraphNode("DALI fn.grid_mask (host-drawn grid, moved to the CPU kernel's squares)",
                                      S.grid_mask, S.draw_grid, P.takes_hwc_u8),
    "transforms.rand_augment": _POLICY,
    "transforms.trivial_augment_wide": _POLICY,
    "transforms.auto_augment": _POLICY,
    "transforms.affine": GraphNode("DALI fn.warp_affine (host-built matrix)", S.affine, S.draw_affine,
                                   S.warp_accepts),
    "transforms.random_affine": GraphNode("DALI fn.warp_affine (host-drawn matrix)", S.affine,
                                          S.draw_random_affine, S.warp_accepts),
    "transforms.random_perspective": GraphNode("DALI fn.experimental.warp_perspective (CV-CUDA; host-drawn matrix)",
                                               S.perspective, S.draw_perspective, P.takes_hwc_u8),
}
"""Graph nodes by op qualname (the op table's names)."""

