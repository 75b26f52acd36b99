"""Quick-start pipeline on the GPU: dataio's GPU executor vs a hand-written DALI pipeline vs torchvision.io.

Every loader produces the same batches in device memory, batches of 64 by default:

- ``--pipeline quickstart``: decode RGB → resize shorter side to 256 → centre crop 224 →
  normalize ImageNet → CHW float32;
- ``--pipeline augment``: decode RGB → random resized crop 224 → horizontal flip (p = 0.5) →
  colour jitter (brightness, contrast, saturation 0.4, hue 0.1) → normalize ImageNet → CHW
  float32 — the standard training chain. DALI's hand-written version uses its own
  ``fn.random_resized_crop``, ``fn.color_twist`` (a fixed order) and ``crop_mirror_normalize``'s
  mirror; torchvision's ``transforms.v2`` on the decoded GPU tensors.

- ``dataio``: the README quick-start pipeline, ``run("torch", device="cuda")``.
- ``dali``: what a DALI user writes by hand: ``fn.readers.file`` → ``fn.decoders.image``
  (mixed) → ``fn.resize(resize_shorter=256)`` → ``fn.crop_mirror_normalize``, outputs
  taken as torch tensors through DLPack.
- ``torchvision``: ``torchvision.io.decode_jpeg(device="cuda")`` on a batch of file
  bytes, then ``transforms.v2.functional`` resize / centre crop / normalize on the GPU.

The driver writes the synthetic image set once, then runs each loader in its own child
process, one after another: a warm-up epoch, then ``--runs`` timed epochs (the clock stops
after ``torch.cuda.synchronize()``); it prints the median and a Markdown table, and writes
``gpu_quickstart.json``. A loader that cannot run (a package missing) is reported with the
reason, never silently left out.

    python benchmarks/gpu_quickstart.py --images 2048 --runs 3 --out benchmarks/_results

``--smoke`` runs the same script without a GPU (dataio's CPU fallback, DALI's CPU
operators, torchvision skipped) so that CI-like machines can check it still works.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from _harness import machine, run_child  # noqa: E402
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
LOADERS = ("dataio", "dali", "torchvision")


def dataio_loader(paths: list[str], batch_size: int, smoke: bool, augment: bool) -> Iterable[Any]:
    from dataio._demo import augment_pipeline, quickstart_pipeline

    pipe = (augment_pipeline if augment else quickstart_pipeline)(batch_size)
    loader = pipe.bind([{"image": p} for p in paths]).run("torch", device="cpu" if smoke else "cuda")

    class Tensors:
        def __iter__(self) -> Any:
            return (batch["image"] for batch in loader)

    return Tensors()


def dali_loader(paths: list[str], batch_size: int, smoke: bool, augment: bool) -> Iterable[Any]:
    import torch
    from nvidia.dali import Pipeline, fn, types

    pipeline = Pipeline(batch_size=batch_size, num_threads=4, device_id=None if smoke else 0, prefetch_queue_depth=2)
    normalize = {"mean": [255 * m for m in MEAN], "std": [255 * s for s in STD], "output_layout": "CHW",
                 "dtype": types.FLOAT}
    with pipeline:
        encoded, _ = fn.readers.file(files=paths, name="reader", pad_last_batch=False)
        images = fn.decoders.image(encoded, device="cpu" if smoke else "mixed", output_type=types.RGB)
        if augment:
            images = fn.random_resized_crop(images, size=(224, 224), antialias=True)
            images = fn.color_twist(images, brightness=fn.random.uniform(range=(0.6, 1.4)),
                                    contrast=fn.random.uniform(range=(0.6, 1.4)),
                                    saturation=fn.random.uniform(range=(0.6, 1.4)),
                                    hue=fn.random.uniform(range=(-36.0, 36.0)))
            images = fn.crop_mirror_normalize(images, mirror=fn.random.coin_flip(), **normalize)
        else:
            images = fn.resize(images, resize_shorter=256, interp_type=types.INTERP_CUBIC, antialias=True)
            images = fn.crop_mirror_normalize(images, crop=(224, 224), **normalize)
        pipeline.set_outputs(images)
    pipeline.build()
    batches = -(-len(paths) // batch_size)

    class Tensors:
        def __iter__(self) -> Any:
            for _ in range(batches):
                (out,) = pipeline.run()
                yield torch.from_dlpack(out.as_tensor())  # zero-copy view, valid until the next run

    return Tensors()


def torchvision_loader(paths: list[str], batch_size: int, smoke: bool, augment: bool) -> Iterable[Any]:
    if smoke:
        raise RuntimeError("needs a CUDA device (decode_jpeg(device='cuda'))")
    import torch
    import torchvision
    from torchvision.transforms import v2
    from torchvision.transforms.v2 import functional as F

    train = v2.Compose([v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip(),
                        v2.ColorJitter(0.4, 0.4, 0.4, 0.1)])

    mean = torch.tensor(MEAN, device="cuda").view(3, 1, 1)
    std = torch.tensor(STD, device="cuda").view(3, 1, 1)

    class Tensors:
        def __iter__(self) -> Any:
            for start in range(0, len(paths), batch_size):
                data = [torchvision.io.read_file(p) for p in paths[start: start + batch_size]]
                images = torchvision.io.decode_jpeg(data, device="cuda")
                if augment:
                    out = [train(im) for im in images]
                else:
                    out = [F.center_crop(F.resize(im, 256, antialias=True), [224, 224]) for im in images]
                yield (torch.stack(out).float() / 255.0 - mean) / std

    return Tensors()


def child(args: argparse.Namespace) -> None:
    import torch

    paths = sorted(str(p) for p in Path(args.data).glob("*.jpg"))[: args.images]
    make = {"dataio": dataio_loader, "dali": dali_loader, "torchvision": torchvision_loader}[args.loader]
    try:
        loader = make(paths, args.batch_size, args.smoke, args.pipeline == "augment")
        sync = (lambda: None) if args.smoke else torch.cuda.synchronize
        device = None
        for tensor in loader:  # warm-up: page cache, graph build, CUDA context
            device = str(tensor.device)
        sync()
        rates = []
        for _ in range(args.runs):
            start = time.perf_counter()
            count = sum(int(t.shape[0]) for t in loader)
            sync()
            rates.append(count / (time.perf_counter() - start))
    except Exception as exc:  # noqa: BLE001 - a peer that cannot run is reported, not dropped
        print(json.dumps({"loader": args.loader, "error": f"{type(exc).__name__}: {exc}"}))
        return
    print(json.dumps({"loader": args.loader, "rates": rates, "device": device}))


def driver(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT.parent))
    from dataio._synthetic import write_jpeg_set

    data = Path(args.data)
    write_jpeg_set(data, args.images, sizes="imagenet")
    results = []
    for loader in args.loaders:
        cmd = [sys.executable, __file__, "--child", "--loader", loader, "--data", str(data), "--images",
               str(args.images), "--runs", str(args.runs), "--batch-size", str(args.batch_size),
               "--pipeline", args.pipeline]
        result = {"loader": loader, **run_child(cmd + (["--smoke"] if args.smoke else []))}
        if "rates" in result:
            result["median"] = statistics.median(result["rates"])
            print(f"{loader:>12}: median {result['median']:8.1f} img/s on {result['device']}  "
                  f"(runs {', '.join(f'{r:.1f}' for r in result['rates'])})", flush=True)
        else:
            print(f"{loader:>12}: not run: {result['error']}", flush=True)
        results.append(result)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"machine": machine(), "pipeline": args.pipeline, "images": args.images, "runs": args.runs,
               "batch_size": args.batch_size, "smoke": args.smoke, "results": results}
    name = "gpu_quickstart.json" if args.pipeline == "quickstart" else f"gpu_{args.pipeline}.json"
    (out_dir / name).write_text(json.dumps(summary, indent=2))
    print(table(results))


def table(results: list[dict[str, Any]]) -> str:
    """The Markdown table of docs/benchmark.md."""
    lines = ["| loader | img/s (median) | runs |", "|---|---:|---|"]
    for r in results:
        if "median" in r:
            lines.append(f"| {r['loader']} | {r['median']:.1f} | {', '.join(f'{x:.1f}' for x in r['rates'])} |")
        else:
            lines.append(f"| {r['loader']} | not run | {r['error']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--loader", choices=LOADERS, help=argparse.SUPPRESS)
    parser.add_argument("--loaders", nargs="+", choices=LOADERS, default=list(LOADERS))
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--pipeline", choices=("quickstart", "augment"), default="quickstart")
    parser.add_argument("--smoke", action="store_true", help="no GPU: CPU fallback, DALI CPU operators")
    parser.add_argument("--data", default=str(ROOT / "_data" / "imagenet_like"))
    parser.add_argument("--out", default=str(ROOT / "_results"))
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
