"""Optional faster CPU kernels behind the same ops, chosen from what is installed.

Pillow + numpy are the reference kernels and always present. Two libraries, when
installed, take over the two hot spots of image pipelines without changing any op:

- **JPEG decoding: simplejpeg** (libjpeg-turbo, decodes straight into a numpy array with
  the GIL released). Same library and settings as Pillow's decoder (accurate integer
  IDCT, fancy upsampling, the same power-of-two DCT scales for the draft), so the pixels
  are identical (tested); it skips Pillow's RGB→RGBX unpacking and the copy out of
  Pillow's buffer (≈ 20 % of a decode).
- **Bilinear/bicubic resampling: torch** (``interpolate(..., antialias=True)`` on uint8,
  AVX2): the same separable antialiased filter as Pillow's, ≈ 3× faster. Stated
  tolerance against Pillow: at most 1 level (of 255) per pixel, mean ≤ 0.05 (tested).

``DATAIO_CPU_KERNELS`` chooses: ``auto`` (the default: every library that is installed),
``pillow`` (the reference kernels only), or a comma-separated list of the libraries to
use (``simplejpeg``, ``torch``). It is read when an executor is created; a library that
is asked for by name but missing is a :class:`~dataio.BackendUnavailable` error.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from types import ModuleType

from dataio._deps import require

ENV = "DATAIO_CPU_KERNELS"
LIBRARIES = ("simplejpeg", "torch")
"""The optional kernel libraries, in the order ``python -m dataio`` reports them."""


@dataclass(frozen=True, slots=True)
class Selection:
    """The optional kernels in use (``None`` where the reference kernel runs)."""

    simplejpeg: ModuleType | None = None
    torch: ModuleType | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The libraries in use, e.g. ``("simplejpeg", "torch")``."""
        return tuple(name for name in LIBRARIES if getattr(self, name) is not None)


_selections: dict[str, Selection] = {}
_lock = threading.Lock()


def selection() -> Selection:
    """The kernels ``DATAIO_CPU_KERNELS`` asks for (imported once per setting, then cached)."""
    setting = os.environ.get(ENV, "auto").strip().lower() or "auto"
    chosen = _selections.get(setting)
    if chosen is None:
        with _lock:
            chosen = _selections.get(setting)
            if chosen is None:
                chosen = _selections[setting] = _select(setting)
    return chosen


def _select(setting: str) -> Selection:
    if setting == "pillow":
        return Selection()
    if setting == "auto":
        return Selection(**{name: importlib.import_module(name) for name in LIBRARIES if _installed(name)})
    names = [name.strip() for name in setting.split(",") if name.strip()]
    unknown = sorted(set(names) - set(LIBRARIES))
    if unknown:
        raise ValueError(f"{ENV}={setting!r}: unknown kernel library {', '.join(unknown)} "
                         f"(expected 'auto', 'pillow' or a comma-separated subset of {', '.join(LIBRARIES)})")
    return Selection(**{name: require(name, f"{ENV}={setting}") for name in names})


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
