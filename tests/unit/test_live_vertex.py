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


def test_vertex_gets_no_history_config_and_no_non_blocking_tools():
    live = replace(live_settings(), backend=Backend.VERTEX, project="p", location="europe-west1")
    stage = live_stage(live=live)
    assert isinstance(stage, VertexLiveStage)
    assert stage._get_history_config() is None
    assert stage._supports_non_blocking_tools is False
