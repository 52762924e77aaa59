"""Guessing the document of a cita (look-up, cancel, reschedule, calendar, QR) is
counted before the document is checked, per cita code and per client address, and
refused with 429 `too_many_attempts` past the limit — concurrently too, and across
instances that share Redis."""

from __future__ import annotations

import asyncio
import os
import secrets
from contextlib import asynccontextmanager
from datetime import timedelta, timezone

import httpx
import pytest

from tests.conftest import assert_error
from tests.api.test_appointments_api import NOW, booking, local
from tests.driver import app_settings, book as book_cita
from turnero.core import clock
from turnero.core.ratelimit import CITA_GUESSES_PER_CLIENT, CITA_GUESSES_PER_CODE
from turnero.settings import Settings

REDIS_URL = os.environ.get("TURNERO_TEST_REDIS_URL", "").strip()


@pytest.fixture
def settings(database) -> Settings:
    return app_settings(database_url=database.url, booking_rate_limit="1000/minute")


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW.astimezone(timezone.utc))
    yield


@asynccontextmanager
async def running(settings: Settings):
    from turnero.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client_from(app, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://testserver")


async def book(c: httpx.AsyncClient, number: str, hour: int = 9) -> dict:
    return await book_cita(c, booking(local(2026, 12, 2, hour, 0), number))


async def test_concurrent_wrong_documents_for_one_code_are_refused_past_the_limit(settings, database):
    async with running(settings) as app:
        async with client_from(app, "10.0.0.1") as owner, client_from(app, "10.0.0.66") as guesser, \
                client_from(app, "10.0.0.2") as other:
            cita = await book(owner, "1234567")
            second = await book(other, "2345678", hour=10)
            url = f"/api/appointments/{cita['code']}"
            responses = await asyncio.gather(
                *(guesser.get(url, params={"document": f"{9000000 + n}"}) for n in range(60))
            )
            statuses = [r.status_code for r in responses]
            assert statuses.count(404) <= CITA_GUESSES_PER_CODE.free, statuses
            assert statuses.count(404) + statuses.count(429) == 60
            refused = next(r for r in responses if r.status_code == 429)
            assert_error(refused, 429, "too_many_attempts")
            assert int(refused.headers["Retry-After"]) > 0
            # The right document is refused too, from anywhere, until the window passes.
            assert_error(await owner.get(url, params={"document": "1234567"}), 429, "too_many_attempts")
            assert_error(await owner.post(f"{url}/cancel", json={"document": "1234567"}), 429, "too_many_attempts")
            # Another cita, from another address, is not affected.
            ok = await other.get(f"/api/appointments/{second['code']}", params={"document": "2345678"})
            assert ok.status_code == 200
            # The unguessable id alone still shows the cita (nothing is guessed).
            assert (await owner.get(f"/api/appointments/{cita['id']}")).status_code == 200
            clock.advance(timedelta(seconds=CITA_GUESSES_PER_CODE.window + 1))
            assert (await owner.get(url, params={"document": "1234567"})).status_code == 200


async def test_cancel_and_reschedule_count_as_guesses_and_successes_do_not(settings):
    async with running(settings) as app:
        async with client_from(app, "10.0.1.1") as c, client_from(app, "10.0.1.9") as guesser:
            cita = await book(c, "1234567")
            url = f"/api/appointments/{cita['code']}"
            for _ in range(CITA_GUESSES_PER_CODE.free + 3):  # right documents are never counted
                assert (await c.get(url, params={"document": "1234567"})).status_code == 200
            for n in range(CITA_GUESSES_PER_CODE.free):
                wrong = (guesser.post(f"{url}/cancel", json={"document": f"900000{n}"}) if n % 2 else
                         guesser.post(f"{url}/reschedule", json={"document": f"900000{n}",
                                                                 "start": local(2026, 12, 2, 11, 0).isoformat()}))
                assert_error(await wrong, 404, "appointment_not_found")
            assert_error(await guesser.get(f"{url}/calendar.ics", params={"document": "1"}), 429, "too_many_attempts")
            assert_error(await c.post(f"{url}/cancel", json={"document": "1234567"}), 429, "too_many_attempts")


async def test_one_address_guessing_many_codes_is_refused(settings):
    async with running(settings) as app:
        async with client_from(app, "10.0.2.1") as c, client_from(app, "10.0.2.2") as guesser:
            cita = await book(c, "1234567")
            for n in range(CITA_GUESSES_PER_CLIENT.free):
                response = await guesser.get(f"/api/appointments/ZZ{n:04d}", params={"document": "1234567"})
                assert_error(response, 404, "appointment_not_found")
            assert_error(await guesser.get(f"/api/appointments/{cita['code']}", params={"document": "1234567"}),
                         429, "too_many_attempts")
            # The owner, from their own address, is not held up by that address.
            assert (await c.get(f"/api/appointments/{cita['code']}", params={"document": "1234567"})).status_code == 200


@pytest.mark.skipif(not REDIS_URL, reason="TURNERO_TEST_REDIS_URL not set")
async def test_two_instances_sharing_redis_count_together(settings):
    shared = settings.with_(redis_url=REDIS_URL, redis_prefix=f"turnero-test-{secrets.token_hex(4)}:")
    async with running(shared) as one, running(shared) as two:
        async with client_from(one, "10.0.3.1") as a, client_from(two, "10.0.3.1") as b:
            cita = await book(a, "1234567")
            url = f"/api/appointments/{cita['code']}"
            responses = await asyncio.gather(
                *((a if n % 2 else b).get(url, params={"document": f"{9000000 + n}"}) for n in range(60))
            )
            statuses = [r.status_code for r in responses]
            assert statuses.count(404) <= CITA_GUESSES_PER_CODE.free and statuses.count(429) >= 55, statuses
            assert_error(await b.get(url, params={"document": "1234567"}), 429, "too_many_attempts")
            clock.advance(timedelta(seconds=CITA_GUESSES_PER_CODE.window + 1))
            assert (await a.get(url, params={"document": "1234567"})).status_code == 200
