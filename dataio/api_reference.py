"""The generated half of the API contract (``docs/api-reference.md``): every public name and its docstring.

``docs/api.md`` is the contract in prose, section by section; this page is rendered from
the code — each name of ``dataio.__all__`` with its signature and docstring, and the public
methods and properties of each class — so the two cannot drift apart silently. Regenerate with
``python -m dataio.api_reference > docs/api-reference.md``; a test fails when the file is stale
or a public name has no docstring. Ops are in ``docs/ops.md`` (``python -m dataio.op_reference``).
"""

from __future__ import annotations

import inspect
from typing import Any

import dataio

_SKIP = {"__version__"}


def _signature(obj: Any) -> str:
    """``(a: int, *, b: str = 'x') -> T`` with annotations as written in the source (postponed ones unquoted)."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    parts = []
    star_done = False
    for param in signature.parameters.values():
        if param.kind is param.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        if param.kind is param.VAR_POSITIONAL:
            star_done = True
        prefix = "*" if param.kind is param.VAR_POSITIONAL else "**" if param.kind is param.VAR_KEYWORD else ""
        text = prefix + param.name
        if param.annotation is not param.empty:
            text += f": {_annotation(param.annotation)}"
        if param.default is not param.empty:
            text += f" = {param.default!r}" if param.annotation is not param.empty else f"={param.default!r}"
        parts.append(text)
    returns = signature.return_annotation
    tail = "" if returns is signature.empty else f" -> {_annotation(returns)}"
    return f"({', '.join(parts)}){tail}"


def _annotation(value: Any) -> str:
    return value if isinstance(value, str) else inspect.formatannotation(value)


def _kind(obj: Any) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    return "function"


def undocumented() -> list[str]:
    """Public names (and public methods of public classes) without a docstring of their own."""
    missing = []
    for name in dataio.__all__:
        obj = getattr(dataio, name)
        if name in _SKIP:
            continue
        if not (inspect.getdoc(obj) or "").strip():
            missing.append(name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            missing += [f"{name}.{member}" for member, value in _members(obj) if not (value.__doc__ or "").strip()]
    return missing


def _members(cls: type) -> list[tuple[str, Any]]:
    """Public methods and properties defined on ``cls`` itself (not inherited), in source order."""
    found = []
    for member, value in vars(cls).items():
        if member.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            found.append((member, value))
    return found


def _section(name: str, obj: Any) -> list[str]:
    kind = _kind(obj)
    head = f"dataio.{name}" + (_signature(obj) if kind in ("function", "class", "exception") else "")
    lines = [f"### `{head}`", "", f"*{kind}*", "", "```text", inspect.getdoc(obj) or "", "```", ""]
    if kind == "class":
        for member, value in _members(obj):
            if isinstance(value, property):
                lines += [f"- `{member}` (property): {_summary(value.__doc__)}"]
            else:
                lines += [f"- `{member}{_signature(value)}`: {_summary(value.__doc__)}"]
        lines.append("")
    return lines


def _summary(doc: str | None) -> str:
    return inspect.cleandoc(doc or "").split("\n\n")[0].replace("\n", " ")


def render_reference() -> str:
    """The Markdown reference of every public name, in ``dataio.__all__`` order."""
    lines = ["# API reference (generated)", "",
             "Rendered from the docstrings by `python -m dataio.api_reference > docs/api-reference.md`. The",
             "contract in prose, with the rules and errors section by section, is [docs/api.md](api.md); the",
             "ops are in [docs/ops.md](ops.md).", ""]
    for name in dataio.__all__:
        if name not in _SKIP:
            lines += _section(name, getattr(dataio, name))
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
