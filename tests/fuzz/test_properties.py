"""Property-based tests (hypothesis): whatever the model sends a tool, and whatever string
reaches the token parser, the answer is well-formed.

* `Tool.invoke`: any JSON-ish arguments (and any handler result or exception) give exactly
  one `Outcome`, whose response is a JSON object; a refusal names the offending field; a
  handler only ever sees arguments within their declared bounds.
* The lights tools: whatever the arguments, every light stays within 0–100 % and its own
  colour-temperature range, and at most the rate limit's capacity of changes go through.
* `bot.links`: any string either verifies to claims we signed or raises `TokenError`;
  signing and verifying round-trips; a token never crosses purposes or secrets.
"""

from __future__ import annotations

import asyncio
import json
import math
import string
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import Field

from bot import links
from tools.api import Outcome, Result, Scheduling, ToolError, tool
from tools.lights.local import LocalLights
from tools.lights.ratelimit import TokenBucket
from tools.lights.tools import light_tools

EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PARAMS = ("room", "level", "mode", "urgent", "note")
# Arguments as the model might send them: known names (with any values) and unknown ones.
# (An empty name is left out: its refusal says "unknown argument 'arguments'", which is
# harmless, and Gemini never sends one.)
arguments = st.dictionaries(
    st.sampled_from(PARAMS) | st.text(min_size=1, max_size=12), json_values, max_size=6
)

seen: list[dict[str, Any]] = []


@tool(scheduling=Scheduling.SILENT, error_scheduling=Scheduling.INTERRUPT, timeout=2)
async def probe(
    room: Annotated[str, Field(min_length=1, max_length=40)],
    level: Annotated[int, Field(ge=0, le=100)] = 50,
    mode: Literal["warm", "cool"] = "warm",
    urgent: bool = False,
    note: str | None = None,
) -> dict:
    """A tool with one of each kind of parameter."""
    seen.append({"room": room, "level": level, "mode": mode, "urgent": urgent, "note": note})
    return {"room": room, "level": level}


def assert_one_outcome(outcome: Any) -> None:
    assert isinstance(outcome, Outcome)
    assert isinstance(outcome.response, dict)
    json.dumps(outcome.response, allow_nan=False)  # it can go back to the model as is
    if not outcome.ok:
        assert set(outcome.response) == {"error"} and outcome.response["error"].strip()


@EXAMPLES
@given(args=arguments)
def test_any_arguments_give_one_outcome_and_bad_fields_are_named(args):
    seen.clear()
    outcome = asyncio.run(probe.invoke(args))
    assert_one_outcome(outcome)
    if outcome.ok:
        # The handler ran once, with arguments inside their declared bounds.
        assert len(seen) == 1
        got = seen[0]
        assert isinstance(got["room"], str) and 1 <= len(got["room"]) <= 40
        assert isinstance(got["level"], int) and 0 <= got["level"] <= 100
        assert got["mode"] in ("warm", "cool") and isinstance(got["urgent"], bool)
        assert outcome.scheduling is Scheduling.SILENT
        assert not set(args) - set(PARAMS)
    else:
        assert seen == [], "a refused call never reaches the handler"
        assert outcome.scheduling is Scheduling.INTERRUPT
        error = outcome.response["error"]
        unknown = set(args) - set(PARAMS)
        for name in unknown:
            assert f"unknown argument '{name}'" in error
        if "room" not in args:
            assert "missing argument 'room'" in error
        # Each complaint names a field that is declared or was sent.
        assert any(f"'{name}'" in error for name in (*PARAMS, *args))


not_json = st.sampled_from([{1, 2}, b"bytes", object(), {"x": {1}}, (1, 2j)])


@EXAMPLES
@given(
    result=json_values | not_json | st.builds(Result, json_values),
    error=st.sampled_from([None, ToolError("no such room"), ValueError("boom"), KeyError("k")]),
)
def test_any_handler_result_or_exception_gives_one_outcome(result, error):
    @tool(timeout=2)
    async def anything() -> Any:
        """Returns or raises whatever the test says."""
        if error is not None:
            raise error
        return result

    outcome = asyncio.run(anything.invoke({}))
    assert_one_outcome(outcome)
    if error is None:
        value = result.value if isinstance(result, Result) else result
        try:
            json.dumps(value, allow_nan=False)
            is_json = True
        except (TypeError, ValueError):
            is_json = False
        assert outcome.ok is is_json
    else:
        assert not outcome.ok


@pytest.mark.parametrize("value", [math.nan, math.inf, {"temperature": -math.inf}])
def test_a_result_with_nan_or_infinity_gives_one_error_outcome(value):
    @tool(timeout=2)
    async def sensor() -> Any:
        """Reads a sensor that may give NaN."""
        return value

    outcome = asyncio.run(sensor.invoke({}))
    assert_one_outcome(outcome)
    assert not outcome.ok


# ------------------------------------------------------------------------- lights

light_values = json_values | st.integers(-500, 20000)
light_args = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["kitchen ceiling", "hallway", "bedroom lamp", "attic"])
        | st.text(max_size=10),
        "room": st.sampled_from(["kitchen", "living room", "hallway", "garage"]) | st.none(),
        "on": st.booleans() | st.none() | json_values,
        "brightness": light_values,
        "color_temp_kelvin": light_values,
        "scene": st.sampled_from(["bright", "focus", "relax", "night", "off", "disco"]),
    },
)
light_calls = st.lists(
    st.tuples(st.sampled_from(["set_light", "set_room", "set_all", "set_scene"]), light_args),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=light_calls)
def test_lights_stay_within_bounds_whatever_the_model_asks(calls):
    async def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            backend = LocalLights(Path(tmp) / "lights.json")
            await backend.start()
            tools = {t.name: t for t in light_tools(backend, TokenBucket(1000, 1.0))}
            for name, args in calls:
                outcome = await tools[name].invoke(args)
                assert_one_outcome(outcome)
                for light in await backend.lights():
                    assert 0 <= light.brightness <= 100, light
                    if light.color_temp_kelvin is not None:
                        assert light.min_kelvin <= light.color_temp_kelvin <= light.max_kelvin
                    else:
                        assert not (light.min_kelvin and light.max_kelvin)
                error = outcome.response.get("error", "")
                for field, lo, hi in (("brightness", 0, 100), ("color_temp_kelvin", 1000, 10000)):
                    v = args.get(field)
                    if name == "set_scene" or isinstance(v, bool) or not isinstance(v, int):
                        continue
                    if not lo <= v <= hi:  # refused before anything changes, naming the field
                        assert not outcome.ok and f"argument '{field}'" in error
                        assert f"{lo} to {hi}" in error

    asyncio.run(run())


@settings(max_examples=25, deadline=None)
@given(capacity=st.integers(1, 6), attempts=st.integers(1, 20))
def test_light_changes_never_exceed_the_rate_limit(capacity, attempts):
    async def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            backend = LocalLights(Path(tmp) / "lights.json")
            await backend.start()
            frozen = TokenBucket(capacity, 3600.0, clock=lambda: 0.0)  # no refill
            tools = {t.name: t for t in light_tools(backend, frozen)}
            outcomes = [await tools["set_all"].invoke({"on": i % 2 == 0}) for i in range(attempts)]
            assert sum(o.ok for o in outcomes) == min(capacity, attempts)
            for o in outcomes[capacity:]:
                assert o.response == {"error": "too many light changes, wait a moment"}

    asyncio.run(run())


# -------------------------------------------------------------------------- tokens

SECRET = b"s" * 32
ascii_tokens = st.text(alphabet=string.printable, max_size=200) | st.builds(
    lambda a, b: f"{a}.{b}",
    st.text(alphabet=string.ascii_letters + string.digits + "-_=", max_size=80),
    st.text(alphabet=string.ascii_letters + string.digits + "-_=", max_size=60),
)


def check_any_token(token: str) -> None:
    for purpose in ("link", "ticket"):
        try:
            claims = links.verify(SECRET, purpose, token)
        except links.TokenError as e:
            assert e.reason in ("invalid", "expired") and str(e)
        else:  # only a token we signed verifies: re-signing it gives the same token
            assert (
                links.sign(SECRET, purpose, claims.room, claims.expires_at, claims.nonce) == token
            )


@settings(max_examples=2000, deadline=None)
@given(token=ascii_tokens)
def test_any_ascii_string_is_refused_with_a_reason(token):
    check_any_token(token)


@settings(max_examples=2000, deadline=None)
@given(token=st.text(max_size=200))
def test_any_string_at_all_is_refused_with_a_reason(token):
    check_any_token(token)


@EXAMPLES
@given(
    purpose=st.sampled_from(["link", "ticket"]),
    room=st.text(max_size=60),
    ttl=st.integers(1, 10**9),
    nonce=st.none() | st.text(min_size=1, max_size=20),
)
def test_signing_and_verifying_round_trips(purpose, room, ttl, nonce):
    expires = int(time.time()) + ttl
    token = links.sign(SECRET, purpose, room, expires, nonce)
    assume(len(token) <= links.MAX_TOKEN_LENGTH)
    claims = links.verify(SECRET, purpose, token)
    assert (claims.room, claims.expires_at) == (room, expires)
    if nonce is not None:
        assert claims.nonce == nonce
    other = "ticket" if purpose == "link" else "link"
    for secret, p in [(SECRET, other), (b"t" * 32, purpose)]:
        with pytest.raises(links.TokenError) as err:
            links.verify(secret, p, token)
        assert err.value.reason == "invalid"
    with pytest.raises(links.TokenError) as err:
        links.verify(SECRET, purpose, token, now=expires)
    assert err.value.reason == "expired"


@EXAMPLES
@given(data=st.data())
def test_any_change_to_a_signed_token_is_refused(data):
    token = links.sign(SECRET, "link", "kitchen", int(time.time()) + 600)
    i = data.draw(st.integers(0, len(token) - 1))
    c = data.draw(st.sampled_from(string.ascii_letters + string.digits + "-_.="))
    assume(c != token[i])
    with pytest.raises(links.TokenError):
        links.verify(SECRET, "link", token[:i] + c + token[i + 1 :])
