"""safetensors files: interop with the safetensors package both ways, shards, zero-copy reads, corruption."""

from __future__ import annotations

import json
import mmap
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import dataio


def sample() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "embed.weight": rng.standard_normal((16, 8)).astype(np.float32),
        "layer.0.bias": rng.standard_normal(8).astype(np.float16),
        "ids": np.arange(10, dtype=np.int64),
        "mask": np.array([True, False, True]),
        "scalar": np.array(3.5, dtype=np.float64),  # 0-d
        "bytes": np.arange(5, dtype=np.uint8),
        "fortran": np.asfortranarray(rng.standard_normal((3, 4))).astype(np.float32),
        "big_endian": np.arange(4, dtype=">i4"),
        "complex": (np.arange(3) + 1j).astype(np.complex64),
    }


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert list(got) == list(want) or set(got) == set(want)
    for name, array in want.items():
        assert got[name].shape == array.shape and got[name].dtype == array.dtype.newbyteorder("=")
        np.testing.assert_array_equal(got[name], array)


def test_files_written_here_load_in_the_safetensors_package_and_back(tmp_path: Path) -> None:
    tensors = sample()
    dataio.write_safetensors(tmp_path / "a.safetensors", tensors, metadata={"format": "np", "step": 7})
    assert_same(load_file(tmp_path / "a.safetensors"), tensors)
    save_file({k: v.astype(v.dtype.newbyteorder("="), order="C") for k, v in tensors.items()},
              tmp_path / "b.safetensors", metadata={"from": "package"})
    back = dataio.read_safetensors(tmp_path / "b.safetensors")
    assert_same(back, tensors)
    with dataio.open_safetensors(tmp_path / "a.safetensors") as session:
        assert session.metadata == {"format": "np", "step": "7"}
        assert session.keys()[0] == "embed.weight" and "ids" in session
        np.testing.assert_array_equal(session.read(key="ids"), tensors["ids"])
        np.testing.assert_array_equal(session.read_slice("embed.weight", 2, 5), tensors["embed.weight"][2:5])
    with pytest.raises(ValueError, match="closed"):
        session.keys()
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "a.safetensors").read_bytes()


def test_sharded_checkpoints_use_the_hugging_face_layout(tmp_path: Path) -> None:
    tensors = {f"layer.{i}.weight": np.full((256,), i, dtype=np.float32) for i in range(5)}  # 1 KiB each
    index = dataio.write_safetensors(tmp_path / "ckpt", tensors, max_shard_size="2KiB", metadata={"m": "x"})
    assert index is not None and index["metadata"]["total_size"] == 5 * 1024 and index["metadata"]["m"] == "x"
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert files == ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                     "model-00003-of-00003.safetensors", "model.safetensors.index.json"]
    assert json.loads((tmp_path / "ckpt" / "model.safetensors.index.json").read_text()) == index
    merged = {}
    for name in files[:3]:
        merged.update(load_file(tmp_path / "ckpt" / name))
    assert_same(merged, tensors)
    assert_same(dataio.read_safetensors(tmp_path / "ckpt"), tensors)
    assert_same(dataio.read_safetensors(tmp_path / "ckpt" / "model.safetensors.index.json"), tensors)
    picked = dataio.read_safetensors(tmp_path / "ckpt", keys=lambda n: n.startswith("layer.3"))
    assert list(picked) == ["layer.3.weight"]
    with pytest.raises(ValueError, match="single-file"):
        dataio.read_safetensors(tmp_path / "ckpt", key="layer.0.weight")
    one = dataio.write_safetensors(tmp_path / "small", {"x": np.zeros(2, np.float32)}, max_shard_size=10**9)
    assert one is not None and (tmp_path / "small" / "model.safetensors").exists()


def test_local_reads_share_memory_with_the_mapping(tmp_path: Path) -> None:
    dataio.write_safetensors(tmp_path / "m.safetensors", {"w": np.arange(1000, dtype=np.float32)})
    array = dataio.read_safetensors(tmp_path / "m.safetensors", key="w")
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base.obj if isinstance(base, memoryview) else base, mmap.mmap)  # the mapped file, no copy
    array[0] = -1.0  # copy-on-write: writable, and the file is untouched
    assert dataio.read_safetensors(tmp_path / "m.safetensors", key="w")[0] == 0.0


def test_torch_tensors_including_bfloat16(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file as load_torch

    tensors = {"bf": torch.arange(6, dtype=torch.float32).to(torch.bfloat16).reshape(2, 3),
               "t": torch.arange(12, dtype=torch.float32).reshape(3, 4).t()}  # non-contiguous
    dataio.write_safetensors(tmp_path / "t.safetensors", tensors)
    loaded = load_torch(tmp_path / "t.safetensors")
    assert torch.equal(loaded["bf"], tensors["bf"]) and torch.equal(loaded["t"], tensors["t"])
    back = dataio.read_safetensors(tmp_path / "t.safetensors", framework="torch")
    assert back["bf"].dtype == torch.bfloat16 and torch.equal(back["bf"], tensors["bf"])
    assert dataio.read_safetensors(tmp_path / "t.safetensors", key="bf").dtype == np.int16  # bit patterns
    with pytest.raises(dataio.DeviceUnavailable):
        if not torch.cuda.is_available():
            dataio.read_safetensors(tmp_path / "t.safetensors", framework="torch", device="cuda:0")
        else:
            raise dataio.DeviceUnavailable("a GPU is present; covered by tests/gpu")
    with pytest.raises(ValueError, match="framework='torch'"):
        dataio.read_safetensors(tmp_path / "t.safetensors", device="cuda:0")


def test_bad_inputs_get_clear_errors(tmp_path: Path) -> None:
    good = tmp_path / "g.safetensors"
    dataio.write_safetensors(good, {"x": np.arange(100, dtype=np.float32)})
    data = good.read_bytes()
    (tmp_path / "truncated_header.safetensors").write_bytes(data[:20])
    with pytest.raises(dataio.DecodeError, match="truncated_header"):
        dataio.read_safetensors(tmp_path / "truncated_header.safetensors")
    (tmp_path / "short.safetensors").write_bytes(data[:-16])
    with pytest.raises(dataio.DecodeError, match="inconsistent"):
        dataio.read_safetensors(tmp_path / "short.safetensors")
    with pytest.raises(KeyError, match="'y'"):
        dataio.read_safetensors(good, key="y")
    for bad, match in [({}, "non-empty"), ({"__metadata__": np.zeros(1)}, "invalid tensor name"),
                       ({"s": np.array(["a"])}, "unsupported dtype"), ({"o": [1, 2]}, "not a numpy array")]:
        with pytest.raises(ValueError, match=match):
            dataio.write_safetensors(tmp_path / "bad.safetensors", bad)
    with pytest.raises(ValueError, match="max_shard_size"):
        dataio.write_safetensors(tmp_path / "d", {"x": np.zeros(1)}, max_shard_size="ten")
    with pytest.raises(FileNotFoundError):
        dataio.read_safetensors(tmp_path / "nothing-here")
    assert not (tmp_path / "bad.safetensors").exists() and not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_bytes_file_objects_and_object_stores(tmp_path: Path, store: str) -> None:
    tensors = {"a": np.arange(6, dtype=np.int32).reshape(2, 3), "b": np.ones(4, np.float64)}
    dataio.write_safetensors(f"{store}/w/model.safetensors", tensors)
    assert_same(dataio.read_safetensors(f"{store}/w/model.safetensors"), tensors)
    np.testing.assert_array_equal(dataio.read_safetensors(f"{store}/w/model.safetensors", key="b"), tensors["b"])
    raw = dataio.read(f"{store}/w/model.safetensors")
    assert_same(dataio.read_safetensors(raw), tensors)
    with open(tmp_path / "f.safetensors", "wb") as f:
        f.write(raw)
    with open(tmp_path / "f.safetensors", "rb") as f:
        assert_same(dataio.read_safetensors(f), tensors)
    index = dataio.write_safetensors(f"{store}/sharded", tensors, max_shard_size=30)
    assert index is not None and len(set(index["weight_map"].values())) == 2
    assert_same(dataio.read_safetensors(f"{store}/sharded"), tensors)


def test_float8_tensors_round_trip_with_the_safetensors_package(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file as load_torch
    from safetensors.torch import save_file as save_torch

    values = torch.tensor([0.5, -1.0, 2.0, 448.0])
    tensors = {"e4m3": values.to(torch.float8_e4m3fn), "e5m2": values.to(torch.float8_e5m2)}
    dataio.write_safetensors(tmp_path / "f8.safetensors", tensors)
    loaded = load_torch(tmp_path / "f8.safetensors")
    assert all(torch.equal(loaded[k].float(), tensors[k].float()) and loaded[k].dtype == tensors[k].dtype
               for k in tensors)
    save_torch(tensors, tmp_path / "theirs.safetensors")
    back = dataio.read_safetensors(tmp_path / "theirs.safetensors", framework="torch")
    assert all(back[k].dtype == tensors[k].dtype and torch.equal(back[k].float(), tensors[k].float())
               for k in tensors)
    bits = dataio.read_safetensors(tmp_path / "theirs.safetensors", key="e4m3")
    assert bits.dtype == np.uint8 and bits.tolist() == tensors["e4m3"].view(torch.uint8).tolist()
