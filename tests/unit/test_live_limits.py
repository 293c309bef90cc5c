"""The call's limits (bot/live/limits.py), Gemini's usage counted (bot/live/usage.py)."""

from __future__ import annotations

import pytest
from google.genai.types import (
    ContextWindowCompressionConfig,
    LiveConnectConfig,
    MediaModality,
    ModalityTokenCount,
    SlidingWindow,
    UsageMetadata,
)

from bot.live.limits import LiveLimits, apply_to_setup
from bot.live.stage import LiveStage
from bot.live.usage import usage_counts
from bot.live.vertex import VertexLiveStage
from bot.settings import SettingsError, load_settings


def test_defaults_keep_15_s_to_send_again_and_cap_nothing():
    assert load_settings({}).live.limits == LiveLimits(replay_seconds=15.0)


def test_limits_are_read_and_checked_with_every_other_setting():
    live = load_settings(
        {
            "LIVE_REPLAY_SECONDS": "30",
            "LIVE_COMPRESSION_TRIGGER_TOKENS": "25000",
            "LIVE_COMPRESSION_TARGET_TOKENS": "16000",
            "LIVE_CALL_MAX_TOKENS": "200000",
            "LIVE_CALL_MAX_MINUTES": "30",
        }
    ).live
    assert live.limits == LiveLimits(30.0, 16000, 200000, 30.0)
    with pytest.raises(SettingsError) as e:
        load_settings(
            {
                "LIVE_REPLAY_SECONDS": "0",
                "LIVE_COMPRESSION_TRIGGER_TOKENS": "20000",
                "LIVE_COMPRESSION_TARGET_TOKENS": "20000",
                "LIVE_CALL_MAX_MINUTES": "soon",
            }
        )
    text = str(e.value)
    assert "LIVE_REPLAY_SECONDS=0.0 is out of range" in text
    assert "LIVE_COMPRESSION_TARGET_TOKENS=20000 must be below LIVE_COMPRESSION_TRIGGER" in text
    assert "LIVE_CALL_MAX_MINUTES='soon' is not a number" in text


def test_the_compression_target_goes_into_the_setup():
    config = LiveConnectConfig(
        context_window_compression=ContextWindowCompressionConfig(
            trigger_tokens=25000, sliding_window=SlidingWindow()
        )
    )
    apply_to_setup(config, LiveLimits(compression_target_tokens=16000))
    assert config.context_window_compression is not None
    assert config.context_window_compression.sliding_window is not None
    assert config.context_window_compression.sliding_window.target_tokens == 16000


def test_only_vertex_asks_for_the_index_of_what_a_handle_holds():
    # google-genai refuses `transparent` on the Developer API
    assert VertexLiveStage.transparent_resumption and not LiveStage.transparent_resumption


def test_usage_by_direction_and_modality_keeps_what_has_no_breakdown():
    usage = UsageMetadata(
        prompt_token_count=120,
        prompt_tokens_details=[
            ModalityTokenCount(modality=MediaModality.TEXT, token_count=70),
            ModalityTokenCount(modality=MediaModality.AUDIO, token_count=40),
        ],
        response_token_count=30,
        response_tokens_details=[ModalityTokenCount(modality=MediaModality.AUDIO, token_count=30)],
        thoughts_token_count=5,
    )
    assert usage_counts(usage) == (
        ("prompt", "text", 70),
        ("prompt", "audio", 40),
        ("prompt", "unspecified", 10),
        ("response", "audio", 30),
        ("thoughts", "unspecified", 5),
    )
