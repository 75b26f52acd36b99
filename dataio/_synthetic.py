"""A small synthetic ImageNet-like JPEG set, for the demo, the benchmark and tests.

Images have random sizes (300–1200 px per side, like ImageNet's spread), smooth
colour gradients plus noise and a few shapes (so JPEG sizes and decode costs are
realistic, unlike flat colour), saved at quality 90 with 4:2:0 chroma subsampling.
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


def write_jpeg_set(directory: str | os.PathLike[str], count: int, *, seed: int = 0) -> list[str]:
    """Write ``count`` JPEGs into ``directory`` (created if needed); return their paths in order."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = root / f"img_{i:06d}.jpg"
        if not path.exists():  # each image has its own generator, so existing files can be kept
            rng = np.random.default_rng([seed, i])
            height, width = (int(v) for v in rng.integers(MIN_SIDE, MAX_SIDE + 1, size=2))
            synthetic_image(rng, height, width).save(path, "JPEG", quality=QUALITY)
        paths.append(str(path))
    return paths
