"""`@tool`: a typed, documented function becomes a `Tool`.

The docstring is the description the model reads (its parameter block, in
Google, NumPy or reST style, describes the parameters); the parameters (types,
`Field` constraints and descriptions, `Literal` choices) become a pydantic model
and, from it, the Gemini declaration, so nobody writes schemas by hand. This is
the one place a function's signature is read; whatever Gemini's declarations
cannot express faithfully is refused here, at import, naming the tool and the
parameter, rather than at the first call.
"""

from __future__ import annotations

import copy
import inspect
import sys
import types
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints, overload

from pydantic import ConfigDict, Field, PydanticUserError, create_model
from pydantic.fields import FieldInfo

from tools.context import CallContext
from tools.declarations import DeclarationError, check_declared_schema, describe_docstring
from tools.definition import Handler, Tool, model_error
from tools.outcomes import Behavior, Scheduling


@overload
def tool(
    fn: Handler,
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
) -> Tool: ...


@overload
def tool(
    fn: None = None,
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
) -> Callable[[Handler], Tool]: ...


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
) -> Tool | Callable[[Handler], Tool]:
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
            raise model_error(tool_name, e) from e
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
