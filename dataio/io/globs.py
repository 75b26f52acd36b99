"""Glob patterns with one meaning on every backend (docs/api.md §6.2 ``glob``).

``*``, ``?`` and ``[...]`` match within one path segment; a ``**`` segment matches zero or
more whole segments. Object stores have no directories and fsspec's own globbing differs
between backends (its ``*`` may cross ``/``), so patterns are compiled here to a regular
expression and applied to a listing of everything below the pattern's literal prefix.
Dot-files are matched like any other name.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator

GLOB_CHARS = frozenset("*?[")


def has_magic(text: str) -> bool:
    """Whether ``text`` contains glob syntax."""
    return bool(GLOB_CHARS & set(text))


def literal_prefix(pattern: str) -> str:
    """The leading segments of ``pattern`` without glob syntax (where listing starts), no trailing ``/``."""
    segments = pattern.split("/")
    for i, segment in enumerate(segments):
        if has_magic(segment):
            return "/".join(segments[:i])
    return pattern


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A regex that matches a whole path exactly when ``pattern`` does.

    Raises:
        ValueError: an unterminated ``[`` class, or ``**`` mixed with other text in a segment.
    """
    segments = pattern.split("/")
    parts: list[str] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:[^/]*/)*")
            continue
        if "**" in segment:
            raise ValueError(f"glob {pattern!r}: '**' must be a whole path segment")
        parts.append(_segment(segment, pattern) + ("" if last else "/"))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def _segment(segment: str, pattern: str) -> str:
    out, i = [], 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = segment.find("]", i + 2 if segment[i + 1: i + 2] in ("!", "]") else i + 1)
            if end == -1:
                raise ValueError(f"glob {pattern!r}: unterminated '[' class")
            body = segment[i + 1: end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\").replace("/", "") + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


IN_PROGRESS = re.compile(r"(^|/)\.[^/]+\.(?:\d+\.\d+|[a-z0-9_]{8})\.(?:tmp|part)$")
"""The temporary files dataio's own atomic writes and shard cache use (``.<name>.<pid>.<id>.tmp``,
``.<name>.<8 random>.tmp`` / ``.part``): never listed, so a glob never sees a write in progress or one
a killed process left behind."""


STALE_AFTER_S = 24 * 3600
"""Age after which a temporary of :data:`IN_PROGRESS` is taken as a killed write's and removed."""
_SWEPT: set[str] = set()
_SWEPT_LOCK = threading.Lock()


def sweep_stale_once(directory: str | os.PathLike[str]) -> None:
    """Remove the temporaries dataio's writes left in ``directory`` more than :data:`STALE_AFTER_S` ago (a killed
    process's), once per directory per process; never raises (the write that asks must not fail for it).

    A day is far longer than any write keeps its temporary open, so a live write elsewhere (another
    process, another host on a shared file system) is never touched.
    """
    key = os.path.abspath(directory)
    with _SWEPT_LOCK:
        if key in _SWEPT:
            return
        _SWEPT.add(key)
    cutoff = time.time() - STALE_AFTER_S
    try:
        with os.scandir(key) as entries:
            for entry in entries:
                if IN_PROGRESS.search(entry.name) and entry.is_file(follow_symlinks=False) and \
                        entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
    except OSError:  # a vanished file, a directory we may not list: the sweep is best effort
        pass


def matching(pattern: str, list_below: Callable[[str], Iterable[str]]) -> list[str]:
    """The paths ``list_below(literal prefix)`` gives that match ``pattern``, sorted (dataio's own temporary
    files left out: :data:`IN_PROGRESS`).

    ``list_below`` lists every file under a prefix on one backend (``""`` for a pattern
    that starts with glob syntax); this is how every backend globs the same way.
    """
    matcher = compile_glob(pattern)
    return sorted(p for p in list_below(literal_prefix(pattern)) if matcher.match(p) and not IN_PROGRESS.search(p))


def walk_local(root: str) -> Iterator[str]:
    """Every file below a local directory as ``root/...``; ``""`` lists the working directory as relative paths."""
    for directory, _, names in os.walk(root or "."):
        for name in names:
            path = os.path.join(directory, name)
            yield path[2:] if not root and path.startswith("./") else path
