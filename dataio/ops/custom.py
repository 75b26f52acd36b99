"""Python functions as pipeline ops: :class:`CustomOp` and its slot form, ``transforms.custom``.

A custom op is identified by ``(name, version)`` only (docs/api.md §2.5), so editing its body
does not invalidate checkpoints; bump ``version`` when results change. Used in a slot
(``slot(...).apply(my_op)``) it receives the row's numpy array and returns one; it may
declare its output (``dtype``, ``shape``, ``layout``) so the plan can check later ops and
preallocate the batch buffer. Exceptions it raises are the user's and end the iteration
unchanged, like those of ``map`` (docs/api.md §4.5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dataio._errors import PlanError
from dataio._validate import as_choice, as_int, as_name
from dataio.ops._base import TensorSpec, Transform, op


class CustomOp:
    """A Python function used as a pipeline op, identified by ``(name, version)``.

    Attributes:
        fn: the function.
        name: its name in the signature and in messages.
        version: bump when the function's results change.
        output: the declared output description for slot use (``None`` when undeclared).
    """

    __slots__ = ("fn", "name", "version", "output", "__wrapped__")

    def __init__(self, fn: Callable[..., Any] | None, name: str, version: str,
                 output: TensorSpec | None = None) -> None:
        self.fn = fn
        self.name = as_name("custom_op", "name", name)
        self.version = as_name("custom_op", "version", version)
        self.output = output
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fn is None:
            raise TypeError(f"custom_op {self.name!r} has no function to call")
        return self.fn(*args, **kwargs)

    def describe(self) -> dict[str, str]:
        """``{"name", "version"}``: the op's identity."""
        return {"name": self.name, "version": self.version}

    def __repr__(self) -> str:
        return f"custom_op(name={self.name!r}, version={self.version!r})"


def declared_output(dtype: str | None, shape: Sequence[int | None] | None, layout: str | None) -> TensorSpec | None:
    """The :class:`TensorSpec` a custom op declares, or ``None`` when it declares nothing."""
    if dtype is None and shape is None and layout is None:
        return None
    if dtype is not None:
        import numpy as np

        try:
            dtype = np.dtype(dtype).name
        except TypeError:
            raise PlanError(f"custom_op(dtype={dtype!r}): not a numpy dtype name") from None
    if layout is not None:
        as_choice("custom_op", "layout", layout, ("hwc", "chw"))
    dims = None if shape is None else tuple(None if d is None else as_int("custom_op", "shape", d, minimum=0)
                                            for d in shape)
    return TensorSpec(dtype, layout, dims)


@op("custom")
class CustomTransform(Transform):
    """A :class:`CustomOp` applied to one row's value (``slot(...).apply(my_op)``).

    Args:
        fn: the custom op; its declared output (if any) is checked per row.
    """

    fn: CustomOp

    def __post_init__(self) -> None:
        if not isinstance(self.fn, CustomOp):
            raise TypeError(f"custom(fn={self.fn!r}): expected a custom_op")

    @property
    def label(self) -> str:
        """How messages name the op: ``custom:<name>``."""
        return f"custom:{self.fn.name}"

    def infer(self, spec: TensorSpec) -> TensorSpec:
        return self.fn.output if self.fn.output is not None else TensorSpec(dtype=None)


__all__: list[str] = []
