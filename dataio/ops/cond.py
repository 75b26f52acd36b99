"""Per-record field references and predicates (docs/api.md §2.7, §3.4).

:func:`col` names a record field. It is used either as a dynamic op argument (a
``Dim``/``Float``/``tensor_key`` read per record) or as the source of a predicate
(:class:`Cond`). Predicates are data: they compile into the plan signature and are
evaluated by :meth:`Cond.holds` on one record (and, for shape predicates, on the
tensor at that point of a chain). Predicates never raise per record: a missing field
is null.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dataio._validate import as_int, as_name

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
"""Sentinel a field lookup returns for an absent field."""

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
_SYMBOLS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_SCALAR = (bool, int, float, str, type(None))

FieldLookup = Callable[[str], Any]
"""``lookup(field) -> value`` or :data:`MISSING`."""


def _check_value(func: str, value: Any) -> Any:
    if not isinstance(value, _SCALAR):
        raise TypeError(
            f"{func}(value={value!r}): comparison values must be bool, int, float, str or None; "
            f"got {type(value).__name__}"
        )
    return value


@dataclass(frozen=True, slots=True)
class Cond:
    """A predicate over one record (and the current tensor for shape predicates).

    Build with :func:`col`, :func:`shape`, :func:`ndim` and the combinators; combine with
    ``&``, ``|`` and ``~``. Immutable; part of the plan signature.
    """

    kind: str  # "field" | "shape" | "ndim" | "all" | "any" | "not" | "const"
    field: str | None = None
    axis: int | None = None
    compare: str | None = None  # eq.. / "truthy" / "is_null" / "is_not_null" / "is_in"
    value: Any = None
    children: tuple[Cond, ...] = ()

    def describe(self) -> dict[str, Any]:
        """Canonical description for the plan signature."""
        out: dict[str, Any] = {"cond": self.kind}
        for name in ("field", "axis", "compare"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.kind in ("field", "shape", "ndim", "const"):
            out["value"] = list(self.value) if isinstance(self.value, tuple) else self.value
        if self.children:
            out["children"] = [c.describe() for c in self.children]
        return out

    @property
    def uses_shape(self) -> bool:
        """True when the predicate reads the tensor (valid only inside ``when``/``select``)."""
        return self.kind in ("shape", "ndim") or any(c.uses_shape for c in self.children)

    def fields(self) -> tuple[str, ...]:
        """Record fields this predicate reads."""
        own = (self.field,) if self.field is not None else ()
        return own + tuple(f for c in self.children for f in c.fields())

    def holds(self, lookup: FieldLookup, tensor_shape: Sequence[int] | None = None) -> bool:
        """Evaluate on one record. Never raises for data: a missing field is null."""
        kind = self.kind
        if kind == "const":
            return bool(self.value)
        if kind == "not":
            return not self.children[0].holds(lookup, tensor_shape)
        if kind == "all":
            return all(c.holds(lookup, tensor_shape) for c in self.children)
        if kind == "any":
            return any(c.holds(lookup, tensor_shape) for c in self.children)
        if kind == "field":
            assert self.field is not None  # a field predicate names its field
            return _compare(self.compare, lookup(self.field), self.value)
        if tensor_shape is None:
            return False
        if kind == "ndim":
            return _compare(self.compare, len(tensor_shape), self.value)
        rank, axis = len(tensor_shape), self.axis
        assert axis is not None  # a shape predicate names its axis
        if not -rank <= axis < rank:
            return False
        return _compare(self.compare, tensor_shape[axis], self.value)

    # -- comparisons (only on an incomplete predicate: a field or a shape dim) --
    def _with(self, compare: str, value: Any) -> Cond:
        if self.compare is not None or self.kind not in ("field", "shape", "ndim"):
            raise TypeError(f"{self!r} is already a complete predicate; compare a col()/shape() instead")
        if self.kind in ("shape", "ndim") and compare in _COMPARE and (
                isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"shape comparisons take an int; got {value!r}")
        return Cond(self.kind, field=self.field, axis=self.axis, compare=compare, value=value)

    def eq(self, value: Any) -> Cond:
        """``field == value``."""
        return self._with("eq", _check_value("eq", value))

    def ne(self, value: Any) -> Cond:
        """``field != value``."""
        return self._with("ne", _check_value("ne", value))

    def lt(self, value: Any) -> Cond:
        """``field < value``."""
        return self._with("lt", _check_value("lt", value))

    def le(self, value: Any) -> Cond:
        """``field <= value``."""
        return self._with("le", _check_value("le", value))

    def gt(self, value: Any) -> Cond:
        """``field > value``."""
        return self._with("gt", _check_value("gt", value))

    def ge(self, value: Any) -> Cond:
        """``field >= value``."""
        return self._with("ge", _check_value("ge", value))

    def is_null(self) -> Cond:
        """The field is missing or ``None``."""
        return self._with("is_null", None)

    def is_not_null(self) -> Cond:
        """The field is present and not ``None``."""
        return self._with("is_not_null", None)

    def is_in(self, values: Sequence[Any]) -> Cond:
        """The field equals one of ``values``."""
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(f"is_in(values={values!r}): values must be a list of scalars")
        return self._with("is_in", tuple(_check_value("is_in", v) for v in values))

    def not_(self) -> Cond:
        """Logical negation."""
        return Cond("not", children=(self._complete(),))

    def _complete(self) -> Cond:
        if self.compare is None and self.kind == "field":
            return Cond("field", field=self.field, compare="truthy")
        if self.compare is None and self.kind in ("shape", "ndim"):
            raise TypeError(f"{self!r} needs a comparison (e.g. .gt(512)) before it can be combined")
        return self

    def __and__(self, other: Cond) -> Cond:
        return all_([self, other])

    def __or__(self, other: Cond) -> Cond:
        return any_([self, other])

    def __invert__(self) -> Cond:
        return self.not_()

    def __bool__(self) -> bool:
        raise TypeError(
            "a Cond is a predicate description, not a value; use & | ~ instead of and/or/not"
        )


def _compare(compare: str | None, actual: Any, expected: Any) -> bool:
    null = actual is MISSING or actual is None
    if compare in (None, "truthy"):
        return not null and bool(actual)
    if compare == "is_null":
        return null
    if compare == "is_not_null":
        return not null
    if null:
        return False
    if compare == "is_in":
        return any(_compare("eq", actual, v) for v in expected)
    try:
        return bool(_COMPARE[compare](actual, expected))
    except TypeError:  # incomparable types (e.g. str < int) are simply false
        return False


@dataclass(frozen=True, slots=True)
class Param:
    """A per-record field reference, made by :func:`col`.

    As an op argument it is read from each record; as a predicate source its comparison
    methods return :class:`Cond`.
    """

    field: str

    def describe(self) -> dict[str, str]:
        """Canonical description for the plan signature."""
        return {"col": self.field}

    def _cond(self) -> Cond:
        return Cond("field", field=self.field)

    def eq(self, value: Any) -> Cond:
        """``field == value``."""
        return self._cond().eq(value)

    def ne(self, value: Any) -> Cond:
        """``field != value``."""
        return self._cond().ne(value)

    def lt(self, value: Any) -> Cond:
        """``field < value``."""
        return self._cond().lt(value)

    def le(self, value: Any) -> Cond:
        """``field <= value``."""
        return self._cond().le(value)

    def gt(self, value: Any) -> Cond:
        """``field > value``."""
        return self._cond().gt(value)

    def ge(self, value: Any) -> Cond:
        """``field >= value``."""
        return self._cond().ge(value)

    def is_null(self) -> Cond:
        """The field is missing or ``None``."""
        return self._cond().is_null()

    def is_not_null(self) -> Cond:
        """The field is present and not ``None``."""
        return self._cond().is_not_null()

    def is_in(self, values: Sequence[Any]) -> Cond:
        """The field equals one of ``values``."""
        return self._cond().is_in(values)

    def not_(self) -> Cond:
        """The field is null or falsy."""
        return self._cond().not_()

    def __invert__(self) -> Cond:
        return self.not_()

    def __bool__(self) -> bool:
        raise TypeError(f"col({self.field!r}) is a field reference, not a value")


def col(name: str) -> Param:
    """Reference the record field ``name`` (a dynamic op argument or a predicate source).

    Example:
        >>> dataio.transforms.resize(h=dataio.col("h"), w=224)
        >>> dataio.col("mask_id").is_not_null()
    """
    return Param(as_name("col", "name", name))


def shape(axis: int, op: str | None = None, value: int | None = None) -> Cond:
    """A predicate on dim ``axis`` of the tensor at the point where it is evaluated."""
    axis = as_int("shape", "axis", axis)
    base = Cond("shape", axis=axis)
    if op is None:
        if value is not None:
            raise TypeError("shape(value=...) needs op=...")
        return base
    compare = _SYMBOLS.get(op, op)
    if compare not in _COMPARE:
        raise ValueError(f"shape(op={op!r}): op must be one of {sorted(_COMPARE)} or their symbols")
    return base._with(compare, value)


def ndim() -> Cond:
    """A predicate source on the rank of the current tensor; chain a comparison."""
    return Cond("ndim")


def all_(children: Sequence[Cond]) -> Cond:
    """True when every child holds (an empty list holds)."""
    return Cond("all", children=tuple(_as_cond("all", c) for c in children))


def any_(children: Sequence[Cond]) -> Cond:
    """True when any child holds (an empty list does not)."""
    return Cond("any", children=tuple(_as_cond("any", c) for c in children))


def not_(inner: Cond) -> Cond:
    """Logical negation."""
    return _as_cond("not_", inner).not_()


def const(value: bool) -> Cond:
    """A constant predicate."""
    if not isinstance(value, bool):
        raise TypeError(f"const(value={value!r}): value must be a bool")
    return Cond("const", value=value)


def _as_cond(func: str, thing: Any) -> Cond:
    if isinstance(thing, Param):
        return thing._cond()._complete()
    if not isinstance(thing, Cond):
        raise TypeError(f"{func}(): expected a Cond; got {type(thing).__name__}")
    return thing._complete()
