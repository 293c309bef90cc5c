"""`python -m bot …`: the bot's command line (the `./livebot` script calls it)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import AsyncExitStack
from dataclasses import replace

import uvicorn
from loguru import logger

from bot.logs import setup_logging
from bot.settings import Settings, SettingsError, feature_warnings, load_settings


async def serve(settings: Settings) -> None:
    """Run the HTTP server (and, offline, the built-in emulator) until stopped."""
    from bot.server import create_app

    async with AsyncExitStack() as stack:
        echo = settings.live.offline
        if echo:
            from bot.offline import offline_live

            key = await stack.enter_async_context(offline_live(settings.data_dir))
            settings = replace(settings, live=replace(settings.live, api_key=key))
        for note in feature_warnings(settings.live):
            logger.warning(note)
        app = create_app(settings, echo=echo)
        config = uvicorn.Config(
            app, host=settings.host, port=settings.port, log_config=None, access_log=False
        )
        server = uvicorn.Server(config)
        banner = [
            "",
            "livebot is running.",
            f"  Call the bot: open {settings.base_url}/ in your browser",
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
        banner.append("")

        async def announce() -> None:
            while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
                await asyncio.sleep(0.05)
            print("\n".join(banner), flush=True)

        await asyncio.gather(server.serve(), announce())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livebot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the bot server and print the link callers open")
    p_serve.add_argument("--host", help="address to listen on (default: HOST or 127.0.0.1)")
    p_serve.add_argument("--port", type=int, help="port to listen on (default: PORT or 7860)")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as e:
        print(e, file=sys.stderr)
        return 2
    if args.command == "serve":
        if args.host:
            settings = replace(settings, host=args.host)
        if args.port:
            settings = replace(settings, port=args.port)
        setup_logging(settings.log_level)
        try:
            asyncio.run(serve(settings))
        except KeyboardInterrupt:
            pass
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
