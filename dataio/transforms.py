"""``dataio.transforms``: per-record ops after the decoder (docs/api.md §3.2).

Re-exports :mod:`dataio.ops.transforms`.
"""

from dataio.ops.transforms import *  # noqa: F403
from dataio.ops.transforms import __all__  # noqa: F401
