"""The pipeline DSL (docs/api.md §2): builders of immutable descriptions, never executors.

Everything here only records validated data. ``pipeline(...)`` checks the stage order
and compiles the description into a :class:`~dataio.plan.Plan` once (the one place
cross-op validation runs); executors only ever see plans.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from dataio._errors import PlanError
from dataio._symbolic import Symbolic
from dataio._validate import as_bool, as_int, as_name
from dataio.ops import decoders as D
from dataio.ops import transforms as T
from dataio.ops._base import OP_REGISTRY, BatchTransform, Decoder, Transform
from dataio.ops.cond import Cond, Param, _as_cond
from dataio.ops.branches import as_arm
from dataio.ops.custom import CustomOp, CustomTransform, declared_output
from dataio.plan import (
    DEFAULT_PREFETCH,
    BatchStage,
    CollateStage,
    GroupByStage,
    MapStage,
    Plan,
    ShapeStage,
    compile_plan,
)

if TYPE_CHECKING:
    from dataio.binding import BoundPipeline

__all__ = [
    "DEFAULT_PREFETCH", "BatchStage", "CollateStage", "GroupByStage", "MapStage", "Pipeline", "ShapeStage",
    "SlotStage", "SlotsBuilder", "WhenBuilder", "batch", "chain", "collate", "custom_op", "group_by", "map",
    "pipeline", "slot", "slots",
]


def _shorthand(factory: Callable[..., Transform]) -> Callable[..., SlotStage]:
    """A ``SlotStage`` method appending ``factory(...)``, with the factory's signature and doc."""

    def method(self: SlotStage, *args: Any, **kwargs: Any) -> SlotStage:
        return self.apply(factory(*args, **kwargs))

    name = factory.__name__ if not isinstance(factory, type) else factory.op_name  # type: ignore[attr-defined]
    method.__name__ = name
    method.__qualname__ = f"SlotStage.{name}"
    method.__doc__ = factory.__doc__
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)]
    params += list(inspect.signature(factory).parameters.values())
    method.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return method


@dataclass(frozen=True, slots=True, eq=False)
class SlotStage(Symbolic):
    """One slot: a name, a decoder and a chain of transforms. Immutable; methods return new stages.

    Build with :func:`slot` (named) or :func:`chain` (unbound, to share a sequence).
    """

    name: str | None = None
    optional: bool = False
    decoder: Decoder | None = None
    transforms: tuple[Transform, ...] = ()
    skip: Cond | None = None
    open_select: bool = False  # the last op came from when(...).then(...): elif_/otherwise may follow

    if TYPE_CHECKING:  # the shorthands _attach_shorthands() adds at import, for type checkers (tests/test_dsl.py)
        def affine(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def auto_augment(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def bbox_crop(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def bbox_hflip(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def bbox_pad(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def bbox_vflip(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def box_encoder(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def canny(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def cast(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def center_crop(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def choice(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def color_jitter(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def crop(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def equalize(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def fit_to_bucket(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def flatten(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def gaussian_blur(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def gaussian_noise(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def grayscale(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def grid_mask(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def hflip(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def invert(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def median_blur(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def mel_filterbank(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def mfcc(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def nms(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def pad(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def pad_axis(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def patchify(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def permute(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def posterize(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def rand_augment(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def random_affine(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def random_bbox_crop(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def random_crop(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def random_erasing(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def random_perspective(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def reshape(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def resize(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def select(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def sharpen(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def soft_nms(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def solarize(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def some_of(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def sometimes(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def spectrogram(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def squeeze(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def trivial_augment_wide(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def unsqueeze(self, *args: Any, **kwargs: Any) -> SlotStage: ...
        def vflip(self, *args: Any, **kwargs: Any) -> SlotStage: ...

    def __post_init__(self) -> None:
        if not isinstance(self.optional, bool):
            raise TypeError(f"slot(optional={self.optional!r}): optional must be a bool")

    @property
    def label(self) -> str:
        """How errors refer to this stage."""
        return f"slot({self.name!r})" if self.name is not None else "chain()"

    # -- composition ---------------------------------------------------------
    def apply(self, *things: Decoder | Transform | SlotStage) -> SlotStage:
        """Append transforms or a decoder, or splice one unbound chain (its sole argument)."""
        if len(things) == 1 and isinstance(things[0], SlotStage):
            return self + things[0]
        stage = self
        for thing in things:
            if isinstance(thing, SlotStage):
                raise PlanError(f"{self.label}.apply(): an unbound chain must be the sole argument")
            if isinstance(thing, Decoder):
                stage = stage._with_decoder(thing)
            elif isinstance(thing, Transform):
                if stage.decoder is None:
                    raise PlanError(
                        f"{self.label}.apply({thing!r}): a transform needs a decoder before it; "
                        "declare the decoder first"
                    )
                stage = dataclasses.replace(stage, transforms=stage.transforms + (thing,))
            elif isinstance(thing, CustomOp):
                stage = stage.apply(CustomTransform(fn=thing))
            elif callable(thing):
                raise TypeError(
                    f"{self.label}.apply(): got a Python callable {thing!r}; slots take dataio ops. "
                    "Run Python code per record with dataio.map(fn) or wrap it with dataio.custom_op"
                )
            else:
                raise TypeError(
                    f"{self.label}.apply(): expected a Decoder, Transform or chain(); "
                    f"got {type(thing).__name__}"
                )
        return dataclasses.replace(stage, open_select=False) if stage.open_select else stage

    def _with_decoder(self, decoder: Decoder) -> SlotStage:
        if self.decoder is not None:
            raise PlanError(
                f"{self.label}: a slot has exactly one decoder; already has {self.decoder!r}, got {decoder!r}"
            )
        if self.transforms:
            raise PlanError(f"{self.label}: the decoder {decoder!r} must come before every transform")
        return dataclasses.replace(self, decoder=decoder)

    def __add__(self, other: SlotStage) -> SlotStage:
        if not isinstance(other, SlotStage):
            return NotImplemented
        if other.name is not None:
            raise PlanError(f"{self.label} + {other.label}: only an unbound chain() can be appended")
        stage = self if other.decoder is None else self._with_decoder(other.decoder)
        if other.transforms and stage.decoder is None:
            raise PlanError(f"{self.label} + chain(): the result would have transforms before a decoder")
        return dataclasses.replace(stage, transforms=stage.transforms + other.transforms, open_select=False)

    # -- decoders --------------------------------------------------------------
    def decode(self, decoder: Decoder) -> SlotStage:
        """Set any :class:`~dataio.Decoder` (e.g. with its full parameter set)."""
        if not isinstance(decoder, Decoder):
            raise TypeError(f"{self.label}.decode(): expected a Decoder; got {type(decoder).__name__}")
        return self._with_decoder(decoder)

    def decode_image(
        self,
        *,
        mode: str = "rgb",
        normalize: str = "none",
        layout: str = "hwc",
        allow_alpha: bool | None = None,
        max_pixels: int = 134_217_728,
        max_decoded_bytes: int = 536_870_912,
        max_width: int = 0,
        max_height: int = 0,
        backend: str = "auto",
        fill_color: tuple[int, int, int] | None = None,
    ) -> SlotStage:
        """Decode an image; unlike ``decoders.image`` the defaults yield ``HWC uint8``."""
        return self._with_decoder(D.image(
            mode=mode, normalize=normalize, layout=layout, allow_alpha=bool(allow_alpha),
            max_pixels=max_pixels, max_decoded_bytes=max_decoded_bytes, max_width=max_width,
            max_height=max_height, backend=backend, fill_color=fill_color,
        ))

    def decode_bytes(self) -> SlotStage:
        """The raw payload as ``[N] uint8``."""
        return self._with_decoder(D.bytes())

    def decode_npy(self) -> SlotStage:
        """A ``.npy`` array."""
        return self._with_decoder(D.npy())

    def decode_json(self, *, field: str | None = None) -> SlotStage:
        """One JSON document (``field`` projects a top-level string field)."""
        return self._with_decoder(D.json(field=field))

    def decode_text(self, *, encoding: str = "utf-8") -> SlotStage:
        """Text as UTF-8 bytes."""
        return self._with_decoder(D.text(encoding=encoding))

    def decode_audio(self, *, sample_rate: int | None = None, mono: bool = False,
                     resampling: str = "linear") -> SlotStage:
        """Audio as ``[channels, samples] float32`` (see ``dataio.decoders.audio``)."""
        return self._with_decoder(D.audio(sample_rate=sample_rate, mono=mono, resampling=resampling))

    def decode_safetensors(self, *, tensor_key: str | Param) -> SlotStage:
        """One tensor of a safetensors payload (``tensor_key`` may be ``col(field)``)."""
        return self._with_decoder(D.safetensors(tensor_key=tensor_key))

    def decode_scalar(self, dtype: str = "int64") -> SlotStage:
        """One number per row (a record's int/float/bool, or a ``.cls``-style text), ``[B]`` of ``dtype`` once
        batched."""
        return self._with_decoder(D.scalar(dtype=dtype))

    def passthrough(self, *, field: str | None = None) -> SlotStage:
        """Carry the slot's Python value (or ``value[field]``) unchanged as an object slot."""
        return self._with_decoder(D.passthrough(field=field))

    # -- transforms --------------------------------------------------------------
    def resize_short(self, size: int, *, interp: str = "bicubic") -> SlotStage:
        """Resize so the shorter side is ``size`` (aspect kept)."""
        return self.apply(T.resize_short(size=size, interp=interp))

    def resize_long(self, size: int, *, interp: str = "bicubic") -> SlotStage:
        """Resize so the longer side is ``size`` (aspect kept)."""
        return self.apply(T.resize_long(size=size, interp=interp))

    def random_resized_crop(
        self,
        *,
        h: int,
        w: int,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (0.75, 1.3333333),
        interp: str = "bicubic",
    ) -> SlotStage:
        """torchvision-style random resized crop; ``scale``/``ratio`` are (lo, hi) pairs."""
        scale_lo, scale_hi = _pair("random_resized_crop", "scale", scale)
        ratio_lo, ratio_hi = _pair("random_resized_crop", "ratio", ratio)
        return self.apply(T.random_resized_crop(
            h=h, w=w, scale_lo=scale_lo, scale_hi=scale_hi, ratio_lo=ratio_lo, ratio_hi=ratio_hi,
            interp=interp,
        ))

    def normalize(
        self,
        mode: str | tuple[Sequence[float], Sequence[float]] = "imagenet",
        *,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        output_layout: Literal["chw", "hwc"] = "chw",
    ) -> SlotStage:
        """``HWC uint8`` → ``CHW float32`` normalisation (docs/api.md §2.2).

        Args:
            mode: ``"imagenet"``, ``"clip"``, ``"unit"`` (x/255), ``"symmetric"`` (x/127.5 − 1),
                ``"none"`` (x as float) or a ``(mean, std)`` tuple; presets and tuples compute
                ``(x/255 − mean)/std``.
            mean: with ``std``, overrides ``mode``.
            std: with ``mean``, overrides ``mode``.
            output_layout: ``"chw"``; ``"hwc"`` only with ``"none"``, which then changes nothing.
        """
        return self.apply(*_normalize_ops(mode, mean, std, output_layout))

    # -- branches ------------------------------------------------------------------
    def when(self, cond: Cond) -> WhenBuilder:
        """Start a branch: ``.when(cond).then(*ops)[.elif_(cond).then(*ops)...][.otherwise(*ops)]``.

        Per record, the first arm whose predicate holds runs, else the ``otherwise`` ops (or
        nothing). Lowers to :func:`dataio.transforms.select`.
        """
        return WhenBuilder(self, _as_cond(f"{self.label}.when", cond), extend=False)

    def elif_(self, cond: Cond) -> WhenBuilder:
        """Add an arm to the branch that ``then`` just closed."""
        self._require_open("elif_")
        return WhenBuilder(self, _as_cond(f"{self.label}.elif_", cond), extend=True)

    def otherwise(self, *ops: Transform) -> SlotStage:
        """The ops to run when no predicate of the branch holds."""
        self._require_open("otherwise")
        branch = self.transforms[-1]
        assert isinstance(branch, T.Select)
        return dataclasses.replace(self, transforms=self.transforms[:-1] + (
            branch.with_default(as_arm(f"{self.label}.otherwise", "ops", list(ops))),), open_select=False)

    def _require_open(self, method: str) -> None:
        if not self.open_select:
            raise PlanError(f"{self.label}.{method}(): must directly follow .when(...).then(...) or "
                            ".elif_(...).then(...)")

    # -- gating ------------------------------------------------------------------
    def skip_when(self, cond: Cond) -> SlotStage:
        """Make the slot inactive for records where ``cond`` holds (evaluated before any IO)."""
        return self._gate("skip_when", cond, negate=False)

    def active_when(self, cond: Cond) -> SlotStage:
        """Make the slot active only for records where ``cond`` holds (evaluated before any IO)."""
        return self._gate("active_when", cond, negate=True)

    def _gate(self, method: str, cond: Any, *, negate: bool) -> SlotStage:
        if not isinstance(cond, (Cond, Param)):
            raise TypeError(f"{self.label}.{method}(): expected a Cond; got {type(cond).__name__}")
        if self.name is None:
            raise PlanError(f"chain().{method}(): gating needs a named slot; use slot(name).{method}")
        cond = _as_cond(method, cond)
        if cond.uses_shape:
            raise PlanError(
                f"{self.label}.{method}(): shape predicates refer to a tensor and are only valid "
                "inside when()/select(); gate on record fields (col(...)) instead"
            )
        skip = cond.not_() if negate else cond
        if self.skip is not None:
            skip = self.skip | skip
        return dataclasses.replace(self, skip=skip)

    def describe(self) -> dict[str, Any]:
        """Canonical description (part of the plan signature)."""
        return {
            "slot": self.name,
            "optional": self.optional,
            "decoder": None if self.decoder is None else self.decoder.describe(),
            "transforms": [t.describe() for t in self.transforms],
            "skip_when": None if self.skip is None else self.skip.describe(),
        }


@dataclass(frozen=True, slots=True, eq=False)
class WhenBuilder(Symbolic):
    """``slot.when(cond)`` / ``.elif_(cond)``: waits for ``.then(*ops)``."""

    stage: SlotStage
    cond: Cond
    extend: bool

    def then(self, *ops: Transform) -> SlotStage:
        """The ops to run for records where the predicate holds (at least one)."""
        arm = as_arm(f"{self.stage.label}.then", "ops", list(ops))
        stage = self.stage
        if self.extend:
            branch = stage.transforms[-1]
            assert isinstance(branch, T.Select)
            stage = dataclasses.replace(stage, transforms=stage.transforms[:-1] + (branch.with_arm(self.cond, arm),))
        else:
            stage = stage.apply(T.select([(self.cond, arm)]))
        return dataclasses.replace(stage, open_select=True)


_NO_SHORTHAND = frozenset({"normalize", "normalize_chw_from_hwc_u8", "symmetric_chw", "unit_chw", "pack_chw_f32",
                           "custom"})
"""Transforms without a same-named method: the normalisations go through ``SlotStage.normalize(...)``
(docs/api.md §2.2); custom ops through ``SlotStage.apply(custom_op)``."""


def _attach_shorthands() -> None:
    """Give ``SlotStage`` one method per registered transform (same name, same parameters).

    The registry is the source of truth: a new op gets its shorthand without touching this module.
    Methods written by hand above (``resize_short``, ``random_resized_crop``, ...) take precedence.
    """
    for qualname in OP_REGISTRY:
        namespace, name = qualname.split(".", 1)
        if namespace == "transforms" and name not in _NO_SHORTHAND and not hasattr(SlotStage, name):
            setattr(SlotStage, name, _shorthand(getattr(T, name)))  # the public factory: class or function


_attach_shorthands()


def _pair(func: str, param: str, value: Any) -> tuple[Any, Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise TypeError(f"{func}({param}={value!r}): {param} must be a (lo, hi) pair")
    return value[0], value[1]


_AFFINE_MODES = {"unit": T.UnitChw, "symmetric": T.SymmetricChw}


def _normalize_ops(mode: Any, mean: Any, std: Any, output_layout: str) -> tuple[Transform, ...]:
    """Lower the ``normalize`` shorthand to primitive transforms."""
    if output_layout not in ("chw", "hwc"):
        raise PlanError(f"normalize(output_layout={output_layout!r}): must be 'chw' or 'hwc'")
    if (mean is None) != (std is None):
        raise PlanError("normalize(): mean= and std= must be given together")
    if mean is not None:
        mode = (mean, std)
    if output_layout == "hwc" and mode != "none":
        raise PlanError(f"normalize(mode={mode!r}, output_layout='hwc'): 'hwc' is only allowed with mode='none'")
    if isinstance(mode, str):
        if mode == "none":
            return () if output_layout == "hwc" else (T.pack_chw_f32(scale=1.0),)
        if mode in _AFFINE_MODES:
            return (_AFFINE_MODES[mode](),)
        if mode in T.NORMALIZE_PRESETS:
            mean, std = T.NORMALIZE_PRESETS[mode]
            return (T.normalize_chw_from_hwc_u8(mean=mean, std=std, base="unit"),)
        known = ", ".join(repr(m) for m in ("imagenet", "clip", "unit", "symmetric", "none"))
        raise PlanError(f"normalize(mode={mode!r}): mode must be one of {known} or a (mean, std) tuple")
    if isinstance(mode, tuple) and len(mode) == 2:
        return (T.normalize_chw_from_hwc_u8(mean=mode[0], std=mode[1], base="unit"),)
    raise TypeError(f"normalize(mode={mode!r}): mode must be a str or a (mean, std) tuple")


def slot(name: str, *, optional: bool = False) -> SlotStage:
    """A named output column reading ``record[name]``.

    Example:
        >>> dataio.slot("image").decode_image(mode="rgb").resize_short(256)
    """
    return SlotStage(name=as_name("slot", "name", name), optional=as_bool("slot", "optional", optional))


def chain() -> SlotStage:
    """An unbound slot stage, used to share a decoder/transform sequence between slots."""
    return SlotStage()


@dataclass(frozen=True, slots=True, eq=False)
class SlotsBuilder(Symbolic):
    """Several slots with one shared chain; expands inside ``pipeline(...)``."""

    names: tuple[str, ...]
    is_optional: bool = False
    chain: SlotStage = SlotStage()

    def optional(self, value: bool = True) -> SlotsBuilder:
        """Mark every slot optional (or not)."""
        return dataclasses.replace(self, is_optional=as_bool("slots.optional", "value", value))

    def using(self, chain: SlotStage) -> SlotsBuilder:
        """Splice an unbound chain into every slot."""
        if not isinstance(chain, SlotStage) or chain.name is not None:
            raise TypeError("slots(...).using(): expected an unbound chain()")
        return dataclasses.replace(self, chain=self.chain + chain)

    def expand(self) -> list[SlotStage]:
        """One :class:`SlotStage` per name."""
        return [SlotStage(name=n, optional=self.is_optional) + self.chain for n in self.names]


def slots(names: Sequence[str]) -> SlotsBuilder:
    """One slot per name, sharing a chain given with ``.using(chain)``."""
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise TypeError(f"slots(names={names!r}): names must be a sequence of str (not a str)")
    checked = tuple(as_name("slots", "names", n) for n in names)
    if not checked:
        raise PlanError("slots(names=[]): needs at least one name")
    if len(set(checked)) != len(checked):
        raise PlanError(f"slots(names={list(names)!r}): names must be unique")
    return SlotsBuilder(names=checked)


# -- shape stages ----------------------------------------------------------------


def _prefetch(func: str, value: Any) -> int | None:
    return None if value is None else as_int(func, "prefetch", value, minimum=1)


def batch(size: int, *, drop_last: bool = False, prefetch: int | None = None) -> BatchStage:
    """Group consecutive records into batches of ``size``.

    Args:
        size: records per batch (>= 1).
        drop_last: drop a final short batch.
        prefetch: batches in flight (default 4).
    """
    return BatchStage(
        size=as_int("batch", "size", size, minimum=1),
        drop_last=as_bool("batch", "drop_last", drop_last),
        prefetch=_prefetch("batch", prefetch),
    )


def collate(*, prefetch: int | None = None) -> CollateStage:
    """Treat each upstream item as one batch of records."""
    return CollateStage(prefetch=_prefetch("collate", prefetch))


def group_by(key: str | int | Callable[[Any], Hashable], *, prefetch: int | None = None) -> GroupByStage:
    """Batch contiguous records sharing a key: a field name, a positional index or a callable."""
    if isinstance(key, bool) or not (isinstance(key, (str, int)) or callable(key)):
        raise TypeError(f"group_by(key={key!r}): key must be a str, an int or a callable")
    if isinstance(key, str) and not key:
        raise PlanError("group_by(key=''): key must be a non-empty field name")
    return GroupByStage(key=key, prefetch=_prefetch("group_by", prefetch))


# -- Python hooks -------------------------------------------------------------------


def custom_op(
    fn: Callable[..., Any] | None = None, *, name: str | None = None, version: str = "1",
    dtype: str | None = None, shape: Sequence[int | None] | None = None, layout: str | None = None,
) -> CustomOp | Callable[[Callable[..., Any]], CustomOp]:
    """Wrap ``fn`` as a :class:`CustomOp`; usable as ``@custom_op`` or ``@custom_op(name=..., version=...)``.

    Args:
        fn: the function: ``record -> record`` in ``map``, ``batch -> Any`` after the shape stage,
            or ``array -> array`` inside a slot (``slot(...).apply(op)``).
        name: identity in the signature (default ``fn.__name__``).
        version: bump when results change.
        dtype: for slot use, the declared output dtype (checked per row).
        shape: for slot use, the declared output shape (``None`` for dims known only at run time).
        layout: for slot use, ``"hwc"``/``"chw"`` when the output is an image.
    """
    if fn is None:
        return functools.partial(custom_op, name=name, version=version, dtype=dtype, shape=shape,  # type: ignore[return-value]
                                 layout=layout)
    if not callable(fn):
        raise TypeError(f"custom_op(fn={fn!r}): fn must be callable")
    output = declared_output(dtype, shape, layout)
    return CustomOp(fn, name if name is not None else getattr(fn, "__name__", ""), version, output)


def map(op: Callable[..., Any] | CustomOp | BatchTransform) -> MapStage:  # noqa: A001 - contract name
    """A Python hook stage: ``op(record) -> record`` before the shape stage; after it,
    a :class:`~dataio.BatchTransform` runs natively and a callable receives the batch."""
    if not (isinstance(op, (CustomOp, BatchTransform)) or callable(op)) or isinstance(op, type):
        raise TypeError(f"map(op={op!r}): expected a callable, a custom_op or a BatchTransform")
    return MapStage(op=op)


# -- pipeline -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Pipeline(Symbolic):
    """A validated pipeline: per-record maps, slots, one shape stage, per-batch maps.

    Reusable: bind it to records as often as needed with :meth:`bind`.
    """

    record_maps: tuple[MapStage, ...]
    slots: tuple[SlotStage, ...]
    shape: ShapeStage
    batch_maps: tuple[MapStage, ...]
    plan: Plan

    def bind(self, records: Any) -> BoundPipeline:
        """Attach records (a re-iterable, a ``RecordSource`` or a zero-arg factory)."""
        from dataio.binding import BoundPipeline

        return BoundPipeline(self.plan, records)

    @property
    def signature(self) -> str:
        """Stable digest of everything that determines the produced values."""
        return self.plan.signature

    def explain(self, device: str | None = "auto") -> str:
        """Where each op runs (executor and kernel) for ``device``."""
        return self.plan.explain(device)


def pipeline(*stages: Any) -> Pipeline:
    """Assemble and validate a pipeline (docs/api.md §2.1).

    Order: ``map`` stages (per record) interleaved with slots, exactly one shape stage,
    then ``map`` stages (per batch; native batch transforms before Python callables).

    Raises:
        PlanError: wrong stage order or count, duplicate slots, a slot without decoder,
            an op fed an incompatible input.
        TypeError: a stage that is not a dataio stage.
    """
    record_maps: list[MapStage] = []
    slot_stages: list[SlotStage] = []
    batch_maps: list[MapStage] = []
    shape: ShapeStage | None = None
    for position, stage in enumerate(stages):
        if isinstance(stage, (BatchStage, CollateStage, GroupByStage)):
            if shape is not None:
                raise PlanError(f"pipeline(): more than one shape stage (stage {position}: {stage.kind})")
            shape = stage
        elif isinstance(stage, (SlotStage, SlotsBuilder)):
            if shape is not None:
                raise PlanError(f"pipeline(): slot stage {position} comes after the shape stage")
            expanded = stage.expand() if isinstance(stage, SlotsBuilder) else [stage]
            for s in expanded:
                if s.name is None:
                    raise PlanError(
                        f"pipeline(): stage {position} is an unbound chain(); bind it with "
                        "slot(name).apply(chain) or slots([...]).using(chain)"
                    )
                slot_stages.append(s)
        elif isinstance(stage, MapStage):
            if shape is None:
                if isinstance(stage.op, BatchTransform):
                    raise PlanError(
                        f"pipeline(): map({stage.op!r}) at stage {position} is a batch transform; "
                        "it must come after the shape stage"
                    )
                record_maps.append(stage)
            else:
                if isinstance(stage.op, BatchTransform) and any(
                    not isinstance(m.op, BatchTransform) for m in batch_maps
                ):
                    raise PlanError(
                        f"pipeline(): map({stage.op!r}) at stage {position}: native batch transforms "
                        "must precede every per-batch Python map"
                    )
                batch_maps.append(stage)
        elif isinstance(stage, BatchTransform):
            raise TypeError(f"pipeline(): stage {position} is a bare {stage!r}; wrap it: dataio.map(...)")
        else:
            raise TypeError(
                f"pipeline(): stage {position} is a {type(stage).__name__}; expected slot(), slots(), "
                "batch()/collate()/group_by() or map()"
            )
    if not slot_stages:
        raise PlanError("pipeline(): needs at least one slot")
    if shape is None:
        raise PlanError("pipeline(): needs exactly one shape stage: batch(), collate() or group_by()")
    seen: set[str] = set()
    for s in slot_stages:
        if s.name in seen:
            raise PlanError(f"pipeline(): duplicate slot name {s.name!r}")
        seen.add(s.name)  # type: ignore[arg-type]
        if s.decoder is None:
            raise PlanError(f"pipeline(): {s.label} has no decoder")
    plan = compile_plan(tuple(record_maps), tuple(slot_stages), shape, tuple(batch_maps))
    return Pipeline(tuple(record_maps), tuple(slot_stages), shape, tuple(batch_maps), plan)
