"""The GPU executor (installed as ``dataio.gpu``): NVIDIA DALI graph, nvImageCodec decode, CV-CUDA, kvikio.

This package is imported by device discovery, so it must stay light: the GPU
libraries are imported only inside the functions that build and run a graph.

Files:
    sample_plan.py  host-side per-sample geometry and random draws (shared size arithmetic)
    graph.py        the DALI graph: decode (mixed) → ROI resize / slice → flip → normalize
    executor.py     GpuExecutor: stages graph slots per row, runs the graph per batch, CPU for the rest
    kernels.py      which ops run in the graph (``plan.explain(device="cuda")``)
"""

EXECUTOR_AVAILABLE = False
"""Whether this build runs plans on the GPU (discovery also needs a driver and DALI).

The graph, the executor and the kernel table exist and are tested in DALI's CPU mode;
they have not run on a GPU yet (device-memory delivery is pending), so this stays
``False`` and ``device="auto"`` keeps picking the CPU fallback.
"""


def kernel_table() -> object:
    """The GPU kernel table (``plan.explain(device="cuda")``); imports no GPU library."""
    from dataio.gpu.kernels import kernel_table as table

    return table()


def create_executor(plan: object, device: str) -> object:
    """The GPU executor for ``plan`` on ``device`` (imports DALI lazily, when a graph is built)."""
    from dataio.gpu.executor import create_executor as create

    return create(plan, device)  # type: ignore[arg-type]
