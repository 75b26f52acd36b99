"""Optional dependencies: import on first need, fail with the extra to install.

dataio's core needs only numpy, Pillow and fsspec. Everything else (torch, pyarrow,
h5py, the store backends, the GPU stack) is imported here, lazily, so that
``import dataio`` stays light and a missing package is reported as
:class:`~dataio.BackendUnavailable` naming the ``pip install`` line that fixes it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from dataio._errors import BackendUnavailable

# module name -> (extra, pip distribution)
_EXTRAS: dict[str, tuple[str | None, str]] = {
    "torch": ("torch", "torch"),
    "jax": (None, "jax"),
    "pyarrow": ("parquet", "pyarrow"),
    "h5py": ("hdf5", "h5py"),
    "safetensors": ("safetensors", "safetensors"),
    "s3fs": ("s3", "s3fs"),
    "gcsfs": ("gcs", "gcsfs"),
    "adlfs": ("azure", "adlfs"),
    "huggingface_hub": ("hf", "huggingface_hub"),
    "aiohttp": ("http", "aiohttp"),
    "datasets": ("hf", "datasets"),
    "soundfile": ("audio", "soundfile"),
    "simplejpeg": ("fast", "simplejpeg"),
    "google_crc32c": ("tfrecord", "google-crc32c"),
    "nvidia.dali": ("cuda12", "nvidia-dali-cuda120"),
    "cvcuda": ("cuda12", "cvcuda-cu12"),
    "nvidia.nvimgcodec": ("cuda12", "nvidia-nvimgcodec-cu12"),
    "kvikio": ("cuda12", "kvikio-cu12"),
    "cupy": ("cuda12", "cupy-cuda12x"),
}


def install_hint(module: str) -> str:
    """The ``pip install`` line that provides ``module``."""
    extra, dist = _EXTRAS.get(module, (None, module.partition(".")[0]))  # jax.dlpack comes with jax
    if extra is None:
        return f"pip install {dist}"
    return f"pip install 'dataio-gpu[{extra}]' (or: pip install {dist})"


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature`` or raise :class:`BackendUnavailable`.

    Args:
        module: importable module name, e.g. ``"torch"``.
        feature: what needs it, used in the message, e.g. ``'output="torch"'``.

    Raises:
        BackendUnavailable: the module is not installed or fails to import.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(
            f"{feature} needs the '{module}' package, which is not importable ({exc}); "
            f"install it with: {install_hint(module)}"
        ) from exc
