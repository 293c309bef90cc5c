"""The calendar tools' declarations are what Gemini's function declarations accept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.genai import types

from tests.calendar.helpers import PARIS
from tools.calendar import toolset
from tools.toolset import ToolContext

FORBIDDEN = {"$ref", "$defs", "additionalProperties", "title", "default", "examples"}
TYPES = {"string", "integer", "number", "boolean", "array", "object"}


def check_schema(node: dict[str, Any], where: str) -> None:
    assert not FORBIDDEN & node.keys(), f"{where}: {FORBIDDEN & node.keys()}"
    assert "type" in node or "anyOf" in node, f"{where} has neither type nor anyOf"
    if "type" in node:
        assert node["type"] in TYPES, f"{where}: type {node['type']!r}"
    for i, option in enumerate(node.get("anyOf", [])):
        check_schema(option, f"{where}.anyOf[{i}]")
    if "items" in node:
        check_schema(node["items"], f"{where}.items")
    props = node.get("properties", {})
    for name, prop in props.items():
        check_schema(prop, f"{where}.{name}")
    if "required" in node:
        assert isinstance(node["required"], list)
        assert set(node["required"]) <= props.keys(), f"{where}: required not in properties"


def test_declarations_are_gemini_schemas(tmp_path: Path):
    ts = toolset(ToolContext(env={}, data_dir=tmp_path, timezone=PARIS))
    decls = {t.name: t.declaration() for t in ts.tools}
    assert set(decls) == {
        "list_events",
        "create_event",
        "move_event",
        "cancel_event",
        "find_free_time",
    }
    for name, decl in decls.items():
        assert decl["description"] and len(decl["description"]) < 300, name
        params = decl["parameters"]
        assert params["type"] == "object"
        check_schema(params, name)
        for pname, prop in params["properties"].items():
            assert prop.get("description"), f"{name}.{pname} has no description"
        types.FunctionDeclaration.model_validate(decl)  # the SDK takes it as is
    required = {name: decl["parameters"].get("required", []) for name, decl in decls.items()}
    assert required == {
        "list_events": [],
        "create_event": ["title", "start"],
        "move_event": ["event_id", "new_start"],
        "cancel_event": ["event_id"],
        "find_free_time": ["start", "end", "duration_minutes"],
    }
