"""Every message to the caller's page fits the WebRTC data channel.

aiortc refuses to send a data-channel message larger than the peer's SCTP
`max-message-size` ("Cannot send message of 1001013 bytes"), and a peer that does
not say gets RFC 8841's default of 64 KiB (Chrome says 256 KiB). The feed's messages
carry text from elsewhere (event titles, transcripts, tool arguments), so any of them
could pass that. `fit` holds a message to `MAX_PAGE_MESSAGE_BYTES` as Pipecat
encodes it (`json.dumps`, ASCII with escapes, inside RTVI's envelope): the longest
strings are cut to the same length, marked with `CUT`, then, if that is not enough,
lists are shortened; the message then says `"truncated": true`. The page shows what
it gets; nothing needs reassembling.

Two places apply it: the call's feed (`bot.feed`, our own messages: the marker lands
in their `data`) and, for everything else Pipecat sends on the data channel (its
standard RTVI events carry transcripts too), `bound_page_messages` on the connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from loguru import logger
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

MAX_PAGE_MESSAGE_BYTES = 64 * 1024  # RFC 8841's default max-message-size
# RTVI's envelope around the data: {"label": "rtvi-ai", "type": "server-message", "id": …}
ENVELOPE_BYTES = 512
CUT = "…"
MIN_CHARS = 16  # strings are cut no shorter than this before lists are shortened


def encoded_size(data: Any) -> int:
    """Bytes on the data channel, as Pipecat's `json.dumps` encodes the message."""
    return len(json.dumps(data))


def fit(
    data: dict[str, Any], max_bytes: int = MAX_PAGE_MESSAGE_BYTES - ENVELOPE_BYTES
) -> dict[str, Any]:
    """`data` if it fits in `max_bytes`, else a copy cut down to fit (`truncated`)."""
    if encoded_size(data) <= max_bytes:
        return data

    def fits(chars: int, items: int | None) -> bool:
        return encoded_size(_shrink(data, chars, items, marked=True)) <= max_bytes

    # No string longer than the whole budget can fit: the search starts there.
    longest = min(_longest_string(data), max_bytes)
    chars = _largest(MIN_CHARS, longest, lambda n: fits(n, None))
    if chars is not None:
        return _shrink(data, chars, None, marked=True)
    items = _largest(0, _longest_list(data), lambda n: fits(MIN_CHARS, n))
    if items is not None:
        return _shrink(data, MIN_CHARS, items, marked=True)
    return {"type": data.get("type"), "truncated": True}


def bound_page_messages(connection: SmallWebRTCConnection) -> None:
    """Every message this connection sends on its data channel is `fit` first (it stays
    the same connection object through renegotiations and ICE restarts)."""
    send = connection.send_app_message

    def send_fitted(message: Any) -> None:
        if isinstance(message, dict):
            fitted = fit(message, MAX_PAGE_MESSAGE_BYTES)
            if fitted is not message:
                logger.info(
                    f"data channel message {message.get('type')!r} cut to fit: "
                    f"{encoded_size(message)} -> {encoded_size(fitted)} bytes"
                )
            message = fitted
        send(message)

    connection.send_app_message = send_fitted  # type: ignore[method-assign]


def _shrink(value: Any, chars: int, items: int | None, *, marked: bool = False) -> Any:
    if isinstance(value, str):
        return value if len(value) <= chars else value[:chars] + CUT
    if isinstance(value, (list, tuple)):
        kept = value if items is None else value[:items]
        return [_shrink(v, chars, items) for v in kept]
    if isinstance(value, dict):
        out = {k: _shrink(v, chars, items) for k, v in value.items()}
        if marked:
            out["truncated"] = True
        return out
    return value


def _largest(lo: int, hi: int, ok: Callable[[int], bool]) -> int | None:
    """The largest n in [lo, hi] with ok(n), for ok true up to some n and false above."""
    if hi < lo or not ok(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _longest_string(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple)):
        return max((_longest_string(v) for v in value), default=0)
    if isinstance(value, dict):
        return max((_longest_string(v) for v in value.values()), default=0)
    return 0


def _longest_list(value: Any) -> int:
    if isinstance(value, (list, tuple)):
        return max([len(value), *(_longest_list(v) for v in value)])
    if isinstance(value, dict):
        return max((_longest_list(v) for v in value.values()), default=0)
    return 0
