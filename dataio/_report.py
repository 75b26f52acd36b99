"""The capability report of ``python -m dataio`` (API.md §10), as a dict and as text."""

from __future__ import annotations

import os
import platform

from typing import Any

from dataio._version import __version__
from dataio.device import GPU_STACK, discover, gds_info, pinning_available

ENV_KNOBS: dict[str, tuple[str, str]] = {
    "DATAIO_CPU_WORKERS": ("available CPUs, min 2", "threads of the shared decode/transform pool"),
    "DATAIO_IO_WORKERS": ("available CPUs, min 4", "threads of the shared remote-read pool"),
    "DATAIO_OBJECT_SHARDS": ("8", "independent HTTP client shards per object-store backend"),
    "DATAIO_S3_HTTP_VERSION": ("h1", "object-store transport: h1, h2 or auto"),
}
CLOUD_VARS: dict[str, str] = {
    "AWS_ENDPOINT_URL": "S3 endpoint", "AWS_REGION": "S3 region", "AWS_ACCESS_KEY_ID": "S3 key id",
    "AWS_SECRET_ACCESS_KEY": "S3 secret", "AWS_SESSION_TOKEN": "S3 session token", "AWS_PROFILE": "S3 profile",
    "GOOGLE_APPLICATION_CREDENTIALS": "GCS credentials file", "AZURE_STORAGE_CONNECTION_STRING": "Azure connection",
    "AZURE_STORAGE_ACCOUNT_NAME": "Azure account", "AZURE_STORAGE_ACCOUNT_KEY": "Azure key",
    "HF_TOKEN": "Hugging Face token", "HF_ENDPOINT": "Hugging Face endpoint",
    "SSL_CERT_FILE": "TLS CA bundle", "REQUESTS_CA_BUNDLE": "TLS CA bundle",
}
_SECRET_MARKERS = ("SECRET", "TOKEN", "KEY", "CONNECTION_STRING")


def env_overrides() -> list[dict[str, str]]:
    """Every set ``DATAIO_*`` and recognised cloud/TLS variable; secrets show as ``<set>``."""
    found = []
    names = sorted(n for n in os.environ if n.startswith("DATAIO_")) + [n for n in CLOUD_VARS if n in os.environ]
    for name in names:
        default, description = ENV_KNOBS.get(name, ("", CLOUD_VARS.get(name, "unrecognised DATAIO_ variable")))
        secret = any(m in name for m in _SECRET_MARKERS) and name not in ENV_KNOBS
        found.append({"name": name, "default": default, "description": description,
                      "current": "<set>" if secret else os.environ[name]})
    return found


def report_dict() -> dict[str, Any]:
    """The report as JSON-ready data."""
    caps = discover()
    pinning, pinning_reason = pinning_available()
    nvjpeg_reason = None if caps.gpu_executor_ready else caps.executor_reason
    return {
        "version": __version__,
        "platform": {"system": platform.system(), "machine": platform.machine()},
        "python": platform.python_version(),
        "subsystems": {
            "nvjpeg": {"available": caps.gpu_executor_ready, "reason": nvjpeg_reason},
            "cuda_pinning": {"available": pinning, "reason": pinning_reason},
            "gds": gds_info(),
        },
        "gpu_stack": {
            "driver": {"available": caps.driver.available, "version": caps.driver.version,
                       "device_count": caps.driver.device_count, "reason": caps.driver.reason},
            "packages": {name: {"installed": p.installed, "version": p.version, "usable": p.usable,
                                "reason": p.reason} for name, p in caps.packages.items()},
        },
        "executor": {"auto": "gpu" if caps.gpu_executor_ready else "cpu_fallback", "reason": caps.executor_reason},
        "env_overrides": env_overrides(),
    }


def _yes_no(flag: bool, reason: str | None, extra: str = "") -> str:
    return f"yes{extra}" if flag else f"no ({reason})"


def render_text(report: dict[str, Any]) -> str:
    """Human-readable form of :func:`report_dict`."""
    sub, stack = report["subsystems"], report["gpu_stack"]
    gds = sub["gds"]
    lines = [f"dataio-gpu {report['version']}",
             f"platform: {report['platform']['system']} {report['platform']['machine']}, Python {report['python']}",
             "", "Subsystems",
             f"  nvJPEG decode     {_yes_no(sub['nvjpeg']['available'], sub['nvjpeg']['reason'])}",
             f"  CUDA pinned host  {_yes_no(sub['cuda_pinning']['available'], sub['cuda_pinning']['reason'])}",
             f"  cuFile (GDS)      {_yes_no(gds['available'], gds['reason'])}"
             f"  library {gds['library_version'] or '-'}, read_ready {gds['read_ready']}, "
             f"batch_ready {gds['batch_ready']}",
             "", "GPU stack"]
    driver = stack["driver"]
    driver_text = (f"yes, CUDA {driver['version']}, {driver['device_count']} device(s)" if driver["available"]
                   else f"no ({driver['reason']})")
    lines.append(f"  CUDA driver       {driver_text}")
    for name in GPU_STACK:
        p = stack["packages"][name]
        state = f"{p['version'] or 'installed'}" if p["installed"] else "not installed"
        usable = "usable" if p["usable"] else f"not usable: {p['reason']}"
        lines.append(f"  {name:<17} {state}; {usable}" if p["installed"] else f"  {name:<17} {p['reason']}")
    executor = report["executor"]
    lines += ["", "Executor", f"  device='auto' runs {executor['auto']}: {executor['reason']}", "", "Env overrides"]
    overrides = report["env_overrides"]
    if not overrides:
        lines.append("  none")
    for o in overrides:
        default = f" (default {o['default']})" if o["default"] else ""
        lines.append(f"  {o['name']}={o['current']}{default}  {o['description']}")
    return "\n".join(lines)


