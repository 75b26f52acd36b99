"""Where the CPU fallback's time goes: a py-spy profile split into pipeline stages.

Record one loader child with py-spy (raw format, one stack per line), then split it:

    py-spy record -r 250 -f raw --threads -o prof.txt -- \\
        python benchmarks/quickstart.py --child --loader dataio --workers 1 --epochs 2 --images 1024 \\
        --data benchmarks/_data/imagenet_like
    python benchmarks/profile_split.py prof.txt --images 3072 --rate 250

Each sample is charged to the innermost frame that names a stage (decode, resize, crop,
normalize, read, collate/deliver); samples of dataio's pool threads that name none are
runtime overhead (admission, row preparation, bookkeeping); waiting is listed apart.
``--images`` (every image the child processed, warm-up included) turns sample counts into
milliseconds per image. Add ``--gil`` to the py-spy command to see only samples holding
the GIL: the stage split of the GIL-held time.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

STAGES = (
    ("decode", ("JpegRegions.pixels", "decode_jpeg", "decode_image", "ImageFile.load", "_pillow_pixels", "convert_mode")),
    ("resize", ("resize_view", "_pillow_view", "Image.resize", "LazyImage.materialise", "interpolate")),  # materialise_image too
    ("crop", ("center_crop_kernel", "LazyImage.cropped", "_window", "Image.crop")),
    ("normalize", ("affine_to_chw", "affine_to_chw", "lut_to_chw", "channel_affine_kernel")),
    ("read", ("read_payload", "_read_path", "read_rows")),
    ("collate/deliver", ("BatchAssembly.put", "BatchAssembly.collate", "_EpochIterator.__next__", "from_dlpack",
                         "BatchColumns", "Batch._materialise")),
    ("waiting", ("Condition.wait", "Event.wait", "_worker.<locals>", "SimpleQueue.get", "Queue.get")),
)


def stage_of(frames: list[str]) -> str | None:
    """The stage named by the innermost matching frame, or ``None``."""
    for frame in reversed(frames):
        name = frame.split(" (", 1)[0]
        for stage, markers in STAGES:
            if any(name == marker or name.endswith("." + marker) or marker in name for marker in markers):
                return stage
    return None


def split(path: Path) -> dict[str, collections.Counter[str]]:
    """Samples per stage, per thread kind (``pool`` for dataio-cpu threads, ``other``)."""
    counts: dict[str, collections.Counter[str]] = {"pool": collections.Counter(), "other": collections.Counter()}
    for line in path.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():  # a stack py-spy cut short
            continue
        frames = stack.split(";")
        kind = "pool" if "dataio-cpu" in frames[0] else "other"
        stage = stage_of(frames[1:])
        counts[kind][stage or ("runtime overhead" if kind == "pool" else "other Python")] += int(number)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="py-spy raw output (--threads)")
    parser.add_argument("--images", type=int, required=True, help="images the profiled child processed")
    parser.add_argument("--rate", type=float, default=250.0, help="py-spy sampling rate (-r)")
    args = parser.parse_args()
    counts = split(args.profile)
    pool_total = sum(v for k, v in counts["pool"].items() if k != "waiting")
    print("| stage | pool threads: ms/image | share of pool-thread time |")
    print("|---|---:|---:|")
    order = [stage for stage, _ in STAGES if stage != "waiting"] + ["runtime overhead"]
    for stage in order:
        samples = counts["pool"].get(stage, 0)
        print(f"| {stage} | {1000 * samples / args.rate / args.images:.3f} | {100 * samples / max(pool_total, 1):.1f} % |")
    print(f"| **total (pool threads, busy)** | **{1000 * pool_total / args.rate / args.images:.3f}** | 100 % |")
    other = sum(v for k, v in counts["other"].items() if k != "waiting")
    print(f"| other threads (consumer, start-up), busy | {1000 * other / args.rate / args.images:.3f} | |")


if __name__ == "__main__":
    main()
