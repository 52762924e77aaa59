"""The one small cache a process uses to save queries on its busiest paths: offices by
code, verified tokens, booking rules and closed days, the wait estimate's learnt
figures and the errors of its past promises.

A value is kept for `ttl` seconds and only for the database it came from (a test that
opens a fresh database, or a restore, never sees another database's ids). When the
cache holds `max_size` entries it starts again (these are small working sets; a
cleared cache costs one query per key). Time is the process's monotonic clock, or the
`now` a caller passes — the wait estimate passes the time it computes for, so a
clock moved back (tests, a corrected server clock) makes its entries stale, never
fresh forever.

`get_or_load(key, load)` loads a missing or stale value once however many requests
ask for it at once (in a booking storm the first hundreds of requests all miss
together); waiters that are cancelled do not cancel the load of the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from turnero.core.db import database_generation

MISSING: Any = object()


class Cache:
    def __init__(self, ttl: float, *, max_size: int = 1000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._entries: dict[Hashable, tuple[float, int, Any]] = {}  # key -> (stored at, generation, value)
        self._loading: dict[Hashable, asyncio.Future] = {}

    def get(self, key: Hashable, default: Any = None, *, now: float | None = None) -> Any:
        """The value kept for `key`, or `default` if none is fresh."""
        hit = self._entries.get(key)
        if hit is None:
            return default
        stored_at, generation, value = hit
        age = (time.monotonic() if now is None else now) - stored_at
        if generation != database_generation() or not 0 <= age < self.ttl:
            return default
        return value

    def put(self, key: Hashable, value: Any, *, now: float | None = None) -> Any:
        if len(self._entries) >= self.max_size and key not in self._entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() if now is None else now, database_generation(), value)
        return value

    def forget(self, key: Hashable = MISSING) -> None:
        """Forget `key`, or everything (and a load under way is not kept)."""
        if key is MISSING:
            self._entries.clear()
            self._loading.clear()
        else:
            self._entries.pop(key, None)
            self._loading.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        """The fresh value of `key`, else `await load()`'s — one load per key at a time.
        A load that raises keeps nothing (a miss such as a 404 is asked again)."""
        value = self.get(key, MISSING)
        if value is not MISSING:
            return value
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(key, load))
        return await asyncio.shield(loading)

    async def _load(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        this = asyncio.current_task()
        try:
            value = await load()
        finally:
            current = self._loading.get(key)
            if current is this:
                del self._loading[key]
        if current is this:  # (not forgotten while it loaded)
            self.put(key, value)
        return value
