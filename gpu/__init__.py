"""The GPU executor (installed as ``dataio.gpu``): NVIDIA DALI graph, nvImageCodec decode, CV-CUDA, kvikio.

This package is imported by device discovery, so it must stay light: the GPU
libraries are imported only inside the functions that build and run a graph.

Files:
    sample_plan.py  host-side per-sample geometry and random draws (shared size arithmetic)
    graph.py        the DALI graph: decode (mixed) → ROI resize / slice → flip → normalize
    kernels.py      which ops run in the graph (``plan.explain(device="cuda")``)
"""

EXECUTOR_AVAILABLE = False
"""Whether this build runs plans on the GPU (discovery also needs a driver and DALI).

The graph builder (``graph.py``, ``sample_plan.py``) and the kernel table exist and are
tested in DALI's CPU mode; the executor that feeds graphs from the runtime is not wired
yet, so ``device="auto"`` keeps picking the CPU fallback.
"""


def kernel_table() -> object:
    """The GPU kernel table (``plan.explain(device="cuda")``); imports no GPU library."""
    from dataio.gpu.kernels import kernel_table as table

    return table()
