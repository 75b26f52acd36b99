"""Direct IO verbs on local files and on real S3 (moto) and GCS (fake-gcs-server) servers."""

from __future__ import annotations

import os

import pytest

import dataio


def test_write_then_read_bytes_text_json_and_windows(store: str) -> None:
    uri = f"{store}/dir/blob.bin"
    etag = dataio.write(uri, b"0123456789", mkdir_parents=True)
    assert (etag is None) == (dataio.io.resolve.locate(store).scheme == "file")  # ETags from object stores
    assert dataio.read(uri) == b"0123456789"
    assert dataio.read(uri, offset=2, size=3) == b"234"
    assert dataio.read(uri, offset=8, size=10) == b"89"  # clipped at the end
    assert dataio.read(uri, offset=20, size=4) == b""  # past the end
    assert dataio.read(uri, offset=3, size=0) == b""
    dataio.write(f"{store}/t.txt", "héllo", mkdir_parents=True)
    assert dataio.read(f"{store}/t.txt", format="text") == "héllo"
    dataio.write(f"{store}/d.json", {"a": [1, 2]}, mkdir_parents=True)
    assert dataio.read(f"{store}/d.json", format="json") == {"a": [1, 2]}
    dataio.write(f"{store}/rows.jsonl", [{"i": 1}, {"i": 2}], mkdir_parents=True)
    assert dataio.read(f"{store}/rows.jsonl", format="jsonl") == [{"i": 1}, {"i": 2}]
    with pytest.raises(RuntimeError, match="max_response_bytes"):
        dataio.read(uri, max_response_bytes=4)
    with pytest.raises(ValueError, match="together"):
        dataio.read(uri, offset=1)
    with pytest.raises(ValueError, match=">= 0"):
        dataio.read(uri, offset=-1, size=2)
    with pytest.raises(TypeError):
        dataio.write(uri, 5, format="bytes")


def test_missing_objects_raise_file_not_found_naming_the_uri(store: str) -> None:
    missing = f"{store}/nope/missing.bin"
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        dataio.read(missing)
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        dataio.head(missing)
    assert dataio.exists(missing) is False
    dataio.delete(missing)  # idempotent


def test_head_exists_ls_glob_and_delete(store: str) -> None:
    names = ["a.npy", "x/a.npy", "x/y/a.npy", "x/y/b.txt", "x/.hidden.npy"]
    for name in names:
        dataio.write(f"{store}/{name}", name.encode(), mkdir_parents=True)
    info = dataio.head(f"{store}/x/a.npy")
    assert info.status == 200 and info.content_length == len(b"x/a.npy") and info.last_modified
    assert dataio.exists(f"{store}/x/y/b.txt")
    listed = dataio.ls(store)
    assert listed == sorted(listed) and [p.split(store, 1)[1].lstrip("/") for p in listed] == sorted(names)
    assert dataio.ls(f"{store}/x/a.npy") == [f"{store}/x/a.npy"]
    assert dataio.ls(f"{store}/empty-prefix") == []
    relative = [p.split(store, 1)[1].lstrip("/") for p in dataio.glob(f"{store}/**/*.npy")]
    assert relative == ["a.npy", "x/.hidden.npy", "x/a.npy", "x/y/a.npy"]
    assert [p.split(store, 1)[1] for p in dataio.glob(f"{store}/x/*.npy")] == ["/x/.hidden.npy", "/x/a.npy"]
    assert dataio.glob(f"{store}/x/a.npy") == [f"{store}/x/a.npy"] and dataio.glob(f"{store}/*.zip") == []
    dataio.delete(f"{store}/a.npy")
    assert not dataio.exists(f"{store}/a.npy")
    dataio.delete(f"{store}/x", recursive=True)
    assert dataio.ls(store) == []


def test_a_failed_local_write_leaves_the_old_file(tmp_path: pytest.TempPathFactory) -> None:
    target = os.path.join(str(tmp_path), "keep.json")
    dataio.write(target, {"v": 1})

    class Unserialisable:
        pass

    with pytest.raises(TypeError):
        dataio.write(target, {"v": Unserialisable()})
    assert dataio.read(target, format="json") == {"v": 1}
    assert os.listdir(str(tmp_path)) == ["keep.json"]  # no temp file left behind
    with pytest.raises(FileNotFoundError, match="mkdir_parents"):
        dataio.write(os.path.join(str(tmp_path), "no", "such", "dir.bin"), b"x")


def test_multipart_sized_writes_round_trip(store: str) -> None:
    payload = os.urandom(6 * 1024 * 1024 + 123)  # over S3's 5 MiB multipart threshold
    dataio.write(f"{store}/big.bin", payload, mkdir_parents=True)
    assert dataio.read(f"{store}/big.bin") == payload
    assert dataio.read(f"{store}/big.bin", offset=5 * 1024 * 1024, size=10) == payload[5 * 1024 * 1024:][:10]


def test_pipelines_read_objects_through_the_resolver(store: str, jpeg_paths: list[str]) -> None:
    for i, path in enumerate(jpeg_paths[:4]):
        with open(path, "rb") as f:
            dataio.write(f"{store}/img/{i}.jpg", f.read(), mkdir_parents=True)
    records = [{"image": uri} for uri in dataio.glob(f"{store}/img/*.jpg")] + [{"image": f"{store}/img/missing.jpg"}]
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=8, w=8), dataio.batch(5))
    with pipe.bind(records).run("numpy", device="cpu") as loader:
        (batch,) = list(loader)
    assert len(batch) == 4 and batch["image"].shape == (4, 8, 8, 3)
    (error,) = batch.errors
    assert error["stage"] == "read" and "missing.jpg" in error["message"]


def test_unsupported_verbs_and_bad_uris() -> None:
    with pytest.raises(NotImplementedError):
        dataio.write("https://example.com/x", b"")
    with pytest.raises(NotImplementedError):
        dataio.delete("hf://org/repo/file")
    with pytest.raises(ValueError, match="unknown URI scheme"):
        dataio.read("ftp://host/x")
    with pytest.raises(ValueError, match="bucket"):
        dataio.read("s3://bucket")
    with pytest.raises(NotImplementedError, match="query"):
        dataio.read("s3://bucket/key?versionId=1")


def test_large_reads_split_into_concurrent_ranges(store: str) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    dataio.write(f"{store}/large.bin", payload, mkdir_parents=True)
    dataio.configure_transport("default", readall_chunk_mib=1, readall_concurrency=2)  # four ranges, two at a time
    try:
        assert dataio.read(f"{store}/large.bin") == payload
    finally:
        dataio.configure_transport("default")


def test_r2_is_s3_at_an_endpoint(s3_endpoint: str) -> None:
    from dataio.io import config
    from dataio.io.resolve import filesystem, locate

    dataio.configure_endpoint("r2", s3_endpoint)
    dataio.configure_credentials("r2", method="env_prefix", prefix="DATAIO_TEST_R2_")
    os.environ["DATAIO_TEST_R2_ACCESS_KEY_ID"] = "r2key"
    os.environ["DATAIO_TEST_R2_SECRET_ACCESS_KEY"] = "r2secret"
    try:
        fs = filesystem(locate("r2://r2-bucket/x"))
        assert fs.key == "r2key"  # the prefixed variables reached the client
        fs.mkdir("r2-bucket")
        assert dataio.write("r2://r2-bucket/a/b.txt", "over r2")
        assert dataio.read("r2://r2-bucket/a/b.txt", format="text") == "over r2"
        assert dataio.glob("r2://r2-bucket/**") == ["r2://r2-bucket/a/b.txt"]
    finally:
        config.reset()
        del os.environ["DATAIO_TEST_R2_ACCESS_KEY_ID"], os.environ["DATAIO_TEST_R2_SECRET_ACCESS_KEY"]


def test_content_type_is_stored_where_the_backend_keeps_one(store: str) -> None:
    uri = f"{store}/typed/doc.json"
    dataio.write(uri, b"{}", content_type="application/json", mkdir_parents=True)
    with dataio.writer(f"{store}/typed/stream.json", content_type="application/json") as w:
        w.write(b"[]")
    if dataio.io.resolve.locate(store).scheme != "file":  # local files have no content type
        assert dataio.head(uri).content_type == "application/json"
        assert dataio.head(f"{store}/typed/stream.json").content_type == "application/json"
