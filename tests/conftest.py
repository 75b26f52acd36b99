"""Shared fixtures: synthetic JPEG sets, in-memory images of every mode, thread checks; a kernel-run helper."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image

import dataio
from dataio._synthetic import synthetic_image, write_jpeg_set

pytest_plugins = ["storage_servers"]  # real S3 / GCS servers on 127.0.0.1 for the IO tests


@pytest.fixture(scope="session")
def jpeg_paths(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """24 synthetic ImageNet-like JPEGs (300–1200 px, quality 90)."""
    return write_jpeg_set(tmp_path_factory.mktemp("jpegs"), 24, seed=7)


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    """``image`` encoded in memory."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def rgb_image() -> Image.Image:
    """A 97×131 natural-looking RGB image (odd sizes catch off-by-one errors)."""
    return synthetic_image(np.random.default_rng(3), 97, 131)


@pytest.fixture
def no_new_threads() -> Callable[[], None]:
    """Returns a checker: no thread other than the process-wide pools appeared since the fixture ran."""
    before = {t.ident for t in threading.enumerate()}

    def check() -> None:
        extra = [t for t in threading.enumerate() if t.ident not in before and not t.name.startswith(("dataio-cpu",
                                                                                                     "dataio-io"))]
        assert not extra, f"threads left behind: {extra}"

    return check


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu``-marked tests cleanly unless a CUDA driver with a device and DALI are present."""
    from dataio.device import discover

    caps = discover()
    if caps.driver.available and caps.packages["DALI"].installed:
        return
    reason = caps.driver.reason if not caps.driver.available else caps.packages["DALI"].reason
    skip = pytest.mark.skip(reason=f"needs a GPU with DALI: {reason}")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


def run_kernels(stage: Any, records: list[dict[str, Any]], kernels: str, monkeypatch: pytest.MonkeyPatch,
                **loader: Any) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """The single slot's value per record with ``DATAIO_CPU_KERNELS=kernels``, and the row errors."""
    monkeypatch.setenv("DATAIO_CPU_KERNELS", kernels)
    values: list[np.ndarray] = []
    errors: list[dict[str, Any]] = []
    with dataio.pipeline(stage, dataio.batch(1)).bind(records).run("numpy", device="cpu", on_failure=0,
                                                                  **loader) as batches:
        for batch in batches:
            if len(batch):
                values.append(np.asarray(batch[0][0]))
            errors.extend(batch.errors)
    return values, errors


@pytest.fixture
def no_draft(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CPU fallback decodes JPEGs at full scale (never drafts), as the GPU graph does: for parity checks."""
    from dataio.cpu_fallback import image_decode

    monkeypatch.setattr(image_decode, "DRAFT_GAP", 1e9)
