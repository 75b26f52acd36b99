"""Record sources (API.md §5): what ``Pipeline.bind`` iterates each epoch.

Files:
    base.py     RecordSource: per-epoch iteration, shuffle, map_records, filter_records, describe
    python.py   from_callable (lazy, row errors), from_iterable, from_iterator, from_sampler
    listing.py  files (globs, directories), urls, manifest (JSONL / path list, CSV, parquet)
"""

from dataio.sources.base import RecordSource
from dataio.sources.listing import files, manifest, urls
from dataio.sources.python import from_callable, from_iterable, from_iterator, from_sampler

__all__ = ["RecordSource", "from_callable", "from_iterable", "from_iterator", "from_sampler", "files", "urls",
           "manifest"]
