"""safetensors files (docs/api.md §8): streaming sharded writes, zero-copy reads, sessions.

With ``device="cuda:N"`` (torch) local files are read straight into device memory through
kvikio (:mod:`dataio.gds`); other sources are read on the host and copied.

Writes stream each tensor's bytes straight into a :class:`~dataio.io.handles.Writer` (no
whole-shard buffer), so every file appears atomically, locally or on an object store;
sharded checkpoints use the Hugging Face layout (``model-00001-of-00003.safetensors`` plus
``model.safetensors.index.json``). Local reads map the file copy-on-write: arrays share the
page cache with no copy, stay writable, and never change the file. Remote reads fetch the
header, then only the byte ranges of the tensors asked for.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import struct
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from dataio._errors import DecodeError, DeviceUnavailable, PlanError
from dataio.formats import safetensors as layout
from dataio.io.resolve import locate

INDEX_FILENAME = "model.safetensors.index.json"
SHARD_PATTERN = "model-{idx:05d}-of-{total:05d}.safetensors"
_NUMPY_NAMES = {np.dtype(np.bool_): "BOOL", np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8",
                np.dtype(np.uint16): "U16", np.dtype(np.int16): "I16", np.dtype(np.uint32): "U32",
                np.dtype(np.int32): "I32", np.dtype(np.uint64): "U64", np.dtype(np.int64): "I64",
                np.dtype(np.float16): "F16", np.dtype(np.float32): "F32", np.dtype(np.float64): "F64",
                np.dtype(np.complex64): "C64"}
_TORCH_NAMES = {"bool": "BOOL", "uint8": "U8", "int8": "I8", "uint16": "U16", "int16": "I16", "uint32": "U32",
                "int32": "I32", "uint64": "U64", "int64": "I64", "float16": "F16", "bfloat16": "BF16",
                "float32": "F32", "float64": "F64", "complex64": "C64", "float8_e4m3fn": "F8_E4M3",
                "float8_e5m2": "F8_E5M2"}
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$")
_UNITS = {None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


# -- writing ------------------------------------------------------------------------------------------


def write_safetensors(uri: str | os.PathLike[str], tensors: Mapping[str, Any], *,
                      metadata: Mapping[str, Any] | None = None, atomic: bool = True, fsync: bool = False,
                      max_shard_size: str | int | None = None, filename_pattern: str = SHARD_PATTERN,
                      index_filename: str = INDEX_FILENAME) -> dict[str, Any] | None:
    """Write ``tensors`` as one safetensors file, or as shards plus an index (docs/api.md §8).

    Args:
        uri: the file; with ``max_shard_size``, the directory / prefix.
        tensors: name → numpy array or torch tensor (any device and strides; written C-contiguous).
        metadata: stored as strings in ``__metadata__`` (and in the index).
        atomic: each file appears whole or not at all.
        fsync: accepted for the contract; local commits always fsync.
        max_shard_size: bytes (int) or ``"<n>B|KB|MB|GB|KiB|MiB|GiB"``.

    Returns:
        ``None`` for one file; the index dict when sharded.

    Raises:
        ValueError: no tensors, a bad name, an unsupported dtype (naming the key), a bad size.
    """
    del fsync
    prepared = _prepare(tensors)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    target = os.fspath(uri)
    if max_shard_size is None:
        _write_file(target, prepared, meta, atomic)
        return None
    cap = _shard_size(max_shard_size)
    shards: list[list[tuple[str, str, list[int], np.ndarray]]] = [[]]
    size = 0
    for item in prepared:
        if shards[-1] and size + item[3].nbytes > cap:
            shards.append([])
            size = 0
        shards[-1].append(item)
        size += item[3].nbytes
    names = ["model.safetensors"] if len(shards) == 1 else [
        filename_pattern.format(idx=i + 1, total=len(shards)) for i in range(len(shards))]
    base = target.rstrip("/")
    weight_map: dict[str, str] = {}
    for name, shard in zip(names, shards, strict=True):
        _write_file(f"{base}/{name}", shard, meta, atomic)
        weight_map.update({key: name for key, _, _, _ in shard})
    index = {"metadata": {"total_size": sum(item[3].nbytes for item in prepared), **meta}, "weight_map": weight_map}
    from dataio.io.verbs import write

    write(f"{base}/{index_filename}", json.dumps(index, indent=2).encode(), atomic=atomic)
    return index


def _shard_size(value: str | int) -> int:
    if isinstance(value, bool):
        raise TypeError("write_safetensors(max_shard_size=...): an int or a size string, not bool")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if match is None:
            raise PlanError(f"write_safetensors(max_shard_size={value!r}): use bytes or '<n>B|KB|MB|GB|KiB|MiB|GiB'")
        size = int(match.group(1)) * _UNITS[match.group(2)]
    if size <= 0:
        raise PlanError(f"write_safetensors(max_shard_size={value!r}): must be > 0")
    return size


def _prepare(tensors: Mapping[str, Any]) -> list[tuple[str, str, list[int], np.ndarray]]:
    """``(name, dtype name, shape, little-endian C-contiguous bytes as a uint8 view)`` per tensor."""
    if not isinstance(tensors, Mapping) or not tensors:
        raise PlanError("write_safetensors(): tensors must be a non-empty dict of name -> tensor")
    out = []
    for name, value in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise PlanError(f"write_safetensors(): invalid tensor name {name!r}")
        dtype, array = _host_array(name, value)
        out.append((name, dtype, list(array.shape), np.ascontiguousarray(array).reshape(-1).view(np.uint8)))
    return out


def _host_array(name: str, value: Any) -> tuple[str, np.ndarray]:
    if type(value).__module__.partition(".")[0] == "torch":
        kind = str(value.dtype).removeprefix("torch.")
        if kind not in _TORCH_NAMES:
            raise PlanError(f"write_safetensors(): tensor {name!r} has unsupported dtype {kind}")
        host = value.detach().cpu().contiguous()
        if kind in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
            import torch

            host = host.view(torch.int16 if kind == "bfloat16" else torch.uint8)
        return _TORCH_NAMES[kind], host.numpy()
    if not isinstance(value, np.ndarray | np.generic):
        raise PlanError(f"write_safetensors(): tensor {name!r} is a {type(value).__name__}, not a numpy array or "
                        "torch tensor")
    array = np.asarray(value)
    native = array.dtype.newbyteorder("=") if array.dtype.byteorder not in ("=", "|") else array.dtype
    if native not in _NUMPY_NAMES:
        raise PlanError(f"write_safetensors(): tensor {name!r} has unsupported dtype {array.dtype}")
    return _NUMPY_NAMES[native], array.astype(native.newbyteorder("<"), copy=False)


def _write_file(uri: str, items: list[tuple[str, str, list[int], np.ndarray]], metadata: dict[str, str],
                atomic: bool) -> None:
    from dataio.io.handles import Writer

    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, dtype, shape, data in items:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + data.nbytes]}
        offset += data.nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the tensor data starts 8-byte aligned, as the safetensors package does
    with Writer(uri, atomic=atomic, mkdir_parents=True) as writer:
        writer.write(struct.pack("<Q", len(encoded)) + encoded)
        for _, _, _, data in items:
            writer.write(data.data)  # the array's own buffer (C-contiguous), no copy


# -- reading ------------------------------------------------------------------------------------------


class _Source:
    """One safetensors file: its header and a way to get tensor bytes."""

    def __init__(self, label: str, header: dict[str, Any], data_offset: int, buffer: Any = None,
                 uri: str | None = None, local: bool = False) -> None:
        self.label, self.header, self.data_offset, self.buffer, self.uri = label, header, data_offset, buffer, uri
        self.local = local  # a local file (``uri`` is its path): device reads go through kvikio

    def names(self) -> list[str]:
        entries = [(n, e) for n, e in self.header.items() if n != "__metadata__"]
        return [n for n, _ in sorted(entries, key=lambda item: item[1]["data_offsets"][0])]

    def array(self, key: str) -> np.ndarray:
        if self.buffer is not None:
            return layout.tensor(self.buffer, self.header, self.data_offset, key, self.label)
        from dataio.io.verbs import read

        entry = self.header.get(key) if key != "__metadata__" else None
        if entry is None:
            return layout.tensor(b"", self.header, 0, key, self.label)  # raises the KeyError naming the file
        start, end = entry["data_offsets"]
        data = read(self.uri, offset=self.data_offset + start, size=end - start)  # type: ignore[arg-type]
        dtype = layout.DTYPES[entry["dtype"]]
        return np.frombuffer(bytearray(data), dtype=dtype).reshape(entry["shape"])


def _open_source(src: Any) -> _Source:
    if isinstance(src, (bytes, bytearray, memoryview)):
        header, offset = layout.parse_header(src)
        return _Source("<bytes>", header, offset, buffer=src)
    if hasattr(src, "read") and not isinstance(src, (str, os.PathLike)):
        data = src.read()
        header, offset = layout.parse_header(data)
        return _Source(getattr(src, "name", "<file object>"), header, offset, buffer=data)
    path = os.fspath(src)
    location = locate(path)
    if location.is_local:
        with open(location.path, "rb") as f:
            try:
                mapped: Any = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
            except ValueError:  # an empty file cannot be mapped
                mapped = b""
        header, offset = layout.parse_header(mapped, path)
        return _Source(path, header, offset, buffer=mapped, uri=location.path, local=True)
    from dataio.io.verbs import read

    head = read(path, offset=0, size=8)
    if len(head) < 8:
        raise DecodeError(f"{path}: {len(head)} bytes is too short for a safetensors header", path)
    (length,) = struct.unpack("<Q", head)
    if length > layout.MAX_HEADER_BYTES:
        raise DecodeError(f"{path}: header length {length} is implausible", path)
    from dataio.io.verbs import head as head_info

    size = head_info(path).content_length or 0
    header, offset = layout.parse_header(head + read(path, offset=8, size=length), path, total_size=size)
    return _Source(path, header, offset, uri=path)


def _files(src: Any) -> list[Any]:
    """The files a source names: itself, an index's shards, a directory's one file, or a list."""
    if isinstance(src, (list, tuple)):
        return [f for item in src for f in _files(item)]
    if not isinstance(src, (str, os.PathLike)):
        return [src]
    path = os.fspath(src)
    if path.endswith(".json"):
        return _from_index(path)
    from dataio.io.verbs import exists, glob

    location = locate(path)
    is_dir = os.path.isdir(path) if location.is_local else not path.endswith(".safetensors")
    if not is_dir:
        return [path]
    base = path.rstrip("/")
    index = f"{base}/{INDEX_FILENAME}"
    if exists(index):
        return _from_index(index)
    indexes = glob(f"{base}/*.index.json")
    if len(indexes) == 1:
        return _from_index(indexes[0])
    found = glob(f"{base}/*.safetensors")
    if not found:
        raise FileNotFoundError(f"{path}: no safetensors file or index here")
    if len(found) > 1:
        raise PlanError(f"{path}: {len(found)} safetensors files and no index; pass the files or an index")
    return found


def _from_index(path: str) -> list[str]:
    from dataio.io.verbs import read

    index = read(path, format="json")
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise DecodeError(f"{path}: not a safetensors index (no weight_map)", path)
    base = path.rsplit("/", 1)[0] if "/" in path else "."
    return [f"{base}/{name}" for name in dict.fromkeys(weight_map.values())]


def _select(names: list[str], keys: Any, label: str) -> list[str]:
    if keys is None:
        return names
    if callable(keys):
        return [n for n in names if keys(n)]
    wanted = [keys] if isinstance(keys, str) else list(keys)
    missing = [k for k in wanted if k not in names]
    if missing:
        raise KeyError(f"{label}: no tensor(s) {', '.join(map(repr, missing))}")
    return wanted


def _convert(array: np.ndarray, dtype_name: str, framework: str, device: str | None) -> Any:
    if framework == "numpy":
        return array
    import torch

    tensor = torch.from_numpy(array) if array.flags.writeable else torch.from_numpy(array.copy())
    if dtype_name == "BF16":
        tensor = tensor.view(torch.bfloat16)
    elif dtype_name in ("F8_E4M3", "F8_E5M2"):
        tensor = tensor.view(torch.float8_e4m3fn if dtype_name == "F8_E4M3" else torch.float8_e5m2)
    if device not in (None, "cpu"):
        tensor = tensor.to(device)
    return tensor


_TORCH_DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16", "U32": "uint32",
                 "I32": "int32", "U64": "uint64", "I64": "int64", "F16": "float16", "BF16": "bfloat16",
                 "F32": "float32", "F64": "float64", "C64": "complex64", "F8_E4M3": "float8_e4m3fn",
                 "F8_E5M2": "float8_e5m2"}


def _device_tensors(source: _Source, names: list[str], device: str) -> dict[str, Any]:
    """Tensors of a local file read straight to ``device`` (:func:`dataio.gds.read_to_device`)."""
    import torch

    from dataio.gds import read_to_device

    entries = [source.header[name] for name in names]
    spans = [(source.data_offset + e["data_offsets"][0], source.data_offset + e["data_offsets"][1]) for e in entries]
    out = {}
    for name, entry, raw in zip(names, entries, read_to_device(str(source.uri), spans, device), strict=True):
        dtype = getattr(torch, _TORCH_DTYPES[entry["dtype"]])
        try:
            tensor = raw.view(dtype)
        except RuntimeError:  # a span not aligned to the element size: realign with one device copy
            tensor = raw.clone().view(dtype)
        out[name] = tensor.reshape(entry["shape"])
    return out


def _check_framework(framework: str, device: str | None) -> None:
    if framework not in ("numpy", "torch"):
        raise PlanError(f"framework={framework!r}: 'numpy' or 'torch'")
    if device in (None, "cpu"):
        return
    if framework == "numpy":
        raise PlanError(f"device={device!r}: device tensors need framework='torch'")
    if not isinstance(device, str) or not re.fullmatch(r"cuda(:\d+)?", device):
        raise PlanError(f"device={device!r}: None, 'cpu' or 'cuda[:N]'")
    import torch

    if not torch.cuda.is_available():
        raise DeviceUnavailable(f"device={device!r}: CUDA is not available to torch on this machine")


def read_safetensors(src: Any, *, key: str | None = None, keys: Any = None, framework: str = "numpy",
                     device: str | None = None) -> Any:
    """Tensors of a safetensors source (docs/api.md §8): a file, directory/prefix, index, list, bytes or file object.

    Returns:
        ``dict[name, tensor]`` in stored order, or one tensor with ``key=``.
    """
    _check_framework(framework, device)
    if key is not None and keys is not None:
        raise PlanError("read_safetensors(): give key= or keys=, not both")
    files = _files(src)
    if key is not None and len(files) != 1:
        raise PlanError("read_safetensors(key=...): needs a single-file source; use keys= for sharded checkpoints")
    sources = [_open_source(f) for f in files]
    available = [n for s in sources for n in s.names()]
    if len(available) != len(set(available)):
        duplicate = next(n for n in available if available.count(n) > 1)
        raise PlanError(f"read_safetensors(): tensor {duplicate!r} appears in more than one file")
    out = _tensors(sources, set(_select(available, [key] if key is not None else keys, str(src))), framework,
                   device)
    return out[key] if key is not None else out


def _tensors(sources: list[_Source], selected: set[str], framework: str, device: str | None) -> dict[str, Any]:
    """The selected tensors in stored order: local files straight to a device, the rest on the host."""
    out: dict[str, Any] = {}
    for source in sources:
        wanted = [name for name in source.names() if name in selected]
        if device not in (None, "cpu") and source.local:
            out.update(_device_tensors(source, wanted, device))  # type: ignore[arg-type]
            continue
        for name in wanted:
            out[name] = _convert(source.array(name), source.header[name]["dtype"], framework, device)
    return out


class SafetensorsSession:
    """One parsed safetensors source; reads tensors on demand (docs/api.md §8 ``open_safetensors``)."""

    def __init__(self, src: Any, *, device: str | None = None) -> None:
        self._device = device
        self._sources = [_open_source(f) for f in _files(src)]
        self._label = str(src)
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise PlanError(f"open_safetensors({self._label!r}): the session is closed")

    def keys(self) -> list[str]:
        """Tensor names, shard by shard."""
        self._check_open()
        return [n for s in self._sources for n in s.names()]

    @property
    def header(self) -> dict[str, Any]:
        """The raw header (with ``__metadata__``) of the first file."""
        self._check_open()
        return dict(self._sources[0].header)

    @property
    def metadata(self) -> dict[str, str]:
        """The ``__metadata__`` strings of the header (``{}`` without any)."""
        self._check_open()
        return dict(self._sources[0].header.get("__metadata__") or {})

    def read(self, *, key: str | None = None, keys: Any = None, framework: str = "numpy") -> Any:
        """One tensor (``key``), several (``keys``) or all, as ``framework`` arrays (see ``read_safetensors``)."""
        self._check_open()
        _check_framework(framework, self._device)
        if key is not None and keys is not None:
            raise PlanError("read(): give key= or keys=, not both")
        out = _tensors(self._sources, set(_select(self.keys(), [key] if key is not None else keys, self._label)),
                       framework, self._device)
        return out[key] if key is not None else out

    def read_slice(self, key: str, start: int, end: int, *, framework: str = "numpy") -> Any:
        """Rows ``[start, end)`` of axis 0 of ``key``."""
        self._check_open()
        source = next((s for s in self._sources if key in s.header and key != "__metadata__"), None)
        if source is None:
            raise KeyError(f"{self._label}: no tensor {key!r}")
        return _convert(source.array(key)[start:end], source.header[key]["dtype"], framework, self._device)

    def close(self) -> None:
        """Release the mapped files (idempotent)."""
        if not self.closed:
            self.closed = True
            self._sources = []

    def __enter__(self) -> SafetensorsSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Iterable[str]:
        return iter(self.keys())

    def __contains__(self, name: object) -> bool:
        return name in self.keys()


def open_safetensors(src: Any, *, device: str | None = None) -> SafetensorsSession:
    """A :class:`SafetensorsSession` over ``src`` (the header is parsed once)."""
    return SafetensorsSession(src, device=device)

