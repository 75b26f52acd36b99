"""TFRecord files and ``tf.train.Example`` records, without TensorFlow (docs/api.md §7 ``iter_tfrecord``).

A TFRecord file is a sequence of ``uint64 length | uint32 masked CRC32C(length) | data |
uint32 masked CRC32C(data)``; both CRCs are checked (CRC32C via ``google-crc32c``).
Files may be gzip-compressed. Each record is a serialised ``tf.train.Example``, decoded
here from the protobuf wire format (the schema is small and fixed):

    Example { Features features = 1 }           Features { map<string, Feature> feature = 1 }
    Feature { oneof: BytesList = 1 | FloatList = 2 | Int64List = 3 }   each { repeated value = 1 }
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Iterator
from typing import Any

from dataio._deps import require
from dataio._errors import DecodeError

_MASK_DELTA = 0xA282EAD8


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC32C of ``data``."""
    crc = require("google_crc32c", "iter_tfrecord()").value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def iter_tfrecord(path: str | os.PathLike[str]) -> Iterator[dict[str, list[Any]]]:
    """The ``tf.train.Example`` records of a (possibly gzipped) TFRecord file, lazily, CRCs verified.

    Yields:
        ``{feature: list[bytes] | list[float] | list[int]}`` per record.

    Raises:
        FileNotFoundError: no such file (at the first ``next()``).
        DecodeError: a bad CRC, a truncated record or an undecodable Example, naming the
            path and the record number.
    """
    label = os.fspath(path)
    for number, record in enumerate(iter_records(label)):
        try:
            yield parse_example(record)
        except (ValueError, IndexError, struct.error) as exc:
            raise DecodeError(f"{label}: record {number} is not a tf.train.Example: {exc}", label) from None


def iter_records(path: str) -> Iterator[bytes]:
    """The raw records of a TFRecord file, CRCs verified."""
    from dataio.io.handles import stream

    with stream(path) as raw:
        head = raw.read(2)
        body = _Chain(head, raw)
        reader: Any = gzip.GzipFile(fileobj=body) if head == b"\x1f\x8b" else body  # type: ignore[call-overload]
        number = 0
        while True:
            try:
                length_bytes = reader.read(8)
            except (OSError, EOFError) as exc:
                raise DecodeError(f"{path}: record {number}: corrupt gzip stream: {exc}", path) from None
            if not length_bytes:
                return
            if len(length_bytes) < 8:
                raise DecodeError(f"{path}: record {number}: truncated length", path)
            (length_crc,) = struct.unpack("<I", _read_exact(reader, 4, path, number))
            if masked_crc(length_bytes) != length_crc:
                raise DecodeError(f"{path}: record {number}: length CRC mismatch", path)
            (length,) = struct.unpack("<Q", length_bytes)
            data = _read_exact(reader, length, path, number)
            (data_crc,) = struct.unpack("<I", _read_exact(reader, 4, path, number))
            if masked_crc(data) != data_crc:
                raise DecodeError(f"{path}: record {number}: data CRC mismatch", path)
            yield data
            number += 1


def _read_exact(reader: Any, size: int, path: str, number: int) -> bytes:
    data = reader.read(size)
    if len(data) != size:
        raise DecodeError(f"{path}: record {number}: truncated ({len(data)} of {size} bytes)", path)
    return data


class _Chain:
    """The already-read prefix, then the rest of a stream (a file object for ``gzip``)."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self._head, self._rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            out, self._head = self._head + self._rest.read(), b""
            return out
        out, self._head = self._head[:size], self._head[size:]
        return out + (self._rest.read(size - len(out)) if len(out) < size else b"")


# -- protobuf wire format ------------------------------------------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """``(field number, wire type, value)``: ints for varints, bytes for length-delimited, raw for fixed."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("length-delimited field runs past the message")
            value, pos = data[pos: pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos: pos + 4], pos + 4
        elif wire == 1:
            value, pos = data[pos: pos + 8], pos + 8
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _feature(data: bytes) -> list[Any]:
    for kind, _, body in _fields(data):
        if kind == 1:  # BytesList
            return [bytes(v) for n, w, v in _fields(body) if n == 1 and w == 2]
        if kind == 2:  # FloatList: packed (wire 2) or not (wire 5)
            values: list[Any] = []
            for n, w, v in _fields(body):
                if n == 1:
                    values += list(struct.unpack(f"<{len(v) // 4}f", v)) if w == 2 else list(struct.unpack("<f", v))
            return values
        if kind == 3:  # Int64List: packed varints or single varints
            ints: list[int] = []
            for n, w, v in _fields(body):
                if n != 1:
                    continue
                if w == 0:
                    ints.append(_signed64(v))
                else:
                    pos = 0
                    while pos < len(v):
                        item, pos = _varint(v, pos)
                        ints.append(_signed64(item))
            return ints
    return []


def parse_example(data: bytes) -> dict[str, list[Any]]:
    """A serialised ``tf.train.Example`` as ``{feature name: values}``."""
    out: dict[str, list[Any]] = {}
    for number, wire, features in _fields(data):
        if number != 1 or wire != 2:
            continue
        for entry_number, entry_wire, entry in _fields(features):
            if entry_number != 1 or entry_wire != 2:
                continue
            name, value = "", b""
            for n, _, v in _fields(entry):
                if n == 1:
                    name = bytes(v).decode("utf-8")
                elif n == 2:
                    value = v
            out[name] = _feature(value)
    return out
