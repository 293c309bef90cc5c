"""Settings: every problem named with its fix; `.env.example` documents every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.settings import Backend, SettingsError, feature_warnings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_no_settings_means_offline_echo_on_port_7860():
    s = load_settings({})
    assert s.live.offline
    assert s.port == 7860
    assert s.base_url == "http://localhost:7860"
    assert s.live.context_compression and s.live.session_resumption
    assert s.live.ping_timeout >= 30


def test_every_problem_is_reported_at_once_with_what_to_set():
    with pytest.raises(SettingsError) as err:
        load_settings(
            {
                "LIVE_BACKEND": "azure",
                "PORT": "seventy",
                "LIVE_PING_TIMEOUT": "20",
                "LIVE_VAD_END_SENSITIVITY": "medium",
                "LIVE_AFFECTIVE_DIALOG": "maybe",
            }
        )
    message = str(err.value)
    for name, fix in [
        ("LIVE_BACKEND", "developer, vertex"),
        ("PORT", "1..65535"),
        ("LIVE_PING_TIMEOUT", "30 or more"),
        ("LIVE_VAD_END_SENSITIVITY", "HIGH, LOW"),
        ("LIVE_AFFECTIVE_DIALOG", "true or false"),
    ]:
        assert re.search(rf"{name}=.*{re.escape(fix)}", message), (name, message)
    assert len(err.value.problems) == 5


def test_vertex_needs_a_project_and_says_what_it_cannot_do():
    with pytest.raises(SettingsError, match="GOOGLE_CLOUD_PROJECT"):
        load_settings({"LIVE_BACKEND": "vertex"})
    live = load_settings({"LIVE_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": "p"}).live
    assert live.backend is Backend.VERTEX and not live.offline
    # Vertex AI gets its own model form; its Gemini 3.8 Live takes NON_BLOCKING tools.
    assert live.model == "projects/p/locations/us-central1/publishers/google/models/gemini-3.8-live"
    assert not any("NON_BLOCKING" in note for note in feature_warnings(live))
    older = load_settings(
        {
            "LIVE_BACKEND": "vertex",
            "GOOGLE_CLOUD_PROJECT": "p",
            "LIVE_MODEL": "gemini-live-2.5-flash-native-audio",
        }
    ).live
    assert any("NON_BLOCKING" in note for note in feature_warnings(older))


def test_models_without_non_blocking_tools_are_named_at_start():
    live = load_settings({"GOOGLE_API_KEY": "k", "LIVE_MODEL": "gemini-3.1-flash-live"}).live
    assert live.model == "models/gemini-3.1-flash-live"
    assert any("does not take NON_BLOCKING" in n for n in feature_warnings(live))
    assert feature_warnings(load_settings({"GOOGLE_API_KEY": "k"}).live) == []


def test_affective_dialog_selects_the_v1alpha_api():
    live = load_settings(
        {
            "GOOGLE_API_KEY": "k",
            "LIVE_MODEL": "gemini-2.5-flash-native-audio-preview-12-2025",
            "LIVE_AFFECTIVE_DIALOG": "true",
        }
    ).live
    assert live.api_version == "v1alpha"


def test_empty_greeting_means_no_greeting():
    assert load_settings({"LIVE_GREETING": ""}).live.greeting is None
    assert load_settings({}).live.greeting


def test_env_example_documents_every_setting_and_loads_as_is():
    source = "\n".join(
        p.read_text()
        for p in [
            ROOT / "bot" / "settings.py",
            ROOT / "bot" / "live_settings.py",
            ROOT / "bot" / "video_settings.py",
            ROOT / "bot" / "live" / "limits.py",
            *(ROOT / "tools").rglob("*.py"),
        ]
    )
    reads = r'(?:\.(?:str|int|float|bool|choice)\(|_(?:one_of|optional_float)\(r,)\s*"([A-Z0-9_]+)"'
    read = set(re.findall(reads, source))
    read |= set(re.findall(r'env\.get\("([A-Z0-9_]+)"', source))
    example = dotenv_values(ROOT / ".env.example")
    missing = sorted(read - set(example))
    assert not missing, f".env.example does not document: {missing}"
    settings = load_settings({k: v or "" for k, v in example.items()})
    assert settings.live.offline  # the example holds no key


def test_ops_port_is_checked_and_off_by_default():
    assert load_settings({}).ops_port is None
    assert load_settings({"OPS_PORT": "9860"}).ops_port == 9860
    for bad, fix in (("7860", "the same as PORT"), ("0", "1..65535"), ("metrics", "1..65535")):
        with pytest.raises(SettingsError) as err:
            load_settings({"OPS_PORT": bad})
        assert "OPS_PORT" in str(err.value) and fix in str(err.value), str(err.value)


@pytest.mark.parametrize(
    ("given", "address"),
    [
        ("10.1.2.3", "10.1.2.3:7861"),  # Kubernetes' pod IP: this instance's PORT added
        ("fd00::7", "[fd00::7]:7861"),
        ("bot-2:9000", "bot-2:9000"),
    ],
)
def test_the_instance_address_other_instances_forward_to_has_a_port(given, address):
    settings = load_settings({"LIVEBOT_INSTANCE_ADDRESS": given, "PORT": "7861"})
    assert settings.instance_address == address


def test_a_bad_instance_address_is_named_with_its_fix():
    with pytest.raises(SettingsError, match=r"LIVEBOT_INSTANCE_ADDRESS='bot:x': give host:port"):
        load_settings({"LIVEBOT_INSTANCE_ADDRESS": "bot:x"})
