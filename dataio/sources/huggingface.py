"""``hf_dataset``: the rows of a Hugging Face ``datasets`` dataset as records (docs/api.md §5).

A map-style ``datasets.Dataset`` is sized and random-access (``shuffle`` permutes indices);
a streaming ``datasets.IterableDataset`` is read again each epoch (told the epoch, for its own
shuffle). Image and Audio columns are switched to their undecoded form, ``{"bytes", "path"}``,
so dataio decodes the bytes in its own kernels (the GPU graph included) instead of ``datasets``
making PIL images on the source's thread; the path only names the bytes (§2.6).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dataio._deps import require
from dataio.sources.base import RecordSource


def hf_dataset(dataset: Any, *, label: str | None = None) -> RecordSource:
    """Records over a ``datasets.Dataset`` (map-style) or ``datasets.IterableDataset`` (streaming), one dict per row.

    Args:
        dataset: the dataset (a split: ``load_dataset(..., split="train")``).
        label: names the source in messages (default: the dataset's own name, if any).

    Raises:
        BackendUnavailable: ``datasets`` is not installed.
        TypeError: not a ``datasets`` dataset (a ``DatasetDict`` needs a split).
    """
    datasets = require("datasets", "hf_dataset()")
    if not isinstance(dataset, (datasets.Dataset, datasets.IterableDataset)):
        hint = "; pick a split, e.g. dataset['train']" if isinstance(dataset, (datasets.DatasetDict,
                                                                            datasets.IterableDatasetDict)) else ""
        raise TypeError(f"hf_dataset(): expected a datasets.Dataset or datasets.IterableDataset; got "
                        f"{type(dataset).__name__}{hint}")
    return _HfDataset(_undecoded(datasets, dataset), label)


def _undecoded(datasets: Any, dataset: Any) -> Any:
    """The dataset with its decoding Image and Audio columns switched to ``{"bytes", "path"}``."""
    for name, feature in (dataset.features or {}).items():
        if isinstance(feature, (datasets.Image, datasets.Audio)) and feature.decode:
            dataset = dataset.cast_column(name, type(feature)(decode=False))
    return dataset


class _HfDataset(RecordSource):
    def __init__(self, dataset: Any, label: str | None) -> None:
        name = label or getattr(getattr(dataset, "info", None), "dataset_name", None)
        super().__init__("hf_dataset", label=name, streaming=not hasattr(dataset, "__len__"))
        self._dataset = dataset

    def _length(self) -> int | None:
        return len(self._dataset) if hasattr(self._dataset, "__len__") else None

    def _record(self, index: int) -> Any:
        return self._dataset[index]

    def _records(self, seed: int, epoch: int) -> Iterator[Any]:
        if callable(getattr(self._dataset, "set_epoch", None)):
            self._dataset.set_epoch(epoch)  # a streaming dataset's own shuffle moves on with dataio's epochs
        return iter(self._dataset)
