"""Short-lived TURN credentials for one call (coturn's `use-auth-secret` REST scheme).

coturn and the bot share `TURN_SECRET`; each caller gets a username
`<expiry>:<room>` and a password HMAC-SHA1(secret, username), which coturn
checks without any database. The secret itself never leaves the server, and
the credentials stop working at the expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


def turn_credentials(secret: str, room: str, ttl: int, now: float | None = None) -> tuple[str, str]:
    """(username, credential) valid for `ttl` seconds."""
    expiry = int(time.time() if now is None else now) + ttl
    username = f"{expiry}:{room}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()
