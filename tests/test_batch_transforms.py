"""Native batch transforms against numpy oracles: mixup, cutmix, pad_to_longest, batch_normalize, batch_shuffle."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

import dataio
from dataio import batch_transforms as B


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def float_records(n: int, shape: tuple[int, ...] = (3, 4, 5)) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    return [{"key": f"r{i}", "x": npy(rng.random(shape).astype(np.float32)),
             "y": npy(np.eye(n, dtype=np.float32)[i])} for i in range(n)]


def loads(records: list[dict[str, Any]], field: str) -> np.ndarray:
    return np.stack([np.load(io.BytesIO(r[field])) for r in records])


def run(records: list[dict[str, Any]], *maps: Any, seed: int = 0, slots: tuple[str, ...] = ("x", "y"),
        chain: Any = None, **options: Any) -> list[dataio.Batch]:
    stages = [dataio.slot(s).decode_npy() if chain is None else chain(s) for s in slots]
    pipe = dataio.pipeline(*stages, dataio.batch(len(records)), *(dataio.map(m) for m in maps))
    with pipe.bind(records).run("numpy", seed=seed, **options) as loader:
        return list(loader)


def test_mixup_mixes_rows_and_labels_with_one_lambda() -> None:
    records = float_records(6)
    (batch,) = run(records, B.mixup(slot="x", label_slot="y", alpha=0.4))
    x = loads(records, "x")
    labels = batch["y"]
    # each label row is λ·e_i + (1-λ)·e_perm(i): recover λ and the permutation from it
    lam = labels[0].max() if labels[0].argmax() == 0 else 1 - labels[0].max()
    partners = [int(np.argsort(row)[-2]) if np.isclose(row.max(), lam) else int(row.argmax()) for row in labels]
    for i, partner in enumerate(partners):
        lam_i = labels[i][i] if partner != i else 1.0
        expected = lam_i * x[i] + (1 - lam_i) * x[partner] if partner != i else x[i]
        np.testing.assert_allclose(batch["x"][i], expected, atol=1e-5)
    assert batch.keys == [f"r{i}" for i in range(6)]  # keys keep the primary sample


def test_mixup_is_seeded_per_batch() -> None:
    records = float_records(4)
    a = run(records, B.mixup(slot="x"), seed=1)[0]["x"]
    b = run(records, B.mixup(slot="x"), seed=1)[0]["x"]
    c = run(records, B.mixup(slot="x"), seed=2)[0]["x"]
    d = run(records, B.mixup(slot="x", seed=9), seed=1)[0]["x"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)


def test_mixup_refuses_non_float_slots_at_run() -> None:
    pipe = dataio.pipeline(dataio.slot("x").decode_image(), dataio.batch(2), dataio.map(B.mixup(slot="x")))
    with pytest.raises(dataio.PlanError, match="float32"):
        pipe.bind([]).run("numpy")
    with pytest.raises(KeyError, match="nope"):
        dataio.pipeline(dataio.slot("x").decode_npy(), dataio.batch(2),
                        dataio.map(B.mixup(slot="nope"))).bind([]).run("numpy")


def test_cutmix_pastes_one_box_and_weights_labels_by_area() -> None:
    n = 5
    records = [{"x": npy(np.full((2, 16, 20), i, np.float32)), "y": npy(np.eye(n, dtype=np.float32)[i])}
               for i in range(n)]
    pipe = dataio.pipeline(dataio.slot("x").decode_npy().apply(dataio.transforms.cast(dtype="float32")),
                           dataio.slot("y").decode_npy(), dataio.batch(n),
                           dataio.map(B.cutmix(slot="x", label_slot="y", alpha=1.0)))
    with pipe.bind(records).run("numpy", seed=4) as loader:
        batch = next(iter(loader))
    for i in range(n):
        image, label = batch["x"][i], batch["y"][i]
        pasted = image != i
        area = pasted[0].mean()
        np.testing.assert_array_equal(pasted[0], pasted[1])  # same box in every channel
        if area:
            ys, xs = np.nonzero(pasted[0])
            assert pasted[0][ys.min():ys.max() + 1, xs.min():xs.max() + 1].all()  # a rectangle
            assert np.isclose(label[i], 1 - area, atol=1e-6)
        else:
            assert label[i] == pytest.approx(1.0) or label.sum() == pytest.approx(1.0)
        assert label.sum() == pytest.approx(1.0)


def test_pad_to_longest_stacks_ragged_rows() -> None:
    records = [{"x": npy(np.ones((n, 2), np.int16) * n)} for n in (1, 3, 2)]
    (batch,) = run(records, B.pad_to_longest(slot="x", pad_value=-1, pad_to_multiple_of=4), slots=("x",))
    out = batch["x"]
    assert out.shape == (3, 4, 4) and out.dtype == np.int16
    np.testing.assert_array_equal(out[1, :3, :2], 3)
    assert (out[1, 3:] == -1).all() and (out[:, :, 2:] == -1).all()
    mask = batch.masks["x"]
    assert mask.shape == out.shape and mask.dtype == np.bool_
    assert mask[1, :3, :2].all() and not mask[1, 3:].any() and not mask[:, :, 2:].any()
    assert mask.sum() == (1 + 3 + 2) * 2


def test_masks_follow_batch_shuffle() -> None:
    records = [{"key": f"k{n}", "x": npy(np.ones(n, np.int16))} for n in (1, 2, 3, 4)]
    (batch,) = run(records, B.pad_to_longest(slot="x"), B.batch_shuffle(), slots=("x",), seed=3)
    lengths = [int(k[1:]) for k in batch.keys]
    np.testing.assert_array_equal(batch.masks["x"].sum(axis=1), lengths)


def test_batch_normalize_uses_the_channel_axis_of_the_layout() -> None:
    records = float_records(3)
    mean, std = [0.1, 0.2, 0.3], [0.5, 2.0, 4.0]
    chw = lambda s: dataio.slot(s).decode_npy()  # noqa: E731 - npy rows carry no layout: last axis
    (batch,) = run(records, B.batch_normalize(slot=0, mean=mean[:1] * 5, std=std[:1] * 5), slots=("x",), chain=chw)
    np.testing.assert_allclose(batch["x"], (loads(records, "x") - 0.1) / 0.5, atol=1e-6)
    image = np.random.default_rng(1).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    from PIL import Image

    from tests.conftest import encode

    pipe = dataio.pipeline(dataio.slot("x").decode_image().normalize("unit"), dataio.batch(1),
                           dataio.map(B.batch_normalize(slot="x", mean=mean, std=std)))
    with pipe.bind([{"x": encode(Image.fromarray(image))}]).run("numpy") as loader:
        got = next(iter(loader))["x"][0]
    expected = (image.transpose(2, 0, 1) / 255.0 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_batch_shuffle_moves_everything_in_lockstep() -> None:
    records = [{"key": f"k{i}", "x": npy(np.array([i], np.int64)), "y": npy(np.array([10 * i], np.int64))}
               for i in range(8)]
    (batch,) = run(records, B.batch_shuffle(), context=lambda r: r["key"].upper())
    order = [int(k[1:]) for k in batch.keys]
    assert sorted(order) == list(range(8)) and order != list(range(8))
    np.testing.assert_array_equal(batch["x"][:, 0], order)
    np.testing.assert_array_equal(batch["y"][:, 0], [10 * i for i in order])
    assert batch.indices == order and batch.context == [f"K{i}" for i in order]


def test_parameter_validation() -> None:
    with pytest.raises(ValueError, match="alpha"):
        B.mixup(slot="x", alpha=0)
    with pytest.raises(TypeError, match="slot"):
        B.cutmix(slot=True)
    with pytest.raises(ValueError, match="equal lengths"):
        B.batch_normalize(slot="x", mean=[1, 2], std=[1])
    with pytest.raises(ValueError, match="pad_to_multiple_of"):
        B.pad_to_longest(slot="x", pad_to_multiple_of=0)
    with pytest.raises(ValueError):
        B.batch_shuffle(seed=-1)


def test_batch_transforms_are_in_explain_and_signature() -> None:
    def pipe(alpha: float) -> dataio.Pipeline:
        return dataio.pipeline(dataio.slot("x").decode_npy(), dataio.batch(2), dataio.map(B.mixup(slot="x", alpha=alpha)))

    assert pipe(0.2).signature != pipe(0.3).signature
    assert "batch_transforms.mixup" in pipe(0.2).explain(device="cpu")
