"""Where the GPU executor's batches live: device memory (cupy) on a GPU, host memory (numpy) in CPU mode.

On a GPU the graph's outputs are host-synchronised when collected, so any stream may read
them. Where an iteration produced every row of a slot's column in order and DALI hands its
outputs over (the dynamic executor dataio builds), the column *is* DALI's output buffer
(:meth:`Delivery.adopt`, no copy); otherwise the outputs are copied device-to-device into
one column array per slot ``[rows, ...]`` (DALI's legacy executor reuses its buffers), and
rows the CPU path produced (non-graph formats, CPU reruns after a failed graph batch) are
copied into their row of that column; every other tensor column of the batch is moved to
the device once, at delivery. The batch reaches torch/jax through DLPack without a host
round trip.

Host-to-device copies (host-made rows, the batch's other tensor columns) are staged in
page-locked memory and issued on a copy stream of the delivery's own, so they run
asynchronously and side by side; the consumer waits once per batch (:meth:`Delivery.flush`)
before the batch is handed over.

Memory, one rule: every device byte a batch holds belongs to the arrays of that batch and is
freed when the last of them (or a tensor made from it through DLPack) dies — adopted columns
go back to DALI's pool, copied columns and staging buffers to cupy's pools (device and
pinned), where they are reused for later batches. Beyond that, each built DALI pipeline keeps
its own working memory until it is released (``release_graphs``, at exit at the latest), and
torch's caching allocator holds only what the training loop allocates.
``cupy.get_default_memory_pool().free_all_blocks()`` returns cupy's free blocks to the driver.

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
        self._copy_stream: Any = None
        self._staged: list[Any] = []
        """Page-locked buffers of copies in flight: kept until :meth:`flush` has waited for them."""

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

    def adopt(self, tensor_list: Any, shape: tuple[int, ...], dtype: Any) -> Any:
        """A DALI output that holds the whole column, as this memory's array without a copy — or ``None``
        when it cannot be (its samples are not one contiguous tensor of that shape and dtype).

        Only for outputs the iteration hands over (DALI's dynamic executor): the array keeps
        DALI's buffer alive for as long as the batch (and whatever the user makes of it) lives.
        """
        if not tensor_list.is_dense_tensor():
            return None
        with self._on_device():
            column = self.xp.asarray(tensor_list.as_tensor())
        if column.shape != shape or column.dtype != np.dtype(dtype):
            return None
        return column

    def samples(self, tensor_list: Any, *, owned: bool = False) -> list[Any]:
        """Per-sample arrays of a DALI output (samples of different shapes): views of DALI's buffers where the
        iteration handed them over (``owned``: each view keeps its sample alive), else copies."""
        with self._on_device():
            if owned:
                return [self.xp.asarray(tensor_list[i]) for i in range(len(tensor_list))]
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
        """``array`` in this memory: on a device, an asynchronous copy through page-locked staging on the copy
        stream (valid once :meth:`flush` has run); on the host, the array itself."""
        if not self.on_device:
            return array
        array = np.asarray(array)
        with self._on_device():
            pinned = self._pinned(array.shape, array.dtype)
            pinned[...] = array
            return self._upload(pinned)

    def copy_rows(self, column: Any, rows: list[int], values: list[np.ndarray]) -> None:
        """``column[rows[i]] = values[i]``: rows produced on the host, each copied once into the page-locked
        staging buffer, then one upload and the scatter on the current stream once the upload is done."""
        if not self.on_device:
            for row, value in zip(rows, values, strict=True):
                column[row] = value
            return
        with self._on_device():
            pinned = self._pinned((len(rows), *column.shape[1:]), column.dtype)
            for i, value in enumerate(values):
                pinned[i] = value
            staged = self._upload(pinned)
            self.xp.cuda.get_current_stream().wait_event(self._copy_stream.record())
            column[self.xp.asarray(rows)] = staged

    def flush(self) -> None:
        """Wait for the host-to-device copies issued so far (once per batch) and drop their staging buffers."""
        if self._staged:
            self._copy_stream.synchronize()
            self._staged.clear()

    def _pinned(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A page-locked host buffer from cupy's pinned pool, kept until :meth:`flush`."""
        import cupyx

        pinned = cupyx.empty_pinned(shape, dtype)
        self._staged.append(pinned)
        return pinned

    def _upload(self, pinned: np.ndarray) -> Any:
        """``pinned`` copied to the device on the copy stream (not waited for)."""
        xp = self.xp
        if self._copy_stream is None:
            self._copy_stream = xp.cuda.Stream(non_blocking=True)
        device = xp.empty(pinned.shape, pinned.dtype)
        device.set(pinned, stream=self._copy_stream)
        return device

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
        self.flush()

    def _on_device(self) -> Any:
        return self.xp.cuda.Device(self.device_id) if self.on_device else contextlib.nullcontext()
