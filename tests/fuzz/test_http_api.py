"""Fuzz the bot's HTTP API from its own OpenAPI description (schemathesis), against the
real server (uvicorn on a loopback port, in process) with the Live emulator behind it.

Every operation in `/openapi.json` gets schema-valid ("positive") and schema-breaking
("negative") requests, each without and with a valid call ticket, and every answer is
checked: never a 5xx, only documented status codes and content types, bodies matching
their schema, and schema-breaking input refused with a 4xx. Afterwards the server still
serves and a real call still works.

Schemathesis' own HTTP transport (requests) cannot be used here: caldav pulls in
niquests → urllib3-future, which replaces the `urllib3` package that requests imports
(its pool container lacks `.keys()`, which schemathesis calls). So the cases are sent
with httpx, and schemathesis validates the httpx responses.
"""

from __future__ import annotations

import asyncio
import collections
import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

from bot.http.bodylimit import MAX_BODY_BYTES
from bot.settings import LiveSettings
from caller import Caller
from gemini_emulator.testing import running_emulator
from testkit.bot import running_bot
from tests.faults.helpers import record, speak_and_hear

pytestmark = pytest.mark.timeout(600)

#: Cases per operation, generation mode and auth (LIVEBOT_FUZZ_EXAMPLES to go further).
EXAMPLES = int(os.environ.get("LIVEBOT_FUZZ_EXAMPLES", "100"))
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    # Not `positive_data_acceptance`: a schema-valid string is rarely a usable SDP offer,
    # and refusing it with 400 is the point (the schema cannot say what SDP is).
)
# Joins and offers are rate limited per address; the fuzzer is one address.
UNLIMITED = {"join_burst": 100_000, "join_rate_per_minute": 6000.0}


def to_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Schemathesis' requests-style request arguments, for httpx."""
    kwargs = dict(kwargs)
    for key in ("timeout", "verify", "allow_redirects", "cert", "proxies", "stream"):
        kwargs.pop(key, None)
    data = kwargs.pop("data", None)
    if isinstance(data, (bytes, str)):
        kwargs["content"] = data
    elif data is not None:
        kwargs["data"] = data
    cookies = kwargs.pop("cookies", None)
    if cookies:
        headers = kwargs.setdefault("headers", {})
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return kwargs


def fuzz(base_url: str, ticket: str, examples: int) -> dict[str, Any]:
    """Run every operation × mode × auth; return counts and the failures found."""
    load_all_checks()
    checks = [c for c in CHECKS.get_all() if c.__name__ in CHECK_NAMES]
    assert len(checks) == len(CHECK_NAMES)
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    statuses: collections.Counter[str] = collections.Counter()
    per_operation: collections.Counter[str] = collections.Counter()
    failures: dict[str, str] = {}
    with httpx.Client(timeout=30) as client:

        def run_cases(operation: Any, mode: GenerationMode, auth: dict[str, str] | None) -> None:
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                kwargs = to_httpx(case.as_transport_kwargs(base_url=base_url, headers=auth))
                response = client.request(**kwargs)
                statuses[f"{response.status_code}"] += 1
                per_operation[operation.label] += 1
                # Too big to read (an over-long SDP, JSON-escaped): 413, which schemathesis'
                # negative-data check does not list among the refusals it expects.
                too_big = len(response.request.content) > MAX_BODY_BYTES
                for check in checks:
                    if too_big and check.__name__ == "negative_data_rejection":
                        assert response.status_code == 413, response.text[:200]
                        continue
                    try:
                        case.validate_response(response, checks=[check])
                    except BaseException as e:  # schemathesis raises failure groups
                        failures.setdefault(
                            f"{operation.label} {check.__name__}",
                            f"{response.status_code} {response.text[:200]!r} for "
                            f"{case.as_curl_command()[:300]}: {str(e)[:300]}",
                        )

            run()

        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                for auth in (None, {"Authorization": f"Bearer {ticket}"}):
                    try:
                        run_cases(operation, mode, auth)
                    except Unsatisfiable:
                        pass  # no schema-breaking input exists (e.g. GET /healthz)
    return {
        "cases": sum(statuses.values()),
        "per_operation": dict(per_operation),
        "statuses": dict(statuses),
        "failures": failures,
    }


async def test_the_http_api_survives_schemathesis(tmp_path, speech):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(
            emu, tmp_path, live=LiveSettings(api_key="test-key", greeting=None), **UNLIMITED
        ) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        joined = await http.post("/api/join", json={"token": bot.link().split("t=")[1]})
        ticket = joined.json()["ticket"]
        report = await asyncio.to_thread(fuzz, bot.url, ticket, EXAMPLES)
        assert report["failures"] == {}, report["failures"]
        assert not any(s.startswith("5") for s in report["statuses"]), report["statuses"]
        # join, offer and candidates take input: each got every mode and auth.
        assert report["cases"] >= 3 * 2 * 2 * EXAMPLES
        # Still serving, no call was started by any of it, and a real call works.
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).json()["status"] == "ready"
        assert emu.connections == [] and not bot.calls.calls
        async with Caller(bot.link()) as caller:
            await caller.connect(timeout=15)
            await speak_and_hear(caller, emu, speech("still working after the fuzzing"))
        record("fuzz_openapi", examples_per_mode_and_auth=EXAMPLES, **report)
