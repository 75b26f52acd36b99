"""The plan: the backend-neutral, validated form of a pipeline that executors run.

The plan IR owns its stage types: the shape stages (:class:`BatchStage`,
:class:`CollateStage`, :class:`GroupByStage`), :class:`MapStage` and the validated
:class:`SlotPlan`. The DSL (:mod:`dataio.dsl`) only builds them; the runtime and the
executors read them and never import the DSL.

:func:`compile_plan` is the one place cross-op validation happens: each slot's chain
is walked from its decoder's output description through every transform's
:meth:`~dataio.Transform.infer`, so an op fed the wrong dtype/layout fails here,
at ``pipeline()``. The plan carries the static description of every slot output
(which lets executors preallocate batch buffers) and a stable ``signature``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from dataio._errors import PlanError
from dataio._identity import callable_identity
from dataio._symbolic import Symbolic
from dataio.ops._base import BatchTransform, Decoder, Op, TensorSpec, Transform
from dataio.ops.cond import Cond
from dataio.ops.custom import CustomOp

DEFAULT_PREFETCH = 4
"""Batches admitted ahead of the consumer when the shape stage does not say (``batch(prefetch=...)``)."""


# -- shape stages -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class BatchStage(Symbolic):
    """Consecutive groups of ``size`` records; built by ``dataio.batch(...)``."""

    size: int
    drop_last: bool = False
    prefetch: int | None = None

    kind = "batch"

    def describe(self) -> dict[str, Any]:
        """The canonical form of the stage, for the plan signature."""
        return {"shape": "batch", "size": self.size, "drop_last": self.drop_last}


@dataclass(frozen=True, slots=True, eq=False)
class CollateStage(Symbolic):
    """Each upstream item is already a batch (an iterable of records); built by ``dataio.collate()``."""

    prefetch: int | None = None

    kind = "collate"

    def describe(self) -> dict[str, Any]:
        """The canonical form of the stage, for the plan signature."""
        return {"shape": "collate"}


@dataclass(frozen=True, slots=True, eq=False)
class GroupByStage(Symbolic):
    """A batch ends whenever the key of the next record differs; built by ``dataio.group_by(...)``."""

    key: str | int | Callable[[Any], Hashable]
    prefetch: int | None = None

    kind = "group_by"

    def describe(self) -> dict[str, Any]:
        """The canonical form of the stage, for the plan signature (a callable key by its identity)."""
        key = self.key if isinstance(self.key, (str, int)) else callable_identity(self.key)
        return {"shape": "group_by", "key": key}


ShapeStage = BatchStage | CollateStage | GroupByStage


@dataclass(frozen=True, slots=True, eq=False)
class MapStage(Symbolic):
    """A Python hook: per record before the shape stage, per batch after it; built by ``dataio.map(...)``."""

    op: Callable[..., Any] | CustomOp | BatchTransform

    def describe(self) -> dict[str, Any]:
        """The canonical form of the stage: a batch transform's description, or the callable's identity."""
        if isinstance(self.op, BatchTransform):
            return {"map": self.op.describe()}
        return {"map": callable_identity(self.op)}


class SlotDeclaration(Protocol):
    """What :func:`compile_plan` reads of a declared slot (the DSL's ``SlotStage`` is one)."""

    @property
    def name(self) -> str | None: ...
    @property
    def optional(self) -> bool: ...
    @property
    def decoder(self) -> Decoder | None: ...
    @property
    def transforms(self) -> tuple[Transform, ...]: ...
    @property
    def skip(self) -> Cond | None: ...


# -- slots and the plan -------------------------------------------------------------------------


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
    def draws(self) -> bool:
        """Whether the slot's chain may draw from the record's generator: a random op, at any depth (the arms of
        ``choice``/``select`` and the like included)."""
        return any(_draws(op) for op in self.ops)

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

    @property
    def draws(self) -> bool:
        """Whether any slot chain may draw from its record's generator (else no row needs its seed's words)."""
        return any(slot.draws for slot in self.slots)

    def describe(self) -> dict[str, Any]:
        """Canonical description: the input of :attr:`signature`."""
        return _describe(self.record_maps, self.slots, self.shape, self.batch_maps)

    def explain(self, device: str | None = "auto") -> str:
        """Per slot and op: the executor and the kernel that runs it on ``device``.

        Args:
            device: as ``run(device=...)``: ``"auto"``, ``"cpu"``/``None``, ``"cuda[:N]"``.
                ``"cuda"`` explains the GPU executor's split even on a machine without a GPU.
        """
        from dataio.executors import kernel_table_for  # the selector: executors are above the plan

        executor, table = kernel_table_for(device)
        lines = [f"plan {self.signature[:16]} on {executor}"]
        for m in self.record_maps:
            lines.append(f"  map (per record)        python  {m.describe()['map']}")
        for slot in self.slots:
            flags = " optional" if slot.optional else ""
            gate = f" skip_when={slot.skip.describe()}" if slot.skip is not None else ""
            lines.append(f"  slot {slot.name!r}{flags}{gate}")
            for position, (op, spec) in enumerate(zip(slot.ops, slot.specs, strict=True)):
                placement, kernel = table.place(op.qualname, slot, position)
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


def _draws(value: Any) -> bool:
    """An op that is random, or holds one among its parameters (branch arms), at any depth."""
    if isinstance(value, Op):
        return value.random or any(_draws(param) for param in value.params().values())
    if isinstance(value, (tuple, list)):
        return any(_draws(item) for item in value)
    return False


def _describe(record_maps: Any, slots: Any, shape: Any, batch_maps: Any) -> dict[str, Any]:
    return {
        "record_maps": [m.describe() for m in record_maps],
        "slots": [_slot_description(s) for s in slots],
        "shape": shape.describe(),
        "batch_maps": [m.describe() for m in batch_maps],
    }


def _slot_description(slot: SlotPlan | SlotDeclaration) -> dict[str, Any]:
    return {
        "slot": slot.name,
        "optional": slot.optional,
        "decoder": slot.decoder.describe(),  # type: ignore[union-attr]
        "transforms": [t.describe() for t in slot.transforms],
        "skip_when": None if slot.skip is None else slot.skip.describe(),
    }


def compile_plan(
    record_maps: tuple[MapStage, ...],
    slots: tuple[SlotDeclaration, ...],
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


def _plan_slot(stage: SlotDeclaration) -> SlotPlan:
    assert stage.decoder is not None and stage.name is not None  # checked by pipeline()
    specs = [stage.decoder.output_spec()]
    for position, transform in enumerate(stage.transforms):
        try:
            specs.append(transform.infer(specs[-1]))
        except PlanError as exc:
            raise PlanError(f"slot {stage.name!r}, op {position + 1} ({transform.op_name}): {exc}") from None
    return SlotPlan(stage.name, stage.optional, stage.decoder, stage.transforms, stage.skip, tuple(specs))
