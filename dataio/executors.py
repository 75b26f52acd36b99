"""Executors: who runs a plan, and which kernel runs each op.

An executor registers one kernel per op name (its *kernel table*). The CPU fallback
(``dataio.cpu_fallback``) has a kernel for every op; the GPU executor
(``dataio.gpu``) has kernels for the ops it accelerates and runs the rest on the CPU
inside its graph. :func:`create_executor` picks one for ``run(device=...)``;
:func:`kernel_table_for` serves ``plan.explain(device=...)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataio._errors import DeviceUnavailable

if TYPE_CHECKING:
    from dataio.plan import Plan
    from dataio.runtime.options import RunOptions
    from dataio.runtime.protocol import Executor


@dataclass(frozen=True, slots=True)
class Kernel:
    """One op's implementation in one executor.

    Attributes:
        fn: the callable (``None`` where only the description is known, e.g. a graph node).
        label: what ``explain`` prints (library and function).
    """

    fn: Callable[..., Any] | None
    label: str
    requires: tuple[str, ...] = ()
    """Optional modules the kernel imports; checked when an executor is built (``run()``)."""


class KernelTable:
    """Kernels by op qualname, with an optional table that runs the ops this one lacks.

    ``slot_supported`` lets an executor take or leave whole slots (a graph takes a chain or
    not): ops of a slot it leaves are placed by ``fallback``.
    """

    def __init__(self, placement: str, kernels: Mapping[str, Kernel], fallback: KernelTable | None = None,
                 slot_supported: Callable[[Any], bool] | None = None) -> None:
        self.placement = placement
        self.kernels = dict(kernels)
        self.fallback = fallback
        self.slot_supported = slot_supported

    def place(self, qualname: str, slot: Any = None) -> tuple[str, str]:
        """``(placement, kernel label)`` for op ``qualname`` (of ``slot``, when given)."""
        kernel = self.kernels.get(qualname)
        slot_taken = slot is None or self.slot_supported is None or self.slot_supported(slot)
        if kernel is not None and slot_taken:
            return self.placement, kernel.label
        if self.fallback is not None:
            return self.fallback.place(qualname, slot)
        return "unsupported", "no kernel"

    def __contains__(self, qualname: object) -> bool:
        return qualname in self.kernels


_PACKAGES = {"cpu_fallback": "dataio.cpu_fallback", "gpu": "dataio.gpu"}


def _package(executor: str) -> Any:
    return importlib.import_module(_PACKAGES[executor])


def kernel_table_for(device: str | None) -> tuple[str, KernelTable]:
    """``(executor label, kernel table)`` that ``run(device=device)`` would use."""
    from dataio.device import resolve_device

    if isinstance(device, str) and device.startswith("cuda"):
        package = _package("gpu")
        if getattr(package, "kernel_table", None) is None:
            raise DeviceUnavailable(f"explain(device={device!r}): the GPU executor is not available in this "
                                    "build of dataio")
        return f"gpu ({device})", package.kernel_table()
    executor, where = resolve_device(device)
    return f"{executor} ({where})", _package(executor).kernel_table()


def create_executor(plan: Plan, options: RunOptions) -> Executor:
    """The executor ``options.executor`` names, created with the resolved run options.

    Raises:
        BackendUnavailable: a library the plan's kernels need is missing (named with its extra).
    """
    return _package(options.executor).create_executor(plan, options)
