"""The GPU executor's kernel table: the ops the DALI graph runs, the rest on the CPU inside the executor.

Placement is decided per slot: a slot whose chain the graph can take
(:func:`dataio.gpu.graph.slot_graph`) runs its ops on the GPU as listed here; any other
slot runs entirely through the CPU fallback's kernels, inside the GPU executor.
"""

from __future__ import annotations

from dataio.executors import Kernel, KernelTable

_RESIZE = Kernel(None, "DALI fn.experimental.resize (CV-CUDA), host-planned ROI")
_WINDOW = Kernel(None, "host-planned window -> fn.resize ROI / fn.slice")
_FLIP = Kernel(None, "DALI fn.flip (host-drawn flags)")
_AFFINE = Kernel(None, "DALI fn.crop_mirror_normalize -> CHW float32")

GPU_KERNELS: dict[str, Kernel] = {
    "decoders.image": Kernel(None, "DALI fn.decoders.image mixed (nvImageCodec/nvJPEG)"),
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


def kernel_table() -> KernelTable:
    """The GPU placement table, falling back to the CPU table (for ``plan.explain(device="cuda")``)."""
    from dataio.cpu_fallback.kernels import TABLE as CPU_TABLE
    from dataio.gpu.graph import slot_graph

    return KernelTable("gpu", GPU_KERNELS, fallback=CPU_TABLE,
                       slot_supported=lambda slot: slot_graph(0, slot) is not None)
