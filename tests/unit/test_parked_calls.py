"""Parked calls (bot/rejoin.py): what a caller who left can come back to, and who can."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.rejoin import (
    MAX_PARKED_BYTES,
    MemoryParking,
    ParkedCall,
    ParkedCalls,
    new_secret,
    secret_key,
)
from bot.settings import SettingsError, load_settings


def parked(room: str = "den") -> ParkedCall:
    page = [{"type": "transcript", "role": "bot", "text": "It is sunny.", "final": True}]
    return ParkedCall(room, "handle-1", [("user", "what is the weather"), ("bot", "sunny")], page)


async def test_only_the_secret_takes_the_call_back_once_and_into_its_ticket() -> None:
    calls = ParkedCalls(MemoryParking(), 120)
    secret = new_secret()
    await calls.park(secret_key(secret), parked())
    assert not await calls.take(new_secret(), "den", "n0", 300)  # another secret: nothing
    assert await calls.take(secret, "den", "n1", 300)
    assert not await calls.take(secret, "den", "n2", 300)  # spent
    back = await calls.for_ticket("n1")
    assert back == parked()
    assert await calls.for_ticket("n1") is None  # the call started: gone


async def test_a_secret_from_another_room_link_gets_nothing() -> None:
    calls = ParkedCalls(MemoryParking(), 120)
    secret = new_secret()
    await calls.park(secret_key(secret), parked("den"))
    assert not await calls.take(secret, "kitchen", "n1", 300)


async def test_a_parked_call_goes_when_its_window_ends() -> None:
    calls = ParkedCalls(MemoryParking(), 0.05)
    secret = new_secret()
    await calls.park(secret_key(secret), parked())
    await asyncio.sleep(0.1)
    assert not await calls.take(secret, "den", "n1", 300)


async def test_a_failed_offer_gives_the_call_back_to_its_ticket() -> None:
    calls = ParkedCalls(MemoryParking(), 120)
    await calls.give_back("n1", parked(), 300)
    assert await calls.for_ticket("n1") == parked()


def test_the_secret_is_long_and_only_its_hash_is_a_key() -> None:
    secret = new_secret()
    assert len(secret) >= 43 and secret not in secret_key(secret)
    assert secret_key(secret) == secret_key(secret) != secret_key(new_secret())


def test_a_long_call_is_parked_within_its_size_newest_kept() -> None:
    page = [
        {"type": "transcript", "role": "bot", "text": f"piece {i} " + "x" * 2000}
        for i in range(400)
    ]
    call = ParkedCall("den", "h", [("user", "y" * 1000)] * 10, page)
    text = call.dumps()
    assert len(text) <= MAX_PARKED_BYTES
    kept = json.loads(text)["page"]
    assert kept and kept[-1]["text"].startswith("piece 399 ")


def test_a_damaged_parked_call_is_no_call() -> None:
    assert ParkedCall.loads("{not json") is None
    assert ParkedCall.loads('{"room": "den"}') is None


def test_the_window_is_a_setting_no_longer_than_a_handle_lives() -> None:
    assert load_settings({}).rejoin_seconds == 120
    assert load_settings({"REJOIN_SECONDS": "0"}).rejoin_seconds == 0
    with pytest.raises(SettingsError, match="REJOIN_SECONDS"):
        load_settings({"REJOIN_SECONDS": "9000"})
