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


@pytest.mark.parametrize("file_size, start, end, expected", [
    (10_000, 0, 100, (0, 4096)),
    (10_000, 5000, 9000, (4096, 5904)),  # the aligned read would run past the end: cut at it
    (8192, 4100, 8192, (4096, 4096)),
    (12_288, 8192, 12_288, (8192, 4096)),
])
def test_device_reads_are_aligned_and_stop_at_the_end_of_the_file(file_size: int, start: int, end: int,
                                                                  expected: tuple[int, int]) -> None:
    from dataio.gds import ALIGN, aligned_span

    first, length = aligned_span(start, end, file_size)
    assert (first, length) == expected
    assert first % ALIGN == 0 and first <= start and first + length >= end and first + length <= file_size


def test_cufile_is_found_in_the_cuda_12_and_cuda_13_wheels(tmp_path: pytest.TempPathFactory,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """nvidia-cufile-cu12 installs into nvidia/cufile/lib, the CUDA 13 wheel into nvidia/cu13/lib."""
    from dataio.device import _cufile_candidates

    for wheel in ("cufile", "cu13"):
        lib = tmp_path / "nvidia" / wheel / "lib"  # type: ignore[operator]
        lib.mkdir(parents=True)
        (lib / "libcufile.so.0").write_bytes(b"")
    monkeypatch.syspath_prepend(str(tmp_path))
    candidates = _cufile_candidates()
    assert str(tmp_path / "nvidia" / "cufile" / "lib" / "libcufile.so.0") in candidates  # type: ignore[operator]
    assert str(tmp_path / "nvidia" / "cu13" / "lib" / "libcufile.so.0") in candidates  # type: ignore[operator]
    assert candidates[:2] == ["libcufile.so.0", "libcufile.so"]  # the loader's own search path first
