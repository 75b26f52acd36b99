"""``dataio.batch_transforms``: per-batch ops (docs/api.md §3.3). Re-exports :mod:`dataio.ops.batch_transforms`."""

from dataio.ops.batch_transforms import *  # noqa: F403
from dataio.ops.batch_transforms import __all__  # noqa: F401
