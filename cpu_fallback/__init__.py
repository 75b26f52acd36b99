"""The CPU fallback executor (installed as ``dataio.cpu_fallback``): Pillow + numpy + a thread pool.

Runs the same plan as the GPU executor wherever no usable GPU stack is found, with
results equal within each op's stated tolerance. Entry points used by
the selector (:mod:`dataio.executors`): :func:`create_executor`,
:func:`decode_image_pixels`, :func:`kernel_report`, and the kernel table
``dataio.cpu_fallback.kernels.KERNELS``.
"""

from typing import Any

import numpy as np

from dataio._errors import DecodeError
from dataio.ops.decoders import ImageDecoder
from dataio.runtime.rows import RowFailure

from dataio.cpu_fallback import accel
from dataio.cpu_fallback.executor import CpuExecutor, create_executor
from dataio.cpu_fallback.image_decode import decode_image

__all__ = ["CpuExecutor", "create_executor", "decode_image_pixels", "kernel_report"]


def decode_image_pixels(decoder: ImageDecoder, data: Any, label: str) -> np.ndarray:
    """One image through the image kernel, as ``HWC uint8`` (``dataio.read_image``).

    Raises:
        DecodeError: not a decodable image (naming ``label``).
    """
    try:
        return decode_image(decoder, data, label).materialise()
    except RowFailure as failure:
        raise DecodeError(failure.message, label) from None


def kernel_report() -> dict[str, Any]:
    """The optional kernel libraries: ``{"setting", "libraries": {name: {"installed", "version", "used",
    "missing"}}}``, where ``missing`` says why an unavailable library is not there."""
    report = accel.describe()
    for name, library in report["libraries"].items():  # type: ignore[union-attr]
        library["missing"] = None if library["installed"] else accel.MISSING.get(name, "not installed")
    return report
