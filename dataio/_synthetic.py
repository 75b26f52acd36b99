"""A small synthetic ImageNet-like JPEG set, for the demo, the benchmark and tests.

Images have smooth colour gradients plus noise and a few shapes (so JPEG sizes and
decode costs are realistic, unlike flat colour), saved at quality 90 with 4:2:0 chroma
subsampling. Two size profiles:

- ``"uniform"`` (the default): every side uniform in 300–1200 px — many large images,
  which exercises downscaling paths.
- ``"imagenet"``: ImageNet's shape — three in four images are web-photo sizes with a
  500 px long side (500×375, 500×333, 500×400, 500×500, either orientation), 8 % are
  smaller, 17 % have a short side of 512–900 px. Mean ≈ 525×480, the workload the CPU
  throughput benchmark is stated on.

Generation is seeded, so a set is the same on every machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

MIN_SIDE = 300
MAX_SIDE = 1200
QUALITY = 90


def synthetic_image(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    """One natural-looking RGB test image."""
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    a, b, c = (rng.uniform(0, 255, size=3).astype(np.float32) for _ in range(3))
    pixels = a * (1 - y) * (1 - x) + b * y + c * x * (1 - y)
    pixels += rng.normal(0.0, 12.0, size=(height, width, 1)).astype(np.float32)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 9))):
        x0, x1 = sorted(int(v) for v in rng.integers(0, width, size=2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, height, size=2))
        fill = tuple(int(v) for v in rng.integers(0, 256, size=3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=fill)
    return image


def uniform_size(rng: np.random.Generator) -> tuple[int, int]:
    """``(height, width)``, each side uniform in [MIN_SIDE, MAX_SIDE]."""
    height, width = (int(v) for v in rng.integers(MIN_SIDE, MAX_SIDE + 1, size=2))
    return height, width


def imagenet_size(rng: np.random.Generator) -> tuple[int, int]:
    """``(height, width)`` drawn from an ImageNet-like mix of photo sizes (see the module docstring)."""
    kind = rng.random()
    if kind < 0.75:
        long_side, short_side = 500, int(rng.choice((333, 375, 375, 375, 400, 500)))
    elif kind < 0.83:
        long_side = int(rng.integers(300, 500))
        short_side = int(long_side / rng.uniform(1.0, 1.5))
    else:
        short_side = int(rng.integers(512, 901))
        long_side = int(short_side * rng.uniform(1.0, 1.5))
    landscape = rng.random() < 0.7
    return (short_side, long_side) if landscape else (long_side, short_side)


SIZE_PROFILES = {"uniform": uniform_size, "imagenet": imagenet_size}


def write_jpeg_set(directory: str | os.PathLike[str], count: int, *, seed: int = 0,
                   sizes: str = "uniform") -> list[str]:
    """Write ``count`` JPEGs into ``directory`` (created if needed); return their paths in order.

    ``sizes`` names the size profile (``"uniform"`` or ``"imagenet"``); a directory holds one
    profile's images (existing files are kept, not checked).
    """
    draw_size = SIZE_PROFILES[sizes]
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = root / f"img_{i:06d}.jpg"
        if not path.exists():  # each image has its own generator, so existing files can be kept
            rng = np.random.default_rng([seed, i])
            height, width = draw_size(rng)
            synthetic_image(rng, height, width).save(path, "JPEG", quality=QUALITY)
        paths.append(str(path))
    return paths
