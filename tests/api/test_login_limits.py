"""Failed sign-ins are counted before the password is checked (concurrent guesses cannot
slip past the count) per user name and client address: after 5 failures each further
try waits 2, 4, 8 … seconds (429 with Retry-After), for the API and the login form. A
stranger's failures from another address do not lock the owner out."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.conftest import assert_error
from turnero.core import clock
from turnero.core.ratelimit import LOGIN_PER_USER, LOGIN_PER_USER_CLIENT


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc))
    yield


def client_from(client: httpx.AsyncClient, address: str, base_url: str = "http://testserver") -> httpx.AsyncClient:
    app = client._transport.app
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 50000)), base_url=base_url)


async def token(c, username, password):
    return await c.post("/api/auth/token", json={"username": username, "password": password})


async def test_failures_for_a_user_from_one_address_bring_growing_delays(client):
    for _ in range(LOGIN_PER_USER_CLIENT.free):
        assert (await token(client, "operador1", "wrong")).status_code == 401
    refused = await token(client, "operador1", "demo")  # even the right password must wait
    assert_error(refused, 429, "too_many_attempts")
    assert refused.headers["Retry-After"] == "2"
    clock.advance(timedelta(seconds=2))
    assert (await token(client, "operador1", "wrong")).status_code == 401  # one try let through
    refused = await token(client, "operador1", "wrong")
    assert_error(refused, 429, "too_many_attempts")
    assert refused.headers["Retry-After"] == "4"
    clock.advance(timedelta(seconds=4))
    assert (await token(client, "operador1", "demo")).status_code == 200  # and a success clears the count
    assert (await token(client, "operador1", "wrong")).status_code == 401
    assert (await token(client, "operador1", "demo")).status_code == 200
    # Another user from the same client is let in meanwhile.
    assert (await token(client, "operador2", "demo")).status_code == 200


async def test_concurrent_wrong_passwords_are_counted_before_they_are_checked(client):
    responses = await asyncio.gather(*(token(client, "operador3", f"wrong{n}") for n in range(60)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(401) <= LOGIN_PER_USER_CLIENT.free, statuses
    assert statuses.count(429) >= 60 - LOGIN_PER_USER_CLIENT.free


async def test_a_strangers_failures_do_not_lock_the_owner_out(client):
    async with client_from(client, "203.0.113.9") as stranger, client_from(client, "198.51.100.7") as owner:
        statuses = [(await token(stranger, "supervisor", "guess")).status_code for _ in range(40)]
        assert statuses.count(401) == LOGIN_PER_USER_CLIENT.free and statuses.count(429) == 40 - LOGIN_PER_USER_CLIENT.free
        assert (await token(owner, "supervisor", "demo")).status_code == 200


async def test_failures_from_many_addresses_only_delay_the_owner(client):
    for n in range(LOGIN_PER_USER.free):  # a spray from many addresses, one guess each
        async with client_from(client, f"198.18.{n // 250}.{n % 250 + 1}") as stranger:
            assert (await token(stranger, "operador5", "guess")).status_code == 401
    async with client_from(client, "192.0.2.50") as owner:
        delayed = await token(owner, "operador5", "demo")
        assert_error(delayed, 429, "too_many_attempts")
        assert delayed.headers["Retry-After"] == "2"  # a short delay, not a lock-out
        clock.advance(timedelta(seconds=2))
        assert (await token(owner, "operador5", "demo")).status_code == 200


async def test_successful_logins_are_not_counted(client):
    for _ in range(12):
        response = await client.post("/api/auth/token", json={"username": "kiosko", "password": "demo"})
        assert response.status_code == 200


async def test_login_form_is_limited_too(client):
    for _ in range(LOGIN_PER_USER_CLIENT.free):
        response = await client.post("/login", data={"username": "supervisor", "password": "x"})
        assert response.status_code == 401
    response = await client.post("/login", data={"username": "supervisor", "password": "demo"})
    assert response.status_code == 429
    assert "Demasiados intentos" in response.text and response.headers["Retry-After"] == "2"


async def test_session_cookie_is_secure_when_the_request_came_over_https(client):
    async with client_from(client, "192.0.2.1", "https://testserver") as https:
        response = await https.post("/login", data={"username": "kiosko", "password": "demo"})
        assert response.status_code == 303
        assert "secure" in response.headers["set-cookie"].lower()
    response = await client.post("/login", data={"username": "kiosko", "password": "demo"})
    assert response.status_code == 303 and "secure" not in response.headers["set-cookie"].lower()


# ---------------------------------------------------------------- a real server


async def test_a_real_server_counts_concurrent_guesses_and_trusts_its_proxys_https(live_server):
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as c:
        responses = await asyncio.gather(*(
            c.post("/api/auth/token", json={"username": "operador4", "password": f"wrong{n}"}) for n in range(60)
        ))
        statuses = [r.status_code for r in responses]
        assert statuses.count(401) <= LOGIN_PER_USER_CLIENT.free and statuses.count(429) >= 55, statuses
        # uvicorn trusts X-Forwarded-Proto from its proxy (127.0.0.1 by default): the cookie is Secure.
        proxied = await c.post("/login", data={"username": "kiosko", "password": "demo"},
                               headers={"X-Forwarded-Proto": "https"})
        assert proxied.status_code == 303 and "secure" in proxied.headers["set-cookie"].lower()
        plain = await c.post("/login", data={"username": "kiosko", "password": "demo"})
        assert plain.status_code == 303 and "secure" not in plain.headers["set-cookie"].lower()
