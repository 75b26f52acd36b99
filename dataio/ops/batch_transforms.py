"""``dataio.batch_transforms``: ops applied to a whole collated batch, used as ``map(op)`` after the shape stage.

The ops of API.md §3.3 (``mixup``, ``cutmix``, ``pad_to_longest``, ``batch_normalize``,
``batch_shuffle``) are specified in the op-surface work that follows the core spine;
until then this namespace is empty and ``map(...)`` after the shape stage takes
Python callables.
"""

__all__: list[str] = []
