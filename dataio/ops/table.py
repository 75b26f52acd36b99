"""The op table: every op declared once, and the shape of what executors register against it.

An op's declaration is its class in :mod:`dataio.ops` — stable name (``qualname``),
validated parameters, what it does to the static description (``infer``), and its
``kind`` (decode / resample / window / flip / affine / batch / transform). Each executor
package registers, against that name and in one module of its own, what runs it:

- ``dataio/cpu_fallback/kernels.py``: a :class:`Kernel` per op (every op has one);
- ``dataio/gpu/nodes.py``: a graph node per op the DALI graph runs (others run on the
  CPU kernels inside the GPU executor);
- ``tests/parity_cases.py``: a parity case (chain and tolerance) per op with a graph node.

``plan.explain``, ``docs/ops.md``, the GPU graph builder and the coverage test
(``tests/test_op_table.py``) all read :data:`OPS` and those registrations; nothing is
filled in by importing a sibling module for its side effects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from dataio.ops import batch_transforms, decoders, transforms  # noqa: F401 - every op module (transforms imports the rest)
from dataio.ops._base import OP_REGISTRY, Op

OPS: Mapping[str, type[Op]] = MappingProxyType(dict(sorted(OP_REGISTRY.items())))
"""Every op by qualname (``namespace.op_name``), sorted: the one table."""

NAMESPACES = ("decoders", "transforms", "batch_transforms")


@dataclass(frozen=True, slots=True)
class Kernel:
    """One op's implementation in the CPU fallback.

    Attributes:
        fn: the callable.
        label: what ``explain`` and ``docs/ops.md`` print (library and function).
        requires: optional modules the kernel imports; checked when an executor is built (``run()``).
    """

    fn: Callable[..., Any]
    label: str
    requires: tuple[str, ...] = ()


def ops_in(namespace: str) -> list[type[Op]]:
    """The op classes of one namespace, sorted by name."""
    return [cls for qualname, cls in OPS.items() if qualname.startswith(namespace + ".")]
