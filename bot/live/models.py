"""What each Gemini Live model family accepts, on each backend: one table, one check.

Why our own table: Pipecat infers capabilities from the version number in the model
id (`_supports_non_blocking_tools`, `_expects_interaction_status`) and sends what it
is given; Google's service then refuses the setup (a 1007 close before
`setupComplete`) or mid-call behaviour differs. Here every setting is checked at
start against the family the model id belongs to: a setting the model does not take
is refused with a message naming the setting, the model and what to do; one the
service already does by itself is dropped with a one-line notice. The setup never
carries a field the model rejects (`check_live` also cleans hand-built settings).

What the table says, and where it comes from (Google's pages unless said):

- Gemini 3.8 Live (`gemini-3.8-live`): omit `thinking_config`; affective dialog removed
  from the API; proactive audio always on (`proactive_audio: false` is an error);
  NON_BLOCKING is the default, BLOCKING still accepted, scheduling SILENT / WHEN_IDLE /
  INTERRUPT; turn coverage defaults to TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO; AUDIO
  responses only. https://ai.google.dev/gemini-api/docs/models/gemini-3.8-live
  Vertex AI's 3.8 guide adds `custom_vocabulary` in AudioTranscriptionConfig, dynamic
  language switching and `media_resolution`, and takes behaviour and scheduling.
- Gemini 3.8 Live thinking variants (`gemini-3.8-live-extended-thinking`): "Function
  calling: Supported (Async only)" (no BLOCKING declarations); a `thinking_level` is
  required (Pipecat's `_resolved_thinking_config` defaults it to LOW; levels low,
  medium, high: Agora's Gemini 3.8 notes, AgoraIO/agora-agents-python v2.9.0).
  https://ai.google.dev/gemini-api/docs/models/gemini-3.8-live-extended-thinking,
  https://ai.google.dev/gemini-api/docs/live-api/thinking
- Gemini 3.1 Flash Live (`gemini-3.1-flash-live-preview`): `thinkingLevel` (minimal,
  low, medium, high; default minimal) instead of `thinkingBudget`; asynchronous
  function calling not supported (sequential only); proactive audio and affective
  dialog not supported ("remove any configuration"); turn coverage defaults to
  TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO.
  https://ai.google.dev/gemini-api/docs/models/gemini-3.1-flash-live-preview
- Gemini 2.5 Flash native audio (`gemini-2.5-flash-native-audio-*`, Vertex
  `gemini-live-2.5-flash-native-audio`): thinking with `thinking_budget` (dynamic by
  default, 0 turns it off); affective dialog and proactive audio (Developer API: the
  v1alpha surface only; elsewhere the service closes with 1007 "Unknown name
  enableAffectiveDialog": google-gemini/cookbook#775, googleapis/python-genai#865);
  AUDIO responses. https://docs.cloud.google.com/vertex-ai/generative-ai/docs/live-api/
  configure-gemini-capabilities, .../models/gemini/2-5-flash-live-api
- Half-cascade (`gemini-live-2.5-flash`, `gemini-2.0-flash-live-001`): no thinking, no
  native-audio features; TEXT or AUDIO responses; asynchronous function calling on the
  Developer API (https://ai.google.dev/gemini-api/docs/live-api/tools).
- Vertex AI before 3.8: NON_BLOCKING declarations and a response's `scheduling` break
  tool calling (Pipecat's `gemini_live/vertex/llm.py`).

- Video input (`realtimeInput.video`, JPEG frames at about one a second, with
  `media_resolution` LOW / MEDIUM / HIGH): every 3.8 Live, 3.1 Flash Live and 2.5 native
  audio page lists it; half-cascade and unknown ids are not given video here.

Where the docs are silent we take the conservative side: transcription language hints
(`language_codes`) only for 3.8, `custom_vocabulary` only on Vertex AI's 3.8; temperature,
top_p, activity handling, turn coverage and turning automatic activity detection off
for `activityStart` / `activityEnd` (generation and realtime-input config every Live
model documents; https://ai.google.dev/gemini-api/docs/live-guide, "Disable automatic
VAD") everywhere. An unknown model id gets `UNKNOWN` (BLOCKING tools,
nothing optional) and one warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.live.model_ids import bare_model_id as bare_model_id
from bot.live.model_ids import normalized_model as normalized_model

if TYPE_CHECKING:
    from bot.live_settings import LiveSettings


class Backend(StrEnum):
    """Which Google endpoint serves the Live session."""

    DEVELOPER = "developer"  # Gemini Developer API, API key
    VERTEX = "vertex"  # Vertex AI, project + location + credentials


class Support(StrEnum):
    """Whether an optional feature may be in the setup."""

    NO = "not supported"
    YES = "supported"
    V1ALPHA = "supported on the v1alpha API"
    ALWAYS_ON = "always on"
    REMOVED = "removed from the API"


TURN_COVERAGES = (
    "TURN_INCLUDES_ONLY_ACTIVITY",
    "TURN_INCLUDES_ALL_INPUT",
    "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
)
ACTIVITY_HANDLINGS = ("START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION")


@dataclass(frozen=True)
class Capabilities:
    """What one model family takes in its setup, on one backend."""

    family: str
    thinking_budget: bool = False
    thinking_levels: tuple[str, ...] = ()  # the levels `thinking_level` may be
    affective_dialog: Support = Support.NO
    proactive_audio: Support = Support.NO
    blocking: bool = True  # BLOCKING function declarations
    non_blocking: bool = False  # NON_BLOCKING declarations, scheduling, will_continue
    transcription_languages: bool = False  # AudioTranscriptionConfig.language_codes
    custom_vocabulary: bool = False  # AudioTranscriptionConfig.custom_vocabulary
    video_input: bool = False  # realtime video (JPEG frames): what LIVE_VIDEO needs
    media_resolutions: tuple[str, ...] = ()  # LIVE_MEDIA_RESOLUTION values, with video
    turn_coverage: bool = True
    turn_coverage_default: str = "TURN_INCLUDES_ONLY_ACTIVITY"
    activity_handling: bool = True
    activity_signals: bool = True  # automatic detection off, activityStart / activityEnd
    response_modalities: tuple[str, ...] = ("AUDIO",)
    sampling: bool = True  # temperature, top_p
    known: bool = True


RESOLUTIONS = ("low", "medium", "high")  # Gemini's media_resolution, LOW / MEDIUM / HIGH
_LIVE_38 = Capabilities(
    family="Gemini 3.8 Live",
    video_input=True,
    media_resolutions=RESOLUTIONS,
    affective_dialog=Support.REMOVED,
    proactive_audio=Support.ALWAYS_ON,
    non_blocking=True,
    transcription_languages=True,
    turn_coverage_default="TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
)
_LIVE_38_THINKING = replace(
    _LIVE_38,
    family="Gemini 3.8 Live thinking",
    thinking_levels=("LOW", "MEDIUM", "HIGH"),
    blocking=False,
)
_FLASH_LIVE_31 = Capabilities(
    family="Gemini 3.1 Flash Live",
    video_input=True,
    media_resolutions=RESOLUTIONS,
    thinking_levels=("MINIMAL", "LOW", "MEDIUM", "HIGH"),
    turn_coverage_default="TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
)
_NATIVE_AUDIO_25 = Capabilities(
    family="Gemini 2.5 Flash native audio",
    video_input=True,
    media_resolutions=RESOLUTIONS,
    thinking_budget=True,
    affective_dialog=Support.V1ALPHA,
    proactive_audio=Support.V1ALPHA,
    non_blocking=True,
)
_HALF_CASCADE = Capabilities(
    family="Gemini Live half-cascade (2.0 / 2.5 Flash Live)",
    non_blocking=True,
    response_modalities=("AUDIO", "TEXT"),
)
UNKNOWN = Capabilities(
    family="unknown Live model",
    turn_coverage=False,
    activity_handling=False,
    activity_signals=False,
    known=False,
)

# (pattern on the bare model id, Developer API capabilities, Vertex AI capabilities),
# first match wins.
FAMILIES: tuple[tuple[re.Pattern[str], Capabilities, Capabilities], ...] = (
    (
        re.compile(r"^gemini-3\.8-live.*thinking"),
        _LIVE_38_THINKING,
        replace(_LIVE_38_THINKING, custom_vocabulary=True),
    ),
    (re.compile(r"^gemini-3\.8-live"), _LIVE_38, replace(_LIVE_38, custom_vocabulary=True)),
    (re.compile(r"^gemini-3\.1-flash-live"), _FLASH_LIVE_31, _FLASH_LIVE_31),
    (
        re.compile(r"^gemini-(?:live-)?2\.5-flash.*native-audio"),
        _NATIVE_AUDIO_25,
        replace(
            _NATIVE_AUDIO_25,
            affective_dialog=Support.YES,
            proactive_audio=Support.YES,
            non_blocking=False,
        ),
    ),
    (
        re.compile(r"^gemini-live-2\.5-flash|^gemini-2\.0-flash-live"),
        _HALF_CASCADE,
        replace(_HALF_CASCADE, non_blocking=False),
    ),
)


def capabilities(model: str, backend: Backend) -> Capabilities:
    """The table's row for this model on this backend (`UNKNOWN` if no family matches)."""
    bare = bare_model_id(model)
    for pattern, developer, vertex in FAMILIES:
        if pattern.search(bare):
            return vertex if backend is Backend.VERTEX else developer
    return UNKNOWN


@dataclass(frozen=True)
class ModelCheck:
    """The settings as the model takes them, and what was said about them."""

    live: LiveSettings  # without anything the model does not take
    caps: Capabilities
    problems: list[str] = field(default_factory=list)  # refused: the bot does not start
    notices: list[str] = field(default_factory=list)  # dropped or limited: said at start


def check_live(live: LiveSettings) -> ModelCheck:
    """Check `live` against the model table; refuse, drop with a notice, or keep each setting."""
    caps = capabilities(live.model, live.backend)
    name = bare_model_id(live.model)
    on = f"{name} ({caps.family}{', Vertex AI' if live.backend is Backend.VERTEX else ''})"
    problems: list[str] = []
    notices: list[str] = []
    changes: dict[str, object] = {}

    def refuse(setting: str, value: object, why: str, fix: str, attr: str, cleared: object):
        problems.append(f"{setting}={value}: {on} {why}. {fix}")
        changes[attr] = cleared

    if not caps.known:
        notices.append(
            f"LIVE_MODEL={name} is not a Live model livebot knows ({', '.join(known_families())}): "
            "using conservative defaults (BLOCKING tools, no thinking, affective dialog, "
            "proactive audio, transcription hints, activity handling, turn coverage or local "
            "turn detection)."
        )

    if live.thinking_budget is not None and not caps.thinking_budget:
        fix = (
            f"Use LIVE_THINKING_LEVEL ({', '.join(caps.thinking_levels).lower()}) instead."
            if caps.thinking_levels
            else "Unset LIVE_THINKING_BUDGET: this model takes no thinking settings."
        )
        refuse(
            "LIVE_THINKING_BUDGET",
            live.thinking_budget,
            "takes no thinking budget",
            fix,
            "thinking_budget",
            None,
        )
    if live.thinking_level is not None and live.thinking_level not in caps.thinking_levels:
        if caps.thinking_levels:
            why = f"takes thinking levels {', '.join(caps.thinking_levels).lower()} only"
            fix = "Set one of those."
        else:
            why = "takes no thinking level"
            fix = (
                "Use LIVE_THINKING_BUDGET instead."
                if caps.thinking_budget
                else "Unset LIVE_THINKING_LEVEL: this model takes no thinking settings."
            )
        refuse("LIVE_THINKING_LEVEL", live.thinking_level.lower(), why, fix, "thinking_level", None)

    api_version = live.api_version
    for setting, attr, support in (
        ("LIVE_AFFECTIVE_DIALOG", "affective_dialog", caps.affective_dialog),
        ("LIVE_PROACTIVE_AUDIO", "proactive_audio", caps.proactive_audio),
    ):
        wanted = getattr(live, attr)
        if wanted is None:
            continue
        if support is Support.ALWAYS_ON:
            # Never sent: `true` is what the service does anyway, and `false` (which
            # earlier .env.example files set) is an error there and cannot be honoured.
            notices.append(
                f"{setting}={'true' if wanted else 'false'} is left out of the setup: "
                f"proactive audio is always on for {name}"
                + (
                    "."
                    if wanted
                    else " and cannot be turned off (a Gemini 2.5 native-audio "
                    "model can); unset it to silence this notice."
                )
            )
            changes[attr] = None
        elif not wanted:
            changes[attr] = None if attr == "proactive_audio" else False  # off: not sent
        elif support is Support.REMOVED:
            refuse(
                setting,
                "true",
                "has no affective dialog (removed from the API)",
                f"Remove {setting}.",
                attr,
                False,
            )
        elif support is Support.NO:
            refuse(
                setting,
                "true",
                f"does not take it ({attr.replace('_', ' ')} is not supported)",
                "Unset it, or choose a Gemini 2.5 native-audio model.",
                attr,
                None if attr == "proactive_audio" else False,
            )
        elif support is Support.V1ALPHA and live.backend is Backend.DEVELOPER:
            if api_version in (None, "v1alpha"):
                api_version = "v1alpha"
            else:
                refuse(
                    setting,
                    "true",
                    f"takes it on the v1alpha API only, not {api_version}",
                    "Unset LIVE_API_VERSION (v1alpha is then chosen) or set it to v1alpha.",
                    attr,
                    None if attr == "proactive_audio" else False,
                )
    if api_version != live.api_version:
        changes["api_version"] = api_version

    if len(live.language_codes) > 1 and not caps.transcription_languages:
        refuse(
            "LIVE_LANGUAGE",
            ",".join(live.language_codes),
            "takes one speech language and no transcription language hints",
            "Set one BCP-47 code, e.g. LIVE_LANGUAGE=fr-FR.",
            "language_codes",
            live.language_codes[:1],
        )
    if live.custom_vocabulary and not caps.custom_vocabulary:
        refuse(
            "LIVE_CUSTOM_VOCABULARY",
            ",".join(live.custom_vocabulary),
            "takes no custom vocabulary",
            "Unset it (Vertex AI's Gemini 3.8 Live takes one).",
            "custom_vocabulary",
            (),
        )
    for setting, attr in (("LIVE_TEMPERATURE", "temperature"), ("LIVE_TOP_P", "top_p")):
        if getattr(live, attr) is not None and not caps.sampling:
            refuse(
                setting, getattr(live, attr), "takes no sampling settings", "Unset it.", attr, None
            )
    if live.activity_handling is not None and not caps.activity_handling:
        refuse(
            "LIVE_ACTIVITY_HANDLING",
            live.activity_handling,
            "takes no activity handling",
            "Unset it.",
            "activity_handling",
            None,
        )
    if live.turn_detection == "local" and not caps.activity_signals:
        from bot.live_settings import TurnDetection  # the settings module imports this one

        refuse(
            "LIVE_TURN_DETECTION",
            "local",
            "is not known to take activity signals (automatic activity detection off)",
            "Set LIVE_TURN_DETECTION=server, or choose a Live model livebot knows.",
            "turn_detection",
            TurnDetection.SERVER,
        )
    if live.turn_coverage is not None and not caps.turn_coverage:
        refuse(
            "LIVE_TURN_COVERAGE",
            live.turn_coverage,
            "takes no turn coverage",
            "Unset it.",
            "turn_coverage",
            None,
        )

    if not caps.non_blocking:
        where = "Vertex AI's " if live.backend is Backend.VERTEX else ""
        notices.append(
            f"{where}{name} does not take NON_BLOCKING tools or result scheduling: tools run "
            "BLOCKING, so the bot waits silently while a tool runs. Gemini 2.5 and 3.8+ Live "
            "models take them (on Vertex AI: 3.8+)."
        )
    if not caps.blocking:
        notices.append(
            f"{name} runs every function call NON_BLOCKING: tools declared BLOCKING are "
            "declared NON_BLOCKING, so the model may talk on while they run."
        )
    cleaned = replace(live, **changes) if changes else live  # type: ignore[arg-type]
    return ModelCheck(cleaned, caps, problems, notices)


def known_families() -> list[str]:
    return list(dict.fromkeys(dev.family for _, dev, _ in FAMILIES))
