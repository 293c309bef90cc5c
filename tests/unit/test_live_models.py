"""The model table: each family's rules per backend, and what an operator is told at start."""

from __future__ import annotations

import pytest

from bot.live.client import pipecat_settings
from bot.live.models import Backend, Support, capabilities, check_live, normalized_model
from bot.settings import SettingsError, feature_warnings, load_settings

KEY = {"GOOGLE_API_KEY": "k"}
NATIVE_25 = "gemini-2.5-flash-native-audio-preview-12-2025"


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as err:
        load_settings({**KEY, **env})
    assert len(err.value.problems) == 1, err.value.problems
    return err.value.problems[0]


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("models/gemini-3.8-live", "Gemini 3.8 Live"),
        ("gemini-3.8-live-extended-thinking", "Gemini 3.8 Live thinking"),
        ("models/gemini-3.1-flash-live-preview", "Gemini 3.1 Flash Live"),
        (NATIVE_25, "Gemini 2.5 Flash native audio"),
        ("gemini-live-2.5-flash-native-audio", "Gemini 2.5 Flash native audio"),
        ("gemini-live-2.5-flash", "Gemini Live half-cascade (2.0 / 2.5 Flash Live)"),
        ("models/gemini-2.0-flash-live-001", "Gemini Live half-cascade (2.0 / 2.5 Flash Live)"),
        ("projects/p/locations/l/publishers/google/models/gemini-3.8-live", "Gemini 3.8 Live"),
    ],
)
def test_every_family_is_found_from_any_spelling_of_its_id(model: str, family: str):
    assert capabilities(model, Backend.DEVELOPER).family == family


def test_the_table_says_what_each_family_takes_on_each_backend():
    live38 = capabilities("gemini-3.8-live", Backend.DEVELOPER)
    assert live38.proactive_audio is Support.ALWAYS_ON
    assert live38.affective_dialog is Support.REMOVED
    assert not live38.thinking_budget and not live38.thinking_levels
    assert live38.blocking and live38.non_blocking and not live38.custom_vocabulary
    assert live38.turn_coverage_default == "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO"
    assert live38.response_modalities == ("AUDIO",)
    assert capabilities("gemini-3.8-live", Backend.VERTEX).custom_vocabulary
    assert capabilities("gemini-3.8-live", Backend.VERTEX).non_blocking
    thinking = capabilities("gemini-3.8-live-extended-thinking", Backend.DEVELOPER)
    assert not thinking.blocking and thinking.thinking_levels == ("LOW", "MEDIUM", "HIGH")
    flash31 = capabilities("gemini-3.1-flash-live-preview", Backend.DEVELOPER)
    assert not flash31.non_blocking and "MINIMAL" in flash31.thinking_levels
    native = capabilities(NATIVE_25, Backend.DEVELOPER)
    assert native.thinking_budget and native.affective_dialog is Support.V1ALPHA
    assert not capabilities(NATIVE_25, Backend.VERTEX).non_blocking
    assert "TEXT" in capabilities("gemini-live-2.5-flash", Backend.DEVELOPER).response_modalities


def test_model_ids_take_each_backends_form():
    assert normalized_model("gemini-3.8-live", Backend.DEVELOPER) == "models/gemini-3.8-live"
    vertex = "projects/p/locations/europe-west4/publishers/google/models/gemini-3.8-live"
    for spelling in ("models/gemini-3.8-live", "gemini-3.8-live", "google/gemini-3.8-live"):
        assert normalized_model(spelling, Backend.VERTEX, "p", "europe-west4") == vertex
    assert normalized_model(vertex, Backend.VERTEX, "q", "us") == vertex
    assert normalized_model(vertex, Backend.DEVELOPER) == "models/gemini-3.8-live"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"LIVE_AFFECTIVE_DIALOG": "true"}, ("LIVE_AFFECTIVE_DIALOG", "removed", "Remove")),
        ({"LIVE_THINKING_BUDGET": "256"}, ("LIVE_THINKING_BUDGET", "Unset")),
        ({"LIVE_THINKING_LEVEL": "high"}, ("LIVE_THINKING_LEVEL", "Unset")),
        ({"LIVE_CUSTOM_VOCABULARY": "Kallax"}, ("LIVE_CUSTOM_VOCABULARY", "Vertex AI")),
    ],
)
def test_a_setting_the_default_model_refuses_names_the_setting_the_model_and_the_fix(
    env: dict[str, str], names: tuple[str, ...]
):
    message = refusal(env)
    assert "gemini-3.8-live" in message and "Gemini 3.8 Live" in message
    for name in names:
        assert name in message, message


def test_other_families_refuse_what_they_do_not_take():
    message = refusal({"LIVE_MODEL": "gemini-3.1-flash-live-preview", "LIVE_THINKING_BUDGET": "0"})
    assert "gemini-3.1-flash-live-preview" in message and "LIVE_THINKING_LEVEL" in message
    message = refusal({"LIVE_MODEL": NATIVE_25, "LIVE_THINKING_LEVEL": "low"})
    assert NATIVE_25 in message and "LIVE_THINKING_BUDGET instead" in message
    message = refusal({"LIVE_MODEL": "gemini-live-2.5-flash", "LIVE_PROACTIVE_AUDIO": "true"})
    assert "LIVE_PROACTIVE_AUDIO" in message and "gemini-live-2.5-flash" in message
    message = refusal({"LIVE_MODEL": NATIVE_25, "LIVE_LANGUAGE": "fr-FR,en-US"})
    assert "LIVE_LANGUAGE=fr-FR,en-US" in message and "one BCP-47 code" in message
    message = refusal(
        {"LIVE_MODEL": NATIVE_25, "LIVE_AFFECTIVE_DIALOG": "true", "LIVE_API_VERSION": "v1beta"}
    )
    assert "v1alpha" in message and "LIVE_API_VERSION" in message


def test_what_the_service_does_by_itself_is_dropped_with_a_notice():
    live = load_settings({**KEY, "LIVE_PROACTIVE_AUDIO": "true"}).live
    assert live.proactive_audio is None  # not in the setup
    notes = feature_warnings(live)
    assert any("LIVE_PROACTIVE_AUDIO=true is left out" in n and "always on" in n for n in notes)
    assert pipecat_settings(live).proactivity == {}
    # `false` (older .env.example files set it) cannot be honoured: said, never sent.
    live = load_settings({**KEY, "LIVE_PROACTIVE_AUDIO": "false"}).live
    assert live.proactive_audio is None
    (note,) = [n for n in feature_warnings(live) if "LIVE_PROACTIVE_AUDIO" in n]
    assert "always on" in note and "cannot be turned off" in note and "2.5" in note


def test_an_unknown_model_gets_the_conservative_default_and_one_warning():
    live = load_settings({**KEY, "LIVE_MODEL": "gemini-9.9-live"}).live
    caps = capabilities(live.model, live.backend)
    assert not caps.known and caps.blocking and not caps.non_blocking
    notes = feature_warnings(live)
    assert sum("not a Live model livebot knows" in n for n in notes) == 1
    assert "LIVE_TURN_COVERAGE" in refusal(
        {"LIVE_MODEL": "gemini-9.9-live", "LIVE_TURN_COVERAGE": "TURN_INCLUDES_ALL_INPUT"}
    )


def test_bad_values_of_the_new_settings_say_what_to_set():
    with pytest.raises(SettingsError) as err:
        load_settings(
            {
                **KEY,
                "LIVE_TEMPERATURE": "3",
                "LIVE_TOP_P": "high",
                "LIVE_ACTIVITY_HANDLING": "sometimes",
                "LIVE_TURN_COVERAGE": "all",
                "LIVE_LANGUAGE": "French",
            }
        )
    message = str(err.value)
    for name, fix in (
        ("LIVE_TEMPERATURE", "0.0..2.0"),
        ("LIVE_TOP_P", "0.0..1.0"),
        ("LIVE_ACTIVITY_HANDLING", "NO_INTERRUPTION"),
        ("LIVE_TURN_COVERAGE", "TURN_INCLUDES_ALL_INPUT"),
        ("LIVE_LANGUAGE", "BCP-47"),
    ):
        assert name in message and fix in message, (name, message)


def test_accepted_settings_reach_pipecats_settings():
    live = load_settings(
        {
            **KEY,
            "LIVE_TEMPERATURE": "0.4",
            "LIVE_TOP_P": "0.9",
            "LIVE_TURN_COVERAGE": "turn_includes_only_activity",
            "LIVE_LANGUAGE": "de-DE,en-US",
        }
    ).live
    assert live.language == "de-DE" and live.language_codes == ("de-DE", "en-US")
    settings = pipecat_settings(live)
    assert settings.temperature == 0.4 and settings.top_p == 0.9
    assert settings.language == "de-DE"
    assert str(settings.turn_coverage.value) == "TURN_INCLUDES_ONLY_ACTIVITY"  # type: ignore[union-attr]


def test_hand_built_settings_never_carry_a_refused_field():
    from testkit.stage import live_settings

    live = live_settings(affective_dialog=True, thinking_budget=128, proactive_audio=False)
    checked = check_live(live)
    assert len(checked.problems) == 2 and len(checked.notices) == 1
    settings = pipecat_settings(live)
    assert not settings.enable_affective_dialog and settings.thinking == {}
    assert settings.proactivity == {}


async def test_the_rooms_light_and_room_names_become_vertex_38s_custom_vocabulary(tmp_path):
    from dataclasses import replace
    from zoneinfo import ZoneInfo

    from google.genai.types import AudioTranscriptionConfig, LiveConnectConfig

    from bot.live.client import SetupFinisher, room_words
    from testkit.stage import live_settings
    from tools.api import RoomInfo
    from tools.toolset import load_toolsets, registry_of

    (toolset,) = load_toolsets(["lights"], {}, tmp_path, ZoneInfo("UTC"))
    assert toolset.start is not None
    await toolset.start()
    lights = await toolset.extras["backend"].lights()  # type: ignore[attr-defined]
    kitchen = next(x for x in lights if x.room != lights[0].room)
    room = RoomInfo("k", "Kitchen", {"lights": {"room": kitchen.room}})
    words = room_words(registry_of([toolset]), room)
    vertex = replace(
        live_settings(custom_vocabulary=("Kallax",), language_codes=("sv-SE",)),
        backend=Backend.VERTEX,
        project="p",
    )
    config = await SetupFinisher(vertex, words).finish(LiveConnectConfig())
    hints = config.input_audio_transcription
    assert hints is not None and hints.language_codes == ["sv-SE"]
    vocabulary = hints.custom_vocabulary or []
    assert vocabulary[:3] == ["Kallax", kitchen.room, kitchen.name]  # the room's own first
    assert {x.name for x in lights} <= set(vocabulary)
    # The Developer API's 3.8 takes the language hint but no vocabulary.
    developer = live_settings(language_codes=("sv-SE",))
    config = await SetupFinisher(developer, words).finish(
        LiveConnectConfig(input_audio_transcription=AudioTranscriptionConfig())
    )
    assert config.input_audio_transcription == AudioTranscriptionConfig(language_codes=["sv-SE"])
    if toolset.stop is not None:
        await toolset.stop()


def test_local_turn_detection_switches_geminis_detection_off_and_is_checked():
    live = load_settings(
        {**KEY, "LIVE_TURN_DETECTION": "local", "LIVE_VAD_SILENCE_MS": "1200"}
    ).live
    assert live.turn_detection == "local"
    vad = pipecat_settings(live).vad
    assert vad is not None and vad.disabled is True
    assert vad.silence_duration_ms is None, "the local VAD's timing is not sent to Gemini"
    assert pipecat_settings(load_settings(KEY).live).vad is None, "default: nothing changes"
    with pytest.raises(SettingsError) as e:
        load_settings({**KEY, "LIVE_TURN_DETECTION": "local", "LIVE_VAD_END_SENSITIVITY": "LOW"})
    assert "LIVE_VAD_END_SENSITIVITY=LOW" in str(e.value) and "LIVE_TURN_DETECTION" in str(e.value)
    with pytest.raises(SettingsError) as e:
        load_settings({**KEY, "LIVE_TURN_DETECTION": "client"})
    assert "LIVE_TURN_DETECTION='client'" in str(e.value) and "server, local" in str(e.value)
    with pytest.raises(SettingsError) as e:  # an unknown model: not known to take the signals
        load_settings({**KEY, "LIVE_TURN_DETECTION": "local", "LIVE_MODEL": "gemini-9.9-live"})
    assert "LIVE_TURN_DETECTION=local: gemini-9.9-live" in str(e.value)
