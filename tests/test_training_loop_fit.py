"""What training loops expect of a loader: typed labels, batches that move themselves to a device, epochs set from
outside, and shuffling without a sharding spec (issue 19, part 1)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dataio

torch = pytest.importorskip("torch")


def npy(array: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array))
    return buffer.getvalue()


def labelled(labels: list[Any], dtype: str = "int64") -> list[Any]:
    pipe = dataio.pipeline(dataio.slot("x").decode_npy(), dataio.slot("label").decode_scalar(dtype), dataio.batch(64))
    records = [{"x": npy([i]), "label": label} for i, label in enumerate(labels)]
    with pipe.bind(records).run("torch", device="cpu") as loader:
        return list(loader)


def test_numbers_in_records_become_typed_tensors() -> None:
    (batch,) = labelled([3, np.int32(7), 2.0, True, "  11\n", b"4"])
    assert batch["label"].dtype == torch.int64 and batch["label"].tolist() == [3, 7, 2, 1, 11, 4]
    (floats,) = labelled([0.5, 2, "1e-3", np.float64(0.25)], "float32")
    assert floats["label"].dtype == torch.float32 and floats["label"].tolist() == pytest.approx([0.5, 2, 1e-3, 0.25])
    (flags,) = labelled([True, 0, "false", b"TRUE", 1.0], "bool")
    assert flags["label"].dtype == torch.bool and flags["label"].tolist() == [True, False, False, True, True]


def test_a_number_that_does_not_convert_exactly_fails_its_row_only() -> None:
    (batch,) = labelled([1, 2.5, 300, "seven", b"\xff", 5], "uint8")
    assert batch["label"].tolist() == [1, 5]
    messages = [e["message"] for e in batch.errors]
    assert [e["op"] for e in batch.errors] == ["decoders.scalar"] * 4
    assert "2.5 is not an integer" in messages[0] and "300 is out of uint8's range" in messages[1]
    assert "'seven' is not one uint8 number" in messages[2] and "not UTF-8" in messages[3]
    with pytest.raises(ValueError, match="dtype"):
        dataio.decoders.scalar(dtype="complex64")


def test_webdataset_class_members_become_int64_labels(tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "shard-0.tar", "w") as tar:
        for i in range(6):
            for name, data in ((f"s{i}.npy", npy([i])), (f"s{i}.cls", f"{i % 4}\n".encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    pipe = dataio.pipeline(dataio.slot("npy").decode_npy(), dataio.slot("cls").decode_scalar(), dataio.batch(6))
    with pipe.bind(dataio.webdataset(str(tmp_path / "shard-0.tar"))).run("torch", device="cpu") as loader:
        (batch,) = list(loader)
    assert batch["cls"].dtype == torch.int64 and batch["cls"].shape == (6,) and batch["cls"].tolist() == [0, 1, 2, 3, 0, 1]


@pytest.mark.parametrize("padded", [False, True], ids=["ragged list", "pad_to_longest + mask"])
def test_batch_to_moves_tensors_and_masks_and_keeps_the_rest(padded: bool) -> None:
    maps = [dataio.map(dataio.batch_transforms.pad_to_longest(slot="x"))] if padded else []
    pipe = dataio.pipeline(dataio.slot("x").decode_npy(), dataio.slot("label").decode_scalar(),
                           dataio.slot("meta").passthrough(), dataio.batch(3), *maps)
    records = [{"x": npy(np.arange(i + 1, dtype=np.float32)), "label": i, "meta": {"i": i}} for i in range(3)]
    with pipe.bind(records).run("torch", device="cpu") as loader:
        (batch,) = list(loader)
    moved = batch.to("cpu", non_blocking=True)
    assert moved is not batch and moved.keys == batch.keys and moved["meta"] == batch["meta"]
    assert torch.equal(moved["label"], batch["label"]) and len(moved) == 3
    assert [torch.equal(a, b) for a, b in zip(moved["x"], batch["x"], strict=True)] == [True] * 3
    assert moved.masks.keys() == batch.masks.keys() == ({"x"} if padded else set())
    double = moved.to(torch.float64)  # whatever the tensors' .to takes: dtypes too
    assert double["label"].dtype == torch.float64 and all(m.dtype == torch.float64 for m in double.masks.values())
    with pipe.bind(records).run("numpy", device="cpu") as loader:
        (host,) = list(loader)
    with pytest.raises(TypeError, match="output='torch'"):
        host.to("cpu")


def numbers(loader: Any) -> list[int]:
    return [int(v) for b in loader for v in b["x"]]


def test_set_epoch_runs_that_epoch_from_its_start() -> None:
    pipe = dataio.pipeline(dataio.slot("x").decode_npy(), dataio.batch(4))
    records = [{"x": npy(i)} for i in range(12)]
    with pipe.bind(records).run("numpy", device="cpu", shuffle=True, seed=5) as loader:
        first = numbers(loader)
        assert loader.epoch == 1
        second = numbers(loader)
        loader.set_epoch(0)
        assert numbers(loader) == first
        it = iter(loader)  # epoch 1, stopped early: the epoch does not advance ...
        next(it)
        it.close()
        assert loader.epoch == 1
        loader.set_epoch(1)  # ... and a training loop says which epoch comes next
        assert numbers(loader) == second
        with pytest.raises(ValueError, match="epoch"):
            loader.set_epoch(-1)
        it = iter(loader)
        with pytest.raises(RuntimeError, match="active"):
            loader.set_epoch(3)
        it.close()
    assert sorted(first) == list(range(12)) and first != list(range(12)) and first != second


def test_shuffle_needs_sized_records_and_keeps_each_records_draws() -> None:
    pipe = dataio.pipeline(dataio.slot("x").decode_npy().gaussian_noise(std=1.0), dataio.batch(4))
    records = [{"x": npy(np.zeros(3, np.float32)), "key": f"r{i}"} for i in range(8)]

    def by_key(**options: Any) -> dict[str, np.ndarray]:
        with pipe.bind(records).run("numpy", device="cpu", seed=2, **options) as loader:
            return {k: v for b in loader for k, v in zip(b.keys, b["x"], strict=True)}

    plain, shuffled = by_key(), by_key(shuffle=True)
    assert set(plain) == set(shuffled) and all(np.array_equal(plain[k], shuffled[k]) for k in plain)
    with pytest.raises(dataio.PlanError, match="sized records"):
        pipe.bind(lambda: iter(records)).run("numpy", device="cpu", shuffle=True)
    with pytest.raises(TypeError, match="shuffle"):
        pipe.bind(records).run("numpy", device="cpu", shuffle="yes")


def tiny_regression(n: int = 48) -> Any:
    """A bound pipeline of ``n`` records whose label is the sum of its features (a model can learn it)."""
    rng = np.random.default_rng(0)
    features = rng.random((n, 4)).astype(np.float32)
    records = [{"x": npy(f), "label": float(f.sum()), "key": f"r{i}"} for i, f in enumerate(features)]
    pipe = dataio.pipeline(dataio.slot("x").decode_npy(), dataio.slot("label").decode_scalar("float32"),
                           dataio.batch(8))
    return pipe.bind(records)


@pytest.mark.parametrize("workers", [0, 2])
def test_the_torch_dataset_adapter_reads_every_record_once_per_epoch(workers: int) -> None:
    dataset = tiny_regression().as_torch_dataset(device="cpu", shuffle=True, seed=1)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers,
                                         persistent_workers=workers > 0)
    epochs = []
    for _ in range(2):
        keys = [k for batch in loader for k in batch.keys]
        assert sorted(keys) == sorted(f"r{i}" for i in range(48))
        epochs.append(keys)
    assert epochs[0] != epochs[1]  # a new order each epoch: each process's loader advances
    if workers == 0:
        assert len(dataset) == 6
        dataset.set_epoch(0)
        assert [k for batch in loader for k in batch.keys] == epochs[0]


def test_lightning_trains_a_model_through_dataio() -> None:
    lightning = pytest.importorskip("lightning")

    class Regression(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)
            self.losses: list[float] = []

        def training_step(self, batch: Any, index: int) -> Any:
            loss = torch.nn.functional.mse_loss(self.layer(batch["x"]).squeeze(1), batch["label"])
            self.losses.append(loss.item())
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.2)

    model = Regression()
    trainer = lightning.Trainer(accelerator="cpu", max_epochs=4, limit_train_batches=4, logger=False,
                                enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    dataset = tiny_regression().as_torch_dataset(device="cpu", shuffle=True)
    trainer.fit(model, torch.utils.data.DataLoader(dataset, batch_size=None))
    assert len(model.losses) == 16 and np.mean(model.losses[-4:]) < np.mean(model.losses[:4])


def test_accelerate_trains_a_model_through_dataio() -> None:
    accelerate = pytest.importorskip("accelerate")
    accelerator = accelerate.Accelerator(cpu=True)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    dataset = tiny_regression().as_torch_dataset(device="cpu", as_dict=True)  # accelerate wants mappings
    loader = torch.utils.data.DataLoader(dataset, batch_size=None)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    losses = []
    for _ in range(3):
        for batch in loader:
            loss = torch.nn.functional.mse_loss(model(batch["x"]).squeeze(1), batch["label"])
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
    assert len(losses) == 18 and np.mean(losses[-6:]) < np.mean(losses[:6])


@pytest.mark.parametrize("ragged", ["list", "error", "skip"])
def test_a_batch_pickles_with_its_delivered_values(ragged: str) -> None:
    import pickle

    pipe = dataio.pipeline(dataio.slot("x").decode_npy(), dataio.slot("label").decode_scalar(),
                           dataio.slot("meta").passthrough(), dataio.batch(3))
    records = [{"x": npy(np.arange(i + 1, dtype=np.float32)), "label": i, "meta": {"i": i}} for i in range(3)]
    with pipe.bind(records).run("torch", device="cpu", ragged=ragged) as loader:
        (batch,) = list(loader)
    copy = pickle.loads(pickle.dumps(batch))
    assert (copy.keys, copy.indices, copy.errors, copy["meta"], copy.slot_names) == \
        (batch.keys, batch.indices, batch.errors, batch["meta"], batch.slot_names)
    assert torch.equal(copy["label"], batch["label"]) and copy.as_dict().keys() == batch.as_dict().keys()
    if ragged != "error":
        assert len(copy.tensors) == len(batch.tensors)
    if ragged == "list":
        assert all(torch.equal(a, b) for a, b in zip(copy["x"], batch["x"], strict=True))
    else:
        with pytest.raises(RuntimeError, match="ragged"):
            copy["x"]


def test_hugging_face_encoded_images_are_read_from_their_bytes(tmp_path: Path) -> None:
    """``datasets``' Image feature gives ``{"bytes", "path"}``: the bytes are the image (the path may be a name from
    another machine); with ``bytes=None`` the path is read."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 6, 3), 200, np.uint8)).save(buffer, "PNG")
    local = tmp_path / "local.png"
    local.write_bytes(buffer.getvalue())
    records = [{"image": {"bytes": buffer.getvalue(), "path": "/elsewhere/train/0001.png"}},
               {"image": {"bytes": None, "path": str(local)}},
               {"image": {"bytes": "not bytes", "path": None}}]
    pipe = dataio.pipeline(dataio.slot("image").decode_image(), dataio.batch(2))
    with pipe.bind(records[:2]).run("numpy", device="cpu") as loader:
        (batch,) = list(loader)
    assert batch["image"].shape == (2, 8, 6, 3) and (batch["image"] == 200).all()
    with pytest.raises(TypeError, match="'bytes' must be bytes-like"):
        with pipe.bind(records[2:]).run("numpy", device="cpu") as loader:
            list(loader)
