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

from bot.logs import setup_logging
from bot.settings import Settings, SettingsError, feature_warnings, load_settings
from tools.api import Behavior
from tools.toolset import Toolset, ToolSettingsError, load_toolsets, registry_of


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
        app = create_app(settings, tools=registry, echo=echo)
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
    for toolset in toolsets:
        print(f"{toolset.name}: {toolset.description or ''}".rstrip(": "))
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
    p_tools = sub.add_parser(
        "tools", help="list the enabled tools with the exact declarations sent to Gemini"
    )
    p_tools.add_argument("--json", action="store_true", help="print only the setup's tools JSON")
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
