"""Throttle counts and per-server rate limits in Redis, shared by every process and machine.

With one process, `MemoryThrottleStore` is enough; with several `serve`/`worker` processes each
would allow the full limit on its own. Here every check-and-record is one Lua script, so two
processes racing for the last allowed send to an address cannot both get it. Keys are sorted
sets of send times under one prefix and expire an hour after their last entry.

Needs the `redis` extra (redis-py's asyncio client).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from ..config import ThrottleOptions
from ..errors import ConnectorError, ErrorCode, install_hint

HOUR_S = 3600.0

# KEYS: recipient key, global key. ARGV: now, interval s (-1 off), per-recipient hourly (-1
# off), global hourly (-1 off), member id. Returns {0} or {reason, wait seconds * 1000, count}.
_RESERVE = """
local now = tonumber(ARGV[1])
local interval, hourly, global = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local since = now - 3600
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. since)
local count = redis.call('ZCARD', KEYS[1])
if interval >= 0 and count > 0 then
  local last = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
  if last + interval > now then return {1, math.ceil((last + interval - now) * 1000), count} end
end
if hourly >= 0 and count >= hourly then
  local first = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  return {2, math.ceil((first + 3600 - now) * 1000), count}
end
if global >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. since)
  local total = redis.call('ZCARD', KEYS[2])
  if total >= global then
    local first = tonumber(redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2])
    return {3, math.ceil((first + 3600 - now) * 1000), total}
  end
  redis.call('ZADD', KEYS[2], now, ARGV[5])
  redis.call('EXPIRE', KEYS[2], 3700)
end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('EXPIRE', KEYS[1], 3700)
return {0}
"""

# A sliding window: at most ARGV[2] starts per ARGV[3] seconds. Returns 0 or the ms to wait.
_RATE_SLOT = """
local now, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
if redis.call('ZCARD', KEYS[1]) >= limit then
  local first = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  return math.max(1, math.ceil((first + window - now) * 1000))
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
return 0
"""


class RedisThrottleStore:
    """A `ThrottleStore` on Redis whose `reserve` checks and records in one atomic step."""

    def __init__(self, url: str, *, prefix: str = "smtp-connector:") -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG,
                "throttle.store is a Redis URL but redis-py is not installed: "
                + install_hint("redis"),
            ) from None
        self.prefix = prefix
        self._client: Any = aioredis.from_url(url)
        self._reserve = self._client.register_script(_RESERVE)
        self._rate_slot = self._client.register_script(_RATE_SLOT)

    def _key(self, name: str) -> str:
        return f"{self.prefix}throttle:{name}"

    async def recent(self, key: str, since: float) -> list[float]:
        rows = await self._call(self._client.zrangebyscore, self._key(key), since, "+inf",
                                withscores=True)  # fmt: skip
        return [float(score) for _member, score in rows]

    async def add(self, key: str, at: float) -> None:
        await self._call(self._client.zadd, self._key(key), {uuid.uuid4().hex: at})

    async def reserve(
        self, key: str, global_key: str, options: ThrottleOptions
    ) -> tuple[int, float, int]:
        """Check every limit and record the send if none is hit, atomically. Returns
        (0, 0, 0) when reserved, else (reason, seconds to wait, count): reason 1 = interval,
        2 = per-recipient hourly, 3 = global hourly."""
        o = options
        args = [
            time.time(),
            o.per_recipient_interval / 1000 if o.per_recipient_interval is not None else -1,
            o.per_recipient_hourly if o.per_recipient_hourly is not None else -1,
            o.global_hourly if o.global_hourly is not None else -1,
            uuid.uuid4().hex,
        ]
        keys = [self._key(key), self._key(global_key)]
        reply = await self._call(self._reserve, keys=keys, args=args)
        if int(reply[0]) == 0:
            return 0, 0.0, 0
        return int(reply[0]), int(reply[1]) / 1000, int(reply[2])

    async def rate_slot(self, server: str, max_messages: int, window_s: float) -> float:
        """Take a start slot for `server` (0.0) or return the seconds to wait for one."""
        key = f"{self.prefix}rate:{server}"
        args = [time.time(), max_messages, window_s, uuid.uuid4().hex]
        wait_ms = await self._call(self._rate_slot, keys=[key], args=args)
        return int(wait_ms) / 1000

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await func(*args, **kwargs)
        except ConnectorError:
            raise
        except Exception as exc:  # redis.exceptions.* (connection refused, timeout, auth ...)
            raise ConnectorError(
                ErrorCode.RATE_LIMITED,
                f"The shared throttle store (Redis) is unreachable ({type(exc).__name__}); "
                "not sent, so the limits cannot be bypassed. Check throttle.store.",
                retryable=True,
                retry_after=1.0,
            ) from None
