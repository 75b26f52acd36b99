"""The DALI graph for a plan's image slots: decode, one region resample or slice, flip, normalise.

Built once per (plan signature, batch size, device). Each GPU-capable slot becomes:

    fn.external_source(encoded bytes)                     host → graph, per batch
    → fn.decoders.image(device="mixed" | "cpu")           nvImageCodec / nvJPEG on the GPU
    → resize(roi_start, roi_end, size)  or  fn.slice      the sample plan's region (dataio.ops.geometry);
                                                          fn.experimental.resize (CV-CUDA) on the GPU
    → fn.flip(horizontal, vertical)                       per-sample flags from the host
    → fn.crop_mirror_normalize(output_layout="CHW")       the channel affine, float32

Per-sample values (regions, sizes, flips) are fed through ``external_source`` argument
inputs, so the graph draws no random numbers of its own. The op placement (``on_gpu``)
is a parameter: CI builds and runs the same graph with DALI's CPU operators
(``device_id=None``) and compares it with the CPU fallback; the GPU variant is built and
serialised there too. DALI is imported here, never by ``import dataio``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dataio.ops._base import Op
from dataio.ops.decoders import ImageDecoder
from dataio.plan import Plan, SlotPlan

from dataio.gpu.nodes import GRAPH_NODES
from dataio.gpu.settings import GraphSettings
from dataio.ops.geometry import GEOMETRY_KINDS, SamplePlan

INTERP = {"nearest": "INTERP_NN", "bilinear": "INTERP_LINEAR", "bicubic": "INTERP_CUBIC",
          "lanczos": "INTERP_LANCZOS3"}


@dataclass(frozen=True, slots=True)
class SlotGraph:
    """How one slot maps onto the graph.

    Attributes:
        index: the slot's position in the plan.
        name: the slot name (prefix of its external-source names).
        decoder: the image decoder (its node decodes).
        geometry: the geometric ops the host plans per sample.
        interp: the filter of the chain's resampling op, if any.
        pixel_ops: the ops after the geometry, each run by its node builder (e.g. the channel affine).
        channels: output channels (3 for RGB, 1 for grey).
    """

    index: int
    name: str
    decoder: ImageDecoder
    geometry: tuple[Op, ...]
    interp: str | None
    pixel_ops: tuple[Op, ...]
    channels: int

    @property
    def has_window(self) -> bool:
        return any(op.kind == "window" for op in self.geometry)

    @property
    def needs_region(self) -> bool:
        """The graph resamples or slices a per-sample region."""
        return self.interp is not None or self.has_window

    @property
    def has_flip(self) -> bool:
        return any(op.kind == "flip" for op in self.geometry)


def slot_graph(index: int, slot: SlotPlan) -> SlotGraph | None:
    """The slot's graph form, or ``None`` when it needs ops the graph does not have (CPU inside the executor).

    Graph-capable: an RGB or grey image decoder, then host-planned geometric ops (at most
    one resampling op), then ops whose graph node has a builder (:data:`GRAPH_NODES`) —
    all read from the op table, nothing here names an op.
    """
    decoder = slot.decoder
    if not isinstance(decoder, ImageDecoder) or decoder.qualname not in GRAPH_NODES or decoder.allow_alpha \
            or decoder.fill_color is not None or decoder.channels not in (1, 3):
        return None
    nodes = [GRAPH_NODES.get(op.qualname) for op in slot.transforms]
    if any(node is None for node in nodes):
        return None
    split = next((i for i, node in enumerate(nodes) if node.build is not None), len(nodes))  # type: ignore[union-attr]
    geometry, pixel_ops = slot.transforms[:split], slot.transforms[split:]
    if any(op.kind not in GEOMETRY_KINDS for op in geometry) or any(n.build is None for n in nodes[split:]):  # type: ignore[union-attr]
        return None  # geometry after a pixel op is not one sample plan
    if decoder.normalize != "none" or decoder.layout != "hwc":
        affine = decoder.value_affine()
        if slot.transforms or affine is None or decoder.layout != "chw":
            return None
        pixel_ops = (affine,)
    resampling = [op for op in geometry if op.kind == "resample"]
    if len(resampling) > 1:
        return None
    interp = resampling[0].interp if resampling else None  # type: ignore[attr-defined]
    return SlotGraph(index, slot.name, decoder, tuple(geometry), interp, tuple(pixel_ops), decoder.channels)  # type: ignore[arg-type]


def graph_slots(plan: Plan) -> list[SlotGraph]:
    """The plan's slots that run in the graph."""
    return [g for i, s in enumerate(plan.slots) if (g := slot_graph(i, s)) is not None]


def define_pipeline(slots: list[SlotGraph], *, batch_size: int, device_id: int | None, on_gpu: bool,
                    num_threads: int = 2, prefetch: int = 1,
                    settings: GraphSettings | None = None) -> tuple[Any, list[Any]]:
    """An unbuilt DALI pipeline with one output per slot, and those output nodes.

    Args:
        slots: from :func:`graph_slots`.
        batch_size: the largest batch fed.
        device_id: the CUDA device, or ``None`` (CPU-only; a GPU variant can still be defined
            and serialised).
        on_gpu: decode with ``device="mixed"`` (everything after runs on the GPU); ``False``
            places every op on the CPU.
        num_threads: DALI CPU worker threads (when ``settings`` is not given).
        prefetch: DALI's queue depth; 1 for the executor's feed-then-run use (one batch fed, one run).
        settings: threads and decoder settings (:func:`dataio.gpu.settings.machine_settings`);
            ``on_gpu`` and ``num_threads`` with DALI's defaults otherwise.
    """
    from nvidia.dali import Pipeline, fn, types

    if settings is None:
        settings = GraphSettings(on_gpu, num_threads)
    pipeline = Pipeline(batch_size=batch_size, num_threads=settings.num_threads, device_id=device_id,
                        prefetch_queue_depth=prefetch, exec_dynamic=True)  # a failed iteration fails alone
    with pipeline:
        outputs = [_slot_nodes(fn, types, slot, settings) for slot in slots]
        pipeline.set_outputs(*outputs)
    return pipeline, outputs


def build_pipeline(slots: list[SlotGraph], **options: Any) -> Any:
    """:func:`define_pipeline`, built and ready for :func:`feed`."""
    pipeline, _ = define_pipeline(slots, **options)
    pipeline.build()
    return pipeline


def graph_ops(outputs: list[Any]) -> list[tuple[str, str]]:
    """``(operator schema name, output device)`` for every node feeding ``outputs``, outputs first."""
    found, stack, seen = [], list(outputs), set()
    while stack:
        node = stack.pop(0)
        source = node.source
        if id(source) in seen:
            continue
        seen.add(id(source))
        found.append((getattr(type(source._op), "schema_name", type(source._op).__name__), node.device))
        stack.extend(source._inputs or [])
    return found


def _slot_nodes(fn: Any, types: Any, slot: SlotGraph, settings: GraphSettings) -> Any:
    on_gpu = settings.on_gpu
    name = slot.name
    encoded = fn.external_source(name=f"{name}.bytes", dtype=types.UINT8, ndim=1)
    image = GRAPH_NODES[slot.decoder.qualname].build(fn, types, encoded, slot.decoder, slot.channels, settings)  # type: ignore[misc]
    if slot.needs_region:
        region = fn.external_source(name=f"{name}.region", dtype=types.FLOAT, ndim=1)  # y0, x0, y1, x1
        size = fn.external_source(name=f"{name}.size", dtype=types.FLOAT, ndim=1)  # h, w
    if slot.interp is not None:
        # on the GPU DALI's CV-CUDA-backed resize; DALI's own (same arguments) for the CPU variant
        resize = fn.experimental.resize if on_gpu else fn.resize
        image = resize(image, roi_start=region[0:2], roi_end=region[2:4], roi_relative=False, size=size,
                       interp_type=getattr(types, INTERP[slot.interp]), antialias=True)
    elif slot.has_window:
        # whole-pixel windows; slice wants start and shape of one type
        image = fn.slice(image, start=fn.cast(region[0:2], dtype=types.INT32), shape=fn.cast(size, dtype=types.INT32),
                         axes=[0, 1], out_of_bounds_policy="pad", fill_values=0)
    if slot.has_flip:
        flip = fn.external_source(name=f"{name}.flip", dtype=types.INT32, ndim=1)  # horizontal, vertical
        image = fn.flip(image, horizontal=flip[0], vertical=flip[1])
    for op in slot.pixel_ops:
        image = GRAPH_NODES[op.qualname].build(fn, types, image, op, slot.channels, settings)  # type: ignore[misc]
    return image


def feed(pipeline: Any, slots: list[SlotGraph], payloads: list[list[Any]], plans: list[list[SamplePlan]]) -> None:
    """Feed one batch: per slot, the encoded payloads and their sample plans (same row order)."""
    for slot, rows, sample_plans in zip(slots, payloads, plans, strict=True):
        pipeline.feed_input(f"{slot.name}.bytes", [np.frombuffer(p, dtype=np.uint8) for p in rows])
        if slot.needs_region:
            pipeline.feed_input(f"{slot.name}.region", [np.asarray(p.region, np.float32) for p in sample_plans])
            pipeline.feed_input(f"{slot.name}.size", [np.asarray(p.size, np.float32) for p in sample_plans])
        if slot.has_flip:
            pipeline.feed_input(f"{slot.name}.flip", [np.asarray(p.flip, dtype=np.int32) for p in sample_plans])
