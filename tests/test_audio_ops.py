"""Audio transforms against torch.stft and closed-form oracles."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

import dataio
from dataio import transforms as T

RATE = 16000


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def run(signal: np.ndarray, *ops: Any) -> np.ndarray:
    pipe = dataio.pipeline(dataio.slot("x").decode_npy().apply(*ops), dataio.batch(1))
    with pipe.bind([{"x": npy(signal)}]).run("numpy", on_failure="strict") as loader:
        return next(iter(loader))["x"][0]


def chirp() -> np.ndarray:
    t = np.arange(RATE // 4) / RATE
    return (0.3 * np.sin(2 * np.pi * (200 + 2000 * t) * t))[None, :].astype(np.float32)


@pytest.mark.parametrize(("window", "power"), [("hann", 2.0), ("hamming", 1.0), ("rect", 2.0)])
def test_spectrogram_matches_torch_stft(window: str, power: float) -> None:
    torch = pytest.importorskip("torch")
    signal = chirp()
    got = run(signal, T.spectrogram(n_fft=256, hop_length=64, window=window, power=power))
    windows = {"hann": torch.hann_window(256, dtype=torch.float64),
               "hamming": torch.hamming_window(256, dtype=torch.float64), "rect": torch.ones(256, dtype=torch.float64)}
    stft = torch.stft(torch.from_numpy(signal[0].astype(np.float64)), 256, 64, window=windows[window], center=True,
                      pad_mode="reflect", return_complex=True)
    expected = stft.abs().pow(power).numpy()
    assert got.shape == expected.shape == (129, 1 + signal.shape[1] // 64)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_mel_filterbank_peaks_at_the_tone() -> None:
    t = np.arange(RATE // 2) / RATE
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t))[None, :].astype(np.float32)
    mel = run(tone, T.spectrogram(n_fft=512, hop_length=256), T.mel_filterbank(n_mels=40, sample_rate=RATE))
    assert mel.shape[0] == 40
    centres_hz = 700 * (10 ** (np.linspace(0, 2595 * np.log10(1 + 8000 / 700), 42)[1:-1] / 2595) - 1)
    assert abs(centres_hz[mel.mean(axis=1).argmax()] - 1000) < 120


def test_mfcc_is_dct_of_log_mel() -> None:
    signal = chirp()
    coefficients = run(signal, T.mfcc(sample_rate=RATE, n_mfcc=13, n_mels=40, n_fft=400, hop_length=160))
    mel = run(signal, T.spectrogram(n_fft=400, hop_length=160), T.mel_filterbank(n_mels=40, sample_rate=RATE))
    logged = 10 * np.log10(np.maximum(mel.astype(np.float64), 1e-10))
    logged = np.maximum(logged, logged.max() - 80)
    n = np.arange(40)
    basis = np.array([np.cos(np.pi / 40 * (n + 0.5) * k) for k in range(13)]) * np.sqrt(2 / 40)
    basis[0] /= np.sqrt(2)
    np.testing.assert_allclose(coefficients, basis @ logged, rtol=1e-3, atol=1e-2)


def test_multichannel_input_is_refused() -> None:
    stereo = np.zeros((2, 1000), np.float32)
    pipe = dataio.pipeline(dataio.slot("x").decode_npy().spectrogram(), dataio.batch(1))
    with pipe.bind([{"x": npy(stereo)}]).run("numpy", on_failure=0) as loader:
        error = next(iter(loader)).errors[0]
    assert "mono" in error["message"] and error["op"] == "transforms.spectrogram"
    with pytest.raises(dataio.PlanError, match="mono"):
        dataio.pipeline(dataio.slot("x").decode_npy().reshape(shape=[2, -1]).cast(dtype="float32").spectrogram(),
                        dataio.batch(1))
    dataio.pipeline(dataio.slot("x").decode_audio(mono=True).spectrogram(), dataio.batch(1))  # statically mono


def test_audio_op_validation() -> None:
    with pytest.raises(ValueError, match="f_max"):
        T.mel_filterbank(n_mels=10, sample_rate=8000, f_max=5000)
    with pytest.raises(ValueError, match="n_mfcc"):
        T.mfcc(sample_rate=8000, n_mfcc=50, n_mels=40)
    with pytest.raises(ValueError, match="window"):
        T.spectrogram(window="blackman")
