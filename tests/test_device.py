"""Device discovery never crashes, explains every "no", and resolves ``device=`` per the contract."""

from __future__ import annotations

import logging

import pytest

import dataio
from dataio import device


def test_discovery_never_raises_and_explains() -> None:
    caps = device.discover()
    assert caps.driver.available or caps.driver.reason
    assert caps.executor_reason
    for info in caps.packages.values():
        assert info.usable or info.reason


def test_gds_info_has_the_contract_keys() -> None:
    info = dataio.gds_info()
    assert {"available", "library_version", "read_ready", "batch_ready"} <= set(info)
    assert dataio.gds_available() == info["available"]
    assert info["available"] or info["reason"]


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    caps = device.Capabilities(device.DriverInfo(False, None, 0, "libcuda.so.1 not found"), {}, False,
                               "no CUDA driver (libcuda.so.1 not found)")
    monkeypatch.setattr(device, "discover", lambda: caps)
    monkeypatch.setattr(device, "_fallback_logged", False)


def test_auto_falls_back_and_logs_once(no_gpu: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="dataio"):
        assert device.resolve_device("auto") == ("cpu_fallback", "cpu")
        assert device.resolve_device("auto") == ("cpu_fallback", "cpu")
    messages = [r.getMessage() for r in caplog.records if r.name == "dataio"]
    assert len(messages) == 1 and "CPU fallback" in messages[0] and "libcuda" in messages[0]


@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_without_stack_raises_naming_the_gap(no_gpu: None, name: str) -> None:
    with pytest.raises(dataio.DeviceUnavailable, match="libcuda.so.1 not found"):
        device.resolve_device(name)


def test_cpu_and_none(no_gpu: None) -> None:
    assert device.resolve_device("cpu") == device.resolve_device(None) == ("cpu_fallback", "cpu")


@pytest.mark.parametrize(("value", "error"), [("tpu", ValueError), ("cuda:x", ValueError), (True, TypeError),
                                              (0, TypeError)])
def test_invalid_device_values(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        device.resolve_device(value)


def test_gpu_stack_is_found_without_importing_it() -> None:
    import sys

    for name in ("DALI", "CV-CUDA", "cupy"):
        device.package(name)
    assert "nvidia.dali" not in sys.modules and "cvcuda" not in sys.modules and "cupy" not in sys.modules
