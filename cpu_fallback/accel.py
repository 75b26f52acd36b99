"""Optional faster CPU kernels behind the same ops, chosen from what is installed.

Pillow + numpy are the reference kernels and always present. Four optional kernel
libraries, when available, take over the hot spots of image pipelines without changing
any op:

- **JPEG region decoding: libjpeg** — dataio's own extension
  (:mod:`dataio.cpu_fallback._libjpeg`, built at install when a C compiler and
  libjpeg-turbo's headers are present). It decodes only the part of the image the
  following resize/crop reads (:mod:`dataio.cpu_fallback.jpeg_regions`); pixels there are
  identical to Pillow's (tested). It supersedes simplejpeg when both are there.
- **JPEG decoding: simplejpeg**, where libjpeg is not built (libjpeg-turbo, decodes straight into a numpy array with
  the GIL released). Same library and settings as Pillow's decoder (accurate integer
  IDCT, fancy upsampling, the same power-of-two DCT scales for the draft), so the pixels
  are identical (tested); it skips Pillow's RGB→RGBX unpacking and the copy out of
  Pillow's buffer (≈ 20 % of a decode).
- **Bilinear/bicubic resampling: torch** (``interpolate(..., antialias=True)`` on uint8,
  AVX2): the same separable antialiased filter as Pillow's, ≈ 3× faster. Stated
  tolerance against Pillow: mean ≤ 0.05 levels (of 255) over a set, ≤ 0.3 on any one
  image, no pixel beyond 8 levels (int16 weights at large downscale factors; measured
  ≤ 6) — tested in ``tests/test_cpu_kernels.py`` on photo-like images. A view that
  enlarges and is then cropped is computed as resize-then-crop (the ops one by one);
  Pillow's boxed resize departs from that near the box edges (by up to ≈ 20 levels on
  pure noise), so there the two kernels differ more and torch is the one that matches
  the op-by-op result.
- **The fused normalisation: pixels** — dataio's own extension
  (:mod:`dataio.cpu_fallback._pixels`, built at install when a C compiler is present):
  ``HWC uint8 → CHW float32`` as ``x · scale + bias`` in one pass (AVX2 + FMA with
  streaming stores for interleaved RGB and planar input), where numpy takes two. Within 1 ulp of the exact
  value with FMA, 2 without — numpy's two passes are 2 ulp (tested).

torch runs its ops single-threaded on dataio's CPU pool threads: the pool is the
parallelism, and torch's OpenMP team would otherwise split each copy inside a resize
with a helper thread that then spins on a core between calls (measured: a whole core
burnt at one worker). Only those threads' OpenMP setting changes — the process-wide
``torch.get_num_threads()`` the training loop sees is untouched.

``DATAIO_CPU_KERNELS`` chooses: ``auto`` (the default: every library that is available),
``pillow`` (the reference kernels only), or a comma-separated list of the libraries to
use (``libjpeg``, ``simplejpeg``, ``torch``, ``pixels``). Set it before ``run()``: the executor checks
it there (a library asked for by name but missing is a :class:`~dataio.BackendUnavailable`
error, an unknown name a ``RuntimeWarning`` and ``auto``), and the kernels look it up per
image (one dictionary lookup), so changing it mid-epoch changes kernels from the next image on.
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
from dataio._errors import BackendUnavailable

ENV = "DATAIO_CPU_KERNELS"
LIBRARIES = ("libjpeg", "simplejpeg", "torch", "pixels")
"""The optional kernel libraries, in the order ``python -m dataio`` reports them."""

_MODULES = {"libjpeg": "dataio.cpu_fallback._libjpeg", "simplejpeg": "simplejpeg", "torch": "torch",
            "pixels": "dataio.cpu_fallback._pixels"}
"""Kernel library name → the module that provides it."""

BUILD_HINTS = {
    "libjpeg": "dataio's libjpeg extension is compiled when dataio is installed from source with a C compiler and "
               "libjpeg-turbo's headers present (Debian/Ubuntu: apt-get install libjpeg-dev); install them, then "
               "reinstall dataio",
    "pixels": "dataio's pixels extension is compiled when dataio is installed from source with a C compiler "
              "present; install one, then reinstall dataio",
}
"""What builds each of dataio's own (compiled) kernel libraries."""

MISSING = {"libjpeg": "not built (needs a C compiler and libjpeg-turbo's headers when dataio is installed)",
           "pixels": "not built (needs a C compiler when dataio is installed)",
           "simplejpeg": "not installed", "torch": "not installed"}
"""How ``python -m dataio`` words a kernel library that is not available."""


@dataclass(frozen=True, slots=True)
class Selection:
    """The optional kernels in use (``None`` where the reference kernel runs)."""

    libjpeg: ModuleType | None = None
    simplejpeg: ModuleType | None = None
    torch: ModuleType | None = None
    pixels: ModuleType | None = None

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
    names = _asked(setting)
    if names is None:  # auto
        chosen = _used(tuple(name for name in LIBRARIES if is_available(name)))
        return Selection(**{name: importlib.import_module(_MODULES[name]) for name in chosen})
    loaded = {name: _load(name, f"{ENV}={setting}") for name in names}  # each named library must be there
    return Selection(**{name: loaded[name] for name in _used(names)})


def _used(names: tuple[str, ...]) -> tuple[str, ...]:
    """The libraries whose kernels run, given those available: libjpeg supersedes simplejpeg (both decode JPEGs)."""
    return tuple(name for name in names if not (name == "simplejpeg" and "libjpeg" in names))


def _load(name: str, feature: str) -> ModuleType:
    """Import a kernel library asked for by name, or raise :class:`~dataio.BackendUnavailable`."""
    if name not in BUILD_HINTS:
        return require(name, feature)
    try:
        return importlib.import_module(_MODULES[name])
    except ImportError as exc:
        raise BackendUnavailable(f"{feature} asks for {name}, which is not built ({exc}): {BUILD_HINTS[name]}") from exc


def _asked(setting: str) -> tuple[str, ...] | None:
    """The libraries a setting names, or ``None`` for "every installed one" (auto, or an unknown name)."""
    if setting == "auto":
        return None
    if setting == "pillow":
        return ()
    names = tuple(name.strip() for name in setting.split(",") if name.strip())
    unknown = sorted(set(names) - set(LIBRARIES))
    if unknown:
        warnings.warn(f"{ENV}={setting!r}: unknown kernel library {', '.join(unknown)} (expected 'auto', "
                      f"'pillow' or a comma-separated subset of {', '.join(LIBRARIES)}); using 'auto'",
                      RuntimeWarning, stacklevel=3)
        return None
    return names


def describe() -> dict[str, object]:
    """What ``python -m dataio`` reports, without importing simplejpeg or torch.

    Returns:
        ``{"setting": str, "libraries": {name: {"installed", "version", "used"}}}``; ``used``
        says whether the current setting would run that library's kernels.
    """
    from importlib import metadata

    setting = os.environ.get(ENV, "auto").strip().lower() or "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the loader warns when it runs; the report only shows
        asked = _asked(setting)
    available = tuple(name for name in (LIBRARIES if asked is None else asked) if is_available(name))
    used = _used(available)
    libraries = {}
    for name in LIBRARIES:
        installed = is_available(name)
        try:
            version = _version(name, metadata) if installed else None
        except (metadata.PackageNotFoundError, ImportError):
            version = None
        libraries[name] = {"installed": installed, "version": version, "used": name in used}
    return {"setting": setting, "libraries": libraries}


def _version(name: str, metadata: ModuleType) -> str:
    if name == "libjpeg":  # dataio's own extensions: what they were built against / run on
        return "libjpeg-turbo " + importlib.import_module(_MODULES[name]).LIBJPEG_TURBO_VERSION
    if name == "pixels":
        return "kernel: " + importlib.import_module(_MODULES[name]).KERNEL
    return metadata.version(name)


def is_available(name: str) -> bool:
    """Whether kernel library ``name`` (one of :data:`LIBRARIES`) can be imported here (without importing it)."""
    try:
        return importlib.util.find_spec(_MODULES[name]) is not None
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
            _set_openmp_threads_of_this_thread(torch, 1)
        _thread_state.checked = True
    return torch


def _set_openmp_threads_of_this_thread(torch: ModuleType, count: int) -> None:
    """``omp_set_num_threads`` of the OpenMP runtime torch loaded (a per-thread setting)."""
    runtime = _openmp_runtime(os.path.dirname(torch.__file__ or ""))
    if runtime is not None:
        runtime.omp_set_num_threads(count)


@functools.cache
def _openmp_runtime(torch_dir: str) -> ctypes.CDLL | None:
    """torch's OpenMP library (libgomp/libiomp) among those mapped into this process, or ``None``.

    Another package may bring its own copy under another name (e.g. scikit-learn's); the one
    under torch's directory comes first, then one from the system.
    """
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/libgomp" in line or "/libiomp" in line}
    except OSError:  # not Linux: torch's own setting stays
        return None
    for path in sorted(paths, key=lambda p: (not p.startswith(torch_dir), ".libs/" in p, p)):
        try:
            return ctypes.CDLL(path)  # already loaded: dlopen returns the same library
        except OSError:
            continue
    return None
