"""The tests' one driver for the common moves: issue a ticket, open a desk, call the next
ticket, book a cita — over HTTP through a test client (the app's `client` fixture or any
httpx client), or through the queue engine itself for the service tests.

The `…_response` forms hand back the raw response for tests that check a refusal; the
plain forms assert success and return the JSON body.
"""

from __future__ import annotations

from datetime import datetime

import httpx

from turnero.settings import Settings

OFFICE = "LPZ-PRINCIPAL"  # the demo office of the kiosk, operators and supervisor
SERVICE = "CI-RENOV"


def app_settings(**values) -> Settings:
    """Settings for an app or a database in the tests: no background jobs, a small pool,
    the cheapest password hashing (the suite signs in hundreds of times), and `values`."""
    return Settings(**{"run_jobs": False, "db_pool_size": 10, "argon2_profile": "cheapest", **values})


# ---------------------------------------------------------------- tickets over HTTP


async def issue_response(client, headers, service: str = SERVICE, office: str = OFFICE, **fields) -> httpx.Response:
    """POST /api/offices/{office}/tickets with `fields` beside the service."""
    return await client.post(f"/api/offices/{office}/tickets", json={"service": service, **fields}, headers=headers)


async def issue(client, headers, service: str = SERVICE, office: str = OFFICE, **fields) -> dict:
    """Issue one ticket; asserts 201 and returns the ticket."""
    response = await issue_response(client, headers, service, office, **fields)
    assert response.status_code == 201, response.text
    return response.json()


async def issue_many(client, headers, n: int, service: str = SERVICE, office: str = OFFICE) -> list[dict]:
    """Issue `n` tickets one after the other."""
    return [await issue(client, headers, service, office) for _ in range(n)]


async def open_desk(client, headers, desk, office: str = OFFICE) -> None:
    response = await client.post(f"/api/offices/{office}/desks/{desk}/open", headers=headers)
    assert response.status_code == 200, response.text


async def call_next(client, headers, desk, office: str = OFFICE) -> dict:
    """Call the desk's next ticket; asserts 200 and returns the answer."""
    response = await client.post(f"/api/offices/{office}/desks/{desk}/call-next", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------- tickets through the engine


async def issue_in(office, service: str = SERVICE, *, config, **kw) -> dict:
    """Issue a ticket through the queue engine (no HTTP), as the kiosk would, with no actor."""
    from turnero.queue import issuing

    return await issuing.issue_ticket(office, service, actor=None, config=config, **kw)


# ---------------------------------------------------------------- citas over HTTP


def cita(start: datetime, number: str = "1234567", office: str = "LPZ-ZONA-SUR", service: str = SERVICE,
         **extra) -> dict:
    """A booking body for POST /api/appointments (`extra` adds or overrides fields)."""
    return {"office": office, "service": service, "start": start.isoformat(),
            "document": {"number": number, "issued_in": "LP"}, "name": "Juana Mamani", **extra}


async def book_response(client, body: dict, **headers) -> httpx.Response:
    """POST /api/appointments with `body`."""
    return await client.post("/api/appointments", json=body, headers=headers)


async def book(client, body: dict, **headers) -> dict:
    """Book a cita; asserts 201 and returns it."""
    response = await book_response(client, body, **headers)
    assert response.status_code == 201, response.text
    return response.json()
