"""Quick-start pipeline throughput: dataio vs torch DataLoader + PIL, side by side.

The driver (no ``--child``) makes the synthetic ImageNet-like set once, then runs every
(loader, workers) configuration in its own child process — worker-pool sizes are read
once per process — one after another, in one process tree. Each child warms up with
one epoch, then times ``--runs`` epochs; the driver reports the median.

Pipeline (both loaders): decode RGB → resize shorter side to 256 (bicubic) → centre
crop 224 → normalize ImageNet → CHW float32 → batches of 64.

Worker counts: torch ``num_workers=N`` (0 = the main process decodes). dataio has no
worker processes; its CPU pool gets ``max(N, 1)`` threads (``DATAIO_CPU_WORKERS``), so
at "0" both loaders decode on one core.

    python benchmarks/quickstart.py --images 1024 --runs 3 --workers 0 1 2 --out benchmarks/_results
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]


def torch_loader(paths: list[str], workers: int, batch_size: int) -> Any:
    """The usual PyTorch recipe: a map-style Dataset doing PIL decode + resize + crop + normalize."""
    import torch
    from PIL import Image

    class JpegDataset(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(paths)

        def __getitem__(self, i: int) -> Any:
            with Image.open(paths[i]) as source:
                image = source.convert("RGB")
            w, h = image.size
            scale = 256 / min(w, h)
            nw, nh = max(256, math.floor(w * scale + 0.5)), max(256, math.floor(h * scale + 0.5))
            image = image.resize((nw, nh), Image.Resampling.BICUBIC)
            x, y = (nw - 224) // 2, (nh - 224) // 2
            pixels = np.asarray(image.crop((x, y, x + 224, y + 224)), dtype=np.float32)
            chw = (pixels.transpose(2, 0, 1) / 255.0 - MEAN) / STD
            return torch.from_numpy(chw)

    return torch.utils.data.DataLoader(JpegDataset(), batch_size=batch_size, num_workers=workers,
                                       persistent_workers=workers > 0)


def dataio_loader(paths: list[str], workers: int, batch_size: int) -> Any:
    """The README quick-start pipeline; yields the torch tensor of each batch."""
    import dataio
    from dataio._demo import quickstart_pipeline

    loader = quickstart_pipeline(batch_size).bind([{"image": p} for p in paths]).run("torch", device="cpu")

    class Tensors:
        def __iter__(self) -> Any:
            return (batch["image"] for batch in loader)

    assert dataio.__version__
    return Tensors()


def child(args: argparse.Namespace) -> None:
    paths = sorted(str(p) for p in Path(args.data).glob("*.jpg"))[: args.images]
    make = {"torch": torch_loader, "dataio": dataio_loader}[args.loader]
    loader = make(paths, args.workers, args.batch_size)
    for _ in loader:  # warm-up epoch: page cache, pools, worker start-up
        pass
    rates = []
    for _ in range(args.runs):
        start = time.perf_counter()
        count = sum(int(t.shape[0]) for t in loader)
        rates.append(count / (time.perf_counter() - start))
    print(json.dumps({"loader": args.loader, "workers": args.workers, "rates": rates}))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores available, Python {platform.python_version()}"


def driver(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT.parent))
    from dataio._synthetic import write_jpeg_set

    data = Path(args.data)
    write_jpeg_set(data, args.images)
    results = []
    for workers in args.workers:
        for loader in ("torch", "dataio"):
            env = {**os.environ, "DATAIO_CPU_WORKERS": str(max(workers, 1))}
            cmd = [sys.executable, __file__, "--child", "--loader", loader, "--workers", str(workers),
                   "--data", str(data), "--images", str(args.images), "--runs", str(args.runs),
                   "--batch-size", str(args.batch_size)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["median"] = statistics.median(result["rates"])
            print(f"{loader:>6} workers={workers}: median {result['median']:7.1f} img/s  "
                  f"(runs {', '.join(f'{r:.1f}' for r in result['rates'])})", flush=True)
            results.append(result)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"machine": machine(), "images": args.images, "runs": args.runs, "batch_size": args.batch_size,
               "results": results}
    (out_dir / "quickstart.json").write_text(json.dumps(summary, indent=2))
    (out_dir / "quickstart.svg").write_text(bar_chart(results))
    print(table(results))


def table(results: list[dict[str, Any]]) -> str:
    """The Markdown table of docs/benchmark.md."""
    by = {(r["loader"], r["workers"]): r["median"] for r in results}
    lines = ["| workers | torch DataLoader + PIL (img/s) | dataio CPU fallback (img/s) | speed-up |",
             "|---:|---:|---:|---:|"]
    for workers in sorted({r["workers"] for r in results}):
        t, d = by[("torch", workers)], by[("dataio", workers)]
        lines.append(f"| {workers} | {t:.1f} | {d:.1f} | {d / t:.2f}× |")
    return "\n".join(lines)


def bar_chart(results: list[dict[str, Any]]) -> str:
    """A small grouped bar chart as SVG (no plotting dependency)."""
    workers = sorted({r["workers"] for r in results})
    by = {(r["loader"], r["workers"]): r["median"] for r in results}
    top = max(by.values()) * 1.15
    width, height, left, bottom = 120 + 160 * len(workers), 320, 60, 40
    colors = {"torch": "#999999", "dataio": "#76b900"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             'font-size="12">', f'<text x="{left}" y="16">quick-start pipeline, images/s (median)</text>']
    plot_h = height - bottom - 30
    for i, w in enumerate(workers):
        for j, loader in enumerate(("torch", "dataio")):
            value = by[(loader, w)]
            bar = plot_h * value / top
            x = left + 160 * i + 50 * j
            y = height - bottom - bar
            parts.append(f'<rect x="{x}" y="{y:.1f}" width="44" height="{bar:.1f}" fill="{colors[loader]}"/>')
            parts.append(f'<text x="{x}" y="{y - 4:.1f}">{value:.0f}</text>')
        parts.append(f'<text x="{left + 160 * i + 20}" y="{height - bottom + 18}">workers={w}</text>')
    legend_x = width - 150
    for k, (loader, label) in enumerate((("torch", "torch DataLoader + PIL"), ("dataio", "dataio"))):
        parts.append(f'<rect x="{legend_x}" y="{30 + 18 * k}" width="12" height="12" fill="{colors[loader]}"/>')
        parts.append(f'<text x="{legend_x + 16}" y="{41 + 18 * k}">{label}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--loader", choices=("torch", "dataio"), help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", default=str(ROOT / "_data" / "imagenet_like"))
    parser.add_argument("--out", default=str(ROOT / "_results"))
    args = parser.parse_args()
    if args.child:
        args.workers = args.workers[0]
        child(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
