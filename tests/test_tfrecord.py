"""TFRecord reading against Examples built with the protobuf library (an oracle independent of our decoder)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import pytest

import dataio
from dataio.formats.tfrecord import masked_crc


def example_class() -> Any:
    """``tf.train.Example`` defined through protobuf descriptors (TensorFlow is not needed)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    proto = descriptor_pb2.FileDescriptorProto(name="example_test.proto", package="tfx", syntax="proto3")
    F = descriptor_pb2.FieldDescriptorProto

    def message(name: str, fields: list[tuple[str, int, int, int, str]], nested: list[Any] = (),
                options: Any = None) -> Any:
        msg = descriptor_pb2.DescriptorProto(name=name)
        for fname, number, ftype, label, type_name in fields:
            field = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = type_name
        msg.nested_type.extend(nested)
        if options is not None:
            msg.options.CopyFrom(options)
        return msg

    rep, opt = F.LABEL_REPEATED, F.LABEL_OPTIONAL
    proto.message_type.extend([
        message("BytesList", [("value", 1, F.TYPE_BYTES, rep, "")]),
        message("FloatList", [("value", 1, F.TYPE_FLOAT, rep, "")]),
        message("Int64List", [("value", 1, F.TYPE_INT64, rep, "")]),
    ])
    feature = message("Feature", [("bytes_list", 1, F.TYPE_MESSAGE, opt, ".tfx.BytesList"),
                                  ("float_list", 2, F.TYPE_MESSAGE, opt, ".tfx.FloatList"),
                                  ("int64_list", 3, F.TYPE_MESSAGE, opt, ".tfx.Int64List")])
    feature.oneof_decl.add(name="kind")
    for field in feature.field:
        field.oneof_index = 0
    entry = message("FeatureEntry", [("key", 1, F.TYPE_STRING, opt, ""), ("value", 2, F.TYPE_MESSAGE, opt,
                                                                           ".tfx.Feature")],
                    options=descriptor_pb2.MessageOptions(map_entry=True))
    features = message("Features", [("feature", 1, F.TYPE_MESSAGE, rep, ".tfx.Features.FeatureEntry")], [entry])
    proto.message_type.extend([feature, features,
                               message("Example", [("features", 1, F.TYPE_MESSAGE, opt, ".tfx.Features")])])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tfx.Example"))


def record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))


def examples() -> tuple[list[bytes], list[dict[str, list[Any]]]]:
    Example = example_class()
    expected = [{"image": [b"\x00\x01png"], "label": [3], "score": [0.5, -2.25], "ids": [-1, 2**40]},
                {"image": [b"a", b"b"], "label": [], "score": [], "ids": [7]}]
    encoded = []
    for item in expected:
        message = Example()
        message.features.feature["image"].bytes_list.value.extend(item["image"])
        message.features.feature["label"].int64_list.value.extend(item["label"])
        message.features.feature["score"].float_list.value.extend(item["score"])
        message.features.feature["ids"].int64_list.value.extend(item["ids"])
        encoded.append(message.SerializeToString())
    return encoded, expected


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_examples_round_trip_through_a_tfrecord_file(tmp_path: Path, compress: bool, store: str) -> None:
    encoded, expected = examples()
    body = b"".join(record(e) for e in encoded)
    uri = f"{store}/data.tfrecord{'.gz' if compress else ''}"
    dataio.write(uri, gzip.compress(body) if compress else body, mkdir_parents=True)
    assert list(dataio.iter_tfrecord(uri)) == expected


def test_corruption_is_named_by_path_and_record(tmp_path: Path) -> None:
    encoded, _ = examples()
    good = record(encoded[0]) + record(encoded[1])
    flipped = bytearray(good)
    flipped[len(record(encoded[0])) + 14] ^= 0xFF  # a data byte of record 1
    (tmp_path / "bad.tfrecord").write_bytes(bytes(flipped))
    reader = dataio.iter_tfrecord(tmp_path / "bad.tfrecord")
    assert next(reader)["ids"] == [-1, 2**40]  # record 0 is fine
    with pytest.raises(dataio.DecodeError, match=r"bad.tfrecord: record 1: data CRC mismatch"):
        next(reader)
    (tmp_path / "cut.tfrecord").write_bytes(good[:-6])
    with pytest.raises(dataio.DecodeError, match="record 1: truncated"):
        list(dataio.iter_tfrecord(tmp_path / "cut.tfrecord"))
    not_example = record(b"\xff\xff\xff")
    (tmp_path / "junk.tfrecord").write_bytes(not_example)
    with pytest.raises(dataio.DecodeError, match="record 0 is not a tf.train.Example"):
        list(dataio.iter_tfrecord(tmp_path / "junk.tfrecord"))
    missing = dataio.iter_tfrecord(tmp_path / "missing.tfrecord")  # nothing happens yet
    with pytest.raises(FileNotFoundError):
        next(missing)
