"""Vertex AI's setup as the stage builds it: its own model form, behaviours where the model
takes them, no history config (the emulator speaks only the Developer API, so this is
the Vertex conversion google-genai does, checked without a socket)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from bot.check import _probe_stage
from bot.settings import load_settings
from tools.api import Behavior, Scheduling, tool
from tools.registry import ToolRegistry


def registry() -> ToolRegistry:
    @tool(behavior=Behavior.BLOCKING)
    async def read_clock() -> dict:
        """The time."""
        return {}

    @tool(scheduling=Scheduling.WHEN_IDLE)
    async def next_event() -> dict:
        """The next event."""
        return {}

    return ToolRegistry([read_clock, next_event])


async def vertex_setup(monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[dict, list]:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    live = load_settings({"LIVE_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": "p", **env}).live
    stage = _probe_stage(live, registry(), google_search=False)
    connected: list[Any] = []

    @contextlib.asynccontextmanager
    async def connect(*, model: str, config: Any):
        connected.append((model, config))
        yield object()

    monkeypatch.setattr(stage._client.aio.live, "connect", connect)
    await stage._connect()
    await stage._connection_task
    assert stage.probe.failed is None and stage.probe.setup is not None
    return stage.probe.setup, connected


async def test_vertex_38_gets_its_model_form_and_non_blocking_declarations(monkeypatch):
    setup, connected = await vertex_setup(
        monkeypatch, GOOGLE_CLOUD_LOCATION="europe-west4", LIVE_CUSTOM_VOCABULARY="Kallax"
    )
    full = "projects/p/locations/europe-west4/publishers/google/models/gemini-3.8-live"
    assert setup["model"] == full and connected[0][0] == full
    decls = {d["name"]: d for d in setup["tools"][0]["functionDeclarations"]}
    behavior = decls["next_event"]["behavior"]
    assert getattr(behavior, "value", behavior) == "NON_BLOCKING"
    assert "historyConfig" not in setup  # Vertex AI refuses it
    assert connected[0][1].input_audio_transcription.custom_vocabulary == ["Kallax"]


async def test_vertex_before_38_gets_no_behaviour_fields(monkeypatch):
    setup, _ = await vertex_setup(monkeypatch, LIVE_MODEL="gemini-live-2.5-flash-native-audio")
    assert setup["model"].endswith("/publishers/google/models/gemini-live-2.5-flash-native-audio")
    decls = setup["tools"][0]["functionDeclarations"]
    assert all("behavior" not in d for d in decls)
