"""The op reference (``docs/ops.md``), rendered from the op registry.

Regenerate with ``python -m dataio.ops.reference > docs/ops.md``; a test fails when the
file is stale or when an op lacks a docstring or documentation for a parameter.
"""

from __future__ import annotations

import dataclasses
import inspect

from dataio.executors import cpu_table, gpu_table
from dataio.ops._base import Op
from dataio.ops.table import ops_in

_NAMESPACES = (("decoders", "Decoders — `dataio.decoders`"), ("transforms", "Transforms — `dataio.transforms`"),
               ("batch_transforms", "Batch transforms — `dataio.batch_transforms` (use with `map(...)`)"))


def undocumented(op_class: type[Op]) -> list[str]:
    """What the docstring of ``op_class`` is missing: ``"summary"`` and/or parameter names."""
    doc = inspect.getdoc(op_class) or ""
    missing = [] if doc.strip() else ["summary"]
    for field in dataclasses.fields(op_class):  # type: ignore[arg-type]
        if f"{field.name}:" not in doc and f"{field.name}," not in doc:
            missing.append(field.name)
    return missing


def _signature(op_class: type[Op]) -> str:
    params = []
    for field in dataclasses.fields(op_class):  # type: ignore[arg-type]
        if field.default is dataclasses.MISSING:
            params.append(field.name)
        else:
            params.append(f"{field.name}={field.default!r}")
    return f"{op_class.op_name}(*, {', '.join(params)})" if params else f"{op_class.op_name}()"


def _markdown(doc: str) -> str:
    """A Google-style docstring with its ``Args:`` block as a Markdown list."""
    out = []
    in_args = False
    for line in doc.splitlines():
        if line.strip() == "Args:":
            in_args = True
            out.append("Parameters:")
            continue
        if in_args and line.startswith("    ") and not line.startswith("        ") and ":" in line:
            name, text = line.strip().split(":", 1)
            out.append(f"- `{name}`:{text}")
        elif in_args and line.startswith("        "):
            out[-1] += " " + line.strip()
        else:
            in_args = in_args and bool(line.strip())
            out.append(line)
    return "\n".join(out)


def render_reference() -> str:
    """The Markdown op reference: a placement table, then one section per namespace, ops sorted by name."""
    cpu, gpu = cpu_table(), gpu_table()
    lines = ["# Op reference", "",
             "Generated from the op table by `python -m dataio.op_reference > docs/ops.md`. Every op runs on the",
             "CPU fallback (`dataio.cpu_fallback`); the GPU executor (`dataio.gpu`) runs an op in its DALI graph",
             "where the GPU column names a node, and on the CPU kernels inside the executor otherwise: the graph",
             "runs the longest front of an image slot's chain it can, the CPU kernels the rest of the chain on",
             "its output (`plan.explain(device=\"cuda\")` shows the split for a given pipeline, and why). Every",
             "image transform DALI has an operator for runs in the graph; tensor-layout ops (`cast`, `permute`,",
             "`reshape`, ...), branches, box and audio ops, and `canny` run on the CPU kernels. Slot shorthands:",
             "`slot(...).<name>(...)` for every transform (see `docs/api.md` for the few that differ).", "",
             "| op | kind | CPU kernel | GPU graph node |", "|---|---|---|---|"]
    for namespace, _ in _NAMESPACES:
        for op_class in ops_in(namespace):
            qualname = f"{namespace}.{op_class.op_name}"
            node = gpu.labels.get(qualname) or "— (CPU kernel)"
            lines.append(f"| `{qualname}` | {op_class.kind} | {cpu.labels[qualname]} | {node} |")
    lines.append("")
    for namespace, title in _NAMESPACES:
        lines += [f"## {title}", ""]
        for op_class in ops_in(namespace):
            lines += [f"### `{_signature(op_class)}`", "", _markdown(inspect.getdoc(op_class) or ""), ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
