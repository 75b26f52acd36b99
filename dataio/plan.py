"""The plan: the backend-neutral, validated form of a pipeline that executors run.

:func:`compile_plan` is the one place cross-op validation happens: each slot's chain
is walked from its decoder's output description through every transform's
:meth:`~dataio.Transform.infer`, so an op fed the wrong dtype/layout fails here,
at ``pipeline()``. The plan carries the static description of every slot output
(which lets executors preallocate batch buffers) and a stable ``signature``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataio._errors import PlanError
from dataio.ops._base import BatchTransform, Decoder, TensorSpec, Transform
from dataio.ops.cond import Cond

if TYPE_CHECKING:
    from dataio.dsl import MapStage, ShapeStage, SlotStage


@dataclass(frozen=True, slots=True)
class SlotPlan:
    """One slot, validated: its chain and the static description after each op.

    Attributes:
        name: the slot (and record field) name.
        optional: a missing/``None`` value makes the slot inactive instead of an error.
        decoder: the first op.
        transforms: the ops after it.
        skip: predicate making the slot inactive for a record, or ``None``.
        specs: ``specs[0]`` is the decoder output, ``specs[i+1]`` the output of ``transforms[i]``.
    """

    name: str
    optional: bool
    decoder: Decoder
    transforms: tuple[Transform, ...]
    skip: Cond | None
    specs: tuple[TensorSpec, ...]

    @property
    def output(self) -> TensorSpec:
        """The static description of the slot's value in a batch row."""
        return self.specs[-1]

    @property
    def ops(self) -> tuple[Decoder | Transform, ...]:
        """Decoder then transforms."""
        return (self.decoder, *self.transforms)

    @property
    def fields(self) -> tuple[str, ...]:
        """Record fields the slot's ops and gate read (besides the slot's own field)."""
        found: list[str] = list(self.skip.fields()) if self.skip is not None else []
        for op in self.ops:
            for value in op.params().values():
                field = getattr(value, "field", None)
                if isinstance(field, str):
                    found.append(field)
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled pipeline: what every executor runs. Immutable and hash-seed independent."""

    record_maps: tuple[MapStage, ...]
    slots: tuple[SlotPlan, ...]
    shape: ShapeStage
    batch_maps: tuple[MapStage, ...]
    signature: str

    @property
    def slot_names(self) -> list[str]:
        """Slot names in pipeline order."""
        return [s.name for s in self.slots]

    def describe(self) -> dict[str, Any]:
        """Canonical description: the input of :attr:`signature`."""
        return _describe(self.record_maps, self.slots, self.shape, self.batch_maps)

    def explain(self, device: str | None = "auto") -> str:
        """Per slot and op: the executor and the kernel that runs it on ``device``.

        Args:
            device: as ``run(device=...)``: ``"auto"``, ``"cpu"``/``None``, ``"cuda[:N]"``.
                ``"cuda"`` explains the GPU executor's split even on a machine without a GPU.
        """
        from dataio.executors import kernel_table_for

        executor, table = kernel_table_for(device)
        lines = [f"plan {self.signature[:16]} on {executor}"]
        for m in self.record_maps:
            lines.append(f"  map (per record)        python  {m.describe()['map']}")
        for slot in self.slots:
            flags = " optional" if slot.optional else ""
            gate = f" skip_when={slot.skip.describe()}" if slot.skip is not None else ""
            lines.append(f"  slot {slot.name!r}{flags}{gate}")
            for op, spec in zip(slot.ops, slot.specs, strict=True):
                placement, kernel = table.place(op.qualname, slot)
                lines.append(f"    {op.qualname:<38} {placement:<6} {kernel:<50} -> {spec.describe()}")
        lines.append(f"  {self.shape.kind:<24} runtime  {json.dumps(self.shape.describe())}")
        for m in self.batch_maps:
            if isinstance(m.op, BatchTransform):
                placement, kernel = table.place(m.op.qualname)
                lines.append(f"  map {m.op.qualname:<34} {placement:<6} {kernel}")
            else:
                lines.append(f"  map (per batch)         python  {m.describe()['map']}")
        return "\n".join(lines)

    def __bool__(self) -> bool:
        raise TypeError("a Plan is a pipeline description, not data: it has no truth value")


def _describe(record_maps: Any, slots: Any, shape: Any, batch_maps: Any) -> dict[str, Any]:
    return {
        "record_maps": [m.describe() for m in record_maps],
        "slots": [_slot_description(s) for s in slots],
        "shape": shape.describe(),
        "batch_maps": [m.describe() for m in batch_maps],
    }


def _slot_description(slot: SlotPlan | SlotStage) -> dict[str, Any]:
    return {
        "slot": slot.name,
        "optional": slot.optional,
        "decoder": slot.decoder.describe(),  # type: ignore[union-attr]
        "transforms": [t.describe() for t in slot.transforms],
        "skip_when": None if slot.skip is None else slot.skip.describe(),
    }


def compile_plan(
    record_maps: tuple[MapStage, ...],
    slots: tuple[SlotStage, ...],
    shape: ShapeStage,
    batch_maps: tuple[MapStage, ...],
) -> Plan:
    """Validate every slot chain end to end and freeze the result into a :class:`Plan`.

    Raises:
        PlanError: an op receives an input it cannot take (named with its slot and position).
    """
    planned = tuple(_plan_slot(s) for s in slots)
    canonical = json.dumps(_describe(record_maps, planned, shape, batch_maps), sort_keys=True,
                           separators=(",", ":"))
    signature = hashlib.sha256(canonical.encode()).hexdigest()
    return Plan(record_maps, planned, shape, batch_maps, signature)


def _plan_slot(stage: SlotStage) -> SlotPlan:
    assert stage.decoder is not None and stage.name is not None  # checked by pipeline()
    specs = [stage.decoder.output_spec()]
    for position, transform in enumerate(stage.transforms):
        try:
            specs.append(transform.infer(specs[-1]))
        except PlanError as exc:
            raise PlanError(f"slot {stage.name!r}, op {position + 1} ({transform.op_name}): {exc}") from None
    return SlotPlan(stage.name, stage.optional, stage.decoder, stage.transforms, stage.skip, tuple(specs))
