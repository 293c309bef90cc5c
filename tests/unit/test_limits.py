"""The pure parts of the limits: client keys, JSON depth, fitting page messages."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.http.bodylimit import json_depth
from bot.http.ratelimit import client_network
from bot.pagemessage import CUT, fit


def test_client_network_groups_ipv6_by_64():
    assert client_network("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert client_network("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert client_network("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert client_network("fe80::1%eth0") == "fe80::/64"
    assert client_network("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_network("192.0.2.7") == "192.0.2.7"
    assert client_network("unknown") == "unknown"


def test_json_depth_counts_brackets_outside_strings():
    assert json_depth(b'{"a": [{"b": 1}]}', 2) == 3
    assert json_depth(b'{"a": "[[[[[[[[[[["}', 2) == 1
    assert json_depth(b'{"a": "\\"[[[[["}', 2) == 1
    assert json_depth(b"[" * 100_000 + b"]" * 100_000, 32) == 33  # stops counting
    assert json_depth(b"[[]]", 32) == 0  # too few openers to matter


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5000),
    lambda inner: st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=200,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values, budget=st.integers(min_value=200, max_value=20_000))
def test_fit_always_fits_and_keeps_what_fits(value, budget):
    data = {"type": "x", "payload": value}
    fitted = fit(data, budget)
    assert len(json.dumps(fitted)) <= budget
    if len(json.dumps(data)) <= budget:
        assert fitted is data
    else:
        assert fitted["truncated"] is True and fitted["type"] == "x"


def test_fit_cuts_the_longest_strings_first():
    data = {"type": "calendar", "events": [{"title": "short"}, {"title": "L" * 100_000}]}
    fitted = fit(data, 2000)
    titles = [e["title"] for e in fitted["events"]]
    assert titles[0] == "short" and titles[1].endswith(CUT) and len(json.dumps(fitted)) <= 2000
