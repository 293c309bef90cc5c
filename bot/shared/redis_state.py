"""The shared state on Redis, for many instances on many hosts.

Each operation is one atomic step in Redis (a Lua script, or `SET NX`), timed by the
Redis server's clock so that instances whose clocks differ still agree:

- a call's places are members (its call id) of two sorted sets, the room's and the
  global one, scored by lease expiry; the script drops expired members, checks both
  counts and adds to both, or refuses. Each instance's heartbeat renews its calls'
  leases; an instance that dies stops renewing, and its places go when the lease ends.
- with its places, a call's holder: a key (call id -> instance id) under the same lease,
  which routes the call's later signalling to that instance (`bot.http.routing`);
- a used ticket is `SET NX` with the ticket's own expiry;
- the admission cool-down is one key with an expiry, read by every instance;
- a rate limit is a token bucket in a hash, with an expiry;
- the registry is one key per instance with an expiry, refreshed by the heartbeat.

When Redis cannot be reached, every operation raises `SharedUnavailable`: new calls are
refused with a 503 by the gate; calls in progress do not ask Redis anything and go on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any

import redis.asyncio as aioredis
from loguru import logger
from redis.exceptions import RedisError

from bot.shared.state import Instance, Place, SharedUnavailable

PREFIX = "livebot:"
CALLS = PREFIX + "calls"  # every instance's calls, scored by lease expiry (ms)
HOLDER = PREFIX + "holder:"  # + call id: the id of the instance that holds the call
INSTANCE = PREFIX + "instance:"  # + instance id: its registry entry (JSON)

NOW = "local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

TAKE = (
    NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 'full' end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 'busy' end
local expiry = now + tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], expiry, ARGV[3])
redis.call('ZADD', KEYS[2], expiry, ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) * 2)
redis.call('SET', KEYS[3], ARGV[5], 'PX', tonumber(ARGV[4]))
return 'ok'
"""
)

ROOM_COUNT = (
    NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""
)

RENEW = (
    NOW
    + """
local expiry = now + tonumber(ARGV[1])
local n = 0
for i = 3, #ARGV, 2 do
  n = n + redis.call('ZADD', PREFIX_ROOM .. ARGV[i], 'XX', 'CH', expiry, ARGV[i + 1])
  redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i + 1])
  redis.call('PEXPIRE', PREFIX_ROOM .. ARGV[i], tonumber(ARGV[1]) * 2)
  -- set, not renewed: a beat that came late (a stalled loop) routes the live call again
  redis.call('SET', PREFIX_HOLDER .. ARGV[i + 1], ARGV[2], 'PX', tonumber(ARGV[1]))
end
return n
""".replace("PREFIX_ROOM", repr(PREFIX + "room:")).replace("PREFIX_HOLDER", repr(HOLDER))
)

HOLDER_OF = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('GET', PREFIX_INSTANCE .. id) or false
""".replace("PREFIX_INSTANCE", repr(INSTANCE))

BUCKET = (
    NOW
    + """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2]) / 60000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens = tonumber(b[1]) or burst
local last = tonumber(b[2]) or now
tokens = math.min(burst, tokens + (now - last) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return tostring(wait / 1000)
"""
)


class RedisPlace:
    """A call's places in Redis, renewed by the heartbeat until released."""

    def __init__(self, state: RedisState, room: str, call_id: str) -> None:
        self.state, self.room, self.call_id = state, room, call_id

    def release(self) -> None:
        self.state.forget(self)


class RedisState:
    def __init__(self, url: str, lease_seconds: float = 30.0, instance_id: str = "") -> None:
        self.url, self.instance_id = url, instance_id  # this instance: its calls' holder
        self.lease_ms = int(lease_seconds * 1000)
        self.redis = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.held: dict[str, RedisPlace] = {}  # call id -> its places, renewed here
        self._releasing: set[Any] = set()

    async def _do(self, what: str, step: Awaitable[Any]) -> Any:
        try:
            return await step
        except (RedisError, OSError) as e:
            logger.error(f"shared state (Redis {self.url}) unavailable: {what}: {e}")
            raise SharedUnavailable(f"Redis at {self.url} is unavailable ({e})") from e

    async def start(self) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as e:
            raise SharedUnavailable(
                f"REDIS_URL={self.url}: cannot reach Redis ({e}). Start Redis there, fix "
                "REDIS_URL, or unset it to keep the state on this host."
            ) from e

    async def close(self) -> None:
        if self._releasing:  # places given back as the last calls ended
            await asyncio.wait(list(self._releasing), timeout=2)
        await self.redis.aclose()

    async def _script(self, what: str, script: str, keys: list[str], args: list[Any]) -> Any:
        return await self._do(what, self.redis.eval(script, len(keys), *keys, *args))

    async def take_place(self, room: str, places: int, max_calls: int, call_id: str) -> Place | str:
        keys = [PREFIX + "room:" + room, CALLS, HOLDER + call_id]
        args = [places, max_calls, call_id, self.lease_ms, self.instance_id]
        got = await self._script("take a place", TAKE, keys, args)
        got = got.decode() if isinstance(got, bytes) else str(got)
        if got != "ok":
            return got
        place = self.held[call_id] = RedisPlace(self, room, call_id)
        return place

    def forget(self, place: RedisPlace) -> None:
        """Give the place back (from a sync callback: the release runs as a task)."""
        if self.held.pop(place.call_id, None) is None:
            return
        task = asyncio.ensure_future(self._release(place))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release(self, place: RedisPlace) -> None:
        try:
            pipe = self.redis.pipeline(transaction=True)
            pipe.zrem(PREFIX + "room:" + place.room, place.call_id)
            pipe.zrem(CALLS, place.call_id)
            pipe.delete(HOLDER + place.call_id)
            await pipe.execute()
        except (RedisError, OSError) as e:  # the lease frees it when it runs out
            logger.warning(f"call {place.call_id}: place not released ({e}); its lease ends it")

    async def room_free(self, room: str, places: int) -> bool:
        count = await self._script("count a room", ROOM_COUNT, [PREFIX + "room:" + room], [])
        return int(count) < places

    async def calls(self) -> int:
        count = await self._script("count calls", ROOM_COUNT, [CALLS], [])
        return int(count)

    async def claim_ticket(self, nonce: str, expires_at: int) -> bool:
        key = PREFIX + "ticket:" + nonce
        done = self.redis.set(key, "1", nx=True, exat=max(int(expires_at), 1))
        return bool(await self._do("claim a ticket", done))

    async def release_ticket(self, nonce: str) -> None:
        await self._do("release a ticket", self.redis.delete(PREFIX + "ticket:" + nonce))

    async def park(self, key: str, value: str, seconds: float) -> None:
        ms = max(1, int(seconds * 1000))
        await self._do("park a call", self.redis.set(PREFIX + "parked:" + key, value, px=ms))

    async def unpark(self, key: str) -> str | None:
        value = await self._do("take a parked call", self.redis.getdel(PREFIX + "parked:" + key))
        return value.decode() if isinstance(value, bytes) else value

    async def set_cooldown(self, reason: str, seconds: float) -> None:
        ms = max(1, int(seconds * 1000))
        await self._do("set the cool-down", self.redis.set(PREFIX + "cooldown", reason, px=ms))

    async def cooldown(self) -> tuple[str, float] | None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.get(PREFIX + "cooldown")
        pipe.pttl(PREFIX + "cooldown")
        reason, ttl = await self._do("read the cool-down", pipe.execute())
        if reason is None or ttl is None or ttl <= 0:
            return None
        return reason.decode(), ttl / 1000

    async def rate_take(self, key: str, per_minute: float, burst: int) -> float:
        wait = await self._script(
            "rate limit", BUCKET, [PREFIX + "rate:" + key], [burst, per_minute]
        )
        return float(wait)

    async def holder(self, call_id: str) -> Instance | None:
        raw = await self._script("find a call's holder", HOLDER_OF, [HOLDER + call_id], [])
        return _instance(json.loads(raw)) if raw else None

    async def heartbeat(self, me: Instance, ttl: float) -> None:
        key = INSTANCE + me.id
        await self._do(
            "heartbeat", self.redis.set(key, json.dumps(me.as_dict()), px=int(ttl * 1000))
        )
        if self.held:
            args: list[Any] = [self.lease_ms, self.instance_id]
            for place in list(self.held.values()):
                args += [place.room, place.call_id]
            await self._script("renew leases", RENEW, [CALLS], args)

    async def instances(self) -> list[Instance]:
        try:
            keys = [k async for k in self.redis.scan_iter(match=INSTANCE + "*")]
        except (RedisError, OSError) as e:
            raise SharedUnavailable(f"Redis at {self.url} is unavailable ({e})") from e
        values = await self._do("list instances", self.redis.mget(keys)) if keys else []
        found = []
        for raw in values:
            if raw is None:
                continue
            found.append(_instance(json.loads(raw)))
        return sorted(found, key=lambda i: i.id)


def _instance(data: dict[str, Any]) -> Instance:
    return Instance(data["id"], data["address"], data["calls"], data["draining"])
