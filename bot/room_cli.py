"""`livebot room create|list|delete|revoke`: rooms and the signed links callers open.

Its own module so the command line (`bot/__main__.py`) stays one screen per command.
Tool packages bring their own `room create` options (`tools.room_options`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from loguru import logger

from bot.links import TokenError, parse_duration, room_url, token_of, verify
from bot.rooms import RoomError, RoomStore
from bot.settings import Settings
from tools.files import DataFileError
from tools.room_options import room_options


def add_room_parser(sub: Any) -> None:
    """The `room` subcommand and its own subcommands."""
    p_room = sub.add_parser("room", help="create rooms and print the links callers open")
    room_sub = p_room.add_subparsers(dest="room_command", required=True)
    p_create = room_sub.add_parser("create", help="create (or change) a room; print a signed link")
    p_create.add_argument("name", help="lowercase letters, digits and dashes, e.g. kitchen")
    p_create.add_argument(
        "--expires", default="24h", help="link lifetime: 30m, 24h, 7d … (at most 365d)"
    )
    p_create.add_argument("--title", help="the name callers see")
    p_create.add_argument("--persona", help="added to the system instruction in this room")
    p_create.add_argument("--voice", help="a Gemini prebuilt voice for this room")
    add_toolset_flags(p_create)
    p_create.add_argument("--max-callers", type=int, help="simultaneous callers (default 4)")
    room_sub.add_parser("list", help="list the rooms")
    p_delete = room_sub.add_parser("delete", help="delete a room (its links stop working)")
    p_delete.add_argument("name")
    p_revoke = room_sub.add_parser("revoke", help="end one link of a room, or all (--all)")
    p_revoke.add_argument("name")
    p_revoke.add_argument("link", nargs="?", help="the link, its token or its link id")
    p_revoke.add_argument("--all", action="store_true", help="end every link of the room")


def room_command(settings: Settings, args: argparse.Namespace) -> int:
    """`room create|list|delete|revoke`: rooms and the signed links callers open."""
    try:
        return _room_command(settings, args)
    except DataFileError as e:
        print(f"livebot: {e}", file=sys.stderr)
        return 2


def revoke_command(rooms: RoomStore, secret: bytes, args: argparse.Namespace) -> int:
    """`room revoke NAME --all` ends every link of a room; `room revoke NAME LINK` one link
    (the link, its token, or the link id `room create` printed)."""
    if args.all:
        if rooms.revoke_all(args.name) is None:
            print(f"there is no room called {args.name!r}", file=sys.stderr)
            return 1
        print(f"revoked every link of room {args.name}")
        return 0
    if not args.link:
        print("say which link to revoke (the link or its id), or --all", file=sys.stderr)
        return 2
    token = token_of(args.link)
    if "." in token:
        try:
            claims = verify(secret, "link", token, now=0)
        except TokenError as e:
            print(f"cannot revoke: {e}", file=sys.stderr)
            return 2
        if claims.room != args.name:
            print(f"that link is for room {claims.room!r}, not {args.name!r}", file=sys.stderr)
            return 2
        rooms.revoke(claims.nonce, claims.expires_at)
        link_id = claims.nonce
    else:
        link_id = token
        rooms.revoke(link_id)
    print(f"revoked link {link_id} of room {args.name}")
    return 0


def _dest(package: str, key: str) -> str:
    return f"toolset:{package}:{key}"


def add_toolset_flags(parser: argparse.ArgumentParser) -> None:
    """`room create` takes each tool package's room settings (`tools.room_options`)."""
    for package, options in room_options().items():
        for o in options:
            try:
                parser.add_argument(o.flag, dest=_dest(package, o.key), help=o.help)
            except argparse.ArgumentError as e:  # a flag taken: the first one keeps it
                logger.warning(f"tool package {package!r}: room option {o.flag} unusable: {e}")


def toolset_settings(args: argparse.Namespace) -> dict[str, dict[str, str]]:
    """The toolset settings given on the command line, by package."""
    found: dict[str, dict[str, str]] = {}
    for package, options in room_options().items():
        for o in options:
            value = getattr(args, _dest(package, o.key), None)
            if value is not None:
                found.setdefault(package, {})[o.key] = value
    return found


def _room_command(settings: Settings, args: argparse.Namespace) -> int:
    rooms = RoomStore(settings.data_dir / "rooms.json")
    if args.room_command == "revoke":
        return revoke_command(rooms, settings.link_secret(), args)
    if args.room_command == "list":
        for room in rooms.all():
            shown = [("voice", room.voice)] + [
                (o.label, room.settings_for(package).get(o.key))
                for package, options in room_options().items()
                for o in options
            ]
            extras = ", ".join(f"{k} {v}" for k, v in shown if v)
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
            toolsets=toolset_settings(args),
            max_callers=args.max_callers,
        )
    except (ValueError, RoomError) as e:
        print(f"cannot create the room: {e}", file=sys.stderr)
        return 2
    link = room_url(settings.base_url, settings.link_secret(), room.name, seconds, room.generation)
    print(link)
    link_id = verify(settings.link_secret(), "link", token_of(link)).nonce
    print(
        f"link id {link_id}: `livebot room revoke {room.name} {link_id}` ends this link",
        file=sys.stderr,
    )
    return 0
