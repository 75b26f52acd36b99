"""Archive member names that cannot escape: what ``archive()`` and ``webdataset()`` do with a member named
``../x``, ``/etc/passwd``, ``C:\\x`` or with a NUL byte (docs/api.md §5).

A user who writes each entry under ``out_dir / key`` must never write outside ``out_dir``. A
name is unsafe when it is absolute (``/`` or ``\\`` first), starts with a drive letter, has a
``..`` component (``/`` and ``\\`` both separate components) or holds a NUL byte. The policy,
``unsafe_names=``, decides: ``"error"`` (the default) raises :class:`UnsafeMemberName` naming
the archive and the member; ``"sanitize"`` keeps the member under its normalised relative name
(separators made ``/``, a drive and NUL bytes dropped, ``..`` resolved but never above the
top, empty and ``.`` components dropped; a name with nothing left is skipped); ``"skip"``
leaves it out. Links are never followed (only regular file members are read), so none can
point outside.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Literal

from dataio._errors import DataIOError

UnsafeNames = Literal["error", "sanitize", "skip"]
POLICIES = ("error", "sanitize", "skip")
_DRIVE = re.compile(r"^[A-Za-z]:")
_SEPARATORS = re.compile(r"[\\/]")


class UnsafeMemberName(DataIOError, ValueError):
    """An archive member whose name would escape the folder its entries are written under."""


def unsafe_reason(name: str) -> str | None:
    """Why ``name`` could escape (``None``: it cannot)."""
    if "\x00" in name:
        return "holds a NUL byte"
    if name.startswith(("/", "\\")):
        return "is absolute"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    if ".." in _SEPARATORS.split(name):
        return "has a '..' component"
    return None


def sanitized(name: str) -> str:
    """``name`` as a safe relative path: separators ``/``, no drive, no NUL; ``..`` resolved but never above
    the top (``a/../../x`` is ``x``), empty and ``.`` parts dropped."""
    kept: list[str] = []
    for part in _SEPARATORS.split(_DRIVE.sub("", name.replace("\x00", ""))):
        if part == "..":
            if kept:
                kept.pop()
        elif part not in ("", "."):
            kept.append(part)
    return "/".join(kept)


def safe_members(members: Iterator[Any], archive: str, policy: str) -> Iterator[Any]:
    """``members`` (objects with a ``name``) under ``policy``; the names of those kept are safe.

    Raises:
        UnsafeMemberName: an unsafe name under ``"error"`` (naming ``archive`` and the member).
    """
    for member in members:
        reason = unsafe_reason(member.name)
        if reason is None:
            yield member
        elif policy == "error":
            raise UnsafeMemberName(f"{archive}: member {member.name!r} {reason}; pass unsafe_names='sanitize' to "
                                   "read it under a safe relative name, or 'skip' to leave it out")
        elif policy == "sanitize" and sanitized(member.name):
            yield replace(member, name=sanitized(member.name))
