"""The google-genai client and Pipecat's settings for one call's Live session.

Why its own module: what the stage connects with (API version, a keepalive that
survives Gemini's slow pongs, one client per configuration shared by every call,
the Developer API or Vertex AI) is decided once, from `LiveSettings`, away from
what the stage does with the session.
"""

from __future__ import annotations

import os
from typing import Any

from google.genai import Client
from google.genai.types import (
    EndSensitivity,
    HttpOptions,
    ProactivityConfig,
    StartSensitivity,
    ThinkingConfig,
)
from pipecat.services.google.gemini_live.llm import (
    ContextWindowCompressionParams,
    GeminiLiveLLMSettings,
    GeminiVADParams,
)

from bot.settings import Backend, LiveSettings


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
    """Our settings in the shape Pipecat's service takes."""
    vad = live.vad
    has_vad = any(
        v is not None
        for v in (
            vad.start_sensitivity,
            vad.end_sensitivity,
            vad.prefix_padding_ms,
            vad.silence_duration_ms,
        )
    )
    return GeminiLiveLLMSettings(
        model=live.model,
        voice=live.voice,
        language=live.language,
        vad=GeminiVADParams(
            start_sensitivity=StartSensitivity(f"START_SENSITIVITY_{vad.start_sensitivity}")
            if vad.start_sensitivity
            else None,
            end_sensitivity=EndSensitivity(f"END_SENSITIVITY_{vad.end_sensitivity}")
            if vad.end_sensitivity
            else None,
            prefix_padding_ms=vad.prefix_padding_ms,
            silence_duration_ms=vad.silence_duration_ms,
        )
        if has_vad
        else None,
        context_window_compression=ContextWindowCompressionParams(
            enabled=live.context_compression, trigger_tokens=live.compression_trigger_tokens
        ),
        thinking=ThinkingConfig(thinking_budget=live.thinking_budget)
        if live.thinking_budget is not None
        else {},
        enable_affective_dialog=live.affective_dialog,
        proactivity=ProactivityConfig(proactive_audio=True) if live.proactive_audio else {},
    )
