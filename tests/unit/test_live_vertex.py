"""The Vertex AI differences live in one subclass (bot/live/vertex.py), chosen by the backend."""

from dataclasses import replace

import pytest

from bot.live import stage as stage_module
from bot.live.stage import LiveStage
from bot.live.vertex import VertexLiveStage, live_stage
from bot.settings import Backend
from testkit.stage import live_settings


@pytest.fixture(autouse=True)
def no_client(monkeypatch):
    monkeypatch.setattr(stage_module, "shared_client", lambda live, options: object())


def test_the_developer_api_gets_the_plain_stage():
    stage = live_stage(live=live_settings())
    assert type(stage) is LiveStage
    assert stage._get_history_config() is not None


def test_vertex_gets_no_history_config_and_non_blocking_tools_where_the_model_takes_them():
    live = replace(live_settings(), backend=Backend.VERTEX, project="p", location="europe-west1")
    stage = live_stage(live=live)
    assert isinstance(stage, VertexLiveStage)
    assert stage._get_history_config() is None
    assert stage._supports_non_blocking_tools is True  # Vertex AI's Gemini 3.8 Live
    older = live_stage(live=replace(live, model="gemini-live-2.5-flash-native-audio"))
    assert older._supports_non_blocking_tools is False  # breaks tool calling before 3.8
