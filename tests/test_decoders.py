"""Decoders beyond images: safetensors, pt, passthrough, audio, text, json, bytes, npy (against oracles)."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import numpy as np
import pytest

import dataio
from dataio import decoders as D


def run(decoder: Any, records: list[dict[str, Any]], **options: Any) -> dataio.Batch:
    pipe = dataio.pipeline(dataio.slot("x").decode(decoder), dataio.batch(len(records)))
    with pipe.bind(records).run("numpy", on_failure=0, **options) as loader:
        return next(iter(loader))


def test_safetensors_written_by_the_reference_package() -> None:
    st = pytest.importorskip("safetensors.numpy")
    weights = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array([1, -2], dtype=np.int64)}
    payload = st.save(weights)
    batch = run(D.safetensors(tensor_key="w"), [{"x": payload}])
    np.testing.assert_array_equal(batch["x"][0], weights["w"])
    per_record = run(D.safetensors(tensor_key=dataio.col("k")), [{"x": payload, "k": "b"}, {"x": payload, "k": "w"}])
    np.testing.assert_array_equal(per_record["x"][0], weights["b"])


def hand_built_safetensors(tensors: dict[str, tuple[str, list[int], bytes]]) -> bytes:
    header, body = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(body), len(body) + len(raw)]}
        body += raw
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


def test_safetensors_bf16_as_bit_patterns_and_errors() -> None:
    payload = hand_built_safetensors({"h": ("BF16", [2], struct.pack("<2H", 0x3F80, 0xC000))})
    np.testing.assert_array_equal(run(D.safetensors(tensor_key="h"), [{"x": payload}])["x"][0],
                                  np.array([0x3F80, 0xC000], dtype=np.uint16).view(np.int16))
    missing = run(D.safetensors(tensor_key="nope"), [{"key": "a", "x": payload}])
    assert missing.errors[0]["stage"] == "decode" and "KeyError" in missing.errors[0]["message"]
    bad = run(D.safetensors(tensor_key="h"), [{"x": payload[:12]}])
    assert "DecodeError" in bad.errors[0]["message"]


def test_pt_loads_weights_only_and_never_runs_pickle_code(tmp_path: Any) -> None:
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    torch.save({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}, buffer)
    batch = run(D.pt(tensor_key="w"), [{"x": buffer.getvalue()}])
    np.testing.assert_array_equal(batch["x"][0], np.arange(6, dtype=np.float32).reshape(2, 3))

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> Any:
            return (open, (str(marker), "w"))

    evil = io.BytesIO()
    torch.save({"w": Evil()}, evil)
    refused = run(D.pt(tensor_key="w"), [{"x": evil.getvalue()}])
    assert refused.errors and refused.errors[0]["stage"] == "decode"
    assert not marker.exists()


def test_passthrough_carries_objects_without_reading() -> None:
    records = [{"x": {"boxes": [[0, 0, 1, 1]], "id": 3}}, {"x": {"boxes": [], "id": 4}}]
    batch = run(D.passthrough(field="boxes"), records)
    assert batch["x"] == [[[0, 0, 1, 1]], []] and batch.tensors == ()
    pipe = dataio.pipeline(dataio.slot("x").passthrough(), dataio.batch(2))
    with pipe.bind([{"x": "not/a/path"}, {"x": 7}]).run("numpy") as loader:
        assert next(iter(loader))["x"] == ["not/a/path", 7]


def test_text_and_json() -> None:
    records = [{"x": "\ufeffhéllo".encode()}, {"x": b"\xff\xfe"}]
    batch = run(D.text(), records)
    assert bytes(batch["x"][0]).decode() == "héllo" and "invalid UTF-8" in batch.errors[0]["message"]
    lossy = run(D.text(encoding="utf-8-lossy", as_object=True), records)
    assert lossy["x"][1] == "\ufffd\ufffd"
    docs = [{"x": json.dumps({"caption": "a cat", "n": 1}).encode()}]
    assert bytes(run(D.json(field="caption"), docs)["x"][0]) == b"a cat"
    assert run(D.json(as_object=True), docs)["x"] == [{"caption": "a cat", "n": 1}]
    assert "not a string" in run(D.json(field="n"), docs).errors[0]["message"]


def test_npy_refuses_object_arrays() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    batch = run(D.npy(), [{"x": buffer.getvalue()}])
    assert batch.errors[0]["stage"] == "decode"


def tone(rate: int, seconds: float, freq: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.stack([0.5 * np.sin(2 * np.pi * freq * t + c) for c in range(channels)]).astype(np.float32)


def encode_audio(signal: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    soundfile = pytest.importorskip("soundfile")
    buffer = io.BytesIO()
    soundfile.write(buffer, signal.T, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "subtype", "atol"), [("WAV", "FLOAT", 0.0), ("FLAC", "PCM_24", 1e-6),
                                                      ("OGG", "VORBIS", 0.05)])
def test_audio_formats_match_libsndfile(fmt: str, subtype: str, atol: float) -> None:
    soundfile = pytest.importorskip("soundfile")
    signal = tone(16000, 0.25, 440, channels=2)
    payload = encode_audio(signal, 16000, fmt, subtype)
    got = run(D.audio(), [{"x": payload}])["x"][0]
    expected = soundfile.read(io.BytesIO(payload), dtype="float32", always_2d=True)[0].T
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-7)
    if atol:
        assert np.abs(got[:, 500:-500] - signal[:, 500:-500]).max() < atol


def test_mp3_decodes_through_libsndfile() -> None:
    soundfile = pytest.importorskip("soundfile")
    if "MP3" not in soundfile.available_formats():
        pytest.skip("this libsndfile has no MP3 support")
    signal = tone(16000, 0.5, 440)
    payload = encode_audio(signal, 16000, "MP3", "MPEG_LAYER_III")
    got = run(D.audio(), [{"x": payload}])["x"][0]
    expected = soundfile.read(io.BytesIO(payload), dtype="float32", always_2d=True)[0].T
    np.testing.assert_allclose(got, expected, atol=1e-7)
    assert got.shape[0] == 1 and abs(got.shape[1] - signal.shape[1]) < 2000


def test_audio_mono_and_resampling_preserve_the_tone() -> None:
    signal = tone(8000, 0.5, 300, channels=2)
    payload = encode_audio(signal, 8000, "WAV", "FLOAT")
    mono = run(D.audio(mono=True), [{"x": payload}])["x"][0]
    np.testing.assert_allclose(mono[0], signal.mean(axis=0), atol=1e-6)
    for method, tolerance in (("linear", 2e-2), ("sinc", 5e-3)):
        up = run(D.audio(sample_rate=16000, resampling=method), [{"x": payload}])["x"][0]
        assert up.shape == (2, 8000)
        expected = tone(16000, 0.5, 300, channels=2)
        assert np.abs(up[:, 400:-400] - expected[:, 400:-400]).max() < tolerance, method


def test_audio_caps_and_garbage_are_row_errors() -> None:
    payload = encode_audio(tone(8000, 0.1, 300), 8000, "WAV", "FLOAT")
    capped = run(D.audio(max_decoded_bytes=100), [{"x": payload}])
    assert "max_decoded_bytes=100" in capped.errors[0]["message"]
    garbage = run(D.audio(), [{"x": b"RIFF not really"}])
    assert garbage.errors[0]["stage"] == "decode"


def test_decoder_validation() -> None:
    with pytest.raises(ValueError, match="resampling"):
        D.audio(resampling="cubic")
    with pytest.raises(TypeError, match="tensor_key"):
        D.safetensors(tensor_key=3)
    with pytest.raises(TypeError, match="field"):
        D.passthrough(field="")
