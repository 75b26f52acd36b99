"""Kernels of ``dataio.batch_transforms``: array code on the batch's columns, in place where possible.

Written against the array module of the column (:func:`~dataio.runtime.arrays.namespace`):
numpy for the CPU fallback's host columns, cupy for the GPU executor's device columns, so
both executors run the same kernels and a device batch never makes a host round trip.
Random draws come from the batch's numpy generator on the host either way.

Signature: ``kernel(op, slots, content, specs, rng)`` where ``slots`` maps the op's slot
parameters to slot indices, ``content`` is the :class:`~dataio.runtime.batch.BatchColumns`
to rewrite, ``specs`` the slots' static descriptions and ``rng`` the batch generator.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dataio.ops import batch_transforms as B
from dataio.ops._base import TensorSpec, image_axes
from dataio.runtime.arrays import namespace
from dataio.runtime.batch import BatchColumns, Column


def _stacked(op: Any, param: str, column: Column, *, dtype: tuple[str, ...] = ("float32",)) -> Any:
    array = column.stacked
    if array is None:
        raise ValueError(f"{op.op_name}({param}={getattr(op, param)!r}): needs a stacked tensor slot; its rows "
                         "differ in shape or are missing (pad them first, e.g. with pad_to_longest)")
    if array.dtype.name not in dtype:
        raise ValueError(f"{op.op_name}({param}={getattr(op, param)!r}): needs {' or '.join(dtype)}; "
                         f"got {array.dtype}")
    return array


def _mix(array: Any, order: np.ndarray, lam: float) -> None:
    partner = array[namespace(array).asarray(order)]  # a copy: rows are read before any is overwritten
    array *= np.float32(lam)
    array += np.float32(1.0 - lam) * partner


def mixup_kernel(op: B.Mixup, slots: dict[str, int], content: BatchColumns, specs: list[TensorSpec],
                 rng: np.random.Generator) -> None:
    """``λ·x + (1 − λ)·x[perm]`` for the slot and the label slot, one ``λ`` per batch."""
    lam = float(rng.beta(op.alpha, op.alpha))
    order = rng.permutation(len(content.keys))
    _mix(_stacked(op, "slot", content.columns[slots["slot"]]), order, lam)
    if "label_slot" in slots:
        _mix(_stacked(op, "label_slot", content.columns[slots["label_slot"]]), order, lam)


def cutmix_kernel(op: B.Cutmix, slots: dict[str, int], content: BatchColumns, specs: list[TensorSpec],
                  rng: np.random.Generator) -> None:
    """Paste the partner's box; labels mixed by the kept area fraction."""
    images = _stacked(op, "slot", content.columns[slots["slot"]])
    ha, wa = (a + 1 for a in image_axes(specs[slots["slot"]]))  # +1: the batch axis comes first
    height, width = images.shape[ha], images.shape[wa]
    lam = float(rng.beta(op.alpha, op.alpha))
    order = rng.permutation(len(content.keys))
    cut = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * cut), int(width * cut)
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
    x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
    box = [slice(None)] * images.ndim
    box[ha], box[wa] = slice(y0, y1), slice(x0, x1)
    box_t = tuple(box)
    images[box_t] = images[namespace(images).asarray(order)][box_t]
    kept = 1.0 - (y1 - y0) * (x1 - x0) / (height * width)
    if "label_slot" in slots:
        _mix(_stacked(op, "label_slot", content.columns[slots["label_slot"]]), order, kept)


def pad_to_longest_kernel(op: B.PadToLongest, slots: dict[str, int], content: BatchColumns,
                          specs: list[TensorSpec], rng: np.random.Generator) -> None:
    """Stack rows by padding each dim at its end to the batch maximum (rounded up to the multiple).

    The padding mask (``True`` on real values) goes to ``batch.masks[slot]``.
    """
    column = content.columns[slots["slot"]]
    if column.stacked is not None or not column.rows:
        return
    rows = column.rows
    if any(r is None for r in rows):
        raise ValueError(f"pad_to_longest(slot={op.slot!r}): rows where the optional slot is inactive cannot be "
                         "padded")
    ranks = {r.ndim for r in rows}
    if len(ranks) != 1:
        raise ValueError(f"pad_to_longest(slot={op.slot!r}): rows have different ranks {sorted(ranks)}")
    target = [max(r.shape[d] for r in rows) for d in range(rows[0].ndim)]
    if op.pad_to_multiple_of is not None:
        m = op.pad_to_multiple_of
        target = [-(-t // m) * m for t in target]
    xp = namespace(rows[0])
    dtype = np.result_type(*(r.dtype for r in rows))
    out = xp.full((len(rows), *target), op.pad_value, dtype=dtype)
    mask = xp.zeros(out.shape, dtype=bool)
    for i, row in enumerate(rows):
        region = (i, *(slice(0, s) for s in row.shape))
        out[region] = row
        mask[region] = True
    column.stacked, column.rows = out, None
    content.masks[slots["slot"]] = mask


def batch_normalize_kernel(op: B.BatchNormalize, slots: dict[str, int], content: BatchColumns,
                           specs: list[TensorSpec], rng: np.random.Generator) -> None:
    """``(x − mean[c]) / std[c]`` in place; the channel axis is 1 for ``CHW`` rows, else the last."""
    array = _stacked(op, "slot", content.columns[slots["slot"]], dtype=("float32", "float64"))
    axis = 1 if specs[slots["slot"]].layout == "chw" else array.ndim - 1
    if array.shape[axis] != len(op.mean):
        raise ValueError(f"batch_normalize(slot={op.slot!r}): {len(op.mean)} mean/std values for "
                         f"{array.shape[axis]} channels")
    shape = [1] * array.ndim
    shape[axis] = len(op.mean)
    xp = namespace(array)
    array -= xp.asarray(np.asarray(op.mean, dtype=array.dtype).reshape(shape))
    array *= xp.asarray((1.0 / np.asarray(op.std, dtype=np.float64)).astype(array.dtype).reshape(shape))


def batch_shuffle_kernel(op: B.BatchShuffle, slots: dict[str, int], content: BatchColumns,
                         specs: list[TensorSpec], rng: np.random.Generator) -> None:
    """One permutation applied to every slot and to keys/indices/context."""
    order = rng.permutation(len(content.keys)).tolist()
    content.permute_rows(order, axis=op.batch_axis or 0)
