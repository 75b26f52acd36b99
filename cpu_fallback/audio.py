"""``decoders.audio`` on the CPU: libsndfile (via soundfile) decode, channel mixing, resampling.

Resampling is numpy: ``"linear"`` interpolates between neighbouring samples;
``"sinc"`` convolves with a Hann-windowed sinc of 16 zero crossings per side whose
cut-off follows the lower of the two rates (anti-aliasing when downsampling). Stated
accuracy on a band-limited test tone: linear within 2e-2, sinc within 5e-3 of the
analytic signal (tested).
"""

from __future__ import annotations

import io
import numpy as np

from dataio._deps import require
from dataio.ops.decoders import AudioDecoder
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure

SINC_ZERO_CROSSINGS = 16
_BLOCK = 65_536  # output samples per vectorised sinc block (bounds the temporary index matrix)


def audio_decoder(op: AudioDecoder, data: bytes | memoryview, ctx: ChainContext) -> np.ndarray:
    """Decode to ``[channels, samples] float32``, then mix down and resample as asked."""
    soundfile = require("soundfile", "decoders.audio")
    label = ctx.label
    try:
        with soundfile.SoundFile(io.BytesIO(bytes(data))) as f:
            frames, channels, rate = f.frames, f.channels, f.samplerate
            decoded = frames * channels * 4
            if op.max_decoded_bytes and decoded > op.max_decoded_bytes:
                raise RowFailure("decode", op.qualname,
                                 f"{label}: {decoded} decoded bytes exceeds max_decoded_bytes={op.max_decoded_bytes}")
            samples = f.read(dtype="float32", always_2d=True)
    except RowFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - libsndfile reports every bad payload as RuntimeError/LibsndfileError
        raise RowFailure("decode", op.qualname, f"{label}: not decodable audio: {exc}") from None
    signal = samples.T
    if op.mono and signal.shape[0] > 1:
        signal = signal.mean(axis=0, keepdims=True, dtype=np.float32)
    if op.sample_rate is not None and op.sample_rate != rate:
        signal = resample(signal, rate, op.sample_rate, op.resampling)
    return np.ascontiguousarray(signal, dtype=np.float32)


def resample(signal: np.ndarray, rate_in: int, rate_out: int, method: str) -> np.ndarray:
    """``[channels, samples]`` from ``rate_in`` to ``rate_out`` Hz."""
    n_in = signal.shape[1]
    n_out = max(1, int(round(n_in * rate_out / rate_in))) if n_in else 0
    positions = np.arange(n_out, dtype=np.float64) * (rate_in / rate_out)
    if method == "linear" or n_in < 2:
        grid = np.arange(n_in, dtype=np.float64)
        return np.stack([np.interp(positions, grid, channel) for channel in signal]).astype(np.float32)
    return _sinc(signal, positions, min(1.0, rate_out / rate_in))


def _sinc(signal: np.ndarray, positions: np.ndarray, cutoff: float) -> np.ndarray:
    half = int(np.ceil(SINC_ZERO_CROSSINGS / cutoff))
    offsets = np.arange(-half + 1, half + 1)
    n_in = signal.shape[1]
    padded = np.pad(signal.astype(np.float64), ((0, 0), (half, half)))
    out = np.empty((signal.shape[0], positions.size), dtype=np.float32)
    for start in range(0, positions.size, _BLOCK):
        pos = positions[start:start + _BLOCK]
        base = np.floor(pos).astype(np.int64)
        taps = base[:, None] + offsets[None, :]  # [block, 2·half] input indices
        distance = pos[:, None] - taps
        window = 0.5 + 0.5 * np.cos(np.pi * np.clip(distance / half, -1.0, 1.0))
        weights = cutoff * np.sinc(cutoff * distance) * window
        index = np.clip(taps, -half, n_in + half - 1) + half
        out[:, start:start + pos.size] = np.einsum("cbt,bt->cb", padded[:, index], weights)
    return out
