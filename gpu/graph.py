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
from typing import Any, cast

import numpy as np

from dataio.ops._base import Op, TensorSpec
from dataio.ops.decoders import ImageDecoder
from dataio.plan import Plan, SlotPlan
from dataio.runtime.rows import RowFailure

from dataio.gpu.nodes import GRAPH_NODES, NodeInput
from dataio.gpu.settings import GraphSettings
from dataio.ops.geometry import GEOMETRY_KINDS, BatchPlan, SampleContext, record_dependent

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
        tail: the position in the slot's transforms where the host takes over (the CPU kernels
            run the rest of the chain on the graph's output), or ``None`` when the graph runs it all.
        stop: why the graph stops at ``tail`` (for ``explain``), or ``None``.
        pixel_specs: the plan's description of each pixel op's input.
    """

    index: int
    name: str
    decoder: ImageDecoder
    geometry: tuple[Op, ...]
    interp: str | None
    pixel_ops: tuple[Op, ...]
    channels: int
    tail: int | None = None
    stop: str | None = None
    pixel_specs: tuple[TensorSpec, ...] = ()

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

    @property
    def record_dependent(self) -> bool:
        """Whether planning a sample reads its record: a geometric op draws or reads a ``col(...)`` argument, or a
        pixel op draws (the host then makes each row's :class:`~dataio.runtime.chain.ChainContext`)."""
        return any(record_dependent(op) for op in self.geometry) or any(
            record_dependent(op) or GRAPH_NODES[op.qualname].draw is not None for op in self.pixel_ops)

    def in_graph(self, position: int) -> bool:
        """Whether op ``position`` of the slot (0: the decoder, i: transform i - 1) runs in the graph."""
        return self.tail is None or position <= self.tail


def slot_graph(index: int, slot: SlotPlan) -> SlotGraph | None:
    """The slot's graph form — the longest front of its chain the graph runs — or ``None`` when not even its
    decoder can run there (the CPU kernels inside the executor then run the whole slot).

    The graph runs an RGB or grey image decoder, then host-planned geometric ops (at most one
    resampling op), then ops whose graph node has a builder (:data:`GRAPH_NODES`); the first
    op that breaks this ends the graph's part and the CPU kernels run the rest on its output.
    A front that hands over to the host without a resize or crop in it is not taken — the whole
    slot runs on the CPU kernels: they decode for the chain (region and reduced-scale JPEG
    decoding), and no full-size image crosses to the host. Everything is read from the op
    table: nothing here names an op.
    """
    found = _front(index, slot)
    return None if found is None or _unreduced(found) else found


def _unreduced(found: SlotGraph) -> bool:
    """The graph would hand a full-size image to the host (a tail, and no resize or crop before it)."""
    return found.tail is not None and not any(op.kind in ("resample", "window") for op in found.geometry)


def host_reason(slot: SlotPlan) -> str:
    """Why the CPU kernels run (part of) ``slot`` under the GPU executor, for ``explain``."""
    found = _front(0, slot)
    if found is None:
        return "the decoder cannot run in the graph"
    if _unreduced(found):
        return f"{found.stop}, and no resize or crop before it: the whole slot runs on the CPU kernels"
    return f"on the host: {found.stop}"


def _front(index: int, slot: SlotPlan) -> SlotGraph | None:
    """The front of the slot's chain the graph can run (see :func:`slot_graph`), its tail included."""
    decoder = slot.decoder
    if not isinstance(decoder, ImageDecoder) or decoder.qualname not in GRAPH_NODES or decoder.allow_alpha \
            or decoder.fill_color is not None or decoder.channels not in (1, 3):
        return None
    transforms = slot.transforms
    if decoder.normalize != "none" or decoder.layout != "hwc":  # the decoder's own normalisation: a channel affine
        affine = decoder.value_affine()
        if affine is None or decoder.layout != "chw":
            return None
        position, stop = _pixel_front(slot, 0)
        return SlotGraph(index, slot.name, decoder, (), None, (affine, *transforms[:position]),  # type: ignore[arg-type]
                         decoder.channels, position if position < len(transforms) else None, stop,
                         (_decoded_hwc(decoder.channels), *slot.specs[:position]))
    position, stop, resampling = 0, None, cast(list[Any], [])
    while position < len(transforms):  # the geometric front: one sample plan
        op, node = transforms[position], GRAPH_NODES.get(transforms[position].qualname)
        if node is None or node.build is not None or op.kind not in GEOMETRY_KINDS:
            break
        if op.kind == "resample" and resampling:
            stop = f"a second resample ({op.qualname}) is not one sample plan"
            break
        resampling += [op] if op.kind == "resample" else []
        position += 1
    geometry_end = position
    if stop is None:
        position, stop = _pixel_front(slot, position)
    interp = resampling[0].interp if resampling else None  # type: ignore[attr-defined]
    return SlotGraph(index, slot.name, decoder, tuple(transforms[:geometry_end]), interp,  # type: ignore[arg-type]
                     tuple(transforms[geometry_end:position]), decoder.channels,
                     position if position < len(transforms) else None, stop,
                     tuple(slot.specs[t] for t in range(geometry_end, position)))


def _pixel_front(slot: SlotPlan, position: int) -> tuple[int, str | None]:
    """From transform ``position`` on, how far ops with node builders that take their input reach, and why the
    graph stops there (``None`` at the end of the chain)."""
    transforms = slot.transforms
    while position < len(transforms):
        op, node = transforms[position], GRAPH_NODES.get(transforms[position].qualname)
        if node is None or node.build is None:
            break
        if node.accepts is not None and not node.accepts(op, slot.specs[position]):
            return position, f"the graph node of {op.qualname} does not take {op!r}"
        position += 1
    if position == len(transforms):
        return position, None
    op = transforms[position]
    if op.qualname not in GRAPH_NODES:
        return position, f"no graph node for {op.qualname}"
    return position, f"{op.qualname} after a pixel op is not one sample plan"


def _decoded_hwc(channels: int) -> TensorSpec:
    """The decoder's pixels before its own normalisation: what the graph's decode node yields."""
    return TensorSpec("uint8", "hwc", (None, None, channels))


def draw_pixel_args(slot: SlotGraph, contexts: list[SampleContext] | None, sizes: np.ndarray,
                    planned: np.ndarray) -> list[np.ndarray]:
    """The per-sample parameters of the slot's pixel ops that draw, in chain order (after the geometry's draws):
    per such op, one float32 array ``[rows, ...]`` over the rows still ``planned`` when it returns (a node's
    draw gives its row as a sequence of numbers).

    ``sizes[i]`` is row ``i``'s image size after the geometry (nodes that pad pass the new size
    on). A row a node declines (its draw returns ``None``), or whose ``col(...)`` argument is bad
    (the CPU kernels then report it), is cleared in ``planned``, in place.
    """
    nodes = [(op, GRAPH_NODES[op.qualname]) for op in slot.pixel_ops]
    if not any(node.draw is not None for _, node in nodes):
        return []
    assert contexts is not None
    drawn: dict[int, list[np.ndarray]] = {}
    for i in np.flatnonzero(planned).tolist():
        hw, row = (int(sizes[i, 0]), int(sizes[i, 1])), []
        for op, node in nodes:
            if node.draw is None:
                continue
            try:
                args = node.draw(op, contexts[i], hw)
            except RowFailure:
                args = None
            if args is None:
                planned[i] = False
                break
            row.append(args)
            if node.resizes is not None:
                hw = node.resizes(op, hw, args)
        else:
            drawn[i] = row
    rows = np.flatnonzero(planned).tolist()
    return [np.array([drawn[i][j] for i in rows], np.float32) for j in range(len(drawn[rows[0]]))] if rows else []


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
    from nvidia.dali import math as dali_math

    on_gpu = settings.on_gpu
    name = slot.name
    encoded = fn.external_source(name=f"{name}.bytes", dtype=types.UINT8, ndim=1, no_copy=True)  # see feed
    decoded = _decoded_hwc(slot.channels)
    image = GRAPH_NODES[slot.decoder.qualname].build(  # type: ignore[misc]
        NodeInput(fn, types, dali_math, settings, decoded, slot.channels), encoded, slot.decoder)
    if slot.needs_region:
        sample = fn.external_source(name=f"{name}.sample", dtype=types.FLOAT, ndim=1)  # y0, x0, y1, x1, h, w
        region, size = sample[0:4], sample[4:6]
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
    for position, (op, spec) in enumerate(zip(slot.pixel_ops, slot.pixel_specs, strict=True)):
        node = GRAPH_NODES[op.qualname]
        args = None if node.draw is None else fn.external_source(name=f"{name}.op{position}", dtype=types.FLOAT,
                                                                  ndim=1)
        image = node.build(NodeInput(fn, types, dali_math, settings, spec, spec.channels or slot.channels, args),  # type: ignore[misc]
                           image, op)
    return image


def feed(pipeline: Any, slots: list[SlotGraph], payloads: list[list[Any]], plans: list[BatchPlan],
         args: list[list[np.ndarray]] | None = None) -> list[Any]:
    """Feed one batch: per slot, the encoded payloads, their :class:`~dataio.ops.geometry.BatchPlan` (same row
    order) and, per pixel op with a draw, its parameters (:func:`draw_pixel_args`).

    The payloads go in without a copy (DALI reads the caller's bytes): the returned list holds
    them and must stay alive until the iteration's outputs are released
    (:class:`~dataio.gpu.graph_queue.GraphQueue` does that). Per-sample geometry and parameters
    go in as one 2-D array per input (a dense batch), not as a list of small arrays: DALI takes
    the former in one copy.
    """
    from nvidia.dali.tensors import TensorCPU

    kept = []
    for i, (slot, rows, plan) in enumerate(zip(slots, payloads, plans, strict=True)):
        encoded = [TensorCPU(p, "") for p in rows]  # views of the bytes; DALI's feed then skips per-sample checks
        kept.append((rows, encoded))
        pipeline.feed_input(f"{slot.name}.bytes", encoded)
        if slot.needs_region:
            sample = np.concatenate([plan.regions, plan.sizes], axis=1, dtype=np.float32)  # y0, x0, y1, x1, h, w
            pipeline.feed_input(f"{slot.name}.sample", sample)
        if slot.has_flip:
            pipeline.feed_input(f"{slot.name}.flip", np.ascontiguousarray(plan.flips, np.int32))
        drawn = [position for position, op in enumerate(slot.pixel_ops) if GRAPH_NODES[op.qualname].draw]
        for position, values in zip(drawn, args[i] if args is not None else [], strict=True):
            pipeline.feed_input(f"{slot.name}.op{position}", values)
    return kept
