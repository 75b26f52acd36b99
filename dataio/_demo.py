"""``python -m dataio demo``: make a small synthetic ImageNet-like JPEG set and load it.

Runs the README quick-start pipeline (decode RGB → resize_short 256 → center_crop 224
→ normalize imagenet → CHW float32 → batch 64) on the best available device, with a
progress bar, and prints the throughput.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from typing import Literal

import dataio
from dataio._synthetic import write_jpeg_set


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's command-line options."""
    parser.add_argument("--images", type=int, default=512, help="synthetic JPEGs to make (default 512)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--epochs", type=int, default=2, help="passes over the set (default 2)")
    parser.add_argument("--device", default="auto", help='"auto" (default), "cpu" or "cuda[:N]"')
    parser.add_argument("--dir", default=None, help="where to write the images (default: a temp dir)")


def quickstart_pipeline(batch_size: int = 64) -> dataio.Pipeline:
    """The README quick-start pipeline."""
    return dataio.pipeline(
        dataio.slot("image")
        .decode_image(mode="rgb")
        .resize_short(256)
        .center_crop(h=224, w=224)
        .normalize("imagenet"),
        dataio.batch(batch_size, prefetch=4),
    )


def augment_pipeline(batch_size: int = 64) -> dataio.Pipeline:
    """The standard training chain the GPU benchmarks measure: random resized crop, flip, colour jitter."""
    return dataio.pipeline(
        dataio.slot("image")
        .decode_image(mode="rgb")
        .random_resized_crop(h=224, w=224)
        .hflip()
        .color_jitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
        .normalize("imagenet"),
        dataio.batch(batch_size, prefetch=4),
    )


def _output() -> Literal["torch", "numpy"]:
    """torch tensors where torch is installed, else numpy arrays."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return "numpy"
    return "torch"


class _Progress:
    """A one-line text progress bar on stderr."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done, self.start = total, label, 0, time.perf_counter()

    def update(self, n: int) -> None:
        self.done += n
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        filled = int(30 * self.done / max(self.total, 1))
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] "
                         f"{self.done}/{self.total} {rate:7.1f} img/s")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def run_demo(args: argparse.Namespace) -> int:
    """Make the data set, run the pipeline, print samples/s; returns the exit status."""
    for name in ("images", "batch_size", "epochs"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
    output = _output()
    quickstart_pipeline(args.batch_size).bind([]).run(output, device=args.device).close()  # refuse a device first
    with tempfile.TemporaryDirectory(prefix="dataio-demo-") as scratch:
        root = args.dir or scratch
        print(f"making {args.images} synthetic JPEGs (ImageNet-shaped, quality 90) in {root} ...", flush=True)
        paths = write_jpeg_set(root, args.images, sizes="imagenet")
        records = [{"image": p} for p in paths]
        with quickstart_pipeline(args.batch_size).bind(records).run(output, device=args.device) as loader:
            print(f"executor: {loader.executor} on {loader.device}; output: {output}{_kernels(loader)}", flush=True)
            samples, elapsed, shape = _measure(loader, args.epochs, len(records))
    print(f"dataio {dataio.__version__}: {samples} images in {elapsed:.2f} s = {samples / elapsed:.1f} samples/s "
          f"(batch {args.batch_size}, batch tensor {shape})")
    return 0


def _kernels(loader: dataio.DataLoader) -> str:
    """``; CPU kernels: ...`` for the CPU fallback (which optional libraries it runs), else empty."""
    if loader.executor != "cpu_fallback":
        return ""
    from dataio.executors import cpu_kernel_report

    names = [name for name, library in cpu_kernel_report()["libraries"].items() if library["used"]]
    return f"; CPU kernels: {', '.join(names) if names else 'Pillow + numpy'}"


def _measure(loader: dataio.DataLoader, epochs: int, per_epoch: int) -> tuple[int, float, list[int]]:
    """Iterate ``epochs`` epochs; return (samples, seconds, shape of the last batch tensor)."""
    samples, shape = 0, []
    start = time.perf_counter()
    for epoch in range(epochs):
        progress = _Progress(per_epoch, f"epoch {epoch + 1}/{epochs}")
        for batch in loader:
            shape = list(batch["image"].shape)
            progress.update(len(batch))
            samples += len(batch)
        progress.close()
    return samples, time.perf_counter() - start, shape
