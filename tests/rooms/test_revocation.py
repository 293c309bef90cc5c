"""Finding 12: links die with their room for good, one link can be revoked, and
`--expires` has an upper bound — through the real CLI against a running bot."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gemini_emulator import running_emulator
from testkit.bot import running_bot
from tests.rooms.cli import run_room_cli

pytestmark = pytest.mark.timeout(120)


def token_of(link: str) -> str:
    return link.split("t=", 1)[1]


def create(data: Path, *args: str) -> tuple[str, str]:
    """`room create …`: the link it printed and the link id it named."""
    done = run_room_cli(data, "create", *args)
    assert done.returncode == 0, done.stderr
    link_id = done.stderr.split("link id ", 1)[1].split(":", 1)[0]
    return token_of(done.stdout.strip()), link_id


def cli_ok(data: Path, *args: str) -> str:
    done = run_room_cli(data, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_deleted_rooms_links_never_work_again(tmp_path: Path):
    data = tmp_path / "data"
    old, _ = create(data, "kitchen", "--expires", "7d")
    async with running_emulator(tmp_path) as emu, running_bot(emu, data) as bot:
        async with httpx.AsyncClient() as http:

            async def join(token: str) -> tuple[int, str]:
                r = await http.post(f"{bot.url}/api/join", json={"token": token})
                return r.status_code, r.json().get("reason", "ok")

            first = await join(old)
            cli_ok(data, "delete", "kitchen")
            deleted = await join(old)
            new, _ = create(data, "kitchen")  # a new room of the same name
            again = await join(old)
            page = await http.get(f"{bot.url}/r/kitchen", params={"t": old})
            fresh = await join(new)
    print(f"old 7-day link: {first} -> deleted {deleted} -> recreated {again}; new link {fresh}")
    assert first == (200, "ok")
    assert deleted == (404, "unknown_room")
    assert again == (410, "revoked")
    assert page.status_code == 410 and "no longer works" in page.text
    assert fresh == (200, "ok")


async def test_one_link_or_every_link_of_a_room_can_be_revoked(tmp_path: Path):
    data = tmp_path / "data"
    a, _ = create(data, "kitchen")
    b, b_id = create(data, "kitchen", "--title", "Kitchen")  # changes the room, same links
    c, _ = create(data, "kitchen")
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, data, join_burst=50, join_rate_per_minute=600) as bot,
    ):
        async with httpx.AsyncClient() as http:

            async def joins(*tokens: str) -> list[int]:
                return [
                    (await http.post(f"{bot.url}/api/join", json={"token": t})).status_code
                    for t in tokens
                ]

            before = await joins(a, b, c)
            cli_ok(data, "revoke", "kitchen", f"{bot.url}/r/kitchen?t={a}")  # a link
            after_a = await joins(a, b, c)
            cli_ok(data, "revoke", "kitchen", b_id)  # the id `create` printed
            after_b = await joins(a, b, c)
            cli_ok(data, "revoke", "kitchen", "--all")
            after_all = await joins(a, b, c)
            d, _ = create(data, "kitchen")
            [after_new] = await joins(d)
    print(f"a, b, c: {before} -> revoke a {after_a} -> revoke b {after_b} -> --all {after_all}")
    assert before == [200, 200, 200]
    assert after_a == [410, 200, 200]
    assert after_b == [410, 410, 200]
    assert after_all == [410, 410, 410]
    assert after_new == 200
    wrong_room = run_room_cli(data, "revoke", "lobby", d)
    assert wrong_room.returncode == 2 and "not 'lobby'" in wrong_room.stderr


@pytest.mark.parametrize(
    ("expires", "words"),
    [
        ("99999999999999999999d", "is not a duration"),
        ("366d", "a link lives at most 365 days"),
        ("31536001", "a link lives at most 365 days"),
        ("9000h", "a link lives at most 365 days"),
    ],
)
def test_expiry_has_an_upper_bound(tmp_path: Path, expires: str, words: str):
    done = run_room_cli(tmp_path / "data", "create", "kitchen", "--expires", expires)
    assert done.returncode == 2 and words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data" / "rooms.json").exists()


def test_a_year_is_the_longest_link(tmp_path: Path):
    import time

    from bot import links
    from testkit.bot import TEST_SECRET

    token, _ = create(tmp_path / "data", "kitchen", "--expires", "365d")
    claims = links.verify(TEST_SECRET.encode(), "link", token)
    assert abs(claims.expires_at - (time.time() + 365 * 86400)) < 120
