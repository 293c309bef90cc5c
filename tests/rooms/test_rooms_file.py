"""Finding 6 (and 16): a bad rooms.json entry takes only itself down; data files that
cannot be used stop the start with one line naming them; room calendars stay inside
the data directory."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx
import pytest
from loguru import logger

from bot import links
from bot.rooms import RoomStore
from gemini_emulator import running_emulator
from testkit.bot import running_bot
from tests.rooms.cli import ROOT, cli_env, run_room_cli

pytestmark = pytest.mark.timeout(90)

BAD_ENTRIES = {
    "Attic": {"title": "upper-case name"},
    "hall": ["a", "list"],
    "den": {"max_callers": "4"},
    "cellar": {"calendar": "../../x"},
}


def token_of(link: str) -> str:
    return link.split("t=", 1)[1]


async def test_bad_room_entries_are_skipped_and_logged_and_the_rest_works(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    rooms_file = data / "rooms.json"
    good = {"lobby": {"title": "Lobby"}, "kitchen": {"title": "Kitchen", "max_callers": 2}}
    rooms_file.write_text(json.dumps({"rooms": {**good, **BAD_ENTRIES}}))
    before = rooms_file.read_bytes()
    logs: list[str] = []
    sink = logger.add(lambda m: logs.append(str(m)), level="WARNING")
    try:
        async with running_emulator(tmp_path) as emu, running_bot(emu, data) as bot:
            async with httpx.AsyncClient() as http:
                statuses = []
                for name in ("kitchen", "lobby", "den", "hall", "cellar"):
                    link = links.room_url(bot.url, bot.secret, name, 600)
                    page = await http.get(link)
                    join = await http.post(f"{bot.url}/api/join", json={"token": token_of(link)})
                    statuses.append((name, page.status_code, join.status_code))
                home = await http.get(f"{bot.url}/", follow_redirects=True)
        print(f"page and join statuses: {statuses}; home {home.status_code}")
        assert statuses == [
            ("kitchen", 200, 200),
            ("lobby", 200, 200),
            ("den", 404, 404),
            ("hall", 404, 404),
            ("cellar", 404, 404),
        ]
        assert home.status_code == 200
    finally:
        logger.remove(sink)
    assert rooms_file.read_bytes() == before  # nothing rewritten
    for name in BAD_ENTRIES:
        [line] = [x for x in logs if f"skipped the room entry {name!r}" in x]  # logged once
        assert str(rooms_file) in line
    assert any("max_callers is '4'" in x for x in logs)
    assert any("calendar name '../../x' is not allowed" in x for x in logs)
    # A write changes its one entry and keeps the bad ones as they were (for a human).
    RoomStore(rooms_file).update("porch", title="Porch")
    after = json.loads(rooms_file.read_text())["rooms"]
    assert {k: after[k] for k in BAD_ENTRIES} == BAD_ENTRIES
    assert sorted(after) == sorted([*good, *BAD_ENTRIES, "porch"])


async def test_a_truncated_rooms_file_gives_no_server_error_and_is_never_overwritten(
    tmp_path: Path,
):
    data = tmp_path / "data"
    async with running_emulator(tmp_path) as emu, running_bot(emu, data) as bot:
        link = bot.link("kitchen")
        rooms_file = data / "rooms.json"
        text = rooms_file.read_text()
        rooms_file.write_text(text[: len(text) // 2])  # a half-written edit by hand
        damaged = rooms_file.read_bytes()
        async with httpx.AsyncClient() as http:
            page = await http.get(link)
            join = await http.post(f"{bot.url}/api/join", json={"token": token_of(link)})
            home = await http.get(f"{bot.url}/", follow_redirects=True)
        print(
            f"truncated rooms.json: page {page.status_code}, join {join.status_code}, "
            f"home {home.status_code}"
        )
        assert (page.status_code, join.status_code, home.status_code) == (404, 404, 404)
        assert join.json()["reason"] == "unknown_room"
        assert rooms_file.read_bytes() == damaged


async def serve_until_exit(data: Path, tools: str) -> tuple[int, str]:
    env = cli_env(data, TOOLS=tools)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--port",
        "1",  # never reached: the start fails first
        cwd=data.parent,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


@pytest.mark.parametrize(
    ("file", "content", "tools", "words"),
    [
        ("rooms.json", '{"rooms": {"lobby": {"ti', "clock", "is not valid JSON"),
        ("rooms.json", '["lobby"]', "clock", 'must be an object with a "rooms" object'),
        ("lights.json", '{"lights": [{"name": 1}]', "lights", "cannot read the lights file"),
    ],
)
async def test_an_unusable_data_file_stops_the_start_with_one_line_naming_it(
    tmp_path: Path, file: str, content: str, tools: str, words: str
):
    data = tmp_path / "data"
    (data / "tools" / "lights").mkdir(parents=True)
    target = data / file if file == "rooms.json" else data / "tools" / "lights" / file
    target.write_text(content)
    code, out = await serve_until_exit(data, tools)
    [line] = [x for x in out.splitlines() if "cannot start" in x]
    print(f"exit {code}: {line}")
    assert code == 2
    assert str(target) in line and words in line
    assert "Traceback" not in out
    assert target.read_text() == content


async def test_a_damaged_calendar_is_named_in_one_line_at_start_and_the_bot_runs(tmp_path: Path):
    data = tmp_path / "data"
    calendar = data / "tools" / "calendar" / "calendar.ics"
    calendar.parent.mkdir(parents=True)
    calendar.write_text("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n")  # cut short
    env = cli_env(data, TOOLS="calendar")
    from testkit.bot import free_port

    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--port",
        str(port),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    try:
        async with asyncio.timeout(45):
            while not any("Tools:" in x for x in lines):
                line = await proc.stdout.readline()
                assert line, "\n".join(lines)
                lines.append(line.decode())
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    [line] = [x for x in lines if "is not a valid iCalendar file" in x]
    print(line.strip())
    assert f"the file {calendar} is not a valid iCalendar file" in line
    assert not any("Traceback" in x for x in lines)


def test_a_room_calendar_outside_the_data_directory_is_refused(tmp_path: Path):
    data = tmp_path / "data"
    for bad in ("../../x", "/etc/passwd", "..", ".hidden", "a\\b", "x" * 65):
        done = run_room_cli(data, "create", "kitchen", "--calendar", bad)
        assert done.returncode == 2, (bad, done.stderr)
        assert "is not allowed: it must stay inside the data directory" in done.stderr
    assert not (data / "rooms.json").exists()
    ok = run_room_cli(data, "create", "kitchen", "--calendar", "Family Shared")
    assert ok.returncode == 0, ok.stderr
    assert RoomStore(data / "rooms.json").get("kitchen").settings_for("calendar") == {
        "name": "Family Shared"
    }


def test_the_cli_names_an_unreadable_rooms_file(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "rooms.json").write_text("{")
    done = run_room_cli(data, "create", "kitchen")
    print(done.stderr.strip())
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "rooms.json is not valid JSON" in done.stderr
    assert (data / "rooms.json").read_text() == "{"
    assert str(ROOT)  # the CLI ran from the repository's code
