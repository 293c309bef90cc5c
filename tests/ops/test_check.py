"""`livebot check`: the settings checked, one Live session opened, what the model took printed."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gemini_emulator import client_env, running_emulator
from tests.audio import free_port
from tests.serving import offline_env, run_bot

pytestmark = pytest.mark.timeout(90)


def check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot check` as a subprocess with `env` added to a fresh offline one."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path,
        env={**offline_env(tmp_path, free_port()), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_offline_check_opens_a_session_with_the_emulator_and_says_what_it_sent(tmp_path):
    done = run_bot(tmp_path, "check")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "model models/gemini-3.8-live (Gemini 3.8 Live)" in out
    assert "the built-in emulator" in out
    assert '"voice_name": "Charon"' in out  # the setup as sent
    assert "thinking" not in out.split("Tool declarations")[0]  # 3.8 takes none
    assert "set_light: NON_BLOCKING" in out and "current_time: BLOCKING" in out
    found = re.search(r"OK: the model accepted the setup; setupComplete (\d+) ms", out)
    assert found, out


def test_a_setting_the_model_refuses_stops_the_check_before_any_session(tmp_path):
    done = check(tmp_path, LIVE_AFFECTIVE_DIALOG="true", LIVE_THINKING_BUDGET="128")
    assert done.returncode == 2
    assert "LIVE_AFFECTIVE_DIALOG=true: gemini-3.8-live" in done.stderr
    assert "LIVE_THINKING_BUDGET=128: gemini-3.8-live" in done.stderr
    assert "OK:" not in done.stdout


async def test_check_against_a_configured_endpoint_reports_its_refusal_and_its_acceptance(
    tmp_path,
):
    async with running_emulator(tmp_path / "emu", api_keys={"right-key"}) as emu:
        env = client_env(emu)
        refused = await asyncio.to_thread(check, tmp_path, GOOGLE_API_KEY="wrong-key", **env)
        accepted = await asyncio.to_thread(
            check,
            tmp_path,
            GOOGLE_API_KEY="right-key",
            LIVE_MODEL="gemini-2.5-flash-native-audio-preview-12-2025",
            LIVE_AFFECTIVE_DIALOG="true",
            LIVE_PROACTIVE_AUDIO="true",
            LIVE_THINKING_BUDGET="0",
            **env,
        )
        setups = emu.setups
        paths = [c.path for c in emu.connections]
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "REFUSED" in refused.stdout and "1008" in refused.stdout
    assert "API key not valid" in refused.stdout
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert f"Endpoint: {env['GOOGLE_GEMINI_BASE_URL']}" in accepted.stdout
    assert "Gemini 2.5 Flash native audio" in accepted.stdout
    assert '"enableAffectiveDialog": true' in accepted.stdout
    assert "API version: v1alpha" in accepted.stdout
    # What it printed is what the endpoint received (v1alpha: affective dialog's surface).
    assert setups[-1]["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    assert setups[-1]["proactivity"] == {"proactiveAudio": True}
    assert ".v1alpha." in paths[-1]
