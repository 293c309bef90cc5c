"""Signed room links and call tickets.

A **room link** (`/r/<room>?t=<token>`) is what someone hands a caller: it names
a room, expires, and is signed with the server secret, so it cannot be forged
or extended. Opening it and pressing Join exchanges it for a **call ticket**:
short-lived, single-use, and bound to the first peer connection it creates,
so a peer-connection id alone is never a capability.

Tokens are `base64url(JSON claims) "." base64url(HMAC-SHA256)`, the HMAC taken
over a purpose prefix and the claims, so a ticket is never accepted as a link
or the other way round.

Revocation (checked by the room store, `bot/rooms.py`): the claims carry the
room's **generation** (`g`, a random id a room gets when it is created), so the
links of a deleted room never work again, not even for a new room of that name;
and each token's nonce (`n`) is its **link id**, which a revocation list names.
Links live at most `MAX_LINK_SECONDS`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal

Purpose = Literal["link", "ticket"]
Reason = Literal["invalid", "expired", "unknown_room", "used", "revoked"]

MAX_TOKEN_LENGTH = 1024
MAX_LINK_SECONDS = 365 * 86400  # `room create --expires` at most 365 days
ROOM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class TokenError(ValueError):
    """A token that cannot be used; `reason` is for machines, the message for people."""

    def __init__(self, reason: Reason, message: str):
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class Claims:
    room: str
    expires_at: int
    nonce: str  # also the link id a revocation names
    generation: str = ""  # the room's generation when signed ("" = rooms from before it)


def new_link_id() -> str:
    """A fresh link id (12 URL-safe characters) that does not start with "-": the
    operator types it after `room revoke NAME`, where a leading dash reads as an option."""
    while (link_id := secrets.token_urlsafe(9)).startswith("-"):
        pass
    return link_id


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: Purpose, body: str) -> str:
    return _b64(hmac.new(secret, f"{purpose}.{body}".encode(), hashlib.sha256).digest())


def sign(
    secret: bytes,
    purpose: Purpose,
    room: str,
    expires_at: int,
    nonce: str | None = None,
    generation: str = "",
) -> str:
    """A token for `room` (of this generation), valid until `expires_at` (Unix seconds)."""
    claims: dict[str, object] = {
        "r": room,
        "e": int(expires_at),
        "n": nonce or new_link_id(),
    }
    if generation:
        claims["g"] = generation
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{_mac(secret, purpose, body)}"


def verify(secret: bytes, purpose: Purpose, token: str, now: float | None = None) -> Claims:
    """The token's claims, or `TokenError` saying why it cannot be used."""
    what = "room link" if purpose == "link" else "call ticket"
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenError("invalid", f"This {what} is not valid.")
    body, mac = token.split(".")
    if not (body.isascii() and mac.isascii()):
        raise TokenError("invalid", f"This {what} is not valid.")
    if not hmac.compare_digest(mac.encode(), _mac(secret, purpose, body).encode()):
        raise TokenError("invalid", f"This {what} is not valid: it was changed or not issued here.")
    try:
        claims = json.loads(_unb64(body))
        parsed = Claims(
            room=str(claims["r"]),
            expires_at=int(claims["e"]),
            nonce=str(claims["n"]),
            generation=str(claims.get("g", "")),
        )
    except (ValueError, KeyError, TypeError) as e:  # signed by us, so this is a bug or old format
        raise TokenError("invalid", f"This {what} is not valid.") from e
    if parsed.expires_at <= (time.time() if now is None else now):
        raise TokenError("expired", f"This {what} has expired: ask for a new one.")
    return parsed


def room_url(base_url: str, secret: bytes, room: str, seconds: int, generation: str = "") -> str:
    """The link a caller opens for `room` (of this generation), valid for `seconds`."""
    token = sign(secret, "link", room, int(time.time()) + seconds, generation=generation)
    return f"{base_url.rstrip('/')}/r/{room}?t={token}"


def token_of(link: str) -> str:
    """The token of a room link (`…/r/<room>?t=<token>`), or the text itself."""
    match = re.search(r"[?&]t=([^&#\s]+)", link)
    return match.group(1) if match else link.strip()


def parse_duration(text: str, most: int = MAX_LINK_SECONDS) -> int:
    """`90s`, `15m`, `24h`, `7d` (or plain seconds) in seconds, at most `most`."""
    match = re.fullmatch(r"\s*(\d{1,12})\s*([smhd]?)\s*", text.lower())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration: use e.g. 30m, 24h or 7d")
    seconds = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if seconds > most:
        raise ValueError(f"{text!r} is too long: a link lives at most {most // 86400} days")
    return seconds
