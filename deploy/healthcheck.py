"""The image's HEALTHCHECK: GET /healthz on the bot's own port (standard library only)."""

import os
import sys
import urllib.request

host = os.environ.get("HOST", "127.0.0.1")
if host in ("", "0.0.0.0", "::"):
    host = "127.0.0.1"
if ":" in host:
    host = f"[{host}]"
url = f"http://{host}:{os.environ.get('PORT', '7860')}/healthz"
try:
    with urllib.request.urlopen(url, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as e:  # any failure is "unhealthy"; say why in `docker inspect`
    print(f"{url}: {e}", file=sys.stderr)
    sys.exit(1)
