"""What a caller's browser loads: the room page, its assets, and plain error pages.

The room page is the committed build of `web/` (`bot/web/dist`); it is served only for
a room link that works, and a link that does not gets a small server-rendered page
that says why (never a stack trace). The page's assets are served from `/static`.
"""

from __future__ import annotations

from html import escape
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from bot import links
from bot.http.deps import RoomsDep, SecretDep, SettingsDep
from bot.http.errors import STATUS_FOR
from bot.rooms import DEFAULT_ROOM
from bot.video_settings import room_video

WEB_DIST = Path(str(resources.files("bot.web"))) / "dist"

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

router = APIRouter()


def message_page(status: int, title: str, message: str, hint: str = "") -> HTMLResponse:
    """A plain page that says what is wrong; never a stack trace."""
    html = _PAGE.format(
        title=escape(title), message=escape(message, quote=False), hint=escape(hint, quote=False)
    )
    return HTMLResponse(html, status_code=status)


def permissions_policy(video: frozenset[str] = frozenset()) -> str:
    """The browser features the page may use: the microphone always, the camera and screen
    capture only for the page itself and only where the room lets callers show the bot."""
    camera = "(self)" if "camera" in video else "()"
    screen = "(self)" if "screen" in video else "()"
    return f"microphone=(self), camera={camera}, display-capture={screen}, geolocation=()"


def mount_assets(app: FastAPI) -> None:
    """The page's scripts and styles under `/static` (if the page is built)."""
    if WEB_DIST.is_dir():
        app.mount("/static", StaticFiles(directory=WEB_DIST), name="static")


@router.get("/", include_in_schema=False)
async def home(settings: SettingsDep, secret: SecretDep, rooms: RoomsDep) -> Response:
    if settings.production:
        return message_page(404, "livebot", "To call the bot, open the room link you were given.")
    lobby = rooms.ensure_default()
    return RedirectResponse(
        links.room_url(settings.base_url, secret, DEFAULT_ROOM, 86400, lobby.generation),
        status_code=302,
    )


@router.get("/r/{room}", include_in_schema=False)
async def room_page(
    room: str, settings: SettingsDep, secret: SecretDep, rooms: RoomsDep, t: str = ""
) -> Response:
    try:
        claims = links.verify(secret, "link", t)
        if claims.room != room:
            raise links.TokenError("invalid", "This room link is not valid for this room.")
    except links.TokenError as e:
        status = STATUS_FOR[e.reason]
        title = "This link has expired" if e.reason == "expired" else "This link does not work"
        return message_page(status, title, str(e), "Ask whoever sent it for a new link.")
    try:
        found = rooms.room_for(claims)
    except links.TokenError as e:
        if e.reason == "unknown_room":
            return message_page(404, "No such room", str(e), "Check the link.")
        return message_page(
            STATUS_FOR[e.reason], "This link does not work", str(e), "Ask for a new link."
        )
    page = HTMLResponse((WEB_DIST / "index.html").read_text())
    page.headers["Permissions-Policy"] = permissions_policy(room_video(settings, found))
    return page
