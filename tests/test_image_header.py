"""The Pillow-free JPEG header (the GPU executor reads one per row) agrees with Pillow's, or defers to it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import encode
from dataio._synthetic import synthetic_image
from dataio.formats.image_header import read_header, read_jpeg_header


def _exif(turn: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = turn
    return exif.tobytes()


CASES = {
    "baseline": lambda image: encode(image, "JPEG", quality=90),
    "progressive": lambda image: encode(image, "JPEG", quality=85, progressive=True),
    "grey": lambda image: encode(image.convert("L"), "JPEG", quality=90),
    "cmyk": lambda image: encode(image.convert("CMYK"), "JPEG", quality=90),
    "4:4:4": lambda image: encode(image, "JPEG", quality=95, subsampling=0),
    **{f"exif-{turn}": (lambda image, turn=turn: encode(image, "JPEG", quality=90, exif=_exif(turn)))
       for turn in range(1, 9)},
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_marker_walk_reads_what_pillow_reads(name: str) -> None:
    image = synthetic_image(np.random.default_rng(5), 97, 131)  # odd sizes: a swap would show
    payload = CASES[name](image)
    fast = read_jpeg_header(payload)
    assert fast is not None
    reference = read_header(payload)
    assert (fast.height, fast.width, fast.orientation) == (reference.height, reference.width, reference.orientation)
    assert reference.format in ("JPEG", "MPO")


@pytest.mark.parametrize("payload", [
    b"\x89PNG\r\n\x1a\n" + bytes(40),  # not a JPEG
    b"\xff\xd8\xff\xe0\x00",  # cut in a segment
    b"\xff\xd8\xff\xda\x00\x08" + bytes(20),  # a scan before any frame header
    b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x00\x00\x10\x03" + bytes(20),  # height 0 (DNL)
], ids=["png", "truncated", "scan-first", "dnl-height"])
def test_anything_unusual_is_left_to_pillow(payload: bytes) -> None:
    assert read_jpeg_header(payload) is None
