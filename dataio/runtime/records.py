"""The record model (docs/api.md §2.6): how a slot finds its value and its bytes in a record.

Shared by every executor: field lookup, slot value lookup (with optional/inactive
rules), the record key and seed. A slot value becomes a payload source in
:mod:`dataio.io.payloads`.
Errors here mean a broken record source and are fatal (:class:`~dataio.RecordError`,
:class:`~dataio.RecordTypeError`), never row errors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from dataio._errors import RecordError, RecordTypeError
from dataio.ops.cond import MISSING

INACTIVE: Any = type("Inactive", (), {"__repr__": lambda self: "INACTIVE"})()
"""Sentinel for a slot that produces nothing for this record (optional and absent, or gated off)."""

_KEY_FIELDS = ("key", "id", "name", "__key__")
_PATH_FIELDS = ("path", "uri")
_NAMING_FIELDS = frozenset(_KEY_FIELDS + _PATH_FIELDS)


def _is_mapping(record: Any) -> bool:
    """``isinstance(record, Mapping)``, with plain dicts (most records) decided without the ABC machinery."""
    return type(record) is dict or isinstance(record, Mapping)


def _is_path(value: Any) -> bool:
    """A ``str`` or ``os.PathLike`` value, decided without the ABC machinery (which DALI's import slows down
    for every abstract class): a path-like type defines ``__fspath__``."""
    return isinstance(value, str) or hasattr(type(value), "__fspath__")


def lookup_field(record: Any, field: str) -> Any:
    """``record[field]`` for mappings, else ``getattr(record, field)``; :data:`MISSING` if absent."""
    if _is_mapping(record):
        return record.get(field, MISSING)
    return getattr(record, field, MISSING)


def slot_value(record: Any, slot: str, *, optional: bool, single_slot: bool, where: object) -> Any:
    """The value slot ``slot`` reads from ``record`` (or :data:`INACTIVE`).

    Args:
        record: the record after per-record maps.
        slot: slot name.
        optional: whether a missing or ``None`` value makes the slot inactive.
        single_slot: the pipeline has exactly one slot (a non-mapping record is then the value).
        where: how to name the record in errors (its key or logical index; made into text only then).

    Raises:
        RecordError: a required slot's field is missing.
    """
    if _is_mapping(record):
        value = record.get(slot, MISSING)
    elif single_slot:
        value = record
    else:
        value = getattr(record, slot, MISSING)
    if value is MISSING or value is None:
        if optional:
            return INACTIVE
        if value is MISSING:
            raise RecordError(f"record {where}: missing required slot {slot!r}")
    return value


def record_key(record: Any, slot_values: list[Any], logical_index: int) -> str:
    """The record key shown on ``batch.keys`` (docs/api.md §2.6 step 4)."""
    # most dict records name no key field: one set test instead of six lookups
    names_itself = type(record) is not dict or not record.keys().isdisjoint(_NAMING_FIELDS)
    if names_itself and _is_mapping(record):
        for field in _KEY_FIELDS:
            value = record.get(field)
            if value is not None:
                return str(value)
        for field in _PATH_FIELDS:
            value = record.get(field)
            if value is not None and _is_path(value):
                return _stem(os.fspath(value))
    for value in slot_values:
        if value is INACTIVE:
            continue
        if _is_path(value):
            return _stem(os.fspath(value))
        break
    return str(logical_index)


def _stem(path: str) -> str:
    return os.path.splitext(path.rstrip("/").rsplit("/", 1)[-1])[0]


def record_seed(record: Any) -> int | None:
    """The record's own ``"seed"`` field (overrides the derived seed), if any."""
    if _is_mapping(record) and record.get("seed") is not None:
        seed = record["seed"]
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**64:
            raise RecordTypeError(f"record field 'seed' must be an int in [0, 2**64); got {seed!r}")
        return int(seed)
    return None
