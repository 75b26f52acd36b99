"""GPU-only checks of the DALI graph (``gpu`` marker; skipped without a CUDA device and DALI).

Run on a lent GPU with ``python -m pytest -m gpu tests/gpu``. Stated tolerances: nvJPEG /
nvImageCodec decode vs libjpeg-turbo ≤ 1 level mean; the quick-start chain on the device vs
the same graph on DALI's CPU operators ≤ 0.5 levels mean.
"""

from __future__ import annotations

import numpy as np
import pytest

import dataio
from dataio.formats.image_header import read_header
from dataio.runtime.chain import ChainContext
from dataio.seeds import derive

pytestmark = pytest.mark.gpu
LEVELS = 255 * 0.226


def _run(pipe: dataio.Pipeline, paths: list[str], *, on_gpu: bool) -> tuple[object, list[np.ndarray]]:
    from dataio.gpu.graph import build_pipeline, feed, graph_slots
    from dataio.ops.geometry import plan_batch

    slots = graph_slots(pipe.plan)
    graph = build_pipeline(slots, batch_size=len(paths), device_id=0 if on_gpu else None, on_gpu=on_gpu)
    payloads = [open(p, "rb").read() for p in paths]
    headers = [read_header(payload) for payload in payloads]
    contexts = [ChainContext({"image": path}, derive(0, 0, index), repr(index), path)
                for index, path in enumerate(paths)]
    plan = plan_batch(slots[0].geometry, np.array([h.height for h in headers]), np.array([h.width for h in headers]),
                      contexts)
    feed(graph, slots, [payloads], [plan])
    (out,) = graph.run()
    host = out.as_cpu() if on_gpu else out
    return out, [np.array(host[i]) for i in range(len(paths))]


def test_decode_on_the_device_matches_libjpeg_turbo(jpeg_paths: list[str]) -> None:
    pipe = dataio.pipeline(dataio.slot("image").decode_image(), dataio.batch(len(jpeg_paths)))
    _, device = _run(pipe, jpeg_paths, on_gpu=True)
    _, host = _run(pipe, jpeg_paths, on_gpu=False)
    for d, h in zip(device, host, strict=True):
        assert d.shape == h.shape and np.abs(d.astype(int) - h.astype(int)).mean() <= 1.0


def test_quickstart_on_the_device_matches_cpu_mode_and_stays_on_device(jpeg_paths: list[str]) -> None:
    torch = pytest.importorskip("torch")
    from dataio._demo import quickstart_pipeline

    pipe = quickstart_pipeline(len(jpeg_paths))
    out, device = _run(pipe, jpeg_paths, on_gpu=True)
    _, host = _run(pipe, jpeg_paths, on_gpu=False)
    assert (np.abs(np.stack(device) - np.stack(host)) * LEVELS).mean() <= 0.5
    tensor = torch.from_dlpack(out.as_tensor())  # no host round trip: a CUDA tensor over DALI's buffer
    assert tensor.is_cuda and tuple(tensor.shape) == (len(jpeg_paths), 3, 224, 224)
