"""Every op is documented, and docs/ops.md is the current rendering of the registry."""

from __future__ import annotations

from pathlib import Path

from dataio.ops._base import OP_REGISTRY
from dataio.op_reference import render_reference, undocumented

DOCS = Path(__file__).resolve().parent.parent / "docs" / "ops.md"


def test_every_op_documents_itself_and_each_parameter() -> None:
    missing = {q: undocumented(c) for q, c in OP_REGISTRY.items() if undocumented(c)}
    assert not missing, f"ops with undocumented parts: {missing}"


def test_docs_ops_md_is_current() -> None:
    assert DOCS.read_text() == render_reference(), (
        "docs/ops.md is stale: run `python -m dataio.op_reference > docs/ops.md`")


def test_every_op_is_in_the_reference() -> None:
    text = DOCS.read_text()
    for op_class in OP_REGISTRY.values():
        assert f"### `{op_class.op_name}(" in text, op_class.op_name


def test_docs_api_reference_md_is_current_and_every_public_name_is_documented() -> None:
    from dataio.api_reference import render_reference as render_api, undocumented as undocumented_api

    assert undocumented_api() == []
    api = Path(__file__).resolve().parent.parent / "docs" / "api-reference.md"
    assert api.read_text() == render_api(), (
        "docs/api-reference.md is stale: run `python -m dataio.api_reference > docs/api-reference.md`")
