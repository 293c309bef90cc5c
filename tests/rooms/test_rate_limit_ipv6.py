"""The join rate limit counts an IPv6 /64 as one client (finding 16: 60 joins from 60
addresses of one /64 all passed). The addresses come the way the bot trusts them: in
X-Forwarded-For from the proxy's address (TRUSTED_PROXIES, 127.0.0.1), through uvicorn's
own proxy-headers middleware, over real HTTP."""

from __future__ import annotations

import collections

import httpx
import pytest

from gemini_emulator import running_emulator
from testkit.bot import running_bot
from tests.faults.helpers import record

pytestmark = pytest.mark.timeout(90)


async def test_sixty_addresses_of_one_ipv6_64_share_one_bucket(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, join_burst=10, join_rate_per_minute=1) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        token = bot.link().split("t=")[1]

        async def join(address: str) -> int:
            r = await http.post(
                "/api/join", json={"token": token}, headers={"X-Forwarded-For": address}
            )
            return r.status_code

        one_64 = collections.Counter(
            [await join(f"2001:db8:1:2:{i:x}:{i:x}:{i:x}:{i:x}") for i in range(1, 61)]
        )
        other_64 = await join("2001:db8:1:3::1")  # the neighbouring /64: its own client
        mapped = [await join("::ffff:192.0.2.7") for _ in range(11)]  # = 192.0.2.7
        ipv4 = await join("192.0.2.7")
    record(
        "rate_limit_ipv6_64",
        one_64=dict(one_64),
        other_64=other_64,
        ipv4_mapped=collections.Counter(mapped),
        ipv4_after_mapped=ipv4,
    )
    assert one_64 == {200: 10, 429: 50}
    assert other_64 == 200
    assert mapped == [200] * 10 + [429] and ipv4 == 429
