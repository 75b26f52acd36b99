"""Sharding (docs/api.md §4.6), exact resume and elastic resume (§4.8): properties over random configurations."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import dataio
from dataio.runtime.sharding import ShardSpec, rank_records, resolve_shard


def _png(i: int) -> bytes:
    pixels = np.random.default_rng(i).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


PNGS = [_png(i) for i in range(64)]


def records(n: int) -> list[dict[str, Any]]:
    return [{"key": f"r{i}", "image": PNGS[i % len(PNGS)]} for i in range(n)]


def pipe(size: int, *, drop_last: bool = False, shuffle_batches: bool = False) -> dataio.Pipeline:
    """Random per-record ops (crop window, flip) so values depend on the record's seed."""
    stages: list[Any] = [dataio.slot("image").decode_image().random_crop(h=5, w=5).hflip(prob=0.5),
                         dataio.batch(size, drop_last=drop_last)]
    if shuffle_batches:
        stages.append(dataio.map(dataio.batch_transforms.batch_shuffle()))
    return dataio.pipeline(*stages)


def epoch(loader: dataio.DataLoader, *, stop: int | None = None) -> list[tuple[list[str], np.ndarray]]:
    out = []
    for batch in loader:
        out.append((batch.keys, np.asarray(batch["image"])))
        if stop is not None and len(out) == stop:
            break
    return out


def run(n: int, size: int, shard: Any = None, *, seed: int = 0, epochs: int = 1, **options: Any) -> list[Any]:
    with pipe(size, **{k: options.pop(k) for k in ("drop_last", "shuffle_batches") if k in options}).bind(
            records(n)).run("numpy", device="cpu", shard=shard, seed=seed, **options) as loader:
        return [epoch(loader) for _ in range(epochs)]


# -- ShardSpec and run(shard=...) ----------------------------------------------------------------


def test_shard_spec_validates_and_reads_back() -> None:
    spec = ShardSpec(id=1, of=4, sticky=False, pad=False)
    assert (spec.id, spec.of, spec.sticky, spec.pad) == (1, 4, False, False)
    assert resolve_shard({"id": 1, "of": 4, "sticky": False, "pad": False}) == spec
    assert resolve_shard(None) == ShardSpec(id=0, of=1)
    with pytest.raises(ValueError, match="id must be < of"):
        ShardSpec(id=4, of=4)
    with pytest.raises(ValueError):
        ShardSpec(id=0, of=0)
    with pytest.raises(TypeError):
        ShardSpec(id=0, of=2, pad="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown: 'rank'"):
        resolve_shard({"id": 0, "of": 2, "rank": 1})
    with pytest.raises(TypeError):
        resolve_shard(3)


def test_auto_reads_rank_and_world_size(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    from dataio.runtime import sharding

    sharding._warn_one_rank.cache_clear()
    with caplog.at_level("WARNING", logger="dataio"):
        assert resolve_shard("auto") == ShardSpec(id=0, of=1)
        assert resolve_shard("auto") == ShardSpec(id=0, of=1)
    assert [r.getMessage() for r in caplog.records].count(
        "run(shard='auto'): no torch.distributed process group, no jax.distributed, no RANK/WORLD_SIZE "
        "(torchrun) and no SLURM_PROCID/SLURM_NTASKS: this process reads every record (one rank)") == 1  # once per process
    monkeypatch.setenv("SLURM_PROCID", "1")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    assert resolve_shard("auto") == ShardSpec(id=1, of=4)
    monkeypatch.setenv("SLURM_NTASKS", "")
    with pytest.raises(ValueError, match="SLURM_NTASKS"):
        resolve_shard("auto")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert resolve_shard("auto") == ShardSpec(id=2, of=3)
    with pipe(2).bind(records(9)).run("numpy", device="cpu", shard="auto") as loader:
        assert [b.keys for b in loader] == [["r2", "r5"], ["r8", "r8"]]
    monkeypatch.setenv("WORLD_SIZE", "many")
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        resolve_shard("auto")


def test_only_batch_pipelines_shard() -> None:
    grouped = dataio.pipeline(dataio.slot("image").decode_image(), dataio.group_by("key"))
    with pytest.raises(ValueError, match="only batch"):
        grouped.bind(records(4)).run("numpy", device="cpu", shard={"id": 0, "of": 2})
    grouped.bind(records(4)).run("numpy", device="cpu", shard={"id": 0, "of": 1}).close()


def test_sticky_deals_round_robin_and_pads_with_the_last_record() -> None:
    spec = ShardSpec(id=1, of=3)
    assert [i for i, _ in rank_records(range(10), spec, seed=0, epoch=0, batch_size=2)] == [1, 4, 7, 7]
    assert [i for i, _ in rank_records(range(2), ShardSpec(id=2, of=3), seed=0, epoch=0, batch_size=2)] == [0, 0]


# -- properties ------------------------------------------------------------------------------------

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(n=st.integers(0, 40), size=st.integers(1, 6), of=st.integers(1, 5), pad=st.booleans(),
       sticky=st.booleans(), drop_last=st.booleans(), seed=st.integers(0, 2**64 - 1))
def test_ranks_cover_every_record_once_and_pad_to_equal_full_batches(n: int, size: int, of: int, pad: bool,
                                                                     sticky: bool, drop_last: bool,
                                                                     seed: int) -> None:
    per_rank = []
    for rank in range(of):
        shard = {"id": rank, "of": of, "sticky": sticky, "pad": pad}
        with pipe(size, drop_last=drop_last).bind(records(n)).run("numpy", device="cpu", shard=shard,
                                                                  seed=seed) as loader:
            batches = [b.keys for b in loader]
            assert len(loader) == len(batches)
        per_rank.append(batches)
    real = [[k for b in batches for k in b] for batches in per_rank]
    if of > 1 and pad:
        assert len({len(b) for b in per_rank}) == 1  # every rank the same number of batches...
        assert all(len(b) == size for batches in per_rank for b in batches)  # ...all of them full
        real = [_dealt(keys, rank, n, of) for rank, keys in enumerate(real)]
    seen = [k for keys in real for k in keys]
    assert len(seen) == len(set(seen))  # disjoint
    if not drop_last or (of > 1 and pad):
        assert set(seen) == {f"r{i}" for i in range(n)}  # and together complete


def _dealt(keys: list[str], rank: int, total: int, of: int) -> list[str]:
    """A padded rank's keys without its padding: the records dealt to it come first."""
    dealt = len(range(rank, total, of))
    assert all(k == keys[max(dealt - 1, 0)] for k in keys[dealt:]) or dealt == 0  # padding repeats the last one
    return keys[:dealt]


@SETTINGS
@given(n=st.integers(1, 40), size=st.integers(1, 5), of=st.integers(1, 3), pad=st.booleans(),
       sticky=st.booleans(), drop_last=st.booleans(), seed=st.integers(0, 2**32), stop=st.integers(0, 12),
       concurrency=st.sampled_from([1, 3, "auto"]), order=st.sampled_from(["submit", "completion"]),
       epochs_before=st.integers(0, 1), data=st.data())
def test_resuming_from_a_state_yields_the_uninterrupted_batches(n: int, size: int, of: int, pad: bool,
                                                                sticky: bool, drop_last: bool, seed: int,
                                                                stop: int, concurrency: Any, order: str,
                                                                epochs_before: int, data: Any) -> None:
    shard = {"id": data.draw(st.integers(0, of - 1)), "of": of, "sticky": sticky, "pad": pad}
    options = {"shard": shard, "seed": seed, "drop_last": drop_last, "shuffle_batches": True}
    whole = run(n, size, epochs=epochs_before + 1, **dict(options))[-1]
    stop = min(stop, len(whole))
    p = pipe(size, drop_last=drop_last, shuffle_batches=True)
    with p.bind(records(n)).run("numpy", device="cpu", shard=shard, seed=seed) as first:
        for _ in range(epochs_before):
            epoch(first)
        head = epoch(first, stop=stop) if stop else []
        state = first.state_dict()
    assert state["samples_consumed"] == sum(len(keys) for keys, _ in head)
    with p.bind(records(n)).run("numpy", device="cpu", shard=shard, seed=seed, concurrency=concurrency,
                                order=order) as second:
        second.load_state_dict(state)
        tail = epoch(second)
    got = head + tail
    if order == "completion":
        got = head + sorted(tail, key=lambda b: [k for k, _ in whole].index(b[0]))
    assert [keys for keys, _ in got] == [keys for keys, _ in whole]
    for (_, a), (_, b) in zip(got, whole, strict=True):
        np.testing.assert_array_equal(a, b)


@SETTINGS
@given(n=st.integers(1, 48), size=st.integers(1, 4), old=st.integers(1, 4), new=st.integers(1, 4),
       sticky=st.booleans(), pad=st.booleans(), seed=st.integers(0, 2**32), stop=st.integers(0, 8))
def test_an_elastic_resume_deals_exactly_the_unconsumed_records(n: int, size: int, old: int, new: int,
                                                                 sticky: bool, pad: bool, seed: int,
                                                                 stop: int) -> None:
    """Old ranks stop in lockstep after ``stop`` batches; the new ranks' union is exactly what is left."""
    uninterrupted = {keys[i]: image[i] for keys, image in run(n, size, seed=seed)[0] for i in range(len(keys))}
    consumed: set[str] = set()
    states = []
    for rank in range(old):
        shard = {"id": rank, "of": old, "sticky": sticky, "pad": True}
        with pipe(size).bind(records(n)).run("numpy", device="cpu", shard=shard, seed=seed) as loader:
            lengths = len(loader)
            head = epoch(loader, stop=min(stop, lengths)) if stop else []
            consumed.update(k for keys, _ in head for k in keys)
            states.append(loader.state_dict())
    remaining: list[str] = []
    for rank in range(new):
        shard = {"id": rank, "of": new, "sticky": sticky, "pad": pad}
        with pipe(size).bind(records(n)).run("numpy", device="cpu", shard=shard, seed=seed) as loader:
            loader.load_state_dict(states[rank % old], elastic=True)
            batches = epoch(loader)
        keys = [k for b, _ in batches for k in b]
        left = n - len(consumed) if stop else n
        remaining += _dealt(keys, rank, left, new) if pad and new > 1 else keys
        for b, image in batches:  # a record is augmented the same whichever rank reads it
            for i, key in enumerate(b):
                np.testing.assert_array_equal(image[i], uninterrupted[key])
    everything = {f"r{i}" for i in range(n)}
    if stop == 0:
        consumed = set()
    assert len(remaining) == len(set(remaining))
    assert set(remaining) == everything - consumed


def test_a_shard_mismatch_needs_elastic() -> None:
    with pipe(2).bind(records(8)).run("numpy", device="cpu", shard={"id": 0, "of": 2}) as loader:
        state = loader.state_dict()
    with pipe(2).bind(records(8)).run("numpy", device="cpu", shard={"id": 0, "of": 4}) as loader:
        with pytest.raises(ValueError, match="elastic=True"):
            loader.load_state_dict(state)
        loader.load_state_dict(state, elastic=True)
    with pipe(2).bind(records(8)).run("numpy", device="cpu", shard={"id": 0, "of": 4, "sticky": False}) as loader:
        with pytest.raises(ValueError, match="sticky"):
            loader.load_state_dict(state, elastic=True)


def test_unsticky_order_changes_per_epoch_and_agrees_across_ranks() -> None:
    first = run(12, 3, {"id": 0, "of": 2, "sticky": False}, seed=5, epochs=2)
    second = run(12, 3, {"id": 1, "of": 2, "sticky": False}, seed=5, epochs=2)
    for e in range(2):
        keys = [k for b, _ in first[e] for k in b] + [k for b, _ in second[e] for k in b]
        assert sorted(keys) == sorted(f"r{i}" for i in range(12))
    assert [b for b, _ in first[0]] != [b for b, _ in first[1]]
    assert [b for b, _ in first[0]] == [b for b, _ in run(12, 3, {"id": 0, "of": 2, "sticky": False}, seed=5)[0]]


def test_a_state_restored_over_other_records_or_past_the_epoch_is_refused() -> None:
    with pipe(2).bind(records(9)).run("numpy", device="cpu") as loader:
        next(iter(loader))
        state = loader.state_dict()
    assert isinstance(state["records"], str) and len(state["records"]) == 16
    with pipe(2).bind(records(9)).run("numpy", device="cpu") as same:
        same.load_state_dict(state)  # the same records: accepted
    with pipe(2).bind(records(12)).run("numpy", device="cpu") as other, \
            pytest.raises(dataio.PlanError, match="saved over other records"):
        other.load_state_dict(state)
    with pipe(2).bind(records(9)).run("numpy", device="cpu") as loader, \
            pytest.raises(dataio.PlanError, match="past the 10 of the saving rank's epoch"):
        loader.load_state_dict({**state, "samples_consumed": 40, "records": None})
    legacy = {k: v for k, v in state.items() if k != "records"}  # a state saved before fingerprints
    with pipe(2).bind(records(12)).run("numpy", device="cpu") as loader:
        loader.load_state_dict(legacy)
