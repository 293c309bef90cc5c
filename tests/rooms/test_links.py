"""Room links and call tickets: signed, expiring, bound to one connection."""

from __future__ import annotations

import time

import pytest

from bot import links
from bot.rooms import Room, RoomError, RoomStore

SECRET = b"k" * 32


def test_a_link_verifies_for_its_room_until_it_expires():
    token = links.sign(SECRET, "link", "kitchen", int(time.time()) + 60)
    claims = links.verify(SECRET, "link", token)
    assert claims.room == "kitchen"
    with pytest.raises(links.TokenError) as err:
        links.verify(SECRET, "link", token, now=time.time() + 61)
    assert err.value.reason == "expired" and "expired" in str(err.value)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],  # signature changed
        lambda t: links.sign(b"another-secret" * 3, "link", "kitchen", 2**31),  # not ours
        lambda t: t.replace(t.split(".")[0], links._b64(b'{"r":"kitchen","e":9999999999,"n":"x"}')),
        lambda t: "",
        lambda t: "no-dot-here",
        lambda t: "a.b.c",
        lambda t: "x" * 5000,
    ],
)
def test_tampered_or_foreign_links_are_invalid(mangle):
    token = links.sign(SECRET, "link", "kitchen", int(time.time()) + 60)
    with pytest.raises(links.TokenError) as err:
        links.verify(SECRET, "link", mangle(token))
    assert err.value.reason == "invalid"


def test_a_ticket_is_not_a_link_and_a_link_is_not_a_ticket():
    ticket = links.sign(SECRET, "ticket", "kitchen", int(time.time()) + 60)
    with pytest.raises(links.TokenError):
        links.verify(SECRET, "link", ticket)
    link = links.sign(SECRET, "link", "kitchen", int(time.time()) + 60)
    with pytest.raises(links.TokenError):
        links.verify(SECRET, "ticket", link)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("24h", 86400), ("7d", 604800), ("30", 30)]
)
def test_durations(text, seconds):
    assert links.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0h", "-1h", "1y", "soon"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError, match="duration"):
        links.parse_duration(text)


def test_rooms_persist_and_names_are_checked(tmp_path):
    store = RoomStore(tmp_path / "rooms.json")
    store.update("kitchen", toolsets={"lights": {"room": "kitchen"}}, voice="Puck", max_callers=2)
    store.update("kitchen", persona="Talk like a chef.")
    again = RoomStore(tmp_path / "rooms.json").get("kitchen")
    assert again is not None and again.generation  # a new room gets a generation, kept after
    assert again == Room(
        name="kitchen",
        toolsets={"lights": {"room": "kitchen"}},
        voice="Puck",
        max_callers=2,
        persona="Talk like a chef.",
        generation=again.generation,
    )
    for bad in ("Kitchen", "../etc", "a b", "", "x" * 41):
        with pytest.raises(RoomError):
            Room(name=bad)
    with pytest.raises(RoomError, match="max callers"):
        Room(name="hall", max_callers=0)


def test_a_link_id_never_starts_with_a_dash():
    """`room revoke NAME ID` must take the id as typed: a leading dash would read as an option."""
    secret = b"s" * 32
    ids = [
        links.verify(secret, "link", links.token_of(links.room_url("http://x", secret, "r", 60)))
        for _ in range(3000)
    ]
    assert not [c.nonce for c in ids if c.nonce.startswith("-")]
    assert len({c.nonce for c in ids}) == 3000
