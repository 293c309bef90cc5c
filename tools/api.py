"""The tool API: a documented, typed async function *is* a tool.

    @tool(behavior=Behavior.NON_BLOCKING, scheduling=Scheduling.SILENT)
    async def set_light(
        name: Annotated[str, Field(description="The light's name, e.g. 'kitchen'")],
        on: bool,
    ) -> dict:
        '''Switch one light on or off.'''

The function's docstring is the description the model reads; its parameters
(types, `Field` constraints and descriptions, `Literal` choices) become the JSON
schema of the Gemini function declaration, so nobody writes schemas by hand.
`Tool.invoke` is the one place that turns a model's call into exactly one
outcome: arguments are validated before the handler runs, and a bad argument,
an exception, a timeout or a result that is not JSON all become an error result
the model can recover from.

A tool that changes something in the world declares it: `@tool(acting=True)`.
The Live stage then runs it only when the model is answering the caller's own
turn (`bot/live/caller_intent.py`: turn order, never words), and after the model
has read any tool's result in that turn only once the caller has confirmed.
`confirm=True` (or a function of the arguments, e.g. "no room given: the whole
house") asks for that confirmation every time: destructive or whole-house changes.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, get_type_hints

from loguru import logger
from pydantic import BaseModel, ConfigDict, ValidationError, create_model


class Behavior(StrEnum):
    """Whether the model waits for the tool (BLOCKING) or talks on while it runs."""

    BLOCKING = "BLOCKING"
    NON_BLOCKING = "NON_BLOCKING"


class Scheduling(StrEnum):
    """When the model takes up a NON_BLOCKING tool's result."""

    INTERRUPT = "INTERRUPT"  # at once, cutting off what it is saying
    WHEN_IDLE = "WHEN_IDLE"  # when it finishes what it is saying
    SILENT = "SILENT"  # take it in without saying anything


@dataclass(frozen=True)
class Result:
    """A handler's return value with its own scheduling, overriding the tool's default."""

    value: Any
    scheduling: Scheduling | None = None


class ToolError(Exception):
    """A failure the model should hear about; the message is what it is told."""


@dataclass(frozen=True)
class Outcome:
    """What goes back to the model for one call: the response and its scheduling."""

    response: dict[str, Any]
    scheduling: Scheduling
    ok: bool


ProgressSender = Callable[[dict[str, Any], Scheduling], Awaitable[None]]


@dataclass
class CallContext:
    """Passed to a handler that declares a parameter of this type.

    `progress()` sends an intermediate result (`will_continue`) while a long
    NON_BLOCKING tool keeps working.
    """

    call_id: str
    tool: Tool
    _send_progress: ProgressSender | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    async def progress(self, value: Any, scheduling: Scheduling = Scheduling.SILENT) -> None:
        """Tell the model how the work is going; the call stays open."""
        if self.tool.behavior is not Behavior.NON_BLOCKING:
            raise ToolError("only NON_BLOCKING tools can report progress")
        if self._send_progress is not None:
            await self._send_progress(_as_response(value), scheduling)


Handler = Callable[..., Awaitable[Any]]

# JSON-schema keys the Gemini function-declaration schema (an OpenAPI 3.0 subset) takes.
_GEMINI_SCHEMA_KEYS = {
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
    "minLength",
    "maxLength",
    "pattern",
    "anyOf",
    "propertyOrdering",
}


@dataclass
class Tool:
    """One function the model may call, with the options that govern its calls."""

    name: str
    description: str
    handler: Handler
    arguments: type[BaseModel]
    behavior: Behavior = Behavior.NON_BLOCKING
    scheduling: Scheduling = Scheduling.WHEN_IDLE
    error_scheduling: Scheduling = Scheduling.INTERRUPT
    timeout: float = 10.0
    cancel_on_barge_in: bool = False
    context_param: str | None = None
    # It changes something in the world: it runs only on the caller's own request.
    acting: bool = False
    # Acting, and the caller confirms every call (or the calls this returns True for).
    confirm: bool | Callable[[Mapping[str, Any]], bool] = False

    def needs_confirmation(self, arguments: Mapping[str, Any] | None) -> bool:
        """Whether this call needs the caller's confirmation whatever came before."""
        if callable(self.confirm):
            try:
                return bool(self.confirm(dict(arguments or {})))
            except Exception:
                return True  # an argument the predicate cannot read: ask
        return self.confirm

    def declaration(self) -> dict[str, Any]:
        """The Gemini function declaration: name, description, parameters schema.

        `behavior` is not part of it; the Live stage adds it, because whether a
        backend takes it depends on the backend.
        """
        schema = gemini_schema(self.arguments.model_json_schema())
        decl: dict[str, Any] = {"name": self.name, "description": self.description}
        if schema.get("properties"):
            decl["parameters"] = schema
        return decl

    def parse(self, arguments: Mapping[str, Any]) -> BaseModel:
        """Validate the model's arguments; raise `ToolError` naming each bad field."""
        try:
            return self.arguments.model_validate(dict(arguments))
        except ValidationError as e:
            raise ToolError(describe_validation_error(e, self.arguments)) from e

    async def invoke(
        self,
        arguments: Mapping[str, Any],
        call_id: str = "local",
        progress: ProgressSender | None = None,
        extras: dict[str, Any] | None = None,
    ) -> Outcome:
        """Run one call to completion and turn whatever happens into one outcome."""
        log = logger.bind(tool=self.name, call_id=call_id)
        try:
            parsed = self.parse(arguments)
        except ToolError as e:
            log.warning(f"tool {self.name} refused arguments {dict(arguments)}: {e}")
            return self._error(str(e))
        kwargs = dict(parsed)
        if self.context_param:
            kwargs[self.context_param] = CallContext(call_id, self, progress, extras or {})
        try:
            async with asyncio.timeout(self.timeout):
                value = await self.handler(**kwargs)
        except TimeoutError:
            log.warning(f"tool {self.name} timed out after {self.timeout:g} s")
            return self._error(f"{self.name} did not finish within {self.timeout:g} seconds")
        except ToolError as e:
            log.info(f"tool {self.name} failed: {e}")
            return self._error(str(e))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception(f"tool {self.name} raised {type(e).__name__}: {e}")
            return self._error(f"{self.name} failed unexpectedly ({type(e).__name__})")
        scheduling = self.scheduling
        if isinstance(value, Result):
            scheduling = value.scheduling or scheduling
            value = value.value
        try:
            response = _as_response(value)
        except (TypeError, ValueError) as e:  # not JSON, or NaN/infinity
            log.error(f"tool {self.name} returned something that is not JSON: {e}")
            return self._error(f"{self.name} returned a result that could not be read")
        return Outcome(response=response, scheduling=scheduling, ok=True)

    def refusal(self, message: str, reason: str) -> Outcome:
        """Not run: the caller did not ask for it (yet). Heard at once, so the model asks."""
        return Outcome(
            response={"error": message, "not_done": reason},
            scheduling=Scheduling.INTERRUPT,
            ok=False,
        )

    def _error(self, message: str) -> Outcome:
        return Outcome(response={"error": message}, scheduling=self.error_scheduling, ok=False)


def _as_response(value: Any) -> dict[str, Any]:
    """Gemini's FunctionResponse.response must be a JSON object."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    json.dumps(value, allow_nan=False)  # raises TypeError/ValueError on non-JSON
    if isinstance(value, dict):
        return value
    return {"result": value}


def tool(
    fn: Handler | None = None,
    *,
    name: str | None = None,
    behavior: Behavior = Behavior.NON_BLOCKING,
    scheduling: Scheduling = Scheduling.WHEN_IDLE,
    error_scheduling: Scheduling = Scheduling.INTERRUPT,
    timeout: float = 10.0,
    cancel_on_barge_in: bool = False,
    acting: bool = False,
    confirm: bool | Callable[[Mapping[str, Any]], bool] = False,
) -> Any:
    """Make a `Tool` from a typed async function (usable bare or with options).

    `acting`: the tool changes something (the caller-intent guard applies);
    `confirm`: the caller confirms every call, or those the function returns True for
    (given the call's arguments); it implies `acting`.
    """

    def make(f: Handler) -> Tool:
        if not inspect.iscoroutinefunction(f):
            raise TypeError(f"tool {f.__name__} must be an async function")
        description = inspect.getdoc(f)
        if not description:
            raise TypeError(f"tool {f.__name__} needs a docstring: it is what the model reads")
        hints = get_type_hints(f, include_extras=True)
        fields: dict[str, Any] = {}
        context_param = None
        for pname, param in inspect.signature(f).parameters.items():
            annotation = hints.get(pname, Any)
            if annotation is CallContext:
                context_param = pname
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"tool {f.__name__}: *args/**kwargs cannot be declared to a model")
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (annotation, default)
        model_name = "".join(part.title() for part in (name or f.__name__).split("_")) + "Args"
        arguments = create_model(
            model_name,
            __config__=ConfigDict(extra="forbid", use_attribute_docstrings=True),
            **fields,
        )
        return Tool(
            name=name or f.__name__,
            description=description,
            handler=f,
            arguments=arguments,
            behavior=behavior,
            scheduling=scheduling,
            error_scheduling=error_scheduling,
            timeout=timeout,
            cancel_on_barge_in=cancel_on_barge_in,
            context_param=context_param,
            acting=acting or confirm is not False,
            confirm=confirm,
        )

    return make(fn) if fn is not None else make


def gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Turn pydantic's JSON schema into the subset Gemini's declarations accept.

    `$ref`s are inlined, `Optional[X]` becomes X with `nullable`, `const`
    becomes a one-value enum, and keys Gemini has no field for are dropped.
    """
    defs = schema.get("$defs", {})

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return convert(merged)
        node = dict(node)
        options = node.get("anyOf")
        if isinstance(options, list):
            non_null = [o for o in options if o != {"type": "null"}]
            if len(non_null) < len(options):
                node.pop("anyOf")
                if len(non_null) == 1:
                    return convert({**non_null[0], **node, "nullable": True})
                node["anyOf"] = non_null
                node["nullable"] = True
        if "const" in node:
            node["enum"] = [node.pop("const")]
        if "enum" in node and "type" not in node:
            node["type"] = "string"
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key not in _GEMINI_SCHEMA_KEYS:
                continue
            if key == "properties":
                out[key] = {k: convert(v) for k, v in value.items()}
            else:
                out[key] = convert(value)
        return out

    converted = convert(schema)
    converted.setdefault("type", "object")
    return converted


def describe_validation_error(error: ValidationError, model: type[BaseModel]) -> str:
    """One sentence per bad field, naming the field and what it may be."""
    schema = gemini_schema(model.model_json_schema())
    props = schema.get("properties", {})
    parts = []
    for err in error.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "arguments"
        field_schema = props.get(str(err["loc"][0]), {}) if err["loc"] else {}
        allowed = ""
        if "enum" in field_schema:
            allowed = f" (allowed: {', '.join(map(str, field_schema['enum']))})"
        elif "minimum" in field_schema or "maximum" in field_schema:
            lo, hi = field_schema.get("minimum", "-inf"), field_schema.get("maximum", "inf")
            allowed = f" (allowed: {lo} to {hi})"
        if err["type"] == "extra_forbidden":
            known = ", ".join(props) or "none"
            parts.append(f"unknown argument '{loc}' (arguments: {known})")
        elif err["type"] == "missing":
            parts.append(f"missing argument '{loc}'{allowed}")
        else:
            parts.append(f"argument '{loc}': {err['msg']}{allowed}")
    return "; ".join(parts)
