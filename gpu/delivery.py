"""Where the GPU executor's batches live: device memory (cupy) on a GPU, host memory (numpy) in CPU mode.

On a GPU the graph's outputs — synchronised with the host by ``share_outputs()``, so any
stream may read them — are copied device-to-device from DALI's buffers (which DALI
reuses for later iterations) into one column array per slot ``[rows, ...]``; rows the CPU
path produced (non-graph formats, CPU reruns after a failed graph batch) are copied into
their row of that column; every other tensor column of the batch is moved to the device
once, at delivery. The batch reaches torch/jax through DLPack without a host round trip.

In DALI's CPU mode (CI) the outputs are scattered straight into the batch's host
buffers. ``separate=True`` with numpy runs the device layout on the host — a column of its
own, CPU rows copied in — which is how CI exercises that code path without a GPU.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from dataio.runtime.batch import BatchColumns


class Delivery:
    """The array module and memory of the executor's columns.

    Attributes:
        xp: ``numpy`` or ``cupy``.
        separate: graph columns are arrays of their own (device layout), not the assembly's host buffers.
        device_id: the CUDA device, or ``None`` for host memory.
    """

    def __init__(self, xp: Any, *, separate: bool, device_id: int | None = None) -> None:
        self.xp = xp
        self.separate = separate
        self.device_id = device_id

    @classmethod
    def host(cls, *, separate: bool = False) -> Delivery:
        """Host memory (DALI CPU mode)."""
        return cls(np, separate=separate)

    @classmethod
    def device(cls, device_id: int) -> Delivery:
        """Device memory on ``cuda:device_id`` through cupy (imported here, never by ``import dataio``)."""
        import cupy

        return cls(cupy, separate=True, device_id=device_id)

    @property
    def on_device(self) -> bool:
        return self.device_id is not None

    def scatter(self, column: Any, positions: list[int], tensor_list: Any) -> None:
        """Copy a DALI output whose samples share one shape into ``column`` rows ``positions``.

        Reads DALI's buffer in place when it holds the batch contiguously, else sample by
        sample; waits for the copy, since DALI reuses its buffers once they are released.
        """
        with self._on_device():
            xp = self.xp
            if tensor_list.is_dense_tensor():
                source = xp.asarray(tensor_list.as_tensor())
            else:
                source = xp.stack([xp.asarray(tensor_list[i]) for i in range(len(tensor_list))])
            first = positions[0]
            if positions == list(range(first, first + len(positions))):
                column[first: first + len(positions)] = source
            else:
                column[xp.asarray(positions)] = source
            self._synchronize()

    def samples(self, tensor_list: Any) -> list[Any]:
        """Per-sample copies of a DALI output (samples of different shapes)."""
        with self._on_device():
            copies = [self.xp.array(tensor_list[i]) for i in range(len(tensor_list))]
            self._synchronize()
            return copies

    def host_samples(self, tensor_list: Any) -> list[np.ndarray]:
        """Per-sample host copies of a DALI output (one device-to-host copy of the batch on a GPU)."""
        on_host = tensor_list.as_cpu() if self.on_device else tensor_list
        return [np.array(on_host[i]) for i in range(len(on_host))]

    def column(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """A new, uninitialised column array in this memory."""
        with self._on_device():
            return self.xp.empty(shape, dtype=dtype)

    def from_host(self, array: Any) -> Any:
        """``array`` in this memory (a host-to-device copy on a device, the array itself on the host)."""
        if not self.on_device:
            return array
        with self._on_device():
            return self.xp.asarray(array)

    def copy_rows(self, column: Any, rows: list[int], values: np.ndarray) -> None:
        """``column[rows] = values``: rows produced on the host (``values[i]`` is row ``rows[i]``), one copy."""
        with self._on_device():
            column[self.xp.asarray(rows)] = self.xp.asarray(values)

    def bind_thread(self) -> None:
        """Make this memory's device current on the calling thread (the consumer compacts
        and converts device columns there, and cupy works on the current device)."""
        if self.on_device:
            self.xp.cuda.Device(self.device_id).use()

    def _synchronize(self) -> None:
        if self.on_device:
            self.xp.cuda.get_current_stream().synchronize()

    def place(self, content: BatchColumns) -> None:
        """Move the batch's remaining host tensor columns (and padding masks) into this memory."""
        if not self.on_device:
            return
        for column in content.columns:
            if column.is_object:
                continue
            if column.stacked is not None:
                column.stacked = self.from_host(column.stacked)
            elif column.rows is not None:
                column.rows = [None if r is None else self.from_host(r) for r in column.rows]
        content.masks = {slot: self.from_host(mask) for slot, mask in content.masks.items()}

    def _on_device(self) -> Any:
        return self.xp.cuda.Device(self.device_id) if self.on_device else contextlib.nullcontext()
