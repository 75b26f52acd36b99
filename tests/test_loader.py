"""The runtime: batching, ordering, failure policies, hooks, outputs, lifecycle and shutdown."""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image

import dataio
from tests.conftest import encode


def bytes_pipeline(size: int = 4, **batch_options: Any) -> dataio.Pipeline:
    return dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.batch(size, **batch_options))


def int_records(n: int) -> list[dict[str, Any]]:
    return [{"key": f"k{i}", "x": np.uint8(i)} for i in range(n)]


def collect(loader: dataio.DataLoader) -> list[Any]:
    return list(loader)


class TestBatching:
    def test_consecutive_batches_in_logical_order(self) -> None:
        with bytes_pipeline(4).bind(int_records(10)).run("numpy") as loader:
            batches = collect(loader)
        assert [len(b) for b in batches] == [4, 4, 2]
        assert [b.keys for b in batches][2] == ["k8", "k9"]
        np.testing.assert_array_equal(batches[1]["x"][:, 0], [4, 5, 6, 7])
        assert batches[0].indices == [0, 1, 2, 3]

    def test_drop_last_and_len(self) -> None:
        loader = bytes_pipeline(4, drop_last=True).bind(int_records(10)).run("numpy")
        with loader:
            assert len(loader) == 2
            assert [len(b) for b in loader] == [4, 4]
        with bytes_pipeline(4).bind(int_records(10)).run("numpy") as loader:
            assert len(loader) == 3

    def test_len_unknown_for_factories(self) -> None:
        with bytes_pipeline().bind(lambda: iter(int_records(3))).run("numpy") as loader:
            with pytest.raises(TypeError):
                len(loader)
            assert sum(len(b) for b in loader) == 3

    def test_collate_and_group_by(self) -> None:
        pipe = dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.collate())
        items = [int_records(3), int_records(2)]
        with pipe.bind(items).run("numpy") as loader:
            assert len(loader) == 2 and [len(b) for b in loader] == [3, 2]
        grouped = dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.group_by("g"))
        records = [{"x": np.uint8(i), "g": g} for i, g in enumerate("aabbba")]
        with grouped.bind(records).run("numpy") as loader:
            assert [len(b) for b in loader] == [2, 3, 1]

    def test_completion_order_keeps_composition(self, jpeg_paths: list[str]) -> None:
        records = [{"image": p} for p in jpeg_paths]
        pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=16, w=16), dataio.batch(5))
        with pipe.bind(records).run("numpy", order="completion") as loader:
            by_completion = {b.batch_number: b.keys for b in loader}
        with pipe.bind(records).run("numpy") as loader:
            by_submit = {b.batch_number: b.keys for b in loader}
        assert by_completion == by_submit

    def test_identical_batches_whatever_the_concurrency(self, jpeg_paths: list[str]) -> None:
        pipe = dataio.pipeline(
            dataio.slot("image").decode_image().random_resized_crop(h=32, w=32).hflip(), dataio.batch(6))
        records = [{"image": p} for p in jpeg_paths]
        results = []
        for concurrency in (1, 3, 64):
            with pipe.bind(records).run("numpy", concurrency=concurrency, seed=11) as loader:
                results.append(np.concatenate([b["image"] for b in loader]))
        np.testing.assert_array_equal(results[0], results[1])
        np.testing.assert_array_equal(results[0], results[2])

    def test_epochs_draw_different_augmentations(self, jpeg_paths: list[str]) -> None:
        pipe = dataio.pipeline(dataio.slot("image").decode_image().random_crop(h=32, w=32), dataio.batch(24))
        with pipe.bind([{"image": p} for p in jpeg_paths]).run("numpy") as loader:
            first = next(iter(loader))["image"].copy()
            for _ in loader:  # finish epoch 0 first
                pass
            second = next(iter(loader))["image"]
        assert not np.array_equal(first, second)


class TestRecords:
    def test_one_shot_iterators_are_refused(self) -> None:
        with pytest.raises(TypeError, match="lambda"):
            bytes_pipeline().bind(iter(int_records(2)))

    def test_a_single_path_is_refused(self) -> None:
        with pytest.raises(TypeError, match="files"):
            bytes_pipeline().bind("/data/x.jpg")

    def test_missing_required_slot_is_fatal_after_earlier_batches(self) -> None:
        records = int_records(6)
        del records[5]["x"]
        with bytes_pipeline(2).bind(records).run("numpy") as loader:
            iterator = iter(loader)
            assert len(next(iterator)) == 2 and len(next(iterator)) == 2
            with pytest.raises(KeyError, match=r"'k5'.*missing required slot 'x'"):
                next(iterator)

    def test_bool_slot_value_is_a_type_error(self) -> None:
        with bytes_pipeline(1).bind([{"key": "a", "x": True}]).run("numpy") as loader:
            with pytest.raises(TypeError, match=r"'a'.*slot 'x'.*bool"):
                next(iter(loader))

    def test_optional_slot_inactive_in_some_rows(self) -> None:
        pipe = dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.slot("y", optional=True).decode_bytes(),
                               dataio.batch(3))
        records = [{"x": b"a", "y": b"b"}, {"x": b"c"}, {"x": b"d", "y": None}]
        with pipe.bind(records).run("numpy") as loader:
            batch = next(iter(loader))
        assert batch["y"][1] is None and batch["y"][2] is None and bytes(batch["y"][0]) == b"b"

    def test_per_record_map_and_context(self) -> None:
        pipe = dataio.pipeline(dataio.map(lambda r: {"x": r["raw"], "key": r["id"]}),
                               dataio.slot("x").decode_bytes(), dataio.batch(2))
        records = [{"raw": b"ab", "id": "one"}, {"raw": b"cd", "id": "two"}]
        with pipe.bind(records).run("numpy", context=lambda r: r["key"].upper()) as loader:
            batch = next(iter(loader))
        assert batch.keys == ["one", "two"] and batch.context == ["ONE", "TWO"]

    def test_exceptions_from_user_maps_surface_unwrapped(self) -> None:
        class Boom(Exception):
            pass

        def explode(record: Any) -> Any:
            raise Boom("map failed")

        pipe = dataio.pipeline(dataio.map(explode), dataio.slot("x").decode_bytes(), dataio.batch(2))
        with pipe.bind(int_records(2)).run("numpy") as loader:
            with pytest.raises(Boom):
                next(iter(loader))

    def test_source_exceptions_surface_after_earlier_batches(self) -> None:
        def records() -> Any:
            yield from int_records(4)
            raise OSError("source broke")

        with bytes_pipeline(2).bind(records).run("numpy") as loader:
            iterator = iter(loader)
            assert len(next(iterator)) == 2 and len(next(iterator)) == 2
            with pytest.raises(OSError, match="source broke"):
                next(iterator)

    def test_per_batch_python_map(self) -> None:
        pipe = dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.batch(2), dataio.map(lambda b: b.keys))
        with pipe.bind(int_records(3)).run("numpy") as loader:
            assert list(loader) == [["k0", "k1"], ["k2"]]


def image_records(tmp_path: Any, rgb_image: Image.Image) -> list[dict[str, Any]]:
    good = tmp_path / "good.jpg"
    good.write_bytes(encode(rgb_image, "JPEG"))
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    return [{"key": "good", "image": str(good)}, {"key": "missing", "image": str(tmp_path / "nope.jpg")},
            {"key": "corrupt", "image": str(corrupt)}, {"key": "good2", "image": str(good)}]


def image_pipeline(size: int = 4) -> dataio.Pipeline:
    return dataio.pipeline(dataio.slot("image").decode_image().resize(h=8, w=8), dataio.batch(size))


class TestFailures:
    def test_skip_lists_errors_naming_key_slot_and_path(self, tmp_path: Any, rgb_image: Image.Image) -> None:
        records = image_records(tmp_path, rgb_image)
        with image_pipeline().bind(records).run("numpy") as loader:
            batch = next(iter(loader))
        assert batch.keys == ["good", "good2"] and batch.indices == [0, 3]
        missing, corrupt = batch.errors
        assert missing["index"] == 1 and missing["key"] == "missing" and missing["stage"] == "read"
        assert "nope.jpg" in missing["message"] and "slot 'image'" in missing["message"]
        assert corrupt["stage"] == "decode" and corrupt["op"] == "decoders.image"
        assert "corrupt.jpg" in corrupt["message"]

    def test_strict_raises_row_error_naming_batch_row_key_and_count(self, tmp_path: Any,
                                                                    rgb_image: Image.Image) -> None:
        with image_pipeline().bind(image_records(tmp_path, rgb_image)).run("numpy", on_failure="strict") as loader:
            with pytest.raises(dataio.RowError, match=r"batch 0, row 1 \(key 'missing'\).*read.*nope\.jpg.*1 further"
                               ) as caught:
                next(iter(loader))
        assert len(caught.value.errors) == 2

    def test_minimum_survivors(self, tmp_path: Any, rgb_image: Image.Image) -> None:
        records = image_records(tmp_path, rgb_image)
        with image_pipeline().bind(records).run("numpy", on_failure=3) as loader:
            with pytest.raises(dataio.RowError, match="2 of 4 rows survived"):
                next(iter(loader))
        with image_pipeline().bind(records).run("numpy", on_failure=2) as loader:
            assert len(next(iter(loader))) == 2

    def test_all_failed_batch(self, tmp_path: Any, rgb_image: Image.Image) -> None:
        records = image_records(tmp_path, rgb_image)[1:3]
        with image_pipeline(2).bind(records).run("numpy") as loader:
            with pytest.raises(dataio.RowError):
                next(iter(loader))
        with image_pipeline(2).bind(records).run("numpy", on_failure=0) as loader:
            empty = next(iter(loader))
            assert len(empty) == 0 and empty["image"] == [] and len(empty.errors) == 2
        with image_pipeline(2).bind(records).run("numpy", on_failure=0, emit_empty_batches=False) as loader:
            assert list(loader) == []

    def test_range_beyond_the_end_is_a_read_error(self, tmp_path: Any) -> None:
        blob = tmp_path / "blob.bin"
        blob.write_bytes(bytes(100))
        records = [{"key": "a", "x": {"path": str(blob), "offset": 90, "size": 20}},
                   {"key": "b", "x": {"path": str(blob), "offset": 0, "size": 10}}]
        with bytes_pipeline(2).bind(records).run("numpy") as loader:
            batch = next(iter(loader))
        assert batch.keys == ["b"] and batch.errors[0]["stage"] == "read"
        assert "beyond the end" in batch.errors[0]["message"] and "blob.bin" in batch.errors[0]["message"]

    def test_wrong_channel_count_at_run_time_is_a_row_error(self, rgb_image: Image.Image) -> None:
        rgba = encode(rgb_image.convert("RGBA"))
        pipe = dataio.pipeline(dataio.slot("x").decode_image(allow_alpha=True).normalize("imagenet"),
                               dataio.batch(1))
        with pipe.bind([{"key": "a", "x": rgba}]).run("numpy", on_failure=0) as loader:
            batch = next(iter(loader))
        error = batch.errors[0]
        assert error["op"] == "transforms.normalize_chw_from_hwc_u8" and "4-channel" in error["message"]

    def test_log_errors_logger_and_callable(self, tmp_path: Any, rgb_image: Image.Image,
                                            caplog: pytest.LogCaptureFixture) -> None:
        records = image_records(tmp_path, rgb_image)
        with caplog.at_level(logging.WARNING, logger="dataio.rows"):
            with image_pipeline().bind(records).run("numpy", log_errors=True) as loader:
                next(iter(loader))
        messages = [r.getMessage() for r in caplog.records if r.name == "dataio.rows"]
        assert len(messages) == 2 and "'missing'" in messages[0] and "read" in messages[0]
        seen: list[dict[str, Any]] = []
        with image_pipeline().bind(records).run("numpy", log_errors=seen.append) as loader:
            next(iter(loader))
        assert [e["key"] for e in seen] == ["missing", "corrupt"]


class TestOptions:
    @pytest.mark.parametrize(("options", "error"), [
        ({"output": "tensorflow"}, ValueError), ({"output": 3}, TypeError),
        ({"concurrency": 0}, ValueError), ({"concurrency": True}, TypeError), ({"concurrency": "many"}, ValueError),
        ({"on_failure": True}, TypeError), ({"on_failure": "ignore"}, ValueError), ({"on_failure": -1}, ValueError),
        ({"log_errors": "yes"}, TypeError), ({"order": "random"}, ValueError), ({"seed": -1}, ValueError),
        ({"seed": 2**64}, ValueError), ({"context": 5}, TypeError), ({"ragged": "pad"}, ValueError),
        ({"device": "tpu"}, ValueError), ({"device": True}, TypeError), ({"pin_memory": "yes"}, ValueError),
        ({"shard": {"id": 0}}, ValueError), ({"shard": 3}, TypeError),
    ])
    def test_invalid_options_fail_at_run(self, options: dict[str, Any], error: type[Exception]) -> None:
        with pytest.raises(error):
            bytes_pipeline().bind(int_records(1)).run(**{"output": "numpy", **options})

    def test_unknown_keyword(self) -> None:
        with pytest.raises(TypeError):
            bytes_pipeline().bind(int_records(1)).run("numpy", workers=2)  # type: ignore[call-arg]

    def test_cuda_without_gpu_stack_names_what_is_missing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import dataio.device

        if dataio.device.discover().gpu_executor_ready:
            pytest.skip("a GPU executor is available here")
        with pytest.raises(dataio.DeviceUnavailable, match="GPU executor is unavailable"):
            bytes_pipeline().bind(int_records(1)).run("numpy", device="cuda")

    def test_auto_falls_back_to_the_cpu_executor(self) -> None:
        import dataio.device

        if dataio.device.discover().gpu_executor_ready:
            pytest.skip("a GPU executor is available here")
        with bytes_pipeline().bind(int_records(1)).run("numpy") as loader:
            assert loader.executor == "cpu_fallback" and loader.device == "cpu"


class TestOutputs:
    def test_torch_shares_the_batch_buffer(self, jpeg_paths: list[str]) -> None:
        torch = pytest.importorskip("torch")
        pipe = dataio.pipeline(dataio.slot("image").decode_image().resize_short(64).center_crop(h=32, w=32)
                               .normalize("imagenet"), dataio.batch(4))
        with pipe.bind([{"image": p} for p in jpeg_paths[:4]]).run("torch") as loader:
            batch = next(iter(loader))
        tensor = batch["image"]
        assert isinstance(tensor, torch.Tensor) and tensor.shape == (4, 3, 32, 32) and tensor.dtype == torch.float32
        column = batch._columns[0].stacked
        assert tensor.data_ptr() == column.__array_interface__["data"][0]
        assert batch["image"] is tensor  # cached

    def test_dlpack_and_callable_adapters(self) -> None:
        with bytes_pipeline(2).bind(int_records(2)).run("dlpack") as loader:
            tensor = next(iter(loader))["x"]
        assert tensor.shape == [2, 1] and tensor.dtype == "uint8" and hasattr(tensor, "__dlpack__")
        np.testing.assert_array_equal(np.from_dlpack(tensor), [[0], [1]])
        with bytes_pipeline(2).bind(int_records(2)).run(lambda t: ("seen", t.shape)) as loader:
            assert next(iter(loader))["x"] == ("seen", [2, 1])

    def test_batch_access(self) -> None:
        pipe = dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.slot("t").decode_text(), dataio.batch(2))
        records = [{"x": b"ab", "t": "a.txt"}, {"x": b"cd", "t": "b.txt"}]
        # text slots read paths: give them in-memory payloads instead
        records = [{"x": b"ab", "t": b"hi"}, {"x": b"cd", "t": b"yo"}]
        with pipe.bind(records).run("numpy") as loader:
            batch = next(iter(loader))
        assert batch.slot_names == ["x", "t"] and len(batch) == 2
        np.testing.assert_array_equal(batch[0], batch["x"])
        np.testing.assert_array_equal(batch[-1], batch["t"])
        with pytest.raises(KeyError):
            batch["nope"]
        with pytest.raises(IndexError):
            batch[2]
        assert len(batch.tensors) == 2
        with pytest.raises(RuntimeError):
            batch.tensor  # noqa: B018 - the property access is what raises

    def test_ragged_rows(self) -> None:
        records = [{"x": b"a"}, {"x": b"bcd"}]
        with bytes_pipeline(2).bind(records).run("numpy") as loader:
            rows = next(iter(loader))["x"]
        assert [r.tolist() for r in rows] == [[97], [98, 99, 100]]
        with bytes_pipeline(2).bind(records).run("numpy", ragged="error") as loader:
            with pytest.raises(RuntimeError, match="ragged"):
                next(iter(loader))["x"]


class TestLifecycle:
    def test_one_active_iteration(self) -> None:
        with bytes_pipeline(1).bind(int_records(3)).run("numpy") as loader:
            first = iter(loader)
            next(first)
            with pytest.raises(RuntimeError, match="active"):
                iter(loader)
            first.close()
            assert len(list(loader)) == 3  # an abandoned epoch restarts from its first record

    def test_closed_loader_refuses_use(self) -> None:
        loader = bytes_pipeline().bind(int_records(2)).run("numpy")
        loader.close()
        loader.close()
        for action in (lambda: iter(loader), loader.state_dict, lambda: loader.__enter__()):
            with pytest.raises(RuntimeError, match="closed"):
                action()

    def test_with_block_exception_propagates_unchanged(self) -> None:
        with pytest.raises(ZeroDivisionError):
            with bytes_pipeline().bind(int_records(2)).run("numpy") as loader:
                next(iter(loader))
                1 / 0  # noqa: B018
        with pytest.raises(RuntimeError):
            iter(loader)

    @pytest.mark.parametrize("ending", ["break", "exception", "gc"])
    def test_shutdown_leaves_no_work_running(self, jpeg_paths: list[str], ending: str,
                                             no_new_threads: Callable[[], None]) -> None:
        calls = []

        def slow_map(record: Any) -> Any:
            calls.append(1)
            time.sleep(0.01)
            return record

        pipe = dataio.pipeline(dataio.map(slow_map), dataio.slot("image").decode_image().resize(h=8, w=8),
                               dataio.batch(2))
        records = [{"image": p} for p in jpeg_paths] * 4
        loader = pipe.bind(records).run("numpy", concurrency=8)
        if ending == "break":
            with loader:
                for _ in loader:
                    break
        elif ending == "exception":
            with pytest.raises(ValueError), loader:
                for _ in loader:
                    raise ValueError("stop")
        else:
            iterator = iter(loader)
            next(iterator)
            del iterator
            gc.collect()
        time.sleep(0.3)
        settled = len(calls)
        time.sleep(0.3)
        assert len(calls) == settled, "user callables still being invoked after shutdown"
        assert settled < len(records)
        no_new_threads()
        from dataio.runtime.pools import cpu_pool

        assert cpu_pool()._work_queue.qsize() == 0

    def test_close_is_bounded_when_a_task_is_stuck(self) -> None:
        from dataio.runtime.engine import CLOSE_TIMEOUT_S

        release = threading.Event()
        entered = threading.Event()

        def stuck(record: Any) -> Any:
            if record["key"] == "k2":
                entered.set()
                release.wait(60)
            return record

        pipe = dataio.pipeline(dataio.map(stuck), dataio.slot("x").decode_bytes(), dataio.batch(2))
        loader = pipe.bind(int_records(4)).run("numpy", concurrency=4)
        try:
            iterator = iter(loader)
            next(iterator)
            assert entered.wait(10)
            started = time.monotonic()
            loader.close()
            assert time.monotonic() - started < CLOSE_TIMEOUT_S + 3
        finally:
            release.set()

    def test_generator_factory_is_closed_on_close(self) -> None:
        closed = threading.Event()

        def records() -> Any:
            try:
                yield from int_records(100)
            finally:
                closed.set()

        with bytes_pipeline(2).bind(records).run("numpy", concurrency=2) as loader:
            next(iter(loader))
        assert closed.wait(5)


class TestState:
    def test_resume_replays_from_the_batch_in_progress(self, jpeg_paths: list[str]) -> None:
        pipe = dataio.pipeline(dataio.slot("image").decode_image().random_crop(h=16, w=16), dataio.batch(5))
        records = [{"image": p} for p in jpeg_paths]
        with pipe.bind(records).run("numpy", seed=3) as loader:
            full = [b["image"].copy() for b in loader]
        with pipe.bind(records).run("numpy", seed=3) as loader:
            iterator = iter(loader)
            next(iterator), next(iterator)
            state = loader.state_dict()
        assert state["samples_consumed"] == 10 and state["version"] == 3 and state["epoch"] == 0
        with pipe.bind(records).run("numpy") as resumed:
            resumed.load_state_dict(state)
            rest = [b["image"] for b in resumed]
        assert len(rest) == len(full) - 2
        for a, b in zip(rest, full[2:], strict=True):
            np.testing.assert_array_equal(a, b)

    def test_mismatched_state_is_refused(self) -> None:
        with bytes_pipeline(2).bind(int_records(4)).run("numpy") as loader:
            state = loader.state_dict()
        with bytes_pipeline(3).bind(int_records(4)).run("numpy") as other:
            with pytest.raises(dataio.PlanError, match="different pipeline"):
                other.load_state_dict(state)
            with pytest.raises(ValueError, match="missing"):
                other.load_state_dict({"version": 3})


def test_invalid_worker_variable_warns_once() -> None:
    code = ("import warnings, dataio\n"
            "from dataio.runtime.pools import cpu_pool_size\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    size = cpu_pool_size(); cpu_pool_size()\n"
            "print(size, len([x for x in w if 'DATAIO_CPU_WORKERS' in str(x.message)]))")
    env = {"DATAIO_CPU_WORKERS": "zero", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    size, warned = out.stdout.split()
    assert int(size) >= 2 and warned == "1"
