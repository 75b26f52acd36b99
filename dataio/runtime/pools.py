"""Process-wide worker pools sized by environment variables (docs/api.md §4.10).

One CPU pool (decode/transform) is shared by every loader in the process, so two
loaders never oversubscribe the cores; one IO pool reads remote payloads, so slow
object-store requests never hold a decode thread. The variables are read once, when a pool is
first created; an invalid value warns once and falls back to the default.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from dataio._env import worker_count

_lock = threading.Lock()
_cpu_pool: ThreadPoolExecutor | None = None
_io_pool: ThreadPoolExecutor | None = None


def _forget_pools_after_fork() -> None:
    """In a forked child (e.g. a worker of ``torch.utils.data.DataLoader``) the parent's pool threads do not
    exist: tasks handed to its pools would wait forever. The child makes its own pools on first use."""
    global _lock, _cpu_pool, _io_pool
    _lock = threading.Lock()  # the parent may have held it at the fork
    _cpu_pool = _io_pool = None


os.register_at_fork(after_in_child=_forget_pools_after_fork)


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_workers_default() -> int:
    """Default CPU pool size: available CPUs, at least 2."""
    return max(2, available_cpus())


def cpu_pool() -> ThreadPoolExecutor:
    """The shared decode/transform pool, created on first use (``DATAIO_CPU_WORKERS`` threads)."""
    global _cpu_pool
    with _lock:
        if _cpu_pool is None:
            size = worker_count("DATAIO_CPU_WORKERS", cpu_workers_default())
            _cpu_pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dataio-cpu")
        return _cpu_pool


def cpu_pool_size() -> int:
    """Threads in the shared CPU pool."""
    return cpu_pool()._max_workers


def io_workers_default() -> int:
    """Default IO pool size: available CPUs, at least 4."""
    return max(4, available_cpus())


def io_pool() -> ThreadPoolExecutor:
    """The shared remote-read pool, created on first use (``DATAIO_IO_WORKERS`` threads)."""
    global _io_pool
    with _lock:
        if _io_pool is None:
            size = worker_count("DATAIO_IO_WORKERS", io_workers_default())
            _io_pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dataio-io")
        return _io_pool
