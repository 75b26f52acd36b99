"""``loader.stats()``: stage timings, counts, queue depths and the bottleneck line (no timing asserts)."""

from __future__ import annotations

import json
from pathlib import Path

import dataio
from dataio.runtime.stats import STAGES, bottleneck


def test_stats_account_for_every_stage_and_row(jpeg_paths: list[str], tmp_path: Path) -> None:
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    records = [{"image": p} for p in jpeg_paths[:9]] + [{"image": str(tmp_path / "bad.jpg")}]
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=32, w=32).normalize("imagenet"),
                           dataio.batch(4))
    with pipe.bind(records).run("numpy", device="cpu") as loader:
        before = loader.stats()
        assert before["batches"] == 0 and before["bottleneck"] == "no batches yet"
        batches = list(loader)
        stats = loader.stats()
    assert len(batches) == 3
    assert stats["batches"] == 3 and stats["records"] == 9 and stats["failed_rows"] == 1
    assert set(stats["stages"]) == set(STAGES)
    for stage in STAGES:
        assert stats["stages"][stage]["calls"] > 0, stage
        assert stats["stages"][stage]["seconds"] >= 0.0
    assert stats["stages"]["decode"]["calls"] == 10 and stats["stages"]["read"]["calls"] == 10
    assert stats["stages"]["wait"]["calls"] >= 3 and stats["workers"] >= 1
    assert set(stats["queues"]) == {"records_in_flight", "batches_open", "batches_ready"}
    assert isinstance(stats["bottleneck"], str) and stats["records_per_s"] > 0
    json.dumps(stats)


def test_the_bottleneck_line_reads_the_totals() -> None:
    totals = dict.fromkeys(STAGES, 0.0)
    assert bottleneck(totals, 2) == "no batches yet"
    assert bottleneck({**totals, "decode": 4.0, "wait": 3.0}, 2).startswith("decoding")
    assert bottleneck({**totals, "read": 9.0, "decode": 1.0, "wait": 3.0}, 2).startswith("reading")
    assert bottleneck({**totals, "decode": 4.0, "wait": 0.0, "collate": 1.0}, 2).startswith("the consumer")
