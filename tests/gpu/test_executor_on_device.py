"""The GPU executor end to end on a device (``gpu`` marker; skipped without a CUDA device and DALI).

Run on a lent GPU with ``python -m pytest -m gpu tests/gpu``. What is checked:
- every op with a GPU kernel, run by ``device="cuda"``, against the CPU fallback: per-row
  mean |Δ| ≤ 1.5 levels (nvJPEG/nvImageCodec and libjpeg-turbo differ by ≤ 1 level, CV-CUDA
  and Pillow resampling by a fraction of one);
- batches stay in device memory: torch tensors on ``cuda:0`` whose memory is the
  delivered column (no host round trip), labels moved to the device as well;
- a corrupt JPEG fails only its row; ``prefetch`` does not change results;
- the GPU throughput benchmark runs (figures go to ``docs/benchmark.md``, never asserted).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dataio
from parity_cases import GRAPH_CHAINS, edge_image_records, graph_chain_pipeline

pytestmark = pytest.mark.gpu
ROOT = Path(__file__).resolve().parents[2]

def batches(pipe: dataio.Pipeline, records: list[dict[str, Any]], device: str, **options: Any) -> list[Any]:
    with pipe.bind(records).run("torch", device=device, seed=3, **options) as loader:
        assert loader.executor == ("gpu" if device.startswith("cuda") else "cpu_fallback")
        return list(loader)


@pytest.mark.parametrize("name", list(GRAPH_CHAINS))
def test_each_gpu_op_matches_the_cpu_fallback(jpeg_paths: list[str], no_draft: None, name: str) -> None:
    pipe, level = graph_chain_pipeline(name), GRAPH_CHAINS[name][1]
    records = [{"image": p} for p in jpeg_paths]
    gpu, cpu = batches(pipe, records, "cuda"), batches(pipe, records, "cpu")
    assert [b.keys for b in gpu] == [b.keys for b in cpu]
    for g, c in zip(gpu, cpu, strict=True):
        for row_g, row_c in zip(g["image"], c["image"], strict=True):  # stacked or per-row values
            assert row_g.is_cuda and row_g.shape == row_c.shape
            assert np.abs(row_g.cpu().numpy().astype(np.float64) - row_c.numpy()).mean() / level <= 1.5


@pytest.mark.parametrize("name", list(GRAPH_CHAINS))
def test_each_gpu_op_matches_the_cpu_fallback_on_edge_images(no_draft: None, name: str) -> None:
    """The CI parity matrix (tests/test_gpu_parity_matrix.py) with the GPU operators."""
    pipe, level = graph_chain_pipeline(name), GRAPH_CHAINS[name][1]
    records = edge_image_records()
    gpu, cpu = batches(pipe, records, "cuda"), batches(pipe, records, "cpu")
    assert [b.keys for b in gpu] == [b.keys for b in cpu] and [b.errors for b in gpu] == [b.errors for b in cpu]
    for g, c in zip(gpu, cpu, strict=True):
        for key, row_g, row_c in zip(g.keys, g["image"], c["image"], strict=True):
            assert row_g.is_cuda and row_g.shape == row_c.shape, key
            assert np.abs(row_g.cpu().numpy().astype(np.float64) - row_c.numpy()).mean() / level <= 1.5, key


def test_pin_memory_delivers_page_locked_host_batches(jpeg_paths: list[str]) -> None:
    """run(pin_memory=True) on the CPU fallback: host batches in page-locked memory, ready for a non-blocking copy."""
    import torch

    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=32, w=32).normalize("imagenet"),
                           dataio.batch(4))
    records = [{"image": p} for p in jpeg_paths[:8]]
    with pipe.bind(records).run("torch", device="cpu", pin_memory=True) as loader:
        images = [b["image"] for b in loader]
    assert all(image.is_pinned() for image in images)
    with pipe.bind(records).run("torch", device="cpu", pin_memory=False) as loader:
        plain = [b["image"] for b in loader]
    assert not any(image.is_pinned() for image in plain)
    assert all(torch.equal(a, b) for a, b in zip(images, plain, strict=True))


def test_batches_stay_in_device_memory(jpeg_paths: list[str]) -> None:
    import cupy
    import torch

    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize_short(256).center_crop(h=224, w=224)
                           .normalize("imagenet"), dataio.slot("label").decode_npy(), dataio.batch(8))
    records = [{"image": p, "label": _npy(np.array(i))} for i, p in enumerate(jpeg_paths)]
    seen: list[tuple[int, int, int]] = []

    def adapter(t: Any) -> Any:  # the DLPack tensor the loader hands over, before any framework
        tensor = torch.from_dlpack(t)
        seen.append((t.__dlpack_device__()[0], tensor.data_ptr(), cupy.from_dlpack(t).data.ptr))
        return tensor

    with pipe.bind(records).run(adapter, device="cuda") as loader:
        assert loader.device == "cuda:0"
        batch = next(iter(loader))
        image, label = batch["image"], batch["label"]
    assert image.is_cuda and label.is_cuda and tuple(image.shape) == (8, 3, 224, 224)
    assert all(kind == 2 for kind, _, _ in seen)  # kDLCUDA
    assert all(torch_ptr == cupy_ptr for _, torch_ptr, cupy_ptr in seen)  # one buffer, no copy


def test_auto_picks_the_gpu_executor(jpeg_paths: list[str]) -> None:
    from dataio._demo import quickstart_pipeline

    with quickstart_pipeline(4).bind([{"image": p} for p in jpeg_paths[:4]]).run("torch") as loader:
        assert loader.executor == "gpu" and loader.device.startswith("cuda:")
        assert next(iter(loader))["image"].is_cuda
    with pytest.raises(ValueError, match="device memory"):
        quickstart_pipeline(4).bind([]).run("numpy", device="cuda")


def test_a_corrupt_jpeg_on_the_device_fails_only_its_row(jpeg_paths: list[str]) -> None:
    from dataio._demo import quickstart_pipeline

    good = Path(jpeg_paths[0]).read_bytes()
    records = [{"key": "ok0", "image": jpeg_paths[1]}, {"key": "corrupt", "image": good[:600] + bytes(200) + good[800:]},
               {"key": "ok2", "image": jpeg_paths[2]}, {"key": "truncated", "image": good[: len(good) // 3]}]
    (batch,) = batches(quickstart_pipeline(4), records, "cuda")
    assert batch.keys == ["ok0", "ok2"] and [e["key"] for e in batch.errors] == ["corrupt", "truncated"]
    assert batch["image"].is_cuda and tuple(batch["image"].shape) == (2, 3, 224, 224)


def test_prefetch_depth_does_not_change_batches(jpeg_paths: list[str]) -> None:
    def pipe(prefetch: int) -> dataio.Pipeline:
        return dataio.pipeline(dataio.slot("image").decode_image().random_resized_crop(h=64, w=64)
                               .normalize("imagenet"), dataio.batch(5, prefetch=prefetch))

    records = [{"image": p} for p in jpeg_paths]
    deep, shallow = batches(pipe(4), records, "cuda"), batches(pipe(1), records, "cuda")
    for d, s in zip(deep, shallow, strict=True):
        assert bool((d["image"] == s["image"]).all())


def test_the_gpu_benchmark_runs(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gpu_quickstart.py"), "--images", "256", "--runs", "1",
           "--data", str(tmp_path / "data"), "--out", str(tmp_path)]
    subprocess.run(cmd, check=True, timeout=600)
    results = {r["loader"]: r for r in json.loads((tmp_path / "gpu_quickstart.json").read_text())["results"]}
    assert results["dataio"].get("device", "").startswith("cuda"), results["dataio"]


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_host_rows_reach_the_device_through_pinned_staging_on_the_copy_stream() -> None:
    """from_host and copy_rows stage in page-locked memory on the delivery's stream; flush waits once."""
    import cupy

    from dataio.gpu.delivery import Delivery

    delivery = Delivery.device(0)
    host = np.arange(24, dtype=np.float32).reshape(4, 6)
    moved = delivery.from_host(host)
    column = delivery.column((5, 6), np.float32)
    column[...] = 0
    delivery.copy_rows(column, [1, 3], list(host[:2]))
    delivery.flush()
    assert isinstance(moved, cupy.ndarray) and not delivery._staged
    np.testing.assert_array_equal(cupy.asnumpy(moved), host)
    np.testing.assert_array_equal(cupy.asnumpy(column)[[1, 3]], host[:2])
    assert not cupy.asnumpy(column)[[0, 2, 4]].any()
