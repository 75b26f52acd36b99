"""The capability report of ``python -m dataio`` (docs/api.md §10), as JSON-ready data and as text.

One dict, built from :mod:`dataio.device` discovery, feeds both forms, so the text and
``--json`` outputs can never disagree. Every "no" carries its reason.
"""

from __future__ import annotations

import platform
from typing import Any

from dataio._version import __version__
from dataio.executors import cpu_kernel_report, probe_gpu_graph
from dataio.device import discover, env_overrides, gds_info, pinning_available, resolve_device


def report_dict() -> dict[str, Any]:
    """The capability report as JSON-ready data.

    Returns:
        ``{"version", "platform": {"system", "machine"}, "python", "subsystems": {"nvjpeg",
        "cuda_pinning", "gds"}, "gpu_stack": {"driver", "packages"}, "executor": {"auto",
        "reason", "graph"}, "cpu_kernels": {"setting", "libraries"}, "env_overrides"}``. nvJPEG decode is
        available iff the GPU executor is ready (it decodes through nvImageCodec/DALI). Where it is ready,
        ``executor["graph"]`` says whether a tiny DALI graph builds and decodes on the device
        (``{"ok", "error"}``); ``None`` where there is nothing to try.
    """
    caps = discover()
    pinning, pinning_reason = pinning_available()
    driver = caps.driver
    return {
        "version": __version__,
        "platform": {"system": platform.system(), "machine": platform.machine()},
        "python": platform.python_version(),
        "subsystems": {
            "nvjpeg": {"available": caps.gpu_executor_ready,
                       "reason": None if caps.gpu_executor_ready else caps.executor_reason},
            "cuda_pinning": {"available": pinning, "reason": pinning_reason},
            "gds": gds_info(),
        },
        "gpu_stack": {
            "driver": {"available": driver.available, "version": driver.version,
                       "device_count": driver.device_count, "reason": driver.reason},
            "packages": {name: {"module": p.module, "installed": p.installed, "version": p.version,
                                "usable": p.usable, "reason": p.reason} for name, p in caps.packages.items()},
        },
        "executor": {"auto": "gpu" if caps.gpu_executor_ready else "cpu_fallback", "reason": caps.executor_reason,
                     "graph": _graph_probe() if caps.gpu_executor_ready else None},
        "cpu_kernels": cpu_kernel_report(),
        "env_overrides": env_overrides(),
    }


def _yes_no(available: bool, reason: str | None) -> str:
    return "yes" if available else f"no ({reason})"


def _subsystem_lines(subsystems: dict[str, Any]) -> list[str]:
    gds = subsystems["gds"]
    gds_detail = (f"; library {gds['library_version'] or 'version unknown'}, read_ready {gds['read_ready']}, "
                  f"batch_ready {gds['batch_ready']}" if gds["library_loaded"] else "")
    return [
        "Subsystems",
        f"  nvJPEG decode     {_yes_no(subsystems['nvjpeg']['available'], subsystems['nvjpeg']['reason'])}",
        f"  CUDA pinned host  {_yes_no(subsystems['cuda_pinning']['available'], subsystems['cuda_pinning']['reason'])}",
        f"  cuFile (GDS)      {_yes_no(gds['available'], gds['reason'])}{gds_detail}",
    ]


def _package_line(name: str, p: dict[str, Any]) -> str:
    if not p["installed"]:
        return f"  {name:<17} {p['reason']}"
    version = p["version"] or "version unknown"
    return f"  {name:<17} {version}, " + ("usable" if p["usable"] else f"not usable ({p['reason']})")


def _gpu_stack_lines(stack: dict[str, Any]) -> list[str]:
    driver = stack["driver"]
    driver_text = (f"yes, CUDA {driver['version']}, {driver['device_count']} device(s)" if driver["available"]
                   else f"no ({driver['reason']})")
    return (["GPU stack", f"  CUDA driver       {driver_text}"]
            + [_package_line(name, p) for name, p in stack["packages"].items()])


def _cpu_kernel_lines(kernels: dict[str, Any]) -> list[str]:
    lines = [f"CPU fallback kernels (DATAIO_CPU_KERNELS={kernels['setting']}); Pillow + numpy always"]
    for name, library in kernels["libraries"].items():
        state = library["missing"] if not library["installed"] else (
            f"{library['version']}, {'used' if library['used'] else 'installed, not used'}")
        lines.append(f"  {name}: {state}")
    return lines


def _env_lines(overrides: list[dict[str, str]]) -> list[str]:
    if not overrides:
        return ["Env overrides", "  none"]
    lines = ["Env overrides"]
    for row in overrides:
        default = f" (default: {row['default']})" if row["default"] else ""
        lines.append(f"  {row['name']}={row['current']}{default}  - {row['description']}")
    return lines


def _graph_probe() -> dict[str, Any]:
    error = probe_gpu_graph(resolve_device("auto")[1])
    return {"ok": error is None, "error": error}


def render_text(report: dict[str, Any]) -> str:
    """The human-readable form of :func:`report_dict`.

    Args:
        report: a dict returned by :func:`report_dict`.

    Returns:
        ``dataio-gpu <version>``, a platform line, then the sections Subsystems, GPU stack,
        Executor, CPU fallback kernels and Env overrides, without a trailing newline.
    """
    executor = report["executor"]
    executor_lines = [f"  device='auto' runs {executor['auto']}: {executor['reason']}"]
    graph = executor.get("graph")
    if graph is not None:
        executor_lines.append("  DALI graph: builds and decodes on the device" if graph["ok"]
                              else f"  DALI graph: FAILS ({graph['error']}); image slots will run on the CPU kernels")
    sections = [
        [f"dataio-gpu {report['version']}",
         f"platform: {report['platform']['system']} {report['platform']['machine']}, Python {report['python']}"],
        _subsystem_lines(report["subsystems"]),
        _gpu_stack_lines(report["gpu_stack"]),
        ["Executor", *executor_lines],
        _cpu_kernel_lines(report["cpu_kernels"]),
        _env_lines(report["env_overrides"]),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections)
