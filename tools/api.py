"""The tool API: a documented, typed function *is* a tool.

    @tool(behavior=Behavior.NON_BLOCKING, scheduling=Scheduling.SILENT)
    async def set_light(name: str, on: bool, call: CallContext) -> dict:
        '''Switch one light on or off.

        Args:
            name: The light's name, e.g. 'kitchen'.
            on: Whether it should be on.
        '''

The docstring is the description the model reads (its parameter block, in
Google, NumPy or reST style, describes the parameters instead); the parameters
(types, `Field` constraints and descriptions, `Literal` choices) become the
Gemini function declaration, built and checked in `tools.declarations`, so
nobody writes schemas by hand (but a tool may, with `parameters=`). A parameter
annotated `CallContext` gets the call's context whatever its name. A plain
function runs in a worker thread. `Tool.invoke` is the one place that turns a
model's call into exactly one outcome: arguments are validated before the
handler runs, and a bad argument, an exception, a timeout or a result that is
not JSON all become an error result the model can recover from. The result
itself goes to the model as the handler returned it.

A tool that changes something in the world declares it: `@tool(acting=True)`.
The Live stage then runs it only when the model is answering the caller's own
turn (`bot/live/caller_intent.py`: turn order, never words), and after the model
has read any tool's result in that turn only once the caller has confirmed.
`confirm=True` (or a function of the arguments, e.g. "no room given: the whole
house") asks for that confirmation every time: destructive or whole-house changes.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import re
import sys
import types
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, ValidationError, create_model
from pydantic.fields import FieldInfo

from tools.declarations import (
    DeclarationError,
    argument_problems,
    check_declared_schema,
    describe_docstring,
    parameters_schema,
)


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


Handler = Callable[..., Any]  # async, or plain (run in a worker thread)


@dataclass
class Tool:
    """One function the model may call, with the options that govern its calls."""

    name: str
    description: str
    handler: Handler
    arguments: type[BaseModel]
    # The declaration's `parameters` (None: the tool takes none). Built from
    # `arguments` unless the tool gave its own schema (`raw_param` then names the
    # handler parameter that receives the arguments as one dict).
    parameters: dict[str, Any] | None = None
    raw_param: str | None = None
    in_thread: bool = False  # a plain function: run in a worker thread
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

    def __post_init__(self) -> None:
        if self.parameters is None and self.raw_param is None:
            try:
                schema = self.arguments.model_json_schema()
            except PydanticUserError as e:
                raise _model_error(self.name, e) from e
            self.parameters = parameters_schema(self.name, schema)

    def declaration(self) -> dict[str, Any]:
        """The Gemini function declaration: name, description, parameters schema.

        `behavior` is not part of it; the Live stage adds it, because whether a
        backend takes it depends on the backend. A tool without parameters has
        no `parameters` (Gemini rejects an OBJECT without properties).
        """
        decl: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.parameters is not None:
            decl["parameters"] = copy.deepcopy(self.parameters)
        return decl

    def parse(self, arguments: Mapping[str, Any]) -> BaseModel | dict[str, Any]:
        """Validate the model's arguments; raise `ToolError` naming each bad field."""
        if self.raw_param is not None:
            problems = argument_problems(self.parameters or {}, dict(arguments))
            if problems:
                raise ToolError("; ".join(problems))
            return {self.raw_param: dict(arguments)}
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
        kwargs = dict(parsed) if isinstance(parsed, BaseModel) else parsed
        if self.context_param:
            kwargs[self.context_param] = CallContext(call_id, self, progress, extras or {})
        try:
            async with asyncio.timeout(self.timeout):
                if self.in_thread:
                    # A timeout answers the model; the thread itself runs to its end.
                    value = await asyncio.to_thread(self.handler, **kwargs)
                    if inspect.isawaitable(value):
                        value = await value
                else:
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
    parameters: Mapping[str, Any] | None = None,
    behavior: Behavior = Behavior.NON_BLOCKING,
    scheduling: Scheduling = Scheduling.WHEN_IDLE,
    error_scheduling: Scheduling = Scheduling.INTERRUPT,
    timeout: float = 10.0,
    cancel_on_barge_in: bool = False,
    acting: bool = False,
    confirm: bool | Callable[[Mapping[str, Any]], bool] = False,
) -> Any:
    """Make a `Tool` from a typed, documented function (usable bare or with options).

    The function may be async or plain (a plain one runs in a worker thread). Its
    docstring (Google, NumPy or reST style) is the description; its parameter
    block describes the parameters. A parameter annotated `CallContext` (or
    `CallContext | None`), whatever its name, receives the call's context.
    `parameters=` gives the declaration's schema by hand (Gemini's subset); the
    function then takes one other parameter, which receives the arguments dict.
    Anything Gemini's declarations cannot express faithfully is refused here,
    naming the tool and the parameter (`DeclarationError`, a `TypeError`).
    `acting`: the tool changes something (the caller-intent guard applies);
    `confirm`: the caller confirms every call, or those the function returns True for
    (given the call's arguments); it implies `acting`.
    """
    caller = sys._getframe(1).f_locals  # where local models of the tool module live

    def make(f: Handler) -> Tool:
        tool_name = name or f.__name__
        doc = inspect.getdoc(f)
        if not doc:
            raise TypeError(f"tool {tool_name} needs a docstring: it is what the model reads")
        description, documented = describe_docstring(doc)
        hints = _type_hints(tool_name, f, caller)
        params = inspect.signature(f).parameters
        unknown = set(documented) - set(params)
        if unknown:
            raise TypeError(
                f"tool {tool_name}: its docstring describes {sorted(unknown)}, "
                f"which are not among its parameters ({', '.join(params) or 'none'})"
            )
        fields: dict[str, Any] = {}
        context_param = None
        for pname, param in params.items():
            annotation = hints.get(pname, Any)
            if _is_context(tool_name, pname, annotation):
                if context_param is not None:
                    raise TypeError(
                        f"tool {tool_name}: two CallContext parameters "
                        f"('{context_param}', '{pname}'); declare one"
                    )
                context_param = pname
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
                raise TypeError(
                    f"tool {tool_name}: parameter '{pname}' is not a keyword parameter "
                    "(*args, **kwargs or positional-only), which a model cannot pass"
                )
            default = ... if param.default is inspect.Parameter.empty else param.default
            if pname in documented:
                info = FieldInfo.from_annotated_attribute(annotation, default)
                if not info.description:
                    annotation = Annotated[annotation, Field(description=documented[pname])]
            fields[pname] = (annotation, default)
        raw_param = None
        declared = None
        if parameters is not None:
            if len(fields) != 1:
                raise TypeError(
                    f"tool {tool_name} gives its own parameters schema, so it takes one "
                    f"parameter for the arguments dict (it has {len(fields)}: "
                    f"{', '.join(fields) or 'none'})"
                )
            raw_param = next(iter(fields))
            declared = copy.deepcopy(dict(parameters))
            check_declared_schema(tool_name, declared)
            if declared.get("type") != "object":
                raise DeclarationError(f"tool {tool_name}: its parameters schema must be an object")
            fields = {}
        model_name = "".join(part.title() for part in tool_name.split("_")) + "Args"
        try:
            arguments = create_model(
                model_name,
                __config__=ConfigDict(extra="forbid", use_attribute_docstrings=True),
                **fields,
            )
        except PydanticUserError as e:
            raise _model_error(tool_name, e) from e
        return Tool(
            name=tool_name,
            description=description,
            handler=f,
            arguments=arguments,
            parameters=declared,
            raw_param=raw_param,
            in_thread=not inspect.iscoroutinefunction(f),
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


def _type_hints(tool_name: str, f: Handler, local_names: Mapping[str, Any]) -> dict[str, Any]:
    """The function's annotations, string ones (`from __future__ import annotations`) too."""
    try:
        return get_type_hints(f, localns=dict(local_names), include_extras=True)
    except NameError as e:
        raise TypeError(
            f"tool {tool_name}: the annotation {e.name or e} is not defined where "
            f"@tool runs; define it (e.g. your model) at module level, before the tool"
        ) from e


def _model_error(tool_name: str, error: PydanticUserError) -> DeclarationError:
    """Pydantic's complaint about a parameter model, said about the tool."""
    first = str(error).splitlines()[0]
    if error.code == "class-not-fully-defined":
        missing = re.search(r"define `([^`]+)`", first)
        name = missing.group(1) if missing else "a type it names"
        return DeclarationError(
            f"tool {tool_name}: a model among its parameters refers to {name}, which is "
            "not defined where that model is: define it before the model"
        )
    return DeclarationError(f"tool {tool_name}: {first}")


def _is_context(tool_name: str, pname: str, annotation: Any) -> bool:
    """Whether the parameter is the call context: `CallContext`, optional or annotated."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, CallContext):
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        members = get_args(annotation)
        if not any(isinstance(m, type) and issubclass(m, CallContext) for m in members):
            return False
        if all(
            m is type(None) or (isinstance(m, type) and issubclass(m, CallContext)) for m in members
        ):
            return True  # CallContext | None: it is always given
        raise TypeError(
            f"tool {tool_name}: parameter '{pname}' is CallContext or something else; "
            "the context is given by livebot, not by the model: annotate it CallContext"
        )
    return False


def describe_validation_error(error: ValidationError, model: type[BaseModel]) -> str:
    """One sentence per bad field, naming the field and what it may be."""
    schema = model.model_json_schema()
    props = schema.get("properties", {})
    parts = []
    for err in error.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "arguments"
        field_schema = _plain(schema, props.get(str(err["loc"][0]), {})) if err["loc"] else {}
        allowed = ""
        if "enum" in field_schema or "const" in field_schema:
            choices = field_schema.get("enum", [field_schema.get("const")])
            allowed = f" (allowed: {', '.join(map(str, choices))})"
        elif {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & field_schema.keys():
            lo = field_schema.get("minimum", field_schema.get("exclusiveMinimum", "-inf"))
            hi = field_schema.get("maximum", field_schema.get("exclusiveMaximum", "inf"))
            allowed = f" (allowed: {lo} to {hi})"
        if err["type"] == "extra_forbidden":
            known = ", ".join(props) or "none"
            parts.append(f"unknown argument '{loc}' (arguments: {known})")
        elif err["type"] == "missing":
            parts.append(f"missing argument '{loc}'{allowed}")
        else:
            parts.append(f"argument '{loc}': {err['msg']}{allowed}")
    return "; ".join(parts)


def _plain(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A field's schema with its `$ref` and `Optional` unwrapped (for the messages)."""
    options = [o for o in node.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        node = {**options[0], **{k: v for k, v in node.items() if k != "anyOf"}}
    if "$ref" in node:
        target = schema.get("$defs", {}).get(node["$ref"].rsplit("/", 1)[-1], {})
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node
