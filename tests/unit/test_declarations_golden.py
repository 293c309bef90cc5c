"""The declarations of a package using every supported type, against a golden file and Gemini's subset.

`tests/unit/golden_tools.py` uses every parameter type `@tool` declares. Its
declarations are compared with `tests/unit/golden/declarations.json` (rewrite it
with `LIVEBOT_UPDATE_GOLDEN=1` after a deliberate change, and review the diff),
and each one, as built and as it goes over the wire, is checked against the
schema subset Gemini documents for function declarations, by a validator
written here independently of `tools/declarations.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from google.genai import types

from bot.live.declarations import setup_tools
from tests.unit.golden_tools import sample_tools
from tools.registry import ToolRegistry
from tools.toolset import available_packages, load_toolsets, registry_of

GOLDEN = Path(__file__).parent / "golden" / "declarations.json"

# Gemini's function-declaration schema: an OpenAPI 3.0 subset.
TYPES = {"STRING", "INTEGER", "NUMBER", "BOOLEAN", "ARRAY", "OBJECT"}
KEYS = {
    "type",
    "format",
    "description",
    "nullable",
    "enum",
    "items",
    "properties",
    "required",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
}
DECLARATION_KEYS = {"name", "description", "parameters", "behavior"}


def subset_problems(node: Any, where: str) -> list[str]:
    """Every way `node` leaves the documented subset (empty: it is inside)."""
    if not isinstance(node, dict):
        return [f"{where}: not an object"]
    problems = [f"{where}: key {k!r} is not in the subset" for k in set(node) - KEYS]
    kind = str(node.get("type", "")).upper()
    if kind not in TYPES:
        return [*problems, f"{where}: type {node.get('type')!r}"]
    if "format" in node and (kind != "STRING" or node["format"] not in ("enum", "date-time")):
        problems.append(f"{where}: format {node['format']!r} on {kind}")
    if "enum" in node and (kind != "STRING" or not all(isinstance(v, str) for v in node["enum"])):
        problems.append(f"{where}: enum {node['enum']!r} on {kind}")
    if ("minimum" in node or "maximum" in node) and kind not in ("INTEGER", "NUMBER"):
        problems.append(f"{where}: bounds on {kind}")
    if ("minItems" in node or "maxItems" in node or "items" in node) and kind != "ARRAY":
        problems.append(f"{where}: array keys on {kind}")
    if "nullable" in node and node["nullable"] is not True:
        problems.append(f"{where}: nullable is {node['nullable']!r}")
    if "description" in node and not isinstance(node["description"], str):
        problems.append(f"{where}: description is not text")
    if kind == "ARRAY":
        if "items" not in node:
            problems.append(f"{where}: ARRAY without items")
        else:
            problems += subset_problems(node["items"], f"{where}[]")
    if kind == "OBJECT":
        props = node.get("properties")
        if not props:
            problems.append(f"{where}: OBJECT without properties")
        for name, prop in (props or {}).items():
            problems += subset_problems(prop, f"{where}.{name}")
        for name in node.get("required", []):
            if name not in (props or {}):
                problems.append(f"{where}: requires unknown {name!r}")
    elif "properties" in node or "required" in node:
        problems.append(f"{where}: object keys on {kind}")
    return problems


def declaration_problems(decl: dict[str, Any]) -> list[str]:
    name = decl.get("name", "?")
    problems = [f"{name}: key {k!r}" for k in set(decl) - DECLARATION_KEYS]
    if not decl.get("description"):
        problems.append(f"{name}: no description")
    if "parameters" in decl:
        params = decl["parameters"]
        if str(params.get("type", "")).upper() != "OBJECT":
            problems.append(f"{name}: parameters are not an OBJECT")
        problems += subset_problems(params, name)
    return problems


# google-genai writes these Schema fields under their proto names on the Live socket;
# proto3 JSON takes a field under either name.
PROTO_NAMES = {"min_items": "minItems", "max_items": "maxItems"}


def camel(node: Any) -> Any:
    """A wire schema with the proto field names written as the documented JSON names."""
    if isinstance(node, list):
        return [camel(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {k: camel(v) for k, v in value.items()}
        else:
            out[PROTO_NAMES.get(key, key)] = camel(value)
    return out


def upper_types(node: Any) -> Any:
    """Our declaration with types as google-genai writes them on the wire."""
    if isinstance(node, list):
        return [upper_types(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {k: upper_types(v) for k, v in value.items()}
        elif key == "type":
            out[key] = value.upper()
        else:
            out[key] = upper_types(value)
    return out


def test_the_validator_catches_what_gemini_rejects():
    assert subset_problems({"type": "object", "properties": {}}, "p") == [
        "p: OBJECT without properties"
    ]
    assert subset_problems({"type": "array"}, "p") == ["p: ARRAY without items"]
    assert subset_problems({"type": "string", "format": "date"}, "p") == [
        "p: format 'date' on STRING"
    ]
    assert subset_problems({"type": "integer", "enum": [1, 2]}, "p") == [
        "p: enum [1, 2] on INTEGER"
    ]
    assert subset_problems({"anyOf": [{"type": "string"}]}, "p")
    assert subset_problems({"type": "string", "default": "x"}, "p")


async def test_declarations_match_the_golden_file_and_geminis_subset():
    tools = sample_tools()
    decls = [t.declaration() for t in tools]
    text = json.dumps(decls, indent=2, ensure_ascii=False) + "\n"
    print(text)
    if os.environ.get("LIVEBOT_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), (
        "declarations differ from tests/unit/golden/declarations.json; if the change is "
        "deliberate, rerun with LIVEBOT_UPDATE_GOLDEN=1 and review the diff"
    )
    problems = [p for d in decls for p in declaration_problems(d)]
    assert problems == []
    # What goes over the wire (Pipecat's adapter, then google-genai) is the same
    # declaration: nothing dropped or added on the way but `behavior`.
    setup = json.loads(json.dumps(await setup_tools(ToolRegistry(tools))))  # enums as text
    wire = camel(setup[0]["functionDeclarations"])
    assert [d.pop("behavior") for d in wire] == ["NON_BLOCKING"] * len(tools)
    assert wire == [upper_types(d) for d in decls]
    assert [p for d in wire for p in declaration_problems(d)] == []
    for d in decls:
        types.FunctionDeclaration.model_validate(d)  # the SDK takes each as it is
    counts = {d["name"]: len(d.get("parameters", {}).get("properties", {})) for d in decls}
    print("parameters per tool:", counts)


def test_the_built_in_packages_stay_inside_the_subset(tmp_path):
    names = available_packages()
    registry = registry_of(load_toolsets(names, {}, tmp_path, ZoneInfo("UTC")))
    decls = [t.declaration() for t in registry]
    print(f"{len(decls)} built-in declarations from {names}")
    assert decls and [p for d in decls for p in declaration_problems(d)] == []


async def test_arguments_written_as_declared_are_accepted():
    """What a model writes by reading the declarations validates (formats, tuples, enums)."""
    by_name = {t.name: t for t in sample_tools()}
    args = {
        "title": "Lyon",
        "travellers": 2,
        "speed_kmh": 120.5,
        "mood": "calm",
        "stars": 3,
        "seat": 1,
        "window": "aisle",
        "day": "2026-03-01",
        "departs": "2026-03-01T14:30:00+01:00",
        "wake_at": "07:15",
        "stay": "PT1H30M",
        "booking": "123e4567-e89b-12d3-a456-426614174000",
        "budget": {"amount": 300},
        "stops": [{"city": "Dijon", "arrive": "2026-03-01"}],
        "where": [45.76, 4.83],
        "tags": ["rail"],
    }
    for name, call_args in [
        ("plan_trip", args),
        ("ping", {}),
        ("convert", {"amount": 3.5}),
        ("remember", {"fact": "tea"}),
        ("search", {"query": "tea"}),
    ]:
        outcome = await by_name[name].invoke(call_args)
        print(name, outcome.response)
        assert outcome.ok, (name, outcome.response)
    bad = await by_name["plan_trip"].invoke({**args, "travellers": 10, "seat": 4})
    assert "argument 'travellers'" in bad.response["error"]
    assert "allowed: 1, 2, 3" in bad.response["error"]
