"""The feed-ahead queue over a real DALI pipeline (CPU operators): order, depth, priming, failures, threads."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

pytest.importorskip("nvidia.dali")

from dataio.gpu.graph_queue import GraphBroken, GraphQueue


def doubling_pipeline(depth: int, batch_size: int = 4) -> Any:
    """``x * 2`` over a float vector per sample."""
    from nvidia.dali import Pipeline, fn, types

    pipeline = Pipeline(batch_size=batch_size, num_threads=1, device_id=None, prefetch_queue_depth=depth)
    with pipeline:
        pipeline.set_outputs(fn.external_source(name="x", dtype=types.FLOAT, ndim=1) * 2)
    pipeline.build()
    return pipeline


def decoding_pipeline(depth: int, *, dynamic: bool = True) -> Any:
    """``decoders.image`` over encoded bytes: one undecodable sample fails the iteration.

    ``dynamic``: DALI's dynamic executor (the default, and what dataio builds), else the legacy one.
    """
    from nvidia.dali import Pipeline, fn, types

    pipeline = Pipeline(batch_size=2, num_threads=1, device_id=None, prefetch_queue_depth=depth,
                        exec_dynamic=dynamic)
    with pipeline:
        pipeline.set_outputs(fn.decoders.image(fn.external_source(name="x", dtype=types.UINT8, ndim=1),
                                               device="cpu"))
    pipeline.build()
    return pipeline


def feeder(values: list[float]) -> Any:
    def feed(pipeline: Any) -> None:
        pipeline.feed_input("x", [np.full(2, v, np.float32) for v in values])

    return feed


def recorder(into: dict[int, list[float]], number: int) -> Any:
    def sink(outputs: tuple[Any, ...]) -> None:
        (out,) = outputs
        into[number] = [float(np.array(out[i])[0]) for i in range(len(out))]

    return sink


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_batches_come_back_in_feed_order_with_their_own_values(depth: int) -> None:
    queue, got = GraphQueue(doubling_pipeline(depth), depth), {}
    tickets = [queue.submit(feeder([n, n + 0.5][: 1 + n % 2]), recorder(got, n)) for n in range(7)]
    for ticket in tickets:
        ticket.collect()
    assert got == {n: [2.0 * n, 2.0 * n + 1][: 1 + n % 2] for n in range(7)}


def test_fewer_batches_than_the_depth_still_come_back() -> None:
    queue, got = GraphQueue(doubling_pipeline(4), 4), {}
    queue.submit(feeder([3.0]), recorder(got, 0)).collect()
    assert got == {0: [6.0]}
    queue.submit(feeder([5.0]), recorder(got, 1)).collect()  # past the priming duplicates
    assert got == {0: [6.0], 1: [10.0]}


def test_collecting_a_later_ticket_collects_the_earlier_ones_first() -> None:
    queue, got = GraphQueue(doubling_pipeline(3), 3), {}
    tickets = [queue.submit(feeder([float(n)]), recorder(got, n)) for n in range(3)]
    tickets[2].collect()
    assert got == {0: [0.0], 1: [2.0], 2: [4.0]} and all(t.done for t in tickets)


class ThreadRecorder:
    """A pipeline proxy that records which thread makes each DALI call."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline, self.threads = pipeline, set()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.pipeline, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.threads.add(threading.get_ident())
            return attribute(*args, **kwargs)

        return call


def test_submitting_never_waits_on_dali_every_call_is_on_the_driver_thread() -> None:
    """Past the depth, submit queues the batch and returns: the driver collects the oldest and feeds it later."""
    proxy = ThreadRecorder(doubling_pipeline(2))
    queue, got = GraphQueue(proxy, 2), {}
    tickets = [queue.submit(feeder([float(n)]), recorder(got, n)) for n in range(6)]  # 3x the depth, no waiting
    for ticket in tickets:
        ticket.collect()
    assert got == {n: [2.0 * n] for n in range(6)}
    assert proxy.threads == {queue._driver.ident} and threading.get_ident() not in proxy.threads
    queue.close()
    assert not queue._driver.is_alive()
    with pytest.raises(GraphBroken, match="closed"):
        queue.submit(feeder([1.0]), recorder(got, 9))


def test_on_the_legacy_executor_a_failed_iteration_fails_every_later_one_and_breaks_the_queue(
        jpeg_paths: list[str]) -> None:
    good = np.frombuffer(open(jpeg_paths[0], "rb").read(), np.uint8)
    bad = np.frombuffer(b"\xff\xd8\xff\xe0 this is not a JPEG", np.uint8)

    def feed(sample: np.ndarray) -> Any:
        return lambda pipeline: pipeline.feed_input("x", [good, sample])

    queue, seen = GraphQueue(decoding_pipeline(2, dynamic=False), 2), []
    ok = queue.submit(feed(good), lambda outputs: seen.append(outputs[0].shape()))
    ok.collect()
    assert seen and seen[0][0] == seen[0][1]
    failing = queue.submit(feed(bad), lambda outputs: seen.append("bad"))
    try:  # making room collects the priming duplicate, where DALI may already report the failure
        after: Any = queue.submit(feed(good), lambda outputs: seen.append("after"))
    except GraphBroken:
        after = None
    with pytest.raises(Exception) as raised:
        failing.collect()
    assert not isinstance(raised.value, GraphBroken)
    if after is not None:
        with pytest.raises(Exception) as later:
            after.collect()
        assert later.value is raised.value  # scheduled on the same, now unusable, pipeline
    assert queue.broken is raised.value and seen[1:] == []
    with pytest.raises(GraphBroken, match="failed an earlier batch"):
        queue.submit(feed(good), lambda outputs: None)


@pytest.mark.parametrize("depth", [1, 3])
def test_on_the_dynamic_executor_a_failed_iteration_fails_alone_and_the_pipeline_is_kept(
        jpeg_paths: list[str], depth: int) -> None:
    """One corrupt JPEG costs its own batch, no rebuild: the batches scheduled around it come out right."""
    good = np.frombuffer(open(jpeg_paths[0], "rb").read(), np.uint8)
    bad = np.frombuffer(b"\xff\xd8\xff\xe0 this is not a JPEG", np.uint8)
    queue, seen = GraphQueue(decoding_pipeline(depth), depth), []
    assert queue.recovers
    tickets = [queue.submit(lambda p, s=sample: p.feed_input("x", [good, s]), lambda out, n=n: seen.append(n))
               for n, sample in enumerate([good, bad, good, good, bad, good])]
    for ticket in tickets:
        ticket.done or queue.collect(ticket)
    assert [t.error is not None for t in tickets] == [False, True, False, False, True, False]
    assert seen == [0, 2, 3, 5] and queue.broken is None
    later = queue.submit(lambda p: p.feed_input("x", [good, good]), lambda out: seen.append("later"))
    later.collect()
    assert seen[-1] == "later"


def test_a_failing_sink_fails_only_its_ticket() -> None:
    queue, got = GraphQueue(doubling_pipeline(2), 2), {}

    def explode(outputs: tuple[Any, ...]) -> None:
        raise ValueError("sink broke")

    broken = queue.submit(feeder([1.0]), explode)
    fine = queue.submit(feeder([2.0]), recorder(got, 1))
    with pytest.raises(ValueError, match="sink broke"):
        broken.collect()
    fine.collect()
    assert got == {1: [4.0]} and queue.broken is None


def test_a_failing_feed_fails_its_batch_and_breaks_the_queue() -> None:
    queue = GraphQueue(doubling_pipeline(2), 2)

    def bad_feed(pipeline: Any) -> None:
        pipeline.feed_input("no such input", [np.zeros(2, np.float32)])

    with pytest.raises(Exception, match="no such input"):
        queue.submit(bad_feed, lambda outputs: None).collect()
    assert queue.broken is not None
    with pytest.raises(GraphBroken):
        queue.submit(feeder([1.0]), lambda outputs: None)


def test_threads_submitting_and_collecting_each_get_their_own_batch() -> None:
    queue, got, errors = GraphQueue(doubling_pipeline(3), 3), {}, []

    def worker(start: int) -> None:
        try:
            for n in range(start, start + 10):
                queue.submit(feeder([float(n)] * (1 + n % 3)), recorder(got, n)).collect()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k * 100,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert got == {n: [2.0 * n] * (1 + n % 3) for k in range(4) for n in range(k * 100, k * 100 + 10)}


@pytest.mark.parametrize("depth", [1, 3])
def test_fed_inputs_live_until_every_iteration_that_reads_them_is_collected(depth: int) -> None:
    """Payloads are fed without a copy: the queue keeps what a feed returns until the iteration's outputs (and
    the priming duplicates', which read the same bytes) are released."""
    import gc
    import weakref

    from nvidia.dali import Pipeline, fn, types

    class Inputs(list):  # a weak-referenceable holder of the fed arrays
        pass

    pipeline = Pipeline(batch_size=2, num_threads=1, device_id=None, prefetch_queue_depth=depth, exec_dynamic=True)
    with pipeline:
        pipeline.set_outputs(fn.external_source(name="x", dtype=types.UINT8, ndim=1, no_copy=True) * 1)
    pipeline.build()
    refs: list[Any] = []

    def feed(value: int) -> Any:
        def fed(p: Any) -> Inputs:
            arrays = Inputs([np.full(64, value, np.uint8), np.full(32, value, np.uint8)])
            p.feed_input("x", arrays)
            refs.append(weakref.ref(arrays))
            return arrays
        return fed

    entered, gate = threading.Event(), threading.Event()

    def first_sink(outputs: Any) -> None:  # holds the driver inside the first collection
        entered.set()
        gate.wait(30)
        seen.append((1, int(np.array(outputs[0][1])[0])))

    queue, seen = GraphQueue(pipeline, depth), []
    tickets = [queue.submit(feed(1), first_sink)]
    tickets += [queue.submit(feed(n), lambda outputs, n=n: seen.append((n, int(np.array(outputs[0][1])[0]))))
                for n in range(2, 4)]
    assert entered.wait(30)
    gc.collect()
    assert refs and all(ref() is not None for ref in refs)  # fed, not yet released: alive
    gate.set()
    for ticket in tickets:
        ticket.collect()
    queue.drain()
    gc.collect()
    assert seen == [(1, 1), (2, 2), (3, 3)] and all(ref() is None for ref in refs)


def test_an_unexpected_error_in_the_driver_fails_the_batches_instead_of_hanging() -> None:
    class Exploding:
        """A pipeline whose ``release_outputs`` fails, which the driver does not expect (a bug's stand-in)."""

        exec_dynamic = False  # outputs are shared, then released

        def __init__(self) -> None:
            self.pipeline = doubling_pipeline(1)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.pipeline, name)

        def release_outputs(self) -> None:
            raise SystemError("driver bug")

    queue = GraphQueue(Exploding(), 1)
    ticket = queue.submit(feeder([1.0]), lambda outputs: None)
    with pytest.raises(SystemError, match="driver bug"):
        ticket.collect()
    queue._driver.join(10)
    assert isinstance(queue.broken, SystemError) and not queue._driver.is_alive()
    with pytest.raises(GraphBroken):
        queue.submit(feeder([1.0]), lambda outputs: None)
