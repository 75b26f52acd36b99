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
from typing import TYPE_CHECKING, Any, Protocol

from dataio._errors import DeviceUnavailable

if TYPE_CHECKING:
    from dataio.ops._base import TensorSpec
    from dataio.plan import Plan
    from dataio.runtime.assembly import Assembly
    from dataio.runtime.batch import BatchContent
    from dataio.runtime.rowprep import PreparedRow
    from dataio.runtime.stats import StageClock


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


class Executor(Protocol):
    """What the runtime needs from an executor."""

    name: str
    device: str
    clock: StageClock
    """Stage timings the executor adds to (``loader.stats()``); the loader sets its own."""

    def process_row(self, assembly: Assembly, row: PreparedRow) -> None:
        """Run (or stage) one read row's slot chains into ``assembly`` (called on pool threads)."""

    def finish_batch(self, assembly: Assembly) -> None:
        """A batch's rows were all processed: start batch-level work (e.g. feed a device graph).

        Called on the thread that finished the last row; it should not wait for that work.
        """

    def complete_batch(self, assembly: Assembly) -> None:
        """Finish the batch-level work before delivery (consumer thread): afterwards every
        row's outcome and value is in ``assembly``."""

    def place(self, content: BatchContent) -> None:
        """Move the batch's columns to where this executor delivers them (consumer thread)."""

    def run_batch_transform(self, op: Any, slots: dict[str, int], content: BatchContent,
                            specs: list[TensorSpec], rng: Any) -> None:
        """Apply one native batch transform to ``content`` (consumer thread)."""


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


def create_executor(plan: Plan, device: str | None) -> Executor:
    """The executor for ``run(device=device)``.

    Raises:
        DeviceUnavailable: a CUDA device was asked for and the GPU stack is not usable.
        PlanError / TypeError: an invalid ``device`` value.
    """
    from dataio.device import resolve_device

    executor, where = resolve_device(device)
    return _package(executor).create_executor(plan, where)
