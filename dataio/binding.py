"""``BoundPipeline``: a plan attached to records; ``run(...)`` resolves the options, picks the executor
and hands both to the runtime.

This module sits above the runtime and the executor selector and joins them: the
runtime (:mod:`dataio.runtime.loader`) takes ``(plan, records, options, executor)`` and
never chooses an executor itself; the selector (:mod:`dataio.executors`) creates the
executor with the resolved run options.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sized
from typing import Any, Literal

from dataio._deps import require
from dataio._errors import PlanError
from dataio._validate import as_bool
from dataio.executors import create_executor
from dataio.plan import BatchStage, Plan
from dataio.runtime.loader import DataLoader
from dataio.runtime.options import (
    Concurrency, Device, LogErrors, OnFailure, Order, Output, PinMemory, Ragged, validate_run,
)
from dataio.runtime.sharding import ShardSpec, resolve_shard


def check_records(records: Any) -> Any:
    """Accept a re-iterable or a zero-argument factory (docs/api.md §4.1); ``TypeError`` otherwise."""
    if isinstance(records, (str, bytes, bytearray, os.PathLike)):
        raise TypeError(f"bind(records={records!r}): a single path is not a record collection; "
                        "pass [path] or dataio.files(...)")
    iterable = hasattr(type(records), "__iter__") or hasattr(type(records), "__getitem__")
    if callable(records) and iterable:
        raise TypeError(f"bind(records=...): a {type(records).__name__} is both callable and iterable; "
                        "pass either a re-iterable or a zero-argument factory")
    if callable(records):
        return records
    if isinstance(records, Iterator):
        raise TypeError(f"bind(records=...): a {type(records).__name__} is a one-shot iterator and cannot be "
                        "re-iterated each epoch; pass a factory such as `lambda: gen()` or a list")
    if not iterable:
        raise TypeError(f"bind(records=...): expected a re-iterable (list, tuple, RecordSource, ...) or a "
                        f"zero-argument factory; got {type(records).__name__}")
    return records


class BoundPipeline:
    """A pipeline's plan attached to records; :meth:`run` makes a loader.

    Attributes:
        plan: the compiled plan.
        records: what was bound (a re-iterable, a ``RecordSource`` or a zero-argument factory).
    """

    def __init__(self, plan: Plan, records: Any) -> None:
        self.plan = plan
        self.records = check_records(records)

    def run(self, output: Output = "torch", *, concurrency: Concurrency = "auto", on_failure: OnFailure = "skip",
            log_errors: LogErrors = False, order: Order = None,
            shard: Literal["auto"] | ShardSpec | Mapping[str, Any] | None = None, shuffle: bool = False,
            seed: int | None = None, context: Callable[[Any], Any] | None = None, pin_memory: PinMemory = "auto",
            ragged: Ragged = "list", device: Device = "auto", emit_empty_batches: bool = True,
            max_prefetch_bytes: int | None = None) -> DataLoader:
        """Validate the options and return a :class:`~dataio.DataLoader` (docs/api.md §4.2).

        Args:
            output: ``"torch"``, ``"numpy"``, ``"jax"``, ``"dlpack"`` or a callable adapter per tensor.
            concurrency: records in flight: ``"auto"`` (``max(8, 2 × batch size)``) or an int >= 1.
            on_failure: ``"strict"``, ``"skip"`` or the minimum survivors per batch (int >= 0).
            log_errors: ``True`` logs each row error on ``dataio.rows``; a callable receives each dict.
            order: ``"submit"`` (default; logical order) or ``"completion"``.
            shard: ``None``, ``"auto"``, a :class:`~dataio.ShardSpec` or ``{"id", "of", "sticky", "pad"}``
                (``batch()`` pipelines only; see ``docs/sharding.md``).
            shuffle: ``True``: a new record order every epoch, a permutation by ``(seed, epoch)`` (the same
                on every rank: the shard's ``sticky=False``); sized records only (a sequence, or a record
                source with a length). A record keeps its logical index, so its draws do not change.
            seed: run seed (u64); ``None`` ≡ 0.
            context: ``(record) -> Any`` per admitted record; results on ``batch.context``.
            pin_memory: ``"auto"`` or a bool: host batches in page-locked memory (needs torch with CUDA).
            ragged: ``"list"``, ``"error"`` or ``"skip"`` for slots whose rows differ in shape.
            device: ``"auto"``, ``"cpu"``/``None``, ``"cuda"`` or ``"cuda:N"`` (batches in device
                memory; ``output="numpy"`` is then refused).
            emit_empty_batches: with ``on_failure=0``, yield batches with no survivors.
            max_prefetch_bytes: cap on the bytes of batches prefetched ahead of the consumer
                (fixed-size outputs only); bounds both executors.

        Raises:
            TypeError / PlanError: an invalid option (named).
            DeviceUnavailable: a CUDA device (or pinning) was asked for and cannot be had.
        """
        plan = self.plan
        options = validate_run(
            plan, output=output, concurrency=concurrency, on_failure=on_failure, log_errors=log_errors,
            order=order, seed=seed, context=context, pin_memory=pin_memory, ragged=ragged, device=device,
            emit_empty_batches=emit_empty_batches, max_prefetch_bytes=max_prefetch_bytes,
        )
        spec = resolve_shard(shard)
        if as_bool("run", "shuffle", shuffle):
            if callable(self.records) or not isinstance(self.records, Sized):
                raise PlanError("run(shuffle=True): shuffling needs sized records (a sequence, or a record source "
                                f"with a length); got {type(self.records).__name__}")
            spec = ShardSpec(id=spec.id, of=spec.of, sticky=False, pad=spec.pad)
        if spec.is_sharded and not isinstance(plan.shape, BatchStage):
            raise PlanError(f"run(shard={spec!r}): only batch() pipelines can be sharded; collate() and group_by() "
                            "batches are formed upstream")
        return DataLoader(plan, self.records, options, create_executor(plan, options), spec)

    def as_torch_dataset(self, *, as_dict: bool = False, **options: Any) -> Any:
        """A ``torch.utils.data.IterableDataset`` yielding this pipeline's batches, for
        ``torch.utils.data.DataLoader(dataset, batch_size=None)`` (Lightning, accelerate): each process that
        iterates it runs its own loader with ``run(**options)`` (``output="torch"`` by default), torch's workers
        each taking their share of the records (:mod:`dataio.torch_data`). ``as_dict=True`` yields each batch as
        ``{slot name: value}`` (what accelerate and Hugging Face code expect) instead of a ``Batch``.

        Raises:
            BackendUnavailable: torch is not installed.
            TypeError / PlanError: an invalid option (checked when a process first iterates).
        """
        require("torch", "BoundPipeline.as_torch_dataset")
        from dataio.torch_data import LoaderDataset

        return LoaderDataset(self, options, as_bool("as_torch_dataset", "as_dict", as_dict))
