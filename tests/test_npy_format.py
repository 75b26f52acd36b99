"""The ``.npy`` reader against numpy's writer: every version, dtype, layout; corrupt input; threads."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest

from dataio.formats import npy


def saved(array: np.ndarray, version: tuple[int, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array)
    else:
        np.lib.format.write_array(buffer, array, version=version)
    return buffer.getvalue()


@pytest.mark.parametrize("array", [
    np.arange(12, dtype=np.float32).reshape(3, 4),
    np.asfortranarray(np.arange(24, dtype=np.int16).reshape(2, 3, 4)),
    np.arange(6, dtype=">f8").reshape(2, 3),
    np.array(7, dtype=np.uint8),
    np.zeros((0, 5), dtype=np.complex64),
    np.array([True, False, True]),
], ids=["f32", "fortran-i16", "big-endian-f64", "0-d", "empty", "bool"])
@pytest.mark.parametrize("version", [None, (1, 0), (2, 0), (3, 0)])
def test_reads_what_numpy_writes(array: np.ndarray, version: tuple[int, int] | None) -> None:
    payload = saved(array, version)
    loaded, reference = npy.load(payload), np.load(io.BytesIO(payload))
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    assert (loaded.flags.c_contiguous, loaded.flags.f_contiguous) == (reference.flags.c_contiguous,
                                                                      reference.flags.f_contiguous)
    np.testing.assert_array_equal(loaded, array)
    assert loaded.flags.writeable


def test_corrupt_payloads_get_clear_errors() -> None:
    good = saved(np.arange(10, dtype=np.int64))
    with pytest.raises(ValueError, match="magic"):
        npy.load(b"PK\x03\x04 a zip file")
    with pytest.raises(ValueError, match="truncated .npy data: 80 bytes announced"):
        npy.load(good[:-8])
    with pytest.raises(ValueError, match="truncated .npy header"):
        npy.load(good[:40])
    with pytest.raises(ValueError, match="unsupported .npy version 9"):
        npy.load(good[:6] + b"\x09\x00" + good[8:])
    with pytest.raises(ValueError, match="unreadable .npy header"):
        npy.load(saved(np.zeros(2, dtype=[("a", "<i4"), ("b", "<f4")])))


def test_many_threads_at_once() -> None:
    payloads = [saved(np.full((i % 5 + 1, 3), i, dtype=np.float32)) for i in range(64)]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                for i, payload in enumerate(payloads):
                    assert float(npy.load(payload)[0, 0]) == i
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
