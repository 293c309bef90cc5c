"""LIVE_VIDEO, LIVE_VIDEO_FPS, LIVE_MEDIA_RESOLUTION and a room's own switch."""

from __future__ import annotations

import pytest

from bot.rooms import Room
from bot.settings import SettingsError, load_settings
from bot.video_settings import MediaResolution, call_video, room_video, video_settings


def settings(**env: str):
    return load_settings(env)


def test_video_is_off_unless_the_operator_turns_it_on():
    assert video_settings(settings()).sources == frozenset()
    assert call_video(settings(), Room(name="lobby")) is None
    video = video_settings(
        settings(LIVE_VIDEO="both", LIVE_VIDEO_FPS="0.5", LIVE_MEDIA_RESOLUTION="low")
    )
    assert video.sources == {"camera", "screen"}
    assert (video.fps, video.resolution, video.max_side) == (0.5, MediaResolution.LOW, 384)


def test_wrong_values_say_what_to_set():
    with pytest.raises(SettingsError) as e:
        video_settings(
            settings(LIVE_VIDEO="yes", LIVE_VIDEO_FPS="5", LIVE_MEDIA_RESOLUTION="ultra")
        )
    text = str(e.value)
    assert "LIVE_VIDEO='yes': set it to off, camera, screen or both" in text
    assert "LIVE_VIDEO_FPS=5.0 is out of range" in text
    assert "LIVE_MEDIA_RESOLUTION='ultra' is not allowed" in text


def test_a_model_without_video_input_or_no_compression_is_refused_with_video_on():
    with pytest.raises(SettingsError, match="does not take video input"):
        video_settings(settings(LIVE_VIDEO="camera", LIVE_MODEL="gemini-2.0-flash-live-001"))
    with pytest.raises(SettingsError, match="LIVE_CONTEXT_COMPRESSION=false"):
        video_settings(settings(LIVE_VIDEO="camera", LIVE_CONTEXT_COMPRESSION="false"))
    for model in ("gemini-2.5-flash-native-audio-preview-12-2025", "models/gemini-3.8-live"):
        assert video_settings(settings(LIVE_VIDEO="camera", LIVE_MODEL=model)).sources


def test_a_room_can_narrow_video_but_not_widen_it():
    on = settings(LIVE_VIDEO="camera")
    assert room_video(on, Room(name="a")) == {"camera"}
    assert room_video(on, Room(name="a", toolsets={"video": {"sources": "off"}})) == set()
    assert room_video(on, Room(name="a", toolsets={"video": {"sources": "both"}})) == {"camera"}
    assert room_video(on, Room(name="a", toolsets={"video": {"sources": "bogus"}})) == set()
    off = settings()
    assert room_video(off, Room(name="a", toolsets={"video": {"sources": "both"}})) == set()


def test_the_model_table_says_which_models_take_video_and_at_what_resolution():
    from bot.live.models import Backend, capabilities

    for model in (
        "gemini-3.8-live",
        "gemini-3.8-live-extended-thinking",
        "gemini-3.1-flash-live-preview",
        "gemini-2.5-flash-native-audio-preview-12-2025",
    ):
        for backend in Backend:
            caps = capabilities(model, backend)
            assert caps.video_input and caps.media_resolutions == ("low", "medium", "high")
    assert not capabilities("gemini-2.0-flash-live-001", Backend.DEVELOPER).video_input
    with pytest.raises(SettingsError) as e:
        video_settings(settings(LIVE_VIDEO="screen", LIVE_MODEL="gemini-live-2.5-flash"))
    assert "set LIVE_VIDEO=off or LIVE_MODEL to a Gemini 3.8 Live" in str(e.value)
    live31 = settings(LIVE_VIDEO="both", LIVE_MODEL="gemini-3.1-flash-live-preview")
    assert video_settings(live31).sources == {"camera", "screen"}
