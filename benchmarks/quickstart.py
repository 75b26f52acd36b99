"""Quick-start pipeline on the CPU: dataio's CPU fallback side by side with its peers.

Pipeline (every loader): decode JPEG to RGB → resize the shorter side to 256 (bicubic,
antialiased) → centre crop 224 × 224 → normalize with the ImageNet mean/std → CHW float32
→ batches of 64, delivered as torch tensors.

Loaders (``--loaders``):

- ``dataio``: the README quick-start pipeline on the CPU fallback, the optional kernels
  (libjpeg, pixels, torch; simplejpeg where libjpeg is not built) selected as available;
  ``DATAIO_CPU_WORKERS=N``.
- ``dataio-pillow``: the same with ``DATAIO_CPU_KERNELS=pillow`` (Pillow + numpy only).
- ``dali-cpu``: a hand-written DALI pipeline on DALI's CPU operators (``device_id=None``,
  ``num_threads=N``): ``readers.file`` → ``decoders.image`` → ``resize(resize_shorter)``
  → ``crop_mirror_normalize``; each batch copied out of DALI's reused buffer.
- ``torchvision``: a torch ``DataLoader`` (``num_workers=N``) over a Dataset doing
  ``torchvision.io.decode_jpeg`` + ``transforms.v2.functional`` resize/crop/normalize.
- ``spdl``: an SPDL pipeline (``concurrency=N``, ``num_threads=N``) decoding and scaling
  with ``spdl.io.load_image`` (FFmpeg), normalising each batch with torch.
- ``torch-pil``: a torch ``DataLoader`` (``num_workers=N``) over a Dataset doing PIL
  decode + resize + crop + numpy normalisation (the usual PyTorch recipe).
- ``pil-threads``: a ``ThreadPoolExecutor(N)`` doing PIL decode with JPEG draft + resize +
  crop, then one numpy/torch normalisation per batch.
- ``decode-pillow``, ``decode-simplejpeg``: decoding only, on a ``ThreadPoolExecutor(N)``
  (the limit: what the pipeline would reach if resizing and everything else were free).

Method: the driver writes the ImageNet-like synthetic set once (``dataio._synthetic``,
``sizes="imagenet"``: mean ≈ 530 × 490, 17 % with a short side ≥ 512), then runs
``--rounds`` rounds; a round runs every (loader, workers) pair once, each in its own
child process, in turn — so loaders are interleaved and share the machine's drift. A child
times the first batch from loader construction (the loader's imports done), finishes that warm-up
epoch, then times ``--epochs`` epochs and the CPU seconds its process tree spent on them;
the driver samples the tree's proportional memory (PSS, so forked DataLoader workers are not
charged twice for shared pages) every 0.5 s for the peak. The table reports the median over
rounds. A loader that cannot run (a package missing) is reported with the reason.

    python benchmarks/quickstart.py --images 1024 --rounds 3 --workers 1 2 \
        --plot docs/benchmark_cpu.png --tables docs/benchmark_cpu.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))

from _harness import bar_chart_png, machine, run_child, tree_cpu_seconds  # noqa: E402

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SHORT, CROP = 256, 224


def _resized_size(width: int, height: int) -> tuple[int, int]:
    """(w, h) with the shorter side at 256, rounded like dataio/torchvision."""
    scale = SHORT / min(width, height)
    return max(SHORT, math.floor(width * scale + 0.5)), max(SHORT, math.floor(height * scale + 0.5))


def _normalize_batch(pixels: Any) -> Any:
    """``N×H×W×C uint8`` numpy → normalised ``N×C×H×W float32`` torch tensor."""
    import torch

    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div_(255.0) - mean).div_(std)


class Epochs:
    """A re-iterable loader: each ``iter()`` is one epoch."""

    def __init__(self, epoch: Any) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[Any]:
        return iter(self.epoch())


def dataio_loader(paths: list[str], workers: int, batch_size: int) -> Iterable[Any]:
    from dataio._demo import quickstart_pipeline

    loader = quickstart_pipeline(batch_size).bind([{"image": p} for p in paths]).run("torch", device="cpu")
    return Epochs(lambda: (batch["image"] for batch in loader))


def dali_loader(paths: list[str], workers: int, batch_size: int) -> Iterable[Any]:
    import torch
    from nvidia.dali import Pipeline, fn, types

    pipeline = Pipeline(batch_size=batch_size, num_threads=workers, device_id=None, prefetch_queue_depth=2)
    with pipeline:
        encoded, _ = fn.readers.file(files=paths, name="reader")
        images = fn.decoders.image(encoded, device="cpu", output_type=types.RGB)
        images = fn.resize(images, resize_shorter=SHORT, interp_type=types.INTERP_CUBIC, antialias=True)
        images = fn.crop_mirror_normalize(images, crop=(CROP, CROP), mean=[255 * m for m in MEAN],
                                          std=[255 * s for s in STD], output_layout="CHW", dtype=types.FLOAT)
        pipeline.set_outputs(images)
    pipeline.build()
    batches = -(-len(paths) // batch_size)

    def epoch() -> Iterator[Any]:
        for _ in range(batches):
            (out,) = pipeline.run()
            yield torch.from_dlpack(out.as_tensor()).clone()  # DALI reuses its buffers

    return Epochs(epoch)


def torchvision_loader(paths: list[str], workers: int, batch_size: int) -> Iterable[Any]:
    import torch
    import torchvision
    from torchvision.io import ImageReadMode
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    class Decoded(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(paths)

        def __getitem__(self, i: int) -> Any:
            image = torchvision.io.decode_jpeg(torchvision.io.read_file(paths[i]), mode=ImageReadMode.RGB)
            image = F.resize(image, [SHORT], interpolation=InterpolationMode.BICUBIC, antialias=True)
            image = F.to_dtype(F.center_crop(image, [CROP, CROP]), torch.float32, scale=True)
            return F.normalize(image, list(MEAN), list(STD))

    return torch.utils.data.DataLoader(Decoded(), batch_size=batch_size, num_workers=workers,
                                       persistent_workers=workers > 0)


def torch_pil_loader(paths: list[str], workers: int, batch_size: int) -> Iterable[Any]:
    import numpy as np
    import torch
    from PIL import Image

    mean = np.array(MEAN, dtype=np.float32)[:, None, None]
    std = np.array(STD, dtype=np.float32)[:, None, None]

    class Decoded(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(paths)

        def __getitem__(self, i: int) -> Any:
            with Image.open(paths[i]) as source:
                image = source.convert("RGB")
            nw, nh = _resized_size(*image.size)
            image = image.resize((nw, nh), Image.Resampling.BICUBIC)
            x, y = (nw - CROP) // 2, (nh - CROP) // 2
            pixels = np.asarray(image.crop((x, y, x + CROP, y + CROP)), dtype=np.float32)
            return torch.from_numpy((pixels.transpose(2, 0, 1) / 255.0 - mean) / std)

    return torch.utils.data.DataLoader(Decoded(), batch_size=batch_size, num_workers=workers,
                                       persistent_workers=workers > 0)


def _pil_draft_crop(path: str) -> Any:
    import numpy as np
    from PIL import Image

    with Image.open(path) as source:
        nw, nh = _resized_size(*source.size)
        source.draft("RGB", (nw, nh))
        image = source.convert("RGB").resize((nw, nh), Image.Resampling.BICUBIC)
    x, y = (nw - CROP) // 2, (nh - CROP) // 2
    return np.asarray(image.crop((x, y, x + CROP, y + CROP)))


def _batched_pool(paths: list[str], workers: int, batch_size: int, load: Any, finish: Any) -> Iterable[Any]:
    """Batches of ``finish([load(p) ...])`` from a thread pool kept for the loader's lifetime."""
    pool = ThreadPoolExecutor(workers)

    def epoch() -> Iterator[Any]:
        for start in range(0, len(paths), batch_size):
            yield finish(list(pool.map(load, paths[start:start + batch_size])))

    return Epochs(epoch)


def pil_threads_loader(paths: list[str], workers: int, batch_size: int) -> Iterable[Any]:
    import numpy as np

    return _batched_pool(paths, workers, batch_size, _pil_draft_crop, lambda arrays: _normalize_batch(np.stack(arrays)))


def spdl_loader(paths: list[str], workers: int, batch_size: int) -> Iterable[Any]:
    import numpy as np
    import spdl.io
    from spdl.pipeline import PipelineBuilder

    scale = (f"scale=w='if(lt(iw,ih),{SHORT},-2)':h='if(lt(iw,ih),-2,{SHORT})':flags=bicubic,"
             f"crop={CROP}:{CROP},format=pix_fmts=rgb24")

    def load(path: str) -> Any:
        return spdl.io.to_numpy(spdl.io.load_image(path, filter_desc=scale))

    def epoch() -> Iterator[Any]:
        pipeline = (PipelineBuilder().add_source(paths).pipe(load, concurrency=workers, output_order="input")
                    .aggregate(batch_size).pipe(lambda arrays: _normalize_batch(np.stack(arrays)))
                    .add_sink(4).build(num_threads=workers))
        with pipeline.auto_stop():
            yield from pipeline

    return Epochs(epoch)


def decode_pillow_loader(paths: list[str], workers: int, batch_size: int) -> Iterable[Any]:
    from PIL import Image

    def load(path: str) -> Any:
        with Image.open(path) as image:
            image.load()
            return image.size

    return _batched_pool(paths, workers, batch_size, load, lambda sizes: sizes)


def decode_simplejpeg_loader(paths: list[str], workers: int, batch_size: int) -> Iterable[Any]:
    import simplejpeg

    def load(path: str) -> Any:
        with open(path, "rb") as f:
            return simplejpeg.decode_jpeg(f.read()).shape

    return _batched_pool(paths, workers, batch_size, load, lambda shapes: shapes)


LOADERS = {
    "dataio": ("dataio CPU fallback", dataio_loader, ("dataio", "dataio._demo")),
    "dataio-pillow": ("dataio, Pillow kernels only", dataio_loader, ("dataio", "dataio._demo")),
    "dali-cpu": ("DALI CPU-only", dali_loader, ("nvidia.dali",)),
    "torchvision": ("DataLoader + torchvision.io + v2", torchvision_loader, ("torchvision",)),
    "spdl": ("SPDL (FFmpeg decode + scale)", spdl_loader, ("spdl.io", "spdl.pipeline")),
    "torch-pil": ("DataLoader + PIL", torch_pil_loader, ("PIL.Image",)),
    "pil-threads": ("PIL thread pool + draft", pil_threads_loader, ("PIL.Image",)),
    "decode-pillow": ("decode only: Pillow", decode_pillow_loader, ("PIL.Image",)),
    "decode-simplejpeg": ("decode only: simplejpeg", decode_simplejpeg_loader, ("simplejpeg",)),
}
"""name → (label, loader factory, modules imported before the first-batch clock starts)."""


def _count(batch: Any) -> int:
    return len(batch) if isinstance(batch, list) else int(batch.shape[0])


def child(args: argparse.Namespace) -> None:
    import importlib

    import numpy  # noqa: F401 - imports are not part of the first-batch time
    import torch  # noqa: F401

    _, make, modules = LOADERS[args.loader]
    for module in modules:
        importlib.import_module(module)
    paths = sorted(str(p) for p in Path(args.data).glob("*.jpg"))[: args.images]
    started = time.perf_counter()
    loader = make(paths, args.workers, args.batch_size)
    batches = iter(loader)
    count = _count(next(batches))
    first_batch = time.perf_counter() - started
    count += sum(_count(b) for b in batches)  # the rest of the warm-up epoch
    cpu_before, start = tree_cpu_seconds(), time.perf_counter()
    images = sum(_count(b) for _ in range(args.epochs) for b in loader)
    elapsed, cpu = time.perf_counter() - start, tree_cpu_seconds() - cpu_before
    print(json.dumps({"loader": args.loader, "workers": args.workers, "rate": images / elapsed,
                      "cpu_ms": 1000 * cpu / images, "first_batch_s": first_batch, "warmup_images": count}))


def driver(args: argparse.Namespace) -> None:
    from dataio._synthetic import write_jpeg_set

    data = Path(args.data)
    write_jpeg_set(data, args.images, sizes="imagenet")
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    for round_number in range(args.rounds):
        for workers in args.workers:
            for loader in args.loaders:
                if loader in errors:
                    continue
                env = {**os.environ, "DATAIO_CPU_WORKERS": str(workers)}
                if loader == "dataio-pillow":
                    env["DATAIO_CPU_KERNELS"] = "pillow"
                cmd = [sys.executable, __file__, "--child", "--loader", loader, "--workers", str(workers),
                       "--data", str(data), "--images", str(args.images), "--epochs", str(args.epochs),
                       "--batch-size", str(args.batch_size)]
                result = run_child(cmd, env)
                if "error" in result:
                    errors[loader] = result["error"]
                    print(f"{loader:>18}: not run: {result['error']}", flush=True)
                    continue
                runs.setdefault((loader, workers), []).append(result)
                print(f"round {round_number + 1} {loader:>18} workers={workers}: {result['rate']:7.1f} img/s, "
                      f"{result['cpu_ms']:.2f} ms CPU/img, peak {result['peak_mb']:.0f} MB, "
                      f"first batch {result['first_batch_s']:.3f} s", flush=True)
    report = {"machine": machine(), "images": args.images, "rounds": args.rounds, "epochs": args.epochs,
              "batch_size": args.batch_size, "workers": args.workers, "results": summarise(runs), "not_run": errors}
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "quickstart.json").write_text(json.dumps(report, indent=2))
    publish(report, out_dir, args.plot, args.tables)


def publish(report: dict[str, Any], out_dir: Path, plot_path: str | None, tables_path: str | None) -> None:
    """Write the Markdown tables (and the PNG chart) of a run's report, and print the tables.

    ``tables_path`` also gets them, headed by the run's machine and parameters (for ``docs/``).
    """
    summary, workers = report["results"], report["workers"]
    text = "\n\n".join([table(summary, workers, report["not_run"]), targets(summary)])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "quickstart.md").write_text(text + "\n")
    if tables_path:
        heading = (f"# Quick-start pipeline on the CPU: last run\n\nWritten by `benchmarks/quickstart.py` "
                   f"(see [benchmark.md](benchmark.md)). Machine: {report['machine']}; {report['images']} images, "
                   f"{report['rounds']} rounds of {report['epochs']} timed epochs, batch {report['batch_size']}, "
                   f"workers {', '.join(map(str, workers))}.\n\n")
        Path(tables_path).write_text(heading + text + "\n")
    if plot_path:
        plot(summary, workers, Path(plot_path))
    print(text)


def summarise(runs: dict[tuple[str, int], list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Median of each measure per (loader, workers), keyed ``"loader@workers"``."""
    summary = {}
    for (loader, workers), results in runs.items():
        summary[f"{loader}@{workers}"] = {
            "loader": loader, "workers": workers, "rates": [r["rate"] for r in results],
            **{key: statistics.median(r[key] for r in results)
               for key in ("rate", "cpu_ms", "peak_mb", "first_batch_s")},
        }
    return summary


def table(summary: dict[str, dict[str, Any]], workers: list[int], errors: dict[str, str]) -> str:
    """The Markdown table of docs/benchmark.md."""
    lines = ["| loader | workers | img/s (median) | runs (img/s) | CPU ms/img | peak PSS MB | first batch s |",
             "|---|---:|---:|---|---:|---:|---:|"]
    for loader, (label, _, _) in LOADERS.items():
        for w in workers:
            r = summary.get(f"{loader}@{w}")
            if r is not None:
                lines.append(f"| {label} | {w} | {r['rate']:.0f} | {', '.join(f'{x:.0f}' for x in r['rates'])} | "
                             f"{r['cpu_ms']:.2f} | {r['peak_mb']:.0f} | {r['first_batch_s']:.3f} |")
        if loader in errors:
            lines.append(f"| {label} | – | not run | {errors[loader][:200]} | | | |")
    return "\n".join(lines)


def targets(summary: dict[str, dict[str, Any]]) -> str:
    """The issue's targets, each with the measured value and whether it holds."""
    def rate(loader: str, w: int) -> float | None:
        r = summary.get(f"{loader}@{w}")
        return r["rate"] if r else None

    rows = []

    def ratio(peer: str, w: int, goal: float) -> None:
        ours, theirs = rate("dataio", w), rate(peer, w)
        if ours and theirs:
            value = ours / theirs
            rows.append((f"dataio / {LOADERS[peer][0]} at {w} worker{'s' * (w > 1)}", f"≥ {goal:.1f}×",
                         f"{value:.2f}×", value >= goal))

    ratio("dali-cpu", 2, 2.0)
    ratio("torchvision", 2, 1.8)
    ratio("dali-cpu", 1, 1.9)
    ours = summary.get("dataio@2")
    if ours:
        rows.append(("dataio CPU time per sample (2 workers)", "≤ 1.6 ms", f"{ours['cpu_ms']:.2f} ms",
                     ours["cpu_ms"] <= 1.6))
        base = summary.get("torch-pil@2")
        if base:
            rows.append(("dataio peak PSS vs DataLoader + PIL (2 workers)", "≤ +200 MB",
                         f"{ours['peak_mb'] - base['peak_mb']:+.0f} MB", ours["peak_mb"] <= base["peak_mb"] + 200))
        rows.append(("dataio first batch (2 workers)", "≤ 0.15 s", f"{ours['first_batch_s']:.3f} s",
                     ours["first_batch_s"] <= 0.15))
    lines = ["| target | goal | measured | met |", "|---|---|---:|---|"]
    lines += [f"| {what} | {goal} | {value} | {'yes' if met else 'no'} |" for what, goal, value, met in rows]
    return "\n".join(lines)


def plot(summary: dict[str, dict[str, Any]], workers: list[int], path: Path) -> None:
    colours = {"dataio": "#76b900", "dataio-pillow": "#4f7a00", "decode-pillow": "#888888",
               "decode-simplejpeg": "#888888"}
    series = [(label, colours.get(loader, "#3b6ea5"),
               [summary[f"{loader}@{w}"]["rate"] if f"{loader}@{w}" in summary else None for w in workers])
              for loader, (label, _, _) in LOADERS.items()]
    bar_chart_png(path, "Quick-start pipeline on the CPU, images/s (median); lighter bars: fewer workers",
                  [f"{w} worker{'s' * (w > 1)}" for w in workers], series, "img/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--loader", choices=tuple(LOADERS), help=argparse.SUPPRESS)
    parser.add_argument("--loaders", nargs="+", choices=tuple(LOADERS), default=list(LOADERS))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per child (after a warm-up epoch)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", default=str(ROOT / "_data" / "imagenet_like"))
    parser.add_argument("--out", default=str(ROOT / "_results"))
    parser.add_argument("--plot", default=None, help="write the PNG chart here (e.g. docs/benchmark_cpu.png)")
    parser.add_argument("--tables", default=None,
                        help="write the Markdown tables here too (e.g. docs/benchmark_cpu.md)")
    parser.add_argument("--report", default=None, metavar="JSON",
                        help="only rebuild the tables and chart from a saved quickstart.json")
    args = parser.parse_args()
    if args.report:
        publish(json.loads(Path(args.report).read_text()), Path(args.out), args.plot, args.tables)
    elif args.child:
        args.workers = args.workers[0]
        child(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
