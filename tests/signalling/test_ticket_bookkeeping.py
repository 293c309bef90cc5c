"""bot.http.tickets.Tickets alone (no server, no emulator): one call per ticket, here and
across processes on one data directory; a failed first offer gives the ticket back; the
candidate cap; which bearer tickets are good (an expired one only for its own call)."""

from __future__ import annotations

import time

import pytest

from bot import links
from bot.http.errors import ApiError
from bot.http.tickets import Tickets
from bot.http.used_tickets import UsedTickets

SECRET = b"s" * 32


def tickets(tmp_path, max_candidates: int = 10) -> Tickets:
    return Tickets(SECRET, max_candidates, 60.0, UsedTickets(tmp_path / "tickets-used.json"))


def test_a_ticket_is_claimed_once_here_and_by_any_process(tmp_path):
    here, there = tickets(tmp_path), tickets(tmp_path)
    expires = int(time.time()) + 60
    binding = here.claim("n1", expires)
    assert binding is not None
    assert here.claim("n1", expires) is None  # this process
    assert there.claim("n1", expires) is None  # another process on the same data directory
    assert there.get("n1") is None  # its refused claim left nothing behind


def test_a_first_offer_that_made_no_call_gives_the_ticket_back(tmp_path):
    here, there = tickets(tmp_path), tickets(tmp_path)
    expires = int(time.time()) + 60
    binding = here.claim("n1", expires)
    assert binding is not None
    here.release(binding)
    assert here.get("n1") is None
    assert there.claim("n1", expires) is not None


def test_a_ticket_that_made_a_call_is_not_given_back(tmp_path):
    here, there = tickets(tmp_path), tickets(tmp_path)
    expires = int(time.time()) + 60
    binding = here.claim("n1", expires)
    assert binding is not None
    binding.end()  # a call was made (and has ended)
    here.release(binding)
    assert here.get("n1") is binding
    assert there.claim("n1", expires) is None


def test_a_call_takes_candidates_up_to_its_cap(tmp_path):
    book = tickets(tmp_path, max_candidates=5)
    binding = book.claim("n1", int(time.time()) + 60)
    assert binding is not None
    book.take_candidates(binding, 3)
    with pytest.raises(ApiError) as refused:
        book.take_candidates(binding, 3)
    assert refused.value.reason == "too_many_candidates"
    assert "a call may signal 5 in all (this one has 3)" in refused.value.detail
    book.take_candidates(binding, 2)
    assert binding.candidates == 5


def test_bearer_tickets(tmp_path):
    book = tickets(tmp_path)
    good = links.sign(SECRET, "ticket", "lobby", int(time.time()) + 60)
    assert book.verify(f"Bearer {good}", {}).room == "lobby"
    for header, reason in [
        ("", "missing_ticket"),
        (f"Basic {good}", "missing_ticket"),
        ("Bearer nonsense", "invalid"),
        (f"Bearer {links.sign(SECRET, 'link', 'lobby', int(time.time()) + 60)}", "invalid"),
    ]:
        with pytest.raises(ApiError) as refused:
            book.verify(header, {})
        assert refused.value.reason == reason


def test_an_expired_ticket_serves_only_its_own_running_call(tmp_path):
    book = tickets(tmp_path)
    old = links.sign(SECRET, "ticket", "lobby", int(time.time()) - 1, nonce="n1")
    with pytest.raises(ApiError) as refused:
        book.verify(f"Bearer {old}", {})  # no call made with it
    assert refused.value.reason == "expired"
    binding = book.claim("n1", int(time.time()) - 1)
    assert binding is not None
    binding.pc_ids.append("pc-1")  # the call's id
    assert book.verify(f"Bearer {old}", {"pc-1"}).nonce == "n1"
    with pytest.raises(ApiError):
        book.verify(f"Bearer {old}", {"pc-2"})  # its call is no longer running
