"""Rate limits (the `limits` library): failed sign-ins now, booking storms later.

In-process storage: each instance counts on its own, which bounds brute force per
instance; a shared Redis storage can replace it without touching the callers.
"""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

FAILED_LOGINS_PER_USER = parse("10/15 minutes")
FAILED_LOGINS_PER_CLIENT = parse("30/15 minutes")


class RateLimiter:
    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def allowed(self, rule: RateLimitItem, *key: str) -> bool:
        """Whether one more hit fits, without counting it."""
        return await self._limiter.test(rule, *key)

    async def hit(self, rule: RateLimitItem, *key: str) -> bool:
        return await self._limiter.hit(rule, *key)

    async def clear(self, rule: RateLimitItem, *key: str) -> None:
        await self._limiter.clear(rule, *key)
