"""The lights tools as the model meets them: through the Live stage and the emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gemini_emulator import LiveSession
from gemini_emulator.testing import running_emulator
from tests.lights.conftest import context
from tests.live.harness import running_stage
from tools.lights import toolset
from tools.registry import ToolRegistry

pytestmark = pytest.mark.timeout(60)


async def test_set_then_list_on_the_wire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    lights = toolset(context(tmp_path / "lights", {}))
    assert lights.start is not None and lights.stop is not None
    await lights.start()
    ready = asyncio.Event()
    ids: dict[str, str] = {}
    done = asyncio.Event()

    async def model(s: LiveSession) -> None:
        await ready.wait()
        # The caller asks (lights change only on the caller's own request).
        await s.send_raw(s.transcribe("kitchen ceiling to sixty percent, and the garage on"))
        ids["ok"], ids["bad"] = await s.call_tools(
            [
                ("set_light", {"name": "kitchen ceiling", "brightness": 60}),
                ("set_light", {"name": "garage", "on": True}),
            ]
        )
        await s.tool_response(ids["ok"])
        await s.tool_response(ids["bad"])
        ids["list"] = await s.call_tool("list_lights", {"room": "kitchen"})
        await s.tool_response(ids["list"])
        await s.say("The kitchen ceiling is at sixty percent.")
        done.set()

    try:
        async with (
            running_emulator(tmp_path / "emu", script=model) as emu,
            running_stage(emu, monkeypatch, tools=ToolRegistry(lights.tools)) as h,
        ):
            async with asyncio.timeout(30):
                while getattr(h.stage, "_context", None) is None or not emu.sessions:
                    await asyncio.sleep(0.02)
                ready.set()
                while not done.is_set():
                    if emu.sessions[0].script_error is not None:
                        raise emu.sessions[0].script_error
                    await asyncio.sleep(0.02)
            session = emu.sessions[0]
    finally:
        await lights.stop()

    decls = session.function_declarations
    assert {"list_lights", "set_light", "set_room", "set_all", "set_scene"} <= set(decls)
    assert decls["set_light"]["behavior"] == "NON_BLOCKING"

    responses: dict[str, Any] = {r.id: r for r in session.function_responses}
    assert len(session.function_responses) == 3
    ok, bad, listed = responses[ids["ok"]], responses[ids["bad"]], responses[ids["list"]]
    assert ok.scheduling == "SILENT" and ok.final
    assert ok.response["lights"][0]["brightness"] == 60 and ok.response["lights"][0]["on"]
    assert bad.scheduling == "INTERRUPT"
    assert "garage" in bad.response["error"] and "kitchen ceiling" in bad.response["error"]
    assert listed.scheduling == "WHEN_IDLE"
    names = {x["name"]: x for x in listed.response["lights"]}
    assert set(names) == {"kitchen ceiling", "kitchen counter"}
    assert names["kitchen ceiling"]["brightness"] == 60
