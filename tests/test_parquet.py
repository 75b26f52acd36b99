"""Parquet: read_parquet and scan_parquet (pushed-down col() filters and Python callables), any store."""

from __future__ import annotations

from pathlib import Path

import pytest

import dataio

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def table() -> object:
    return pa.table({"id": list(range(10)), "name": [f"n{i}" for i in range(10)],
                     "score": [None if i % 4 == 0 else i / 2 for i in range(10)]})


def put(store: str, tmp_path: Path) -> str:
    local = tmp_path / "t.parquet"
    pq.write_table(table(), local, row_group_size=4)  # row groups of 4, 4, 2
    uri = f"{store}/t.parquet"
    dataio.write(uri, local.read_bytes(), mkdir_parents=True)
    return uri


def test_read_parquet(tmp_path: Path, store: str) -> None:
    uri = put(store, tmp_path)
    assert dataio.read_parquet(uri) == table().to_pydict()
    assert dataio.read_parquet(uri, columns=["name"], offset=8) == {"name": ["n8", "n9"]}
    assert dataio.read_parquet(uri, columns=["id"], row_groups=[2]) == {"id": [8, 9]}
    assert dataio.read_parquet(uri, columns=["id"], limit=3, offset=2) == {"id": [2, 3, 4]}
    assert dataio.read_parquet(uri, columns=["score"], limit=1)["score"] == [None]
    with pytest.raises(KeyError, match="'nope'"):
        dataio.read_parquet(uri, columns=["nope"])
    with pytest.raises(TypeError):
        dataio.read_parquet(uri, columns="id")
    with pytest.raises(ValueError, match="row group"):
        dataio.read_parquet(uri, row_groups=[3])
    with pytest.raises(FileNotFoundError):
        dataio.read_parquet(f"{store}/none.parquet")


def test_scan_parquet_filters(tmp_path: Path, store: str) -> None:
    uri = put(store, tmp_path)
    query = dataio.scan_parquet(uri)
    pushed = query.filter(dataio.col("id").ge(3) & ~dataio.col("name").is_in(["n5", "n6"]))
    assert [r["id"] for r in pushed.collect()] == [3, 4, 7, 8, 9]
    assert pushed.select(["name"]).offset(1).limit(2).collect() == [{"name": "n4"}, {"name": "n7"}]
    assert pushed.count() == 5
    with_nulls = query.filter(dataio.col("score").gt(1.0))  # nulls never pass a comparison
    assert [r["id"] for r in with_nulls.collect()] == [3, 5, 6, 7, 9]
    python = query.filter(lambda row: row["name"].endswith(("1", "2")))
    assert [r["id"] for r in python.collect()] == [1, 2]
    both = query.filter(dataio.col("score").is_not_null()).filter(lambda row: row["id"] % 2 == 0)
    assert [r["id"] for r in both.head(2)] == [2, 6]
    assert [b["id"] for b in query.select(["id"]).row_groups([0, 2]).iter_batches()] == [[0, 1, 2, 3], [8, 9]]
    assert query.filter(dataio.col("id").gt(100)).collect() == []

    def boom(row: dict[str, object]) -> bool:
        raise RuntimeError("predicate failed")

    with pytest.raises(RuntimeError, match="predicate failed"):
        query.filter(boom).collect()
    with pytest.raises(KeyError, match="'nope'"):
        query.filter(dataio.col("nope").eq(1)).collect()


def test_a_file_pyarrow_cannot_parse_is_a_decode_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not a parquet file PAR1")
    for read in (lambda: dataio.read_parquet(bad), lambda: dataio.scan_parquet(bad).count(),
                 lambda: dataio.manifest(str(bad))):
        with pytest.raises(dataio.DecodeError, match="bad.parquet: not a parquet file") as caught:
            read()
        assert isinstance(caught.value, ValueError)  # what pyarrow's ArrowInvalid was


def test_count_comes_from_the_footer_and_agrees_with_collect(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"i": list(range(100)), "s": [str(i) * 50 for i in range(100)]}), path, row_group_size=30)
    query = dataio.scan_parquet(path)
    for shaped in (query, query.offset(95), query.offset(10).limit(25), query.row_groups([1, 3]),
                   query.row_groups([3]).offset(5), query.limit(0), query.offset(200)):
        assert shaped.count() == len(shaped.collect())
    assert query.filter(dataio.col("i").lt(7)).count() == 7  # with a filter, rows are read
    damaged = bytearray(path.read_bytes())
    damaged[8:len(damaged) // 2] = bytes(len(damaged) // 2 - 8)  # data pages zeroed, the footer intact
    (tmp_path / "damaged.parquet").write_bytes(bytes(damaged))
    assert dataio.scan_parquet(tmp_path / "damaged.parquet").count() == 100  # no row was read
