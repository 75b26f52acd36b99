"""Random augmentations depend only on (records, pipeline, seed, epoch): not on workers, concurrency or order."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import dataio
from dataio import transforms as T

SCRIPT = """
import hashlib, json, sys
import numpy as np
import dataio
from dataio import transforms as T
from dataio._synthetic import synthetic_image
from tests.conftest import encode
seed, concurrency = int(sys.argv[1]), int(sys.argv[2])
images = [encode(synthetic_image(np.random.default_rng(i), 40 + i, 50 - i)) for i in range(10)]
pipe = dataio.pipeline(dataio.slot("x").decode_image().random_resized_crop(h=24, w=24).hflip()
                       .apply(T.sometimes(T.vflip(prob=1.0), prob=0.5)).normalize("imagenet"), dataio.batch(4))
with pipe.bind([{"x": p} for p in images]).run("numpy", seed=seed, concurrency=concurrency) as loader:
    digests = [hashlib.sha256(b"".join(b["x"].tobytes() for b in loader)).hexdigest() for _ in range(2)]
print(json.dumps(digests))
"""


def augmented(concurrency: int, seed: int, epochs: int = 2, order: str = "submit") -> list[bytes]:
    from dataio._synthetic import synthetic_image
    from tests.conftest import encode

    images = [encode(synthetic_image(np.random.default_rng(i), 40 + i, 50 - i)) for i in range(10)]
    pipe = dataio.pipeline(dataio.slot("x").decode_image().random_resized_crop(h=24, w=24).hflip()
                           .apply(T.sometimes(T.vflip(prob=1.0), prob=0.5)).normalize("imagenet"), dataio.batch(4))
    out = []
    with pipe.bind([{"x": p} for p in images]).run("numpy", seed=seed, concurrency=concurrency, order=order) as loader:
        for _ in range(epochs):
            batches = sorted(loader, key=lambda b: b.batch_number)
            out.append(b"".join(b["x"].tobytes() for b in batches))
    return out


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), concurrency=st.integers(1, 16), order=st.sampled_from(["submit", "completion"]))
def test_same_values_whatever_the_concurrency_and_order(seed: int, concurrency: int, order: str) -> None:
    reference = augmented(4, seed)
    assert augmented(concurrency, seed, order=order) == reference
    assert reference[0] != reference[1], "epochs must draw different augmentations"


def test_same_values_whatever_the_cpu_worker_count() -> None:
    root = Path(__file__).resolve().parent.parent
    results = []
    for workers in ("1", "2"):
        env = {**os.environ, "DATAIO_CPU_WORKERS": workers, "PYTHONPATH": str(root)}
        done = subprocess.run([sys.executable, "-c", SCRIPT, "123", "3"], capture_output=True, text=True,
                              env=env, cwd=root, check=True, timeout=300)
        results.append(json.loads(done.stdout))
    assert results[0] == results[1]
    assert results[0][0] != results[0][1]
    expected = [hashlib.sha256(epoch).hexdigest() for epoch in augmented(3, 123)]
    assert results[0] == expected
