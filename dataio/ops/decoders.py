"""Decoders: the first op of every slot chain (docs/api.md §3.1).

Each factory is a frozen op class; calling it validates the parameters::

    dataio.decoders.image(mode="rgb", normalize="none", layout="hwc")
"""

from __future__ import annotations

import builtins

import numpy as np

from dataio._validate import as_bool, as_choice, as_int
from dataio.ops._base import OBJECT, Decoder, TensorSpec, op
from dataio.ops.cond import Param
from dataio.ops.transforms import ChannelAffine, SymmetricChw, UnitChw

IMAGE_MODES = {"rgb": 3, "rgba": 4, "gray": 1, "grayscale": 1, "luma": 1}
IMAGE_NORMALIZE = ("none", "unit", "symmetric")
IMAGE_BACKENDS = ("auto", "nvjpeg")
_VALUE_AFFINES: dict[str, ChannelAffine] = {"unit": UnitChw(), "symmetric": SymmetricChw()}
TEXT_ENCODINGS = ("utf-8", "utf-8-lossy")


@op("image")
class ImageDecoder(Decoder):
    """Decode an image (JPEG/PNG/WebP/BMP/PNM/TGA/GIF/ICO/QOI/TIFF) into a tensor.

    EXIF orientation is applied. Palette, CMYK, 16-bit and alpha sources are converted to
    ``mode``. The CPU fallback decodes with Pillow, or for plain JPEGs with dataio's libjpeg
    extension (only the region later ops read) or simplejpeg when available (identical
    pixels); the GPU executor with nvImageCodec.

    Args:
        mode: ``"rgb"`` (3 channels), ``"rgba"`` (4) or ``"gray"``/``"grayscale"``/``"luma"`` (1).
        normalize: ``"none"`` (uint8), ``"unit"`` (float32 in [0, 1]) or ``"symmetric"``
            (float32 in [-1, 1]).
        layout: ``"chw"`` or ``"hwc"``.
        allow_alpha: with ``mode="rgb"``, keep a source alpha channel (4 channels).
        max_pixels: refuse images with more pixels (0 disables).
        max_decoded_bytes: refuse images whose decoded size is larger (0 disables).
        max_width: refuse wider images (0 disables).
        max_height: refuse taller images (0 disables).
        backend: ``"auto"`` (the executor's decoder) or ``"nvjpeg"`` (GPU only).
        fill_color: ``(r, g, b)`` to composite a transparent source over; only with ``"rgb"``.
    """

    mode: str = "rgb"
    normalize: str = "symmetric"
    layout: str = "chw"
    allow_alpha: bool = False
    max_pixels: int = 134_217_728
    max_decoded_bytes: int = 536_870_912
    max_width: int = 0
    max_height: int = 0
    backend: str = "auto"
    fill_color: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        as_choice("image", "mode", self.mode, IMAGE_MODES)
        as_choice("image", "normalize", self.normalize, IMAGE_NORMALIZE)
        as_choice("image", "layout", self.layout, ("chw", "hwc"))
        as_bool("image", "allow_alpha", self.allow_alpha)
        for cap in ("max_pixels", "max_decoded_bytes", "max_width", "max_height"):
            self.set(cap, as_int("image", cap, getattr(self, cap), minimum=0))
        as_choice("image", "backend", self.backend, IMAGE_BACKENDS)
        if self.allow_alpha and self.mode != "rgb":
            raise self.fail("allow_alpha", f"allow_alpha=True needs mode='rgb'; got mode={self.mode!r}")
        if self.fill_color is not None:
            self.set("fill_color", _rgb_triplet(self.fill_color))
            if self.mode != "rgb" or self.allow_alpha:
                raise self.fail("fill_color", "fill_color needs mode='rgb' and allow_alpha=False")

    @property
    def channels(self) -> int | None:
        """Output channel count; ``None`` when it depends on the source (``allow_alpha``)."""
        return None if self.allow_alpha else IMAGE_MODES[self.mode]

    def value_affine(self) -> ChannelAffine | None:
        """The ``normalize`` option as the channel affine both executors apply (``None`` for ``"none"``)."""
        return _VALUE_AFFINES.get(self.normalize)

    def cap_violation(self, height: int, width: int, channels: int) -> str | None:
        """Which cap an image of this size exceeds (a message), or ``None``; checked from the header."""
        pixels = width * height
        if self.max_width and width > self.max_width:
            return f"width {width} exceeds max_width={self.max_width}"
        if self.max_height and height > self.max_height:
            return f"height {height} exceeds max_height={self.max_height}"
        if self.max_pixels and pixels > self.max_pixels:
            return f"{width}x{height} = {pixels} pixels exceeds max_pixels={self.max_pixels}"
        if self.max_decoded_bytes and pixels * channels > self.max_decoded_bytes:
            return f"{pixels * channels} decoded bytes exceeds max_decoded_bytes={self.max_decoded_bytes}"
        return None

    def output_spec(self) -> TensorSpec:
        dtype = "uint8" if self.normalize == "none" else "float32"
        c = self.channels
        shape = (None, None, c) if self.layout == "hwc" else (c, None, None)
        return TensorSpec(dtype=dtype, layout=self.layout, shape=shape)


def _rgb_triplet(value: object) -> tuple[int, int, int]:
    if isinstance(value, (str, builtins.bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"image(fill_color={value!r}): fill_color must be an (r, g, b) tuple")
    parts = tuple(as_int("image", "fill_color", v, minimum=0) for v in value)  # type: ignore[union-attr]
    if len(parts) != 3 or any(p > 255 for p in parts):
        raise ValueError(f"image(fill_color={value!r}): fill_color must be 3 ints in [0, 255]")
    return parts  # type: ignore[return-value]


@op("bytes")
class BytesDecoder(Decoder):
    """The raw payload as a ``[N] uint8`` tensor."""

    def output_spec(self) -> TensorSpec:
        return TensorSpec(dtype="uint8", shape=(None,))


@op("text")
class TextDecoder(Decoder):
    """Text as ``[N] uint8`` UTF-8 bytes, or a ``str`` object with ``as_object=True``.

    Args:
        encoding: ``"utf-8"`` (invalid bytes are a row error) or ``"utf-8-lossy"``
            (invalid bytes become U+FFFD).
        strip_bom: drop a leading UTF-8 byte-order mark.
        as_object: return a Python ``str`` per row instead of a tensor.
    """

    encoding: str = "utf-8"
    strip_bom: bool = True
    as_object: bool = False

    def __post_init__(self) -> None:
        as_choice("text", "encoding", self.encoding, TEXT_ENCODINGS)
        as_bool("text", "strip_bom", self.strip_bom)
        as_bool("text", "as_object", self.as_object)

    def output_spec(self) -> TensorSpec:
        return OBJECT if self.as_object else TensorSpec(dtype="uint8", shape=(None,))


@op("json")
class JsonDecoder(Decoder):
    """One JSON document: its UTF-8 text as ``[N] uint8``, a projected field, or the parsed value.

    Args:
        field: project this top-level field, which must hold a string (else a row error).
        encoding: ``"utf-8"`` or ``"utf-8-lossy"``.
        strip_bom: drop a leading UTF-8 byte-order mark.
        as_object: return the parsed Python value (or the field's value) per row.
    """

    field: str | None = None
    encoding: str = "utf-8"
    strip_bom: bool = True
    as_object: bool = False

    def __post_init__(self) -> None:
        if self.field is not None and (not isinstance(self.field, str) or not self.field):
            raise TypeError(f"json(field={self.field!r}): field must be a non-empty str or None")
        as_choice("json", "encoding", self.encoding, TEXT_ENCODINGS)
        as_bool("json", "strip_bom", self.strip_bom)
        as_bool("json", "as_object", self.as_object)

    def output_spec(self) -> TensorSpec:
        return OBJECT if self.as_object else TensorSpec(dtype="uint8", shape=(None,))


@op("npy")
class NpyDecoder(Decoder):
    """A ``.npy`` array with the file's shape and numeric dtype (object/pickled → row error)."""

    def output_spec(self) -> TensorSpec:
        return TensorSpec(dtype=None)


def _tensor_key(func: str, value: object) -> str | Param:
    if isinstance(value, Param):
        return value
    if not isinstance(value, str) or not value:
        raise TypeError(f"{func}(tensor_key={value!r}): tensor_key must be a non-empty str or col(...)")
    return value


@op("safetensors")
class SafetensorsDecoder(Decoder):
    """One tensor of a safetensors payload, viewed without a copy (``BF16`` as ``int16`` bits).

    Args:
        tensor_key: the tensor's name, or ``col(field)`` to read it per record (missing → row error).
    """

    tensor_key: str | Param

    def __post_init__(self) -> None:
        self.set("tensor_key", _tensor_key("safetensors", self.tensor_key))

    def output_spec(self) -> TensorSpec:
        return TensorSpec(dtype=None)


@op("pt")
class PtDecoder(Decoder):
    """One tensor of a torch ``.pt``/``.pth`` checkpoint, loaded with ``torch.load(weights_only=True)``.

    The restricted unpickler never executes code from the payload; a non-contiguous tensor
    is a row error. Needs torch (``pip install 'dataio-gpu[torch]'``).

    Args:
        tensor_key: the entry's name in the saved dict, or ``col(field)``.
    """

    tensor_key: str | Param

    def __post_init__(self) -> None:
        self.set("tensor_key", _tensor_key("pt", self.tensor_key))

    def output_spec(self) -> TensorSpec:
        return TensorSpec(dtype=None)


@op("passthrough")
class PassthroughDecoder(Decoder):
    """The slot's Python value (or ``value[field]``), carried unchanged as an object slot.

    No bytes are read; rows come back as a ``list`` and are excluded from ``batch.tensors``.

    Args:
        field: take this key/attribute of the value instead of the value itself.
    """

    takes_payload = False
    field: str | None = None

    def __post_init__(self) -> None:
        if self.field is not None and (not isinstance(self.field, str) or not self.field):
            raise TypeError(f"passthrough(field={self.field!r}): field must be a non-empty str or None")

    def output_spec(self) -> TensorSpec:
        return OBJECT


SCALAR_DTYPES = ("int64", "int32", "int16", "int8", "uint8", "float32", "float64", "bool")


@op("scalar")
class ScalarDecoder(Decoder):
    """One number per row, as a typed tensor ``[B]`` once batched: an int, float or bool in the record, or
    text (a webdataset ``.cls``/``.idx`` member, a ``str``) holding one.

    Values convert exactly or fail their row: an int out of the dtype's range, a fraction to an
    integer dtype, anything but 0/1 (or ``true``/``false`` text) to ``bool``, text that is not one
    number (surrounding whitespace is ignored).

    Args:
        dtype: ``"int64"`` (default: class labels), ``"int32"``, ``"int16"``, ``"int8"``, ``"uint8"``,
            ``"float32"``, ``"float64"`` or ``"bool"``.
    """

    value_types = (bool, int, float, str, np.generic)
    dtype: str = "int64"

    def __post_init__(self) -> None:
        as_choice("scalar", "dtype", self.dtype, SCALAR_DTYPES)

    def output_spec(self) -> TensorSpec:
        return TensorSpec(dtype=self.dtype, shape=())


AUDIO_RESAMPLING = ("linear", "sinc")


@op("audio")
class AudioDecoder(Decoder):
    """WAV/FLAC/Ogg-Vorbis/MP3 → ``[channels, samples] float32`` in [−1, 1] (through libsndfile).

    Args:
        sample_rate: resample to this rate (Hz); ``None`` keeps the file's rate.
        mono: average the channels first (output ``[1, samples]``).
        resampling: ``"linear"`` or ``"sinc"`` (Hann-windowed sinc, anti-aliased when downsampling).
        max_decoded_bytes: refuse audio whose decoded float32 size is larger (0 disables).
    """

    sample_rate: int | None = None
    mono: bool = False
    resampling: str = "linear"
    max_decoded_bytes: int = 2**31

    def __post_init__(self) -> None:
        if self.sample_rate is not None:
            self.set("sample_rate", as_int("audio", "sample_rate", self.sample_rate, minimum=1))
        as_bool("audio", "mono", self.mono)
        as_choice("audio", "resampling", self.resampling, AUDIO_RESAMPLING)
        self.set("max_decoded_bytes", as_int("audio", "max_decoded_bytes", self.max_decoded_bytes, minimum=0))

    def output_spec(self) -> TensorSpec:
        return TensorSpec(dtype="float32", shape=(1 if self.mono else None, None))


image = ImageDecoder
bytes = BytesDecoder  # noqa: A001 - the contract's name (docs/api.md §3.1)
text = TextDecoder
json = JsonDecoder
npy = NpyDecoder
safetensors = SafetensorsDecoder
pt = PtDecoder
passthrough = PassthroughDecoder
scalar = ScalarDecoder
audio = AudioDecoder

__all__ = ["image", "bytes", "text", "json", "npy", "safetensors", "pt", "passthrough", "scalar", "audio",
           "AudioDecoder", "ImageDecoder", "BytesDecoder", "TextDecoder", "JsonDecoder", "NpyDecoder",
           "SafetensorsDecoder", "PtDecoder", "PassthroughDecoder", "ScalarDecoder"]
