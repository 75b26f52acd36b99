"""``python -m dataio``: the report, its JSON form, exit codes and quiet broken pipes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dataio._cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dataio", *args], capture_output=True, text=True, timeout=120)


def test_text_report_sections() -> None:
    done = run_cli()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dataio-gpu ")
    for section in ("Subsystems", "nvJPEG decode", "CUDA pinned host", "cuFile (GDS)", "GPU stack", "CUDA driver",
                    "DALI", "CV-CUDA", "nvImageCodec", "kvikio", "cupy", "torch", "Executor", "Env overrides"):
        assert section in done.stdout, section


@pytest.mark.parametrize("args", [("--json",), ("info", "--json"), ("--json", "info")])
def test_json_report(args: tuple[str, ...]) -> None:
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {"version", "platform", "python", "subsystems", "env_overrides", "gpu_stack", "executor"} <= set(report)
    assert set(report["subsystems"]) == {"nvjpeg", "cuda_pinning", "gds"}
    assert {"available", "library_version", "read_ready", "batch_ready"} <= set(report["subsystems"]["gds"])
    assert report["executor"]["auto"] in ("gpu", "cpu_fallback") and report["executor"]["reason"]
    for name, package in report["gpu_stack"]["packages"].items():
        assert package["usable"] or package["reason"], name  # every "no" has its reason


def test_env_overrides_hide_secrets() -> None:
    env = {"DATAIO_CPU_WORKERS": "3", "AWS_SECRET_ACCESS_KEY": "hunter2", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "dataio", "--json"], capture_output=True, text=True, env=env,
                          timeout=120)
    overrides = {o["name"]: o for o in json.loads(done.stdout)["env_overrides"]}
    assert overrides["DATAIO_CPU_WORKERS"]["current"] == "3"
    assert overrides["AWS_SECRET_ACCESS_KEY"]["current"] == "<set>" and "hunter2" not in done.stdout


def test_usage_error_exits_2() -> None:
    assert run_cli("no-such-command").returncode == 2


def test_operation_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--images", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["dataio: error: ValueError: --images must be >= 1; got 0"]


def test_closed_stdout_pipe_is_quiet() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "dataio"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(1)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_demo_prints_throughput(tmp_path: object) -> None:
    done = run_cli("demo", "--images", "16", "--batch-size", "8", "--epochs", "1", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "samples/s" in done.stdout and "[8, 3, 224, 224]" in done.stdout
