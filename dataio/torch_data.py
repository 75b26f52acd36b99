"""``BoundPipeline.as_torch_dataset``: a dataio loader as a ``torch.utils.data.IterableDataset``.

For code built around ``torch.utils.data.DataLoader`` (Lightning, accelerate, HF Trainer): wrap
it with ``DataLoader(dataset, batch_size=None)`` — dataio already batches, in its own threads,
so torch's loader only hands the batches on. Each process iterating the dataset (the main
process, or each of torch's ``num_workers`` worker processes) runs its own dataio loader, made
on first use and kept across epochs; with several workers, each takes its share of the records
(worker ``w`` of ``W`` on rank ``r`` of ``R`` reads shard ``r · W + w`` of ``R · W``), so every
record is read once per epoch. Imported only when asked for (it needs torch).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch.utils.data

from dataio.runtime.loader import batch_count
from dataio.runtime.sharding import ShardSpec, resolve_shard

if TYPE_CHECKING:
    from dataio.binding import BoundPipeline
    from dataio.runtime.loader import DataLoader


class LoaderDataset(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
    """Batches of a bound pipeline, one epoch per iteration (see the module).

    Args:
        bound: the bound pipeline.
        options: ``run()``'s keyword options (``output`` defaults to ``"torch"``; ``shard``, when
            given, is this rank's share, which torch's workers then split).
        as_dict: yield each batch as ``{slot name: value}`` (:meth:`~dataio.Batch.as_dict`), the plain
            mapping accelerate and Hugging Face code expect, instead of the :class:`~dataio.Batch`.
    """

    def __init__(self, bound: BoundPipeline, options: dict[str, Any], as_dict: bool = False) -> None:
        super().__init__()
        self._as_dict = as_dict
        self._bound = bound
        self._options = {"output": "torch", **options}
        self._rank_shard = resolve_shard(self._options.pop("shard", None))
        self._epoch: int | None = None
        self._loader: DataLoader | None = None
        self._loader_worker: int | None = None

    def set_epoch(self, epoch: int) -> None:
        """Run epoch ``epoch`` at the next iteration (every process's loader; see ``DataLoader.set_epoch``)."""
        self._epoch = epoch

    def __iter__(self) -> Iterator[Any]:
        loader = self._process_loader()
        if self._epoch is not None:
            loader.set_epoch(self._epoch)
            self._epoch = None
        for batch in loader:
            yield batch.as_dict() if self._as_dict else batch

    def __len__(self) -> int:
        """Batches per epoch on this rank (``TypeError`` when the records' count is unknown). Worked out without
        making a loader: in the main process of a loader with workers, none is ever iterated."""
        return batch_count(self._bound.plan, self._bound.records, self._rank_shard)

    def _process_loader(self) -> DataLoader:
        """This process's loader: made on first use in the process (or torch worker), then kept."""
        info = torch.utils.data.get_worker_info()
        worker = None if info is None else info.id
        if self._loader is None or self._loader_worker != worker:
            shard = self._rank_shard
            if info is not None and info.num_workers > 1:
                shard = ShardSpec(id=shard.id * info.num_workers + info.id, of=shard.of * info.num_workers,
                                  sticky=shard.sticky, pad=shard.pad)
            self._loader = self._bound.run(shard=shard, **self._options)
            self._loader_worker = worker
        return self._loader

    def __getstate__(self) -> dict[str, Any]:
        """What a worker process receives: everything but a loader (each process makes its own)."""
        state = dict(self.__dict__)
        state["_loader"], state["_loader_worker"] = None, None
        return state
