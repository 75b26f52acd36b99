"""Turning collated arrays into what the user asked for (docs/api.md §4.2 ``output``).

Conversions are zero-copy: torch tensors and DLPack capsules share the memory of the
batch buffer the kernels wrote into — a numpy array in host memory, or a cupy array in
device memory when the GPU executor delivers (DLPack carries the device).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dataio._deps import require
from dataio._errors import PlanError

OUTPUTS = ("torch", "numpy", "jax", "dlpack")


class DLPackTensor:
    """A framework-neutral tensor view: ``__dlpack__``, ``__dlpack_device__``, ``shape``, ``dtype``.

    What ``output="dlpack"`` yields and what a callable adapter receives. It keeps the
    underlying array alive and exposes it without a copy.

    Attributes:
        shape: dims as a list of ints.
        dtype: numpy dtype name (e.g. ``"float32"``).
    """

    __slots__ = ("_array", "shape", "dtype")

    def __init__(self, array: Any) -> None:
        self._array = array
        self.shape: list[int] = list(array.shape)
        self.dtype: str = array.dtype.name

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self._array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        return self._array.__dlpack_device__()

    def numpy(self) -> np.ndarray:
        """The host array itself (no copy).

        Raises:
            TypeError: the tensor is in device memory (take it through ``__dlpack__``).
        """
        if not isinstance(self._array, np.ndarray):
            raise TypeError(f"DLPackTensor.numpy(): this tensor is in device memory (DLPack device "
                            f"{self.__dlpack_device__()}); convert it with from_dlpack in your framework")
        return self._array

    def __repr__(self) -> str:
        return f"DLPackTensor(shape={self.shape}, dtype={self.dtype!r})"


Adapter = Callable[[np.ndarray], Any]


def make_adapter(output: Any) -> Adapter:
    """Validate ``run(output=...)`` and return the per-tensor conversion.

    Raises:
        PlanError: an unknown output name.
        BackendUnavailable: the framework is not installed (raised here, at ``run()``).
        TypeError: neither a str nor a callable.
    """
    if callable(output) and not isinstance(output, str):
        return lambda array: output(DLPackTensor(array))
    if not isinstance(output, str):
        raise TypeError(f"run(output={output!r}): output must be one of {OUTPUTS} or a callable")
    if output == "numpy":
        return lambda array: array
    if output == "dlpack":
        return DLPackTensor
    if output == "torch":
        torch = require("torch", 'run(output="torch")')
        return _torch_adapter(torch)
    if output == "jax":
        jax_dlpack = require("jax.dlpack", 'run(output="jax")')
        return lambda array: jax_dlpack.from_dlpack(array)
    raise PlanError(f"run(output={output!r}): output must be one of {', '.join(map(repr, OUTPUTS))} "
                    "or a callable")


def _torch_adapter(torch: Any) -> Adapter:
    def to_torch(array: Any) -> Any:  # a numpy array, or a cupy array in device memory
        if not getattr(array.flags, "writeable", True):
            return torch.from_numpy(np.array(array))  # DLPack refuses read-only arrays; copy is rare
        return torch.from_dlpack(array)

    return to_torch
