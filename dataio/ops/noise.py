"""The noise of ``gaussian_noise``, shared by every executor: a counter-based standard normal per element.

A record's noise must not depend on which executor runs it, nor on the batch it lands in
(docs/api.md §4.7), and a GPU graph cannot draw from the record's numpy generator. So the op
draws one 32-bit *key* from the record's generator (:func:`draw_noise_key`: one draw, whatever
the tensor's size) and every element's normal is a pure function of the key and the element's
index in C order (:func:`standard_normals`): two 32-bit hashes of the index pair, turned into
uniforms, then Box–Muller in float32. The arithmetic is written once, against a small
:class:`Arithmetic` of the operations it needs, and runs on numpy arrays (the CPU kernel) and
on DALI graph nodes (the GPU node) alike; the integer part is exact on both, the float part
differs only in the last bits of ``log``/``cos`` between numpy and DALI.

The hash is Chris Wellons' ``lowbias32`` (two multiply–xorshift rounds, low bias on all bits, a
bijection): the counter is xor-ed with the hashed key before it is hashed, so nearby indices
and nearby keys give unrelated values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

import numpy as np

LOWBIAS32 = ((16, 0x7FEB352D), (15, 0x846CA68B), (16, None))
"""``lowbias32``: per round, ``x ^= x >> shift`` then, but for the last, ``x *= multiplier`` (mod 2**32)."""
UNIFORM_BITS = 24
"""Bits of each hash a uniform keeps (a float32 holds them exactly)."""
TWO_PI = 2.0 * math.pi


@dataclass(frozen=True)
class Arithmetic:
    """The operations :func:`standard_normals` needs, for one kind of array.

    Attributes:
        u32: a Python int as an unsigned 32-bit constant.
        f32: a Python float as a float32 constant (constants stand right of an array: a numpy scalar on the
            left of a DALI node would try to make it an array).
        to_float: an unsigned 32-bit array as float32.
        log, sqrt, cos: float32 elementwise functions.
    """

    u32: Callable[[int], Any]
    f32: Callable[[float], Any]
    to_float: Callable[[Any], Any]
    log: Callable[[Any], Any]
    sqrt: Callable[[Any], Any]
    cos: Callable[[Any], Any]


NUMPY = Arithmetic(np.uint32, np.float32, lambda x: x.astype(np.float32), np.log, np.sqrt, np.cos)
"""The CPU kernel's arithmetic."""


def draw_noise_key(rng: np.random.Generator) -> int:
    """The record's noise key: one draw from its generator, in ``[0, 2**32)``."""
    return int(rng.integers(0, 2**32))


def key_halves(key: int) -> tuple[float, float]:
    """``key`` as two 16-bit halves (high, low), each exact in a float32 (how the graph receives it)."""
    return float(key >> 16), float(key & 0xFFFF)


def _hash(x: Any, ops: Arithmetic) -> Any:
    for shift, multiplier in LOWBIAS32:
        x = x ^ (x >> ops.u32(shift))
        if multiplier is not None:
            x = x * ops.u32(multiplier)
    return x


def standard_normals(index: Any, key: Any, ops: Arithmetic) -> Any:
    """A standard normal (float32) for each element, from its C-order ``index`` (unsigned 32-bit, below 2**31) and
    the record's ``key`` (unsigned 32-bit; with numpy a one-element array, which wraps without numpy's scalar
    overflow warning).

    Element ``i`` hashes counters ``2i`` and ``2i + 1``, each xor-ed with the hashed key, into two
    24-bit uniforms, ``u1`` in (0, 1] and ``u2`` in [0, 1), and returns ``sqrt(−2 ln u1) · cos(2π u2)``.
    """
    mask = _hash(key, ops)  # one per record: the elements' two hashes each are all the per-element work
    counter = index * ops.u32(2)
    first = _hash(counter ^ mask, ops)
    second = _hash((counter + ops.u32(1)) ^ mask, ops)
    drop, scale = ops.u32(32 - UNIFORM_BITS), ops.f32(2.0 ** -UNIFORM_BITS)
    u1 = ops.to_float((first >> drop) + ops.u32(1)) * scale
    u2 = ops.to_float(second >> drop) * scale
    return ops.sqrt(ops.log(u1) * ops.f32(-2.0)) * ops.cos(u2 * ops.f32(TWO_PI))
