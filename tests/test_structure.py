"""The package's structure: no import cycles, and each layer imports only the layers below it.

Imports are read from the source (nothing is executed). Module-level and function-level
imports both count; imports under ``if TYPE_CHECKING:`` do not (they never run).
``gpu/`` and ``cpu_fallback/`` are read under their installed names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"dataio": "dataio", "gpu": "dataio.gpu", "cpu_fallback": "dataio.cpu_fallback"}
EXECUTORS = ("dataio.cpu_fallback", "dataio.gpu")


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _known(name: str) -> str | None:
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """The project modules ``module`` imports (its own submodules excluded: that is how packages are built)."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for statement in child.orelse:
                    visit(statement)
                continue
            if isinstance(child, ast.Import):
                found.update(filter(None, (_known(alias.name) for alias in child.names)))
            elif isinstance(child, ast.ImportFrom):
                stem = child.module or ""
                if child.level:
                    base = module if is_package else module.rpartition(".")[0]
                    for _ in range(child.level - 1):
                        base = base.rpartition(".")[0]
                    stem = f"{base}.{stem}" if stem else base
                for alias in child.names:
                    target = _known(f"{stem}.{alias.name}") or _known(stem)
                    if target:
                        found.add(target)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return {m for m in found if m != module and not m.startswith(module + ".")}


GRAPH = {module: imports_of(module) for module in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            connect(module)
    return components


def test_the_reader_sees_every_kind_of_import() -> None:
    """The checker itself: function-level imports count, TYPE_CHECKING ones do not."""
    assert "dataio.binding" in GRAPH["dataio.dsl"]  # Pipeline.bind imports it inside the method
    assert "dataio.runtime.loader" not in GRAPH["dataio.dsl"]
    assert "dataio.executors" in GRAPH["dataio.plan"]  # Plan.explain, function level


def test_no_import_cycles() -> None:
    assert _cycles() == []


def _under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


LAYER_RULES = [
    # (modules, what they must never import, why)
    (("dataio.ops", "dataio.seeds", "dataio._errors", "dataio._symbolic"),
     ("dataio.plan", "dataio.dsl", "dataio.runtime", "dataio.io", "dataio.formats", "dataio.sources",
      "dataio.executors", "dataio.binding", *EXECUTORS), "the leaf layer imports nothing above it"),
    (("dataio.plan",), ("dataio.dsl", "dataio.runtime", "dataio.binding", *EXECUTORS),
     "the plan IR owns its stage types; only explain() asks the selector"),
    (("dataio.dsl",), ("dataio.runtime", "dataio.executors", *EXECUTORS), "the DSL only builds plan objects"),
    (("dataio.io", "dataio.formats", "dataio.sources"),
     ("dataio.dsl", "dataio.runtime", "dataio.executors", "dataio.binding", *EXECUTORS),
     "IO, formats and sources never import the runtime or an executor"),
    (("dataio.runtime",), ("dataio.dsl", "dataio.executors", "dataio.binding", *EXECUTORS),
     "the runtime takes (plan, records, options, executor) and picks no executor"),
    (("dataio._report", "dataio._demo", "dataio._cli", "dataio.images", "dataio.binding", "dataio.device"),
     EXECUTORS, "the report and the other top-level modules reach executors only through the selector"),
    (("dataio.cpu_fallback",), ("dataio.gpu", "dataio.dsl", "dataio.binding", "dataio.executors"),
     "the CPU fallback knows no other executor"),
]


@pytest.mark.parametrize("modules, forbidden, why", LAYER_RULES, ids=[r[0][0] for r in LAYER_RULES])
def test_layers_import_only_downwards(modules: tuple[str, ...], forbidden: tuple[str, ...], why: str) -> None:
    wrong = sorted(f"{m} -> {t}" for m in GRAPH if _under(m, *modules)
                   for t in GRAPH[m] if _under(t, *forbidden) and not _under(t, *modules))
    assert wrong == [], why
