"""`python -m bot …`: the bot's command line (the `./livebot` script calls it)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from contextlib import AsyncExitStack
from dataclasses import replace

import uvicorn
from loguru import logger

from bot.links import parse_duration, room_url
from bot.logs import setup_logging
from bot.rooms import RoomError, RoomStore
from bot.settings import Settings, SettingsError, feature_warnings, load_settings
from tools.api import Behavior
from tools.toolset import Toolset, ToolSettingsError, load_toolsets, registry_of


class DrainingServer(uvicorn.Server):
    """uvicorn, but SIGTERM drains first: not ready, new calls refused with 503,
    callers told, calls given the grace period; a second signal stops at once."""

    def __init__(self, config: uvicorn.Config, drain, grace: float):
        super().__init__(config)
        self._drain, self._grace = drain, grace
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task | None = None

    async def serve(self, sockets=None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame) -> None:
        if self._drain_task is not None or self._loop is None or not self.started:
            super().handle_exit(sig, frame)
            return
        logger.warning(f"signal {sig}: draining before exit")
        self._drain_task = self._loop.create_task(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        try:
            await self._drain(self._grace)
        finally:
            self.should_exit = True


async def serve(settings: Settings, toolsets: list[Toolset]) -> None:
    """Run the HTTP server (and, offline, the built-in emulator) until stopped."""
    from bot.server import create_app

    async with AsyncExitStack() as stack:
        for toolset in toolsets:
            if toolset.start is not None:
                await toolset.start()
            if toolset.stop is not None:
                stack.push_async_callback(toolset.stop)
        registry = registry_of(toolsets)
        echo = settings.live.offline
        if echo:
            from bot.offline import offline_live

            key = await stack.enter_async_context(offline_live(settings.data_dir))
            settings = replace(settings, live=replace(settings.live, api_key=key))
        for note in feature_warnings(settings.live):
            logger.warning(note)
        rooms = RoomStore(settings.data_dir / "rooms.json")
        lobby = rooms.ensure_default()
        secret = settings.link_secret()
        app = create_app(settings, toolsets=toolsets, echo=echo, secret=secret, rooms=rooms)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            proxy_headers=True,
            forwarded_allow_ips=settings.trusted_proxies,
        )
        server = DrainingServer(config, app.state.drain, settings.shutdown_grace_seconds)
        banner = [
            "",
            "livebot is running.",
            f"  Call the bot: open {room_url(settings.base_url, secret, lobby.name, 86400)}",
            "  (a link to the lobby room, valid 24 h; `./livebot room create NAME` makes more)",
        ]
        if echo:
            banner += [
                "  OFFLINE ECHO TEST: no GOOGLE_API_KEY is set, so the bot talks to its built-in",
                "  Live emulator and plays back each thing you say after you stop (this proves",
                "  microphone, network and speaker). For a real conversation put",
                "  GOOGLE_API_KEY=<your key> in .env (see .env.example) and restart.",
            ]
        else:
            banner.append(
                f"  Gemini Live: {settings.live.backend.value}, model {settings.live.model}"
            )
        banner.append(f"  Tools: {', '.join(t.name for t in registry) or 'none'}")
        banner.append("")

        async def announce() -> None:
            while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
                await asyncio.sleep(0.05)
            print("\n".join(banner), flush=True)

        await asyncio.gather(server.serve(), announce())


def print_tools(settings: Settings, toolsets: list[Toolset], *, as_json: bool) -> None:
    """What the model is offered, exactly as the first setup message carries it."""
    from bot.live.stage import setup_tools

    registry = registry_of(toolsets)
    non_blocking = not any("NON_BLOCKING" in n for n in feature_warnings(settings.live))
    declared = asyncio.run(
        setup_tools(registry, google_search=settings.google_search, non_blocking=non_blocking)
    )
    if as_json:
        print(json.dumps(declared, indent=2))
        return
    from tools.discovery import discover

    found = discover().packages
    for name, toolset in zip(settings.tools, toolsets, strict=False):
        source = found.get(name)
        origin = f", from {source.origin}" if source is not None and not source.builtin else ""
        print(f"{toolset.name}: {toolset.description or ''}".rstrip(": ") + origin)
        for t in toolset.tools:
            when = (
                f", result {t.scheduling.value}, failure {t.error_scheduling.value}"
                if t.behavior is Behavior.NON_BLOCKING
                else ""
            )
            barge_in = ", cancelled on barge-in" if t.cancel_on_barge_in else ""
            print(f"  {t.name}: {t.behavior.value}{when}, timeout {t.timeout:g} s{barge_in}")
    if settings.google_search:
        print("google_search: Grounding with Google Search (built into the Live API)")
    if not declared:
        print("No tools are enabled (TOOLS is empty).")
    print("\nSetup tools, as sent to Gemini Live:")
    print(json.dumps(declared, indent=2))


def room_command(settings: Settings, args: argparse.Namespace) -> int:
    """`room create|list|delete`: rooms and the signed links callers open."""
    rooms = RoomStore(settings.data_dir / "rooms.json")
    if args.room_command == "list":
        for room in rooms.all():
            extras = ", ".join(
                f"{k} {v}"
                for k, v in (
                    ("voice", room.voice),
                    ("lights", room.lights_room),
                    ("calendar", room.calendar),
                )
                if v
            )
            print(
                f"{room.name}: {room.display_title}, up to {room.max_callers} callers"
                + (f", {extras}" if extras else "")
            )
        return 0
    if args.room_command == "delete":
        if not rooms.delete(args.name):
            print(f"there is no room called {args.name!r}", file=sys.stderr)
            return 1
        print(f"deleted room {args.name}")
        return 0
    try:
        seconds = parse_duration(args.expires)
        room = rooms.update(
            args.name,
            title=args.title,
            persona=args.persona,
            voice=args.voice,
            lights_room=args.lights_room,
            calendar=args.calendar,
            max_callers=args.max_callers,
        )
    except (ValueError, RoomError) as e:
        print(f"cannot create the room: {e}", file=sys.stderr)
        return 2
    print(room_url(settings.base_url, settings.link_secret(), room.name, seconds))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livebot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the bot server and print the link callers open")
    p_serve.add_argument("--host", help="address to listen on (default: HOST or 127.0.0.1)")
    p_serve.add_argument("--port", type=int, help="port to listen on (default: PORT or 7860)")
    p_tools = sub.add_parser(
        "tools", help="list the enabled tools with the exact declarations sent to Gemini"
    )
    p_tools.add_argument("--json", action="store_true", help="print only the setup's tools JSON")
    p_room = sub.add_parser("room", help="create rooms and print the links callers open")
    room_sub = p_room.add_subparsers(dest="room_command", required=True)
    p_create = room_sub.add_parser("create", help="create (or change) a room; print a signed link")
    p_create.add_argument("name", help="lowercase letters, digits and dashes, e.g. kitchen")
    p_create.add_argument("--expires", default="24h", help="link lifetime: 30m, 24h, 7d …")
    p_create.add_argument("--title", help="the name callers see")
    p_create.add_argument("--persona", help="added to the system instruction in this room")
    p_create.add_argument("--voice", help="a Gemini prebuilt voice for this room")
    p_create.add_argument("--lights-room", help="the lights room this room controls by default")
    p_create.add_argument("--calendar", help="the calendar this room uses (CalDAV name)")
    p_create.add_argument("--max-callers", type=int, help="simultaneous callers (default 4)")
    room_sub.add_parser("list", help="list the rooms")
    p_delete = room_sub.add_parser("delete", help="delete a room (its links stop working)")
    p_delete.add_argument("name")
    p_call = sub.add_parser(
        "call",
        help="call a room link from the terminal: speak a WAV, record and print the reply",
        add_help=False,
    )
    p_call.add_argument("rest", nargs=argparse.REMAINDER)
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["call"]:
        from bot.caller import main as call_main

        return call_main(argv[1:])
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
        toolsets = load_toolsets(
            settings.tools, settings.env, settings.data_dir / "tools", settings.timezone
        )
    except (SettingsError, ToolSettingsError) as e:
        problems = e.problems
        print(SettingsError(problems), file=sys.stderr)
        return 2
    if args.command == "room":
        return room_command(settings, args)
    if args.command == "tools":
        print_tools(settings, toolsets, as_json=args.json)
        return 0
    if args.command == "serve":
        if args.host:
            settings = replace(settings, host=args.host)
        if args.port:
            settings = replace(settings, port=args.port)
        setup_logging(settings.log_level)
        try:
            asyncio.run(serve(settings, toolsets))
        except KeyboardInterrupt:
            pass
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
