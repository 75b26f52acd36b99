"""Parquet through pyarrow (docs/api.md §7 ``read_parquet`` / ``scan_parquet``), from local files or any URI.

``scan_parquet`` builds an immutable query and reads nothing until a terminal call. Filters
written with ``dataio.col(...)`` (comparisons, ``is_in``, null checks, ``&``, ``|``, ``~``)
are translated to pyarrow expressions and pushed down to the scan, so pyarrow skips row
groups by their statistics and never materialises rows that fail; a Python callable
``row -> bool`` works too, row by row after the pushed-down part.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from dataio._deps import require
from dataio._errors import DecodeError, PlanError
from dataio.io.errors import ObjectNotFound, translated
from dataio.io.resolve import filesystem, locate
from dataio.ops.cond import Cond

_OPERATORS = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__"}


@contextmanager
def undecodable_as_decode_error(path: str) -> Iterator[None]:
    """pyarrow's verdict on a file it cannot parse (``ArrowInvalid``, an unsupported type) as a
    :class:`~dataio.DecodeError` naming ``path``; IO errors pass as they are."""
    pa = require("pyarrow", "parquet files")
    try:
        yield
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise DecodeError(f"{path}: not a parquet file dataio can read: {exc}", uri=path) from exc


def _parquet_file(path: str | os.PathLike[str]) -> Any:
    pq = require("pyarrow.parquet", "parquet files")
    text = os.fspath(path)
    location = locate(text)
    if location.is_local:
        if not os.path.isfile(location.path):
            raise ObjectNotFound(f"{text}: no such file")
        with undecodable_as_decode_error(text):
            return pq.ParquetFile(location.path)
    with translated(text), undecodable_as_decode_error(text):
        return pq.ParquetFile(filesystem(location).open(location.path, "rb"))


def _columns(columns: Any, schema_names: list[str], where: str) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise TypeError(f"{where}(columns={columns!r}): a sequence of column names (wrap one: [name])")
    missing = [c for c in columns if c not in schema_names]
    if missing:
        raise KeyError(f"{where}: no column(s) {', '.join(map(repr, missing))}; the file has {schema_names}")
    return list(columns)


def _row_groups(groups: Any, count: int, where: str) -> list[int] | None:
    if groups is None:
        return None
    indices = list(groups)
    bad = [g for g in indices if isinstance(g, bool) or not isinstance(g, int) or not 0 <= g < count]
    if bad:
        raise PlanError(f"{where}(row_groups={indices!r}): the file has {count} row group(s)")
    return indices


def read_parquet(path: str | os.PathLike[str], *, columns: Sequence[str] | None = None,
                 row_groups: Sequence[int] | None = None, offset: int = 0, limit: int | None = None
                 ) -> dict[str, list[Any]]:
    """Columns of a parquet file as Python lists (nulls as ``None``).

    Raises:
        FileNotFoundError: no such file; KeyError: an unknown column; ValueError: a bad row group.
        TypeError: ``columns`` given as a single ``str``.
    """
    return scan_parquet(path).select(columns).row_groups(row_groups).offset(offset).limit(limit)._table_dict()


@dataclass(frozen=True)
class ParquetQuery:
    """A lazy, immutable parquet query; every method returns a new one (docs/api.md §7 ``scan_parquet``)."""

    path: str
    _columns: tuple[str, ...] | None = None
    _filters: tuple[Any, ...] = ()
    _offset: int = 0
    _limit: int | None = None
    _row_groups: tuple[int, ...] | None = None

    def select(self, columns: Sequence[str] | None) -> ParquetQuery:
        """Only these columns (``None``: all)."""
        if columns is not None and (isinstance(columns, str) or not isinstance(columns, Sequence)):
            raise TypeError(f"select(columns={columns!r}): a sequence of column names")
        return replace(self, _columns=None if columns is None else tuple(columns))

    def filter(self, predicate: Cond | Callable[[dict[str, Any]], bool]) -> ParquetQuery:
        """Keep rows where ``predicate`` holds: a ``dataio.col(...)`` condition (pushed down) or a callable."""
        if not isinstance(predicate, Cond) and not callable(predicate):
            raise TypeError(f"filter({predicate!r}): a dataio.col(...) condition or a callable row -> bool")
        return replace(self, _filters=(*self._filters, predicate))

    def offset(self, n: int) -> ParquetQuery:
        """Skip the first ``n`` rows."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise PlanError(f"offset({n!r}): a non-negative int")
        return replace(self, _offset=n)

    def limit(self, n: int | None) -> ParquetQuery:
        """At most ``n`` rows (``None``: no limit)."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise PlanError(f"limit({n!r}): None or a non-negative int")
        return replace(self, _limit=n)

    def head(self, n: int = 5) -> list[dict[str, Any]]:
        """The first ``n`` rows as dicts (a terminal call)."""
        return self.limit(n).collect()

    def row_groups(self, indices: Sequence[int] | None) -> ParquetQuery:
        """Only these row groups (``None``: all)."""
        return replace(self, _row_groups=None if indices is None else tuple(indices))

    # -- terminals -------------------------------------------------------------------------

    def collect(self) -> list[dict[str, Any]]:
        """The selected rows as dicts."""
        return [row for batch in self.iter_batches() for row in _rows(batch)]

    def count(self) -> int:
        """The number of rows the query selects (a terminal call). Without filters it comes from the file's
        footer: no row is read."""
        if not self._filters:
            file = _parquet_file(self.path)
            groups = _row_groups(self._row_groups, file.num_row_groups, "scan_parquet")
            metadata = file.metadata
            total = sum(metadata.row_group(g).num_rows for g in (groups if groups is not None
                                                                 else range(file.num_row_groups)))
            left = max(0, total - self._offset)
            return left if self._limit is None else min(left, self._limit)
        return sum(len(next(iter(batch.values()), [])) for batch in self.iter_batches())

    def iter_batches(self) -> Iterator[dict[str, list[Any]]]:
        """Column dicts, one per record batch read (after filters, offset and limit)."""
        skip, left = self._offset, self._limit
        for table in self._tables():
            if skip:
                dropped = min(skip, table.num_rows)
                table, skip = table.slice(dropped), skip - dropped
            if left is not None:
                table = table.slice(0, left)
                left -= table.num_rows
            if table.num_rows:
                yield _selected(table.to_pydict(), self._columns)
            if left == 0:
                return

    def _table_dict(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] | None = None
        for batch in self.iter_batches():
            if out is None:
                out = {k: list(v) for k, v in batch.items()}
            else:
                for k, v in batch.items():
                    out[k].extend(v)
        if out is None:
            names = list(self._columns) if self._columns is not None else _parquet_file(self.path).schema_arrow.names
            out = {name: [] for name in names}
        return out

    def _tables(self) -> Iterator[Any]:
        with undecodable_as_decode_error(self.path):
            yield from self._read_tables()

    def _read_tables(self) -> Iterator[Any]:
        pc = require("pyarrow.compute", "parquet filters")
        file = _parquet_file(self.path)
        names = file.schema_arrow.names
        columns = _columns(list(self._columns) if self._columns is not None else None, names, "scan_parquet")
        groups = _row_groups(self._row_groups, file.num_row_groups, "scan_parquet")
        pushed = [f for f in self._filters if isinstance(f, Cond)]
        callables = [f for f in self._filters if not isinstance(f, Cond)]
        expression = None
        for cond in pushed:
            part = _expression(pc, cond, names)
            expression = part if expression is None else expression & part
        needed = None if columns is None or callables else columns
        if groups is None and expression is not None:
            tables: Iterator[Any] = _pushed_down(self.path, expression, needed)
        else:
            tables = (file.read_row_group(index, columns=needed) for index in groups or range(file.num_row_groups))
            if expression is not None:
                tables = (table.filter(expression) for table in tables)
        for table in tables:
            if callables:
                rows = _rows(table.to_pydict())
                keep = [all(f(row) for f in callables) for row in rows]
                table = table.filter(require("pyarrow", "parquet files").array(keep, type="bool"))
            yield table


def _pushed_down(path: str, expression: Any, columns: list[str] | None) -> Iterator[Any]:
    """Scan with the filter pushed into pyarrow: row groups whose statistics exclude it are skipped."""
    pa = require("pyarrow", "parquet files")
    dataset = require("pyarrow.dataset", "parquet filters")
    location = locate(path)
    if location.is_local:
        source: Any = dataset.dataset(location.path, format="parquet")
    else:
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        source = dataset.dataset(location.path, format="parquet",
                                 filesystem=PyFileSystem(FSSpecHandler(filesystem(location))))
    with translated(path):
        for batch in source.to_batches(columns=columns, filter=expression):
            yield pa.Table.from_batches([batch])


def _selected(columns: dict[str, list[Any]], wanted: tuple[str, ...] | None) -> dict[str, list[Any]]:
    return columns if wanted is None else {name: columns[name] for name in wanted}


def _rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _expression(pc: Any, cond: Cond, names: list[str]) -> Any:
    """A pyarrow expression for a ``dataio.col(...)`` condition (shape predicates have no meaning here)."""
    if cond.kind == "all":
        out = None
        for child in cond.children:
            part = _expression(pc, child, names)
            out = part if out is None else out & part
        return out
    if cond.kind == "any":
        out = None
        for child in cond.children:
            part = _expression(pc, child, names)
            out = part if out is None else out | part
        return out
    if cond.kind == "not":
        return ~_expression(pc, cond.children[0], names)
    if cond.kind == "const":
        return pc.scalar(bool(cond.value))
    if cond.kind != "field":
        raise PlanError(f"scan_parquet().filter({cond!r}): only column conditions apply to rows")
    if cond.field not in names:
        raise KeyError(f"scan_parquet().filter: no column {cond.field!r}; the file has {names}")
    column = pc.field(cond.field)
    compare = cond.compare
    if compare in (None, "truthy"):
        return pc.and_kleene(column.is_valid(), column.cast("bool"))
    if compare == "is_null":
        return column.is_null()
    if compare == "is_not_null":
        return column.is_valid()
    if compare == "is_in":
        return column.isin(list(cond.value))
    return getattr(column, _OPERATORS[compare])(cond.value)


def scan_parquet(path: str | os.PathLike[str]) -> ParquetQuery:
    """A lazy :class:`ParquetQuery` over a parquet file (no IO until a terminal call)."""
    return ParquetQuery(os.fspath(path))
