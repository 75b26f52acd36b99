"""The GPU executor (installed as ``dataio.gpu``): NVIDIA DALI graph, nvImageCodec decode, CV-CUDA, kvikio.

This package is imported by device discovery, so it must stay light: the GPU
libraries are imported only inside the functions that build and run a graph.

Files:
    graph.py        the DALI graph: decode (mixed) → ROI resize / slice → flip → pixel nodes
                    (per-sample geometry planned on the host by dataio.ops.geometry)
    graph_queue.py  one built pipeline fed ahead (prefetch depth), outputs collected in feed order
    delivery.py     where columns live: device memory (cupy) on a GPU, host buffers in CPU mode
    executor.py     GpuExecutor: stages graph slots per row, feeds per batch, collects at delivery
    nodes.py        the graph node of each op the graph runs, registered against the op table
"""

EXECUTOR_AVAILABLE = True
"""Whether this build runs plans on the GPU (discovery also needs a driver, DALI and cupy).

The executor is tested on CI with DALI's CPU operators (graph, feed-ahead queue,
per-sample isolation, the device-memory column layout on host arrays); the ``gpu``-marked
tests in ``tests/gpu/`` check it on a device.
"""


def create_executor(plan: object, options: object) -> object:
    """The GPU executor for ``plan`` under the resolved run ``options`` (imports DALI lazily, when a graph is built)."""
    from dataio.gpu.executor import create_executor as create

    return create(plan, options)  # type: ignore[arg-type]
