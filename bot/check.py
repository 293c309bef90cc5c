"""`livebot check`: the settings checked, then one real Live session opened with them.

Why: a setup the model refuses is otherwise found by the first caller. This opens one
session against the configured endpoint (Google's, the SDK's `GOOGLE_GEMINI_BASE_URL`,
or the built-in emulator when no key is set) with exactly what a call sends: the setup
is built by the stage itself (Pipecat's `_connect` and our seams), only the receive
loop is replaced by one timed connect. It prints what the model accepted, what was
left out and why, the tool declarations, and the setup round trip.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from typing import Any

from google.genai import errors

from bot.live.models import Backend, capabilities
from bot.live.vertex import VertexLiveStage
from bot.settings import Settings, feature_warnings
from tools.registry import ToolRegistry
from tools.toolset import Toolset, registry_of

CONNECT_TIMEOUT = 30.0


@dataclass
class Probe:
    """What one setup round trip showed."""

    setup: dict[str, Any] | None = None  # the setup message as it went over the wire
    seconds: float | None = None  # connect + setup → setupComplete
    refused: str | None = None  # the endpoint's close code and reason
    failed: str | None = None  # anything else that kept the session from opening


def _probe_stage(live: Any, registry: ToolRegistry, google_search: bool) -> Any:
    """The call's own stage class, with the socket's receive loop replaced by one timed setup."""
    from bot.live.stage import LiveStage

    base = VertexLiveStage if live.backend is Backend.VERTEX else LiveStage

    class SetupProbe(base):  # type: ignore[valid-type,misc]
        probe: Probe

        def create_task(self, coroutine: Any, name: str | None = None) -> asyncio.Task:
            return asyncio.get_running_loop().create_task(coroutine)  # no pipeline here

        async def push_error(self, error_msg: str = "", exception: Any = None, **_: Any) -> None:
            self.probe.failed = error_msg or str(exception)

        async def _connection_task_handler(self, config: Any) -> None:
            config = await self._finisher.finish(config)
            model = self._settings.model
            self.probe.setup = await wire_setup(self._client, model, config)
            start = time.perf_counter()
            try:
                async with self._client.aio.live.connect(model=model, config=config):
                    self.probe.seconds = time.perf_counter() - start
            except errors.APIError as e:  # google-genai: a close before setupComplete
                self.probe.refused = f"{e.code} {e.message or e.status or e}"
            except Exception as e:
                self.probe.failed = f"{type(e).__name__}: {e}"

    stage = SetupProbe(live=live, tools=registry, google_search=google_search)
    stage.probe = Probe()
    return stage


async def wire_setup(client: Any, model: str, config: Any) -> dict[str, Any]:
    """The `setup` as google-genai puts it on the wire (private API, as `setup_tools`)."""
    from google.genai import _common, _live_converters, _transformers
    from google.genai import live as genai_live
    from google.genai.types import LiveConnectParameters

    api = client._api_client
    params = await genai_live._t_live_connect_config(api, config)
    name = _transformers.t_model(api, model)
    convert = (
        _live_converters._LiveConnectParameters_to_vertex
        if api.vertexai
        else _live_converters._LiveConnectParameters_to_mldev
    )
    request = _common.convert_to_dict(
        convert(
            api_client=api,
            from_object=LiveConnectParameters(model=name, config=params).model_dump(
                exclude_none=True
            ),
        )
    )
    setup: dict[str, Any] = request["setup"]
    setup["model"] = name
    return setup


def endpoint_of(settings: Settings) -> str:
    live = settings.live
    if live.backend is Backend.VERTEX:
        return os.environ.get("GOOGLE_VERTEX_BASE_URL") or (
            f"https://{live.location}-aiplatform.googleapis.com"
        )
    return os.environ.get("GOOGLE_GEMINI_BASE_URL") or "https://generativelanguage.googleapis.com"


async def check(settings: Settings, toolsets: list[Toolset], *, as_json: bool = False) -> int:
    """Open one Live session with these settings; print what happened; 0 if it was accepted."""
    async with AsyncExitStack() as stack:
        for toolset in toolsets:  # started as for a call: the room's words come from them
            if toolset.start is not None:
                await toolset.start()
            if toolset.stop is not None:
                stack.push_async_callback(toolset.stop)
        live = settings.live
        where = ""
        if live.offline:
            from bot.offline import offline_live

            key = await stack.enter_async_context(offline_live(settings.data_dir))
            live = replace(live, api_key=key)
            where = " (the built-in emulator: no GOOGLE_API_KEY is set)"
        settings = replace(settings, live=live)
        caps = capabilities(live.model, live.backend)
        version = live.api_version or "the SDK's default"
        print(f"Gemini Live: {live.backend.value}, model {live.model} ({caps.family})")
        print(f"API version: {version}")
        print(f"Endpoint: {endpoint_of(settings)}{where}")
        for note in feature_warnings(live):
            print(f"Notice: {note}")
        stage = _probe_stage(live, registry_of(toolsets), settings.google_search)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await stage._connect()
                if stage._connection_task is not None:
                    await stage._connection_task
        except TimeoutError:
            stage.probe.failed = f"no answer to the setup within {CONNECT_TIMEOUT:g} s"
        return report(stage.probe, as_json=as_json)


def report(probe: Probe, *, as_json: bool = False) -> int:
    setup = probe.setup or {}
    if setup:
        print("Setup sent (what the model was asked to accept):")
        for key, value in setup.items():
            if key == "tools":
                continue
            if key == "systemInstruction":
                text = "".join(p.get("text", "") for p in value.get("parts", []))
                print(f"  systemInstruction: {len(text)} characters")
                continue
            print(f"  {key}: {json.dumps(value, sort_keys=True)}")
        tools = setup.get("tools") or []
        decls = [d for t in tools for d in t.get("functionDeclarations") or []]
        others = [k for t in tools for k in t if k != "functionDeclarations"]
        extra = "".join(f", {k}" for k in others)
        print(f"Tool declarations sent ({len(decls)} functions{extra}):")
        for d in decls:
            behavior = d.get("behavior")
            said = getattr(behavior, "value", behavior) or "no behavior field (BLOCKING)"
            params = len((d.get("parameters") or {}).get("properties") or {})
            print(f"  {d['name']}: {said}, {params} parameter(s)")
        if as_json:
            print(json.dumps(setup, indent=2, sort_keys=True, default=str))
    if probe.seconds is not None:
        print(
            f"OK: the model accepted the setup; setupComplete {probe.seconds * 1000:.0f} ms "
            "after connecting (connect, TLS, WebSocket and setup round trip)."
        )
        return 0
    if probe.refused is not None:
        print(
            f"REFUSED: the endpoint closed the session before setupComplete: {probe.refused}\n"
            "Fix the setting it names in .env (see .env.example), or choose a LIVE_MODEL "
            "that takes it; then run ./livebot check again."
        )
    else:
        print(f"FAILED: no Live session could be opened: {probe.failed or 'unknown error'}")
    return 1
