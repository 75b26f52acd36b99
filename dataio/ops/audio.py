"""Audio transforms (docs/api.md §3.2 "Audio"): spectrogram, mel filterbank, MFCC on ``[channels, samples] float32``.

Conventions follow torchaudio's defaults so features match common training recipes:
centred frames with reflect padding, periodic windows, an HTK mel scale without
filter normalisation, ``AmplitudeToDB`` (top 80 dB) and an orthonormal DCT-II.
Spectrogram and MFCC take mono audio (``[1, samples]``; decode with ``mono=True``).
"""

from __future__ import annotations

from dataio._errors import PlanError
from dataio._validate import as_choice, as_float, as_int
from dataio.ops._base import TensorSpec, Transform, op

WINDOWS = ("hann", "hamming", "rect")
LOG_BASES = ("db", "e")


def _mono_input(op_: Transform, spec: TensorSpec) -> None:
    op_.expect(spec, dtype="float32")
    if spec.shape is not None and (len(spec.shape) != 2 or spec.shape[0] not in (1, None)):
        raise PlanError(f"{op_.op_name}: expects mono audio [1, samples] float32; got {spec.describe()}")


def _frame_params(name: str, n_fft: int, hop_length: int, window: str) -> tuple[int, int]:
    n_fft = as_int(name, "n_fft", n_fft, minimum=2)
    hop = as_int(name, "hop_length", hop_length, minimum=1)
    as_choice(name, "window", window, WINDOWS)
    return n_fft, hop


def _band(name: str, sample_rate: int, f_min: float, f_max: float) -> tuple[int, float, float]:
    rate = as_int(name, "sample_rate", sample_rate, minimum=1)
    low = as_float(name, "f_min", f_min, minimum=0.0)
    high = as_float(name, "f_max", f_max, minimum=0.0)
    top = high or rate / 2
    if not low < top <= rate / 2:
        raise ValueError(f"{name}(f_min={low}, f_max={high}): need f_min < f_max <= sample_rate / 2 "
                         f"(f_max=0 means {rate / 2})")
    return rate, low, high


@op("spectrogram")
class Spectrogram(Transform):
    """``[1, samples]`` → ``[n_fft // 2 + 1, frames] float32`` (|STFT|^power, centred frames).

    Args:
        n_fft: FFT size (>= 2); the window has this length.
        hop_length: samples between frames.
        window: ``"hann"``, ``"hamming"`` or ``"rect"``.
        power: exponent of the magnitude (> 0; 2 = power spectrum).
    """

    n_fft: int = 400
    hop_length: int = 160
    window: str = "hann"
    power: float = 2.0

    def __post_init__(self) -> None:
        n_fft, hop = _frame_params("spectrogram", self.n_fft, self.hop_length, self.window)
        self.set("n_fft", n_fft)
        self.set("hop_length", hop)
        self.set("power", as_float("spectrogram", "power", self.power, minimum=0.0, exclusive_minimum=True))

    def infer(self, spec: TensorSpec) -> TensorSpec:
        _mono_input(self, spec)
        return TensorSpec("float32", None, (self.n_fft // 2 + 1, None))


@op("mel_filterbank")
class MelFilterbank(Transform):
    """Spectrogram ``[n_fft // 2 + 1, frames]`` → ``[n_mels, frames]`` through triangular HTK-mel filters.

    Args:
        n_mels: number of mel bands.
        sample_rate: the audio's sample rate (Hz).
        f_min: lowest frequency (Hz).
        f_max: highest frequency (Hz); 0 means Nyquist.
        n_fft: the spectrogram's FFT size; ``None`` infers it from the input's rows.
    """

    n_mels: int
    sample_rate: int
    f_min: float = 0.0
    f_max: float = 0.0
    n_fft: int | None = None

    def __post_init__(self) -> None:
        self.set("n_mels", as_int("mel_filterbank", "n_mels", self.n_mels, minimum=1))
        rate, low, high = _band("mel_filterbank", self.sample_rate, self.f_min, self.f_max)
        self.set("sample_rate", rate)
        self.set("f_min", low)
        self.set("f_max", high)
        if self.n_fft is not None:
            self.set("n_fft", as_int("mel_filterbank", "n_fft", self.n_fft, minimum=2))

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec, dtype="float32")
        if spec.shape is not None and len(spec.shape) != 2:
            raise PlanError(f"mel_filterbank: expects a spectrogram [bins, frames]; got {spec.describe()}")
        bins = spec.shape[0] if spec.shape is not None else None
        if self.n_fft is not None and bins is not None and bins != self.n_fft // 2 + 1:
            raise self.fail("n_fft", f"a {bins}-bin spectrogram comes from n_fft={2 * (bins - 1)}")
        frames = spec.shape[1] if spec.shape is not None else None
        return TensorSpec("float32", None, (self.n_mels, frames))


@op("mfcc")
class Mfcc(Transform):
    """``[1, samples]`` → ``[n_mfcc, frames]``: power spectrogram → mel → log → orthonormal DCT-II.

    Args:
        n_mfcc: coefficients kept (<= n_mels).
        n_mels: mel bands.
        sample_rate: the audio's sample rate (Hz).
        f_min: lowest frequency (Hz).
        f_max: highest frequency (Hz); 0 means Nyquist.
        n_fft: FFT size.
        hop_length: samples between frames.
        window: ``"hann"``, ``"hamming"`` or ``"rect"``.
        log_base: ``"db"`` (10·log10, floored 80 dB below the maximum) or ``"e"`` (natural log).
    """

    sample_rate: int
    n_mfcc: int = 13
    n_mels: int = 40
    f_min: float = 0.0
    f_max: float = 0.0
    n_fft: int = 400
    hop_length: int = 160
    window: str = "hann"
    log_base: str = "db"

    def __post_init__(self) -> None:
        self.set("n_mels", as_int("mfcc", "n_mels", self.n_mels, minimum=1))
        self.set("n_mfcc", as_int("mfcc", "n_mfcc", self.n_mfcc, minimum=1))
        if self.n_mfcc > self.n_mels:
            raise self.fail("n_mfcc", f"n_mfcc must be <= n_mels={self.n_mels}")
        rate, low, high = _band("mfcc", self.sample_rate, self.f_min, self.f_max)
        self.set("sample_rate", rate)
        self.set("f_min", low)
        self.set("f_max", high)
        n_fft, hop = _frame_params("mfcc", self.n_fft, self.hop_length, self.window)
        self.set("n_fft", n_fft)
        self.set("hop_length", hop)
        as_choice("mfcc", "log_base", self.log_base, LOG_BASES)

    def infer(self, spec: TensorSpec) -> TensorSpec:
        _mono_input(self, spec)
        return TensorSpec("float32", None, (self.n_mfcc, None))


spectrogram = Spectrogram
mel_filterbank = MelFilterbank
mfcc = Mfcc

__all__ = ["spectrogram", "mel_filterbank", "mfcc"]
