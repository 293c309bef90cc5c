"""Gemini function declarations from a tool's typed parameters, faithfully or not at all.

Pydantic writes the JSON schema of a tool's parameters; Gemini's function
declarations take only an OpenAPI 3.0 subset of it (types STRING, INTEGER,
NUMBER, BOOLEAN, ARRAY, OBJECT; `format` only `enum`/`date-time` on STRING;
`enum` of strings; `items`, `properties` (never empty), `required`, `nullable`,
`minimum`/`maximum`, `minItems`/`maxItems`, `description`). Pipecat's adapter
drops what does not fit without a word, so the model would see a different tool
from the one that validates its arguments. This module is the one translation:

- what has a faithful form in the subset gets it (`Optional[X]` → `nullable`,
  a homogeneous `tuple` → `items` with its length, an integer `gt=0` →
  `minimum: 1`, `Literal`/`StrEnum` → `enum`);
- what the subset has no field for but the model can still be told goes into
  the description (`date`, `time`, `timedelta`, `UUID` formats, number enums,
  exclusive bounds, string lengths and patterns, defaults, examples);
- everything else (`Any`, `dict[str, X]`, unions, heterogeneous tuples,
  recursive models, models without fields) is refused when `@tool` runs,
  naming the tool and the parameter, with what to use instead.

`check_declared_schema` checks a hand-written (raw) schema against the same
subset. `describe_docstring` splits a Google, NumPy or reST docstring into the
tool's description and its parameters' descriptions (with `docstring_parser`).
"""

from __future__ import annotations

import json
import math
from typing import Any

import docstring_parser

TYPES = {"string", "integer", "number", "boolean", "array", "object"}
# The keys of Gemini's declaration schema subset that we emit.
SUBSET_KEYS = {
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
# JSON-schema keys pydantic writes that say nothing to the model.
_IGNORED = {"title", "$defs", "readOnly", "writeOnly", "deprecated"}

# String formats pydantic writes, and how the model is told about them instead.
_FORMATS = {
    "date": "a date, YYYY-MM-DD",
    "time": "a time of day, HH:MM or HH:MM:SS",
    "duration": "a duration in ISO 8601, e.g. PT1H30M",
    "uuid": "a UUID, e.g. 123e4567-e89b-12d3-a456-426614174000",
    "email": "an email address",
    "uri": "a URL",
    "ipv4": "an IPv4 address",
    "ipv6": "an IPv6 address",
    "ipvanyaddress": "an IP address",
    "path": "a file path",
}


class DeclarationError(TypeError):
    """A tool whose parameters Gemini's declarations cannot express faithfully."""


def parameters_schema(tool_name: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The `parameters` of the declaration for pydantic's schema; None if there are none.

    Gemini rejects an OBJECT without properties, so a parameterless tool is
    declared without `parameters` at all.
    """
    if not schema.get("properties"):
        return None
    return _Converter(tool_name, schema.get("$defs", {})).convert(schema, "", ())


class _Converter:
    def __init__(self, tool_name: str, defs: dict[str, Any]):
        self.tool_name = tool_name
        self.defs = defs

    def refuse(self, path: str, why: str) -> DeclarationError:
        where = f"parameter '{path}'" if path else "its parameters"
        return DeclarationError(f"tool {self.tool_name}: {where} {why}")

    def convert(self, node: dict[str, Any], path: str, refs: tuple[str, ...]) -> dict[str, Any]:
        node = dict(node)
        if "$ref" in node or (len(node.get("allOf", ())) == 1 and "$ref" in node["allOf"][0]):
            ref = node.pop("$ref", None) or node.pop("allOf")[0]["$ref"]
            name = ref.rsplit("/", 1)[-1]
            if name in refs:
                chain = " → ".join([*refs[refs.index(name) :], name])
                raise self.refuse(
                    path,
                    f"is a recursive model ({chain}); a declaration cannot express "
                    "recursion: give it a fixed depth with separate models",
                )
            return self.convert({**self.defs[name], **node}, path, (*refs, name))
        notes: list[str] = []
        options = node.pop("anyOf", None) or node.pop("oneOf", None)
        if options is not None:
            non_null = [o for o in options if o.get("type") != "null"]
            nullable = len(non_null) < len(options)
            if len(non_null) != 1:
                kinds = " | ".join(_kind(o) for o in non_null)
                raise self.refuse(
                    path,
                    f"is a union ({kinds}), which Gemini's declarations cannot express: "
                    "use one type (a model with optional fields, or a str Literal)",
                )
            merged = {**non_null[0], **{k: v for k, v in node.items() if k != "discriminator"}}
            return self.convert({**merged, "nullable": nullable}, path, refs)
        if "const" in node:
            node["enum"] = [node.pop("const")]
        out: dict[str, Any] = {}
        if node.pop("nullable", False):
            out["nullable"] = True
        kind = node.pop("type", None)
        enum = node.pop("enum", None)
        if enum is not None:
            kind = kind or _enum_type(enum)
            if kind == "string" and all(isinstance(v, str) for v in enum):
                out["enum"] = list(enum)
            elif kind in ("integer", "number", "boolean") and all(
                _json_kind(v) == kind or (kind == "number" and _json_kind(v) == "integer")
                for v in enum
            ):
                notes.append("one of " + ", ".join(json.dumps(v) for v in enum))
            else:
                raise self.refuse(
                    path,
                    f"has choices of mixed types ({enum!r}); Gemini's enums are strings: "
                    "use choices of one type",
                )
        if kind is None:
            raise self.refuse(
                path, "has no type (Any, object or a bare list item); give it a concrete type"
            )
        if not isinstance(kind, str) or kind not in TYPES:
            raise self.refuse(path, f"has type {kind!r}, which Gemini's declarations lack")
        out["type"] = kind
        description = node.pop("description", None)
        if kind == "string":
            self._string(node, out, notes, path)
        elif kind in ("integer", "number"):
            self._number(kind, node, out, notes)
        elif kind == "array":
            self._array(node, out, notes, path, refs)
        elif kind == "object":
            self._object(node, out, path, refs)
        default = node.pop("default", None)
        if default is not None:  # a None default is said by `nullable` and `required`
            notes.append(f"default {json.dumps(default)}")
        examples = node.pop("examples", None)
        if examples:
            notes.append("e.g. " + ", ".join(json.dumps(e) for e in examples))
        for key in node:
            if key not in _IGNORED:
                raise self.refuse(
                    path, f"uses the JSON-schema key '{key}', which Gemini's declarations lack"
                )
        text = _sentence(description, notes)
        if text:
            out["description"] = text
        return out

    def _string(self, node: dict, out: dict, notes: list[str], path: str) -> None:
        fmt = node.pop("format", None)
        if fmt == "date-time":
            out["format"] = "date-time"
            notes.append("a date and time in ISO 8601, e.g. 2026-03-01T14:30:00+01:00")
        elif fmt in _FORMATS:
            notes.append(_FORMATS[fmt])
        elif fmt is not None:
            raise self.refuse(
                path, f"has string format '{fmt}', which Gemini's declarations cannot say"
            )
        for key, word in (("minLength", "at least"), ("maxLength", "at most")):
            if key in node:
                n = node.pop(key)
                notes.append(f"{word} {n} character{'' if n == 1 else 's'}")
        if "pattern" in node:
            notes.append(f"matching the regular expression {node.pop('pattern')}")

    @staticmethod
    def _number(kind: str, node: dict, out: dict, notes: list[str]) -> None:
        for key in ("minimum", "maximum"):
            if key in node:
                out[key] = node.pop(key)
        for key, bound, step, word in (
            ("exclusiveMinimum", "minimum", 1, "greater than"),
            ("exclusiveMaximum", "maximum", -1, "less than"),
        ):
            if key not in node:
                continue
            value = node.pop(key)
            if kind == "integer" and float(value).is_integer():
                edge = int(value) + step  # the same set of integers, said inclusively
                current = out.get(bound)
                pick = max if step > 0 else min
                out[bound] = edge if current is None else pick(current, edge)
            else:
                notes.append(f"{word} {value:g}")
        if "multipleOf" in node:
            notes.append(f"a multiple of {node.pop('multipleOf'):g}")
        for key in ("minimum", "maximum"):
            if isinstance(out.get(key), float) and not math.isfinite(out[key]):
                out.pop(key)

    def _array(self, node: dict, out: dict, notes: list[str], path: str, refs: tuple) -> None:
        prefix = node.pop("prefixItems", None)
        items = node.pop("items", None)
        if prefix is not None:
            converted = [self.convert(p, f"{path}[{i}]", refs) for i, p in enumerate(prefix)]
            if items is not None:  # tuple[int, *tuple[str, ...]]
                converted.append(self.convert(items, f"{path}[]", refs))
            if any(c != converted[0] for c in converted):
                raise self.refuse(
                    path,
                    "is a tuple of different types; a declaration's array has one item "
                    "type: use a model with named fields",
                )
            out["items"] = converted[0]
        elif items is not None:
            out["items"] = self.convert(items, f"{path}[]", refs)
        else:
            raise self.refuse(path, "is a list without an item type; say list[X]")
        for key in ("minItems", "maxItems"):
            if key in node:
                out[key] = node.pop(key)
        if node.pop("uniqueItems", False):
            notes.append("no duplicates")

    def _object(self, node: dict, out: dict, path: str, refs: tuple) -> None:
        extra = node.pop("additionalProperties", False)
        properties = node.pop("properties", None)
        if extra not in (False, None) or node.pop("patternProperties", None):
            raise self.refuse(
                path,
                "is a mapping (dict[str, X]): Gemini needs an OBJECT's properties named in "
                "advance and rejects one without: use a pydantic model with named fields, "
                "or a list of models",
            )
        if not properties:
            raise self.refuse(
                path, "is an object without fields; Gemini rejects an OBJECT without properties"
            )
        prefix = f"{path}." if path else ""
        out["properties"] = {
            name: self.convert(prop, f"{prefix}{name}", refs) for name, prop in properties.items()
        }
        required = node.pop("required", None)
        if required:
            out["required"] = list(required)


def check_declared_schema(tool_name: str, schema: dict[str, Any], path: str = "") -> None:
    """Refuse a hand-written parameters schema that leaves Gemini's subset."""

    def refuse(why: str) -> DeclarationError:
        where = f"parameter '{path}'" if path else "its parameters schema"
        return DeclarationError(f"tool {tool_name}: {where} {why}")

    if not isinstance(schema, dict):
        raise refuse("is not a JSON object")
    unknown = set(schema) - SUBSET_KEYS
    if unknown:
        raise refuse(f"uses {sorted(unknown)}, outside Gemini's declaration schema subset")
    kind = str(schema.get("type", "")).lower()
    if kind not in TYPES:
        raise refuse(f"has type {schema.get('type')!r}; use one of {sorted(TYPES)}")
    if "format" in schema and (kind != "string" or schema["format"] not in ("enum", "date-time")):
        raise refuse("has a format other than 'enum' or 'date-time' on a string")
    if "enum" in schema and (
        kind != "string" or not all(isinstance(v, str) for v in schema["enum"])
    ):
        raise refuse("has an enum that is not a list of strings on a string")
    if kind == "array":
        if "items" not in schema:
            raise refuse("is an array without items")
        check_declared_schema(tool_name, schema["items"], f"{path}[]")
    if kind == "object":
        props = schema.get("properties")
        if not props:
            raise refuse("is an object without properties")
        for name, prop in props.items():
            check_declared_schema(tool_name, prop, f"{path}.{name}" if path else name)
        missing = set(schema.get("required", [])) - set(props)
        if missing:
            raise refuse(f"requires {sorted(missing)}, which are not among its properties")


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def argument_problems(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """What is wrong with arguments against a hand-written schema (empty: nothing)."""
    where = f"argument '{path}'" if path else "the arguments"
    if value is None:
        return [] if schema.get("nullable") or not path else [f"{where} may not be null"]
    kind = str(schema.get("type", "")).lower()
    expected = _PYTHON_TYPES.get(kind, (object,))
    if (isinstance(value, bool) and kind != "boolean") or not isinstance(value, expected):
        return [f"{where} should be {kind}, not {_json_kind(value)}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where} is {value!r} (allowed: {', '.join(map(str, schema['enum']))})"]
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if kind in ("integer", "number") and (
        (lo is not None and value < lo) or (hi is not None and value > hi)
    ):
        return [
            f"{where} is {value} (allowed: {lo if lo is not None else '-inf'} to "
            f"{hi if hi is not None else 'inf'})"
        ]
    problems: list[str] = []
    if kind == "array" and isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 1e18):
            problems.append(f"{where} has {len(value)} items")
        for i, item in enumerate(value):
            problems += argument_problems(schema.get("items", {}), item, f"{path}[{i}]")
    if kind == "object" and isinstance(value, dict):
        props = schema.get("properties", {})
        prefix = f"{path}." if path else ""
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"missing argument '{prefix}{name}'")
        for name, item in value.items():
            if name not in props:
                known = ", ".join(props) or "none"
                problems.append(f"unknown argument '{prefix}{name}' (arguments: {known})")
            else:
                problems += argument_problems(props[name], item, f"{prefix}{name}")
    return problems


def describe_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The tool's description (without the parameter block) and each parameter's."""
    parsed = docstring_parser.parse(doc)
    params = {p.arg_name: p.description for p in parsed.params if p.description}
    if not parsed.meta:  # no recognised sections: the whole text is the description
        return doc.strip(), {}
    parts = [parsed.short_description, parsed.long_description]
    if parsed.returns is not None and parsed.returns.description:
        parts.append(f"Returns {parsed.returns.description}")
    description = "\n\n".join(p.strip() for p in parts if p and p.strip())
    return description, {k: " ".join(v.split()) for k, v in params.items()}


def _sentence(description: str | None, notes: list[str]) -> str:
    """The author's description as written, then each note as a sentence of its own."""
    description = (description or "").strip()
    if not notes:
        return description
    texts = [description.rstrip(".")] if description else []
    texts += [n[0].upper() + n[1:] for n in notes]
    return ". ".join(texts) + "."


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _enum_type(enum: list[Any]) -> str | None:
    kinds = {_json_kind(v) for v in enum}
    if kinds == {"integer", "number"}:
        return "number"
    return kinds.pop() if len(kinds) == 1 else None


def _kind(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    return str(schema.get("type", "any"))
