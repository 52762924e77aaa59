"""Rate limits: failed sign-ins, booking attempts per client address.

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

from limits import RateLimitItem, parse

FAILED_LOGINS_PER_USER = parse("10/15 minutes")
FAILED_LOGINS_PER_CLIENT = parse("30/15 minutes")

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

    async def allowed(self, rule: RateLimitItem, *key: str) -> bool:
        """Whether one more hit fits, without counting it."""
        return self.test(rule, *key)

    async def hit(self, rule: RateLimitItem, *key: str) -> bool:
        return self.hit_now(rule, *key)

    async def clear(self, rule: RateLimitItem, *key: str) -> None:
        self._windows.pop(rule.key_for(*key), None)
