"""The CPU fallback executor (installed as ``dataio.cpu_fallback``): Pillow + numpy + a thread pool.

Runs the same plan as the GPU executor wherever no usable GPU stack is found, with
results equal within each op's stated tolerance. Entry points used by
:mod:`dataio.executors`: :func:`create_executor` and :func:`kernel_table`.
"""

from dataio.cpu_fallback.executor import CpuExecutor, create_executor, kernel_table

__all__ = ["CpuExecutor", "create_executor", "kernel_table"]
