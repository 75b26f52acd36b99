"""``dataio.decoders``: the first op of every slot chain (docs/api.md §3.1). Re-exports :mod:`dataio.ops.decoders`."""

from dataio.ops.decoders import *  # noqa: F403
from dataio.ops.decoders import __all__  # noqa: F401
