"""``dataio.cond``: record-field references and predicates (docs/api.md §3.4)."""

from dataio.ops.cond import Cond, Param, col, const, ndim, not_, shape
from dataio.ops.cond import all_ as all  # noqa: A004 - the contract's names
from dataio.ops.cond import any_ as any  # noqa: A004

__all__ = ["col", "shape", "ndim", "all", "any", "not_", "const", "Cond", "Param"]
