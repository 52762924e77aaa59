"""Many real clients at once against a real server process: no ticket called twice,
no duplicate numbers, nothing lost — on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx

OFFICE = "LPZ-PRINCIPAL"
DESKS = [str(n) for n in range(1, 25)]  # the demo main office has 24 desks


async def bearer(client: httpx.AsyncClient, username: str) -> dict:
    response = await client.post("/api/auth/token", json={"username": username, "password": "demo"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def http(server) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=200, max_keepalive_connections=200)
    )


async def open_all_desks(client: httpx.AsyncClient) -> dict[str, dict]:
    operators = {}
    for n, desk in enumerate(DESKS, start=1):
        headers = await bearer(client, f"operador{n}")
        response = await client.post(f"/api/offices/{OFFICE}/desks/{desk}/open", headers=headers)
        assert response.status_code == 200, response.text
        operators[desk] = headers
    return operators


async def drain(client: httpx.AsyncClient, operators: dict[str, dict]) -> list[dict]:
    """Every desk calls and finishes concurrently until nobody is left; rounds repeat
    because finishing a step of a multi-step visit queues the next step."""

    async def desk_loop(desk: str) -> list[dict]:
        served = []
        for _ in range(5000):  # bounded: far more than any test issues
            response = await client.post(f"/api/offices/{OFFICE}/desks/{desk}/call-next", headers=operators[desk])
            if response.status_code == 204:
                return served
            assert response.status_code == 200, response.text
            ticket = response.json()
            assert ticket["status"] == "called" and ticket["desk"] == desk
            served.append(ticket)
            finished = await client.post(f"/api/tickets/{ticket['id']}/finish", headers=operators[desk])
            assert finished.status_code == 200, finished.text
        raise AssertionError("desk loop did not end")

    calls: list[dict] = []
    for _round in range(10):
        rounds = await asyncio.gather(*(desk_loop(d) for d in DESKS))
        made = [t for served in rounds for t in served]
        if not made:
            return calls
        calls.extend(made)
    raise AssertionError("queue never emptied")


async def test_concurrent_issuing_never_repeats_a_number(live_server):
    async with http(live_server) as client:
        kiosk = await bearer(client, "kiosko")
        responses = await asyncio.gather(
            *(client.post(f"/api/offices/{OFFICE}/tickets", json={"service": "CERT"}, headers=kiosk) for _ in range(200))
        )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201][:3]
    numbers = [r.json()["number"] for r in responses]
    assert len(set(numbers)) == 200
    values = sorted(int(n.split("-")[1]) for n in numbers)
    assert values == list(range(values[0], values[0] + 200)), "numbers are consecutive, with no gaps"
    assert len({r.json()["id"] for r in responses}) == 200


async def test_twenty_four_desks_drain_the_queue_each_ticket_called_exactly_once(live_server):
    random.seed(7)
    services = ["CI-RENOV"] * 6 + ["CERT"] * 2 + ["CI-NUEVO", "CIE", "SANEAMIENTO"]
    priorities = ["regular"] * 6 + ["senior", "disability", "pregnant", "child"]
    async with http(live_server) as client:
        kiosk = await bearer(client, "kiosko")
        before = (await client.get(f"/api/offices/{OFFICE}/board")).json()["waiting"]
        operators = await open_all_desks(client)

        async def issue():
            body = {"service": random.choice(services), "priority": random.choice(priorities)}
            response = await client.post(f"/api/offices/{OFFICE}/tickets", json=body, headers=kiosk)
            assert response.status_code == 201, response.text
            return response.json()

        # Desks start calling while the kiosk is still issuing.
        first = await asyncio.gather(*(issue() for _ in range(150)))
        issued_during, calls = await asyncio.gather(
            asyncio.gather(*(issue() for _ in range(150))), drain(client, operators)
        )
        calls += await drain(client, operators)  # whatever arrived after the desks ran dry
        issued = [*first, *issued_during]

        called_ids = Counter(t["id"] for t in calls)
        assert max(called_ids.values()) == 1, "a ticket was called twice"
        by_prefix = Counter(t["number"] for t in issued)
        assert max(by_prefix.values()) == 1, "a number was issued twice"

        multi_step = sum(1 for t in issued if t["service"] == "DESCARTE")  # CI-NUEVO: 3 steps
        assert len(calls) == sum(before.values()) + len(issued) + 2 * multi_step

        finals = await asyncio.gather(*(client.get(f"/api/tickets/{t['id']}") for t in issued))
        assert {f.json()["status"] for f in finals} == {"done"}
        after = (await client.get(f"/api/offices/{OFFICE}/board")).json()
        assert sum(after["waiting"].values()) == 0
        assert all(d["serving"] is None for d in after["desks"])


async def test_desks_racing_for_one_ticket(live_server):
    async with http(live_server) as client:
        kiosk = await bearer(client, "kiosko")
        operators = await open_all_desks(client)
        # Only CI-RENOV desks compete (3-5 and 11-18 primary; several more secondary).
        for _ in range(10):
            issued = await client.post(f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV"}, headers=kiosk)
            assert issued.status_code == 201
            responses = await asyncio.gather(
                *(client.post(f"/api/offices/{OFFICE}/desks/{d}/call-next", headers=operators[d]) for d in DESKS)
            )
            winners = [r for r in responses if r.status_code == 200]
            assert len(winners) == 1
            assert {r.status_code for r in responses} <= {200, 204}
            ticket = winners[0].json()
            assert ticket["id"] == issued.json()["id"]
            await client.post(f"/api/tickets/{ticket['id']}/finish", headers=operators[ticket["desk"]])

