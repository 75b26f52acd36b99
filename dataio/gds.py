"""GPUDirect Storage verbs (docs/api.md §9) through kvikio, and device reads of safetensors.

Every verb first checks :func:`dataio.device.gds_info`: without GDS it raises
:class:`~dataio.DeviceUnavailable` carrying ``driver_error``, before looking at its
arguments, so a CPU-only machine gets the reason, never a crash. kvikio and cupy are
imported only past that check (they import without a driver but cannot work).

``read_to_device`` serves ``read_safetensors(..., device="cuda:N")``: with kvikio it reads
each tensor's 4 KiB-aligned byte span (cut at the end of the file: kvikio's compat mode
refuses reads past it) straight into device memory, all spans at once on kvikio's thread
pool (GDS when the driver is there, its POSIX compat mode otherwise), and views each tensor
out of its span; without kvikio it reads on the host and copies.

kvikio reports IO failures as ``RuntimeError``; the verbs here turn them into ``OSError``
(per-entry ``-EIO`` status in ``read_batch``) naming the file.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from dataio._errors import DeviceUnavailable, PlanError
from dataio.device import gds_info

ALIGN = 4096
IO_THREADS = 8
"""kvikio threads for a multi-tensor device read (kvikio's own default is one)."""


def _require(verb: str) -> None:
    info = gds_info()
    if not info["available"]:
        raise DeviceUnavailable(f"{verb}: GPUDirect Storage is unavailable: {info['driver_error']}")


class GdsBuffer:
    """A device buffer registered with cuFile (``close`` deregisters; the memory is untouched)."""

    def __init__(self, device_ptr: int, size: int, flags: int = 0) -> None:
        _require("gds_register_buffer")
        if not device_ptr or not size or size < 0:
            raise PlanError(f"gds_register_buffer(device_ptr={device_ptr}, size={size}): both must be non-zero")
        if flags:
            raise PlanError(f"gds_register_buffer(flags={flags}): kvikio registers with cuFile's default flags; "
                            "pass flags=0")
        import kvikio

        self.device_ptr, self.size = int(device_ptr), int(size)
        self._array = _device_view(self.device_ptr, self.size)
        _registration(kvikio)[0](self._array)
        self.closed = False

    def close(self) -> None:
        """Deregister the buffer from cuFile (idempotent); the device memory itself is untouched."""
        if not self.closed:
            import kvikio

            _registration(kvikio)[1](self._array)
            self.closed = True

    def __enter__(self) -> GdsBuffer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _registration(kvikio: Any) -> tuple[Any, Any]:
    """kvikio's (register, deregister): ``memory_register`` since 25.x, ``buffer_register`` before."""
    if hasattr(kvikio, "memory_register"):
        return kvikio.memory_register, kvikio.memory_deregister
    return kvikio.buffer_register, kvikio.buffer_deregister


def _device_view(device_ptr: int, size: int) -> Any:
    """A cupy ``uint8`` array over device memory someone else owns (kvikio reads into arrays)."""
    import cupy

    memory = cupy.cuda.UnownedMemory(device_ptr, size, owner=None)
    return cupy.ndarray((size,), dtype=cupy.uint8, memptr=cupy.cuda.MemoryPointer(memory, 0))


class GdsFileHandle:
    """A local file opened for cuFile reads (``O_DIRECT`` where GDS runs)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        _require("gds_open")
        import kvikio

        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"gds_open({self.path!r}): no such file")
        self._file = kvikio.CuFile(self.path, "r")
        self.closed = False

    def _check(self) -> None:
        if self.closed:
            raise RuntimeError(f"gds_open({self.path!r}): the handle is closed")

    def read(self, buffer: GdsBuffer, size: int, file_offset: int = 0, buf_offset: int = 0) -> int:
        """Bytes read into ``buffer`` at ``buf_offset`` (short at the end of the file)."""
        self._check()
        if buf_offset + size > buffer.size:
            raise PlanError(f"read(): buf_offset {buf_offset} + size {size} exceeds the {buffer.size}-byte buffer")
        return self.read_into_ptr(buffer.device_ptr, size, file_offset, buf_offset)

    def read_into_ptr(self, device_ptr: int, size: int, file_offset: int = 0, buf_offset: int = 0) -> int:
        """The unchecked expert form of :meth:`read`: ``size`` bytes to ``device_ptr + buf_offset``."""
        self._check()
        try:
            return int(self._file.read(_device_view(device_ptr + buf_offset, size), size, file_offset))
        except RuntimeError as exc:  # kvikio's IO errors
            raise OSError(errno.EIO, f"{self.path}: cuFile read of {size} bytes at {file_offset} failed: "
                                     f"{exc}") from exc

    def read_batch(self, buffer: GdsBuffer, entries: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
        """``(bytes read, status)`` per ``(size, file_offset, buf_offset)``; status 0 or ``-errno``."""
        self._check()
        if not gds_info()["batch_ready"]:
            raise DeviceUnavailable("read_batch(): this cuFile has no batch API")
        for size, file_offset, buf_offset in entries:  # every entry checked before any read starts
            if buf_offset + size > buffer.size:
                raise PlanError(f"read_batch(): entry ({size}, {file_offset}, {buf_offset}) overruns the buffer")
        futures = [self._file.pread(_device_view(buffer.device_ptr + buf_offset, size), size, file_offset)
                   for size, file_offset, buf_offset in entries]
        out = []
        for future in futures:
            try:
                out.append((int(future.get()), 0))
            except OSError as exc:
                out.append((0, -(exc.errno or errno.EIO)))
            except RuntimeError:  # how kvikio reports a failed read
                out.append((0, -errno.EIO))
        return out

    def close(self) -> None:
        """Close the cuFile handle and the file descriptor (idempotent)."""
        if not self.closed:
            self._file.close()
            self.closed = True

    def __enter__(self) -> GdsFileHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def gds_open(path: str | os.PathLike[str]) -> GdsFileHandle:
    """Open a local file for GDS reads (docs/api.md §9)."""
    return GdsFileHandle(path)


def gds_register_buffer(device_ptr: int, size: int, flags: int = 0) -> GdsBuffer:
    """Register device memory with cuFile (docs/api.md §9)."""
    return GdsBuffer(device_ptr, size, flags)


def gds_read_into_tensor(path: str | os.PathLike[str], tensor: Any, *, file_offset: int = 0,
                         size: int | None = None) -> int:
    """Read ``size`` bytes (default: the tensor's) of ``path`` into a contiguous CUDA torch tensor.

    Raises:
        DeviceUnavailable: no GDS (checked first).
        TypeError: not a torch tensor.
        ValueError: a CPU or non-contiguous tensor, or ``size`` beyond its bytes.
    """
    _require("gds_read_into_tensor")
    if type(tensor).__module__.partition(".")[0] != "torch":
        raise TypeError(f"gds_read_into_tensor(): expected a torch.Tensor; got {type(tensor).__name__}")
    nbytes = tensor.numel() * tensor.element_size()
    if not tensor.is_cuda or not tensor.is_contiguous():
        raise PlanError("gds_read_into_tensor(): the tensor must be a contiguous CUDA tensor")
    size = nbytes if size is None else size
    if size > nbytes:
        raise PlanError(f"gds_read_into_tensor(): size {size} exceeds the tensor's {nbytes} bytes")
    with gds_open(path) as handle:
        return handle.read_into_ptr(tensor.data_ptr(), size, file_offset)


def read_to_device(path: str, spans: list[tuple[int, int]], device: str) -> list[Any]:
    """Byte spans ``[start, end)`` of a local file as ``uint8`` CUDA torch tensors on ``device``.

    With kvikio each 4 KiB-aligned span is read straight into device memory (GDS, or kvikio's
    compat mode); without kvikio the spans are read on the host and copied.
    """
    import torch

    try:
        import kvikio
        import kvikio.defaults
    except ImportError:
        kvikio = None
    out = []
    if kvikio is None:
        with open(path, "rb") as f:
            for start, end in spans:
                f.seek(start)
                host = torch.frombuffer(bytearray(f.read(end - start)), dtype=torch.uint8)
                out.append(host.to(device))
        return out
    _widen_io_pool(kvikio)
    file_size = os.path.getsize(path)
    with kvikio.CuFile(path, "r") as f:
        reads = []
        for start, end in spans:
            first, length = aligned_span(start, end, file_size)
            staging = torch.empty(length, dtype=torch.uint8, device=device)
            reads.append((f.pread(staging, length, first), staging[start - first: end - first]))
        error: BaseException | None = None
        for future, _ in reads:  # every read is waited for before anything is released or raised
            try:
                future.get()
            except RuntimeError as exc:  # kvikio's IO errors
                error = error or exc
        if error is not None:
            raise OSError(errno.EIO, f"{path}: device read failed: {error}") from error
        out = [tensor for _, tensor in reads]
    return out


def _widen_io_pool(kvikio: Any) -> None:
    """Give kvikio's process-wide IO pool at least :data:`IO_THREADS` threads (its default is one).

    Raised once and never lowered, so concurrent readers cannot undo each other's setting.
    ``kvikio.defaults.get``/``set`` since 25.x; ``get_num_threads``/``num_threads_reset`` before.
    """
    defaults = kvikio.defaults
    current = defaults.get("num_threads") if hasattr(defaults, "get") else defaults.get_num_threads()
    if current < IO_THREADS:
        if hasattr(defaults, "set"):
            defaults.set("num_threads", IO_THREADS)
        else:
            defaults.num_threads_reset(IO_THREADS)


def aligned_span(start: int, end: int, file_size: int) -> tuple[int, int]:
    """``(first, length)``: the 4 KiB-aligned read covering ``[start, end)``, cut at the end of the file."""
    first = start // ALIGN * ALIGN
    length = -(-(end - first) // ALIGN) * ALIGN
    return first, min(length, file_size - first)
