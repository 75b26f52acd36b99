"""Glob patterns with one meaning on every backend: segments, ``**``, classes, dot-files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import dataio
from dataio.io.globs import compile_glob, literal_prefix

PATHS = ["a.npy", "x/a.npy", "x/y/a.npy", "x/y/z/b.txt", "x/.hidden.npy", "x/ab.npy", "xa.npy"]


@pytest.mark.parametrize(("pattern", "expected"), [
    ("*.npy", ["a.npy", "xa.npy"]),  # '*' never crosses '/'
    ("x/*.npy", ["x/.hidden.npy", "x/a.npy", "x/ab.npy"]),  # dot-files match like any name
    ("**/a.npy", ["a.npy", "x/a.npy", "x/y/a.npy"]),  # '**' is zero or more segments
    ("x/**/*.npy", ["x/.hidden.npy", "x/a.npy", "x/ab.npy", "x/y/a.npy"]),
    ("x/**", ["x/.hidden.npy", "x/a.npy", "x/ab.npy", "x/y/a.npy", "x/y/z/b.txt"]),
    ("x/?.npy", ["x/a.npy"]),
    ("x/[a-b]*.npy", ["x/a.npy", "x/ab.npy"]),
    ("x/[!a]*", ["x/.hidden.npy"]),
    ("x/y/z/b.txt", ["x/y/z/b.txt"]),
])
def test_patterns_match_whole_paths_segment_by_segment(pattern: str, expected: list[str]) -> None:
    matcher = compile_glob(pattern)
    assert sorted(p for p in PATHS if matcher.match(p)) == expected


def test_literal_prefix_and_errors() -> None:
    assert literal_prefix("bucket/data/**/*.npy") == "bucket/data"
    assert literal_prefix("*.npy") == ""
    assert literal_prefix("plain/path") == "plain/path"
    with pytest.raises(ValueError, match="unterminated"):
        compile_glob("x/[ab")
    with pytest.raises(ValueError, match="whole path segment"):
        compile_glob("x/a**b")


def test_files_uses_the_same_semantics_locally_and_on_fsspec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    for path in PATHS:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x")
        fs.pipe(f"/globs/{path}", b"x")
    try:
        for pattern in ("**/a.npy", "x/*.npy", "x/**/*.npy"):
            local = [os.path.relpath(p, tmp_path) for p in dataio.files(str(tmp_path / pattern))]
            remote = [p.split("/globs/", 1)[1] for p in dataio.files(f"memory://globs/{pattern}")]
            assert local == remote == sorted(p for p in PATHS if compile_glob(pattern).match(p))
        monkeypatch.chdir(tmp_path)
        assert list(dataio.files("*.npy")) == ["a.npy", "xa.npy"]  # relative patterns give relative paths
        assert list(dataio.files("x/**", recursive=False)) == ["x/.hidden.npy", "x/a.npy", "x/ab.npy"]
    finally:
        fs.rm("/globs", recursive=True)


def test_writes_in_progress_or_left_by_a_killed_process_are_never_listed(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.bin").write_bytes(b"a")
    for leftover in (".b.bin.4242.140211.tmp", ".c.safetensors.k3j_9x2a.tmp", ".0af3c9d1.tar.zx81qk_0.part"):
        (tmp_path / "d" / leftover).write_bytes(b"partial")  # the names dataio's writers and shard cache use
    (tmp_path / "d" / ".hidden.tmp").write_bytes(b"a user's own file")
    listed = [Path(p).name for p in dataio.glob(f"{tmp_path}/d/*")]
    assert sorted(listed) == [".hidden.tmp", "a.bin"]  # hidden files are listed; dataio's temporaries are not
    assert [Path(p).name for p in dataio.files(f"{tmp_path}/d/**")] == [n for n in sorted(listed)]


def test_a_killed_writes_temporaries_are_removed_when_stale(tmp_path: Path) -> None:
    """The next atomic write into a directory removes dataio's day-old temporaries there, and nothing else."""
    import time

    from dataio.io import globs

    folder = tmp_path / "out"
    folder.mkdir()
    old = time.time() - globs.STALE_AFTER_S - 60
    stale, fresh, users = folder / ".ckpt.bin.4242.140211.tmp", folder / ".ckpt.bin.zx81qk_0.tmp", folder / ".a.tmp"
    for path in (stale, fresh, users):
        path.write_bytes(b"partial")
    os.utime(stale, (old, old))
    os.utime(users, (old, old))  # old, but not a name dataio writes
    dataio.write(str(folder / "new.bin"), b"data")
    assert sorted(p.name for p in folder.iterdir()) == [".a.tmp", ".ckpt.bin.zx81qk_0.tmp", "new.bin"]
    other = tmp_path / "other"
    other.mkdir()
    (other / stale.name).write_bytes(b"partial")
    os.utime(other / stale.name, (old, old))
    with dataio.writer(str(other / "x.bin")) as writer:  # the streaming writer sweeps too
        writer.write(b"x")
    assert sorted(p.name for p in other.iterdir()) == ["x.bin"]
