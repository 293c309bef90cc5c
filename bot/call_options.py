"""Each call's options from its room: the tools, greeting and page wording a call gets.

It sits beside the call it configures (`bot.call.CallOptions`), not in the HTTP layer:
the signalling routes only ask for a room's options when a call starts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from bot.call import CallOptions
from bot.rooms import Room
from bot.settings import Settings
from tools.toolset import Toolset, registry_of

Mode = Literal["live", "echo"]


def offline_message() -> str:
    return (
        "Offline echo test: no GOOGLE_API_KEY is set, so the bot runs against its built-in "
        "Live emulator and plays back each thing you say after you stop. This proves your "
        "microphone, network and speaker. For a real conversation, set GOOGLE_API_KEY in .env "
        "(see .env.example) and restart."
    )


def call_mode(echo: bool) -> Mode:
    """What the page is told it is talking to: Gemini Live, or the emulator's echo test."""
    return "echo" if echo else "live"


def caller_message(echo: bool) -> str:
    """The sentence the page shows the caller before and during the call."""
    return offline_message() if echo else "Talk to the bot once you are connected."


def options_factory(
    settings: Settings, toolsets: Sequence[Toolset] = (), *, echo: bool = False
) -> Callable[[Room], CallOptions]:
    """The options of a call in a room; `echo`: the Live endpoint is the echo test."""
    mode, message = call_mode(echo), caller_message(echo)

    def options_for(room: Room) -> CallOptions:
        # A room may bring its own settings per toolset (e.g. its calendar); each
        # package interprets its own (and caches what it makes of them).
        sets = [ts.in_room(room.settings_for(ts.name)) for ts in toolsets]
        # The echo test answers what the caller says; a greeting would only be echoed.
        return CallOptions(
            greeting=None if echo else settings.live.greeting,
            tools=registry_of(sets),
            google_search=settings.google_search,
            room=room,
            mode=mode,
            message=message,
        )

    return options_for
