"""Random draws of the ops, shared by every executor: one function per kind of draw, one order.

Each draw takes the record's generator (``ChainContext.rng``) and consumes a fixed number
of values whether or not the op fires, so one op's outcome never shifts another's. The CPU
kernels call these while they run; the GPU executor calls the same functions on the host,
in chain order, and feeds the results to its graph as per-sample arguments — so both
executors fire the same ops on the same records.
"""

from __future__ import annotations

import numpy as np


def draw_coin(rng: np.random.Generator, prob: float) -> bool:
    """Whether an op with probability ``prob`` fires: one uniform draw, taken whether it fires or not."""
    return bool(rng.random() < prob)


def draw_offset(rng: np.random.Generator, size: int, window: int) -> int:
    """A uniformly placed window start in ``[0, size - window]`` (one draw; ``window <= size``)."""
    return int(rng.integers(0, size - window + 1))
