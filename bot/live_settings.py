"""The Live session's settings (`LIVE_*`, the Google backend), read and checked at start.

Why its own module: the Live settings are the largest group and the only one checked
against a model table (`bot/live/models.py`): a setting the chosen model does not take
stops the start with a message naming the setting, the model and what to do.
`bot.settings` re-exports everything here, so `from bot.settings import LiveSettings`
keeps working.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from bot.live.limits import LiveLimits, live_limits
from bot.live.models import ACTIVITY_HANDLINGS, TURN_COVERAGES, Backend, check_live
from bot.live.models import normalized_model as _normalized_model
from tools.env import EnvReader

__all__ = [
    "DEFAULT_GREETING",
    "DEFAULT_SYSTEM_INSTRUCTION",
    "Backend",
    "LiveSettings",
    "Sensitivity",
    "TurnDetection",
    "VadSettings",
    "feature_warnings",
    "load_live",
]


class Sensitivity(StrEnum):
    """Gemini's automatic activity detection sensitivities."""

    HIGH = "HIGH"
    LOW = "LOW"


class TurnDetection(StrEnum):
    """Who decides the caller's turns: Gemini's automatic activity detection, or our
    local VAD (`bot/live/local_turns.py`) sending `activityStart` / `activityEnd`."""

    SERVER = "server"
    LOCAL = "local"


DEFAULT_SYSTEM_INSTRUCTION = (
    "You are livebot, a friendly voice assistant people call from their browser. "
    "Speak naturally and keep answers short: one to three sentences. "
    "You can look at and change the caller's calendar and lights with your tools; "
    "say briefly what you are doing, and never invent a result a tool did not give you."
)

DEFAULT_GREETING = "Greet the caller in one short sentence and ask how you can help."

_BCP47 = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_THINKING_LEVELS = ("MINIMAL", "LOW", "MEDIUM", "HIGH")


@dataclass(frozen=True)
class VadSettings:
    """Server-side voice activity detection, as Gemini Live's realtimeInputConfig takes it."""

    start_sensitivity: Sensitivity | None = None
    end_sensitivity: Sensitivity | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None


@dataclass(frozen=True)
class LiveSettings:
    """Everything the Live stage needs to open and keep a session."""

    backend: Backend = Backend.DEVELOPER
    api_key: str | None = None
    project: str | None = None
    location: str | None = None
    credentials_path: str | None = None
    model: str = "models/gemini-3.8-live"
    api_version: str | None = None
    voice: str = "Charon"
    language: str = "en-US"  # the speech language (speechConfig.languageCode)
    # LIVE_LANGUAGE as given: transcription hints where the model takes them (empty: auto).
    language_codes: tuple[str, ...] = ()
    custom_vocabulary: tuple[str, ...] = ()
    system_instruction: str = DEFAULT_SYSTEM_INSTRUCTION
    vad: VadSettings = field(default_factory=VadSettings)
    turn_detection: TurnDetection = TurnDetection.SERVER
    affective_dialog: bool = False
    proactive_audio: bool | None = None  # None: the model's default (nothing sent)
    thinking_budget: int | None = None
    thinking_level: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    activity_handling: str | None = None
    turn_coverage: str | None = None
    context_compression: bool = True
    compression_trigger_tokens: int | None = None
    session_resumption: bool = True
    ping_interval: float = 20.0
    ping_timeout: float = 60.0
    handover_buffer_seconds: float = 20.0
    stall_seconds: float = 4.0  # no model output this long after a caller turn: recover
    limits: LiveLimits = field(default_factory=LiveLimits)
    greeting: str | None = DEFAULT_GREETING
    notices: tuple[str, ...] = ()  # what the model check dropped or limited, said at start

    @property
    def offline(self) -> bool:
        """No key and no Vertex project: run against the built-in emulator as an echo test."""
        return self.backend is Backend.DEVELOPER and not self.api_key


def load_live(r: EnvReader) -> LiveSettings:
    """The Live settings from `r`, checked against the model table (problems go to `r`)."""
    backend = r.choice("LIVE_BACKEND", Backend, Backend.DEVELOPER) or Backend.DEVELOPER
    api_key = r.str("GOOGLE_API_KEY")
    project = r.str("GOOGLE_CLOUD_PROJECT")
    location = r.str("GOOGLE_CLOUD_LOCATION", "us-central1")
    credentials_path = r.str("GOOGLE_APPLICATION_CREDENTIALS")
    if backend is Backend.VERTEX:
        if not project:
            r.problems.append(
                "GOOGLE_CLOUD_PROJECT is missing: LIVE_BACKEND=vertex needs your Google Cloud "
                "project id (or set LIVE_BACKEND=developer and GOOGLE_API_KEY)."
            )
        if credentials_path and not Path(credentials_path).is_file():
            r.problems.append(
                f"GOOGLE_APPLICATION_CREDENTIALS={credentials_path!r} does not exist: point it "
                "at a service-account JSON file, or unset it to use application default credentials."
            )

    model = r.str("LIVE_MODEL", LiveSettings.model) or LiveSettings.model
    model = _normalized_model(model, backend, project, location)
    api_version = r.str("LIVE_API_VERSION")
    if api_version is not None and api_version not in ("v1", "v1beta", "v1alpha"):
        r.problems.append(f"LIVE_API_VERSION={api_version!r}: set it to v1alpha, v1beta or v1.")
        api_version = None

    vad = VadSettings(
        start_sensitivity=r.choice("LIVE_VAD_START_SENSITIVITY", Sensitivity, None),
        end_sensitivity=r.choice("LIVE_VAD_END_SENSITIVITY", Sensitivity, None),
        prefix_padding_ms=r.int("LIVE_VAD_PREFIX_PADDING_MS", None, lo=0, hi=5000),
        silence_duration_ms=r.int("LIVE_VAD_SILENCE_MS", None, lo=0, hi=10000),
    )
    turn_detection = (
        r.choice("LIVE_TURN_DETECTION", TurnDetection, TurnDetection.SERVER) or TurnDetection.SERVER
    )
    if turn_detection is TurnDetection.LOCAL:
        for name, value in (
            ("LIVE_VAD_START_SENSITIVITY", vad.start_sensitivity),
            ("LIVE_VAD_END_SENSITIVITY", vad.end_sensitivity),
        ):
            if value is not None:
                r.problems.append(
                    f"{name}={value}: it tunes Gemini's own activity detection, which "
                    "LIVE_TURN_DETECTION=local switches off. Unset it (the local VAD takes "
                    "LIVE_VAD_PREFIX_PADDING_MS and LIVE_VAD_SILENCE_MS), or set "
                    "LIVE_TURN_DETECTION=server."
                )
        vad = replace(vad, start_sensitivity=None, end_sensitivity=None)
    ping_interval = r.float("LIVE_PING_INTERVAL", 20.0, lo=1.0, hi=300.0)
    ping_timeout = r.float("LIVE_PING_TIMEOUT", 60.0, lo=1.0, hi=600.0)
    if ping_timeout < 30.0:
        r.problems.append(
            f"LIVE_PING_TIMEOUT={ping_timeout:g} is too short: Gemini Live's pongs can take up "
            "to 30 s, so a shorter timeout drops healthy sessions. Set it to 30 or more."
        )
    codes = _language_codes(r)
    proactive = r.bool("LIVE_PROACTIVE_AUDIO", False) if r.str("LIVE_PROACTIVE_AUDIO") else None

    live = LiveSettings(
        backend=backend,
        api_key=api_key,
        project=project,
        location=location,
        credentials_path=credentials_path,
        model=model,
        api_version=api_version,
        voice=r.str("LIVE_VOICE", "Charon") or "Charon",
        language=codes[0] if codes else "en-US",
        language_codes=codes,
        custom_vocabulary=_words(r.str("LIVE_CUSTOM_VOCABULARY")),
        system_instruction=r.str("LIVE_SYSTEM_INSTRUCTION", DEFAULT_SYSTEM_INSTRUCTION)
        or DEFAULT_SYSTEM_INSTRUCTION,
        vad=vad,
        turn_detection=turn_detection,
        affective_dialog=r.bool("LIVE_AFFECTIVE_DIALOG", False),
        proactive_audio=proactive,
        thinking_budget=r.int("LIVE_THINKING_BUDGET", None, lo=-1, hi=32768),
        thinking_level=_one_of(r, "LIVE_THINKING_LEVEL", _THINKING_LEVELS),
        temperature=_optional_float(r, "LIVE_TEMPERATURE", 0.0, 2.0),
        top_p=_optional_float(r, "LIVE_TOP_P", 0.0, 1.0),
        activity_handling=_one_of(r, "LIVE_ACTIVITY_HANDLING", ACTIVITY_HANDLINGS),
        turn_coverage=_one_of(r, "LIVE_TURN_COVERAGE", TURN_COVERAGES),
        context_compression=r.bool("LIVE_CONTEXT_COMPRESSION", True),
        compression_trigger_tokens=r.int(
            "LIVE_COMPRESSION_TRIGGER_TOKENS", None, lo=1000, hi=10_000_000
        ),
        session_resumption=r.bool("LIVE_SESSION_RESUMPTION", True),
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        handover_buffer_seconds=r.float("LIVE_HANDOVER_BUFFER_SECONDS", 20.0, lo=1.0, hi=120.0),
        stall_seconds=r.float("LIVE_STALL_SECONDS", 4.0, lo=1.0, hi=30.0),
        limits=live_limits(r),
        greeting=_greeting(r.env.get("LIVE_GREETING")),
    )
    checked = check_live(live)
    r.problems.extend(checked.problems)
    return replace(checked.live, notices=tuple(checked.notices))


def _language_codes(r: EnvReader) -> tuple[str, ...]:
    """`LIVE_LANGUAGE=fr-FR` or `fr-FR,en-US`: BCP-47 codes, the first the speech language."""
    raw = r.str("LIVE_LANGUAGE")
    if raw is None:
        return ()
    codes = tuple(dict.fromkeys(c.strip() for c in raw.split(",") if c.strip()))
    bad = [c for c in codes if not _BCP47.match(c)]
    if bad or not codes:
        r.problems.append(
            f"LIVE_LANGUAGE={raw!r}: set it to BCP-47 language codes, comma-separated, the "
            "caller's first (e.g. fr-FR, or de-DE,en-US)."
        )
        return ()
    return codes


def _words(raw: str | None) -> tuple[str, ...]:
    """`LIVE_CUSTOM_VOCABULARY=Hue Go,Kallax,Søren`: phrases, comma-separated."""
    if raw is None:
        return ()
    return tuple(dict.fromkeys(w.strip() for w in raw.split(",") if w.strip()))


def _one_of(r: EnvReader, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = r.str(name)
    if raw is None:
        return None
    if raw.upper() not in allowed:
        r.problems.append(f"{name}={raw!r}: set it to one of {', '.join(allowed)}.")
        return None
    return raw.upper()


def _optional_float(r: EnvReader, name: str, lo: float, hi: float) -> float | None:
    if r.str(name) is None:
        return None
    before = len(r.problems)
    value = r.float(name, lo, lo=lo, hi=hi)
    return value if len(r.problems) == before else None


def _greeting(raw: str | None) -> str | None:
    """Unset: the default greeting; set but empty: no greeting (the caller speaks first)."""
    if raw is None:
        return DEFAULT_GREETING
    return raw.strip() or None


def feature_warnings(live: LiveSettings) -> list[str]:
    """What the chosen backend and model cannot do or do not need, said at start."""
    return list(dict.fromkeys([*live.notices, *check_live(live).notices]))
