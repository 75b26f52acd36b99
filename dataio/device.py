"""Capability discovery: is there a usable GPU stack here, and if not, exactly what is missing.

``run(device="auto")`` picks the GPU executor only when discovery says it can run, and
``python -m dataio`` prints what discovery found, so discovery must be cheap, must
never crash and must explain every "no":

- the CUDA driver is probed with ``ctypes`` on ``libcuda.so.1`` (``cuInit``,
  ``cuDriverGetVersion``, ``cuDeviceGetCount``), never by importing a framework;
- the GPU packages (DALI, CV-CUDA, nvImageCodec, kvikio, cupy, torch) are found with
  ``importlib`` specs and distribution metadata, without being imported;
- GPUDirect Storage is probed with ``ctypes`` on ``libcufile``.

Like ``torch.cuda.init()``, the ``cuInit`` probe means a process that forks *afterwards*
cannot use CUDA in the child; it creates no context and allocates nothing.

Also here: :func:`resolve_device` (the ``run(device=...)`` rule) and
:func:`env_overrides` (the environment variables that change dataio's behaviour).
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataio._errors import DeviceUnavailable, PlanError

LOGGER = logging.getLogger("dataio")

CUDA_EXTRA_HINT = "pip install 'dataio-gpu[cuda12]'"
"""The install line for the GPU stack (``[cuda13]`` for CUDA 13 drivers)."""


# --------------------------------------------------------------------------- CUDA driver


@dataclass(frozen=True, slots=True)
class DriverInfo:
    """The CUDA driver as seen through ``libcuda.so.1``.

    Attributes:
        available: the driver loads, initialises and reports at least one device.
        version: the CUDA version the driver supports, e.g. ``"13.0"``; ``None`` if unknown.
        device_count: visible CUDA devices (honours ``CUDA_VISIBLE_DEVICES``).
        reason: why ``available`` is False, else ``None``.
    """

    available: bool
    version: str | None
    device_count: int
    reason: str | None


def _cuda_error(lib: ctypes.CDLL, code: int) -> str:
    """``"code N (CUDA_ERROR_...)"``, asking the driver for the name when it can."""
    name = ctypes.c_char_p()
    try:
        if lib.cuGetErrorName(code, ctypes.byref(name)) == 0 and name.value:
            return f"code {code} ({name.value.decode()})"
    except (AttributeError, OSError):
        pass
    return f"code {code}"


@functools.cache
def cuda_driver() -> DriverInfo:
    """Probe the CUDA driver through ``ctypes`` (once per process; never raises).

    Returns:
        A :class:`DriverInfo`; when the driver is unusable its ``reason`` says why
        (library not found, ``cuInit`` failed with a named code, zero devices).
    """
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return DriverInfo(False, None, 0, "libcuda.so.1 not found")
    try:
        code = lib.cuInit(0)
        if code != 0:
            return DriverInfo(False, None, 0, f"cuInit returned {_cuda_error(lib, code)}")
        raw_version, count = ctypes.c_int(0), ctypes.c_int(0)
        lib.cuDriverGetVersion(ctypes.byref(raw_version))
        code = lib.cuDeviceGetCount(ctypes.byref(count))
    except (AttributeError, OSError) as exc:
        return DriverInfo(False, None, 0, f"libcuda.so.1 is unusable ({exc})")
    version = f"{raw_version.value // 1000}.{raw_version.value % 1000 // 10}" if raw_version.value else None
    if code != 0:
        return DriverInfo(False, version, 0, f"cuDeviceGetCount returned {_cuda_error(lib, code)}")
    if count.value < 1:
        return DriverInfo(False, version, 0, "the CUDA driver reports zero devices")
    return DriverInfo(True, version, count.value, None)


# --------------------------------------------------------------------------- GPU packages


@dataclass(frozen=True, slots=True)
class PackageInfo:
    """One package of the GPU stack, found without importing it.

    Attributes:
        name: display name, e.g. ``"DALI"``.
        module: import name, e.g. ``"nvidia.dali"``.
        installed: the module can be found.
        version: the installed distribution's version, when known.
        usable: installed and able to use a GPU here.
        reason: why ``usable`` is False, else ``None``.
    """

    name: str
    module: str
    installed: bool
    version: str | None
    usable: bool
    reason: str | None


# display name -> (import module, {distribution: CUDA major it is built for, None = any})
GPU_STACK: dict[str, tuple[str, dict[str, int | None]]] = {
    "DALI": ("nvidia.dali", {"nvidia-dali-cuda130": 13, "nvidia-dali-cuda120": 12}),
    "CV-CUDA": ("cvcuda", {"cvcuda-cu13": 13, "cvcuda-cu12": 12}),
    "nvImageCodec": ("nvidia.nvimgcodec", {"nvidia-nvimgcodec-cu13": 13, "nvidia-nvimgcodec-cu12": 12}),
    "kvikio": ("kvikio", {"kvikio-cu13": 13, "kvikio-cu12": 12, "kvikio": None}),
    "cupy": ("cupy", {"cupy-cuda13x": 13, "cupy-cuda12x": 12, "cupy": None}),
    "torch": ("torch", {"torch": None}),
}
"""The packages :func:`package` knows, in report order."""


def _module_found(module: str) -> bool:
    """``find_spec`` without importing ``module`` (a dotted name imports only its parent)."""
    try:
        return importlib.util.find_spec(module) is not None
    except Exception:  # noqa: BLE001 - a broken parent package means "not found", never a crash
        return False


def _distribution(distributions: dict[str, int | None]) -> tuple[str | None, int | None]:
    """``(version, CUDA major)`` of the first installed distribution, else ``(None, None)``."""
    for dist, cuda_major in distributions.items():
        try:
            return importlib.metadata.version(dist), cuda_major
        except importlib.metadata.PackageNotFoundError:
            continue
    return None, None


def _gpu_gap(name: str, version: str | None, cuda_major: int | None) -> str | None:
    """Why an installed package cannot use a GPU here, else ``None``."""
    driver = cuda_driver()
    if not driver.available:
        cpu_note = "; CPU tensors still work" if name == "torch" else ""
        return f"no CUDA driver: {driver.reason}{cpu_note}"
    if name == "torch" and version is not None and "+cpu" in version:
        return f"CPU-only build of torch ({version}); install a CUDA build for GPU tensors"
    driver_major = int(driver.version.split(".")[0]) if driver.version else None
    if cuda_major is not None and driver_major is not None and driver_major < cuda_major:
        return (f"built for CUDA {cuda_major}, but the driver supports CUDA {driver.version}; "
                f"install the cu{driver_major} build or update the driver")
    return None


def package(name: str) -> PackageInfo:
    """What discovery knows about one package of the GPU stack (the package is not imported).

    Args:
        name: a key of :data:`GPU_STACK` (``"DALI"``, ``"CV-CUDA"``, ``"nvImageCodec"``,
            ``"kvikio"``, ``"cupy"``, ``"torch"``).

    Returns:
        A :class:`PackageInfo`; ``usable`` means "can use a GPU here" (for torch, CPU use
        needs only ``installed``).

    Raises:
        KeyError: ``name`` is not a known package.
    """
    module, distributions = GPU_STACK[name]
    if not _module_found(module):
        hint = "pip install 'dataio-gpu[torch]'" if name == "torch" else CUDA_EXTRA_HINT
        return PackageInfo(name, module, False, None, False, f"not installed ({hint})")
    version, cuda_major = _distribution(distributions)
    gap = _gpu_gap(name, version, cuda_major)
    return PackageInfo(name, module, True, version, gap is None, gap)


# --------------------------------------------------------------------------- GPUDirect Storage


class _CuFileError(ctypes.Structure):
    """``CUfileError_t``: the cuFile status and the CUDA driver status behind it."""

    _fields_ = [("err", ctypes.c_int), ("cu_err", ctypes.c_int)]


def _cufile_candidates() -> list[str]:
    """Library names for the loader's search path, then the copies inside NVIDIA's wheels.

    The CUDA 12 wheel (``nvidia-cufile-cu12``) installs into ``nvidia/cufile/lib``, the CUDA 13
    one into ``nvidia/cu13/lib``: ``nvidia/*/lib`` is searched on every import path (whether
    ``nvidia`` is a namespace or, as some wheels make it, a regular package).
    """
    names = ["libcufile.so.0", "libcufile.so"]
    for entry in dict.fromkeys(sys.path):
        try:
            names += [str(p) for p in sorted(Path(entry or ".", "nvidia").glob("*/lib/libcufile.so*"))]
        except OSError:  # an unreadable path entry: just fewer candidates
            continue
    return names


def _load_cufile() -> ctypes.CDLL | None:
    for name in _cufile_candidates():
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def _cufile_version(lib: ctypes.CDLL) -> str | None:
    """``"major.minor.patch"`` from ``cuFileGetVersion`` (packed as ``major*1000 + minor*10 + patch``)."""
    getter = getattr(lib, "cuFileGetVersion", None)  # older GDS releases lack it
    if getter is None:
        return None
    getter.restype = _CuFileError
    raw = ctypes.c_int(0)
    if getter(ctypes.byref(raw)).err != 0 or raw.value <= 0:
        return None
    return f"{raw.value // 1000}.{raw.value % 1000 // 10}.{raw.value % 10}"


def _open_cufile_driver(lib: ctypes.CDLL) -> str | None:
    """Open the cuFile driver for this process (as kvikio does); the error, else ``None``."""
    opener = lib.cuFileDriverOpen
    opener.restype = _CuFileError
    status = opener()
    if status.err != 0:
        return f"cuFileDriverOpen failed with cuFile error {status.err} (CUDA error {status.cu_err})"
    return None


_NO_CUFILE = "libcufile.so.0 not found (GDS needs cuFile, from the CUDA toolkit or the nvidia-cufile wheel)"


@functools.cache
def _probe_gds() -> dict[str, Any]:
    info: dict[str, Any] = {"library_loaded": False, "library_version": None, "driver_open_ok": False,
                            "driver_error": None, "available": False, "read_ready": False,
                            "batch_ready": False, "reason": None}
    lib = _load_cufile()
    if lib is None:
        info["driver_error"] = info["reason"] = _NO_CUFILE
        return info
    info["library_loaded"] = True
    driver = cuda_driver()
    try:
        info["library_version"] = _cufile_version(lib)
        error = f"no CUDA driver: {driver.reason}" if not driver.available else _open_cufile_driver(lib)
    except (AttributeError, OSError) as exc:
        error = f"libcufile is unusable ({exc})"
    if error is not None:
        info["driver_error"] = info["reason"] = error
        return info
    info.update(driver_open_ok=True, available=True,
                read_ready=all(hasattr(lib, f) for f in ("cuFileHandleRegister", "cuFileBufRegister", "cuFileRead")),
                batch_ready=hasattr(lib, "cuFileBatchIOSetUp"))
    return info


_GDS_LOCK = threading.Lock()


def gds_info() -> dict[str, Any]:
    """GPUDirect Storage state (docs/api.md §9), probed once per process; never raises.

    Returns:
        A new dict with ``library_loaded``, ``library_version`` (``"1.15.1"`` or ``None``),
        ``driver_open_ok``, ``driver_error`` (why not, else ``None``), ``available``,
        ``read_ready``, ``batch_ready`` and ``reason`` (same as ``driver_error``).
    """
    with _GDS_LOCK:  # cuFileDriverOpen must run once, even when threads ask together
        return dict(_probe_gds())


def gds_available() -> bool:
    """Whether cuFile loads and its driver opened (see :func:`gds_info`); never raises."""
    return bool(gds_info()["available"])


def pinning_available() -> tuple[bool, str | None]:
    """Whether CUDA pinned host memory can be allocated here (nothing is allocated to find out).

    Returns:
        ``(True, None)`` when the CUDA driver is usable, else ``(False, reason)``.
    """
    driver = cuda_driver()
    return driver.available, None if driver.available else f"no CUDA driver: {driver.reason}"


def pinned_batches_available() -> tuple[bool, str | None]:
    """Whether ``run(pin_memory=True)`` can page-lock host batches: :func:`pinning_available` and a CUDA
    build of torch, which allocates them. torch is imported only when the driver is usable.

    Returns:
        ``(True, None)``, else ``(False, reason)``.
    """
    available, reason = pinning_available()
    if not available:
        return False, reason
    if not _module_found("torch"):
        return False, "torch is not installed (pinned batches are allocated by torch: pip install 'dataio-gpu[torch]')"
    import torch

    if torch.version.cuda is None:
        return False, f"torch {torch.__version__} is a CPU-only build"
    return True, None


# --------------------------------------------------------------------------- the executor choice


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Everything discovery found, and whether the GPU executor can run.

    Attributes:
        driver: the CUDA driver.
        packages: :func:`package` for every name in :data:`GPU_STACK`.
        gpu_executor_ready: ``device="auto"`` picks the GPU executor.
        executor_reason: what the GPU executor runs on, or everything that is missing.
    """

    driver: DriverInfo
    packages: dict[str, PackageInfo]
    gpu_executor_ready: bool
    executor_reason: str


def _executor_gap() -> str | None:
    """Why this build's ``dataio.gpu`` provides no executor, else ``None`` (``dataio.gpu`` is light)."""
    if not _module_found("dataio.gpu"):
        return "dataio.gpu is not installed"
    try:
        gpu = importlib.import_module("dataio.gpu")
    except Exception as exc:  # noqa: BLE001 - discovery never crashes
        return f"dataio.gpu failed to import ({type(exc).__name__}: {exc})"
    if getattr(gpu, "EXECUTOR_AVAILABLE", False) is not True:
        return "this build of dataio has no GPU executor (dataio.gpu.EXECUTOR_AVAILABLE is False)"
    return None


def _missing(driver: DriverInfo, packages: dict[str, PackageInfo]) -> list[str]:
    """What keeps the GPU executor from running: the driver, then DALI, nvImageCodec (DALI's image
    decoder is built on it) and cupy (batches are delivered in device memory as cupy arrays)."""
    gaps = [] if driver.available else [f"no CUDA driver ({driver.reason})"]
    for name in ("DALI", "nvImageCodec", "cupy"):
        info = packages[name]
        if not info.installed:
            gaps.append(f"{name} not installed ({CUDA_EXTRA_HINT})")
        elif driver.available and not info.usable:
            gaps.append(f"{name} unusable ({info.reason})")
    executor_gap = _executor_gap()
    return gaps + ([executor_gap] if executor_gap else [])


@functools.cache
def discover() -> Capabilities:
    """Probe the driver and the GPU packages once per process; never raises.

    GDS is left out on purpose: probing it opens the cuFile driver, which choosing an
    executor (every ``run(device="auto")``) must not do; :func:`gds_info` probes it on demand.

    Returns:
        :class:`Capabilities`. The GPU executor is ready iff the driver reports at least
        one device, DALI and cupy (device-memory batches) are installed and usable, and
        ``dataio.gpu`` provides an executor;
        otherwise ``executor_reason`` names every missing piece, e.g.
        ``"no CUDA driver (libcuda.so.1 not found); DALI not installed (...)"``.
    """
    driver = cuda_driver()
    packages = {name: package(name) for name in GPU_STACK}
    gaps = _missing(driver, packages)
    if gaps:
        return Capabilities(driver, packages, False, "; ".join(gaps))
    ready = f"CUDA {driver.version} driver, {driver.device_count} device(s), DALI {packages['DALI'].version}"
    return Capabilities(driver, packages, True, ready)


_FALLBACK_LOGGED = threading.Event()
_CUDA_DEVICE = re.compile(r"cuda(?::([0-9]+))?")
_DEVICE_RULE = 'device must be "auto", "cpu", None, "cuda" or "cuda:N"'


def _local_rank() -> int:
    """``LOCAL_RANK`` as set by torchrun and friends; 0 when unset or not a non-negative int."""
    value = os.environ.get("LOCAL_RANK", "0")
    return int(value) if value.isascii() and value.isdigit() else 0


def _auto(caps: Capabilities) -> tuple[str, str]:
    if caps.gpu_executor_ready:  # a rank past the visible devices means one device per process
        return "gpu", f"cuda:{_local_rank() % caps.driver.device_count}"
    if not _FALLBACK_LOGGED.is_set():
        _FALLBACK_LOGGED.set()
        LOGGER.info("device='auto' runs the CPU fallback executor: %s", caps.executor_reason)
    return "cpu_fallback", "cpu"


def resolve_device(device: Any) -> tuple[str, str]:
    """Which executor ``run(device=...)`` uses, and on which device.

    ``"auto"`` picks the GPU executor on ``cuda:<LOCAL_RANK>`` when :func:`discover` says
    it can run, else the CPU fallback (logged once per process at INFO on the ``dataio``
    logger, with the reason). ``"cuda"``/``"cuda:N"`` never fall back.

    Args:
        device: ``"auto"``, ``"cpu"``, ``None``, ``"cuda"`` or ``"cuda:N"``.

    Returns:
        ``("gpu", "cuda:N")`` or ``("cpu_fallback", "cpu")``.

    Raises:
        TypeError: ``device`` is neither a str nor ``None``.
        PlanError: an unknown device string (a ``ValueError``).
        DeviceUnavailable: a CUDA device was asked for and the GPU executor cannot run
            there; the message names what is missing.
    """
    if device is None:
        return "cpu_fallback", "cpu"
    if not isinstance(device, str):
        raise TypeError(f"run(device={device!r}): device must be a str or None; got {type(device).__name__}")
    if device == "cpu":
        return "cpu_fallback", "cpu"
    if device == "auto":
        return _auto(discover())
    match = _CUDA_DEVICE.fullmatch(device)
    if match is None:
        raise PlanError(f"run(device={device!r}): {_DEVICE_RULE}; got {device!r}")
    caps = discover()
    if not caps.gpu_executor_ready:
        raise DeviceUnavailable(f"run(device={device!r}): the GPU executor is unavailable: {caps.executor_reason}")
    count = caps.driver.device_count
    index = int(match.group(1)) if match.group(1) is not None else _local_rank() % count
    if index >= count:
        raise DeviceUnavailable(f"run(device={device!r}): there is no CUDA device {index}; "
                                f"{count} visible (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})")
    return "gpu", f"cuda:{index}"


# --------------------------------------------------------------------------- environment


# name -> (default, description)
DATAIO_KNOBS: dict[str, tuple[str, str]] = {
    "DATAIO_CPU_WORKERS": ("available CPUs, min 2", "size of the shared CPU decode/transform pool"),
    "DATAIO_IO_WORKERS": ("available CPUs, min 4", "size of the shared async IO runtime"),
    "DATAIO_CPU_KERNELS": ("auto", "CPU-fallback kernels: auto, pillow, or a list of libjpeg,simplejpeg,torch"),
    "DATAIO_OBJECT_SHARDS": ("8", "independent HTTP client shards per object-store backend"),
    "DATAIO_S3_HTTP_VERSION": ("h1", "object-store transport: h1 or auto (HTTP/1.1); h2 is refused"),
    "DATAIO_IO_RETRIES": ("5", "retries of a transient http(s)/hf read failure (object stores: their clients')"),
    "DATAIO_IO_RETRY_BUDGET_S": ("30", "seconds a read may spend retrying before it gives up"),
    "DATAIO_DALI_THREADS": ("half the available CPUs, 2 to 16", "CPU threads of each DALI pipeline (GPU executor)"),
}
CLOUD_VARS: dict[str, str] = {
    "AWS_ENDPOINT_URL": "S3 endpoint",
    "AWS_REGION": "S3 region",
    "AWS_ACCESS_KEY_ID": "S3 access key id",
    "AWS_SECRET_ACCESS_KEY": "S3 secret access key",
    "AWS_SESSION_TOKEN": "S3 session token",
    "GOOGLE_APPLICATION_CREDENTIALS": "GCS service-account credentials file",
    "AZURE_STORAGE_CONNECTION_STRING": "Azure connection string",
    "AZURE_STORAGE_ACCOUNT_NAME": "Azure storage account",
    "AZURE_STORAGE_ACCOUNT_KEY": "Azure storage account key",
    "HF_TOKEN": "Hugging Face token",
    "HF_ENDPOINT": "Hugging Face endpoint",
    "SSL_CERT_FILE": "TLS CA bundle",
    "REQUESTS_CA_BUNDLE": "TLS CA bundle",
}
"""Recognised cloud and TLS variables, in report order."""
_SECRET_MARKERS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "CONNECTION_STRING", "CREDENTIAL")
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def _shown(name: str, value: str) -> str:
    """The value as the report may show it: secrets as ``<set>``, URL passwords removed."""
    if name not in DATAIO_KNOBS and name != "GOOGLE_APPLICATION_CREDENTIALS" and any(
            marker in name for marker in _SECRET_MARKERS):
        return "<set>"
    return _URL_USERINFO.sub("<credentials>@", value)


def env_overrides() -> list[dict[str, str]]:
    """The set environment variables that change dataio's behaviour (docs/api.md §4.10, §6.4).

    Every set ``DATAIO_*`` variable (unknown ones described as ``"unrecognised"``), then the
    recognised cloud/TLS variables. Keys, tokens and connection strings are shown as
    ``"<set>"``, never their value.

    Returns:
        ``[{"name", "default", "description", "current"}, ...]``; empty when none is set.
    """
    names = sorted(n for n in os.environ if n.startswith("DATAIO_")) + [n for n in CLOUD_VARS if n in os.environ]
    rows = []
    for name in names:
        default, description = DATAIO_KNOBS.get(name, ("", CLOUD_VARS.get(name, "unrecognised")))
        rows.append({"name": name, "default": default, "description": description,
                     "current": _shown(name, os.environ[name])})
    return rows
