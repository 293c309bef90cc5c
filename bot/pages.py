"""Small server-rendered pages: what a caller sees when a link cannot be used."""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · livebot</title>
<style>
body{{font:17px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1.2rem;color:#1d1d1f}}
h1{{font-size:1.4rem}} .box{{border:1px solid #e3c9c9;background:#fff5f5;border-radius:.6rem;padding:1rem 1.2rem}}
</style></head>
<body><main><h1>{title}</h1><p class="box" role="alert">{message}</p><p>{hint}</p></main></body></html>
"""


def message_page(status: int, title: str, message: str, hint: str = "") -> HTMLResponse:
    """A plain page that says what is wrong; never a stack trace."""
    html = _PAGE.format(
        title=escape(title), message=escape(message, quote=False), hint=escape(hint, quote=False)
    )
    return HTMLResponse(html, status_code=status)
