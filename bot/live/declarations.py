"""The tools of the Live setup: our registry's declarations as Gemini takes them.

Why its own module: Pipecat builds the setup's `tools` from a `ToolsSchema`; we hand
it the declarations `tools.declarations` built (faithful to Gemini's subset) and put
each tool's BLOCKING/NON_BLOCKING into them (Pipecat would infer it from how the
handler was registered). `livebot tools` prints the same, through `setup_tools`.
Every setup is built from the tools the call offers at that moment (a tool may add
or remove tools of its call, `tools.call_tools`; `tool_updates.py` says when).
"""

from __future__ import annotations

from typing import Any

from google.genai import Client
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import AdapterType, ToolsSchema
from pipecat.adapters.llm.services.gemini_live_adapter import GeminiLiveLLMAdapter

from tools.call_tools import CallTools
from tools.registry import ToolRegistry


class DeclaredFunction(FunctionSchema):
    """A tool's declaration as `tools.declarations` built it.

    Pipecat's own always adds an OBJECT `parameters`, which Gemini rejects when it
    has no properties; a parameterless tool goes out without `parameters`.
    """

    def __init__(self, declaration: dict[str, Any]):
        params = declaration.get("parameters") or {}
        super().__init__(
            name=declaration["name"],
            description=declaration["description"],
            properties=params.get("properties", {}),
            required=params.get("required", []),
        )
        self._declaration = declaration

    def to_default_dict(self) -> dict[str, Any]:
        return {"parameters": None, **self._declaration}  # None: left out of the setup


def tools_schema(registry: ToolRegistry, *, google_search: bool = False) -> ToolsSchema | None:
    """Pipecat's tool schema for our registry (plus Google Search grounding if asked)."""
    standard: list[FunctionSchema] = [DeclaredFunction(t.declaration()) for t in registry]
    custom: dict[AdapterType, list[dict[str, Any]]] | None = (
        {AdapterType.GEMINI: [{"google_search": {}}]} if google_search else None
    )
    if not standard and not custom:
        return None
    return ToolsSchema(standard_tools=standard, custom_tools=custom)


def tag_behaviors(
    tools: list[Any], registry: ToolRegistry | CallTools, *, blocking_ok: bool = True
) -> None:
    """Put each declared tool's BLOCKING/NON_BLOCKING into its declaration (every one
    NON_BLOCKING for a model that takes no BLOCKING declarations)."""
    for group in tools:
        if not isinstance(group, dict):
            continue
        for decl in group.get("function_declarations") or []:
            t = registry.get(decl.get("name", ""))
            if t is not None:
                decl["behavior"] = t.behavior.value if blocking_ok else "NON_BLOCKING"


async def setup_tools(
    registry: ToolRegistry,
    *,
    google_search: bool = False,
    non_blocking: bool = True,
    blocking_ok: bool = True,
) -> list[dict[str, Any]]:
    """The `tools` of the setup message as they go over the wire (for `livebot tools`).

    Built as the stage's first connect builds them (Pipecat's adapter, then our
    behaviours), then put through google-genai's own setup conversion (private
    API: a test compares the result with what the emulator receives).
    """
    from google.genai import _common, _live_converters
    from google.genai import live as genai_live
    from google.genai.types import LiveConnectConfig, LiveConnectParameters

    schema = tools_schema(registry, google_search=google_search)
    tools = list(GeminiLiveLLMAdapter().from_standard_tools(schema) or []) if schema else []
    if non_blocking:
        tag_behaviors(tools, registry, blocking_ok=blocking_ok)
    api = Client(api_key="not-used-offline")._api_client
    config = await genai_live._t_live_connect_config(api, LiveConnectConfig(tools=tools))
    params = LiveConnectParameters(model="models/x", config=config).model_dump(exclude_none=True)
    request = _common.convert_to_dict(
        _live_converters._LiveConnectParameters_to_mldev(api_client=api, from_object=params)
    )
    return request["setup"].get("tools", [])
