"""The GPU executor (installed as ``dataio.gpu``): NVIDIA DALI graph, nvImageCodec decode, CV-CUDA, kvikio.

This package is imported by device discovery, so it must stay light: the GPU
libraries are imported only inside the functions that build and run a graph. The
executor itself is not part of this build yet, so :data:`EXECUTOR_AVAILABLE` is
``False`` and ``device="auto"`` resolves to the CPU fallback.
"""

EXECUTOR_AVAILABLE = False
"""Whether this build provides a GPU executor (discovery also needs a driver and DALI)."""

kernel_table = None
"""The GPU kernel table factory; ``None`` until the executor exists."""
