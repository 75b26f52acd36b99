"""The GPU executor driven by the runtime, with DALI's CPU operators: parity, mixed slots, failure isolation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import dataio
from dataio.runtime.loader import DataLoader
from dataio.runtime.options import validate_run
from parity_cases import GRAPH_CHAINS, LEVELS, graph_chain_pipeline

pytest.importorskip("nvidia.dali")

from dataio.gpu.delivery import Delivery
from dataio.gpu.executor import GpuExecutor



LAST: dict[str, GpuExecutor] = {}


def run_with(executor_kind: str, pipe: dataio.Pipeline, records: list[dict[str, Any]], *,
             delivery: Delivery | None = None, **options: Any) -> list[Any]:
    """All batches of one epoch through the CPU executor or the GPU executor in DALI CPU mode."""
    bound = pipe.bind(records)
    if executor_kind == "cpu":
        with bound.run("numpy", device="cpu", **options) as loader:
            return list(loader)
    run_options = validate_run(
        pipe.plan, output="numpy", concurrency=options.get("concurrency", "auto"), on_failure=options.get("on_failure", "skip"),
        log_errors=False, order=None, seed=options.get("seed"), context=None, pin_memory="auto", ragged="list",
        device="cpu", emit_empty_batches=True, max_prefetch_bytes=options.get("max_prefetch_bytes"))
    executor = GpuExecutor(pipe.plan, run_options, on_gpu=False, delivery=delivery)
    LAST["executor"] = executor
    with DataLoader(pipe.plan, bound.records, run_options, executor, dataio.ShardSpec(id=0, of=1)) as loader:
        return list(loader)


def test_quickstart_batches_match_the_cpu_executor(jpeg_paths: list[str], no_draft: None) -> None:
    from dataio._demo import quickstart_pipeline

    pipe = quickstart_pipeline(8)
    records = [{"image": p} for p in jpeg_paths]
    gpu = run_with("gpu", pipe, records)
    stats = LAST["executor"].stats
    assert stats.graph_rows == len(records) and stats.failed_batches == 0  # the graph did the work
    cpu = run_with("cpu", pipe, records)
    assert [b.keys for b in gpu] == [b.keys for b in cpu]
    for g, c in zip(gpu, cpu, strict=True):
        assert g["image"].shape == c["image"].shape
        assert (np.abs(g["image"] - c["image"]) * LEVELS).mean() <= 0.15
        assert g.original_hws() == c.original_hws()


def test_mixed_slots_and_random_ops_agree(jpeg_paths: list[str], no_draft: None) -> None:
    pipe = dataio.pipeline(
        dataio.slot("image").decode_image().random_resized_crop(h=40, w=40).hflip().normalize("imagenet"),
        dataio.slot("gray").decode_image(mode="gray").invert().resize(h=16, w=16),
        dataio.batch(6))
    records = [{"image": p, "gray": p} for p in jpeg_paths[:12]]
    gpu = run_with("gpu", pipe, records, seed=4)
    assert LAST["executor"].stats.graph_rows == len(records) and LAST["executor"].stats.failed_batches == 0
    cpu = run_with("cpu", pipe, records, seed=4)
    for g, c in zip(gpu, cpu, strict=True):
        per_row = (np.abs(g["image"] - c["image"]) * LEVELS).reshape(len(g), -1).mean(axis=1)
        assert per_row.max() <= 1.5
        np.testing.assert_array_equal(g["gray"], c["gray"])  # that slot ran on the CPU kernels


def test_a_corrupt_jpeg_fails_only_its_row(jpeg_paths: list[str], tmp_path: Path) -> None:
    good = Path(jpeg_paths[0]).read_bytes()
    corrupt = good[:600] + bytes(200) + good[800:]  # a valid header, broken entropy-coded data
    truncated = good[: len(good) // 3]
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not an image at all")
    records = [{"key": "ok0", "image": jpeg_paths[1]}, {"key": "corrupt", "image": corrupt},
               {"key": "ok2", "image": jpeg_paths[2]}, {"key": "truncated", "image": truncated},
               {"key": "garbage", "image": str(garbage)}, {"key": "ok5", "image": jpeg_paths[3]}]
    from dataio._demo import quickstart_pipeline

    (batch,) = run_with("gpu", quickstart_pipeline(6), records)
    assert LAST["executor"].stats.failed_batches == 1  # DALI failed the batch; the CPU path rescued it
    (reference,) = run_with("cpu", quickstart_pipeline(6), records)
    assert batch.keys == reference.keys == ["ok0", "ok2", "ok5"]  # DALI failed the batch; the rows survived
    assert [e["key"] for e in batch.errors] == ["corrupt", "truncated", "garbage"]
    assert all(e["stage"] == "decode" for e in batch.errors)
    assert batch["image"].shape == (3, 3, 224, 224)


def test_graphs_are_cached_per_plan_slot_and_device(jpeg_paths: list[str]) -> None:
    from dataio._demo import quickstart_pipeline
    from dataio.gpu import executor as gpu_executor

    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=24, w=24).normalize("imagenet"),
                           dataio.batch(4, prefetch=3))
    records = [{"image": p} for p in jpeg_paths[:8]]
    run_with("gpu", pipe, records)
    keys = [k for k in gpu_executor._GRAPHS if k[0] == pipe.signature]
    assert len(keys) == 1
    first = gpu_executor._GRAPHS[keys[0]].queue
    run_with("gpu", pipe, records)  # a new loader reuses the built graph
    assert gpu_executor._GRAPHS[keys[0]].queue is first
    assert LAST["executor"].stats.graph_rows == len(records)
    assert quickstart_pipeline(4).signature != pipe.signature


def test_exif_rotated_images_go_through_the_graph_like_pillow(tmp_path: Path, no_draft: None) -> None:
    import io as _io

    from PIL import Image

    from dataio._synthetic import synthetic_image

    image = synthetic_image(np.random.default_rng(5), 70, 110)
    records = []
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        buffer = _io.BytesIO()
        image.save(buffer, "JPEG", quality=95, exif=exif)
        records.append({"key": f"o{orientation}", "image": buffer.getvalue()})
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize_short(40).center_crop(h=32, w=32)
                           .normalize("imagenet"), dataio.batch(8))
    (gpu,) = run_with("gpu", pipe, records)
    assert LAST["executor"].stats.graph_rows == 8
    (cpu,) = run_with("cpu", pipe, records)
    assert gpu.original_hws() == cpu.original_hws()
    assert (np.abs(gpu["image"] - cpu["image"]) * LEVELS).mean() <= 0.5


def npy(array: np.ndarray) -> bytes:
    import io as _io

    buffer = _io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def mixed_records(jpeg_paths: list[str], tmp_path: Path, bad: bytes) -> list[dict[str, Any]]:
    """Ten JPEGs for the graph, a GIF for the CPU path and the ``bad`` payload at position 9."""
    from PIL import Image

    gif = tmp_path / "frame.gif"
    Image.open(jpeg_paths[4]).convert("P").save(gif)
    records = [{"key": f"j{i}", "image": p, "label": npy(np.array(i))} for i, p in enumerate(jpeg_paths[:10])]
    records.insert(3, {"key": "gif", "image": str(gif), "label": npy(np.array(100))})
    records.insert(9, {"key": "bad", "image": bad, "label": npy(np.array(101))})
    return records


def corrupt_jpeg(jpeg_paths: list[str]) -> bytes:
    """A valid header over broken entropy-coded data: DALI fails the whole batch on it."""
    good = Path(jpeg_paths[0]).read_bytes()
    return good[:600] + bytes(200) + good[800:]


EXPECTED_KEYS = [["j0", "j1", "j2", "gif"], ["j3", "j4", "j5", "j6"], ["j7", "j8", "j9"]]


@pytest.mark.parametrize("resize", [True, False], ids=["static-column", "per-row-values"])
def test_the_device_column_layout_delivers_what_the_host_layout_does(jpeg_paths: list[str], tmp_path: Path,
                                                                     no_draft: None, resize: bool) -> None:
    """``Delivery.host(separate=True)`` runs the device layout (own column, CPU rows copied in) on numpy."""
    chain = dataio.slot("image").decode_image()
    chain = chain.resize(h=32, w=32).normalize("imagenet") if resize else chain
    pipe = dataio.pipeline(chain, dataio.slot("label").decode_npy(), dataio.batch(4))
    records = mixed_records(jpeg_paths, tmp_path, b"not an image")  # refused by the header check
    separate = run_with("gpu", pipe, records, delivery=Delivery.host(separate=True), seed=2)
    stats = LAST["executor"].stats
    assert stats.failed_batches == 0 and stats.graph_rows == 10  # the GIF ran on the CPU kernels
    in_place = run_with("gpu", pipe, records, seed=2)
    assert [b.keys for b in separate] == [b.keys for b in in_place] == EXPECTED_KEYS
    assert [e["key"] for b in separate for e in b.errors] == ["bad"]
    for s, h in zip(separate, in_place, strict=True):
        np.testing.assert_array_equal(s["label"], h["label"])
        if resize:
            np.testing.assert_array_equal(s["image"], h["image"])
        else:
            assert all(np.array_equal(a, b) for a, b in zip(s["image"], h["image"], strict=True))


@pytest.mark.parametrize("separate", [False, True], ids=["host-buffers", "device-layout"])
def test_a_broken_pipeline_fails_the_batches_behind_it_and_they_survive(jpeg_paths: list[str], tmp_path: Path,
                                                                        no_draft: None, separate: bool) -> None:
    """DALI may report the failure on any batch scheduled with the corrupt one: all of them are rescued."""
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=32, w=32).normalize("imagenet"),
                           dataio.slot("label").decode_npy(), dataio.batch(4, prefetch=4))
    records = mixed_records(jpeg_paths, tmp_path, corrupt_jpeg(jpeg_paths))
    reference = run_with("cpu", pipe, records, seed=2)
    for _ in range(3):
        out = run_with("gpu", pipe, records, seed=2, delivery=Delivery.host(separate=separate))
        stats = LAST["executor"].stats
        assert stats.failed_batches >= 1 and stats.graph_rows + stats.cpu_reruns == len(records) - 1
        assert [b.keys for b in out] == EXPECTED_KEYS
        assert [e["key"] for b in out for e in b.errors] == ["bad"]
        for g, c in zip(out, reference, strict=True):
            assert g["label"].tolist() == c["label"].tolist()
            assert (np.abs(g["image"] - c["image"]) * LEVELS).reshape(len(g), -1).mean(axis=1).max() <= 1.5


def test_batch_transforms_run_on_the_delivered_columns(jpeg_paths: list[str], tmp_path: Path) -> None:
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=16, w=16).normalize("imagenet"),
                           dataio.slot("label").decode_npy(), dataio.batch(4),
                           dataio.map(dataio.batch_transforms.mixup(slot="image", label_slot="label", alpha=0.4)))
    records = [{"image": p, "label": npy(np.eye(4, dtype=np.float32)[i % 4])} for i, p in enumerate(jpeg_paths[:8])]
    separate = run_with("gpu", pipe, records, delivery=Delivery.host(separate=True), seed=5)
    in_place = run_with("gpu", pipe, records, seed=5)
    for s, h in zip(separate, in_place, strict=True):
        np.testing.assert_array_equal(s["image"], h["image"])
        np.testing.assert_array_equal(s["label"], h["label"])


def test_batch_prefetch_is_the_dali_queue_depth(jpeg_paths: list[str]) -> None:
    from dataio.gpu import executor as gpu_executor

    def pipe(prefetch: int) -> dataio.Pipeline:
        return dataio.pipeline(dataio.slot("image").decode_image().resize(h=20, w=20).normalize("imagenet"),
                               dataio.batch(3, prefetch=prefetch))

    records = [{"image": p} for p in jpeg_paths[:11]]
    deep = run_with("gpu", pipe(3), records)
    assert LAST["executor"].stats.graph_rows == len(records)
    queue = next(c.queue for k, c in gpu_executor._GRAPHS.items() if k[0] == pipe(3).signature and k[-1] == 3)
    assert queue.depth == 3 and queue.pipeline.prefetch_queue_depth == 3
    shallow = run_with("gpu", pipe(1), records)
    assert [b.keys for b in deep] == [b.keys for b in shallow]
    for d, s in zip(deep, shallow, strict=True):
        np.testing.assert_array_equal(d["image"], s["image"])


@pytest.mark.parametrize("chain, graph_rows", [
    (lambda s: s.resize_short(64).center_crop(h=96, w=96), 0),  # window past the resized image's edge
    (lambda s: s.center_crop(h=2000, w=2000).resize(h=64, w=64), 0),  # zero-padded window, then resampled
    (lambda s: s.center_crop(h=1400, w=1400).hflip(prob=0.5), 24),  # padding alone: one slice in the graph
], ids=["resize-then-padded-crop", "padded-crop-then-resize", "padded-crop-only"])
def test_windows_past_the_image_edge_match_the_cpu_fallback(jpeg_paths: list[str], no_draft: None, chain: Any,
                                                            graph_rows: int) -> None:
    """Outside the image both executors see zeros; a padded window is never resampled with clamped edges."""
    pipe = dataio.pipeline(chain(dataio.slot("image").decode_image()).normalize("imagenet"), dataio.batch(8))
    records = [{"image": p} for p in jpeg_paths]
    gpu = run_with("gpu", pipe, records, seed=4)
    assert LAST["executor"].stats.graph_rows == graph_rows
    cpu = run_with("cpu", pipe, records, seed=4)
    for g, c in zip(gpu, cpu, strict=True):
        assert g["image"].shape == c["image"].shape
        worst_row = (np.abs(g["image"] - c["image"]) * LEVELS).reshape(len(g), -1).mean(axis=1).max()
        assert worst_row <= 0.5


def test_max_prefetch_bytes_bounds_the_dali_queue_depth_too(jpeg_paths: list[str]) -> None:
    """The executor is created with the run's options: the byte budget caps DALI's queue like the runtime's window."""
    from dataio.gpu import executor as gpu_executor

    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=20, w=20).normalize("imagenet"),
                           dataio.batch(3, prefetch=4))
    records = [{"image": p} for p in jpeg_paths[:9]]
    batch_bytes = 3 * 3 * 20 * 20 * 4
    before = set(gpu_executor._GRAPHS)
    bounded = run_with("gpu", pipe, records, max_prefetch_bytes=2 * batch_bytes)
    assert LAST["executor"].stats.graph_rows == len(records)
    assert {k[-1] for k in set(gpu_executor._GRAPHS) - before} <= {2}  # no queue of the plan's depth 4
    queue = gpu_executor._GRAPHS[(pipe.signature, 0, "cpu", False, 2)].queue
    assert queue.depth == 2 and queue.pipeline.prefetch_queue_depth == 2
    unbounded = run_with("gpu", pipe, records)
    assert [b.keys for b in bounded] == [b.keys for b in unbounded]


def test_the_parity_chains_cover_every_gpu_kernel() -> None:
    from dataio.gpu.nodes import GRAPH_NODES as GPU_KERNELS

    used = {op.qualname for name in GRAPH_CHAINS for op in graph_chain_pipeline(name).plan.slots[0].ops}
    assert set(GPU_KERNELS) <= used, sorted(set(GPU_KERNELS) - used)


@pytest.mark.parametrize("name", list(GRAPH_CHAINS))
def test_every_gpu_kernel_runs_in_the_graph_like_the_cpu_fallback(jpeg_paths: list[str], no_draft: None,
                                                                  name: str) -> None:
    pipe, level = graph_chain_pipeline(name), GRAPH_CHAINS[name][1]
    records = [{"image": p} for p in jpeg_paths]
    gpu = run_with("gpu", pipe, records, seed=3)
    stats = LAST["executor"].stats
    # the graph ran every row but those a policy's draw declines (they run on the CPU kernels, same seed)
    rows = sum(len(b) + len(b.errors) for b in gpu)  # a declined row may fail on the CPU kernels, as on the fallback
    assert stats.failed_batches == 0 and stats.graph_rows + stats.declined_rows == rows
    errors = sum(len(b.errors) for b in gpu)  # e.g. a fixed crop outside the image: declined, then the same error
    assert stats.graph_rows > 0 and ("augment" in name or stats.declined_rows == errors)
    cpu = run_with("cpu", pipe, records, seed=3)
    assert [b.keys for b in gpu] == [b.keys for b in cpu]
    assert [[e["key"] for e in b.errors] for b in gpu] == [[e["key"] for e in b.errors] for b in cpu]
    for g, c in zip(gpu, cpu, strict=True):
        for row_g, row_c in zip(g["image"], c["image"], strict=True):  # stacked or per-row values
            assert row_g.shape == row_c.shape and row_g.dtype == row_c.dtype
            assert np.abs(np.asarray(row_g, np.float64) - np.asarray(row_c, np.float64)).mean() / level <= 1.5


def test_a_pipeline_that_cannot_be_built_is_logged_once_and_its_rows_run_on_the_cpu(
        jpeg_paths: list[str], no_draft: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """No retry per batch, no serial rerun on the consumer: later rows go to the CPU kernels on the pool."""
    from dataio.gpu import executor as gpu_executor

    calls = []

    def unbuildable(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        raise RuntimeError("nvImageCodec is not available")

    monkeypatch.setattr(gpu_executor, "build_pipeline", unbuildable)
    monkeypatch.setattr(gpu_executor, "_BUILD_ERRORS", {})
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=24, w=24).normalize("imagenet"),
                           dataio.batch(4, prefetch=1))
    records = [{"image": p} for p in jpeg_paths[:16]]
    with caplog.at_level("WARNING", logger="dataio"):
        gpu = run_with("gpu", pipe, records, seed=1)
        gpu_again = run_with("gpu", pipe, records, seed=1)
    assert len(calls) == 1  # built once, never retried in this process
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "could not be built" in caplog.records[0].message and "nvImageCodec" in caplog.records[0].message
    executor = LAST["executor"]
    assert executor.counters()["graph_build_errors"] == {"image": "RuntimeError: nvImageCodec is not available"}
    assert executor.stats.graph_rows == 0 and executor.stats.cpu_reruns == 0  # the second loader never deferred
    cpu = run_with("cpu", pipe, records, seed=1)
    for g, again, c in zip(gpu, gpu_again, cpu, strict=True):
        np.testing.assert_array_equal(g["image"], c["image"])
        np.testing.assert_array_equal(again["image"], c["image"])


def test_loader_stats_carry_the_executor_counters(jpeg_paths: list[str]) -> None:
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=16, w=16).normalize("imagenet"),
                           dataio.batch(4))
    with pipe.bind([{"image": p} for p in jpeg_paths[:8]]).run("numpy", device="cpu") as loader:
        list(loader)
        assert loader.stats()["executor"] == {}
    run_with("gpu", pipe, [{"image": p} for p in jpeg_paths[:8]])
    counters = LAST["executor"].counters()
    assert counters["graph_rows"] == 8 and counters["graph_build_errors"] == {}


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The pipelines the GPU executor builds from now on (an empty cache first, released after the test), by their
    keyword arguments."""
    from dataio.gpu import executor as gpu_executor

    built: list[dict[str, Any]] = []
    real_build = gpu_executor.build_pipeline
    monkeypatch.setattr(gpu_executor, "build_pipeline", lambda *a, **k: built.append(k) or real_build(*a, **k))
    monkeypatch.setattr(gpu_executor, "_GRAPHS", {})
    yield built
    gpu_executor.release_graphs()


def test_a_corrupt_jpeg_costs_only_its_own_batch_and_no_rebuild(jpeg_paths: list[str], tmp_path: Path,
                                                                  no_draft: None, builds: list[Any]) -> None:
    """DALI's dynamic executor: the iterations scheduled around the bad one survive in the graph."""
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=32, w=32).normalize("imagenet"),
                           dataio.slot("label").decode_npy(), dataio.batch(4, prefetch=4))
    records = mixed_records(jpeg_paths, tmp_path, corrupt_jpeg(jpeg_paths))
    out = run_with("gpu", pipe, records, seed=2)
    stats = LAST["executor"].stats
    assert len(builds) == 1 and stats.failed_batches == 1
    assert stats.cpu_reruns == 4 and stats.graph_rows == 7  # only the corrupt row's batch reran on the CPU
    assert [e["key"] for b in out for e in b.errors] == ["bad"]


SPLIT_CHAINS = {  # the host's part draws too (a branch has no graph node): it continues the record's generator
    "rrc+hflip+normalize | sometimes(gaussian_noise)": lambda s: s.random_resized_crop(h=48, w=48).hflip()
    .normalize("imagenet").apply(dataio.transforms.sometimes(dataio.transforms.gaussian_noise(std=0.5))),
    "rrc+color_jitter+normalize | sometimes(gaussian_noise)": lambda s: s.random_resized_crop(h=48, w=48)
    .color_jitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1).normalize("imagenet")
    .apply(dataio.transforms.sometimes(dataio.transforms.gaussian_noise(std=0.5))),
    "resize+crop | median_blur(radius 2)+normalize": lambda s: s.resize_short(72).center_crop(h=64, w=64)
    .median_blur(radius=2).normalize("imagenet"),
    "resize | resize+normalize": lambda s: s.resize(h=96, w=96).resize(h=40, w=40).normalize("imagenet"),
}


@pytest.mark.parametrize("separate", [False, True], ids=["host-buffers", "device-layout"])
@pytest.mark.parametrize("name", list(SPLIT_CHAINS))
def test_the_graph_runs_the_front_of_a_chain_and_the_host_the_rest(jpeg_paths: list[str], no_draft: None,
                                                                   name: str, separate: bool) -> None:
    """Decode, geometry and pixel ops in the graph, the ops without a graph node on the CPU kernels on its output,
    drawing from the same record generator after the graph's draws: the CPU fallback's values."""
    pipe = dataio.pipeline(SPLIT_CHAINS[name](dataio.slot("image").decode_image()), dataio.batch(6))
    records = [{"image": p} for p in jpeg_paths[:12]]
    gpu = run_with("gpu", pipe, records, seed=6, delivery=Delivery.host(separate=separate))
    graph = LAST["executor"].graphs[0]
    assert graph.tail is not None and LAST["executor"].stats.graph_rows == len(records)
    cpu = run_with("cpu", pipe, records, seed=6)
    for g, c in zip(gpu, cpu, strict=True):
        assert g["image"].shape == c["image"].shape
        per_row = (np.abs(g["image"] - c["image"]) * LEVELS).reshape(len(g), -1).mean(axis=1)
        assert per_row.max() <= 1.5


def test_a_corrupt_jpeg_in_the_first_batch_costs_only_that_batch(jpeg_paths: list[str], no_draft: None,
                                                                 builds: list[Any]) -> None:
    """The first batch is fed prefetch times to prime DALI: its failed duplicates are not failures in a row."""
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=32, w=32).normalize("imagenet"),
                           dataio.batch(4, prefetch=4))
    records = [{"key": f"j{i}", "image": p} for i, p in enumerate(jpeg_paths[:16])]
    records[1] = {"key": "bad", "image": corrupt_jpeg(jpeg_paths)}
    out = run_with("gpu", pipe, records, seed=2)
    stats = LAST["executor"].stats
    assert len(builds) == 1 and stats.failed_batches == 1 and stats.cpu_reruns == 4 and stats.graph_rows == 12
    assert [e["key"] for b in out for e in b.errors] == ["bad"]


HOST_TAILS = {  # configurations of graph-capable ops that the graph leaves to the host, and why
    # one channel is its own luma: the graph declines it (a node must use the inputs it declares)
    "grayscale of a grey slot": (lambda s: s.apply(dataio.transforms.grayscale(num_output_channels=1, prob=0.5)),
                                 {"mode": "gray"}),
    "rand_augment of no operations": (lambda s: s.rand_augment(n=0), {}),  # it changes nothing
}


@pytest.mark.parametrize("name", list(HOST_TAILS))
def test_configurations_the_graph_declines_run_on_the_host(jpeg_paths: list[str], no_draft: None, name: str) -> None:
    chain, decoder = HOST_TAILS[name]
    pipe = dataio.pipeline(chain(dataio.slot("image").decode_image(**decoder).resize(h=32, w=40)), dataio.batch(4))
    records = [{"image": p} for p in jpeg_paths[:8]]
    gpu = run_with("gpu", pipe, records, seed=3)
    stats = LAST["executor"].stats
    assert LAST["executor"].graphs[0].tail == 1 and stats.failed_batches == 0 and stats.graph_rows == 8
    cpu = run_with("cpu", pipe, records, seed=3)
    for g, c in zip(gpu, cpu, strict=True):
        assert np.abs(g["image"].astype(int) - c["image"].astype(int)).mean() <= 1.5


def test_cached_pipelines_are_released_before_interpreter_exit(jpeg_paths: list[str]) -> None:
    """release_graphs runs atexit (DALI issue #6166: destroying pipelines during teardown can abort)."""
    import subprocess
    import sys
    import textwrap

    from dataio.gpu import executor as gpu_executor

    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=16, w=16).normalize("imagenet"),
                           dataio.batch(4, prefetch=2))
    run_with("gpu", pipe, [{"image": p} for p in jpeg_paths[:6]])
    assert any(k[0] == pipe.signature for k in gpu_executor._GRAPHS)
    gpu_executor.release_graphs()
    assert not gpu_executor._GRAPHS
    again = run_with("gpu", pipe, [{"image": p} for p in jpeg_paths[:6]])  # a new pipeline is built on demand
    assert LAST["executor"].stats.graph_rows == 6 and sum(len(b) for b in again) == 6
    script = textwrap.dedent(f"""
        import dataio
        from dataio.gpu import executor
        from dataio.runtime.loader import DataLoader
        from dataio.runtime.options import validate_run
        pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=16, w=16), dataio.batch(2, prefetch=3))
        records = [{{"image": p}} for p in {jpeg_paths[:5]!r}]
        options = validate_run(pipe.plan, output="numpy", concurrency="auto", on_failure="skip", log_errors=False,
                               order=None, seed=0, context=None, pin_memory=False, ragged="list", device="cpu",
                               emit_empty_batches=True, max_prefetch_bytes=None)
        gpu = executor.GpuExecutor(pipe.plan, options, on_gpu=False)
        loader = DataLoader(pipe.plan, records, options, gpu, dataio.ShardSpec(id=0, of=1))
        print(len(next(iter(loader))), gpu.stats.graph_rows, len(executor._GRAPHS))
        # exit with the pipeline cached and an iteration abandoned: the atexit release drains and drops it
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["2", "2", "1"]


def test_dali_outputs_become_the_column_without_a_copy_and_outlive_later_batches(jpeg_paths: list[str],
                                                                                 no_draft: None) -> None:
    """DALI's dynamic executor hands each iteration's outputs over: a column of every row in order is adopted as
    it is, and stays intact while later iterations run (batches kept until the end here)."""
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=32, w=32).normalize("imagenet"),
                           dataio.batch(4, prefetch=3))
    records = [{"image": p} for p in jpeg_paths[:16]]
    gpu = run_with("gpu", pipe, records, seed=1, delivery=Delivery.host(separate=True))
    stats = LAST["executor"].stats
    assert stats.adopted_columns == len(gpu) == 4 and stats.graph_rows == 16
    cpu = run_with("cpu", pipe, records, seed=1)
    for g, c in zip(gpu, cpu, strict=True):
        assert g.keys == c.keys
        per_row = (np.abs(g["image"] - c["image"]) * LEVELS).reshape(len(g), -1).mean(axis=1)
        assert per_row.max() <= 1.5


def test_a_column_with_rows_from_the_host_is_copied_not_adopted(jpeg_paths: list[str], tmp_path: Path,
                                                                no_draft: None) -> None:
    """A row made on the CPU (a GIF: a format the graph does not take) sits in the first batch's column: DALI's
    output cannot be that column, so it is copied in, and the host row with it."""
    gif = tmp_path / "x.gif"
    Image.open(jpeg_paths[0]).convert("P").save(gif)
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=32, w=32).normalize("imagenet"),
                           dataio.batch(4))
    records = [{"image": str(gif)}] + [{"image": p} for p in jpeg_paths[:7]]
    gpu = run_with("gpu", pipe, records, seed=1, delivery=Delivery.host(separate=True))
    stats = LAST["executor"].stats
    assert stats.adopted_columns == 1 and stats.graph_rows == 7  # the second batch is all graph rows
    cpu = run_with("cpu", pipe, records, seed=1)
    for g, c in zip(gpu, cpu, strict=True):
        per_row = (np.abs(g["image"] - c["image"]) * LEVELS).reshape(len(g), -1).mean(axis=1)
        assert per_row.max() <= 1.5


def test_past_the_cache_limit_the_least_recently_used_pipeline_is_released(jpeg_paths: list[str],
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from dataio.gpu import executor as gpu_executor

    monkeypatch.setattr(gpu_executor, "_GRAPHS", {})
    monkeypatch.setattr(gpu_executor, "MAX_CACHED_GRAPHS", 2)
    records = [{"image": p} for p in jpeg_paths[:4]]
    pipes = [dataio.pipeline(dataio.slot("image").decode_image().resize(h=size, w=size).normalize("imagenet"),
                             dataio.batch(4)) for size in (16, 24, 32)]
    queues = []
    for pipe in pipes:
        run_with("gpu", pipe, records)
        queues.append(next(c.queue for k, c in gpu_executor._GRAPHS.items() if k[0] == pipe.signature))
    assert len(gpu_executor._GRAPHS) == 2 and {k[0] for k in gpu_executor._GRAPHS} == {p.signature for p in pipes[1:]}
    queues[0]._driver.join(30)  # retired in the background: drained, then its driver stops
    assert not queues[0]._driver.is_alive() and queues[1]._driver.is_alive()
    run_with("gpu", pipes[1], records)  # used again: now the most recent, so the next eviction spares it
    run_with("gpu", pipes[0], records)
    assert {k[0] for k in gpu_executor._GRAPHS} == {pipes[1].signature, pipes[0].signature}
    gpu_executor.release_graphs()  # this test's cache, before the module's own is put back


def test_per_row_values_are_views_of_dali_outputs_that_outlive_later_batches(jpeg_paths: list[str],
                                                                             no_draft: None) -> None:
    """Rows of different shapes: each is a view of its sample in the iteration's own outputs (no copy), intact
    while later iterations run."""
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize_short(40), dataio.batch(4, prefetch=3))
    records = [{"image": p} for p in jpeg_paths[:16]]
    gpu = run_with("gpu", pipe, records, seed=1, delivery=Delivery.host(separate=True))
    assert LAST["executor"].stats.graph_rows == 16
    cpu = run_with("cpu", pipe, records, seed=1)
    for g, c in zip(gpu, cpu, strict=True):
        for row_g, row_c in zip(g["image"], c["image"], strict=True):
            assert row_g.shape == row_c.shape
            assert np.abs(row_g.astype(int) - row_c.astype(int)).mean() <= 1.5


def test_policy_rows_match_the_cpu_fallback_operation_by_operation() -> None:
    """TrivialAugmentWide over enough rows that every operation is drawn: the graph's rows equal the CPU
    fallback's bit for bit, but for nearest-neighbour warps (Pillow's 16.16 fixed point: a few pixels may take a
    neighbour's value). No row is declined: Equalize runs in the graph too."""
    import io

    from dataio._synthetic import synthetic_image
    from dataio.ops import augment as A
    from dataio.ops.draws import draw_policy
    from dataio.seeds import derive, generator

    rng = np.random.default_rng(8)
    images = [synthetic_image(rng, int(rng.integers(20, 60)), int(rng.integers(20, 60))) for _ in range(90)]
    records = []
    for i, image in enumerate(images):
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        records.append({"key": f"r{i}", "image": buffer.getvalue()})
    pipe = dataio.pipeline(dataio.slot("image").decode_image().trivial_augment_wide(), dataio.batch(30))
    gpu = run_with("gpu", pipe, records, seed=5)
    stats = LAST["executor"].stats
    cpu = run_with("cpu", pipe, records, seed=5)
    drawn = [draw_policy(generator(derive(5, 0, i)), A.TrivialAugmentWide(), im.height, im.width)[0][0]
             for i, im in enumerate(images)]
    assert set(drawn) == set(A.operation_space(31, 8, 8, wide=True))  # every operation, Equalize included
    assert stats.declined_rows == 0 and stats.graph_rows == len(records)
    values_g = [v for b in gpu for v in b["image"]]
    values_c = [v for b in cpu for v in b["image"]]
    for name, g, c in zip(drawn, values_g, values_c, strict=True):
        differs = (np.asarray(g) != np.asarray(c)).any(axis=-1).mean()
        assert differs <= (0.01 if name in ("ShearX", "ShearY", "Rotate") else 0.0), name


def test_per_record_arguments_are_read_at_batch_planning_and_bad_ones_fail_their_row(jpeg_paths: list[str],
                                                                                  no_draft: None) -> None:
    """``col(...)`` arguments of the geometry and of a pixel op: resolved per row when the batch is planned; a bad
    value fails only its row, with the CPU kernel's message, and a missing field is fatal, as on the CPU."""
    pipe = dataio.pipeline(
        dataio.slot("image").decode_image().resize(h=dataio.col("h"), w=40).center_crop(h=32, w=32)
        .pad(top=dataio.col("top"), bottom=0, left=2, right=2),
        dataio.batch(4))
    records = [{"image": p, "h": 36 + i, "top": i % 3} for i, p in enumerate(jpeg_paths[:8])]
    records[1]["h"] = -3  # not an int >= 1
    records[6]["top"] = "x"  # not an int
    gpu = run_with("gpu", pipe, records)
    stats = LAST["executor"].stats
    assert stats.graph_rows == 6 and stats.declined_rows == 2 and stats.failed_batches == 0
    cpu = run_with("cpu", pipe, records)
    assert [[(e["key"], e["op"], e["message"]) for e in b.errors] for b in gpu] == \
        [[(e["key"], e["op"], e["message"]) for e in b.errors] for b in cpu]
    assert sum(len(b.errors) for b in gpu) == 2
    for g, c in zip(gpu, cpu, strict=True):
        for row_g, row_c in zip(g["image"], c["image"], strict=True):
            diff = np.abs(row_g.astype(int) - row_c.astype(int))  # a resample: the stated ≤ 5 levels, mean ≤ 0.5
            assert row_g.shape == row_c.shape and diff.max() <= 5 and diff.mean() <= 0.5
    del records[5]["top"]
    with pytest.raises(KeyError, match="missing field .top."):  # RecordError, a KeyError (docs/api.md)
        run_with("gpu", pipe, records)
