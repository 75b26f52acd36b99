"""Batch buffers handed out again once nothing outside the pool references them.

A fresh batch buffer costs page faults on first write — for the quick-start pipeline's
38 MB float32 batches, ≈ 7 % of the CPU fallback's time, paid in the worker threads'
hottest loop. The pool keeps the buffers of earlier batches and reuses one only when its
reference count is back to the pool's own: whatever a consumer still holds — the
delivered array, a torch tensor made from it through DLPack or ``from_numpy``, a view
(numpy views reference the array that owns the memory) — keeps the count up, so a
buffer in use is never written. When every kept buffer is busy, a new one is allocated.
This is the test ``numpy.ndarray.resize`` uses to refuse resizing a referenced array.

With ``pinned=True`` (``run(pin_memory=True)``) buffers are page-locked host memory that
torch allocates (``torch.empty(..., pin_memory=True)``), seen through numpy: a host batch
then reaches a CUDA device with an asynchronous copy (``batch.to("cuda", non_blocking=True)``).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np


def _count_when_free() -> int:
    """What :meth:`BufferPool._free_index` reads for a buffer only the pool holds (interpreter-specific)."""
    probe = [np.empty(1)]
    return sys.getrefcount(probe[0])


class BufferPool:
    """Reusable ``numpy`` batch buffers, per (shape, dtype), at most ``keep`` of each."""

    _FREE = _count_when_free()

    def __init__(self, keep: int, *, pinned: bool = False) -> None:
        self.keep = keep
        self.pinned = pinned
        self._buffers: dict[tuple[tuple[int, ...], str], list[np.ndarray]] = {}
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A buffer of ``shape`` and ``dtype`` that nothing else references (contents undefined)."""
        key = (tuple(shape), np.dtype(dtype).str)
        with self._lock:
            kept = self._buffers.setdefault(key, [])
            index = self._free_index(kept)
            if index is not None:
                return kept[index]
            buffer = _pinned(shape, dtype) if self.pinned else np.empty(shape, dtype=dtype)
            if len(kept) < self.keep:
                kept.append(buffer)
            return buffer

    @classmethod
    def _free_index(cls, kept: list[np.ndarray]) -> int | None:
        for index in range(len(kept)):
            if sys.getrefcount(kept[index]) <= cls._FREE:
                return index
        return None

    def clear(self) -> None:
        """Drop every kept buffer (their memory goes once consumers let go of them)."""
        with self._lock:
            self._buffers.clear()


def _pinned(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A page-locked host array (torch's CUDA host allocator), as numpy; the array keeps the tensor alive."""
    import torch

    template = torch.from_numpy(np.empty(0, dtype=dtype))
    return torch.empty(tuple(shape), dtype=template.dtype, pin_memory=True).numpy()
