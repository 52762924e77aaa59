"""What a process knows about slots' places (turnero/scheduler/places.py): a full slot
is refused without the database, exactly as the database would refuse it; a freed place
(cancellation, reschedule, a larger capacity) is bookable again at once on the same
instance, and on another instance at once on PostgreSQL (NOTIFY) or within the stated
window (places.FRESH_SECONDS) otherwise. Also the booking's rate limits, parsed once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from limits import parse, parse_many
from tortoise import connections

from tests.conftest import BACKENDS, FreshDatabase, LiveServer, assert_error, login
from tests.driver import app_settings, cita as booking_body
from turnero.core import clock
from turnero.core.ratelimit import RateLimiter
from turnero.notifications.models import OutboundMessage
from turnero.scheduler import booking, places
from turnero.scheduler.models import Appointment, AppointmentEvent, Slot
from turnero.settings import Settings

ZONE = ZoneInfo("America/La_Paz")
OFFICE = "LPZ-ZONA-SUR"
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=ZONE)
START = datetime(2026, 12, 2, 9, 0, tzinfo=ZONE)
SLOT_FULL = {"error": {"code": "slot_full", "message": "Ese horario ya no tiene cupos; elija otro."}}



@pytest.fixture
def settings(database) -> Settings:
    return app_settings(database_url=database.url, booking_rate_limit="1000/minute")


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW.astimezone(timezone.utc))
    yield


@pytest.fixture
def long_knowledge(monkeypatch):
    """What the database said stays fresh for an hour: only an invalidation can make a
    slot known to be full bookable again within the test."""
    monkeypatch.setattr(places, "FRESH_SECONDS", 3600.0)


async def set_capacity(client, capacity: int) -> None:
    response = await client.put(f"/api/offices/{OFFICE}/booking-rules", json={"service": "CI-RENOV", "capacity": capacity},
                                headers=await login(client, "admin"))
    assert response.status_code == 200, response.text


async def book(client, start: datetime, number: str, **extra) -> httpx.Response:
    return await client.post("/api/appointments", json=booking_body(start, number, **extra))


async def snapshot() -> tuple:
    slots = await Slot.all().order_by("id").values_list("id", "capacity", "booked")
    return (tuple(slots), await Appointment.all().count(), await AppointmentEvent.all().count(),
            await OutboundMessage.all().count())


class QueryCounter:
    """Counts the statements the app's database connection runs."""

    def __init__(self, monkeypatch):
        self.count = 0
        conn = next(iter(connections.all()))
        for name in ("execute_query", "execute_query_dict", "execute_select", "execute_insert", "execute_many"):
            original = getattr(conn, name, None)
            if original is not None:
                monkeypatch.setattr(conn, name, self._counting(original))

    def _counting(self, original):
        async def wrapper(*args, **kwargs):
            self.count += 1
            return await original(*args, **kwargs)

        return wrapper


# ---------------------------------------------------------------- one instance


async def test_a_full_slot_is_refused_without_the_database_and_as_before(client, monkeypatch, long_knowledge):
    await set_capacity(client, 1)
    assert (await book(client, START, "7000000", phone="71234567")).status_code == 201
    by_database = await book(client, START, "7000001", phone="71234568")  # the UPDATE refuses it
    before = await snapshot()
    counter = QueryCounter(monkeypatch)
    by_knowledge = [await book(client, START, f"{7000002 + n}", phone="71234569") for n in range(5)]
    assert counter.count == 0  # no statement at all: not the slot, not a model, not a transaction
    for response in (by_database, *by_knowledge):
        assert_error(response, 409, "slot_full")
        assert response.json() == SLOT_FULL  # the same body as the database's refusal, word for word
    assert await snapshot() == before  # nothing written: no cita, no event, no outbox row, no counter
    counted = counter.count
    assert (await book(client, START + timedelta(minutes=15), "7000009")).status_code == 201
    assert counter.count > counted  # (the counter does see the app's statements)


async def test_a_group_is_refused_only_when_larger_than_the_places_left(client, long_knowledge):
    await set_capacity(client, 3)
    assert (await book(client, START, "7000000", party_size=2)).status_code == 201
    assert_error(await book(client, START, "7000001", party_size=2), 409, "slot_full")
    assert_error(await book(client, START, "7000002", party_size=3), 409, "slot_full")
    assert_error(await book(client, START, "7000003", party_size=4), 422, "party_too_large")
    assert (await book(client, START, "7000004", party_size=1)).status_code == 201  # the last place
    assert_error(await book(client, START, "7000005"), 409, "slot_full")


async def test_a_cancellation_makes_a_full_slot_bookable_at_once(client, long_knowledge):
    await set_capacity(client, 1)
    first = (await book(client, START, "7000000")).json()
    for _ in range(2):  # refused by the database, then from what the process knows
        assert_error(await book(client, START, "7000001"), 409, "slot_full")
    cancelled = await client.post(f"/api/appointments/{first['code']}/cancel", json={"document": "7000000"})
    assert cancelled.status_code == 200
    assert (await book(client, START, "7000001")).status_code == 201
    assert_error(await book(client, START, "7000002"), 409, "slot_full")


async def test_a_reschedule_away_makes_a_full_slot_bookable_at_once(client, long_knowledge):
    await set_capacity(client, 1)
    first = (await book(client, START, "7000000")).json()
    assert_error(await book(client, START, "7000001"), 409, "slot_full")
    later = START + timedelta(hours=1)
    moved = await client.post(f"/api/appointments/{first['code']}/reschedule",
                              json={"document": "7000000", "start": later.isoformat()})
    assert moved.status_code == 200, moved.text
    assert (await book(client, START, "7000001")).status_code == 201
    assert_error(await book(client, later, "7000002"), 409, "slot_full")


async def test_a_larger_capacity_makes_a_full_slot_bookable_at_once(client, long_knowledge):
    await set_capacity(client, 1)
    assert (await book(client, START, "7000000")).status_code == 201
    assert_error(await book(client, START, "7000001"), 409, "slot_full")
    await set_capacity(client, 2)
    assert (await book(client, START, "7000001")).status_code == 201
    assert_error(await book(client, START, "7000002"), 409, "slot_full")


async def test_a_booking_without_a_phone_writes_no_outbox_row_and_one_with_a_phone_writes_its_messages(client):
    plain = (await book(client, START, "7000000")).json()
    assert await OutboundMessage.filter(appointment_id=(await Appointment.get(public_id=plain["id"])).id).count() == 0
    with_phone = (await book(client, START, "7000001", phone="71234567")).json()
    appt = await Appointment.get(public_id=with_phone["id"])
    templates = await OutboundMessage.filter(appointment_id=appt.id).values_list("template", flat=True)
    assert "cita_confirmada" in templates
    for cita in (plain, with_phone):
        row = await Appointment.get(public_id=cita["id"])
        kinds = await AppointmentEvent.filter(appointment_id=row.id).values_list("kind", "data")
        assert kinds == [("booked", {"party_size": 1, "slot": row.slot_id})]
    assert (await Slot.get(id=appt.slot_id)).booked == 2


async def test_a_code_drawn_twice_is_drawn_again_and_the_booking_made(client, monkeypatch):
    taken = (await book(client, START, "7000000")).json()["code"]
    codes = iter([taken, taken, "Q3Q3Q3Q3"])
    monkeypatch.setattr(booking, "new_code", lambda: next(codes))
    second = await book(client, START, "7000001")
    assert second.status_code == 201, second.text
    assert second.json()["code"] == "Q3Q3Q3Q3"
    assert (await Slot.get(id=(await Appointment.get(code="Q3Q3Q3Q3")).slot_id)).booked == 2
    assert await AppointmentEvent.all().count() == 2


async def test_the_same_document_twice_takes_no_place(client):
    assert (await book(client, START, "7000000")).status_code == 201
    before = await snapshot()
    assert_error(await book(client, START + timedelta(minutes=15), "7000000"), 409, "already_booked")
    assert await snapshot() == before


# ---------------------------------------------------------------- the knowledge itself


def test_an_answer_asked_for_before_a_release_is_not_kept(monkeypatch):
    known = places.Places()
    row = {"id": 1, "start": START.astimezone(timezone.utc), "end": START.astimezone(timezone.utc), "capacity": 3, "booked": 3}
    assert known.get(10, 20, START) is None
    asked = known.epoch
    known.forget((1,))  # a cancellation committed while the read was on its way
    slot = known.learn(10, 20, row, asked)
    assert slot.free == 0 and not slot.fresh(time.monotonic())  # this request goes by it; nobody else does
    slot = known.learn(10, 20, row, known.epoch)
    assert slot.fresh(time.monotonic())
    known.forget_all()
    assert not slot.fresh(time.monotonic())


def test_knowledge_expires_after_the_stated_window(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(places.time, "monotonic", lambda: now[0])
    known = places.Places()
    row = {"id": 1, "start": START.astimezone(timezone.utc), "end": START.astimezone(timezone.utc), "capacity": 3, "booked": 1}
    assert known.get(10, 20, START) is None
    slot = known.learn(10, 20, row, known.epoch)
    assert slot.free == 2 and slot.fresh(now[0])
    known.refused(slot, 2, known.epoch)  # the UPDATE found fewer than 2 free: at most 1
    assert slot.free == 1
    known.taken(slot, 3, 3, known.epoch)
    assert slot.free == 0
    now[0] += places.FRESH_SECONDS - 0.001
    assert slot.fresh(now[0])
    now[0] += 0.002
    assert not slot.fresh(now[0])
    assert known.get(10, 20, START) is slot  # the identity is kept; the places are asked again


# ---------------------------------------------------------------- rate limits


async def test_every_rule_of_the_booking_limit_applies(settings):
    from turnero.app import create_app

    app = create_app(settings.with_(booking_rate_limit="2/second;3/hour"))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            codes = []
            for n in range(4):
                codes.append((await book(c, START, f"{7000000 + n}")).status_code)
                await asyncio.sleep(0.55)  # the per-second rule never binds
    assert codes == [201, 201, 201, 429]  # the hourly one does


def test_moving_window_counts_the_last_period(monkeypatch):
    now = [50.0]
    monkeypatch.setattr("turnero.core.ratelimit.time.monotonic", lambda: now[0])
    limiter = RateLimiter()
    rule = parse("3/minute")
    assert [limiter.hit_now(rule, "k") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit_now(rule, "other")  # per key
    now[0] += 30
    assert not limiter.test(rule, "k")
    now[0] += 30.001  # the first three left the window
    assert limiter.test(rule, "k") and limiter.hit_now(rule, "k")
    both = tuple(parse_many("1/second;2/minute"))
    assert limiter.hit_all(both, "b") and not limiter.hit_all(both, "b")
    now[0] += 1.5
    assert limiter.hit_all(both, "b")
    now[0] += 1.5
    assert not limiter.hit_all(both, "b")  # the minute rule; a refused hit is not counted by either
    now[0] += 58
    assert limiter.hit_all(both, "b")


async def test_limiter_keeps_the_interface_of_failed_sign_ins():
    limiter = RateLimiter()
    rule = parse("2/minute")
    assert await limiter.allowed(rule, "u")
    assert await limiter.hit(rule, "u") and await limiter.hit(rule, "u")
    assert not await limiter.allowed(rule, "u") and not await limiter.hit(rule, "u")
    await limiter.clear(rule, "u")
    assert await limiter.allowed(rule, "u")


# ---------------------------------------------------------------- several instances


@pytest.fixture(scope="module", params=BACKENDS)
def two_servers(request, tmp_path_factory):
    """Two server processes (two instances) on one database. On PostgreSQL what they
    know stays fresh for an hour, so only NOTIFY can tell one about the other's release."""
    directory: Path = tmp_path_factory.mktemp(f"places-{request.param}")
    database = FreshDatabase(request.param, directory, seeded=True)
    env = {"TURNERO_BOOKING_RATE_LIMIT": "100000/minute"}
    if request.param == "postgres":
        env["TURNERO_PLACES_FRESH_SECONDS"] = "3600"
    servers = []
    try:
        for n in range(2):
            (directory / f"s{n}").mkdir()
            servers.append(LiveServer(database.url, directory / f"s{n}" / "server.log", extra_env=env))
        yield request.param, servers
    finally:
        for server in servers:
            server.stop()
        database.drop()


async def test_a_release_on_one_instance_reaches_the_other(two_servers):
    backend, (a, b) = two_servers
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as ca, httpx.AsyncClient(base_url=b.url, timeout=30) as cb:
        admin = await login(ca, "admin")
        response = await ca.put(f"/api/offices/{OFFICE}/booking-rules", json={"service": "SANEAMIENTO", "capacity": 1},
                                headers=admin)
        assert response.status_code == 200, response.text
        first = (date.today() + timedelta(days=3)).isoformat()
        slots = (await cb.get(f"/api/offices/{OFFICE}/availability",
                              params={"service": "SANEAMIENTO", "from": first, "days": 5})).json()
        start = next(s["start"] for s in slots if s["available"] == 1)
        body = {"office": OFFICE, "service": "SANEAMIENTO", "start": start, "name": "Persona"}
        held = await ca.post("/api/appointments", json={**body, "document": {"number": "9100001"}})
        assert held.status_code == 201, held.text
        for _ in range(3):  # b learns the slot is full, then refuses from what it knows
            assert_error(await cb.post("/api/appointments", json={**body, "document": {"number": "9100002"}}),
                         409, "slot_full")
        cancelled = await ca.post(f"/api/appointments/{held.json()['code']}/cancel", json={"document": "9100001"})
        assert cancelled.status_code == 200
        released = time.monotonic()
        outcomes = Counter()
        while True:
            response = await cb.post("/api/appointments", json={**body, "document": {"number": "9100002"}})
            outcomes[response.status_code] += 1
            if response.status_code == 201 or time.monotonic() - released > places.FRESH_SECONDS + 5:
                break
            await asyncio.sleep(0.02)
        waited = time.monotonic() - released
    assert outcomes[201] == 1, outcomes
    if backend == "postgres":
        assert waited < 3, waited  # the notification, not the hour
    else:
        assert waited < places.FRESH_SECONDS + 2, waited  # the stated window (plus a slow machine's margin)
