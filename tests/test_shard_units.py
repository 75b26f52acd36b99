"""Sources whose ranks take whole shards (dataio.sources.units): dealing, shard shuffle, resampling and resume,
over real tar shards in one process (tests/test_multi_process.py runs them across torchrun ranks)."""

from __future__ import annotations

import io
import tarfile
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import dataio
from dataio.sources.units import UnitCursor


def write_shards(root: Path, sizes: list[int]) -> str:
    """Shards ``shard-NN.tar`` holding ``sizes[n]`` samples ``sN_I`` each (one ``.cls`` member); their pattern."""
    for s, size in enumerate(sizes):
        with tarfile.open(root / f"shard-{s:02d}.tar", "w") as tar:
            for i in range(size):
                data = str(100 * s + i).encode()
                info = tarfile.TarInfo(f"s{s}_{i}.cls")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return str(root / f"shard-{{00..{len(sizes) - 1:02d}}}.tar")


PIPE = dataio.pipeline(dataio.slot("cls").decode_scalar(), dataio.batch(2))


def read(source: dataio.RecordSource, *, rank: int = 0, of: int = 1, batches: int | None = None, epoch: int = 0,
         **run: object) -> list[str]:
    with PIPE.bind(source).run("numpy", device="cpu", shard=dataio.ShardSpec(id=rank, of=of, **run)) as loader:
        loader.set_epoch(epoch)
        return [k for b in islice(loader, batches) for k in b.keys]


def shards_of(keys: list[str]) -> list[int]:
    """The shard of each run of keys, in order."""
    runs = [int(k[1:].split("_")[0]) for k in keys]
    return [s for i, s in enumerate(runs) if i == 0 or runs[i - 1] != s]


def test_ranks_take_whole_shards_round_robin_padded_by_wrapping(tmp_path: Path) -> None:
    source = dataio.webdataset(write_shards(tmp_path, [4] * 5))
    assert [shards_of(read(source, rank=r, of=2)) for r in range(2)] == [[0, 2, 4], [1, 3, 0]]
    assert [shards_of(read(source, rank=r, of=2, pad=False)) for r in range(2)] == [[0, 2, 4], [1, 3]]
    assert read(source, rank=0, of=2)[:4] == ["s0_0", "s0_1", "s0_2", "s0_3"]  # in order within a shard
    assert shards_of(read(source, rank=0, of=8)) == [0]  # more ranks than shards: the order wraps around
    assert shards_of(read(source, rank=6, of=8)) == [1]


def test_a_record_draws_the_same_values_whichever_rank_reads_it(tmp_path: Path) -> None:
    for s in range(4):
        with tarfile.open(tmp_path / f"img-{s}.tar", "w") as tar:
            for i in range(3):
                buffer = io.BytesIO()
                Image.fromarray(np.random.default_rng(10 * s + i).integers(0, 256, (8, 8, 3), np.uint8)).save(
                    buffer, "PNG")
                info = tarfile.TarInfo(f"s{s}_{i}.png")
                info.size = len(buffer.getvalue())
                tar.addfile(info, io.BytesIO(buffer.getvalue()))
    pipe = dataio.pipeline(dataio.slot("png").decode_image().random_crop(h=4, w=4).hflip(prob=0.5), dataio.batch(3))

    def crops(of: int) -> dict[str, bytes]:
        seen = {}
        for rank in range(of):
            source = dataio.webdataset(str(tmp_path / "img-{0..3}.tar"))
            with pipe.bind(source).run("numpy", device="cpu", shard={"id": rank, "of": of}) as loader:
                seen.update({k: v.tobytes() for b in loader for k, v in zip(b.keys, b["png"], strict=True)})
        return seen

    one = crops(1)
    assert len(one) == 12 and crops(2) == one and crops(4) == one


def test_shard_shuffle_is_a_new_order_each_epoch_and_one_order_across_ranks(tmp_path: Path) -> None:
    source = dataio.webdataset(write_shards(tmp_path, [2] * 8), shard_shuffle=True)
    epochs = [[shards_of(read(source, rank=r, of=2, epoch=e)) for r in range(2)] for e in range(3)]
    for ranks in epochs:
        assert sorted(ranks[0] + ranks[1]) == list(range(8))  # each shard on exactly one rank
    assert len({str(e) for e in epochs}) == 3
    assert epochs[1] == [[shards_of(read(source, rank=r, of=2, epoch=1)) for r in range(2)]][0]  # reproducible
    assert shards_of(read(dataio.webdataset(write_shards(tmp_path, [2] * 8)), sticky=False)) != list(range(8))


def test_resampled_draws_shards_endlessly_per_rank_and_resumes(tmp_path: Path) -> None:
    source = dataio.webdataset(write_shards(tmp_path, [2] * 3), resampled=True)
    first = read(source, batches=30)
    assert len(first) == 60 and set(shards_of(first)) == {0, 1, 2}
    assert read(source, batches=30) == first
    assert read(source, rank=1, of=2, batches=30) != read(source, rank=0, of=2, batches=30)
    with PIPE.bind(source).run("numpy", device="cpu") as loader:
        head = [k for b in islice(loader, 7) for k in b.keys]
        state = loader.state_dict()
    with PIPE.bind(source).run("numpy", device="cpu") as loader:
        loader.load_state_dict(state)
        assert head + [k for b in islice(loader, 23) for k in b.keys] == first


def test_resume_opens_no_finished_shard_and_continues_exactly(tmp_path: Path) -> None:
    pattern = write_shards(tmp_path, [4, 4, 4, 4])
    source = dataio.webdataset(pattern)
    whole = read(source, rank=1, of=2)
    with PIPE.bind(source).run("numpy", device="cpu", shard={"id": 1, "of": 2}) as loader:
        head = [k for b in islice(loader, 3) for k in b.keys]
        state = loader.state_dict()
    assert state["units"] == {"start": 0, "skips": [], "position": 1, "offset": 2}
    (tmp_path / "shard-01.tar").write_bytes(b"not a tar " * 100)  # rank 1's finished shard
    with PIPE.bind(source).run("numpy", device="cpu", shard={"id": 1, "of": 2}) as loader:
        loader.load_state_dict(state)
        assert loader.state_dict()["units"] == state["units"]  # a loaded place is the place until used
        assert head + [k for b in loader for k in b.keys] == whole


def test_map_and_filter_keep_whole_shards(tmp_path: Path) -> None:
    source = dataio.webdataset(write_shards(tmp_path, [4] * 4))
    kept = source.filter_records(lambda r: not r["__key__"].endswith("_0")).map_records(lambda r: {**r, "m": 1})
    assert read(kept, rank=1, of=2) == [f"s{s}_{i}" for s in (1, 3) for i in (1, 2, 3)]
    with PIPE.bind(kept).run("numpy", device="cpu", shard={"id": 1, "of": 2}) as loader:
        head = [k for b in islice(loader, 2) for k in b.keys]
        state = loader.state_dict()
    assert state["units"]["position"] == 1 and state["units"]["offset"] == 1  # offsets count kept records
    with PIPE.bind(kept).run("numpy", device="cpu", shard={"id": 1, "of": 2}) as loader:
        loader.load_state_dict(state)
        assert head + [k for b in loader for k in b.keys] == read(kept, rank=1, of=2)


def test_elastic_resume_from_three_ranks_to_two_reads_each_sample_once(tmp_path: Path) -> None:
    """Lockstep over shards of equal size (the rule's assumption), a place inside a shard: nothing lost or repeated."""
    source = dataio.webdataset(write_shards(tmp_path, [4] * 12))
    seen: list[str] = []
    saved = []
    for rank in range(3):
        with PIPE.bind(source).run("numpy", device="cpu", shard={"id": rank, "of": 3, "pad": False}) as loader:
            seen += [k for b in islice(loader, 3) for k in b.keys]
            saved.append(loader.state_dict())
    assert {str(s["units"]) for s in saved} == {str({"start": 0, "skips": [], "position": 1, "offset": 2})}
    for rank in range(2):
        with PIPE.bind(source).run("numpy", device="cpu", shard={"id": rank, "of": 2, "pad": False}) as loader:
            loader.load_state_dict(saved[0], elastic=True)
            assert loader.state_dict()["units"] == {"start": 3, "skips": [2, 2, 2], "position": 0, "offset": 0}
            seen += [k for b in loader for k in b.keys]
    assert sorted(seen) == sorted(f"s{s}_{i}" for s in range(12) for i in range(4))


def test_unit_cursor_redeal_composes() -> None:
    assert UnitCursor(0, (), 1, 2).redealt(3) == UnitCursor(3, (2, 2, 2), 0, 0)
    assert UnitCursor(3, (2, 2, 2), 2, 1).redealt(2) == UnitCursor(7, (1, 1), 0, 0)
    assert UnitCursor(3, (2, 2, 2), 0, 1).redealt(2) == UnitCursor(3, (3, 3), 0, 0)


def test_a_state_without_units_is_refused_for_a_shard_source(tmp_path: Path) -> None:
    source = dataio.webdataset(write_shards(tmp_path, [2, 2]))
    with PIPE.bind([{"cls": 1}] * 4).run("numpy", device="cpu") as other:
        state = other.state_dict()
    with PIPE.bind(source).run("numpy", device="cpu") as loader:
        state["pipeline_signature"] = loader.state_dict()["pipeline_signature"]
        with pytest.raises(dataio.PlanError, match="saved over other records"):
            loader.load_state_dict(state)
        del state["records"]  # a state from before fingerprints: the missing 'units' entry is what is wrong
        with pytest.raises(dataio.PlanError, match="no 'units' entry"):
            loader.load_state_dict(state)
        with pytest.raises(dataio.PlanError, match="units"):
            loader.load_state_dict({**state, "units": {"start": -1, "skips": [], "position": 0, "offset": 0}})
