"""Authentication and authorisation of the HTTP API: tokens, roles and office scoping."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.conftest import assert_error, login
from tests.driver import issue
from turnero.core import auth, clock
from turnero.core.models import ApiToken
from turnero.queue.models import Desk, Ticket, TicketStatus

OFFICE = "LPZ-PRINCIPAL"
OTHER = "LPZ-ZONA-SUR"


# ---------------------------------------------------------------- helpers


async def token_response(client, username, password="demo"):
    return await client.post("/api/auth/token", json={"username": username, "password": password})


async def open_and_call(client, headers, desk, office=OFFICE) -> dict:
    """Open `desk` and call its next ticket."""
    assert (await client.post(f"/api/offices/{office}/desks/{desk}/open", headers=headers)).status_code == 200
    response = await client.post(f"/api/offices/{office}/desks/{desk}/call-next", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# Every endpoint that needs a token, with a body that would be accepted.
PROTECTED = [
    ("POST", f"/api/offices/{OFFICE}/tickets", {"service": "CI-RENOV"}),
    ("GET", f"/api/offices/{OFFICE}/desks", None),
    ("POST", f"/api/offices/{OFFICE}/desks/3/open", None),
    ("POST", f"/api/offices/{OFFICE}/desks/3/pause", None),
    ("POST", f"/api/offices/{OFFICE}/desks/3/close", None),
    ("POST", f"/api/offices/{OFFICE}/desks/3/call-next", None),
    ("POST", f"/api/offices/{OFFICE}/desks/3/call", {"ticket": "C-001"}),
]
TICKET_ACTIONS = ["recall", "start", "finish", "no-show", "transfer"]


async def send(client, method, path, body, headers=None):
    return await client.request(method, path, json=body, headers=headers or {})


# ---------------------------------------------------------------- tokens


async def test_token_has_role_office_and_an_expiry_twelve_hours_ahead(client):
    response = await token_response(client, "operador1")
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "operator" and body["office"] == OFFICE
    assert len(body["token"]) >= 32
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (clock.now() + timedelta(hours=12))) < timedelta(minutes=1)
    # Stored as a digest only.
    assert await ApiToken.filter(digest=body["token"]).count() == 0
    assert await ApiToken.all().count() == 1


@pytest.mark.parametrize(
    "username, role, office",
    [("admin", "admin", None), ("supervisor", "supervisor", OFFICE), ("kiosko", "kiosk", OFFICE),
     ("pantalla", "display", OFFICE), ("operador7", "operator", OFFICE)],
)
async def test_each_demo_user_gets_its_role(client, username, role, office):
    body = (await token_response(client, username)).json()
    assert (body["role"], body["office"]) == (role, office)


async def test_wrong_password_is_401(client):
    assert_error(await token_response(client, "admin", "wrong"), 401, "unauthorized")
    assert await ApiToken.all().count() == 0


async def test_unknown_user_is_401_with_the_same_message(client):
    unknown = await token_response(client, "nadie", "demo")
    wrong = await token_response(client, "admin", "nope")
    assert_error(unknown, 401, "unauthorized")
    assert unknown.json() == wrong.json()


@pytest.mark.parametrize(
    "body",
    [{"username": 1, "password": "demo"}, {"username": "admin", "password": 123},
     {"username": "admin"}, {"password": "demo"}, {"username": "", "password": "demo"},
     {"username": "admin", "password": ""}, {"username": ["admin"], "password": "demo"},
     {"username": None, "password": "demo"}, {"username": "a" * 65, "password": "demo"},
     {"username": "admin", "password": "x" * 257}, {}],
)
async def test_login_with_wrong_types_or_values_is_422(client, body):
    assert_error(await client.post("/api/auth/token", json=body), 422, "validation_error")
    assert await ApiToken.all().count() == 0


@pytest.mark.parametrize("raw", [b"{username: admin}", b'{"username": "admin", "password": "demo"', b"\xff\xfe", b"[]",
                                 b'"admin"', b"null", b"42"])
async def test_malformed_login_body_is_400(client, raw):
    response = await client.post("/api/auth/token", content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "malformed_request")


async def test_login_is_post_only(client):
    assert_error(await client.get("/api/auth/token"), 405, "method_not_allowed")


# ---------------------------------------------------------------- 401


@pytest.mark.parametrize("method, path, body", PROTECTED)
async def test_no_token_is_401(client, method, path, body):
    assert_error(await send(client, method, path, body), 401, "unauthorized")


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-real-token", "Bearer ", "Bearer", "Basic YWRtaW46ZGVtbw==", "Token abc", "bearer x y z", ""],
)
async def test_bad_token_is_401(client, header):
    response = await client.post(
        f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV"}, headers={"Authorization": header}
    )
    assert_error(response, 401, "unauthorized")
    assert await Ticket.all().count() == 0


@pytest.mark.parametrize("action", TICKET_ACTIONS)
async def test_ticket_actions_without_token_are_401(client, action):
    ticket = await issue(client, await login(client, "kiosko"))
    response = await client.post(f"/api/tickets/{ticket['id']}/{action}", json={"service": "CERT"})
    assert_error(response, 401, "unauthorized")
    assert (await Ticket.get(public_id=ticket["id"])).status == TicketStatus.WAITING


async def test_expired_token_is_401(client):
    headers = await login(client, "kiosko")
    await issue(client, headers)
    clock.advance(timedelta(hours=12, minutes=1))
    auth.clear_cache()
    response = await client.post(f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV"}, headers=headers)
    assert_error(response, 401, "unauthorized")
    assert await Ticket.all().count() == 1


async def test_expired_token_is_401_even_while_cached(client):
    headers = await login(client, "kiosko")
    await issue(client, headers)  # now in the in-process cache
    clock.advance(timedelta(hours=12, minutes=1))
    response = await client.post(f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV"}, headers=headers)
    assert_error(response, 401, "unauthorized")


async def test_token_still_valid_just_before_expiry(client):
    headers = await login(client, "kiosko")
    clock.advance(timedelta(hours=11, minutes=59))
    auth.clear_cache()
    await issue(client, headers)


async def test_a_revoked_token_is_401_once_the_cache_is_cleared(client):
    headers = await login(client, "kiosko")
    await issue(client, headers)
    await ApiToken.all().delete()
    auth.clear_cache()
    response = await client.post(f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV"}, headers=headers)
    assert_error(response, 401, "unauthorized")


async def test_the_session_cookie_is_accepted_like_a_bearer_token(client):
    token = (await token_response(client, "kiosko")).json()["token"]
    client.cookies.set(auth.SESSION_COOKIE, token)
    try:
        response = await client.post(f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV"})
    finally:
        client.cookies.clear()
    assert response.status_code == 201


# ---------------------------------------------------------------- 403 by role


async def test_kiosk_cannot_call_next(client):
    kiosk = await login(client, "kiosko")
    await issue(client, kiosk)
    await Desk.filter(office__code=OFFICE, name="3").update(status="open")
    response = await client.post(f"/api/offices/{OFFICE}/desks/3/call-next", headers=kiosk)
    assert_error(response, 403, "forbidden")
    assert await Ticket.filter(status=TicketStatus.WAITING).count() == 1


@pytest.mark.parametrize("method, path, body", PROTECTED[1:])
async def test_kiosk_cannot_use_desks(client, method, path, body):
    assert_error(await send(client, method, path, body, await login(client, "kiosko")), 403, "forbidden")


@pytest.mark.parametrize("action", TICKET_ACTIONS)
async def test_kiosk_cannot_act_on_tickets(client, action):
    op = await login(client, "operador3")
    await issue(client, op)
    ticket = await open_and_call(client, op, "3")
    response = await client.post(
        f"/api/tickets/{ticket['id']}/{action}", json={"service": "CERT"}, headers=await login(client, "kiosko")
    )
    assert_error(response, 403, "forbidden")
    assert (await Ticket.get(public_id=ticket["id"])).status == TicketStatus.CALLED


@pytest.mark.parametrize("method, path, body", PROTECTED)
async def test_display_is_read_only(client, method, path, body):
    display = await login(client, "pantalla")
    assert_error(await send(client, method, path, body, display), 403, "forbidden")
    assert await Ticket.all().count() == 0
    assert (await client.get(f"/api/offices/{OFFICE}/board", headers=display)).status_code == 200


async def test_display_cannot_issue_tickets(client):
    response = await client.post(
        f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV"}, headers=await login(client, "pantalla")
    )
    assert_error(response, 403, "forbidden")
    assert await Ticket.all().count() == 0


# ---------------------------------------------------------------- 403 by office


def _other_office(path: str) -> str:
    return path.replace(OFFICE, OTHER)


@pytest.mark.parametrize("username", ["operador1", "supervisor", "kiosko"])
async def test_staff_of_one_office_cannot_issue_at_another(client, username):
    response = await client.post(
        f"/api/offices/{OTHER}/tickets", json={"service": "CI-RENOV"}, headers=await login(client, username)
    )
    assert_error(response, 403, "forbidden")
    assert await Ticket.all().count() == 0


@pytest.mark.parametrize("username", ["operador1", "supervisor"])
@pytest.mark.parametrize("method, path, body", PROTECTED[1:])
async def test_staff_of_one_office_cannot_use_desks_of_another(client, username, method, path, body):
    response = await send(client, method, _other_office(path), body, await login(client, username))
    assert_error(response, 403, "forbidden")
    assert await Desk.filter(office__code=OTHER).exclude(status="closed").count() == 0


@pytest.mark.parametrize("username", ["operador1", "supervisor"])
@pytest.mark.parametrize("action", TICKET_ACTIONS)
async def test_staff_of_one_office_cannot_act_on_tickets_of_another(client, username, action):
    admin = await login(client, "admin")
    await issue(client, admin, office=OTHER)
    ticket = await open_and_call(client, admin, "1", office=OTHER)
    response = await client.post(
        f"/api/tickets/{ticket['id']}/{action}", json={"service": "CERT"}, headers=await login(client, username)
    )
    assert_error(response, 403, "forbidden")
    stored = await Ticket.get(public_id=ticket["id"])
    assert stored.status == TicketStatus.CALLED and stored.recall_count == 0
    assert await Ticket.all().count() == 1


async def test_supervisor_may_run_desks_of_own_office(client):
    supervisor = await login(client, "supervisor")
    ticket = await issue(client, supervisor)
    called = await open_and_call(client, supervisor, "3")
    assert called["id"] == ticket["id"]
    response = await client.post(f"/api/tickets/{called['id']}/finish", headers=supervisor)
    assert response.status_code == 200 and response.json()["status"] == "done"


async def test_operator_may_run_any_desk_of_own_office(client):
    op = await login(client, "operador1")
    await issue(client, op)
    assert (await open_and_call(client, op, "5"))["desk"] == "5"


async def test_admin_may_act_in_any_office(client):
    admin = await login(client, "admin")
    for office, desk in ((OTHER, "1"), ("LPZ-TELEFERICO-ROJO", "2"), (OFFICE, "3")):
        ticket = await issue(client, admin, office=office)
        called = await open_and_call(client, admin, desk, office=office)
        assert called["id"] == ticket["id"]
        for action in ("recall", "start", "finish"):
            response = await client.post(f"/api/tickets/{called['id']}/{action}", headers=admin)
            assert response.status_code == 200, response.text
        listing = await client.get(f"/api/offices/{office}/desks", headers=admin)
        assert listing.status_code == 200
        assert (await client.post(f"/api/offices/{office}/desks/{desk}/close", headers=admin)).status_code == 200


async def test_admin_transfer_in_another_office(client):
    admin = await login(client, "admin")
    await issue(client, admin, office=OTHER)
    called = await open_and_call(client, admin, "1", office=OTHER)
    response = await client.post(f"/api/tickets/{called['id']}/transfer", json={"service": "CERT"}, headers=admin)
    assert response.status_code == 200 and response.json()["service"] == "CERT"


async def test_public_endpoints_need_no_token(client):
    ticket = await issue(client, await login(client, "kiosko"))
    for path in ("/api/services", "/api/offices", f"/api/offices/{OFFICE}/board", f"/api/tickets/{ticket['id']}"):
        assert (await client.get(path)).status_code == 200, path


async def test_a_bad_token_on_a_public_endpoint_is_ignored(client):
    response = await client.get(f"/api/offices/{OFFICE}/board", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 200

