"""Stable identities for user callables inside the plan signature.

A plain Python callable is identified by what its code does (bytecode, constants,
names), not by ``id()`` or ``hash()``, so the pipeline signature is the same in every
process and under every ``PYTHONHASHSEED``; editing the function changes it.
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Callable
from typing import Any


def callable_identity(fn: Callable[..., Any]) -> dict[str, str]:
    """``{"callable": qualname, "code": sha256-hex}`` for a plain callable.

    Callables without Python code (builtins, C functions) are identified by their
    qualified name only.
    """
    describe = getattr(fn, "describe", None)
    if callable(describe) and not isinstance(fn, type) and hasattr(fn, "version"):
        return describe()  # a CustomOp: (name, version) only
    target = fn
    if not isinstance(fn, (types.FunctionType, types.MethodType)) and callable(fn):
        target = getattr(type(fn), "__call__", fn)  # noqa: B004 - a callable object: identify its class's __call__
    code = getattr(getattr(target, "__func__", target), "__code__", None)
    name = getattr(fn, "__qualname__", type(fn).__qualname__)
    if code is None:
        return {"callable": f"{getattr(fn, '__module__', '?')}.{name}"}
    digest = hashlib.sha256()
    _feed_code(digest, code)
    return {"callable": name, "code": digest.hexdigest()[:16]}


def _feed_code(digest: Any, code: types.CodeType) -> None:
    digest.update(code.co_code)
    digest.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed_code(digest, const)
        elif isinstance(const, frozenset):
            digest.update(repr(sorted(map(repr, const))).encode())
        else:
            digest.update(repr(const).encode())
