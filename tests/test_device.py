"""Device discovery never crashes, explains every "no", and resolves ``device=`` per docs/api.md §4.2.

Outcomes that depend on the machine are tested against a substituted discovery result,
so these tests pass the same way with and without a GPU.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

import dataio
from dataio import device

NO_DRIVER = device.DriverInfo(False, None, 0, "libcuda.so.1 not found")
ONE_GPU = device.DriverInfo(True, "13.0", 1, None)


def capabilities(driver: device.DriverInfo, ready: bool, reason: str) -> device.Capabilities:
    return device.Capabilities(driver, {}, ready, reason)


@pytest.fixture
def use_capabilities(monkeypatch: pytest.MonkeyPatch) -> Callable[[device.Capabilities], None]:
    """Returns a setter: discovery reports the given capabilities; the once-per-process log is re-armed."""
    monkeypatch.setattr(device, "_FALLBACK_LOGGED", threading.Event())
    monkeypatch.delenv("LOCAL_RANK", raising=False)

    def use(caps: device.Capabilities) -> None:
        monkeypatch.setattr(device, "discover", lambda: caps)

    return use


@pytest.fixture
def no_gpu(use_capabilities: Callable[[device.Capabilities], None]) -> None:
    use_capabilities(capabilities(NO_DRIVER, False, "no CUDA driver (libcuda.so.1 not found); DALI not installed"))


@pytest.fixture
def gpu_ready(use_capabilities: Callable[[device.Capabilities], None]) -> None:
    use_capabilities(capabilities(ONE_GPU, True, "CUDA 13.0 driver, 1 device(s), DALI 1.52"))


class TestDiscovery:
    def test_never_raises_and_explains_every_no(self) -> None:
        caps = device.discover()
        assert caps.driver.available or caps.driver.reason
        assert caps.driver.available == (caps.driver.device_count > 0)
        assert caps.executor_reason
        assert set(caps.packages) == set(device.GPU_STACK)
        for info in caps.packages.values():
            assert info.usable or info.reason, info.name
            assert info.installed or not info.usable, info.name

    def test_no_driver_here_means_no_executor(self) -> None:
        caps = device.discover()
        if caps.driver.available:
            pytest.skip("this machine has a CUDA driver")
        assert "libcuda.so.1" in caps.driver.reason
        assert not caps.gpu_executor_ready and "no CUDA driver" in caps.executor_reason
        assert device.pinning_available() == (False, f"no CUDA driver: {caps.driver.reason}")

    def test_missing_package_names_the_install_line(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(device.GPU_STACK, "cupy", ("no_such_module_dataio_test", {"no-such-dist": 12}))
        info = device.package("cupy")
        assert (info.installed, info.usable, info.version) == (False, False, None)
        assert info.reason is not None and "not installed" in info.reason and "pip install" in info.reason

    def test_gpu_packages_are_found_without_importing_them(self) -> None:
        code = ("import sys; from dataio import device; [device.package(n) for n in device.GPU_STACK]; "
                "print(sorted(m for m in ('nvidia.dali', 'cvcuda', 'nvidia.nvimgcodec', 'kvikio', 'cupy', 'torch')"
                " if m in sys.modules))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "[]"


@pytest.fixture
def fresh_discovery() -> Iterator[None]:
    """Discovery's cache is empty before and after the test."""
    device.discover.cache_clear()
    yield
    device.discover.cache_clear()


class TestExecutorChoice:
    @staticmethod
    def installed(name: str) -> device.PackageInfo:
        return device.PackageInfo(name, "m", True, "1.0", True, None)

    def test_every_missing_piece_is_named(self, monkeypatch: pytest.MonkeyPatch, fresh_discovery: None) -> None:
        monkeypatch.setattr(device, "cuda_driver", lambda: NO_DRIVER)
        monkeypatch.setattr(device, "_executor_gap", lambda: "this build of dataio has no GPU executor")
        caps = device.discover()
        assert not caps.gpu_executor_ready
        assert caps.executor_reason.startswith("no CUDA driver (libcuda.so.1 not found); ")
        assert "no GPU executor" in caps.executor_reason
        assert "DALI not installed" in caps.executor_reason or caps.packages["DALI"].installed

    def test_ready_when_driver_dali_and_executor_are_there(self, monkeypatch: pytest.MonkeyPatch,
                                                           fresh_discovery: None) -> None:
        monkeypatch.setattr(device, "cuda_driver", lambda: ONE_GPU)
        monkeypatch.setattr(device, "package", self.installed)
        monkeypatch.setattr(device, "_executor_gap", lambda: None)
        caps = device.discover()
        assert caps.gpu_executor_ready and caps.executor_reason == "CUDA 13.0 driver, 1 device(s), DALI 1.0"

    def test_only_the_executor_missing(self, monkeypatch: pytest.MonkeyPatch, fresh_discovery: None) -> None:
        monkeypatch.setattr(device, "cuda_driver", lambda: ONE_GPU)
        monkeypatch.setattr(device, "package", self.installed)
        caps = device.discover()
        assert caps.gpu_executor_ready is (device._executor_gap() is None)
        assert caps.gpu_executor_ready or "dataio.gpu" in caps.executor_reason

    def test_package_built_for_a_newer_cuda(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(device, "cuda_driver", lambda: device.DriverInfo(True, "12.4", 1, None))
        monkeypatch.setitem(device.GPU_STACK, "DALI", ("json", {"pytest": 13}))  # present module and dist
        info = device.package("DALI")
        assert info.installed and not info.usable
        assert info.reason == ("built for CUDA 13, but the driver supports CUDA 12.4; install the cu12 build or "
                               "update the driver")

    def test_cpu_only_torch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(device, "cuda_driver", lambda: ONE_GPU)
        monkeypatch.setitem(device.GPU_STACK, "torch", ("json", {"torch": None}))
        monkeypatch.setattr(device, "_distribution", lambda dists: ("2.3.0+cpu", None))
        info = device.package("torch")
        assert info.installed and not info.usable and "CPU-only build" in str(info.reason)


class FakeLibrary:
    """Stands in for a ``ctypes.CDLL``: each C function is a Python callable writing its out-parameters."""

    def __init__(self, **functions: Callable[..., Any]) -> None:
        self.__dict__.update(functions)


def out(pointer: Any, value: int) -> int:
    """Write ``value`` through a ``ctypes.byref`` out-parameter; return CUDA_SUCCESS."""
    pointer._obj.value = value
    return 0


@pytest.fixture
def fake_libraries(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, FakeLibrary]], None]]:
    """Returns a setter: ``ctypes.CDLL(name)`` in discovery loads these fakes (others are missing)."""
    def clear() -> None:
        device.cuda_driver.cache_clear()
        device._probe_gds.cache_clear()

    def use(libraries: dict[str, FakeLibrary]) -> None:
        def load(name: str) -> FakeLibrary:
            if name not in libraries:
                raise OSError(f"{name}: cannot open shared object file")
            return libraries[name]

        monkeypatch.setattr(device.ctypes, "CDLL", load)
        clear()

    yield use
    clear()


class TestProbesExplainFailures:
    def test_missing_driver(self, fake_libraries: Callable[[dict[str, FakeLibrary]], None]) -> None:
        fake_libraries({})
        assert device.cuda_driver() == device.DriverInfo(False, None, 0, "libcuda.so.1 not found")

    def test_cuinit_failure_is_named(self, fake_libraries: Callable[[dict[str, FakeLibrary]], None]) -> None:
        def name(code: int, pointer: Any) -> int:
            pointer._obj.value = b"CUDA_ERROR_NO_DEVICE"
            return 0

        fake_libraries({"libcuda.so.1": FakeLibrary(cuInit=lambda flags: 100, cuGetErrorName=name)})
        assert device.cuda_driver().reason == "cuInit returned code 100 (CUDA_ERROR_NO_DEVICE)"

    def test_zero_devices(self, fake_libraries: Callable[[dict[str, FakeLibrary]], None]) -> None:
        fake_libraries({"libcuda.so.1": FakeLibrary(cuInit=lambda flags: 0, cuDriverGetVersion=lambda p: out(p, 12040),
                                                    cuDeviceGetCount=lambda p: out(p, 0))})
        assert device.cuda_driver() == device.DriverInfo(False, "12.4", 0, "the CUDA driver reports zero devices")

    def test_working_driver(self, fake_libraries: Callable[[dict[str, FakeLibrary]], None]) -> None:
        fake_libraries({"libcuda.so.1": FakeLibrary(cuInit=lambda flags: 0, cuDriverGetVersion=lambda p: out(p, 13000),
                                                    cuDeviceGetCount=lambda p: out(p, 2))})
        assert device.cuda_driver() == device.DriverInfo(True, "13.0", 2, None)
        assert device.pinning_available() == (True, None)

    def test_gds_without_a_cuda_driver(self, fake_libraries: Callable[[dict[str, FakeLibrary]], None]) -> None:
        fake_libraries({"libcufile.so.0": FakeLibrary(cuFileGetVersion=lambda p: SimpleNamespace(err=out(p, 1151)))})
        info = device.gds_info()
        assert info["library_loaded"] and info["library_version"] == "1.15.1"
        assert not info["available"] and info["driver_error"] == "no CUDA driver: libcuda.so.1 not found"

    def test_gds_driver_open_failure_and_success(self,
                                                 fake_libraries: Callable[[dict[str, FakeLibrary]], None]) -> None:
        cuda = FakeLibrary(cuInit=lambda flags: 0, cuDriverGetVersion=lambda p: out(p, 13000),
                           cuDeviceGetCount=lambda p: out(p, 1))
        failing = FakeLibrary(cuFileDriverOpen=lambda: SimpleNamespace(err=5030, cu_err=0))
        fake_libraries({"libcuda.so.1": cuda, "libcufile.so.0": failing})
        info = device.gds_info()
        assert not info["available"] and info["library_version"] is None
        assert info["reason"] == "cuFileDriverOpen failed with cuFile error 5030 (CUDA error 0)"
        working = FakeLibrary(cuFileDriverOpen=lambda: SimpleNamespace(err=0, cu_err=0), cuFileHandleRegister=None,
                              cuFileBufRegister=None, cuFileRead=None)
        fake_libraries({"libcuda.so.1": cuda, "libcufile.so": working})
        info = device.gds_info()
        assert (info["available"], info["driver_open_ok"], info["read_ready"], info["batch_ready"]) == (
            True, True, True, False)
        assert info["driver_error"] is None and device.gds_available()


class TestGds:
    KEYS: ClassVar[set[str]] = {"library_loaded", "library_version", "driver_open_ok", "driver_error", "available",
                                "read_ready", "batch_ready", "reason"}

    def test_info_has_the_contract_keys_and_never_raises(self) -> None:
        info = dataio.gds_info()
        assert self.KEYS <= set(info)
        assert dataio.gds_available() is info["available"]
        assert info["available"] or (info["reason"] and info["driver_error"])
        assert info["available"] or not (info["read_ready"] or info["batch_ready"])

    def test_info_is_a_copy(self) -> None:
        dataio.gds_info()["available"] = "tampered"
        assert dataio.gds_info()["available"] in (True, False)


class TestResolveDevice:
    def test_auto_falls_back_and_logs_once(self, no_gpu: None, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.INFO, logger="dataio"):
            assert device.resolve_device("auto") == ("cpu_fallback", "cpu")
            assert device.resolve_device("auto") == ("cpu_fallback", "cpu")
        records = [r for r in caplog.records if r.name == "dataio"]
        assert len(records) == 1 and records[0].levelno == logging.INFO
        assert "CPU fallback" in records[0].getMessage() and "libcuda.so.1 not found" in records[0].getMessage()

    @pytest.mark.parametrize("value", ["cuda", "cuda:0"])
    def test_cuda_without_the_stack_names_what_is_missing(self, no_gpu: None, value: str) -> None:
        with pytest.raises(dataio.DeviceUnavailable, match=r"GPU executor is unavailable: no CUDA driver "
                                                          r"\(libcuda.so.1 not found\); DALI not installed"):
            device.resolve_device(value)

    @pytest.mark.parametrize("value", [None, "cpu"])
    def test_cpu_needs_no_discovery(self, monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
        def fail() -> None:
            raise AssertionError("discovery ran")

        monkeypatch.setattr(device, "discover", fail)
        assert device.resolve_device(value) == ("cpu_fallback", "cpu")

    def test_auto_picks_the_gpu_on_the_local_rank(self, gpu_ready: None, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.INFO, logger="dataio"):
            assert device.resolve_device("auto") == ("gpu", "cuda:0")
        assert not caplog.records
        monkeypatch.setenv("LOCAL_RANK", "3")  # one visible device per process: rank 3 uses cuda:0
        assert device.resolve_device("auto") == ("gpu", "cuda:0")

    def test_cuda_index_is_checked_against_the_device_count(self, gpu_ready: None) -> None:
        assert device.resolve_device("cuda") == ("gpu", "cuda:0")
        assert device.resolve_device("cuda:0") == ("gpu", "cuda:0")
        with pytest.raises(dataio.DeviceUnavailable, match="no CUDA device 1; 1 visible"):
            device.resolve_device("cuda:1")

    @pytest.mark.parametrize("value", ["tpu", "cuda:x", "cuda:-1", "CUDA", "cuda:²", "gpu", ""])
    def test_unknown_strings_are_value_errors(self, value: str) -> None:
        with pytest.raises(dataio.PlanError, match=r'device must be "auto", "cpu", None, "cuda" or "cuda:N"; got'):
            device.resolve_device(value)
        assert issubclass(dataio.PlanError, ValueError)

    @pytest.mark.parametrize("value", [True, False, 1, 0, b"cuda", ["cuda"]])
    def test_non_strings_are_type_errors(self, value: object) -> None:
        with pytest.raises(TypeError, match="device must be a str or None"):
            device.resolve_device(value)


class TestEnvOverrides:
    def test_lists_set_knobs_and_hides_secrets(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in list(device.CLOUD_VARS) + [n for n in os.environ if n.startswith("DATAIO_")]:
            monkeypatch.delenv(name, raising=False)
        assert device.env_overrides() == []
        monkeypatch.setenv("DATAIO_CPU_WORKERS", "3")
        monkeypatch.setenv("DATAIO_SOMETHING", "x")
        monkeypatch.setenv("AWS_REGION", "eu-west-1")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
        monkeypatch.setenv("HF_TOKEN", "hf_hunter2")
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountKey=hunter2")
        monkeypatch.setenv("AWS_ENDPOINT_URL", "https://user:hunter2@minio.local:9000")
        rows = {row["name"]: row for row in device.env_overrides()}
        assert "hunter2" not in repr(rows)
        assert rows["DATAIO_CPU_WORKERS"] == {"name": "DATAIO_CPU_WORKERS", "default": "available CPUs, min 2",
                                              "description": "size of the shared CPU decode/transform pool",
                                              "current": "3"}
        assert rows["DATAIO_SOMETHING"]["description"] == "unrecognised"
        assert rows["AWS_REGION"]["current"] == "eu-west-1"
        assert rows["AWS_SECRET_ACCESS_KEY"]["current"] == rows["HF_TOKEN"]["current"] == "<set>"
        assert rows["AZURE_STORAGE_CONNECTION_STRING"]["current"] == "<set>"
        assert rows["AWS_ENDPOINT_URL"]["current"] == "https://<credentials>@minio.local:9000"


def test_device_batches_refuse_numpy_output() -> None:
    from dataio.runtime.options import check_output_for_device

    with pytest.raises(ValueError, match=r'output="numpy".*device memory on cuda:1'):
        check_output_for_device("numpy", "cuda:1")
    for output in ("torch", "jax", "dlpack", lambda t: t):
        check_output_for_device(output, "cuda:0")
    check_output_for_device("numpy", "cpu")
