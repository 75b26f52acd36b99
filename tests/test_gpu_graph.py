"""The DALI graph of the GPU executor, run with DALI's CPU operators and compared with the CPU fallback.

Stated tolerances (normalised ImageNet tensors, expressed in 8-bit levels):
- decode alone: bit-exact with Pillow for baseline JPEG;
- quick-start chain: mean |Δ| ≤ 0.15 and max ≤ 5 levels against the CPU fallback without
  its JPEG draft shortcut; mean ≤ 0.5 levels with it (the GPU path never drafts);
- random chains: geometry and draws identical (same windows and flips), pixels as above.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import dataio
from parity_cases import GRAPH_CHAINS, graph_chain_pipeline
from dataio.formats.image_header import read_header
from dataio.runtime.chain import ChainContext
from dataio.seeds import derive

dali = pytest.importorskip("nvidia.dali")

from dataio.gpu.graph import build_pipeline, define_pipeline, feed, graph_ops, graph_slots  # noqa: E402
from dataio.ops.geometry import plan_batch  # noqa: E402

LEVELS = 255 * 0.226  # one 8-bit level after ImageNet normalisation (mean std)


def run_graph(pipe: dataio.Pipeline, paths: list[str], *, seed: int = 0) -> np.ndarray:
    """Run the pipeline's graph in CPU mode over ``paths`` (one batch), planning samples on the host."""
    slots = graph_slots(pipe.plan)
    assert len(slots) == 1
    graph = build_pipeline(slots, batch_size=len(paths), device_id=None, on_gpu=False)
    payloads = [open(p, "rb").read() for p in paths]
    headers = [read_header(payload) for payload in payloads]
    contexts = [ChainContext({"image": path}, derive(seed, 0, index), repr(index), path)
                for index, path in enumerate(paths)]
    plan = plan_batch(slots[0].geometry, np.array([h.height for h in headers]), np.array([h.width for h in headers]),
                      contexts)
    assert plan.planned.all()
    feed(graph, slots, [payloads], [plan])
    (out,) = graph.run()
    return np.stack([np.asarray(out[i]) for i in range(len(paths))])


def run_cpu(pipe: dataio.Pipeline, paths: list[str], *, seed: int = 0) -> np.ndarray:
    with pipe.bind([{"image": p} for p in paths]).run("numpy", device="cpu", seed=seed) as loader:
        return np.concatenate([b["image"] for b in loader])


def quickstart(batch: int) -> dataio.Pipeline:
    from dataio._demo import quickstart_pipeline

    return quickstart_pipeline(batch)


def test_decode_is_bit_exact_with_pillow(jpeg_paths: list[str]) -> None:
    pipe = dataio.pipeline(dataio.slot("image").decode_image(), dataio.batch(4))
    slots = graph_slots(pipe.plan)
    graph = build_pipeline(slots, batch_size=4, device_id=None, on_gpu=False)
    payloads = [open(p, "rb").read() for p in jpeg_paths[:4]]
    feed(graph, slots, [payloads], [plan_batch((), np.ones(4, int), np.ones(4, int))])  # decode only: no geometry
    (out,) = graph.run()
    expected = run_cpu_rows(pipe, jpeg_paths[:4])
    for i in range(4):
        np.testing.assert_array_equal(np.asarray(out[i]), expected[i])


def run_cpu_rows(pipe: dataio.Pipeline, paths: list[str]) -> list[np.ndarray]:
    with pipe.bind([{"image": p} for p in paths]).run("numpy", device="cpu") as loader:
        return [row for b in loader for row in b["image"]]


def test_quickstart_matches_the_cpu_fallback(jpeg_paths: list[str], no_draft: None) -> None:
    pipe = quickstart(len(jpeg_paths))
    graph, cpu = run_graph(pipe, jpeg_paths), run_cpu(pipe, jpeg_paths)
    assert graph.shape == cpu.shape == (len(jpeg_paths), 3, 224, 224) and graph.dtype == np.float32
    difference = np.abs(graph - cpu) * LEVELS
    assert difference.mean() <= 0.15 and difference.max() <= 5.0


def test_quickstart_against_the_drafting_cpu_path(jpeg_paths: list[str]) -> None:
    pipe = quickstart(len(jpeg_paths))
    assert (np.abs(run_graph(pipe, jpeg_paths) - run_cpu(pipe, jpeg_paths)) * LEVELS).mean() <= 0.5


@pytest.mark.parametrize("chain", [
    lambda s: s.random_resized_crop(h=64, w=48).hflip().normalize("imagenet"),
    lambda s: s.resize_short(96).random_crop(h=80, w=80).vflip(prob=0.5).hflip().normalize("imagenet"),
    lambda s: s.hflip().center_crop(h=200, w=120).resize(h=50, w=40, interp="bilinear").normalize("imagenet"),
    lambda s: s.fit_to_bucket(h=64, w=96).normalize("imagenet"),
])
def test_random_chains_draw_and_cut_like_the_cpu_fallback(jpeg_paths: list[str], no_draft: None,
                                                          chain: Any) -> None:
    pipe = dataio.pipeline(chain(dataio.slot("image").decode_image()), dataio.batch(len(jpeg_paths)))
    graph, cpu = run_graph(pipe, jpeg_paths, seed=9), run_cpu(pipe, jpeg_paths, seed=9)
    assert graph.shape == cpu.shape
    per_row = (np.abs(graph - cpu) * LEVELS).reshape(len(jpeg_paths), -1).mean(axis=1)
    assert per_row.max() <= 1.5, per_row  # a wrong window or flip would give tens of levels


def test_gpu_variant_is_defined_and_serialised_without_a_gpu() -> None:
    slots = graph_slots(quickstart(8).plan)
    pipeline, outputs = define_pipeline(slots, batch_size=8, device_id=None, on_gpu=True)
    assert len(pipeline.serialize()) > 0
    ops = graph_ops(outputs)
    assert ops[:3] == [("CropMirrorNormalize", "gpu"), ("experimental__Resize", "gpu"), ("decoders__Image", "gpu")]
    assert all(device == "cpu" for name, device in ops if name == "ExternalSource")
    cpu_ops = graph_ops(define_pipeline(slots, batch_size=8, device_id=None, on_gpu=False)[1])
    assert all(device == "cpu" for _, device in cpu_ops) and ("Resize", "cpu") in cpu_ops


def test_the_graph_runs_the_front_of_each_chain_and_explain_says_where_it_stops() -> None:
    """Slot a: the graph would hand a full-size image to the host, so the CPU runs it all; b: the graph stops at the
    second resample; c: no image; d: all in the graph."""
    pipe = dataio.pipeline(dataio.slot("a").decode_image().canny(low=50.0, high=150.0),
                           dataio.slot("b").decode_image().resize(h=8, w=8).resize(h=4, w=4),
                           dataio.slot("c").decode_npy(),
                           dataio.slot("d").decode_image().center_crop(h=8, w=8).apply(dataio.transforms.unit_chw()),
                           dataio.batch(2))
    graphs = {g.name: g for g in graph_slots(pipe.plan)}
    assert sorted(graphs) == ["b", "d"] and graphs["b"].tail == 1 and graphs["d"].tail is None
    text = pipe.explain(device="cuda")
    assert "transforms.canny" in text and "Sobel + NMS + hysteresis" in text
    assert ("no graph node for transforms.canny, and no resize or crop before it: the whole slot runs on the CPU "
            "kernels") in text
    second = [line for line in text.splitlines() if "transforms.resize " in line][1]
    assert " cpu " in second and "a second resample" in second
    line = next(line for line in text.splitlines() if "transforms.unit_chw" in line)
    assert " gpu " in line and "crop_mirror_normalize" in line


def test_decoder_settings_come_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Few DALI threads: more JPEGs to the hardware decoder; fancy upsampling always; hints from the batch."""
    from dataio.gpu.settings import HYBRID_THREADS, PREALLOCATE_LIMIT, machine_settings

    monkeypatch.setenv("DATAIO_DALI_THREADS", "2")
    few = machine_settings(True, [(375, 500), (1200, 900)])
    assert (few.num_threads, few.hw_decoder_load, few.preallocate) == (2, 0.9, (1200, 900))
    monkeypatch.setenv("DATAIO_DALI_THREADS", str(HYBRID_THREADS))
    many = machine_settings(True, [(20_000, 10)])
    assert (many.num_threads, many.hw_decoder_load, many.preallocate) == (HYBRID_THREADS, 0.65, (PREALLOCATE_LIMIT, 10))
    assert machine_settings(False).decoder_args() == {"jpeg_fancy_upsampling": True}  # mixed-only options left out
    pipe, _ = define_pipeline(graph_slots(quickstart(8).plan), batch_size=8, device_id=None, on_gpu=True,
                              settings=few)
    serialized = pipe.serialize()  # the GPU variant, defined and serialised without a GPU
    for argument in (b"jpeg_fancy_upsampling", b"hw_decoder_load", b"preallocate_width_hint"):
        assert argument in serialized


@pytest.mark.parametrize("name", [n for n in GRAPH_CHAINS if GRAPH_CHAINS[n][0] is not None])
def test_every_parity_chain_has_a_gpu_variant_that_serialises(name: str) -> None:
    """The GPU operators of every node exist with the arguments the nodes pass (DALI checks them when it
    defines the graph), and every node the decoded pixels — or a graph constant, like the noise node's indices —
    flow through runs on the GPU (the host's per-sample arguments, and what is computed from them alone, stay on
    the CPU, as DALI wants them)."""
    slots = graph_slots(graph_chain_pipeline(name).plan)
    pipeline, outputs = define_pipeline(slots, batch_size=4, device_id=None, on_gpu=True)
    assert len(pipeline.serialize()) > 0
    assert not pixel_nodes_on_the_cpu(outputs)
    assert pixel_nodes_on_the_cpu(define_pipeline(slots, batch_size=4, device_id=None, on_gpu=False)[1])  # it sees


def pixel_nodes_on_the_cpu(outputs: list[Any]) -> list[str]:
    """Operators downstream of the image decoder's pixels whose output lives on the CPU."""
    downstream: dict[int, bool] = {}

    def reads_pixels(node: Any) -> bool:
        source = node.source
        if id(source) not in downstream:
            name = getattr(type(source._op), "schema_name", "")
            downstream[id(source)] = name in ("decoders__Image", "Constant") or (name != "_Shape" and any(
                reads_pixels(i) for i in source._inputs or []))  # a shape is metadata, not pixels
        return downstream[id(source)]

    found, stack, seen = [], list(outputs), set()
    while stack:
        node = stack.pop()
        if id(node.source) in seen:
            continue
        seen.add(id(node.source))
        name = getattr(type(node.source._op), "schema_name", type(node.source._op).__name__)
        if node.device == "cpu" and reads_pixels(node):
            found.append(name)
        stack.extend(node.source._inputs or [])
    return found


def test_the_first_contact_probe_builds_and_decodes_with_dali_cpu_operators() -> None:
    from dataio.gpu.probe import probe_graph

    assert probe_graph(None) is None  # python -m dataio runs the same probe on the device when the GPU is ready


def test_the_report_shows_a_graph_that_cannot_be_built() -> None:
    from dataio._report import render_text, report_dict

    report = report_dict()
    assert report["executor"]["graph"] is None  # no GPU executor here: nothing to try
    report["executor"].update(auto="gpu", reason="CUDA 13.0 driver, 1 device(s), DALI 2.4.0",
                              graph={"ok": False, "error": "RuntimeError: nvImageCodec is not available"})
    text = render_text(report)
    assert "DALI graph: FAILS (RuntimeError: nvImageCodec is not available)" in text


def test_a_node_that_does_not_take_an_op_configuration_hands_it_to_the_host() -> None:
    """grayscale's node keeps the channel count; one channel out of three runs on the CPU kernels."""
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=40, w=40).grayscale(num_output_channels=1)
                           .apply(dataio.transforms.unit_chw()), dataio.batch(2))
    (graph,) = graph_slots(pipe.plan)
    assert graph.tail == 1 and "does not take" in (graph.stop or "")
    line = next(line for line in pipe.explain(device="cuda").splitlines() if "transforms.grayscale" in line)
    assert " cpu " in line and "does not take" in line
