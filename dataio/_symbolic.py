"""``Symbolic``: the base of pipeline descriptions, which refuse to act as values (DALI's DataNode rule)."""

from __future__ import annotations

from typing import Any


class Symbolic:
    """Mixin: a description has no truth value and cannot be iterated; both raise a ``TypeError`` saying why."""

    __slots__ = ()

    def __bool__(self) -> bool:
        raise TypeError(
            f"{type(self).__name__} is a pipeline description, not data: it has no truth value. "
            "Bind records and iterate the loader to get values."
        )

    def __iter__(self) -> Any:
        raise TypeError(
            f"{type(self).__name__} is a pipeline description, not data: it cannot be iterated. "
            "Use pipeline(...).bind(records).run() and iterate the loader."
        )
