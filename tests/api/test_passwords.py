"""Passwords: argon2 verification off the event loop, and a password stored under other
parameters re-hashed under the current ones at its owner's next sign-in."""

from __future__ import annotations

import asyncio
import time

import pytest
from argon2 import PasswordHasher, profiles

from turnero.core import auth
from turnero.core.models import User
from turnero.settings import Settings


def test_default_profile_is_argon2_cffis_recommended_one(monkeypatch):
    monkeypatch.delenv("TURNERO_ARGON2_PROFILE", raising=False)
    hasher = auth.hasher_for(Settings.from_env().argon2_profile)
    default = PasswordHasher()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len, hasher.salt_len) == (
        default.time_cost, default.memory_cost, default.parallelism, default.hash_len, default.salt_len)
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 64 * 1024, 4)  # RFC 9106 low-memory


async def test_a_sign_in_does_not_hold_up_other_requests(client):
    # A costly stored hash (about half a second to verify): the event loop must keep
    # turning, and answering other requests, while it is verified.
    slow_hasher = PasswordHasher(time_cost=12, memory_cost=64 * 1024, parallelism=1)
    slow = slow_hasher.hash("demo")
    started = time.perf_counter()
    slow_hasher.verify(slow, "demo")
    verify_seconds = time.perf_counter() - started
    await User.filter(username="admin").update(password_hash=slow)

    gaps: list[float] = []

    async def tick():
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    sign_in = asyncio.create_task(client.post("/api/auth/token", json={"username": "admin", "password": "demo"}))
    answered_meanwhile = 0
    deadline = time.perf_counter() + 30 * verify_seconds + 10
    while not sign_in.done():
        assert time.perf_counter() < deadline, "the sign-in never ended"
        health = await client.get("/healthz")
        assert health.status_code == 200
        answered_meanwhile += not sign_in.done()
        await asyncio.sleep(0.02)  # (an in-process request may never yield to the loop)
    ticker.cancel()
    response = await sign_in
    assert response.status_code == 200, response.text
    assert answered_meanwhile >= 2
    assert max(gaps) < verify_seconds / 2, (max(gaps), verify_seconds)


async def test_a_password_under_old_parameters_is_rehashed_at_sign_in(client):
    old = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY).hash("demo")
    await User.filter(username="operador1").update(password_hash=old)

    wrong = await client.post("/api/auth/token", json={"username": "operador1", "password": "otra-cosa"})
    assert wrong.status_code == 401
    assert (await User.get(username="operador1")).password_hash == old  # only a right password re-hashes

    response = await client.post("/api/auth/token", json={"username": "operador1", "password": "demo"})
    assert response.status_code == 200, response.text
    stored = (await User.get(username="operador1")).password_hash
    assert stored != old
    assert not auth._hasher.check_needs_rehash(stored)  # the current (test) profile's parameters
    assert auth._hasher.verify(stored, "demo")

    again = await client.post("/api/auth/token", json={"username": "operador1", "password": "demo"})
    assert again.status_code == 200
    assert (await User.get(username="operador1")).password_hash == stored  # no second re-hash


async def test_a_current_hash_is_left_alone(client):
    before = (await User.get(username="admin")).password_hash  # hashed under the current profile
    response = await client.post("/api/auth/token", json={"username": "admin", "password": "demo"})
    assert response.status_code == 200
    assert (await User.get(username="admin")).password_hash == before


def test_wiring_sets_the_hashing_cost_and_the_places_window_from_the_settings(monkeypatch):
    from tests.driver import app_settings
    from turnero.scheduler import places
    from turnero.wiring import wire

    try:
        wire(app_settings(argon2_profile="low-memory", places_fresh_seconds=7.0))
        assert places.FRESH_SECONDS == 7.0
        assert (auth._hasher.time_cost, auth._hasher.memory_cost) == (3, 64 * 1024)
        with pytest.raises(SystemExit):
            wire(app_settings(argon2_profile="ultra"))
        monkeypatch.setenv("TURNERO_PLACES_FRESH_SECONDS", "no")
        with pytest.raises(SystemExit):
            Settings.from_env()
    finally:
        wire(app_settings())
    assert places.FRESH_SECONDS == 1.0 and auth._hasher_profile == "cheapest"
