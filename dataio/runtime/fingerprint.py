"""A short fingerprint of the records a loader was bound to, carried in its state (docs/api.md §4.8).

A state restored over other records would resume a wrong epoch without a word: the positions
it holds mean nothing there. The fingerprint is cheap to take at every ``state_dict()``: for
a record source, its description (kind, length, shards or paths, the maps and filters on it);
for a sized sequence, its length and its first and last few records (each one's ``repr``
cut to a bounded length). Records whose number is unknown (an iterable, a factory) have none,
and are not checked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from dataio.sources.base import RecordSource

_ENDS = 8
"""Records looked at from each end of a sequence."""
_REPR_CHARS = 256
"""Characters of each such record's ``repr`` (a payload of bytes is not hashed whole)."""


def records_fingerprint(records: Any) -> str | None:
    """A 16-hex-digit fingerprint of ``records``, or ``None`` when they have no stable identity to take."""
    if isinstance(records, RecordSource):
        text = json.dumps(records.describe(), sort_keys=True, default=str)
    elif isinstance(records, Sequence) and not isinstance(records, (str, bytes)):
        ends = list(records[:_ENDS]) + list(records[-_ENDS:]) if len(records) > 2 * _ENDS else list(records)
        text = json.dumps([len(records), *(repr(r)[:_REPR_CHARS] for r in ends)])
    else:
        return None
    return hashlib.sha256(text.encode()).hexdigest()[:16]
