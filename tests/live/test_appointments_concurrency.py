"""Citas under many concurrent clients, through a real server process (`turnero demo`)
on SQLite and PostgreSQL: never overbooked, one active cita per document and service,
one booking per Idempotency-Key, reschedules that never hold two places."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import BACKENDS, FreshDatabase, LiveServer

OFFICE = "LPZ-ZONA-SUR"


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory) -> Iterator[LiveServer]:
    directory: Path = tmp_path_factory.mktemp(f"citas-{request.param}")
    database = FreshDatabase(request.param, directory, seeded=True)
    # Every client here comes from 127.0.0.1: lift the per-client booking limit.
    live = LiveServer(database.url, directory / "server.log", extra_env={"TURNERO_BOOKING_RATE_LIMIT": "100000/minute"})
    try:
        yield live
    finally:
        live.stop()
        database.drop()


def client(server: LiveServer) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    return httpx.AsyncClient(base_url=server.url, timeout=60.0, limits=limits)


async def admin_headers(c: httpx.AsyncClient) -> dict:
    response = await c.post("/api/auth/token", json={"username": "admin", "password": "demo"})
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def slots_with(c: httpx.AsyncClient, service: str, capacity: int) -> list[dict]:
    """Set the service's places per slot at OFFICE and list its slots from 3 days ahead
    (comfortably past notice and cut-off, inside the window)."""
    response = await c.put(
        f"/api/offices/{OFFICE}/booking-rules", json={"service": service, "capacity": capacity}, headers=await admin_headers(c)
    )
    assert response.status_code == 200, response.text
    first = (date.today() + timedelta(days=3)).isoformat()
    response = await c.get(f"/api/offices/{OFFICE}/availability", params={"service": service, "from": first, "days": 10})
    assert response.status_code == 200, response.text
    slots = [s for s in response.json() if s["available"] == capacity]
    assert len(slots) >= 20
    return slots


def body(start: str, number: int, service: str, **extra) -> dict:
    return {
        "office": OFFICE, "service": service, "start": start, "document": {"number": str(number)},
        "name": f"Persona {number}", **extra,
    }


async def available(c: httpx.AsyncClient, service: str, start: str) -> int:
    response = await c.get(f"/api/offices/{OFFICE}/availability", params={"service": service, "from": start[:10], "days": 1})
    return next(s["available"] for s in response.json() if s["start"] == start)


async def test_200_concurrent_bookings_on_k_places_exactly_k_succeed(server):
    k = 7
    async with client(server) as c:
        slot = (await slots_with(c, "CI-RENOV", k))[0]
        responses = await asyncio.gather(*[
            c.post("/api/appointments", json=body(slot["start"], 3_000_000 + n, "CI-RENOV")) for n in range(200)
        ])
        outcome = Counter((r.status_code, r.json().get("error", {}).get("code")) for r in responses)
        assert outcome == {(201, None): k, (409, "slot_full"): 200 - k}, outcome
        assert await available(c, "CI-RENOV", slot["start"]) == 0
        winners = [r.json() for r in responses if r.status_code == 201]
        assert len({w["code"] for w in winners}) == k and len({w["id"] for w in winners}) == k
        for w in winners:  # every winner's cita really exists
            number = w["name"].split()[-1]
            assert (await c.get(f"/api/appointments/{w['code']}", params={"document": number})).status_code == 200


async def test_groups_never_overbook_a_slot(server):
    async with client(server) as c:
        slot = (await slots_with(c, "SANEAMIENTO", 10))[0]
        sizes = [1 + n % 4 for n in range(60)]
        responses = await asyncio.gather(*[
            c.post("/api/appointments", json=body(slot["start"], 4_000_000 + n, "SANEAMIENTO", party_size=size))
            for n, size in enumerate(sizes)
        ])
        assert {r.status_code for r in responses} <= {201, 409}
        taken = sum(size for size, r in zip(sizes, responses) if r.status_code == 201)
        assert taken <= 10
        assert await available(c, "SANEAMIENTO", slot["start"]) == 10 - taken
        # Places only went down, so a group refused at any moment is larger than what is
        # left now: nobody was turned away from places that stayed free.
        refused = [size for size, r in zip(sizes, responses) if r.status_code == 409]
        assert all(r.json()["error"]["code"] == "slot_full" for r in responses if r.status_code == 409)
        assert refused and 10 - taken < min(refused)


async def test_the_same_document_at_once_on_many_slots_gets_one_cita(server):
    async with client(server) as c:
        first = (date.today() + timedelta(days=3)).isoformat()
        response = await c.get("/api/offices/LPZ-PRINCIPAL/availability", params={"service": "CI-NUEVO", "from": first, "days": 10})
        slots = [s["start"] for s in response.json() if s["available"] > 0][:20]
        responses = await asyncio.gather(*[
            c.post("/api/appointments", json={**body(slots[n % 20], 5_555_555, "CI-NUEVO"), "office": "LPZ-PRINCIPAL"})
            for n in range(40)
        ])
        outcome = Counter((r.status_code, r.json().get("error", {}).get("code")) for r in responses)
        assert outcome == {(201, None): 1, (409, "already_booked"): 39}, outcome


async def test_concurrent_retries_with_one_idempotency_key_make_one_cita(server):
    async with client(server) as c:
        slot = (await slots_with(c, "CI-RENOV", 7))[1]
        payload = body(slot["start"], 6_000_001, "CI-RENOV")
        responses = await asyncio.gather(*[
            c.post("/api/appointments", json=payload, headers={"Idempotency-Key": "one-key"}) for _ in range(50)
        ])
        assert {r.status_code for r in responses} == {201}
        assert len({r.json()["id"] for r in responses}) == 1
        assert await available(c, "CI-RENOV", slot["start"]) == 6


async def test_crossing_and_competing_reschedules_never_hold_two_places(server):
    async with client(server) as c:
        slots = await slots_with(c, "SANEAMIENTO", 1)
        s1, s2 = slots[5]["start"], slots[6]["start"]
        a = (await c.post("/api/appointments", json=body(s1, 7_000_001, "SANEAMIENTO"))).json()
        b = (await c.post("/api/appointments", json=body(s2, 7_000_002, "SANEAMIENTO"))).json()
        # Crossing moves into each other's full slot: both refused, both kept, no deadlock.
        crossing = await asyncio.gather(*[
            c.post(f"/api/appointments/{a['code']}/reschedule", json={"document": "7000001", "start": s2}),
            c.post(f"/api/appointments/{b['code']}/reschedule", json={"document": "7000002", "start": s1}),
        ] * 5)
        assert {(r.status_code, r.json()["error"]["code"]) for r in crossing} == {(409, "slot_full")}
        # One cita raced to five free slots (five look-ups of one code at once is as many as
        # the guess limit lets in flight): it ends in exactly one of them.
        targets = [s["start"] for s in slots[7:12]]
        moves = await asyncio.gather(*[
            c.post(f"/api/appointments/{a['code']}/reschedule", json={"document": "7000001", "start": t}) for t in targets
        ])
        assert {r.status_code for r in moves} <= {200, 409} and any(r.status_code == 200 for r in moves)
        final = (await c.get(f"/api/appointments/{a['code']}", params={"document": "7000001"})).json()
        held = [t for t in [s1, *targets] if await available(c, "SANEAMIENTO", t) == 0]
        assert held == [final["start"]]
        assert await available(c, "SANEAMIENTO", s2) == 0  # b kept its place


async def test_cancel_frees_the_place_for_the_next_booking(server):
    async with client(server) as c:
        slot = (await slots_with(c, "SANEAMIENTO", 1))[3]
        first = (await c.post("/api/appointments", json=body(slot["start"], 8_000_001, "SANEAMIENTO"))).json()
        refused = await c.post("/api/appointments", json=body(slot["start"], 8_000_002, "SANEAMIENTO"))
        assert refused.status_code == 409
        cancelled = await c.post(f"/api/appointments/{first['code']}/cancel", json={"document": "8000001"})
        assert cancelled.status_code == 200
        responses = await asyncio.gather(*[
            c.post("/api/appointments", json=body(slot["start"], 8_000_100 + n, "SANEAMIENTO")) for n in range(30)
        ])
        assert sorted(r.status_code for r in responses) == [201] + [409] * 29
