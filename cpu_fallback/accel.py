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
  tolerance against Pillow: mean ≤ 0.05 levels (of 255) over a set, ≤ 0.3 on any one
  image, no pixel beyond 8 levels (int16 weights at large downscale factors; measured
  ≤ 6) — tested in ``tests/test_cpu_kernels.py``.

torch runs its ops single-threaded on dataio's CPU pool threads: the pool is the
parallelism, and torch's OpenMP team would otherwise split each copy inside a resize
with a helper thread that then spins on a core between calls (measured: a whole core
burnt at one worker). Only those threads' OpenMP setting changes — the process-wide
``torch.get_num_threads()`` the training loop sees is untouched.

``DATAIO_CPU_KERNELS`` chooses: ``auto`` (the default: every library that is installed),
``pillow`` (the reference kernels only), or a comma-separated list of the libraries to
use (``simplejpeg``, ``torch``). It is read when an executor is created; a library that
is asked for by name but missing is a :class:`~dataio.BackendUnavailable` error at
``run()``, an unknown name a ``RuntimeWarning`` (once per setting) and ``auto``.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import threading
import warnings
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
        warnings.warn(f"{ENV}={setting!r}: unknown kernel library {', '.join(unknown)} (expected 'auto', "
                      f"'pillow' or a comma-separated subset of {', '.join(LIBRARIES)}); using 'auto'",
                      RuntimeWarning, stacklevel=2)
        return _select("auto")
    return Selection(**{name: require(name, f"{ENV}={setting}") for name in names})


def describe() -> dict[str, object]:
    """What ``python -m dataio`` reports, without importing the libraries.

    Returns:
        ``{"setting": str, "libraries": {name: {"installed", "version", "used"}}}``; ``used``
        says whether the current setting would run that library's kernels.
    """
    from importlib import metadata

    setting = os.environ.get(ENV, "auto").strip().lower() or "auto"
    asked = set(LIBRARIES) if setting == "auto" else set() if setting == "pillow" else {
        name.strip() for name in setting.split(",")}
    libraries = {}
    for name in LIBRARIES:
        installed = _installed(name)
        try:
            version = metadata.version(name) if installed else None
        except metadata.PackageNotFoundError:
            version = None
        libraries[name] = {"installed": installed, "version": version, "used": installed and name in asked}
    return {"setting": setting, "libraries": libraries}


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


POOL_THREAD_PREFIX = "dataio-"
"""Names of dataio's pool threads (``dataio-cpu_N``, ``dataio-io_N``), the only ones whose OpenMP size is set."""

_thread_state = threading.local()


def torch_in_this_thread(torch: ModuleType) -> ModuleType:
    """``torch``; on a dataio pool thread, with that thread's OpenMP team limited to itself (once).

    Other threads (a caller running kernels inline) keep whatever torch setting they have.
    """
    if not getattr(_thread_state, "checked", False):
        if threading.current_thread().name.startswith(POOL_THREAD_PREFIX):
            torch.get_num_threads()  # torch sets each thread's OpenMP size lazily; let it, then override
            _set_openmp_threads_of_this_thread(1)
        _thread_state.checked = True
    return torch


def _set_openmp_threads_of_this_thread(count: int) -> None:
    """``omp_set_num_threads`` of the OpenMP runtime torch loaded (a per-thread setting)."""
    runtime = _openmp_runtime()
    if runtime is not None:
        runtime.omp_set_num_threads(count)


@functools.cache
def _openmp_runtime() -> ctypes.CDLL | None:
    """The OpenMP library mapped into this process (torch's bundled libgomp/libiomp), or ``None``."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/libgomp" in line or "/libiomp" in line}
    except OSError:  # not Linux: torch's own setting stays
        return None
    for path in sorted(paths):
        try:
            return ctypes.CDLL(path)  # already loaded: dlopen returns the same library
        except OSError:
            continue
    return None
