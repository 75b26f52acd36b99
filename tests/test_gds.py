"""GDS verbs on a machine without GPUDirect Storage: DeviceUnavailable with the reason, before any argument check."""

from __future__ import annotations

import sys

import pytest

import dataio
from dataio.device import gds_info

pytestmark = pytest.mark.skipif(gds_info()["available"], reason="GDS is present: tests/gpu/test_gds_on_device.py")


@pytest.mark.parametrize("call", [
    lambda: dataio.gds_open("/nonexistent"),
    lambda: dataio.gds_register_buffer(0, 0),
    lambda: dataio.gds_read_into_tensor("/nonexistent", object()),
], ids=["gds_open", "gds_register_buffer", "gds_read_into_tensor"])
def test_every_verb_says_why_gds_is_unavailable(call: object) -> None:
    with pytest.raises(dataio.DeviceUnavailable, match="GPUDirect Storage is unavailable") as raised:
        call()  # type: ignore[operator]
    assert gds_info()["driver_error"] in str(raised.value)
    assert isinstance(raised.value, RuntimeError)


def test_probing_imports_no_gpu_library() -> None:
    assert dataio.gds_available() is False
    assert "kvikio" not in sys.modules and "cupy" not in sys.modules
