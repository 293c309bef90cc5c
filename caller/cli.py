"""`./livebot call LINK`: call a room from the terminal, print what the page would show."""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from loguru import logger

from caller.peer import Caller
from caller.signalling import CallerError


def describe_page_message(data: dict[str, Any]) -> str | None:
    """One line for a `server-message` from the bot's page feed (None: not worth a line)."""
    kind = data.get("type")
    if kind == "tool":
        when = f", {data['scheduling']}" if data.get("scheduling") else ""
        detail = f": {data['summary']}" if data.get("summary") else ""
        return f"tool  {data.get('name')} {data.get('state')}{when}{detail}"
    if kind == "notice":
        return f"note  {data.get('text')}"
    if kind == "session":
        room = (data.get("room") or {}).get("title", "?")
        return f"room  {room} ({data.get('mode')}): {data.get('message')}"
    if kind == "lights":
        on = [f"{x['name']} {x['brightness']}%" for x in data.get("lights", []) if x.get("on")]
        return "lights on: " + (", ".join(on) or "none")
    return None


class Transcript:
    """Joins the feed's transcript pieces into one line per turn and speaker."""

    def __init__(self) -> None:
        self.role: str | None = None
        self.text = ""
        self.lines: list[str] = []

    def add(self, data: dict[str, Any]) -> str | None:
        role, text = data.get("role"), data.get("text") or ""
        done = None
        if self.role is not None and (role != self.role or data.get("final")):
            done = self.flush()
        if text:
            self.role = role
            self.text += text
        return done

    def flush(self) -> str | None:
        line = (
            f"{'you' if self.role == 'user' else 'bot'}   {self.text.strip()}"
            if self.text
            else None
        )
        if line:
            self.lines.append(line)
        self.role, self.text = None, ""
        return line


GREETING_WAIT_SECONDS = 4.0
QUIET_SECONDS = 1.5


def _is_bot_turn_end(m: Any) -> bool:
    if not (isinstance(m, dict) and m.get("type") == "server-message"):
        return False
    data = m.get("data") or {}
    return (
        data.get("type") == "transcript" and data.get("role") == "bot" and bool(data.get("final"))
    )


async def _bot_turn_end(caller: Caller, after: int, timeout: float, report: Any) -> bool:
    """Wait until the bot has answered: a turn end in the feed after message ``after``,
    then QUIET_SECONDS with no new feed message (a tool call's reply is a second turn)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    answered_at: float | None = None
    seen = len(caller.data_messages)
    while loop.time() < end:
        report()
        if len(caller.data_messages) != seen:
            seen = len(caller.data_messages)
            if any(_is_bot_turn_end(m) for m in caller.data_messages[after:]):
                answered_at = loop.time()
        if answered_at is not None and loop.time() - answered_at >= QUIET_SECONDS:
            return True
        await asyncio.sleep(0.1)
    return answered_at is not None


async def _run(args: argparse.Namespace) -> int:
    request_data = json.loads(args.request_data) if args.request_data else None
    transcript = Transcript()

    async with Caller(args.url, offer_path=args.offer_path, request_data=request_data) as caller:
        seen = 0

        def report() -> None:
            nonlocal seen
            for m in caller.data_messages[seen:]:
                if isinstance(m, dict) and m.get("type") == "bot-ready":
                    print("bot-ready", flush=True)
                if isinstance(m, dict) and m.get("type") == "server-message":
                    data = m.get("data") or {}
                    line = transcript.add(data) if data.get("type") == "transcript" else None
                    line = line or describe_page_message(data)
                    if line:
                        print(line, flush=True)
            seen = len(caller.data_messages)

        await caller.connect(timeout=args.connect_timeout)
        print(f"connected: pc_id={caller.pc_id}", flush=True)
        if args.wav:
            await caller.play_wav(args.wav)
        if args.text:
            await caller.wait_for_message("bot-ready", timeout=args.connect_timeout)
            # A greeting first: wait for its end (briefly: there may be none).
            await _bot_turn_end(caller, 0, GREETING_WAIT_SECONDS, report)
            for text in args.text:
                seen_before = len(caller.data_messages)
                await caller.send_text(text)
                print(f"you   (typed) {text}", flush=True)
                await _bot_turn_end(caller, seen_before, args.reply_timeout, report)
        loop = asyncio.get_running_loop()
        end = loop.time() + args.seconds
        while loop.time() < end or (args.wav and not caller.played_until):
            report()
            await asyncio.sleep(0.1)
        report()
        if (line := transcript.flush()) is not None:
            print(line)
        if args.out:
            print(f"saved {caller.save_wav(args.out)}")
        total = len(caller.received) / 2 / caller.received_rate
        print(f"received {total:.2f}s of audio, {caller.received_seconds():.2f}s non-silent")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="./livebot call", description=__doc__.splitlines()[0])
    p.add_argument("url", help="a room link (…/r/<room>?t=…) or a bot server base URL")
    p.add_argument("--wav", help="16-bit WAV to speak after connecting")
    p.add_argument("--out", help="write the bot's audio to this WAV")
    p.add_argument(
        "--text",
        action="append",
        help="type this to the bot (repeat for several turns; each waits for the reply)",
    )
    p.add_argument(
        "--reply-timeout", type=float, default=20, help="seconds to wait for each typed reply"
    )
    p.add_argument("--seconds", type=float, default=10, help="then stay on the call this long")
    p.add_argument("--offer-path", default="/api/offer")
    p.add_argument("--request-data", help="JSON sent as request_data with the offer")
    p.add_argument("--connect-timeout", type=float, default=10)
    args = p.parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="INFO")
    try:
        return asyncio.run(_run(args))
    except (CallerError, TimeoutError, ConnectionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
