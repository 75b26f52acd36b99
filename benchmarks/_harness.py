"""Shared pieces of the benchmark drivers: child processes, process-tree meters, the machine line, a PNG chart.

Every benchmark runs each configuration in its own child process (worker-pool sizes and
imported libraries are per process) and prints one JSON line at the end; the driver
collects those lines, sampling the child's process tree (DataLoader workers included) for
peak memory; :func:`tree_cpu_seconds` gives a child its own tree's CPU time.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont


def machine() -> str:
    """One line naming the CPU, the cores this process may use, and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores available, Python {platform.python_version()}"


def run_child(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 900,
              memory_interval: float = 0.5) -> dict[str, Any]:
    """Run one child; its last stdout line is a JSON object, or the result is ``{"error": ...}``.

    While it runs, the child's process tree is sampled from here every ``memory_interval``
    seconds for its proportional memory (PSS); the peak is added as ``peak_mb``. Sampling
    from the parent keeps its cost (a few ms per ``smaps_rollup`` read of a large process)
    out of the child's own CPU time.
    """
    peak = 0
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as child:
        reader = threading.Thread(target=lambda: outputs.extend(child.communicate()), daemon=True)
        outputs: list[str] = []
        reader.start()
        deadline = time.monotonic() + timeout
        while reader.is_alive() and time.monotonic() < deadline:
            peak = max(peak, sum(_pss_bytes(pid) for pid in _descendants(child.pid)))
            reader.join(memory_interval)
        if reader.is_alive():
            child.kill()
            reader.join()
            return {"error": f"timed out after {timeout:.0f} s"}
    stdout, stderr = outputs
    lines = stdout.strip().splitlines()
    if child.returncode == 0 and lines:
        try:
            return {**json.loads(lines[-1]), "peak_mb": peak / 2**20}
        except json.JSONDecodeError:
            pass
    tail = (stderr.strip() or stdout.strip())[-600:]
    return {"error": f"exit {child.returncode}: {tail}"}


def _descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it (from ``/proc/<pid>/task/*/children``)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as f:
                    queue.extend(int(child) for child in f.read().split())
            except OSError:
                continue
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_cpu_seconds() -> float:
    """CPU time used so far by this process and its live descendants (exited children are not counted)."""
    return sum(_cpu_seconds(pid) for pid in _descendants(os.getpid()))


def bar_chart_png(path: Path, title: str, groups: list[str], series: list[tuple[str, str, list[float | None]]],
                  unit: str) -> None:
    """Write a horizontal grouped bar chart: one block per series (label, colour, value per group)."""
    font = ImageFont.load_default(size=14) if hasattr(ImageFont, "load_default") else None
    bar_h, gap, left, right, top = 16, 10, 250, 220, 50
    rows = len(series) * (len(groups) * bar_h + gap)
    width, height = 900, top + rows + 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 10), title, fill="black", font=font)
    values = [v for _, _, vs in series for v in vs if v is not None]
    scale = (width - left - right) / (max(values) if values else 1.0)
    y = top
    for label, colour, group_values in series:
        draw.text((10, y + (len(groups) * bar_h) // 2 - 8), label, fill="black", font=font)
        for i, (group, value) in enumerate(zip(groups, group_values, strict=True)):
            fill = _tint(colour, 0.4 + 0.6 * (i + 1) / len(groups))  # the last group in full colour
            if value is None:
                draw.text((left + 4, y), f"{group}: not run", fill="gray", font=font)
            else:
                draw.rectangle((left, y + 1, left + value * scale, y + bar_h - 2), fill=fill)
                draw.text((left + value * scale + 6, y), f"{value:,.0f} {unit} ({group})", fill="black", font=font)
            y += bar_h
        y += gap
    image.save(path)


def _tint(colour: str, strength: float) -> tuple[int, int, int]:
    """``colour`` (``#rrggbb``) blended towards white; ``strength`` 1.0 is the colour itself."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(int(255 - (255 - c) * strength) for c in (r, g, b))  # type: ignore[return-value]
