"""``python -m dataio``: the report in text and JSON, exit statuses, one-line errors, quiet broken pipes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import dataio._report
from dataio._cli import main

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("Subsystems", "nvJPEG decode", "CUDA pinned host", "cuFile (GDS)", "GPU stack", "CUDA driver", "DALI",
            "CV-CUDA", "nvImageCodec", "kvikio", "cupy", "torch", "Executor", "Env overrides")


def run_cli(*args: str, env: dict[str, str] | None = None,
            stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    """``python -m dataio ARGS`` run from the repository root, so this checkout's ``dataio`` is imported."""
    return subprocess.run([sys.executable, "-m", "dataio", *args], cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE,
                          text=True, env=env, timeout=120, check=False)


def test_text_report_has_every_section() -> None:
    done = run_cli()
    assert done.returncode == 0, done.stderr
    first, platform_line = done.stdout.splitlines()[:2]
    assert first == f"dataio-gpu {dataio.__version__}"
    assert platform_line.startswith("platform: ") and "Python" in platform_line
    for section in SECTIONS:
        assert section in done.stdout, section
    assert done.stderr == ""


def test_every_no_in_the_text_has_a_reason() -> None:
    lines = dataio._report.render_text(dataio._report.report_dict()).splitlines()
    for label in ("nvJPEG decode", "CUDA pinned host", "cuFile (GDS)", "CUDA driver"):
        value = next(line for line in lines if line.startswith(f"  {label} ")).removeprefix(f"  {label}").strip()
        assert re.match(r"yes\b|no \(.+\)", value), (label, value)
    for name in ("DALI", "CV-CUDA", "nvImageCodec", "kvikio", "cupy", "torch"):
        value = next(line for line in lines if line.startswith(f"  {name} ")).removeprefix(f"  {name}").strip()
        assert re.search(r", usable$|not usable \(.+\)$|^not installed \(.+\)$", value), (name, value)


@pytest.mark.parametrize("args", [("--json",), ("info", "--json"), ("--json", "info")])
def test_json_report(args: tuple[str, ...]) -> None:
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {"version", "platform", "python", "subsystems", "env_overrides", "gpu_stack", "executor"} <= set(report)
    assert report["version"] == dataio.__version__ and {"system", "machine"} <= set(report["platform"])
    subsystems = report["subsystems"]
    assert set(subsystems) == {"nvjpeg", "cuda_pinning", "gds"}
    assert {"library_loaded", "library_version", "driver_open_ok", "driver_error", "available", "read_ready",
            "batch_ready"} <= set(subsystems["gds"])
    for name in ("nvjpeg", "cuda_pinning", "gds"):
        assert subsystems[name]["available"] or subsystems[name]["reason"], name
    assert set(report["gpu_stack"]["packages"]) == {"DALI", "CV-CUDA", "nvImageCodec", "kvikio", "cupy", "torch"}
    for name, package in report["gpu_stack"]["packages"].items():
        assert package["usable"] or package["reason"], name
    assert report["executor"]["auto"] in ("gpu", "cpu_fallback") and report["executor"]["reason"]
    assert subsystems["nvjpeg"]["available"] == (report["executor"]["auto"] == "gpu")


def test_env_overrides_are_listed_and_secrets_hidden() -> None:
    env = {**os.environ, "DATAIO_CPU_WORKERS": "3", "AWS_SECRET_ACCESS_KEY": "hunter2", "HF_TOKEN": "hf_hunter2"}
    done = run_cli("--json", env=env)
    assert done.returncode == 0, done.stderr
    overrides = {row["name"]: row for row in json.loads(done.stdout)["env_overrides"]}
    assert overrides["DATAIO_CPU_WORKERS"]["current"] == "3"
    assert overrides["DATAIO_CPU_WORKERS"]["default"] == "available CPUs, min 2"
    assert overrides["AWS_SECRET_ACCESS_KEY"]["current"] == overrides["HF_TOKEN"]["current"] == "<set>"
    assert "hunter2" not in done.stdout
    text = run_cli(env=env).stdout
    assert "DATAIO_CPU_WORKERS=3 (default: available CPUs, min 2)" in text and "hunter2" not in text


def test_no_overrides_says_none() -> None:
    report = {**dataio._report.report_dict(), "env_overrides": []}
    assert dataio._report.render_text(report).endswith("Env overrides\n  none")


@pytest.mark.parametrize("args", [("no-such-command",), ("info", "--bogus"), ("--json", "--bogus")])
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    done = run_cli(*args)
    assert done.returncode == 2 and "usage:" in done.stderr and "Traceback" not in done.stderr


def test_operation_error_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> dict[str, object]:
        raise dataio.DeviceUnavailable("probe failed\non two lines")

    monkeypatch.setattr(dataio._report, "report_dict", broken)
    assert main(["info"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "dataio: error: DeviceUnavailable: probe failed on two lines\n"


def test_demo_delegates_to_the_demo_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataio._demo

    seen: dict[str, Any] = {}

    def run_demo(args: Any) -> int:
        seen["args"] = args
        return 0

    monkeypatch.setattr(dataio._demo, "run_demo", run_demo)
    assert main(["demo", "--images", "3"]) == 0
    assert seen["args"].images == 3


def test_info_does_not_import_the_demo() -> None:
    code = "import sys; from dataio._cli import main; main(['--json']); assert 'dataio._demo' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr


def test_closed_stdout_pipe_is_quiet() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write: every write raises EPIPE
    try:
        done = run_cli(stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 0
    assert done.stderr == ""


@pytest.mark.slow
def test_demo_prints_throughput(tmp_path: Path) -> None:
    done = run_cli("demo", "--images", "16", "--batch-size", "8", "--epochs", "1", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "samples/s" in done.stdout and "[8, 3, 224, 224]" in done.stdout


def test_traceback_switch_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, object]:
        raise dataio.DeviceUnavailable("probe failed")

    monkeypatch.setattr(dataio._report, "report_dict", broken)
    with pytest.raises(dataio.DeviceUnavailable, match="probe failed"):
        main(["--traceback", "info"])


def test_ls_of_a_missing_path_is_an_error_and_of_an_empty_directory_is_not(tmp_path: Path) -> None:
    missing = run_cli("ls", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "no such file or directory" in missing.stderr and missing.stdout == ""
    empty = run_cli("ls", str(tmp_path))
    assert empty.returncode == 0 and empty.stdout == ""


def test_demo_refuses_an_unusable_device_before_making_images(tmp_path: Path) -> None:
    done = run_cli("demo", "--device", "cuda", "--dir", str(tmp_path), "--images", "4")
    assert done.returncode == 1 and "DeviceUnavailable" in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written
    help_text = run_cli("demo", "--help").stdout
    assert "synthetic set of ImageNet-shaped JPEGs" in help_text


def test_install_hints_name_the_distribution() -> None:
    from dataio._deps import install_hint

    assert install_hint("jax.dlpack") == "pip install jax"


def test_an_http_uri_without_aiohttp_names_the_extra() -> None:
    """Without aiohttp (simulated by a child process that cannot import it), an http(s) read says what to install."""
    code = ("import sys; sys.modules['aiohttp'] = None\n"
            "import dataio\n"
            "try:\n    dataio.read('http://127.0.0.1:9/x')\n"
            "except dataio.BackendUnavailable as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True)
    assert "http:// URIs needs the 'aiohttp' package" in done.stdout and "dataio-gpu[http]" in done.stdout
