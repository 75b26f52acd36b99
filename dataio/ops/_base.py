"""The op model: frozen, validated parameter records with a stable name.

An op never runs anything. It carries validated parameters, says what it does to the
static description of a slot value (:meth:`Transform.infer`), and describes itself
canonically for the plan signature. Executors look kernels up by :attr:`Op.qualname`
in their own kernel tables, so adding an op is one class here plus one kernel per
executor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, cast, dataclass_transform

from dataio._errors import PlanError

LAYOUTS = ("hwc", "chw")


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """What the plan knows, before any data, about a slot value at one point of its chain.

    Attributes:
        dtype: numpy dtype name, or ``None`` when only known at run time.
        layout: ``"hwc"`` / ``"chw"`` for images, ``None`` for other or unknown layouts.
        shape: dims with ``None`` for dims known only at run time; ``None`` for unknown rank.
        is_object: the value is an arbitrary Python object (collated as a list).
    """

    dtype: str | None
    layout: str | None = None
    shape: tuple[int | None, ...] | None = None
    is_object: bool = False

    @property
    def is_static(self) -> bool:
        """True when dtype and every dim are known, so a batch buffer can be preallocated."""
        return (
            not self.is_object
            and self.dtype is not None
            and self.shape is not None
            and all(d is not None for d in self.shape)
        )

    @property
    def static_layout(self) -> tuple[tuple[int, ...], str]:
        """``(shape, dtype)`` of a static spec (:attr:`is_static`), for a preallocated buffer row.

        Raises:
            ValueError: the spec is not static.
        """
        if not self.is_static:
            raise ValueError(f"{self} has no static shape and dtype")
        return tuple(int(d) for d in self.shape), str(self.dtype)  # type: ignore[arg-type, union-attr]

    @property
    def channels(self) -> int | None:
        """The channel count of an image-like value (axis 0 for ``CHW``, else the last of three), when known."""
        if self.shape is None or len(self.shape) != 3:
            return None
        return self.shape[0] if self.layout == "chw" else self.shape[2]

    def describe(self) -> str:
        """Human form, e.g. ``HWC u8 [?, ?, 3]``."""
        if self.is_object:
            return "object"
        dims = "?" if self.shape is None else ", ".join("?" if d is None else str(d) for d in self.shape)
        layout = f"{self.layout.upper()} " if self.layout else ""
        return f"{layout}{self.dtype or '?'} [{dims}]"


OBJECT = TensorSpec(dtype=None, is_object=True)
ANY_TENSOR = TensorSpec(dtype=None)


def image_axes(spec: TensorSpec) -> tuple[int, int]:
    """The (height, width) axes of an image-like value: ``CHW`` → (1, 2), otherwise (0, 1)."""
    return (1, 2) if spec.layout == "chw" else (0, 1)


class Op:
    """Base of every op. Subclasses are frozen dataclasses made with :func:`op`."""

    __slots__ = ()
    op_name: ClassVar[str]
    namespace: ClassVar[str]
    random: ClassVar[bool] = False
    kind: ClassVar[str] = "transform"
    """What the op does to a sample, as executors plan it: ``"decode"``, ``"resample"``, ``"window"``,
    ``"flip"``, ``"affine"`` (a per-channel multiply-add to ``CHW float32``), ``"batch"``, or
    ``"transform"`` (anything else). The CPU draft decision and the GPU sample planner read it."""

    @property
    def qualname(self) -> str:
        """``namespace.op_name``, the key of kernel tables (e.g. ``transforms.resize_short``)."""
        return f"{self.namespace}.{self.op_name}"

    def params(self) -> dict[str, Any]:
        """Parameter values by name, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def describe(self) -> dict[str, Any]:
        """Canonical, JSON-ready description used by the plan signature and ``explain``."""
        return {"op": self.qualname, "params": {k: canonical(v) for k, v in self.params().items()}}

    def fail(self, param: str, rule: str) -> PlanError:
        """A :class:`PlanError` in the contract's style for parameter ``param``."""
        return PlanError(f"{self.op_name}({param}={getattr(self, param)!r}): {rule}")

    def set(self, name: str, value: Any) -> None:
        """Store a normalised parameter during ``__post_init__`` (the dataclass is frozen)."""
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{self.namespace}.{self.op_name}({args})"

    def __bool__(self) -> bool:
        raise TypeError(
            f"{self!r} is an op description, not data: it has no truth value. "
            "Build a pipeline with it and iterate the loader to get values."
        )


class Decoder(Op):
    """An op that turns a slot's bytes (or Python value) into the slot's first value."""

    __slots__ = ()
    namespace: ClassVar[str] = "decoders"
    kind: ClassVar[str] = "decode"
    takes_payload: ClassVar[bool] = True
    """False for decoders that take the slot's Python value itself instead of reading bytes."""
    value_types: ClassVar[tuple[type, ...]] = ()
    """Slot values of these types reach the decoder as they are, though it reads bytes from the others
    (``scalar``: a number in the record, or the text of a ``.cls`` file)."""

    def output_spec(self) -> TensorSpec:
        """The static description of what this decoder produces."""
        raise NotImplementedError


class Transform(Op):
    """An op applied to one record's slot value after its decoder."""

    __slots__ = ()
    namespace: ClassVar[str] = "transforms"

    def infer(self, spec: TensorSpec) -> TensorSpec:
        """The output description for input ``spec``; :class:`PlanError` when incompatible."""
        raise NotImplementedError

    def expect(self, spec: TensorSpec, *, dtype: str | None = None, layout: str | None = None) -> None:
        """Refuse, at plan time, an input whose known dtype/layout contradicts the op's."""
        wrong_dtype = dtype is not None and spec.dtype is not None and spec.dtype != dtype
        wrong_layout = layout is not None and spec.layout is not None and spec.layout != layout
        if spec.is_object or wrong_dtype or wrong_layout:
            want = f"{layout.upper() + ' ' if layout else ''}{dtype or 'tensor'}"
            raise PlanError(f"{self.op_name}: expects {want} input; got {spec.describe()}")


HWC_U8: dict[str, str] = {"dtype": "uint8", "layout": "hwc"}
"""``expect(**HWC_U8)``: the input must be (as far as the plan knows) an ``HWC uint8`` image."""


class ImageTransform(Transform):
    """A transform on an ``HWC uint8`` image that keeps its dtype, layout and shape."""

    __slots__ = ()

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec, **HWC_U8)
        return spec


class BatchTransform(Op):
    """An op applied to a collated batch (used through ``map(...)`` after the shape stage)."""

    __slots__ = ()
    namespace: ClassVar[str] = "batch_transforms"
    kind: ClassVar[str] = "batch"


OP_REGISTRY: dict[str, type[Op]] = {}

_OpT = TypeVar("_OpT", bound=type[Op])


@dataclass_transform(frozen_default=True, kw_only_default=True)  # type checkers see the fields as keywords
def op(name: str, *, random: bool = False) -> Callable[[_OpT], _OpT]:
    """Class decorator: make a frozen, slotted, keyword-only dataclass op and register it."""

    def wrap(cls: _OpT) -> _OpT:
        cls.op_name = name
        cls.random = random
        made = dataclass(frozen=True, slots=True, kw_only=True, repr=False)(cls)
        qualname = f"{made.namespace}.{name}"
        if qualname in OP_REGISTRY:
            raise RuntimeError(f"op {qualname} registered twice")
        OP_REGISTRY[qualname] = made
        return cast(_OpT, made)

    return wrap


def canonical(value: Any) -> Any:
    """A JSON-ready, hash-seed-independent form of a parameter value."""
    describe = getattr(value, "describe", None)
    if callable(describe) and not isinstance(value, type):
        return describe()
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot describe parameter value {value!r} of type {type(value).__name__}")
