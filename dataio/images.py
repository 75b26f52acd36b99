"""``read_image``: one image from a path, URI, bytes or file object, decoded as a pipeline decodes it.

It sits above the formats layer because the decoding is the CPU fallback's image kernel
(EXIF orientation, modes, caps), reached through the executor selector.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataio._errors import PlanError
from dataio.executors import decode_image_pixels
from dataio.formats.arrays import check_framework, payload_bytes, source_label, to_framework
from dataio.ops.decoders import ImageDecoder


def read_image(src: Any, *, mode: str = "rgb", layout: str = "hwc", framework: str = "numpy") -> Any:
    """A ``uint8`` image ``[H, W, C]`` (``layout="chw"``: ``[C, H, W]``), EXIF-oriented, as a pipeline decodes it.

    Args:
        src: a local path, a URI, bytes or a binary file object.
        mode: ``"rgb"``, ``"rgba"`` or ``"gray"``.
        layout: ``"hwc"`` or ``"chw"``.
        framework: ``"numpy"`` or ``"torch"``.

    Raises:
        DecodeError: not a decodable image (naming ``src``).
        OSError: ``src`` cannot be read (naming it).
        ValueError: an unknown ``mode``, ``layout`` or ``framework``.
    """
    check_framework(framework)
    if mode not in ("rgb", "rgba", "gray"):
        raise PlanError(f"read_image(mode={mode!r}): 'rgb', 'rgba' or 'gray'")
    if layout not in ("hwc", "chw"):
        raise PlanError(f"read_image(layout={layout!r}): 'hwc' or 'chw'")
    pixels = decode_image_pixels(ImageDecoder(mode=mode), payload_bytes(src, map_local=False), source_label(src))
    pixels = np.ascontiguousarray(pixels.transpose(2, 0, 1)) if layout == "chw" else pixels
    return to_framework(framework, pixels)
