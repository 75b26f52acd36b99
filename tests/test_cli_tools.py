"""``python -m dataio head|cat|ls|parquet|safetensors`` run as a user would, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dataio


def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "dataio", *args], capture_output=True, timeout=120)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.txt").write_bytes(b"hello\n")
    (tmp_path / "d" / "sub" / "b.bin").write_bytes(bytes(2048))
    dataio.write_safetensors(tmp_path / "m.safetensors", {"w": np.zeros((2, 3), np.float32),
                                                          "ids": np.arange(4)}, metadata={"k": "v"})
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [1, 2, 3], "y": ["a", None, "c"]}), tmp_path / "t.parquet", row_group_size=2)
    return tmp_path


def test_head_cat_and_ls(files: Path) -> None:
    done = cli("head", str(files / "d" / "a.txt"))
    assert done.returncode == 0 and b"content_length  6 (6 B)" in done.stdout and b"file://" in done.stdout
    info = json.loads(cli("--json", "head", str(files / "d" / "a.txt")).stdout)
    assert info["content_length"] == 6 and info["status"] == 200
    assert cli("cat", str(files / "d" / "a.txt")).stdout == b"hello\n"
    done = cli("cat", str(files / "d" / "sub" / "b.bin"), "-o", str(files / "copy.bin"))
    assert done.returncode == 0 and b"wrote 2048 bytes" in done.stderr
    assert (files / "copy.bin").read_bytes() == bytes(2048)
    lines = cli("ls", str(files / "d"), "--long").stdout.decode().splitlines()
    assert [line.split()[-1] for line in lines] == [(files / "d" / "a.txt").as_uri(),
                                                     (files / "d" / "sub" / "b.bin").as_uri()]
    assert "2.0 KiB" in lines[1]
    listing = json.loads(cli("ls", str(files / "d"), "--json").stdout)
    assert listing["count"] == 2 and listing["prefix"] == str(files / "d")


def test_parquet_and_safetensors(files: Path) -> None:
    text = cli("parquet", str(files / "t.parquet")).stdout.decode()
    assert "rows        3" in text and "row groups  2" in text and "y" in text and "nullable" in text
    meta = json.loads(cli("--json", "parquet", str(files / "t.parquet")).stdout)
    assert meta["num_rows"] == 3 and meta["num_row_groups"] == 2
    text = cli("safetensors", str(files / "m.safetensors")).stdout.decode()
    assert text.startswith("2 tensors") and "__metadata__" not in text and "F32" in text and "[2, 3]" in text
    header = json.loads(cli("safetensors", str(files / "m.safetensors"), "--json").stdout)
    assert header["__metadata__"] == {"k": "v"} and header["w"]["shape"] == [2, 3]


def test_errors_are_one_line_without_a_traceback(files: Path) -> None:
    done = cli("cat", str(files / "missing.bin"))
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode().count("\n") == 1 and done.stderr.startswith(b"dataio: error: ")
    assert b"missing.bin" in done.stderr and b"Traceback" not in done.stderr
    assert cli("safetensors", str(files / "d" / "a.txt")).returncode == 1
    assert cli("head").returncode == 2  # usage
