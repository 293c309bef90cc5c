"""`Tool`: one function the model may call, and the one place its calls are run.

A `Tool` holds what the model is told (the declaration, built and checked in
`tools.declarations`) and the options that govern its calls. `Tool.invoke` turns
a model's call into exactly one `Outcome`: the arguments are validated before the
handler runs, and a bad argument, an exception, a timeout or a result that is
not JSON all become an error result the model can recover from, with a message
naming each bad field. `tools.decorator` makes a `Tool` from a typed function.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from loguru import logger
from pydantic import BaseModel, PydanticUserError, ValidationError

from tools.context import CallContext, CallInfo, ProgressSender
from tools.declarations import DeclarationError, argument_problems, parameters_schema
from tools.outcomes import Behavior, Outcome, Result, Scheduling, ToolError, as_response

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
                raise model_error(self.name, e) from e
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
        info: CallInfo | None = None,
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
            kwargs[self.context_param] = CallContext(call_id, self, progress, info or CallInfo())
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
            response = as_response(value)
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


def model_error(tool_name: str, error: PydanticUserError) -> DeclarationError:
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
