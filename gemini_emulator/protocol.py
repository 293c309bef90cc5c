"""BidiGenerateContent wire format: parsing client messages, building server messages.

Client messages arrive as JSON text (google-genai sends text frames) with a mix of
``snake_case`` and ``camelCase`` keys.  :func:`parse_client_message` normalises keys
to camelCase (leaving free-form payloads such as function ``args``/``response`` and
JSON-schema ``properties`` untouched) and keeps the raw dict.  Server messages are
built with camelCase keys (the SDK ignores anything else) and sent as binary frames
containing UTF-8 JSON, like Google does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BIDI_PATH_RE",
    "CLIENT_MESSAGE_KINDS",
    "ClientMessage",
    "ProtocolError",
    "b64decode",
    "b64encode",
    "encode",
    "format_duration",
    "go_away",
    "normalize_keys",
    "parse_client_message",
    "server_content",
    "session_resumption_update",
    "setup_complete",
    "to_camel",
    "tool_call",
    "tool_call_cancellation",
    "usage_metadata",
]

#: The only path served (any API version).
BIDI_PATH_RE = re.compile(
    r"^/ws/google\.ai\.generativelanguage\.(v1beta|v1alpha|v1)"
    r"\.GenerativeService\.BidiGenerateContent/?$"
)

#: Top-level keys of BidiGenerateContentClientMessage (camelCase).
CLIENT_MESSAGE_KINDS = ("setup", "clientContent", "realtimeInput", "toolResponse")

# Keys whose values are free-form user data: keep their inner keys verbatim.
_OPAQUE_KEYS = frozenset(
    {
        "args",
        "response",
        "properties",
        "parametersJsonSchema",
        "responseJsonSchema",
        "$defs",
        "defs",
        "default",
        "example",
        "metadata",
    }
)

# Close codes used by the service (google.rpc status -> websocket close code).
CLOSE_NORMAL = 1000
CLOSE_INVALID_ARGUMENT = 1007
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011


class ProtocolError(Exception):
    """A client error that ends the connection with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


def to_camel(key: str) -> str:
    """``function_responses`` -> ``functionResponses`` (camelCase is kept as is)."""
    if "_" not in key or key.startswith("_"):
        return key
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def normalize_keys(obj: Any) -> Any:
    """Recursively convert dict keys to camelCase, except inside free-form payloads."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            ck = to_camel(k) if isinstance(k, str) else k
            out[ck] = v if ck in _OPAQUE_KEYS else normalize_keys(v)
        return out
    if isinstance(obj, list):
        return [normalize_keys(v) for v in obj]
    return obj


@dataclass(frozen=True)
class ClientMessage:
    """One parsed client message: ``kind`` is its top-level key (camelCase)."""

    kind: str
    body: dict[str, Any]
    message: dict[str, Any]
    raw: dict[str, Any]


def parse_client_message(data: str | bytes) -> ClientMessage:
    """Parse one frame; raise :class:`ProtocolError` (1007) if it is not a valid message."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        raw = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        problem = e.msg if isinstance(e, json.JSONDecodeError) else e.reason
        raise ProtocolError(
            CLOSE_INVALID_ARGUMENT, f"Invalid JSON payload received. {problem}."
        ) from None
    if not isinstance(raw, dict):
        raise ProtocolError(
            CLOSE_INVALID_ARGUMENT,
            "Invalid JSON payload received. Expected an object at the top level.",
        )
    message = normalize_keys(raw)
    kinds = [k for k in message if k in CLIENT_MESSAGE_KINDS]
    unknown = [k for k in message if k not in CLIENT_MESSAGE_KINDS]
    if unknown:
        raise ProtocolError(
            CLOSE_INVALID_ARGUMENT,
            f'Invalid JSON payload received. Unknown name "{next(iter(raw))}": Cannot find field.',
        )
    if len(kinds) != 1:
        raise ProtocolError(
            CLOSE_INVALID_ARGUMENT,
            "Invalid JSON payload received. Exactly one of setup, clientContent, "
            "realtimeInput, toolResponse must be set.",
        )
    kind = kinds[0]
    body = message[kind]
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ProtocolError(
            CLOSE_INVALID_ARGUMENT, f'Invalid value at "{kind}": expected an object.'
        )
    return ClientMessage(kind=kind, body=body, message=message, raw=raw)


def b64decode(data: str) -> bytes:
    """Decode standard or URL-safe base64, with or without padding."""
    s = re.sub(r"\s+", "", data).translate(str.maketrans("-_", "+/"))
    s = s.rstrip("=")
    s += "=" * (-len(s) % 4)
    try:
        return base64.b64decode(s, validate=True)
    except binascii.Error as e:
        raise ProtocolError(
            CLOSE_INVALID_ARGUMENT, f"Invalid value: base64 decoding failed ({e})."
        ) from None


def b64encode(data: bytes) -> str:
    """Standard base64 (what Google sends)."""
    return base64.b64encode(data).decode("ascii")


def encode(message: dict[str, Any]) -> bytes:
    """Serialise a server message (sent as a binary frame)."""
    return json.dumps(message, separators=(",", ":")).encode("utf-8")


def format_duration(seconds: float) -> str:
    """protobuf Duration JSON: ``"50s"``, ``"1.500s"`` (0, 3, 6 or 9 fraction digits)."""
    nanos = round(seconds * 1e9)
    whole, frac = divmod(nanos, 10**9)
    if frac == 0:
        return f"{whole}s"
    if frac % 10**6 == 0:
        return f"{whole}.{frac // 10**6:03d}s"
    if frac % 10**3 == 0:
        return f"{whole}.{frac // 10**3:06d}s"
    return f"{whole}.{frac:09d}s"


# ---------------------------------------------------------------- server messages


def setup_complete() -> dict[str, Any]:
    return {"setupComplete": {}}


def server_content(**fields: Any) -> dict[str, Any]:
    """``serverContent`` with camelCase fields, e.g. ``server_content(turnComplete=True)``."""
    return {"serverContent": {k: v for k, v in fields.items() if v is not None}}


def audio_part(pcm: bytes, rate: int = 24000) -> dict[str, Any]:
    return {"inlineData": {"mimeType": f"audio/pcm;rate={rate}", "data": b64encode(pcm)}}


def tool_call(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """``calls``: ``[{"id", "name", "args"}]``."""
    return {"toolCall": {"functionCalls": calls}}


def tool_call_cancellation(ids: list[str]) -> dict[str, Any]:
    return {"toolCallCancellation": {"ids": list(ids)}}


def go_away(time_left: float) -> dict[str, Any]:
    return {"goAway": {"timeLeft": format_duration(time_left)}}


def session_resumption_update(handle: str | None, resumable: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"resumable": resumable}
    if handle:
        body["newHandle"] = handle
    return {"sessionResumptionUpdate": body}


def usage_metadata(
    *,
    prompt_text: int,
    prompt_audio: int,
    response_audio: int,
    response_text: int = 0,
) -> dict[str, Any]:
    """A plausible ``UsageMetadata`` (counts per modality)."""
    prompt = prompt_text + prompt_audio
    response = response_audio + response_text
    prompt_details = [{"modality": "TEXT", "tokenCount": prompt_text}]
    if prompt_audio:
        prompt_details.append({"modality": "AUDIO", "tokenCount": prompt_audio})
    response_details = [{"modality": "AUDIO", "tokenCount": response_audio}]
    if response_text:
        response_details.append({"modality": "TEXT", "tokenCount": response_text})
    return {
        "promptTokenCount": prompt,
        "responseTokenCount": response,
        "totalTokenCount": prompt + response,
        "promptTokensDetails": prompt_details,
        "responseTokensDetails": response_details,
    }
