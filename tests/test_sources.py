"""Record sources (docs/api.md §5) through real pipelines: laziness, row errors, epochs, shuffles, listings."""

from __future__ import annotations

import io
import tarfile
import zipfile
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dataio


def npy(value: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(value))
    return buffer.getvalue()


def values(records: Any, *, size: int = 4, slot: str = "reader", epochs: int = 1, **options: Any) -> list[Any]:
    """Per epoch: (keys, decoded values, errors) of every batch, through a one-slot npy pipeline."""
    pipe = dataio.pipeline(dataio.slot(slot).decode_npy(), dataio.batch(size))
    out = []
    with pipe.bind(records).run("numpy", device="cpu", **options) as loader:
        for _ in range(epochs):
            out.append([(b.keys, b[slot].tolist(), [e["key"] for e in b.errors]) for b in loader])
    return out


# -- from_callable ---------------------------------------------------------------------------------


def test_from_callable_reads_lazily_and_isolates_failures() -> None:
    calls: list[int] = []

    def make(i: int) -> bytes:
        calls.append(i)
        if i == 3:
            raise OSError("object 3 is gone")
        return npy(i * 10)

    source = dataio.from_callable(make, length=6)
    assert len(source) == 6 and calls == []  # building and listing read nothing
    pipe = dataio.pipeline(dataio.slot("reader").decode_npy(), dataio.batch(3))
    with pipe.bind(source).run("numpy", device="cpu") as loader:
        batches = list(loader)
    assert sorted(calls) == list(range(6))
    assert batches[0].keys == ["pycall:0", "pycall:1", "pycall:2"] and batches[0]["reader"].tolist() == [0, 10, 20]
    assert batches[1].keys == ["pycall:4", "pycall:5"]
    (error,) = batches[1].errors
    assert error["key"] == "pycall:3" and error["stage"] == "read" and "object 3 is gone" in error["message"]


def test_from_callable_slots_call_fn_once_per_record_and_extras_add_fields() -> None:
    calls: list[int] = []

    def make(i: int) -> dict[str, bytes]:
        calls.append(i)
        return {"x": npy(i), "y": npy(-i)}

    source = dataio.from_callable(make, length=4, slots=["x", "y"], extras=lambda i: {"group": i % 2, "seed": i})
    record = next(iter(source))
    assert set(record) == {"key", "x", "y", "group", "seed"}
    pipe = dataio.pipeline(dataio.slot("x").decode_npy(), dataio.slot("y").decode_npy(), dataio.batch(4))
    with pipe.bind(source).run("numpy", device="cpu") as loader:
        (batch,) = list(loader)
    assert batch["x"].tolist() == [0, 1, 2, 3] and batch["y"].tolist() == [0, -1, -2, -3]
    assert sorted(calls) == [0, 1, 2, 3]  # once per record, not per slot


def test_from_callable_validates() -> None:
    with pytest.raises(TypeError):
        dataio.from_callable(3, length=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        dataio.from_callable(lambda i: b"", length=-1)
    with pytest.raises(TypeError):
        dataio.from_callable(lambda i: b"", length=1, slots="x")


# -- from_iterable / from_iterator -------------------------------------------------------------------


def test_from_iterable_rereads_each_epoch_and_calls_a_factory_per_epoch() -> None:
    assert values(dataio.from_iterable([npy(i) for i in range(5)]), epochs=2)[1][0][0] == [
        "pyiter:0", "pyiter:1", "pyiter:2", "pyiter:3"]
    made: list[int] = []

    def factory() -> Any:
        made.append(1)
        return (npy(i) for i in range(3))

    epochs = values(dataio.from_iterable(factory), epochs=3)
    assert len(made) == 3 and all(e == epochs[0] for e in epochs)
    with pytest.raises(TypeError, match="one-shot iterator"):
        dataio.from_iterable(iter([b""]))


def test_from_iterator_is_single_pass() -> None:
    source = dataio.from_iterator(iter([npy(1), npy(2)]))
    assert values(source)[0][0][1] == [1, 2]
    with pytest.raises(RuntimeError, match="already iterated"):
        list(source)
    with pytest.raises(TypeError, match="buffer_size"):
        dataio.from_iterator(iter([])).shuffle()


# -- from_sampler, group_by, context ------------------------------------------------------------------


def test_from_sampler_batches_with_group_by_and_context_even_when_rows_fail(caplog: pytest.LogCaptureFixture
                                                                            ) -> None:
    sampler = [[0, 1, 2], [3, 4], [5, 6, 7]]

    def record_fn(row: int) -> dict[str, Any] | None:
        if row == 4:
            return None  # dropped
        if row == 6:
            raise ValueError("row 6 is bad")
        return {"key": f"k{row}", "x": b"corrupt" if row == 1 else npy(row), "row": row}

    factory = dataio.from_sampler(sampler, record_fn)
    pipe = dataio.pipeline(dataio.slot("x").decode_npy(), dataio.group_by("batch_id", prefetch=2))
    with caplog.at_level(logging.WARNING, logger="dataio.sampler"):
        with pipe.bind(factory).run("numpy", device="cpu", context=lambda r: (r["row"], r["batch_id"])) as loader:
            batches = list(loader)
            again = [b.keys for b in loader]  # the factory iterates the sampler afresh
    assert [b.keys for b in batches] == [["k0", "k2"], ["k3"], ["k5", "k7"]] == again
    assert [b.context for b in batches] == [[(0, 0), (2, 0)], [(3, 1)], [(5, 2), (7, 2)]]  # aligned with keys
    assert [e["key"] for e in batches[0].errors] == ["k1"]
    assert "row 6 is bad" in caplog.text
    with pytest.raises(ValueError, match="on_error"):
        dataio.from_sampler(sampler, on_error="ignore")
    raising = dataio.from_sampler(sampler, record_fn, on_error="raise")
    with pipe.bind(raising).run("numpy", device="cpu") as loader, pytest.raises(ValueError, match="row 6"):
        list(loader)
    bad = dataio.from_sampler([[1]], lambda row: [row])
    with pipe.bind(bad).run("numpy", device="cpu") as loader, pytest.raises(TypeError, match="mapping"):
        list(loader)


# -- shuffles and transformations --------------------------------------------------------------------


def keys_per_epoch(source: dataio.RecordSource, epochs: int = 2, seed: int = 0) -> list[list[str]]:
    return [[k for keys, _, _ in epoch for k in keys] for epoch in values(source, epochs=epochs, seed=seed)]


def test_shuffle_follows_run_seed_and_epoch_or_a_fixed_seed() -> None:
    base = dataio.from_callable(lambda i: npy(i), length=12)
    first, second = keys_per_epoch(base.shuffle(), seed=3)
    assert first != second and sorted(first) == sorted(f"pycall:{i}" for i in range(12))
    assert keys_per_epoch(base.shuffle(), seed=3) == [first, second]  # reproducible
    assert keys_per_epoch(base.shuffle(), seed=4)[0] != first
    fixed = keys_per_epoch(base.shuffle(seed=7), seed=3)
    assert fixed[0] == fixed[1] == keys_per_epoch(base.shuffle(seed=7), seed=9)[0]


def test_buffered_shuffle_streams_a_single_pass_source() -> None:
    source = dataio.from_iterator(iter([npy(i) for i in range(20)])).shuffle(buffer_size=5, seed=1)
    (epoch,) = keys_per_epoch(source, epochs=1)
    assert sorted(epoch) == sorted(f"pyiter:{i}" for i in range(20)) and epoch != sorted(epoch)


def test_map_filter_and_describe() -> None:
    source = dataio.from_iterable([npy(i) for i in range(6)])
    evens = source.map_records(lambda r: {**r, "key": r["key"].upper()}).filter_records(
        lambda r: int(r["key"].split(":")[1]) % 2 == 0)
    assert keys_per_epoch(evens, epochs=1) == [["PYITER:0", "PYITER:2", "PYITER:4"]]
    description = evens.describe()
    assert description["kind"] == "filter_records" and description["source"]["kind"] == "map_records"
    with pytest.raises(TypeError, match="not known"):
        len(evens)


def test_a_shuffled_source_resumes_exactly() -> None:
    source = dataio.from_callable(lambda i: npy(i), length=10).shuffle()
    pipe = dataio.pipeline(dataio.slot("reader").decode_npy(), dataio.batch(3))
    with pipe.bind(source).run("numpy", device="cpu", seed=11) as loader:
        list(loader)  # epoch 0
        whole = [b.keys for b in loader]  # epoch 1
    with pipe.bind(source).run("numpy", device="cpu", seed=11) as loader:
        list(loader)
        iterator = iter(loader)
        head = [next(iterator).keys]
        state = loader.state_dict()
        iterator.close()
    with pipe.bind(source).run("numpy", device="cpu", seed=11) as loader:
        loader.load_state_dict(state)
        assert head + [b.keys for b in loader] == whole


# -- listings ------------------------------------------------------------------------------------------


def test_files_globs_directories_and_refuses_missing_paths(tmp_path: Path) -> None:
    for name in ("b.npy", "a.npy", "sub/c.npy", "sub/deeper/d.npy", "skip.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(npy(len(name)))
    source = dataio.files([str(tmp_path / "*.npy"), str(tmp_path / "**" / "*.npy"), tmp_path / "a.npy"])
    assert list(source) == [str(tmp_path / n) for n in ("a.npy", "b.npy", "sub/c.npy", "sub/deeper/d.npy")]
    assert len(dataio.files(tmp_path / "sub")) == 2 and len(dataio.files(tmp_path / "sub", recursive=False)) == 1
    assert values(dataio.files(str(tmp_path / "*.npy")), slot="x")[0][0][0] == ["a", "b"]  # keys: path stems
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        dataio.files([str(tmp_path / "a.npy"), str(tmp_path / "missing.npy")])
    with pytest.raises(FileNotFoundError, match="nothing matched"):
        dataio.files(str(tmp_path / "*.jpeg"))
    with pytest.raises(TypeError):
        dataio.files(3)  # type: ignore[arg-type]


def test_urls_read_through_the_uri_layer(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        (tmp_path / f"{i}.npy").write_bytes(npy(i))
        paths.append((tmp_path / f"{i}.npy").as_uri())
    source = dataio.urls(paths, headers={"Authorization": "Bearer x"})
    assert all("headers" not in r["reader"] for r in source)  # http(s) only
    assert values(source)[0][0][1] == [0, 1, 2]
    assert dataio.urls(["https://example.com/a"], headers={"A": "b"})._record(0)["reader"]["headers"] == {"A": "b"}
    with pytest.raises(TypeError, match=r"\[uri\]"):
        dataio.urls(paths[0])  # type: ignore[arg-type]


def test_manifest_jsonl_path_lists_and_csv(tmp_path: Path) -> None:
    (tmp_path / "x.npy").write_bytes(npy(5))
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text(f'{{"key": "first", "x": "{tmp_path / "x.npy"}"}}\n\n{tmp_path / "x.npy"}\n')
    assert list(dataio.manifest(jsonl)) == [{"key": "first", "x": str(tmp_path / "x.npy")}, str(tmp_path / "x.npy")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ok": 1}\n{"broken": \n')
    with pytest.raises(ValueError, match="line 2: invalid JSON"):
        dataio.manifest(bad)
    table = tmp_path / "m.csv"
    table.write_text(f"key,x,label\nr0,{tmp_path / 'x.npy'},3\n")
    assert list(dataio.manifest(table)) == [{"key": "r0", "x": str(tmp_path / "x.npy"), "label": "3"}]
    assert values(dataio.manifest(table), slot="x")[0][0][:2] == (["r0"], [5])
    with pytest.raises(FileNotFoundError):
        dataio.manifest(tmp_path / "none.jsonl")


def test_manifest_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    (tmp_path / "x.npy").write_bytes(npy(7))
    pq.write_table(pa.table({"key": ["a"], "x": [str(tmp_path / "x.npy")]}), tmp_path / "m.parquet")
    assert values(dataio.manifest(tmp_path / "m.parquet"), slot="x")[0][0][:2] == (["a"], [7])


def test_sources_shard_like_any_records() -> None:
    source = dataio.from_callable(lambda i: npy(i), length=7)
    ranks = [values(source, size=2, shard={"id": r, "of": 2, "pad": False})[0] for r in range(2)]
    assert [k for rank in ranks for keys, _, _ in rank for k in keys] == [
        "pycall:0", "pycall:2", "pycall:4", "pycall:6", "pycall:1", "pycall:3", "pycall:5"]
    assert json.dumps(source.describe())


# -- archives ------------------------------------------------------------------------------------------


def write_tar(path: Path, members: list[tuple[str, bytes]], mode: str = "w") -> Path:
    import tarfile

    with tarfile.open(path, mode) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def shard_members(start: int, count: int) -> list[tuple[str, bytes]]:
    members = []
    for i in range(start, start + count):
        members += [(f"part/s{i:03d}.npy", npy(i)), (f"part/s{i:03d}.cls.txt", str(i % 3).encode())]
    return members


@pytest.mark.parametrize("mode", ["w", "w:gz"], ids=["tar", "tar.gz"])
def test_webdataset_groups_members_by_stem_across_brace_shards(tmp_path: Path, mode: str) -> None:
    for shard in range(3):
        write_tar(tmp_path / f"shard-{shard:02d}.tar", shard_members(shard * 4, 4), mode)
    source = dataio.webdataset(str(tmp_path / "shard-{00..02}.tar"))
    first = next(iter(source))
    assert first["__key__"] == "part/s000" and first["__shard__"].endswith("shard-00.tar")
    assert set(first) == {"__key__", "__shard__", "npy", "cls.txt"}
    pipe = dataio.pipeline(dataio.slot("npy").decode_npy(), dataio.slot("cls.txt").decode_text(), dataio.batch(5))
    with pipe.bind(source).run("numpy", device="cpu") as loader:
        batches = list(loader)
    assert [k for b in batches for k in b.keys] == [f"part/s{i:03d}" for i in range(12)]
    assert [int(v) for b in batches for v in b["npy"]] == list(range(12))
    assert [bytes(np.asarray(v)).decode() for v in batches[0]["cls.txt"]] == ["0", "1", "2", "0", "1"]


def test_webdataset_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="shard-9.tar"):
        dataio.webdataset(str(tmp_path / "shard-9.tar"))
    with pytest.raises(ValueError, match="one"):
        dataio.webdataset(str(tmp_path / "{0..1}-{0..1}.tar"))
    write_tar(tmp_path / "dup.tar", [("a.npy", npy(1)), ("a.npy", npy(2))])
    with pytest.raises(ValueError, match="two 'npy' members"):
        list(dataio.webdataset(tmp_path / "dup.tar"))
    write_tar(tmp_path / "big.tar", [("a.npy", npy(np.zeros(100))), ("b.npy", npy(1))])
    pipe = dataio.pipeline(dataio.slot("npy").decode_npy(), dataio.batch(2))
    with pipe.bind(dataio.webdataset(tmp_path / "big.tar", max_output_bytes=500)).run("numpy", device="cpu") as loader:
        (batch,) = list(loader)
    assert batch.keys == ["b"] and "max_output_bytes=500" in batch.errors[0]["message"]


@pytest.mark.parametrize("kind", ["tar", "tgz", "zip"])
def test_archive_lists_and_reads_entries(tmp_path: Path, kind: str) -> None:
    import zipfile

    members = [("x/a.npy", npy(1)), ("b.npy", npy(2))]
    path = tmp_path / f"data.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("x/", b"")
            for name, data in members:
                archive.writestr(name, data)
    else:
        write_tar(path, members, "w:gz" if kind == "tgz" else "w")
    archive = dataio.archive(path)
    assert archive.keys() == ["x/a.npy", "b.npy"]
    assert archive.index() == [{"name": "x/a.npy", "size": len(members[0][1])}, {"name": "b.npy",
                                                                                 "size": len(members[1][1])}]
    assert [v for _, v, _ in values(archive.entries())[0]] == [[1, 2]]
    assert [r["name"] for r in archive.entries()] == ["x/a.npy", "b.npy"]


def test_archive_refuses_what_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a tar or zip"):
        dataio.archive(tmp_path / "plain.txt")
    with pytest.raises(FileNotFoundError):
        dataio.archive(tmp_path / "none.zip")


def test_webdataset_and_files_read_any_fsspec_uri(tmp_path: Path) -> None:
    import fsspec

    local = write_tar(tmp_path / "a.tar", shard_members(0, 3))
    fs = fsspec.filesystem("memory")
    fs.pipe("/wds/shard-0.tar", local.read_bytes())
    fs.pipe("/wds/extra/x.npy", npy(9))
    try:
        source = dataio.webdataset("memory://wds/shard-{0..0}.tar")
        assert [r["__key__"] for r in source] == ["part/s000", "part/s001", "part/s002"]
        assert values(source, slot="npy")[0][0][1] == [0, 1, 2]
        (found,) = dataio.files("memory://wds/**/*.npy")
        assert found.startswith("memory://") and found.endswith("/wds/extra/x.npy")
        with pytest.raises(FileNotFoundError):
            dataio.files("memory://wds/none.npy")
    finally:
        fs.rm("/wds", recursive=True)


# -- Hugging Face datasets -----------------------------------------------------------------------


def hf_images(n: int) -> Any:
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    def png(value: int) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(np.full((6, 5, 3), value, np.uint8)).save(buffer, "PNG")
        return buffer.getvalue()

    features = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})
    return datasets.Dataset.from_dict(  # paths from the machine that built it: only the bytes are here
        {"image": [{"bytes": png(10 * i), "path": f"/built/elsewhere/{i}.png"} for i in range(n)],
         "label": list(range(n))}, features=features)


@pytest.mark.parametrize("streaming", [False, True], ids=["map-style", "streaming"])
def test_hf_dataset_rows_are_records_with_their_image_bytes(streaming: bool) -> None:
    dataset = hf_images(6)
    source = dataio.hf_dataset(dataset.to_iterable_dataset() if streaming else dataset)
    pipe = dataio.pipeline(dataio.slot("image").decode_image(), dataio.slot("label").decode_scalar(),
                           dataio.batch(3))
    with pipe.bind(source).run("numpy", device="cpu", seed=1) as loader:
        batches = list(loader)
    assert [int(v) for b in batches for v in b["label"]] == list(range(6))
    assert [int(image[0, 0, 0]) for b in batches for image in b["image"]] == [0, 10, 20, 30, 40, 50]
    if not streaming:  # sized and random-access: len(loader), shuffle by index
        assert len(source) == 6 and source.random_access
        shuffled = pipe.bind(source.shuffle()).run("numpy", device="cpu", seed=1)
        with shuffled:
            order = [int(v) for b in shuffled for v in b["label"]]
        assert sorted(order) == list(range(6)) and order != list(range(6))


def test_hf_dataset_refuses_what_is_not_a_split() -> None:
    datasets = pytest.importorskip("datasets")
    with pytest.raises(TypeError, match="pick a split"):
        dataio.hf_dataset(datasets.DatasetDict({"train": hf_images(2)}))
    with pytest.raises(TypeError, match="expected a datasets.Dataset"):
        dataio.hf_dataset([{"image": b""}])


# -- member names that would escape a folder ------------------------------------------------------------


UNSAFE = ["../up.txt", "/etc/abs.txt", "a/../../x.txt", "C:/win.txt", "..\\back.txt", "ok/fine.txt"]


def _tar_with(path: Path, names: list[str]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
    return path


def test_archive_member_names_that_would_escape_are_refused_sanitized_or_skipped(tmp_path: Path) -> None:
    tar_path = _tar_with(tmp_path / "evil.tar", UNSAFE)
    zip_path = tmp_path / "evil.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name in UNSAFE:
            archive.writestr(name, b"hi")
        link = zipfile.ZipInfo("link-to-root")
        link.external_attr = (0o120777 << 16)  # a symbolic link: never read
        archive.writestr(link, b"/etc/passwd")
    for path in (tar_path, zip_path):
        with pytest.raises(dataio.UnsafeMemberName, match=r"evil\.(tar|zip): member '\.\./up\.txt' has a '\.\.'"):
            dataio.archive(path).keys()
        with pytest.raises(dataio.UnsafeMemberName):
            list(dataio.archive(path).entries())
        assert dataio.archive(path, unsafe_names="skip").keys() == ["ok/fine.txt"]
        assert dataio.archive(path, unsafe_names="sanitize").keys() == [
            "up.txt", "etc/abs.txt", "x.txt", "win.txt", "back.txt", "ok/fine.txt"]
        entries = list(dataio.archive(path, unsafe_names="sanitize").entries())
        assert [e["key"] for e in entries][0] == "up.txt"
    with pytest.raises(ValueError, match="unsafe_names"):
        dataio.archive(tar_path, unsafe_names="allow")


def test_webdataset_keys_never_escape(tmp_path: Path) -> None:
    shard = _tar_with(tmp_path / "shard.tar", ["../escape.cls", "/abs/s1.cls", "good.cls"])
    with pytest.raises(dataio.UnsafeMemberName, match="shard.tar: member '../escape.cls'"):
        list(dataio.webdataset(str(shard)))
    assert [r["__key__"] for r in dataio.webdataset(str(shard), unsafe_names="skip")] == ["good"]
    assert [r["__key__"] for r in dataio.webdataset(str(shard), unsafe_names="sanitize")] == ["escape", "abs/s1",
                                                                                              "good"]
