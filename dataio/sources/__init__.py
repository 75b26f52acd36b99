"""Record sources (docs/api.md §5): what ``Pipeline.bind`` iterates each epoch.

Files:
    base.py     RecordSource: per-epoch iteration, shuffle, map_records, filter_records, describe
    python.py   from_callable (lazy, row errors), from_iterable, from_iterator, from_sampler
    listing.py  files (globs, directories), urls, manifest (JSONL / path list, CSV, parquet)
    archives.py webdataset (tar shards), archive (tar, tar.gz, zip entries)
    huggingface.py hf_dataset (a datasets.Dataset or IterableDataset, image/audio columns undecoded)
"""

from dataio.sources.archives import Archive, archive, webdataset
from dataio.sources.base import RecordSource
from dataio.sources.huggingface import hf_dataset
from dataio.sources.listing import files, manifest, urls
from dataio.sources.python import from_callable, from_iterable, from_iterator, from_sampler

__all__ = ["RecordSource", "Archive", "archive", "webdataset", "from_callable", "from_iterable", "from_iterator",
           "from_sampler", "files", "urls", "manifest", "hf_dataset"]
