"""Readers, writers and streams on local files and real S3, GCS and Azure servers."""

from __future__ import annotations

import gc
import gzip
import io
import os
import tarfile
import zipfile

import numpy as np
import pytest

import dataio
from dataio.io.resolve import locate


def tar_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_readers_are_lazy_and_read_windows_and_overlays(store: str) -> None:
    missing = dataio.reader(f"{store}/missing.bin")  # no IO yet
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        missing.read_all()
    dataio.write(f"{store}/plain.bin", b"0123456789", mkdir_parents=True)
    plain = dataio.reader(f"{store}/plain.bin")
    assert plain.read_all() == b"0123456789" and b"".join(plain) == b"0123456789"
    assert plain.range(2, 5).read_all() == b"23456" and plain.range(2, 5).range(1, 2).read_all() == b"34"
    assert plain.read_range(7, 10) == b"789"
    dataio.write(f"{store}/a.gz", gzip.compress(b"hello" * 100), mkdir_parents=True)
    assert dataio.reader(f"{store}/a.gz").gunzip().read_all() == b"hello" * 100
    with pytest.raises(ValueError, match="max_output_bytes=10"):
        dataio.reader(f"{store}/a.gz").gunzip(max_output_bytes=10).read_all()
    with pytest.raises(dataio.DecodeError):
        plain.gunzip().read_all()
    archive = tar_bytes({"dir/x.npy": b"X" * 10, "y.txt": b"why"})
    dataio.write(f"{store}/a.tar.gz", gzip.compress(archive), mkdir_parents=True)
    tar = dataio.reader(f"{store}/a.tar.gz").gunzip()
    assert tar.tar_entry("y.txt").read_all() == b"why" and tar.tar_entry_at(0).read_all() == b"X" * 10
    assert [e["name"] for e in tar.archive_entries("tar")] == ["dir/x.npy", "y.txt"]
    with pytest.raises(KeyError, match="a.tar.gz.*no member 'nope.txt'"):
        tar.tar_entry("nope.txt").read_all()
    with pytest.raises(RuntimeError, match="fallback=True"):
        tar.tar_entry("y.txt").read_range(0, 2)
    assert tar.tar_entry("y.txt").read_range(1, 2, fallback=True) == b"hy"
    dataio.write(f"{store}/a.zip", zip_bytes({"m/z.bin": b"zed" * 50}), mkdir_parents=True)
    zipped = dataio.reader(f"{store}/a.zip")
    assert zipped.zip_entry("m/z.bin").read_all() == b"zed" * 50
    (entry,) = zipped.archive_entries("zip")
    assert entry["name"] == "m/z.bin" and entry["size"] == 150 and entry["compression"] == "deflate"
    assert tar.tar_entry("y.txt").capabilities()["overlays"] == ["gunzip", "tar_entry"]


@pytest.mark.parametrize("name", ["../etc/passwd", "/abs/path", "a/../../b"])
def test_member_paths_that_escape_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="refused"):
        dataio.reader("/tmp/a.tar").tar_entry(name)
    with pytest.raises(ValueError, match="refused"):
        dataio.reader("/tmp/a.zip").zip_entry(name)


def test_a_reader_is_a_slot_value(store: str) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(4))
    dataio.write(f"{store}/arrays.tar", tar_bytes({"a.npy": buffer.getvalue()}), mkdir_parents=True)
    records = [{"x": dataio.reader(f"{store}/arrays.tar").tar_entry("a.npy")},
               {"x": dataio.reader(f"{store}/arrays.tar").tar_entry("b.npy")}]
    pipe = dataio.pipeline(dataio.slot("x").decode_npy(), dataio.batch(2))
    with pipe.bind(records).run("numpy", device="cpu") as loader:
        (batch,) = list(loader)
    assert batch["x"].tolist() == [[0, 1, 2, 3]]
    assert batch.errors[0]["stage"] == "read" and "b.npy" in batch.errors[0]["message"]


def test_writers_commit_on_exit_and_abort_on_exceptions(store: str) -> None:
    uri = f"{store}/w/object.bin"
    dataio.write(uri, b"previous", mkdir_parents=True)
    big = [os.urandom(1024 * 1024) for _ in range(6)]  # 6 MiB: a multipart upload on S3
    with pytest.raises(KeyboardInterrupt):
        with dataio.writer(uri) as w:
            w.write_chunks(big[:3])
            raise KeyboardInterrupt
    assert dataio.read(uri) == b"previous"  # nothing published
    with dataio.writer(uri) as w:
        w.write_chunks(big)
    assert dataio.read(uri) == b"".join(big)
    etag = dataio.writer(uri).write_all(b"small")
    assert dataio.read(uri) == b"small" and (etag is None) == (locate(store).scheme == "file")
    w = dataio.writer(uri)
    with pytest.raises(TypeError, match="chunk 1 is a str"):
        w.write_chunks([b"ok", "not bytes"])
    w.abort()
    with pytest.raises(RuntimeError, match="closed"):
        w.write(b"late")
    assert w.close() is None or isinstance(w.close(), str)  # idempotent


def test_gzip_encoding_and_unclosed_writers(store: str) -> None:
    uri = f"{store}/g/text.gz"
    with dataio.writer(uri, mkdir_parents=True).gzip_encode() as w:
        w.write_chunks([b"line %d\n" % i for i in range(1000)])
    assert gzip.decompress(dataio.read(uri)) == b"".join(b"line %d\n" % i for i in range(1000))
    with pytest.raises(RuntimeError, match="before the first write"):
        dataio.writer(uri).write(b"x").gzip_encode()
    dropped = dataio.writer(f"{store}/g/never.bin", mkdir_parents=True)
    dropped.write(b"unpublished")
    with pytest.warns(ResourceWarning, match="without close"):
        del dropped
        gc.collect()
    assert not dataio.exists(f"{store}/g/never.bin")


def test_streaming_requirements_per_backend(store: str) -> None:
    scheme = locate(store).scheme
    if scheme in ("gs", "az"):
        with pytest.raises(NotImplementedError, match="spooled"):
            dataio.writer(f"{store}/x.bin", require_streaming=True)
    else:
        assert dataio.writer(f"{store}/x.bin", require_streaming=True, mkdir_parents=True).capabilities()["streaming"]


def test_streams_read_bytes_and_lines_through_one_cursor(store: str) -> None:
    uri = f"{store}/s/lines.txt"
    dataio.write(uri, b"first\r\nsecond\nthird", mkdir_parents=True)
    with dataio.stream(uri) as s:
        assert s.status == 200 and s.content_length == 19 and not s.closed
        assert list(s.iter_lines()) == ["first", "second", "third"] and s.bytes_read == 19
    assert s.closed
    with dataio.stream(uri, offset=7, size=6) as s:
        assert s.read_all() == b"second"
    with dataio.stream(uri) as s:
        chunks = s.iter_bytes(4)
        assert next(chunks) == b"firs"
        s.close()
        assert list(chunks) == []
    with dataio.stream(uri) as s, pytest.raises(ValueError, match="max_line_bytes=3"):
        list(s.iter_lines(max_line_bytes=3))
    with pytest.raises(FileNotFoundError):
        dataio.stream(f"{store}/s/none.txt")


def test_a_writer_body_larger_than_memory_spooling(store: str) -> None:
    chunks = [os.urandom(2**20) for _ in range(9)]  # 9 MiB: past the 8 MiB kept in memory on GCS/Azure
    with dataio.writer(f"{store}/large/w.bin", mkdir_parents=True) as w:
        w.write_chunks(chunks)
    assert dataio.read(f"{store}/large/w.bin") == b"".join(chunks)
