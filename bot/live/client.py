"""The google-genai client and Pipecat's settings for one call's Live session.

Why its own module: what the stage connects with (API version, a keepalive that
survives Gemini's slow pongs, one client per configuration shared by every call,
the Developer API or Vertex AI) is decided once, from `LiveSettings`, away from
what the stage does with the session.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from google.genai import Client
from google.genai.types import (
    ActivityHandling,
    AudioTranscriptionConfig,
    EndSensitivity,
    HttpOptions,
    LiveConnectConfig,
    ProactivityConfig,
    RealtimeInputConfig,
    StartSensitivity,
    ThinkingConfig,
    ThinkingLevel,
    TurnCoverage,
)
from loguru import logger
from pipecat.services.google.gemini_live.llm import (
    ContextWindowCompressionParams,
    GeminiLiveLLMSettings,
    GeminiVADParams,
)

from bot.live.models import capabilities, check_live
from bot.settings import Backend, LiveSettings
from tools.api import RoomInfo
from tools.registry import ToolRegistry


def live_http_options(live: LiveSettings) -> HttpOptions:
    """Client options: API version and a keepalive that survives 30 s pongs.

    websockets' default (ping every 20 s, close after 20 s without a pong) drops
    healthy Gemini sessions with 1011. google-genai hands `async_client_args`
    keys that `websockets.connect` knows straight to it.
    """
    return HttpOptions(
        api_version=live.api_version,
        async_client_args={
            "ping_interval": live.ping_interval,
            "ping_timeout": live.ping_timeout,
            # Base64 audio barely compresses; deflating it costs CPU on every frame.
            "compression": None,
        },
    )


_clients: dict[tuple[Any, ...], Client] = {}


def shared_client(live: LiveSettings, http_options: HttpOptions) -> Client:
    """One google-genai client per configuration, shared by every call in the process.

    Building a client loads the CA bundle three times (~150 ms, more under load) on
    the event loop; every call's Live socket is its own connection either way. The
    key includes the SDK's endpoint variables, so pointing them elsewhere (as the
    offline echo test and the tests do) gets a client of its own.
    """
    key = (
        live.backend,
        live.api_key,
        live.project,
        live.location,
        live.credentials_path,
        http_options.model_dump_json(),
        *(os.environ.get(v) for v in ("GOOGLE_GEMINI_BASE_URL", "SSL_CERT_FILE", "SSL_CERT_DIR")),
    )
    client = _clients.get(key)
    if client is None:
        if live.backend is Backend.VERTEX:
            credentials = None
            if live.credentials_path:
                from google.oauth2 import service_account

                credentials = service_account.Credentials.from_service_account_file(
                    live.credentials_path,
                    scopes=["https://www.googleapis.com/auth/cloud-platform"],
                )
            client = Client(
                vertexai=True,
                project=live.project,
                location=live.location,
                credentials=credentials,
                http_options=http_options,
            )
        else:
            client = Client(api_key=live.api_key or "", http_options=http_options)
        _clients[key] = client
    return client


def pipecat_settings(live: LiveSettings) -> GeminiLiveLLMSettings:
    """Our settings in the shape Pipecat's service takes, as the model table allows them
    (`models.check_live`: anything the model does not take is left out)."""
    live = check_live(live).live
    return GeminiLiveLLMSettings(
        model=live.model,
        voice=live.voice,
        language=live.language,
        vad=_vad(live),
        context_window_compression=ContextWindowCompressionParams(
            enabled=live.context_compression, trigger_tokens=live.compression_trigger_tokens
        ),
        thinking=_thinking(live),
        enable_affective_dialog=live.affective_dialog,
        proactivity=ProactivityConfig(proactive_audio=True) if live.proactive_audio else {},
        temperature=live.temperature,
        top_p=live.top_p,
        turn_coverage=TurnCoverage(live.turn_coverage) if live.turn_coverage else None,
    )


def _vad(live: LiveSettings) -> GeminiVADParams | None:
    """Gemini's activity detection as set; with local turn detection, switched off
    (the local VAD's timing, LIVE_VAD_*_MS, is not sent: it is the local VAD's)."""
    if live.turn_detection == "local":
        return GeminiVADParams(disabled=True)
    vad = live.vad
    if all(
        v is None
        for v in (
            vad.start_sensitivity,
            vad.end_sensitivity,
            vad.prefix_padding_ms,
            vad.silence_duration_ms,
        )
    ):
        return None
    return GeminiVADParams(
        start_sensitivity=StartSensitivity(f"START_SENSITIVITY_{vad.start_sensitivity}")
        if vad.start_sensitivity
        else None,
        end_sensitivity=EndSensitivity(f"END_SENSITIVITY_{vad.end_sensitivity}")
        if vad.end_sensitivity
        else None,
        prefix_padding_ms=vad.prefix_padding_ms,
        silence_duration_ms=vad.silence_duration_ms,
    )


def _thinking(live: LiveSettings) -> ThinkingConfig | dict[str, Any]:
    if live.thinking_budget is not None:
        return ThinkingConfig(thinking_budget=live.thinking_budget)
    if live.thinking_level is not None:
        return ThinkingConfig(thinking_level=ThinkingLevel(live.thinking_level))
    return {}  # none: Pipecat still gives a Live thinking model the lowest level it needs


Vocabulary = Callable[[], Awaitable[Sequence[str]]]
MAX_VOCABULARY = 100  # phrases: a hint list, not a dictionary
VOCABULARY_SECONDS = 2.0  # a slow backend must not hold the session's setup up


class SetupFinisher:
    """What Pipecat's `_connect` leaves out of the setup, added before each connect:
    activity handling, and the input transcription's hints (LIVE_LANGUAGE's codes, the
    custom vocabulary with the room's own words), each only where the model takes it."""

    def __init__(self, live: LiveSettings, room_words: Vocabulary | None = None):
        self._live = check_live(live).live
        self._caps = capabilities(self._live.model, self._live.backend)
        self._room_words = room_words
        self._vocabulary: list[str] | None = None

    async def vocabulary(self) -> list[str]:
        """The custom vocabulary (the setting's, then the room's), once per call."""
        if self._vocabulary is None:
            words = list(self._live.custom_vocabulary)
            if self._room_words is not None and self._caps.custom_vocabulary:
                try:
                    words += await asyncio.wait_for(self._room_words(), VOCABULARY_SECONDS)
                except Exception as e:  # a hint: the call goes on without the room's words
                    logger.warning(f"room vocabulary unavailable: {e}")
            self._vocabulary = list(dict.fromkeys(w for w in words if w))[:MAX_VOCABULARY]
        return self._vocabulary

    async def finish(self, config: LiveConnectConfig) -> LiveConnectConfig:
        live, caps = self._live, self._caps
        if live.activity_handling and caps.activity_handling:
            rtc = config.realtime_input_config or RealtimeInputConfig()
            rtc.activity_handling = ActivityHandling(live.activity_handling)
            config.realtime_input_config = rtc
        codes = list(live.language_codes) if caps.transcription_languages else []
        words = await self.vocabulary() if caps.custom_vocabulary else []
        if codes or words:
            config.input_audio_transcription = AudioTranscriptionConfig(
                language_codes=codes or None, custom_vocabulary=words or None
            )
        return config


def room_words(registry: ToolRegistry, room: RoomInfo | None) -> Vocabulary:
    """The words the call's toolsets offer for its room (`Toolset.vocabulary`), in order."""

    async def words() -> list[str]:
        found: list[str] = []
        for ts in registry.toolsets:
            found += await ts.room_vocabulary(room.settings_for(ts.name) if room else {})
        return found

    return words
