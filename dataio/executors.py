"""The executor selector: which executor runs a plan, and where each op of it runs.

Executor packages are reached only from here, and only by name (imported when first
needed). Each registers against the op table (:mod:`dataio.ops.table`): the CPU fallback
(``dataio.cpu_fallback``) a kernel for every op (``KERNELS``), the GPU executor
(``dataio.gpu``) a graph node for the ops its DALI graph runs (``GRAPH_NODES``), the rest
running on the CPU kernels inside it. :func:`create_executor` makes the executor
``run()`` chose; :func:`kernel_table_for` serves ``plan.explain(device=...)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dataio._errors import DeviceUnavailable

if TYPE_CHECKING:
    import numpy as np

    from dataio.ops.decoders import ImageDecoder
    from dataio.plan import Plan
    from dataio.runtime.options import RunOptions
    from dataio.runtime.protocol import Executor


class KernelTable:
    """What runs each op (a label by op qualname), with an optional table that runs the ops this one lacks.

    ``runs`` lets an executor take only part of a slot (a graph runs the front of a chain):
    ``runs(slot, position)`` says whether it runs op ``position`` (0: the decoder) of ``slot``,
    else the op is placed by ``fallback`` with ``why(slot)`` appended to its label.
    """

    def __init__(self, placement: str, labels: Mapping[str, str], fallback: KernelTable | None = None,
                 runs: Callable[[Any, int], bool] | None = None, why: Callable[[Any], str] | None = None) -> None:
        self.placement = placement
        self.labels = dict(labels)
        self.fallback = fallback
        self.runs = runs
        self.why = why

    def place(self, qualname: str, slot: Any = None, position: int = 0) -> tuple[str, str]:
        """``(placement, kernel label)`` for op ``qualname``, op ``position`` of ``slot`` when given."""
        label = self.labels.get(qualname)
        taken = slot is None or self.runs is None or self.runs(slot, position)
        if label is not None and taken:
            return self.placement, label
        if self.fallback is not None:
            placement, label = self.fallback.place(qualname, slot, position)
            return placement, label if slot is None or self.why is None else f"{label} [{self.why(slot)}]"
        return "unsupported", "no kernel"

    def __contains__(self, qualname: object) -> bool:
        return qualname in self.labels


_PACKAGES = {"cpu_fallback": "dataio.cpu_fallback", "gpu": "dataio.gpu"}


def _package(executor: str) -> Any:
    return importlib.import_module(_PACKAGES[executor])


def kernel_table_for(device: str | None) -> tuple[str, KernelTable]:
    """``(executor label, kernel table)`` that ``run(device=device)`` would use."""
    from dataio.device import resolve_device

    if isinstance(device, str) and device.startswith("cuda"):
        if not getattr(_package("gpu"), "EXECUTOR_AVAILABLE", False):
            raise DeviceUnavailable(f"explain(device={device!r}): the GPU executor is not available in this "
                                    "build of dataio")
        return f"gpu ({device})", gpu_table()
    executor, where = resolve_device(device)
    return f"{executor} ({where})", gpu_table() if executor == "gpu" else cpu_table()


def cpu_table() -> KernelTable:
    """Where the CPU fallback runs each op: its kernel for every op."""
    kernels = importlib.import_module("dataio.cpu_fallback.kernels").KERNELS
    return KernelTable("cpu", {qualname: kernel.label for qualname, kernel in kernels.items()})


def gpu_table() -> KernelTable:
    """Where the GPU executor runs each op: its graph node for the front of a chain the graph takes, the CPU
    kernel (with the reason) for the rest."""
    registry = importlib.import_module("dataio.gpu.nodes")
    nodes = registry.GRAPH_NODES
    graph = importlib.import_module("dataio.gpu.graph")  # imports no GPU library
    def runs(slot: Any, position: int) -> bool:
        found = graph.slot_graph(0, slot)
        return found is not None and found.in_graph(position)

    return KernelTable("gpu", {qualname: node.label for qualname, node in nodes.items()}, fallback=cpu_table(),
                       runs=runs, why=graph.host_reason)


def create_executor(plan: Plan, options: RunOptions) -> Executor:
    """The executor ``options.executor`` names, created with the resolved run options.

    Raises:
        BackendUnavailable: a library the plan's kernels need is missing (named with its extra).
    """
    return _package(options.executor).create_executor(plan, options)


def decode_image_pixels(decoder: ImageDecoder, data: Any, label: str) -> np.ndarray:
    """One image decoded by the CPU fallback's image kernel, as ``HWC uint8`` (``dataio.read_image``).

    Raises:
        DecodeError: ``data`` is not a decodable image (naming ``label``).
    """
    return _package("cpu_fallback").decode_image_pixels(decoder, data, label)


def cpu_kernel_report() -> dict[str, Any]:
    """Which optional CPU kernels this machine has and the current setting uses (``python -m dataio``)."""
    return _package("cpu_fallback").kernel_report()


def probe_gpu_graph(device: str) -> str | None:
    """Build and run a tiny DALI graph on ``device`` (``"cuda:N"``): ``None`` when it works, else why not."""
    device_id = int(device.partition(":")[2] or 0)
    return importlib.import_module("dataio.gpu.probe").probe_graph(device_id)
