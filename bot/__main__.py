"""`python -m bot …`: the bot's command line (the `./livebot` script calls it)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import threading
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import TYPE_CHECKING

import uvicorn
from loguru import logger

from bot.http.opsport import OPS_HOST, ops_socket
from bot.http.slowclients import UVICORN_LIMITS
from bot.links import room_url
from bot.logs import setup_logging
from bot.room_cli import add_room_parser, room_command
from bot.rooms import RoomStore
from bot.settings import Settings, SettingsError, feature_warnings, load_settings
from bot.video_settings import video_settings
from tools.api import Behavior
from tools.files import DataFileError
from tools.toolset import Toolset, ToolSettingsError, load_toolsets, registry_of

if TYPE_CHECKING:
    from gemini_emulator.rehearsal import Rehearsal

# After the grace period: stopping the calls (bot.http.calls.STOP_SECONDS, 4 s), open HTTP
# requests (HTTP_SHUTDOWN_SECONDS) and the peer connections (bot.http.connections.CLOSE_SECONDS,
# 2 s), each bounded; past SHUTDOWN_MARGIN_SECONDS the process exits anyway. Keep it
# under docker-compose.yml's stop_grace_period margin (15 s).
HTTP_SHUTDOWN_SECONDS = 3  # whole seconds: uvicorn types the setting as int
SHUTDOWN_MARGIN_SECONDS = 12.0


class DrainingServer(uvicorn.Server):
    """uvicorn, but SIGTERM drains first: not ready, new calls refused with 503,
    callers told, calls given the grace period; a second signal exits at once, and so
    does a shutdown still unfinished `SHUTDOWN_MARGIN_SECONDS` after the grace period."""

    def __init__(self, config: uvicorn.Config, drain, grace: float):
        super().__init__(config)
        self._drain, self._grace = drain, grace
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task | None = None

    async def serve(self, sockets=None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame) -> None:
        if self._drain_task is not None:
            logger.warning(f"signal {sig} again: exiting now")
            os._exit(1)
        if self._loop is None or not self.started:
            super().handle_exit(sig, frame)
            return
        logger.warning(f"signal {sig}: draining before exit")
        deadline = threading.Timer(self._grace + SHUTDOWN_MARGIN_SECONDS, self._too_late)
        deadline.daemon = True
        deadline.start()
        self._drain_task = self._loop.create_task(self._drain_then_exit())

    def _too_late(self) -> None:
        """The shutdown's last resort (a timer thread): say what is still running, exit."""
        limit = self._grace + SHUTDOWN_MARGIN_SECONDS
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop's task set changed meanwhile
                for task in asyncio.all_tasks(self._loop):
                    logger.error(f"still running at exit: {task.get_name()} {task.get_coro()}")
        logger.error(f"shutdown did not finish within {limit:g} s: exiting now")
        os._exit(1)

    async def _drain_then_exit(self) -> None:
        try:
            await self._drain(self._grace)
        finally:
            self.should_exit = True


async def serve(
    settings: Settings, toolsets: list[Toolset], rehearsal: Rehearsal | None = None
) -> None:
    """Run the HTTP server (and, offline or rehearsing, the built-in emulator) until stopped."""
    from bot.http.app import create_app

    async with AsyncExitStack() as stack:
        for toolset in toolsets:
            if toolset.start is not None:
                await toolset.start()
            if toolset.stop is not None:
                stack.push_async_callback(toolset.stop)
        registry = registry_of(toolsets)
        echo = settings.live.offline and rehearsal is None
        if echo or rehearsal is not None:
            from bot.offline import offline_live

            if rehearsal is None:
                live = offline_live(settings.data_dir)
            else:
                from gemini_emulator.rehearsal import rehearsal_script

                live = offline_live(settings.data_dir, rehearsal_script(rehearsal), "rehearsal")
            key = await stack.enter_async_context(live)
            settings = replace(settings, live=replace(settings.live, api_key=key))
        for note in feature_warnings(settings.live):
            logger.warning(note)
        if settings.live.turn_detection == "local":  # Silero's session, once, before a call
            from bot.live.shared_silero import warm_up

            warm_up()
        rooms = RoomStore(settings.data_dir / "rooms.json")
        rooms.check()  # an unreadable rooms file stops the start with one line naming it
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
            **UVICORN_LIMITS,
            timeout_graceful_shutdown=HTTP_SHUTDOWN_SECONDS,
        )
        server = DrainingServer(config, app.state.drain, settings.shutdown_grace_seconds)
        sockets = None
        if settings.ops_port is not None:  # one server, a second (loopback) socket
            sockets = [config.bind_socket(), ops_socket(settings.ops_port)]
        banner = ["", "livebot is running."]
        if settings.production:
            # Logs are kept and shipped: no live link in them. `room create` prints one.
            banner += [
                f"  Callers open room links ({settings.base_url}/r/NAME?t=...): make one with",
                "  `python -m bot room create NAME --expires 24h`.",
            ]
        else:
            banner += [
                "  Call the bot: open "
                + room_url(settings.base_url, secret, lobby.name, 86400, lobby.generation),
                "  (a link to the lobby room, valid 24 h; `./livebot room create NAME` makes more)",
            ]
        if settings.ops_port is not None:
            banner.append(
                f"  Ops (metrics, /openapi.json): http://{OPS_HOST}:{settings.ops_port}/metrics"
            )
        elif settings.production:
            banner.append(
                "  Ops endpoints (metrics, /openapi.json): off; set OPS_PORT to serve them"
            )
        if rehearsal is not None:
            banner += [
                f"  REHEARSAL: the built-in Live emulator plays {rehearsal.source}",
                f"  ({len(rehearsal.turns)} turns; Gemini is not called). Speak, or type:",
                '  `./livebot call LINK --text "..."`.',
            ]
        elif echo:
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

        await asyncio.gather(server.serve(sockets), announce())


def checked_rehearsal(path: str, toolsets: list[Toolset]) -> Rehearsal:
    """Read a rehearsal file and check that every tool it calls is enabled."""
    from gemini_emulator.rehearsal import RehearsalError, load_rehearsal

    rehearsal = load_rehearsal(path)
    enabled = {t.name for t in registry_of(toolsets)}
    for name in rehearsal.tools:
        if name not in enabled:
            raise RehearsalError(
                f"{path} calls {name!r}, which is not an enabled tool "
                f"(enabled: {', '.join(sorted(enabled)) or 'none'}; set TOOLS in .env)"
            )
    return rehearsal


def print_tools(settings: Settings, toolsets: list[Toolset], *, as_json: bool) -> None:
    """What the model is offered, exactly as the first setup message carries it."""
    from bot.live.declarations import setup_tools
    from bot.live.models import capabilities

    registry = registry_of(toolsets)
    caps = capabilities(settings.live.model, settings.live.backend)
    declared = asyncio.run(
        setup_tools(
            registry,
            google_search=settings.google_search,
            non_blocking=caps.non_blocking,
            blocking_ok=caps.blocking,
        )
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livebot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the bot server and print the link callers open")
    p_serve.add_argument("--host", help="address to listen on (default: HOST or 127.0.0.1)")
    p_serve.add_argument("--port", type=int, help="port to listen on (default: PORT or 7860)")
    p_serve.add_argument(
        "--rehearse",
        metavar="FILE",
        help="offline, with the emulated model playing this TOML script (README: Rehearsing)",
    )
    p_tools = sub.add_parser(
        "tools", help="list the enabled tools with the exact declarations sent to Gemini"
    )
    p_tools.add_argument("--json", action="store_true", help="print only the setup's tools JSON")
    p_check = sub.add_parser(
        "check",
        help="check the settings, open one Live session with them, print what the model took",
    )
    p_check.add_argument("--json", action="store_true", help="also print the whole setup sent")
    add_room_parser(sub)
    p_call = sub.add_parser(
        "call",
        help="call a room link from the terminal: speak a WAV, record and print the reply",
        add_help=False,
    )
    p_call.add_argument("rest", nargs=argparse.REMAINDER)
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["call"]:
        from caller.cli import main as call_main

        return call_main(argv[1:])
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
        video_settings(settings)  # LIVE_VIDEO*: checked at start (bot/video_settings.py)
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
    if args.command == "check":
        from bot.check import check

        level = settings.log_level if settings.log_level in ("TRACE", "DEBUG") else "WARNING"
        setup_logging(level)
        return asyncio.run(check(settings, toolsets, as_json=args.json))
    if args.command == "serve":
        if args.host:
            settings = replace(settings, host=args.host)
        if args.port:
            settings = replace(settings, port=args.port)
        rehearsal = None
        if args.rehearse:
            try:
                rehearsal = checked_rehearsal(args.rehearse, toolsets)
            except ValueError as e:
                print(f"livebot: cannot rehearse: {e}", file=sys.stderr)
                return 2
        setup_logging(settings.log_level)
        try:
            asyncio.run(serve(settings, toolsets, rehearsal))
        except KeyboardInterrupt:
            pass
        except DataFileError as e:  # a data file that cannot be used: one line, no traceback
            print(f"livebot: cannot start: {e}", file=sys.stderr)
            return 2
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
