"""Capability discovery: is there a usable GPU stack, and if not, exactly what is missing.

Never crashes and never initialises CUDA through a framework: the driver is probed
with ``ctypes`` on ``libcuda.so.1`` (``cuInit``, ``cuDriverGetVersion``,
``cuDeviceGetCount``), packages are found with ``importlib`` metadata without being
imported, and GDS through ``ctypes`` on ``libcufile``. Every "no" carries a reason.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.metadata
import importlib.util
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from dataio._errors import DeviceUnavailable, PlanError

LOGGER = logging.getLogger("dataio")


@dataclass(frozen=True, slots=True)
class DriverInfo:
    """The CUDA driver as seen through ``libcuda.so.1``."""

    available: bool
    version: str | None
    device_count: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class PackageInfo:
    """One package of the GPU stack: installed, version, usable (and why not)."""

    name: str
    module: str
    installed: bool
    version: str | None
    usable: bool
    reason: str | None


# name -> (import module, candidate distributions, needs a CUDA driver to be usable)
GPU_STACK: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "DALI": ("nvidia.dali", ("nvidia-dali-cuda130", "nvidia-dali-cuda120", "nvidia-dali-cuda110"), True),
    "CV-CUDA": ("cvcuda", ("cvcuda-cu13", "cvcuda-cu12", "cvcuda-cu11"), True),
    "nvImageCodec": ("nvidia.nvimgcodec", ("nvidia-nvimgcodec-cu13", "nvidia-nvimgcodec-cu12",
                                            "nvidia-nvimgcodec-cu11"), True),
    "kvikio": ("kvikio", ("kvikio-cu13", "kvikio-cu12", "kvikio-cu11", "kvikio"), True),
    "cupy": ("cupy", ("cupy-cuda13x", "cupy-cuda12x", "cupy-cuda11x", "cupy"), True),
    "torch": ("torch", ("torch",), False),
}
_CUDA_EXTRA = "pip install 'dataio-gpu[cuda12]' (or [cuda13])"


@functools.cache
def cuda_driver() -> DriverInfo:
    """Probe the CUDA driver through ``ctypes`` (cached)."""
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return DriverInfo(False, None, 0, "libcuda.so.1 not found: no NVIDIA driver on this machine")
    try:
        code = lib.cuInit(0)
        if code != 0:
            return DriverInfo(False, None, 0, f"cuInit returned CUDA error {code}")
        version = ctypes.c_int()
        lib.cuDriverGetVersion(ctypes.byref(version))
        count = ctypes.c_int()
        code = lib.cuDeviceGetCount(ctypes.byref(count))
    except (AttributeError, OSError) as exc:
        return DriverInfo(False, None, 0, f"libcuda.so.1 is unusable ({exc})")
    text = f"{version.value // 1000}.{version.value % 1000 // 10}"
    if code != 0 or count.value < 1:
        return DriverInfo(False, text, 0, "the driver reports no CUDA device")
    return DriverInfo(True, text, count.value, None)


def _installed(module: str, distributions: tuple[str, ...]) -> tuple[bool, str | None]:
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return False, None
    for dist in distributions:
        try:
            return True, importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return True, None


def package(name: str) -> PackageInfo:
    """What discovery knows about one package of :data:`GPU_STACK` (not imported)."""
    module, distributions, needs_driver = GPU_STACK[name]
    installed, version = _installed(module, distributions)
    if not installed:
        hint = "pip install 'dataio-gpu[torch]'" if name == "torch" else _CUDA_EXTRA
        return PackageInfo(name, module, False, None, False, f"not installed ({hint})")
    driver = cuda_driver()
    if needs_driver and not driver.available:
        return PackageInfo(name, module, True, version, False, f"no CUDA driver: {driver.reason}")
    return PackageInfo(name, module, True, version, True, None)


_CUFILE_NAMES = ("libcufile.so.0", "libcufile.so")


@functools.cache
def gds_info() -> dict[str, Any]:
    """GPUDirect Storage state from ``libcufile`` (never raises)."""
    info: dict[str, Any] = {"available": False, "library_version": None, "read_ready": False,
                            "batch_ready": False, "reason": None}
    driver = cuda_driver()
    lib = None
    for name in _CUFILE_NAMES:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        info["reason"] = "libcufile not found (install the CUDA toolkit's cuFile / kvikio)"
        return info
    version = ctypes.c_int()
    try:
        if lib.cuFileGetVersion(ctypes.byref(version)) == 0:
            info["library_version"] = f"{version.value // 1000}.{version.value % 1000 // 10}"
    except AttributeError:
        pass
    if not driver.available:
        info["reason"] = f"no CUDA driver: {driver.reason}"
        return info
    info.update(available=True, read_ready=True, batch_ready=hasattr(lib, "cuFileBatchIOSetUp"))
    return info


def gds_available() -> bool:
    """True when cuFile and a CUDA driver are present."""
    return bool(gds_info()["available"])


def pinning_available() -> tuple[bool, str | None]:
    """Whether CUDA host pinning can work here (a driver with a device), and why not."""
    driver = cuda_driver()
    return driver.available, driver.reason


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Everything discovery found, and which executor ``device="auto"`` picks."""

    driver: DriverInfo
    packages: dict[str, PackageInfo] = field(default_factory=dict)
    gpu_executor_ready: bool = False
    executor_reason: str = ""


def _gpu_executor_built() -> tuple[bool, str | None]:
    try:
        import dataio.gpu as gpu
    except Exception as exc:  # noqa: BLE001 - discovery never crashes
        return False, f"dataio.gpu failed to import ({type(exc).__name__}: {exc})"
    if not getattr(gpu, "EXECUTOR_AVAILABLE", False):
        return False, "this build of dataio has no GPU executor yet"
    return True, None


@functools.cache
def discover() -> Capabilities:
    """Probe once per process (cached)."""
    driver = cuda_driver()
    packages = {name: package(name) for name in GPU_STACK}
    if not driver.available:
        return Capabilities(driver, packages, False, f"no CUDA driver ({driver.reason})")
    if not packages["DALI"].installed:
        return Capabilities(driver, packages, False, f"DALI not installed ({_CUDA_EXTRA})")
    built, reason = _gpu_executor_built()
    if not built:
        return Capabilities(driver, packages, False, reason or "")
    return Capabilities(driver, packages, True, f"CUDA {driver.version}, {driver.device_count} device(s), DALI "
                                                 f"{packages['DALI'].version}")


_fallback_logged = False


def _local_rank() -> int:
    try:
        return max(0, int(os.environ.get("LOCAL_RANK", "0")))
    except ValueError:
        return 0


def resolve_device(device: Any) -> tuple[str, str]:
    """``(executor name, device string)`` for ``run(device=...)``.

    Raises:
        TypeError: ``device`` is neither ``None`` nor a str.
        PlanError: an unknown device string.
        DeviceUnavailable: a CUDA device was asked for and the GPU executor cannot run.
    """
    global _fallback_logged
    if device is None or device == "cpu":
        return "cpu_fallback", "cpu"
    if not isinstance(device, str):
        raise TypeError(f"run(device={device!r}): device must be 'auto', 'cpu', None, 'cuda' or 'cuda:N'")
    caps = discover()
    if device == "auto":
        if caps.gpu_executor_ready:
            return "gpu", f"cuda:{_local_rank()}"
        if not _fallback_logged:
            _fallback_logged = True
            LOGGER.info("dataio: device='auto' runs the CPU fallback: %s", caps.executor_reason)
        return "cpu_fallback", "cpu"
    index = _cuda_index(device)
    if not caps.gpu_executor_ready:
        raise DeviceUnavailable(f"run(device={device!r}): the GPU executor is unavailable: {caps.executor_reason}")
    if index >= caps.driver.device_count:
        raise DeviceUnavailable(f"run(device={device!r}): only {caps.driver.device_count} CUDA device(s) present")
    return "gpu", f"cuda:{index}"


def _cuda_index(device: str) -> int:
    if device == "cuda":
        return _local_rank()
    prefix, _, number = device.partition(":")
    if prefix != "cuda" or not number.isdigit():
        raise PlanError(f"run(device={device!r}): device must be 'auto', 'cpu', None, 'cuda' or 'cuda:N'; "
                        f"got {device!r}")
    return int(number)
