"""``dataio.batch_transforms``: ops on a whole collated batch, ``map(op)`` after the shape stage (docs/api.md §3.3).

``slot`` names a slot or gives its index; an unknown slot is a ``KeyError`` at ``run()``.
Randomness comes from ``derive(seed, epoch, batch number)`` mixed with the op's own
``seed`` when given, so batch augmentations are reproducible and resumable.
"""

from __future__ import annotations

from typing import Any

from dataio._errors import PlanError
from dataio._validate import as_float, as_int, as_seed
from dataio.ops._base import BatchTransform, TensorSpec, op

SlotRef = str | int


def _slot_ref(func: str, param: str, value: Any, *, optional: bool = False) -> SlotRef | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"{func}({param}={value!r}): {param} must be a slot name or index")
    if isinstance(value, str) and not value:
        raise ValueError(f"{func}({param}=''): a slot name must be non-empty")
    return value


def _seed(func: str, value: Any) -> int | None:
    return None if value is None else as_seed(func, "seed", value)


class _SlotOp(BatchTransform):
    """A batch transform bound to slots; checks them against the plan at ``run()``."""

    __slots__ = ()

    def slot_params(self) -> tuple[str, ...]:
        """Parameters naming slots."""
        return ("slot",)

    def resolve(self, names: list[str], specs: list[TensorSpec]) -> dict[str, int]:
        """Slot indices by parameter; ``KeyError`` for an unknown slot, ``PlanError`` for a wrong kind."""
        found = {}
        for param in self.slot_params():
            ref = getattr(self, param)
            if ref is None:
                continue
            if isinstance(ref, int):
                if not -len(names) <= ref < len(names):
                    raise KeyError(f"{self.op_name}({param}={ref}): no slot at index {ref} ({len(names)} slots)")
                index = ref % len(names)
            elif ref in names:
                index = names.index(ref)
            else:
                raise KeyError(f"{self.op_name}({param}={ref!r}): no such slot; slots are {names}")
            self.check_spec(param, specs[index])
            found[param] = index
        return found

    def check_spec(self, param: str, spec: TensorSpec) -> None:
        """Refuse, at ``run()``, a slot whose static description the op cannot take."""
        if spec.is_object:
            raise PlanError(f"{self.op_name}({param}={getattr(self, param)!r}): an object slot holds no tensor")


class _Mixing(_SlotOp):
    __slots__ = ()

    def slot_params(self) -> tuple[str, ...]:
        return ("slot", "label_slot")

    def check_spec(self, param: str, spec: TensorSpec) -> None:
        _SlotOp.check_spec(self, param, spec)  # zero-argument super() breaks in slotted dataclasses
        if spec.dtype is not None and spec.dtype != "float32":
            raise PlanError(f"{self.op_name}({param}={getattr(self, param)!r}): needs a float32 slot; "
                            f"got {spec.describe()} (add normalize(...) or cast(dtype='float32'))")


@op("mixup", random=True)
class Mixup(_Mixing):
    """Mix each row with a permuted partner: ``λ·x + (1 − λ)·x[perm]``, ``λ ~ Beta(α, α)`` per batch.

    Args:
        alpha: Beta parameter (finite, > 0).
        slot: the float32 slot to mix.
        label_slot: a float32 one-hot/soft label slot mixed with the same ``λ``.
        seed: mixed into the batch seed.
    """

    slot: SlotRef
    alpha: float = 0.2
    label_slot: SlotRef | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        self.set("alpha", as_float("mixup", "alpha", self.alpha, minimum=0.0, exclusive_minimum=True))
        self.set("slot", _slot_ref("mixup", "slot", self.slot))
        self.set("label_slot", _slot_ref("mixup", "label_slot", self.label_slot, optional=True))
        self.set("seed", _seed("mixup", self.seed))


@op("cutmix", random=True)
class Cutmix(_Mixing):
    """Paste a box from a permuted partner into each row; labels weighted by the kept area.

    The box covers a fraction ``1 − λ`` of the image (``λ ~ Beta(α, α)``), centred uniformly
    and clipped to the image; ``λ`` is then recomputed from the clipped area.

    Args:
        alpha: Beta parameter (finite, > 0).
        slot: the float32 image slot (``CHW`` or ``HWC`` rows).
        label_slot: a float32 label slot mixed with the area weight.
        seed: mixed into the batch seed.
    """

    slot: SlotRef
    alpha: float = 1.0
    label_slot: SlotRef | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        self.set("alpha", as_float("cutmix", "alpha", self.alpha, minimum=0.0, exclusive_minimum=True))
        self.set("slot", _slot_ref("cutmix", "slot", self.slot))
        self.set("label_slot", _slot_ref("cutmix", "label_slot", self.label_slot, optional=True))
        self.set("seed", _seed("cutmix", self.seed))


@op("pad_to_longest")
class PadToLongest(_SlotOp):
    """Stack a ragged slot by padding each row's dims at their end to the longest row.

    ``batch.masks[slot]`` then holds a bool tensor of the same shape, ``True`` on real values.

    Args:
        slot: the slot.
        pad_value: fill value.
        pad_to_multiple_of: round every padded dim up to a multiple of this (bucketing).
    """

    slot: SlotRef
    pad_value: float = 0.0
    pad_to_multiple_of: int | None = None

    def __post_init__(self) -> None:
        self.set("slot", _slot_ref("pad_to_longest", "slot", self.slot))
        self.set("pad_value", as_float("pad_to_longest", "pad_value", self.pad_value))
        if self.pad_to_multiple_of is not None:
            self.set("pad_to_multiple_of", as_int("pad_to_longest", "pad_to_multiple_of", self.pad_to_multiple_of,
                                                  minimum=1))


@op("batch_normalize")
class BatchNormalize(_SlotOp):
    """Per-channel ``(x − mean[c]) / std[c]`` on a stacked float slot (channel axis from the layout).

    Args:
        slot: the slot (``CHW`` rows normalise axis 1 of the batch, others the last axis).
        mean: one value per channel.
        std: one value per channel, each finite and > 0.
    """

    slot: SlotRef
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        from dataio.ops.transforms import _mean_std

        self.set("slot", _slot_ref("batch_normalize", "slot", self.slot))
        mean, std = _mean_std("batch_normalize", self.mean, self.std)
        if not mean:
            raise ValueError("batch_normalize(mean=[]): needs at least one channel")
        self.set("mean", mean)
        self.set("std", std)

    def check_spec(self, param: str, spec: TensorSpec) -> None:
        _SlotOp.check_spec(self, param, spec)  # zero-argument super() breaks in slotted dataclasses
        if spec.dtype is not None and spec.dtype not in ("float32", "float64"):
            raise PlanError(f"batch_normalize(slot={self.slot!r}): needs a float slot; got {spec.describe()}")


@op("batch_shuffle", random=True)
class BatchShuffle(BatchTransform):
    """Permute the rows of every slot and ``keys``/``indices``/``context`` in lockstep.

    Args:
        seed: mixed into the batch seed.
        batch_axis: the axis holding rows in stacked tensors (default 0).
    """

    seed: int | None = None
    batch_axis: int | None = None

    def __post_init__(self) -> None:
        self.set("seed", _seed("batch_shuffle", self.seed))
        if self.batch_axis is not None:
            self.set("batch_axis", as_int("batch_shuffle", "batch_axis", self.batch_axis, minimum=0))


mixup = Mixup
cutmix = Cutmix
pad_to_longest = PadToLongest
batch_normalize = BatchNormalize
batch_shuffle = BatchShuffle

__all__ = ["mixup", "cutmix", "pad_to_longest", "batch_normalize", "batch_shuffle",
           "Mixup", "Cutmix", "PadToLongest", "BatchNormalize", "BatchShuffle"]
