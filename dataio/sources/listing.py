"""Record sources that list payloads: ``files`` (globs, directories), ``urls`` and ``manifest`` (docs/api.md §5).

Listings are made when the source is built — that is metadata, not payload IO — so a
missing path or an empty glob is an error at once, never a silently empty epoch, and the
source's length is known.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dataio.io.globs import has_magic, matching, walk_local
from dataio.io.uri import is_uri
from dataio.sources.base import RecordSource

class _ListSource(RecordSource):
    """A fixed list of records (random access)."""

    def __init__(self, kind: str, records: list[Any], **details: Any) -> None:
        super().__init__(kind, **details)
        self._items = records

    def _length(self) -> int:
        return len(self._items)

    def _record(self, index: int) -> Any:
        return self._items[index]

    def _records(self, seed: int, epoch: int) -> Iterator[Any]:
        return iter(self._items)


def files(glob: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, recursive: bool = True) -> RecordSource:
    """One path record per file matched, sorted per pattern, de-duplicated in first-seen order.

    Args:
        glob: a pattern (``*``, ``?``, ``[...]`` within a path segment, ``**`` for any number
            of segments when ``recursive``; :mod:`dataio.io.globs`), a directory (every file
            below it), a file, or a sequence of those; local paths or fsspec URIs.
        recursive: ``**`` and directories reach into subdirectories.

    Raises:
        FileNotFoundError: a literal path that does not exist, or nothing matched at all.
        TypeError: not a str, PathLike or a sequence of them.
    """
    patterns = [glob] if isinstance(glob, (str, os.PathLike)) else list(glob) if isinstance(glob, Sequence) else None
    if patterns is None or not all(isinstance(p, (str, os.PathLike)) for p in patterns):
        raise TypeError(f"files(glob={glob!r}): expected a path/pattern str, a PathLike or a sequence of them")
    found: dict[str, None] = {}
    for pattern in (os.fspath(p) for p in patterns):
        for path in _expand(pattern, recursive):
            found.setdefault(path, None)
    if not found:
        raise FileNotFoundError(f"files(): nothing matched {', '.join(repr(os.fspath(p)) for p in patterns)}")
    return _ListSource("files", list(found), patterns=[os.fspath(p) for p in patterns], recursive=recursive)


def _expand(pattern: str, recursive: bool) -> list[str]:
    if not recursive:
        pattern = "/".join("*" if part == "**" else part for part in pattern.split("/"))
    if is_uri(pattern):
        return _expand_uri(pattern, recursive)
    if has_magic(pattern):
        return matching(pattern, walk_local)
    if os.path.isdir(pattern):
        root = Path(pattern)
        below = root.rglob("*") if recursive else root.iterdir()
        return sorted(str(p) for p in below if p.is_file())
    if os.path.isfile(pattern):
        return [pattern]
    raise FileNotFoundError(f"files(): no such file or directory: {pattern!r}")


def _expand_uri(pattern: str, recursive: bool) -> list[str]:
    import fsspec

    fs, path = fsspec.core.url_to_fs(pattern)
    if has_magic(path):
        matches = matching(path, fs.find)
    elif fs.isdir(path):
        matches = fs.find(path, maxdepth=None if recursive else 1)
    elif fs.exists(path):
        matches = [path]
    else:
        raise FileNotFoundError(f"files(): no such object: {pattern!r}")
    return sorted(fs.unstrip_protocol(m) for m in matches if not fs.isdir(m))


def urls(uris: Sequence[str], *, headers: dict[str, str] | None = None) -> RecordSource:
    """One ``{"key": uri, "reader": ...}`` record per URI; ``headers`` go with http(s) requests only.

    Raises:
        TypeError: a bare str (use ``[uri]``), or items that are not strs.
    """
    if isinstance(uris, (str, bytes)) or not isinstance(uris, Sequence):
        raise TypeError(f"urls(uris={uris!r}): expected a sequence of URI strs (wrap a single one: [uri])")
    if not all(isinstance(u, str) for u in uris):
        raise TypeError("urls(): every URI must be a str")
    if headers is not None and not (isinstance(headers, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                                       for k, v in headers.items())):
        raise TypeError(f"urls(headers=...): headers must be a dict of str to str; got {headers!r}")
    records = []
    for uri in uris:
        source: dict[str, Any] = {"uri": uri}
        if headers and uri.startswith(("http://", "https://")):
            source["headers"] = dict(headers)
        records.append({"key": uri, "reader": source})
    return _ListSource("urls", records, count=len(records))


def manifest(path: str | os.PathLike[str]) -> RecordSource:
    """Records listed in a local manifest file.

    - ``.csv``: one record (a dict of str) per row, the header row naming the fields;
    - ``.parquet``: one record per row (needs pyarrow, the ``parquet`` extra);
    - anything else, JSONL / path list: a line starting with ``{`` is a JSON object record,
      any other non-blank line a path record; blank lines are skipped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: invalid JSON (the message names the line), a JSON line that is not an object,
            or a CSV row with more fields than the header.
    """
    path = os.fspath(path)
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        records = _csv_records(path)
    elif suffix in (".parquet", ".pq"):
        from dataio._deps import require
        from dataio.formats.parquet import undecodable_as_decode_error

        parquet = require("pyarrow.parquet", "manifest(*.parquet)")
        with undecodable_as_decode_error(path):
            records = parquet.read_table(path).to_pylist()
    else:
        records = _jsonl_records(path)
    return _ListSource("manifest", records, path=path)


def _jsonl_records(path: str) -> list[Any]:
    records: list[Any] = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text:
                continue
            if not text.startswith("{"):
                records.append(text)
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"manifest {path!r}, line {number}: invalid JSON: {exc.msg} (column {exc.colno})") \
                    from None
            if not isinstance(record, dict):
                raise ValueError(f"manifest {path!r}, line {number}: a JSON record must be an object")
            records.append(record)
    return records


def _csv_records(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for number, row in enumerate(rows, start=2):
        if None in row:
            raise ValueError(f"manifest {path!r}, line {number}: more fields than the header names")
    return rows
