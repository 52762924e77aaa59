"""Rate limits: booking attempts per client address (RateLimiter); sign-in and cita
look-up guesses counted before they are verified (Attempts, below).

Rules are `limits` items (`parse("10/15 minutes")`, `parse_many("5/second;100/hour")`),
parsed once by their owners, never per request. Counting is a moving window kept in
this process: each (rule, key) holds the times of its hits still inside the window, so
a hit costs a few list operations and no awaiting (the `limits` library's in-memory
storage also takes a lock and starts an expiry task that hops to a thread on nearly
every hit — a large share of a cheap request's cost in a booking storm).

Each instance counts on its own, which bounds brute force per instance; a shared Redis
storage can replace it without touching the callers.
"""

from __future__ import annotations

import time
from collections import deque

from limits import RateLimitItem

SWEEP_SECONDS = 60.0  # how often keys whose window has emptied are dropped


class RateLimiter:
    """Moving windows: a hit is allowed when fewer than `rule.amount` hits of the same
    rule and key fall within the last `rule.get_expiry()` seconds."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, deque[float]]] = {}
        self._next_sweep = time.monotonic() + SWEEP_SECONDS

    def _window(self, rule: RateLimitItem, key: tuple[str, ...], now: float) -> deque[float] | None:
        if now >= self._next_sweep:
            self._sweep(now)
        entry = self._windows.get(rule.key_for(*key))
        if entry is None:
            return None
        expiry, hits = entry
        horizon = now - expiry
        while hits and hits[0] <= horizon:
            hits.popleft()
        return hits

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_SECONDS
        stale = [k for k, (expiry, hits) in self._windows.items() if not hits or hits[-1] <= now - expiry]
        for k in stale:
            del self._windows[k]

    def test(self, rule: RateLimitItem, *key: str) -> bool:
        hits = self._window(rule, key, time.monotonic())
        return hits is None or len(hits) < rule.amount

    def hit_now(self, rule: RateLimitItem, *key: str) -> bool:
        """Count one hit if it fits; whether it did (synchronous: nothing to await)."""
        now = time.monotonic()
        hits = self._window(rule, key, now)
        if hits is None:
            if rule.amount < 1:
                return False
            self._windows[rule.key_for(*key)] = (float(rule.get_expiry()), deque((now,)))
            return True
        if len(hits) >= rule.amount:
            return False
        hits.append(now)
        return True

    def hit_all(self, rules: tuple[RateLimitItem, ...], *key: str) -> bool:
        """One hit against every rule (`5/second;100/hour`), counted only if all allow it."""
        if len(rules) == 1:
            return self.hit_now(rules[0], *key)
        if not all(self.test(rule, *key) for rule in rules):
            return False
        for rule in rules:
            self.hit_now(rule, *key)
        return True

    def retry_after(self, rules: tuple[RateLimitItem, ...], *key: str) -> float:
        """Seconds until every full window among `rules` has room for one more hit."""
        now = time.monotonic()
        wait = 0.0
        for rule in rules:
            hits = self._window(rule, key, now)
            if hits is not None and len(hits) >= rule.amount and hits:
                wait = max(wait, hits[len(hits) - rule.amount] + rule.get_expiry() - now)
        return wait

    async def allowed(self, rule: RateLimitItem, *key: str) -> bool:
        """Whether one more hit fits, without counting it."""
        return self.test(rule, *key)

    async def hit(self, rule: RateLimitItem, *key: str) -> bool:
        return self.hit_now(rule, *key)

    async def clear(self, rule: RateLimitItem, *key: str) -> None:
        self._windows.pop(rule.key_for(*key), None)


# --- Attempts counted before the check they guard ------------------------------------
#
# Guessing defences (a password, the document that opens a cita) must count an attempt
# BEFORE verifying it, atomically: check-then-count lets sixty concurrent guesses all
# pass the check. `Attempts.take` counts and decides in one step — a few dictionary
# operations with nothing awaited in between (atomic on the event loop), or one Lua
# script in Redis when the instances share one (TURNERO_REDIS_URL). Times come from
# `clock` so tests can move them; Redis expiry only cleans up.

import logging
import math
from dataclasses import dataclass

from turnero.core import clock
from turnero.core.errors import ApiError
from turnero.core.redis_pool import bounded_client

log = logging.getLogger("turnero.ratelimit")


@dataclass(frozen=True)
class AttemptRule:
    """`free` attempts per key within `window` seconds. Past them: with `backoff`, each
    further attempt must wait 2, 4, 8 … seconds after the previous one (capped at the
    window); without, nothing more until the window (from the first attempt) ends."""

    name: str
    free: int
    window: float
    backoff: bool = False


# Citizen look-ups of a cita by code and document (read, cancel, reschedule, calendar).
CITA_GUESSES_PER_CODE = AttemptRule("cita-code", 5, 15 * 60)
CITA_GUESSES_PER_CLIENT = AttemptRule("cita-client", 20, 15 * 60)
# Sign-in: per user name and client address, growing delays after 5 failures; per user
# name alone (anyone, anywhere) only after many more; per address across user names.
LOGIN_PER_USER_CLIENT = AttemptRule("login-user-client", 5, 15 * 60, backoff=True)
LOGIN_PER_USER = AttemptRule("login-user", 50, 15 * 60, backoff=True)
LOGIN_PER_CLIENT = AttemptRule("login-client", 30, 15 * 60, backoff=True)


def _decide(n: int, last: float, expires: float, now: float, rule: AttemptRule) -> float:
    """0 when one more attempt may go ahead; otherwise the seconds to wait."""
    if n < rule.free or now >= expires:
        return 0.0
    if rule.backoff:
        wait = min(2.0 ** (n - rule.free + 1), rule.window)
        return max(0.0, last + wait - now)
    return expires - now


_TAKE = """
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
local expires = tonumber(redis.call('HGET', KEYS[1], 'e') or '0')
local now, free, window, backoff = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
if now >= expires then n = 0 end
if n >= free then
  local wait
  if backoff then
    wait = math.min(2 ^ (n - free + 1), window)
    if now < last + wait then return tostring(last + wait - now) end
  else
    return tostring(expires - now)
  end
end
local e = expires
if backoff or n == 0 then e = now + window end
redis.call('HSET', KEYS[1], 'n', n + 1, 't', ARGV[1], 'e', tostring(e))
redis.call('PEXPIRE', KEYS[1], math.floor((e - now) * 1000) + 60000)
return '0'
"""

_GIVE_BACK = """
local n = redis.call('HINCRBY', KEYS[1], 'n', -1)
if n <= 0 then redis.call('DEL', KEYS[1]) end
return n
"""


class Attempts:
    """Counters of attempts: in this process, or in Redis (shared by every instance).
    If Redis cannot be reached, this instance counts on its own meanwhile."""

    def __init__(self, redis_url: str | None = None, prefix: str = "turnero:") -> None:
        self._local: dict[str, tuple[int, float, float]] = {}
        self._next_sweep = 0.0
        self._prefix = prefix + "attempts:"
        self._redis = None
        if redis_url:
            self._redis = bounded_client(redis_url, socket_timeout=1.0)
            self._take = self._redis.register_script(_TAKE)
            self._give_back = self._redis.register_script(_GIVE_BACK)

    def _key(self, rule: AttemptRule, key: tuple[str, ...]) -> str:
        return self._prefix + rule.name + ":" + ":".join(k.replace(":", "%3A") for k in key)

    def _take_local(self, k: str, rule: AttemptRule, now: float) -> float:
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_SECONDS
            for stale in [s for s, (_n, _t, e) in self._local.items() if e <= now]:
                del self._local[stale]
        n, last, expires = self._local.get(k, (0, 0.0, 0.0))
        if now >= expires:
            n = 0
        wait = _decide(n, last, expires, now, rule)
        if wait > 0:
            return wait
        self._local[k] = (n + 1, now, now + rule.window if (rule.backoff or n == 0) else expires)
        return 0.0

    async def take(self, rule: AttemptRule, *key: str) -> float:
        """Count one attempt if it may go ahead (0.0); else the seconds to wait, uncounted."""
        k, now = self._key(rule, key), clock.now().timestamp()
        if self._redis is not None:
            try:
                wait = await self._take(keys=[k], args=[repr(now), rule.free, rule.window, int(rule.backoff)])
                return float(wait)
            except Exception as exc:  # Redis away: count here rather than not at all
                log.warning("attempt counter: Redis unavailable (%s); counting in this instance", exc)
        return self._take_local(k, rule, now)

    async def give_back(self, rule: AttemptRule, *key: str) -> None:
        """The attempt succeeded: it is not a failure to remember."""
        k = self._key(rule, key)
        if self._redis is not None:
            try:
                await self._give_back(keys=[k])
                return
            except Exception as exc:
                log.warning("attempt counter: Redis unavailable (%s)", exc)
        entry = self._local.get(k)
        if entry is not None:
            if entry[0] <= 1:
                del self._local[k]
            else:
                self._local[k] = (entry[0] - 1, entry[1], entry[2])

    async def forget(self, rule: AttemptRule, *key: str) -> None:
        k = self._key(rule, key)
        self._local.pop(k, None)
        if self._redis is not None:
            try:
                await self._redis.delete(k)
            except Exception as exc:
                log.warning("attempt counter: Redis unavailable (%s)", exc)


def attempts_for(app) -> Attempts:
    """The app's attempt counters, made on first use from its settings."""
    attempts = getattr(app.state, "attempts", None)
    if attempts is None:
        settings = app.state.settings
        attempts = app.state.attempts = Attempts(settings.redis_url, settings.redis_prefix)
    return attempts


def too_many_attempts(wait: float, message: str = "Demasiados intentos fallidos; espere unos minutos."):
    """429 `too_many_attempts`, with Retry-After (whole seconds)."""
    error = ApiError(429, "too_many_attempts", message, retry_after=max(1, math.ceil(wait)))
    error.headers = {"Retry-After": str(max(1, math.ceil(wait)))}
    return error
