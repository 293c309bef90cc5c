"""bot.http.ice (the candidate rule, alone) and the settings that drive it."""

from __future__ import annotations

import ipaddress

import pytest

from bot.http.ice import (
    CandidatePolicy,
    CandidateRefused,
    RelayAddresses,
    parse_candidate,
    turn_hosts,
)
from bot.settings import SettingsError, load_settings

GOOD = "candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 0.0.0.0 rport 0"


def test_a_browser_candidate_parses_in_both_spellings():
    for line in (GOOD, "a=" + GOOD, GOOD.removeprefix("candidate:")):
        c = parse_candidate(line)
        assert (str(c.address), c.port, c.type, c.transport) == (
            "203.0.113.7",
            61665,
            "srflx",
            "udp",
        )
    v6 = parse_candidate("candidate:1 1 UDP 2122262783 2001:db8::7 50000 typ host generation 0")
    assert v6.address == ipaddress.ip_address("2001:db8::7") and v6.transport == "udp"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("candidate:1 1 udp 1 203.0.113.7 65536 typ host", "bad_port"),
        ("candidate:1 1 udp 1 203.0.113.7 0 typ host", "bad_port"),
        ("candidate:1 1 udp 1 abc.local 9 typ host", "mdns_candidate"),
        ("candidate:1 1 udp 1 ABC.LOCAL. 9 typ host", "mdns_candidate"),
        ("candidate:1 1 udp 1 stun.example.org 9 typ host", "hostname_candidate"),
        ("candidate:1 1 udp 1 ff02::fb 5353 typ host", "bad_address"),
        ("candidate:1 1 udp 1 255.255.255.255 9 typ host", "bad_address"),
        ("candidate:1 1 udp 1 :: 9 typ host", "bad_address"),
        ("candidate:1 0 udp 1 203.0.113.7 9 typ host", "bad_candidate"),
        ("candidate:1 1 udp 99999999999 203.0.113.7 9 typ host", "bad_candidate"),
        ("candidate:1 1 udp 1 203.0.113.7 9 type host", "bad_candidate"),
        ("", "bad_candidate"),
    ],
)
def test_refusals_have_a_reason(line, reason):
    with pytest.raises(CandidateRefused) as err:
        parse_candidate(line)
    assert err.value.reason == reason and str(err.value)


def test_relay_only_takes_relay_candidates_on_the_relay_addresses():
    policy = CandidatePolicy(
        relay_only=True, relay_addresses=frozenset({ipaddress.ip_address("203.0.113.9")})
    )
    assert policy.check("candidate:1 1 udp 1 203.0.113.9 49160 typ relay").type == "relay"
    for line, reason in [
        ("candidate:1 1 udp 1 203.0.113.9 49160 typ host", "not_relay"),
        ("candidate:1 1 udp 1 203.0.113.10 49160 typ relay", "not_the_relay"),
    ]:
        with pytest.raises(CandidateRefused) as err:
            policy.check(line)
        assert err.value.reason == reason


async def test_relay_addresses_come_from_the_setting_or_the_turn_urls():
    assert turn_hosts(["turn:turn.example.org:3478?transport=udp", "turns:[2001:db8::9]:5349"]) == [
        "turn.example.org",
        "2001:db8::9",
    ]
    urls = ["turn:127.0.0.1:3478?transport=udp", "turn:[::1]:3478"]
    assert await RelayAddresses([], urls).get() == {
        ipaddress.ip_address(a) for a in ("127.0.0.1", "::1")
    }
    assert await RelayAddresses(["192.0.2.1"], urls).get() == {ipaddress.ip_address("192.0.2.1")}


def test_the_settings_are_validated_with_a_clear_message():
    base = {"LIVEBOT_SECRET": "x" * 32}
    s = load_settings(base)
    assert (s.max_candidates_per_call, s.candidate_patches_per_minute, s.turn_relay_addresses) == (
        100,
        60.0,
        (),
    )
    s = load_settings(
        {
            **base,
            "TURN_RELAY_ADDRESSES": "203.0.113.9, 2001:db8::9",
            "MAX_CANDIDATES_PER_CALL": "40",
        }
    )
    assert (
        s.turn_relay_addresses == ("203.0.113.9", "2001:db8::9") and s.max_candidates_per_call == 40
    )
    for env, words in [
        ({"TURN_RELAY_ADDRESSES": "turn.example.org"}, "TURN_RELAY_ADDRESSES"),
        ({"MAX_CANDIDATES_PER_CALL": "0"}, "MAX_CANDIDATES_PER_CALL"),
        ({"CANDIDATE_PATCHES_PER_MINUTE": "lots"}, "CANDIDATE_PATCHES_PER_MINUTE"),
    ]:
        with pytest.raises(SettingsError) as err:
            load_settings({**base, **env})
        assert words in str(err.value)
