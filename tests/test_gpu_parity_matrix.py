"""The parity matrix: every chain of ``tests/parity_cases.py`` (together, every op with a GPU graph node) on the
images that catch edge cases — tiny, odd-sized, grey, EXIF-rotated, PNG — through the graph on DALI's CPU
operators, against the CPU fallback. The same chains run on a device under the ``gpu`` marker (tests/gpu/).

Tolerance: the mean absolute difference per row, in 8-bit levels of the chain's output range
(``GRAPH_CHAINS``' level), at most 1.5, and for ``EXACT_CHAINS`` every value within the stated
levels (warps: all but a stated share of edge pixels); shapes, keys and decoded sizes identical.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from parity_cases import EXACT_CHAINS, GRAPH_CHAINS, edge_image_records, graph_chain_pipeline

pytest.importorskip("nvidia.dali")

from test_gpu_executor import LAST, run_with


@pytest.fixture(scope="module")
def edge_images() -> list[dict[str, Any]]:
    return edge_image_records()


@pytest.mark.parametrize("name", list(GRAPH_CHAINS))
def test_every_graph_chain_matches_the_cpu_fallback_on_edge_images(edge_images: list[dict[str, Any]],
                                                                   no_draft: None, name: str) -> None:
    level = GRAPH_CHAINS[name][1]
    pipe = graph_chain_pipeline(name)
    gpu = run_with("gpu", pipe, edge_images, seed=9)
    stats = LAST["executor"].stats
    cpu = run_with("cpu", pipe, edge_images, seed=9)
    assert [b.keys for b in gpu] == [b.keys for b in cpu] and [b.errors for b in gpu] == [b.errors for b in cpu]
    # every row went through the graph or was declined to the CPU kernels (a fixed crop outside the tall image,
    # a policy's Sharpness on a tiny image), where it may fail as on the CPU fallback
    assert stats.graph_rows + stats.declined_rows == len(edge_images) and stats.failed_batches == 0
    assert stats.graph_rows > 0
    for g, c in zip(gpu, cpu, strict=True):
        assert g.original_hws() == c.original_hws()
        for key, row_g, row_c in zip(g.keys, g["image"], c["image"], strict=True):  # stacked or per-row values
            assert row_g.shape == row_c.shape, key
            levels = np.abs(np.asarray(row_g, np.float64) - np.asarray(row_c, np.float64)) / level
            assert levels.mean() <= 1.5, key
            bound, share = EXACT_CHAINS.get(name, np.inf), 0.0
            if isinstance(bound, tuple):
                bound, share = bound
            assert (levels > bound + 1e-3).mean() <= share, key
