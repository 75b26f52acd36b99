"""The benchmark drivers still run end to end (tiny sizes; no figures are checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.slow
def test_cpu_benchmark_runs_its_loaders_and_reports_missing_peers(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    cmd = [sys.executable, str(BENCHMARKS / "quickstart.py"), "--images", "16", "--rounds", "1", "--epochs", "1",
           "--workers", "1", "--batch-size", "8", "--data", str(tmp_path / "data"), "--out", str(tmp_path),
           "--plot", str(tmp_path / "plot.png"), "--tables", str(tmp_path / "tables.md"),
           "--loaders", "dataio", "dataio-pillow", "torch-pil", "pil-threads", "decode-pillow", "spdl"]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    report = json.loads((tmp_path / "quickstart.json").read_text())
    for loader in ("dataio", "dataio-pillow", "torch-pil", "pil-threads", "decode-pillow"):
        result = report["results"][f"{loader}@1"]
        assert result["rate"] > 0 and result["cpu_ms"] > 0 and result["peak_mb"] > 0
    assert "spdl@1" in report["results"] or "spdl" in report["not_run"]  # run, or reported with the reason
    assert "| dataio CPU fallback | 1 |" in (tmp_path / "quickstart.md").read_text()
    assert (tmp_path / "plot.png").stat().st_size > 0 and "Machine:" in (tmp_path / "tables.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("pipeline", ["quickstart", "augment"])
def test_gpu_benchmark_smoke_runs_without_a_gpu(tmp_path: Path, pipeline: str) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("nvidia.dali")
    cmd = [sys.executable, str(BENCHMARKS / "gpu_quickstart.py"), "--smoke", "--images", "16", "--runs", "1",
           "--batch-size", "8", "--data", str(tmp_path / "data"), "--out", str(tmp_path), "--pipeline", pipeline]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    name = "gpu_quickstart.json" if pipeline == "quickstart" else f"gpu_{pipeline}.json"
    results = {r["loader"]: r for r in json.loads((tmp_path / name).read_text())["results"]}
    assert results["dataio"]["median"] > 0 and results["dali"]["median"] > 0
    assert "error" in results["torchvision"]  # needs CUDA: reported, not dropped


def test_host_path_benchmark_runs_on_dali_cpu_operators(tmp_path: Path) -> None:
    pytest.importorskip("nvidia.dali")
    cmd = [sys.executable, str(BENCHMARKS / "gpu_host_path.py"), "--images", "16", "--batch-size", "8",
           "--repeats", "1", "--data", str(tmp_path / "data"), "--profile"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
    rows = dict(line.strip("|").split("|") for line in out.splitlines()
                if line.startswith("| ") and "µs" not in line and "(" not in line)
    stages = {"seeds", "prepare", "run_row", "record", "plan", "feed", "total"}
    assert stages | {"MainThread", "dataio-cpu", "loader threads"} == {name.strip() for name in rows}
    assert all(float(value) > 0 for name, value in rows.items() if name.strip() != "seeds")
    assert "function calls" in out and "dataio-dali-driver" in out
