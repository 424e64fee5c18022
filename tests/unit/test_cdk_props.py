"""LoadBalancedWebServiceProps is the one list of the construct's options: each field says its default, and
docs/define.md documents exactly these fields (pure: the props import no aws_cdk)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from albfargate.cdk import props as props_module
from albfargate.cdk.props import LoadBalancedWebServiceProps

DEFINE_MD = Path(__file__).resolve().parents[2] / "docs" / "define.md"
FIELDS = [f.name for f in dataclasses.fields(LoadBalancedWebServiceProps)]


def field_docstrings() -> dict[str, str]:
    """The string literal after each field of the props class (attribute docstrings)."""
    (cls,) = [
        node
        for node in ast.parse(inspect.getsource(props_module)).body
        if isinstance(node, ast.ClassDef) and node.name == "LoadBalancedWebServiceProps"
    ]
    docs: dict[str, str] = {}
    for field, after in zip(cls.body, [*cls.body[1:], None], strict=True):
        if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name):
            is_doc = isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
            docs[field.target.id] = str(after.value.value) if is_doc else ""  # type: ignore[union-attr]
    return docs


def documented_props() -> list[str]:
    """The prop names in the first column of the tables under '## Props and defaults'."""
    text = DEFINE_MD.read_text()
    section = text.split("## Props and defaults", 1)[1].split("\n## ", 1)[0]
    names: list[str] = []
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2 and not set(cells[1].strip()) <= {"-"}:
            names += re.findall(r"`([a-z0-9_]+)`", cells[1])
    return names


def test_every_field_documents_its_default() -> None:
    docs = field_docstrings()
    assert list(docs) == FIELDS
    missing = [name for name, doc in docs.items() if "Default:" not in doc]
    assert missing == [], f"fields without 'Default:' in their docstring: {missing}"


def test_define_md_lists_exactly_the_props() -> None:
    documented = documented_props()
    assert len(documented) == len(set(documented)), "a prop is in docs/define.md twice"
    assert sorted(documented) == sorted(FIELDS), (
        f"only in docs/define.md: {sorted(set(documented) - set(FIELDS))}; "
        f"only in LoadBalancedWebServiceProps: {sorted(set(FIELDS) - set(documented))}"
    )


def test_props_are_frozen_and_keyword_only() -> None:
    props = LoadBalancedWebServiceProps(image="nginx")
    with pytest.raises(dataclasses.FrozenInstanceError):
        props.container_port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        LoadBalancedWebServiceProps("nginx")  # type: ignore[misc]
    assert dataclasses.replace(props, container_port=3000).container_port == 3000
