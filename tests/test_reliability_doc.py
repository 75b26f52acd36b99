"""docs/reliability.md names the tests that hold each promise: every file and test it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_the_reliability_page_names_exists() -> None:
    text = (ROOT / "docs" / "reliability.md").read_text()
    named = re.findall(r"`(tests/[\w/]+\.py)((?:::\w+)?)`|`::(\w+)`", text)
    assert named
    current: Path | None = None
    for path, test, continued in named:
        if path:
            current = ROOT / path
            assert current.is_file(), path
        name = (test or "").removeprefix("::") or continued
        if name:
            assert current is not None
            functions = {n.name for n in ast.walk(ast.parse(current.read_text())) if isinstance(n, ast.FunctionDef)}
            assert name in functions, f"{current.name}::{name}"
