"""The one-statement hot paths on PostgreSQL (call-next, finish) against their general
forms: the policy written as SQL picks what policy.choose_next picks, one desk never
holds two tickets however many calls race at it, and the one-statement finish keeps
the same rules (office scoping, audit event, multi-step visits) — on both backends
where the behaviour is observable through the API."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime, timedelta, timezone


from tests.conftest import assert_error, login
from tests.driver import issue_many, open_desk
from turnero.core.db import connection_name, is_postgres
from turnero.queue import policy
from turnero.queue.calls import _policy_order_sql
from turnero.queue.models import Desk, Ticket, TicketEvent, TicketStatus

OFFICE = "LPZ-PRINCIPAL"
LANES = (policy.APPOINTMENT, policy.PREFERENTIAL, policy.REGULAR)


# ---------------------------------------------------------------- policy as SQL


def _random_heads(rng: random.Random, now: datetime, lanes=LANES) -> tuple[list[policy.Candidate], dict[int, int]]:
    """What the statement's LATERAL gives: at most one head per service and lane, only
    appointments already due, every service one the desk serves."""
    services = rng.sample(range(1, 6), rng.randint(1, 3))
    weights = {s: rng.randint(1, 3) for s in services}
    heads, next_id = [], rng.randint(1, 50)
    for service in services:
        for lane in lanes:
            if rng.random() < 0.35:
                continue
            # Minutes on a coarse grid so that equal arrival times (ties) happen.
            arrived = now - timedelta(minutes=rng.choice([0, 5, 15, 20, 30, 59, 60, 61, 90, 120]))
            due = now - timedelta(minutes=rng.choice([0, 1, 10])) if lane == policy.APPOINTMENT else None
            heads.append(policy.Candidate(next_id, lane, service, arrived, due))
            next_id += rng.randint(1, 7)
    return heads, weights


async def test_policy_as_sql_picks_what_choose_next_picks(db):
    """The ORDER BY of the one-statement call-next (PostgreSQL) and its SQLite form pick
    what the pure policy picks, on random heads with ties."""
    from tortoise import connections

    conn = connections.get(connection_name(db.database_url))
    if is_postgres():
        order, new_streak = _policy_order_sql("h", "$1::int", "$2::timestamptz", "$3::int", "$5::timestamptz")
        sql = (
            f"SELECT h.id, {new_streak} AS streak FROM jsonb_to_recordset($4::jsonb)"
            " AS h(id int, lane text, service_id int, arrived_at timestamptz, due_at timestamptz, weight int)"
            f" ORDER BY {order} LIMIT 1"
        )
    else:
        order, new_streak = _policy_order_sql("h", "?1", "?2", "?3", "?5", sqlite=True)
        columns = ", ".join(f"json_extract(value, '$.{c}') AS {c}"
                            for c in ("id", "lane", "service_id", "arrived_at", "due_at", "weight"))
        sql = f"SELECT h.id, {new_streak} AS streak FROM (SELECT {columns} FROM json_each(?4)) AS h ORDER BY {order} LIMIT 1"
    rng = random.Random(20261123)
    now = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)
    checked = 0
    for i in range(800):
        # Every other round without citas: a due cita always goes first, so without
        # these rounds the walk-in rules (the overdue ones, the tier interleave by the
        # desk's streak) would be reached only now and then.
        heads, weights = _random_heads(rng, now, LANES if i % 2 else LANES[1:])
        streak, ratio = rng.randint(0, 4), rng.randint(1, 3)
        config = policy.PolicyConfig(preferential_ratio=ratio, regular_max_wait=timedelta(minutes=60))
        expected = policy.choose_next(heads, now=now, weights=weights, preferential_streak=streak, config=config)
        rows = [
            {"id": c.ticket_id, "lane": c.lane, "service_id": c.service_id, "arrived_at": c.arrived_at.isoformat(),
             "due_at": c.due_at.isoformat() if c.due_at else None, "weight": weights[c.service_id]}
            for c in heads
        ]
        cutoff = now - config.regular_max_wait
        if is_postgres():
            params = [streak, cutoff, ratio, json.dumps(rows), now]
        else:
            params = [streak, cutoff.isoformat(), ratio, json.dumps(rows), now.isoformat()]
        got = await conn.execute_query_dict(sql, params)
        if expected is None:
            assert got == []
            continue
        assert (got[0]["id"], got[0]["streak"]) == (expected.candidate.ticket_id, expected.preferential_streak), (
            heads, weights, streak, ratio,
        )
        checked += 1
    assert checked > 600


# ---------------------------------------------------------------- one desk, racing calls


async def _active_at(desk: str) -> int:
    return await Ticket.filter(
        desk__name=desk, desk__office__code=OFFICE, status__in=[TicketStatus.CALLED, TicketStatus.SERVING]
    ).count()


async def test_calls_racing_at_one_desk_call_one_ticket(client, kiosk):
    op = await login(client, "operador3")
    await issue_many(client, kiosk, 12)
    await open_desk(client, op, "3")
    for _round in range(3):
        responses = await asyncio.gather(
            *(client.post(f"/api/offices/{OFFICE}/desks/3/call-next", headers=op) for _ in range(10))
        )
        winners = [r for r in responses if r.status_code == 200]
        assert len(winners) == 1, [r.status_code for r in responses]
        for response in responses:
            if response.status_code != 200:
                assert_error(response, 409, "desk_busy")
        assert await _active_at("3") == 1
        called = winners[0].json()
        assert await TicketEvent.filter(ticket__public_id=called["id"], kind="called").count() == 1
        finished = await client.post(f"/api/tickets/{called['id']}/finish", headers=op)
        assert finished.status_code == 200, finished.text


async def test_call_next_and_calling_a_number_racing_at_one_desk_call_one_ticket(client, kiosk):
    op = await login(client, "operador3")
    tickets = await issue_many(client, kiosk, 8)
    await open_desk(client, op, "3")
    for ticket in tickets[-4:]:
        responses = await asyncio.gather(
            client.post(f"/api/offices/{OFFICE}/desks/3/call", json={"ticket": ticket["number"]}, headers=op),
            *(client.post(f"/api/offices/{OFFICE}/desks/3/call-next", headers=op) for _ in range(4)),
        )
        winners = [r for r in responses if r.status_code == 200]
        assert len(winners) == 1, [(r.status_code, r.text[:120]) for r in responses]
        assert await _active_at("3") == 1
        finished = await client.post(f"/api/tickets/{winners[0].json()['id']}/finish", headers=op)
        assert finished.status_code == 200, finished.text


async def test_the_streak_is_kept_by_the_desk_across_calls(client, kiosk):
    """Two preferential, then one regular (ratio 2), with every call and finish going
    through the hot paths: the streak the statement writes is the one read next."""
    op = await login(client, "operador3")
    for priority in ["regular"] * 3 + ["senior"] * 4:
        response = await client.post(
            f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV", "priority": priority}, headers=kiosk
        )
        assert response.status_code == 201
    await open_desk(client, op, "3")
    order = []
    for _ in range(7):
        response = await client.post(f"/api/offices/{OFFICE}/desks/3/call-next", headers=op)
        assert response.status_code == 200, response.text
        order.append(response.json()["priority"])
        await client.post(f"/api/tickets/{response.json()['id']}/finish", headers=op)
    assert order == ["senior", "senior", "regular", "senior", "senior", "regular", "regular"]
    assert (await Desk.get(office__code=OFFICE, name="3")).preferential_streak == 0


# ---------------------------------------------------------------- finish


async def _called(client, kiosk, op, desk: str = "3", service: str = "CI-RENOV") -> dict:
    await issue_many(client, kiosk, 1, service)
    await open_desk(client, op, desk)
    response = await client.post(f"/api/offices/{OFFICE}/desks/{desk}/call-next", headers=op)
    assert response.status_code == 200, response.text
    return response.json()


async def test_finish_by_staff_of_another_office_is_403_and_changes_nothing(client, kiosk):
    op = await login(client, "operador3")
    called = await _called(client, kiosk, op)
    other = await login(client, "examinador")  # a supervisor of LPZ-SEGELIC
    response = await client.post(f"/api/tickets/{called['id']}/finish", headers=other)
    assert_error(response, 403)
    assert (await Ticket.get(public_id=called["id"])).status == TicketStatus.CALLED
    assert await TicketEvent.filter(ticket__public_id=called["id"], kind="finished").count() == 0


async def test_finish_returns_the_view_and_writes_one_event(client, kiosk):
    op = await login(client, "operador3")
    called = await _called(client, kiosk, op)
    response = await client.post(f"/api/tickets/{called['id']}/finish", headers=op)
    assert response.status_code == 200, response.text
    done = response.json()
    assert {k: done[k] for k in ("id", "number", "service", "desk", "called_at")} == {
        k: called[k] for k in ("id", "number", "service", "desk", "called_at")
    }
    assert done["status"] == "done" and done["next"] is None
    stored = await Ticket.get(public_id=called["id"])
    assert stored.started_at == stored.called_at and stored.finished_at is not None
    events = await TicketEvent.filter(ticket_id=stored.id, kind="finished")
    assert len(events) == 1 and events[0].desk_id == stored.desk_id
    again = await client.post(f"/api/tickets/{called['id']}/finish", headers=op)
    assert_error(again, 409, "invalid_transition")


async def test_admin_finishes_in_any_office(client, kiosk, admin):
    op = await login(client, "operador3")
    called = await _called(client, kiosk, op)
    response = await client.post(f"/api/tickets/{called['id']}/finish", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "done"


async def test_finishing_a_step_of_a_visit_still_queues_the_next_step(client, kiosk):
    op = await login(client, "operador1")  # desk 1: DESCARTE first (CI-NUEVO's first step)
    called = await _called(client, kiosk, op, desk="1", service="CI-NUEVO")
    response = await client.post(f"/api/tickets/{called['id']}/finish", headers=op)
    assert response.status_code == 200, response.text
    finished = response.json()
    assert finished["status"] == "transferred"
    assert finished["next"]["status"] == "waiting" and finished["next"]["number"] == called["number"]
