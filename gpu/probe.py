"""A first-contact check of the GPU executor's graph: build and run one tiny decode + resize pipeline.

``python -m dataio`` runs it (through the selector) when discovery says the GPU executor
can run, so a pipeline that cannot be built — a missing nvImageCodec, a driver/toolkit
mismatch — shows in the report, not first in a training job. With ``device_id=None`` the
same pipeline runs on DALI's CPU operators (how CI checks the probe itself).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dataio.ops.decoders import ImageDecoder
from dataio.ops.transforms import Resize

from dataio.gpu.graph import SlotGraph, build_pipeline, feed
from dataio.ops.geometry import BatchPlan
from dataio.gpu.settings import machine_settings

PROBE_SIZE = (48, 64)


def probe_graph(device_id: int | None) -> str | None:
    """``None`` when a decode + resize pipeline builds and decodes one JPEG on ``device_id`` (``None``:
    DALI's CPU operators), else why not (``"Type: message"``); never raises."""
    try:
        resize = Resize(h=16, w=16)
        graph = SlotGraph(0, "probe", ImageDecoder(), (resize,), resize.interp, (), 3)
        settings = machine_settings(device_id is not None, [PROBE_SIZE])
        pipeline = build_pipeline([graph], batch_size=1, device_id=device_id, on_gpu=device_id is not None,
                                  settings=settings)
        height, width = PROBE_SIZE
        plan = BatchPlan.whole([PROBE_SIZE], (16, 16), resize.interp)
        fed = feed(pipeline, [graph], [[_jpeg(height, width)]], [plan])  # DALI reads these bytes in run()
        (out,) = pipeline.run()
        del fed
        shape = tuple(out.as_cpu()[0].shape() if hasattr(out, "as_cpu") else out[0].shape())
        if shape != (16, 16, 3):
            return f"unexpected output shape {shape}"
        return None
    except Exception as exc:  # noqa: BLE001 - the probe reports every failure as its reason
        return f"{type(exc).__name__}: {exc}"


def _jpeg(height: int, width: int) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
