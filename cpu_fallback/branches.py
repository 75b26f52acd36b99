"""Kernels of the conditional ops: run one or more arms of transforms on one value.

Arms run through the same kernel table as the slot chain: :func:`conditional_kernels`
binds the four kernels to that table (``cpu_fallback/kernels.py`` passes its own), so
this module never imports the table. Randomness: ``sometimes``
draws one coin, ``choice`` one uniform value, ``some_of`` one permutation — always,
whatever the outcome — before any arm draws its own values.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from dataio.ops._base import TensorSpec
from dataio.ops.table import Kernel
from dataio.ops.branches import Arm, Choice, Select, SomeOf, Sometimes
from dataio.ops.draws import draw_coin
from dataio.runtime.chain import ChainContext
from dataio.runtime.records import lookup_field

from dataio.cpu_fallback.lazy_image import LazyImage

Table = Mapping[str, Kernel]


def run_arm(arm: Arm, value: Any, spec: TensorSpec, ctx: ChainContext, table: Table) -> Any:
    """Apply the ops of ``arm`` in order with their kernels in ``table``."""
    for transform in arm:
        value = table[transform.qualname].fn(transform, value, spec, ctx, None)
        spec = transform.infer(spec)
    return value


def sometimes_kernel(op: Sometimes, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any, *, table: Table) -> Any:
    """``body`` with probability ``prob``."""
    return run_arm(op.body, value, spec, ctx, table) if draw_coin(ctx.rng, op.prob) else value


def choice_kernel(op: Choice, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any, *, table: Table) -> Any:
    """One arm, by inverse-CDF on one uniform draw."""
    draw = ctx.rng.random()
    index = next(i for i, edge in enumerate(op.cumulative()) if draw < edge or edge == 1.0)
    return run_arm(op.arms[index], value, spec, ctx, table)


def some_of_kernel(op: SomeOf, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any, *, table: Table) -> Any:
    """``n`` distinct arms, applied in arm order."""
    picked = np.sort(ctx.rng.permutation(len(op.arms))[: op.n])
    for index in picked:
        value = run_arm(op.arms[int(index)], value, spec, ctx, table)
    return value


def _shape(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, LazyImage):
        return value.shape
    return tuple(value.shape) if isinstance(value, np.ndarray) else None


def select_kernel(op: Select, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any, *, table: Table) -> Any:
    """The arm of the first predicate that holds on the record (and the current tensor)."""
    record = ctx.record
    shape = _shape(value)
    for cond, arm in op.arms:
        if cond.holds(lambda field: lookup_field(record, field), shape):
            return run_arm(arm, value, spec, ctx, table)
    return run_arm(op.default, value, spec, ctx, table) if op.default is not None else value


def conditional_kernels(table: Table) -> dict[str, Kernel]:
    """The kernels of ``sometimes``, ``choice``, ``some_of`` and ``select``, running their arms through ``table``."""
    return {
        "transforms.sometimes": Kernel(partial(sometimes_kernel, table=table), "arm via this table (one coin)"),
        "transforms.choice": Kernel(partial(choice_kernel, table=table), "one arm via this table"),
        "transforms.some_of": Kernel(partial(some_of_kernel, table=table), "n arms via this table"),
        "transforms.select": Kernel(partial(select_kernel, table=table), "first matching arm via this table"),
    }
