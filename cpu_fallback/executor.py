"""The CPU fallback executor: each record's slot chains run on the shared thread pool.

A slot chain is compiled once into a :class:`SlotProgram` (kernels looked up, JPEG
draft decided). Per row it decodes, runs the transforms — geometric ones only move a
lazy view — and has the last kernel write into the row's slice of the batch buffer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dataio._deps import require
from dataio._errors import RecordError, RecordTypeError
from dataio.ops.decoders import ImageDecoder
from dataio.plan import Plan, SlotPlan
from dataio.runtime.options import RunOptions
from dataio.runtime.protocol import BatchResult, Deferred, RowResult, SlotBatch
from dataio.runtime.batch import BatchColumns
from dataio.runtime.chain import ChainContext
from dataio.runtime.rowprep import PreparedRow
from dataio.runtime.records import INACTIVE
from dataio.runtime.stats import StageClock
from dataio.runtime.rows import RowFailure, UserCodeError, describe_exception

from dataio.cpu_fallback import accel
from dataio.cpu_fallback.geometric_kernels import draft_target
from dataio.cpu_fallback.jpeg_regions import JpegRegions
from dataio.cpu_fallback.kernels import KERNELS
from dataio.cpu_fallback.lazy_image import LazyImage
from dataio.cpu_fallback.pixels import affine_coefficients, affine_to_chw

Defer = Callable[[int, PreparedRow], "tuple[Deferred, tuple[int, int]] | None"]
"""``(slot index, row) -> (Deferred, decoded size) | None``: how an executor built on this one takes slots."""


class SlotProgram:
    """One slot's chain, bound to CPU kernels."""

    def __init__(self, slot: SlotPlan) -> None:
        self.slot = slot
        self.decoder = slot.decoder
        for op in slot.ops:
            for module in KERNELS[op.qualname].requires:
                require(module, op.qualname)  # BackendUnavailable at run(), naming the extra
        self.decode = KERNELS[self.decoder.qualname].fn
        self.steps = [(op, KERNELS[op.qualname].fn, spec)
                      for op, spec in zip(slot.transforms, slot.specs[:-1], strict=True)]
        first = slot.transforms[0] if slot.transforms else None
        self.is_image = isinstance(self.decoder, ImageDecoder)
        self.draft_op = first if self.is_image and first is not None and first.kind == "resample" else None

    def run(self, data: Any, ctx: ChainContext, out: np.ndarray | None,
            clock: StageClock) -> tuple[Any, tuple[int, int] | None]:
        """The slot's value for one row (written into ``out`` where possible) and its decoded (h, w)."""
        op: Any = self.decoder
        stage = "decode"
        started = time.perf_counter()
        deferred = None  # a JPEG decoded when its view is materialised: that time is decode time
        booked = 0.0  # of the deferred decode's time, what the decode stage already counted
        try:
            if self.is_image:
                draft = draft_target(self.draft_op, ctx) if self.draft_op is not None else None
                value = self.decode(op, data, ctx.label, draft)
                hw = (value.height, value.width)
                if isinstance(value.source, JpegRegions):
                    deferred = value.source
                value = _image_output(op, value, out if not self.steps else None)
                booked = deferred.decode_seconds if deferred is not None else 0.0
            else:
                value, hw = self.decode(op, data, ctx), None
            decoded = time.perf_counter()
            clock.add("decode", decoded - started)
            stage, started = "transform", decoded
            value = self._transform(value, 0, ctx, out)
        except (RowFailure, RecordError, RecordTypeError, UserCodeError):
            raise
        except Exception as exc:  # a kernel failure is this row's, named by op
            raise RowFailure(stage, op.qualname,  # type: ignore[arg-type] # "decode" or "transform"
                             f"{ctx.label}: {describe_exception(exc)}") from exc
        finally:
            late = deferred.decode_seconds - booked if deferred is not None and stage != "decode" else 0.0
            clock.add(stage, time.perf_counter() - started - late)
            if late:
                clock.add("decode", late, calls=0)
        return value, hw

    def run_tail(self, value: Any, first: int, ctx: ChainContext, out: np.ndarray | None, clock: StageClock) -> Any:
        """Transforms ``first`` onward on ``value`` (what an earlier part of the chain produced elsewhere, e.g. in
        a GPU graph), continuing ``ctx``'s generator; written into ``out`` where possible."""
        started = time.perf_counter()
        try:
            return self._transform(value, first, ctx, out)
        finally:
            clock.add("transform", time.perf_counter() - started)

    def _transform(self, value: Any, first: int, ctx: ChainContext, out: np.ndarray | None) -> Any:
        """Steps ``first`` onward, the last writing into ``out``; a kernel failure becomes this row's, named by op."""
        op: Any = self.steps[first - 1][0] if first else self.decoder
        last = len(self.steps) - 1
        try:
            for i in range(first, len(self.steps)):
                op, kernel, spec = self.steps[i]
                value = kernel(op, value, spec, ctx, out if i == last else None)
            return value.materialise() if isinstance(value, LazyImage) else value
        except (RowFailure, RecordError, RecordTypeError, UserCodeError):
            raise
        except Exception as exc:  # a kernel failure is this row's, named by op
            raise RowFailure("transform", op.qualname, f"{ctx.label}: {describe_exception(exc)}") from exc


def _image_output(op: ImageDecoder, image: LazyImage, out: np.ndarray | None) -> Any:
    """The decoder's own output form: the lazy ``HWC uint8`` view, or a converted array."""
    if op.normalize == "none" and op.layout == "hwc":
        return image
    pixels = image.materialise()
    if op.normalize == "none":
        return pixels.transpose(2, 0, 1)
    chw = affine_to_chw(pixels, affine_coefficients(op.value_affine(), pixels.shape[2]),
                     out if op.layout == "chw" else None)
    return chw if op.layout == "chw" else chw.transpose(1, 2, 0)


class CpuExecutor:
    """Runs a plan with Pillow + numpy on the process-wide CPU pool; batches land in host memory."""

    name = "cpu_fallback"

    def __init__(self, plan: Plan, options: RunOptions) -> None:
        self.plan = plan
        self.device = "cpu"
        accel.selection()  # a missing named library fails run(), not every row; libraries load here
        self.programs = [SlotProgram(slot) for slot in plan.slots]
        self.clock = StageClock()
        """Where decode/transform times go; the runtime adds its own stages to the same clock."""

    def run_row(self, row: PreparedRow, buffers: list[np.ndarray | None], *, defer: Defer | None = None) -> RowResult:
        """Run every active slot of ``row`` (writing into its row of the batch buffers where given); a failing slot
        ends the row.

        Args:
            row: the prepared row.
            buffers: per slot, the batch buffer whose row ``row.position`` its last kernel may write into.
            defer: for an executor built on this one (the GPU executor): per slot, the
                :class:`Deferred` value and decoded size of a slot it takes for its per-batch
                work, or ``None`` to run the slot here. It may raise :class:`RowFailure`.
        """
        result = RowResult.empty(len(self.programs))
        for index in range(len(self.programs)):
            if row.sources[index] is INACTIVE:
                result.values[index] = INACTIVE
                continue
            try:
                deferred = defer(index, row) if defer is not None else None
                if deferred is not None:
                    result.values[index], result.hws[index] = deferred
                else:
                    buffer = buffers[index]
                    out = None if buffer is None else buffer[row.position, ...]  # a view, 0-d rows included
                    result.values[index], result.hws[index] = self.run_slot(row, index, out)
            except RowFailure as failure:
                result.failure = (failure, self.programs[index].slot.name)
                break
        return result

    def run_slot(self, row: PreparedRow, index: int, out: np.ndarray | None) -> tuple[Any, tuple[int, int] | None]:
        """Slot ``index``'s value for ``row`` (written into ``out`` where possible) and its decoded (h, w).

        Raises:
            RowFailure: the slot failed for this row.
        """
        return self.programs[index].run(row.payloads[index], self.context(row, index), out, self.clock)

    @staticmethod
    def context(row: PreparedRow, index: int) -> ChainContext:
        """A fresh chain context for slot ``index`` of ``row``: its generator starts at the record seed."""
        label = getattr(row.sources[index], "label", "<record value>")
        return ChainContext(row.record, row.seed, repr(row.key), label, row.seed_words)

    def start_batch(self, slots: dict[int, SlotBatch]) -> None:
        """Never called: this executor defers no slot (rows are complete when ``run_row`` returns)."""
        raise RuntimeError("the CPU fallback defers no work to the batch")

    def collect_batch(self, handle: Any) -> BatchResult:
        """Never called (see :meth:`start_batch`)."""
        raise RuntimeError("the CPU fallback defers no work to the batch")

    def counters(self) -> dict[str, Any]:
        """Nothing beyond the runtime's own stages (``loader.stats()["executor"]`` is empty)."""
        return {}

    def deliver(self, content: BatchColumns, transforms: list[tuple[Any, dict[str, int], Any]]) -> None:
        """Batches stay in host memory; native batch transforms run with their kernels (numpy, in place)."""
        specs = [s.output for s in self.plan.slots]
        for op, slots, rng in transforms:
            KERNELS[op.qualname].fn(op, slots, content, specs, rng)


def create_executor(plan: Plan, options: RunOptions) -> CpuExecutor:
    """The CPU executor for ``plan`` under the resolved run ``options`` (batches in host memory)."""
    return CpuExecutor(plan, options)
