"""core/cache.py: the one cache of offices, tokens, booking rules and the estimate's
figures — fresh for its ttl, per database, bounded, one load per key at a time."""

from __future__ import annotations

import asyncio

import pytest

from turnero.core import db
from turnero.core.cache import MISSING, Cache


def test_a_value_is_fresh_for_its_ttl_on_the_callers_clock():
    cache = Cache(10.0)
    cache.put("a", 1, now=100.0)
    assert cache.get("a", now=109.9) == 1
    assert cache.get("a", now=110.0) is None  # expired
    assert cache.get("a", "gone", now=99.0) == "gone"  # a clock moved back: stale, not fresh forever
    assert cache.get("b", MISSING) is MISSING


def test_a_value_is_kept_only_for_the_database_it_came_from(monkeypatch):
    cache = Cache(60.0)
    cache.put("office", "from the first database")
    assert cache.get("office") == "from the first database"
    monkeypatch.setattr(db, "_generation", db.database_generation() + 1)  # init_db of another database
    assert cache.get("office") is None


def test_a_full_cache_starts_again_and_forget_forgets():
    cache = Cache(60.0, max_size=3)
    for key in "abc":
        cache.put(key, key.upper())
    cache.put("a", "A2")  # replacing a key never clears
    assert len(cache) == 3 and cache.get("a") == "A2"
    cache.put("d", "D")
    assert len(cache) == 1 and cache.get("d") == "D" and cache.get("b") is None
    cache.forget("d")
    assert cache.get("d") is None
    cache.put("e", "E")
    cache.forget()
    assert len(cache) == 0


async def test_many_waiters_share_one_load():
    cache = Cache(60.0)
    loads = 0
    release = asyncio.Event()

    async def load():
        nonlocal loads
        loads += 1
        await release.wait()
        return "rule"

    waiters = [asyncio.create_task(cache.get_or_load("k", load)) for _ in range(50)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiters) == ["rule"] * 50
    assert loads == 1
    assert await cache.get_or_load("k", load) == "rule" and loads == 1  # kept


async def test_a_cancelled_waiter_does_not_cancel_the_others_load():
    cache = Cache(60.0)
    release = asyncio.Event()

    async def load():
        await release.wait()
        return 7

    leaving = asyncio.create_task(cache.get_or_load("k", load))
    staying = asyncio.create_task(cache.get_or_load("k", load))
    await asyncio.sleep(0)
    leaving.cancel()
    release.set()
    assert await staying == 7
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_a_failed_load_keeps_nothing_and_a_forgotten_load_is_not_kept():
    cache = Cache(60.0)

    async def missing():
        raise LookupError("no such office")

    with pytest.raises(LookupError):
        await cache.get_or_load("k", missing)
    assert cache.get("k") is None  # asked again next time

    release = asyncio.Event()

    async def slow():
        await release.wait()
        return "before the change"

    loading = asyncio.create_task(cache.get_or_load("k", slow))
    await asyncio.sleep(0)
    cache.forget()  # rules changed while it loaded
    release.set()
    assert await loading == "before the change"  # its own callers get it
    assert cache.get("k") is None  # but it is not kept for the next ones
