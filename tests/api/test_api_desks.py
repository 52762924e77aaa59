"""Operator desks through the HTTP API: the desk list, open/pause/close, call-next and
calling a particular ticket, with every conflict the desk can be in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import assert_error, login
from tests.driver import call_next, issue
from turnero.core import clock
from turnero.demo import FLOW_DESKS
from turnero.queue.models import Desk, DeskEvent, Ticket, TicketEvent, TicketStatus

OFFICE = "LPZ-PRINCIPAL"


# ---------------------------------------------------------------- helpers


async def desk_action(client, headers, desk, action, office=OFFICE, **kw):
    return await client.post(f"/api/offices/{office}/desks/{desk}/{action}", headers=headers, **kw)


async def set_status(client, headers, desk, action) -> dict:
    response = await desk_action(client, headers, desk, action)
    assert response.status_code == 200, response.text
    return response.json()


async def call(client, headers, desk, ref):
    return await desk_action(client, headers, desk, "call", json={"ticket": ref})


async def ticket_action(client, headers, ticket_id, action) -> dict:
    response = await client.post(f"/api/tickets/{ticket_id}/{action}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def desks_by_name(client, headers, office=OFFICE) -> dict[str, dict]:
    response = await client.get(f"/api/offices/{office}/desks", headers=headers)
    assert response.status_code == 200, response.text
    return {d["name"]: d for d in response.json()}


async def desk_row(name: str, office=OFFICE) -> Desk:
    return await Desk.get(office__code=office, name=name)


@pytest.fixture
async def op(client) -> dict:
    return await login(client, "operador3")


# ---------------------------------------------------------------- list


async def test_desk_list_shows_every_desk_with_its_services(client, op):
    desks = await desks_by_name(client, op)
    assert set(desks) == set(FLOW_DESKS)
    assert desks["3"]["services"] == ["CI-RENOV", "CAPTURA"]  # primary first
    assert desks["3"]["service_weights"] == {"CI-RENOV": 1, "CAPTURA": 2}
    assert desks["9"]["services"] == ["SANEAMIENTO"]
    for desk in desks.values():
        assert desk["status"] == "closed" and desk["operator"] is None and desk["serving"] is None


async def test_desk_list_shows_status_operator_and_the_ticket_served(client, kiosk, op):
    ticket = await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    await set_status(client, await login(client, "operador4"), "4", "open")
    await set_status(client, op, "4", "pause")
    await call_next(client, op, "3")
    desks = await desks_by_name(client, op)
    assert desks["3"] == {
        "name": "3", "status": "open", "services": ["CI-RENOV", "CAPTURA"],
        "service_weights": {"CI-RENOV": 1, "CAPTURA": 2}, "operator": "operador3",
        "serving": ticket["number"],
    }
    assert desks["4"]["status"] == "paused" and desks["4"]["operator"] == "operador4"
    assert desks["4"]["serving"] is None


async def test_desk_list_is_per_office(client):
    admin = await login(client, "admin")
    desks = await desks_by_name(client, admin, "LPZ-ZONA-SUR")
    assert set(desks) == {"1", "2", "3", "4", "L1"}  # L1: licences (one of the seeds' 7 licence offices)
    assert desks["4"]["services"][0] == "SANEAMIENTO" and set(desks["4"]["services"]) == {"SANEAMIENTO", "SANEAMIENTO-RA", "CERT"}


async def test_desk_list_of_unknown_office_is_404(client, op):
    assert_error(await client.get("/api/offices/NOPE/desks", headers=op), 404, "office_not_found")


# ---------------------------------------------------------------- open / pause / close


async def test_open_pause_and_close_change_the_status_and_are_audited(client, op):
    opened = await set_status(client, op, "3", "open")
    assert opened["name"] == "3" and opened["status"] == "open" and opened["operator"] == "operador3"
    paused = await set_status(client, op, "3", "pause")
    assert paused["status"] == "paused" and paused["operator"] == "operador3"
    reopened = await set_status(client, op, "3", "open")
    assert reopened["status"] == "open"
    closed = await set_status(client, op, "3", "close")
    assert closed["status"] == "closed" and closed["operator"] is None
    desk = await desk_row("3")
    assert desk.status == "closed" and desk.operator_id is None and desk.status_changed_at is not None
    kinds = await DeskEvent.filter(desk_id=desk.id).order_by("id").values_list("kind", flat=True)
    assert kinds == ["open", "paused", "open", "closed"]


async def test_pausing_a_closed_desk_is_409(client, op):
    response = await desk_action(client, op, "3", "pause")
    assert_error(response, 409, "desk_not_open")
    assert (await desk_row("3")).status == "closed"
    assert await DeskEvent.all().count() == 0


async def test_closing_while_a_ticket_is_called_is_409(client, kiosk, op):
    await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    await call_next(client, op, "3")
    assert_error(await desk_action(client, op, "3", "close"), 409, "desk_busy")
    assert (await desk_row("3")).status == "open"


async def test_closing_while_serving_is_409_and_allowed_after_finish(client, kiosk, op):
    await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    called = await call_next(client, op, "3")
    await ticket_action(client, op, called["id"], "start")
    response = await desk_action(client, op, "3", "close")
    assert_error(response, 409, "desk_busy")
    desk = await desk_row("3")
    assert desk.status == "open" and desk.operator_id is not None
    await ticket_action(client, op, called["id"], "finish")
    assert (await set_status(client, op, "3", "close"))["status"] == "closed"


@pytest.mark.parametrize("action", ["open", "pause", "close", "call-next"])
async def test_unknown_desk_is_404(client, op, action):
    assert_error(await desk_action(client, op, "99", action), 404, "desk_not_found")


async def test_desk_of_another_office_by_name_is_not_found_here(client):
    admin = await login(client, "admin")
    # LPZ-ZONA-SUR has desks 1..4 only.
    assert_error(await desk_action(client, admin, "9", "open", office="LPZ-ZONA-SUR"), 404, "desk_not_found")


# ---------------------------------------------------------------- call-next


async def test_call_next_returns_the_called_ticket(client, kiosk, op):
    ticket = await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    called = await call_next(client, op, "3")
    assert called["id"] == ticket["id"] and called["number"] == "C-001"
    assert called["status"] == "called" and called["desk"] == "3"
    assert called["called_at"].endswith("-04:00")
    stored = await Ticket.get(public_id=ticket["id"]).prefetch_related("desk")
    assert stored.status == TicketStatus.CALLED and stored.desk.name == "3" and stored.called_at is not None
    event = await TicketEvent.get(ticket_id=stored.id, kind="called").prefetch_related("desk", "user")
    assert event.desk.name == "3" and event.user.username == "operador3"


async def test_call_next_on_a_closed_desk_is_409(client, kiosk, op):
    await issue(client, kiosk)
    assert_error(await desk_action(client, op, "3", "call-next"), 409, "desk_not_open")
    assert await Ticket.filter(status=TicketStatus.WAITING).count() == 1


async def test_call_next_on_a_paused_desk_is_409(client, kiosk, op):
    await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    await set_status(client, op, "3", "pause")
    assert_error(await desk_action(client, op, "3", "call-next"), 409, "desk_not_open")
    assert await Ticket.filter(status=TicketStatus.WAITING).count() == 1


@pytest.mark.parametrize("serving", [False, True])
async def test_call_next_while_the_desk_has_a_ticket_is_409(client, kiosk, op, serving):
    await issue(client, kiosk)
    second = await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    called = await call_next(client, op, "3")
    if serving:
        await ticket_action(client, op, called["id"], "start")
    response = await desk_action(client, op, "3", "call-next")
    assert_error(response, 409, "desk_busy")
    assert "ventanilla 3" in response.json()["error"]["message"]
    stored = await Ticket.get(public_id=second["id"])
    assert stored.status == TicketStatus.WAITING and stored.desk_id is None


async def test_call_next_with_nothing_waiting_is_204_with_an_empty_body(client, op):
    await set_status(client, op, "3", "open")
    response = await desk_action(client, op, "3", "call-next")
    assert response.status_code == 204
    assert response.content == b""
    assert await TicketEvent.all().count() == 0


async def test_call_next_with_only_other_services_waiting_is_204(client, kiosk, op):
    await issue(client, kiosk, "SANEAMIENTO")
    await set_status(client, op, "3", "open")
    assert (await desk_action(client, op, "3", "call-next")).status_code == 204
    assert await Ticket.filter(status=TicketStatus.WAITING).count() == 1


async def test_two_desks_never_get_the_same_ticket(client, kiosk, op):
    ticket = await issue(client, kiosk)
    other = await login(client, "operador4")
    await set_status(client, op, "3", "open")
    await set_status(client, other, "4", "open")
    assert (await call_next(client, op, "3"))["id"] == ticket["id"]
    assert (await desk_action(client, other, "4", "call-next")).status_code == 204


async def test_call_next_goes_by_arrival_within_a_lane(client, kiosk, op):
    tickets = [await issue(client, kiosk) for _ in range(3)]
    await set_status(client, op, "3", "open")
    for expected in tickets:
        called = await call_next(client, op, "3")
        assert called["number"] == expected["number"]
        await ticket_action(client, op, called["id"], "finish")


async def test_a_regular_ticket_waiting_past_the_limit_goes_first(client, kiosk, op):
    old = await issue(client, kiosk)
    clock.advance(timedelta(minutes=61))
    await issue(client, kiosk, priority="senior")
    await set_status(client, op, "3", "open")
    assert (await call_next(client, op, "3"))["id"] == old["id"]


# ---------------------------------------------------------------- call a particular ticket


async def test_call_a_ticket_by_number_out_of_order(client, kiosk, op):
    first = await issue(client, kiosk)
    second = await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    response = await call(client, op, "3", "C-002")
    assert response.status_code == 200, response.text
    called = response.json()
    assert called["id"] == second["id"] and called["status"] == "called" and called["desk"] == "3"
    stored = await Ticket.get(public_id=second["id"])
    assert await TicketEvent.filter(ticket_id=stored.id, kind="called_out_of_order").count() == 1
    assert (await Ticket.get(public_id=first["id"])).status == TicketStatus.WAITING


async def test_call_a_ticket_by_lowercase_number(client, kiosk, op):
    await issue(client, kiosk)
    second = await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    response = await call(client, op, "3", "c-002")
    assert response.status_code == 200 and response.json()["id"] == second["id"]


async def test_call_a_ticket_by_id(client, kiosk, op):
    await issue(client, kiosk)
    second = await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    response = await call(client, op, "3", second["id"])
    assert response.status_code == 200 and response.json()["number"] == "C-002"


async def test_call_a_ticket_of_a_service_the_desk_does_not_list(client, kiosk, op):
    """Out of order means out of order: the operator chose it on purpose."""
    await issue(client, kiosk, "SANEAMIENTO")
    await set_status(client, op, "3", "open")
    response = await call(client, op, "3", "S-001")
    assert response.status_code == 200 and response.json()["desk"] == "3"


async def test_calling_a_ticket_that_is_not_waiting_is_409(client, kiosk, op):
    ticket = await issue(client, kiosk)
    other = await login(client, "operador4")
    await set_status(client, op, "3", "open")
    await set_status(client, other, "4", "open")
    await call_next(client, op, "3")
    response = await call(client, other, "4", "C-001")
    assert_error(response, 409, "ticket_not_callable")
    stored = await Ticket.get(public_id=ticket["id"]).prefetch_related("desk")
    assert stored.status == TicketStatus.CALLED and stored.desk.name == "3"


async def test_calling_a_finished_ticket_is_409(client, kiosk, op):
    ticket = await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    await call_next(client, op, "3")
    await ticket_action(client, op, ticket["id"], "finish")
    assert_error(await call(client, op, "3", ticket["id"]), 409, "ticket_not_callable")
    assert (await Ticket.get(public_id=ticket["id"])).status == TicketStatus.DONE


async def test_calling_a_particular_ticket_while_busy_is_409(client, kiosk, op):
    await issue(client, kiosk)
    second = await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    await call_next(client, op, "3")
    assert_error(await call(client, op, "3", "C-002"), 409, "desk_busy")
    assert (await Ticket.get(public_id=second["id"])).status == TicketStatus.WAITING


async def test_calling_a_particular_ticket_on_a_closed_desk_is_409(client, kiosk, op):
    ticket = await issue(client, kiosk)
    assert_error(await call(client, op, "3", "C-001"), 409, "desk_not_open")
    assert (await Ticket.get(public_id=ticket["id"])).status == TicketStatus.WAITING


async def test_calling_an_unknown_ticket_is_404(client, op):
    await set_status(client, op, "3", "open")
    assert_error(await call(client, op, "3", "C-999"), 404, "ticket_not_found")
    assert_error(await call(client, op, "3", "zzzzzzzzzzzzzzzz"), 404, "ticket_not_found")


@pytest.mark.parametrize("ref", ["C-00000000000001", "C-000000000000001", "Z" * 33, "Z" * 40])
async def test_calling_by_a_reference_longer_than_any_number_or_id_is_404(client, kiosk, op, ref):
    """Up to 40 characters pass validation; longer than a number (16) or an id (32)
    cannot match anything and must be a 404, not an error inside the ORM."""
    await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    assert_error(await call(client, op, "3", ref), 404, "ticket_not_found")
    assert await Ticket.filter(status=TicketStatus.WAITING).count() == 1


async def test_calling_a_ticket_of_another_office_is_404(client, kiosk, op):
    admin = await login(client, "admin")
    elsewhere = await issue(client, admin, office="LPZ-ZONA-SUR")
    await set_status(client, op, "3", "open")
    assert_error(await call(client, op, "3", elsewhere["id"]), 404, "ticket_not_found")
    assert (await Ticket.get(public_id=elsewhere["id"])).status == TicketStatus.WAITING


async def test_call_at_unknown_desk_is_404(client, kiosk, op):
    await issue(client, kiosk)
    assert_error(await call(client, op, "99", "C-001"), 404, "desk_not_found")


@pytest.mark.parametrize("body", [{}, {"ticket": ""}, {"ticket": "   "}, {"ticket": 2}, {"ticket": None}, {"ticket": "x" * 41}])
async def test_call_with_a_bad_ticket_reference_is_422(client, kiosk, op, body):
    await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    response = await desk_action(client, op, "3", "call", json=body)
    assert_error(response, 422, "validation_error")
    assert await Ticket.filter(status=TicketStatus.WAITING).count() == 1


async def test_number_of_a_transferred_ticket_calls_its_current_hop(client, kiosk, op):
    op = await login(client, "supervisor")  # walks between desks: an operator holds one desk
    await issue(client, kiosk)
    await set_status(client, op, "3", "open")
    called = await call_next(client, op, "3")
    moved = (await client.post(f"/api/tickets/{called['id']}/transfer", json={"service": "CERT"}, headers=op)).json()
    await set_status(client, op, "5", "open")
    response = await call(client, op, "5", "C-001")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == moved["id"] and response.json()["service"] == "CERT"
