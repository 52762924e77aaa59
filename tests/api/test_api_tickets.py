"""Walk-in tickets through the HTTP API: issuing, the public view, the ticket actions
(recall, start, finish, no-show, transfer), multi-step visits, call-next ordering and
the lobby board. Every assertion is on real values, checked through the ORM where the
API does not show them (the in-process client shares the test's database connection)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from tests.conftest import login
from tests.driver import call_next, issue, open_desk
from turnero.core import clock
from turnero.core.models import User
from turnero.demo import FLOW_DESKS
from turnero.queue.models import Desk, Lane, Ticket, TicketCounter, TicketEvent, TicketStatus

OFFICE = "LPZ-PRINCIPAL"
PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]{12,}$")
LA_PAZ = timedelta(hours=-4)


# ---------------------------------------------------------------- helpers


async def act(client, headers, ticket_id, action, **body):
    return await client.post(f"/api/tickets/{ticket_id}/{action}", json=body or None, headers=headers)


async def ok(client, headers, ticket_id, action, **body) -> dict:
    response = await act(client, headers, ticket_id, action, **body)
    assert response.status_code == 200, response.text
    return response.json()


async def public(client, ticket_id) -> dict:
    response = await client.get(f"/api/tickets/{ticket_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def row(ticket_id: str) -> Ticket:
    return await Ticket.get(public_id=ticket_id).prefetch_related("service", "desk", "flow_service")


async def ticket_state(ticket_id: str) -> dict:
    return (
        await Ticket.filter(public_id=ticket_id)
        .values("status", "desk_id", "recall_count", "called_at", "started_at", "finished_at", "service_id")
    )[0]


async def called_at_desk(client, kiosk, op, desk="5", service="CI-RENOV", **fields) -> dict:
    """A fresh ticket, called at `desk` (opened if needed)."""
    ticket = await issue(client, kiosk, service, **fields)
    await open_desk(client, op, desk)
    called = await call_next(client, op, desk)
    assert called["id"] == ticket["id"]
    return called


def offset_of(iso: str) -> timedelta:
    return datetime.fromisoformat(iso).utcoffset()


@pytest.fixture
async def op(client) -> dict:
    return await login(client, "operador1")


# ---------------------------------------------------------------- issuing


async def test_issue_returns_the_documented_shape(client, kiosk):
    ticket = await issue(client, kiosk)
    assert PUBLIC_ID.match(ticket["id"])
    assert ticket["number"] == "C-001"
    assert ticket["service"] == "CI-RENOV"
    assert ticket["priority"] == "regular"
    assert ticket["party_size"] == 1
    assert ticket["status"] == "waiting"
    assert ticket["position"] == 1
    assert isinstance(ticket["estimated_wait_minutes"], int) and ticket["estimated_wait_minutes"] >= 0
    assert ticket["issued_at"].endswith("-04:00")
    assert offset_of(ticket["issued_at"]) == LA_PAZ
    assert abs(datetime.fromisoformat(ticket["issued_at"]) - clock.now()) < timedelta(minutes=1)
    assert ticket["desk"] is None and ticket["called_at"] is None


async def test_numbers_count_up_per_prefix_and_positions_follow(client, kiosk):
    first, second, third = [await issue(client, kiosk) for _ in range(3)]
    other = await issue(client, kiosk, "CERT")
    assert [first["number"], second["number"], third["number"]] == ["C-001", "C-002", "C-003"]
    assert [first["position"], second["position"], third["position"]] == [1, 2, 3]
    assert other["number"] == "D-001" and other["position"] == 1
    assert len({first["id"], second["id"], third["id"], other["id"]}) == 4
    counters = dict(await TicketCounter.all().values_list("prefix", "value"))
    assert counters == {"C": 3, "D": 1}


async def test_wait_estimate_grows_with_position(client, kiosk):
    tickets = [await issue(client, kiosk) for _ in range(4)]
    waits = [t["estimated_wait_minutes"] for t in tickets]
    assert waits == sorted(waits) and waits[-1] > waits[0]


@pytest.mark.parametrize("priority", ["senior", "disability", "pregnant", "child", "chronic", "custody"])
async def test_preferential_priorities_stand_in_the_preferential_lane(client, kiosk, priority):
    ticket = await issue(client, kiosk, priority=priority)
    assert ticket["priority"] == priority
    stored = await row(ticket["id"])
    assert stored.priority == priority and stored.lane == Lane.PREFERENTIAL


async def test_regular_is_the_default_priority(client, kiosk):
    ticket = await issue(client, kiosk)
    assert ticket["priority"] == "regular"
    assert (await row(ticket["id"])).lane == Lane.REGULAR


@pytest.mark.parametrize("party_size", [1, 4, 10])
async def test_party_size_from_one_to_ten_is_kept(client, kiosk, party_size):
    ticket = await issue(client, kiosk, party_size=party_size)
    assert ticket["party_size"] == party_size
    assert (await row(ticket["id"])).party_size == party_size


@pytest.mark.parametrize("party_size", [0, -1, 11, 10**12])
async def test_party_size_outside_one_to_ten_is_422(client, kiosk, party_size):
    response = await client.post(
        f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV", "party_size": party_size}, headers=kiosk
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert "party_size" in response.json()["error"]["message"]
    assert await Ticket.all().count() == 0


@pytest.mark.parametrize("raw", ["71234567", "+591 71234567", "591-7123-4567", "00591 7123 4567", "(+591) 7123.4567"])
async def test_phone_is_stored_in_e164(client, kiosk, raw):
    ticket = await issue(client, kiosk, phone=raw)
    assert (await row(ticket["id"])).phone == "+59171234567"
    assert "phone" not in ticket
    assert "1234567" not in str(ticket)


async def test_empty_phone_means_no_phone(client, kiosk):
    ticket = await issue(client, kiosk, phone="")
    assert (await row(ticket["id"])).phone is None


@pytest.mark.parametrize("raw", ["12345", "81234567", "+54 91123456789", "7123456", "712345678", "telefono"])
async def test_phone_that_is_not_a_bolivian_mobile_is_422(client, kiosk, raw):
    response = await client.post(
        f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV", "phone": raw}, headers=kiosk
    )
    assert response.status_code == 422
    assert "phone" in response.json()["error"]["message"]
    assert await Ticket.all().count() == 0


async def test_multi_step_service_queues_first_at_its_first_step(client, kiosk):
    ticket = await issue(client, kiosk, "CI-NUEVO")
    assert ticket["number"] == "N-001"
    assert ticket["service"] == "DESCARTE"
    assert ticket["status"] == "waiting" and ticket["position"] == 1
    stored = await row(ticket["id"])
    assert stored.flow_service.code == "CI-NUEVO" and stored.step_index == 0


async def test_internal_step_cannot_be_issued_as_walk_in(client, kiosk):
    response = await client.post(f"/api/offices/{OFFICE}/tickets", json={"service": "DESCARTE"}, headers=kiosk)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "walk_in_not_allowed"
    assert await Ticket.all().count() == 0


async def test_appointment_only_exam_cannot_be_issued_as_walk_in(client):
    admin = await login(client, "admin")
    response = await client.post(
        "/api/offices/LPZ-SEGELIC/tickets", json={"service": "EXAM-TEORICO"}, headers=admin
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "walk_in_not_allowed"


async def test_service_the_office_does_not_offer_is_422(client, kiosk):
    response = await client.post(f"/api/offices/{OFFICE}/tickets", json={"service": "LIC-NUEVA"}, headers=kiosk)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "service_not_offered"
    assert "LIC-NUEVA" in response.json()["error"]["message"]
    assert await Ticket.all().count() == 0 and await TicketCounter.all().count() == 0


async def test_unknown_service_is_404(client, kiosk):
    response = await client.post(f"/api/offices/{OFFICE}/tickets", json={"service": "NOPE"}, headers=kiosk)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "service_not_found"
    assert await Ticket.all().count() == 0


async def test_issuing_writes_an_issued_audit_event(client, kiosk):
    ticket = await issue(client, kiosk, "CI-NUEVO", priority="senior")
    stored = await row(ticket["id"])
    events = await TicketEvent.filter(ticket_id=stored.id).prefetch_related("user")
    assert [e.kind for e in events] == ["issued"]
    assert events[0].user.username == "kiosko"
    assert events[0].data == {"service": "DESCARTE", "tramite": "CI-NUEVO", "priority": "senior"}


@pytest.mark.parametrize("username", ["operador1", "supervisor", "admin"])
async def test_staff_may_issue_tickets_too(client, username):
    ticket = await issue(client, await login(client, username))
    assert ticket["number"] == "C-001"


# ---------------------------------------------------------------- public view


async def test_public_view_needs_no_token_and_matches_the_issued_ticket(client, kiosk):
    ticket = await issue(client, kiosk, party_size=2)
    view = await public(client, ticket["id"])
    for key in ("id", "number", "service", "priority", "status", "position", "estimated_wait_minutes", "issued_at"):
        assert view[key] == ticket[key], key
    assert view["party_size"] == 2 and view["desk"] is None


async def test_public_view_never_shows_the_phone(client, kiosk, op):
    ticket = await issue(client, kiosk, phone="71234567")
    waiting = await client.get(f"/api/tickets/{ticket['id']}")
    await open_desk(client, op, "5")
    await call_next(client, op, "5")
    called = await client.get(f"/api/tickets/{ticket['id']}")
    for response in (waiting, called):
        assert "phone" not in response.json()
        assert "71234567" not in response.text and "+591" not in response.text


async def test_positions_match_the_order_desks_will_call(client, kiosk, op):
    plan = ["regular", "regular", "senior", "child", "pregnant"]
    tickets = []
    for priority in plan:
        tickets.append(await issue(client, kiosk, priority=priority))
        clock.advance(timedelta(seconds=10))
    positions = {t["number"]: (await public(client, t["id"]))["position"] for t in tickets}
    await open_desk(client, op, "5")
    order = await _serve_all(client, op, "5")
    assert order == ["C-003", "C-004", "C-001", "C-005", "C-002"]
    assert sorted(positions, key=positions.get) == order
    assert sorted(positions.values()) == [1, 2, 3, 4, 5]


async def test_public_view_position_moves_up_as_others_are_called(client, kiosk, op):
    tickets = [await issue(client, kiosk) for _ in range(3)]
    last = tickets[-1]["id"]
    assert (await public(client, last))["position"] == 3
    await open_desk(client, op, "5")
    await call_next(client, op, "5")
    assert (await public(client, last))["position"] == 2
    await ok(client, op, tickets[0]["id"], "finish")
    await call_next(client, op, "5")
    assert (await public(client, last))["position"] == 1


async def test_public_view_shows_the_desk_once_called(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op, desk="5")
    view = await public(client, called["id"])
    assert view["status"] == "called" and view["desk"] == "5"
    assert view["position"] is None and view["estimated_wait_minutes"] is None
    assert offset_of(view["called_at"]) == LA_PAZ


async def test_public_view_of_a_transferred_ticket_shows_the_new_ticket(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    moved = await ok(client, op, called["id"], "transfer", service="CERT")
    view = await public(client, called["id"])
    assert view["id"] == moved["id"]
    assert view["transferred_from"] == called["id"]
    assert view["service"] == "CERT" and view["status"] == "waiting" and view["number"] == "C-001"


async def test_public_view_of_unknown_ticket_is_404(client):
    response = await client.get("/api/tickets/doesnotexist12345")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ticket_not_found"


# ---------------------------------------------------------------- recall, start, finish, no-show


async def test_recall_increments_the_count_and_keeps_the_ticket_called(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    first = await ok(client, op, called["id"], "recall")
    second = await ok(client, op, called["id"], "recall")
    assert (first["recall_count"], second["recall_count"]) == (1, 2)
    assert second["status"] == "called" and second["desk"] == "5"
    stored = await row(called["id"])
    assert stored.recall_count == 2 and stored.status == TicketStatus.CALLED
    kinds = await TicketEvent.filter(ticket_id=stored.id).order_by("id").values_list("kind", flat=True)
    assert kinds == ["issued", "called", "recalled", "recalled"]


async def test_start_moves_a_called_ticket_to_serving(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    served = await ok(client, op, called["id"], "start")
    assert served["status"] == "serving" and served["desk"] == "5"
    stored = await row(called["id"])
    assert stored.status == TicketStatus.SERVING and stored.started_at is not None


async def test_finish_after_start_is_done(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    await ok(client, op, called["id"], "start")
    done = await ok(client, op, called["id"], "finish")
    assert done["status"] == "done" and done["next"] is None
    stored = await row(called["id"])
    assert stored.status == TicketStatus.DONE and stored.finished_at >= stored.started_at


async def test_finish_straight_from_called_is_done(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    done = await ok(client, op, called["id"], "finish")
    assert done["status"] == "done"
    stored = await row(called["id"])
    assert stored.started_at == stored.called_at


async def test_no_show_from_called(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    gone = await ok(client, op, called["id"], "no-show")
    assert gone["status"] == "no_show"
    assert (await row(called["id"])).status == TicketStatus.NO_SHOW


async def test_desk_is_free_again_after_no_show(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    nxt = await issue(client, kiosk)
    await ok(client, op, called["id"], "no-show")
    assert (await call_next(client, op, "5"))["id"] == nxt["id"]


async def test_desk_is_free_again_after_finish(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    nxt = await issue(client, kiosk)
    await ok(client, op, called["id"], "finish")
    assert (await call_next(client, op, "5"))["id"] == nxt["id"]


async def _ticket_in(client, kiosk, op, state: str) -> str:
    """A ticket id in `state` (waiting, called, serving, done, no_show)."""
    if state == "waiting":
        return (await issue(client, kiosk))["id"]
    called = await called_at_desk(client, kiosk, op)
    if state == "serving":
        await ok(client, op, called["id"], "start")
    elif state == "done":
        await ok(client, op, called["id"], "finish")
    elif state == "no_show":
        await ok(client, op, called["id"], "no-show")
    return called["id"]


INVALID = [
    ("waiting", "recall"), ("waiting", "start"), ("waiting", "finish"), ("waiting", "no-show"),
    ("serving", "recall"), ("serving", "start"), ("serving", "no-show"),
    ("done", "recall"), ("done", "start"), ("done", "finish"), ("done", "no-show"),
    ("no_show", "recall"), ("no_show", "start"), ("no_show", "finish"), ("no_show", "no-show"),
]


@pytest.mark.parametrize("state, action", INVALID)
async def test_invalid_transition_is_409_and_changes_nothing(client, kiosk, op, state, action):
    ticket_id = await _ticket_in(client, kiosk, op, state)
    before = await ticket_state(ticket_id)
    events_before = await TicketEvent.all().count()
    tickets_before = await Ticket.all().count()
    response = await act(client, op, ticket_id, action)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["message"].startswith("No se puede") and "C-001" in error["message"]
    assert await ticket_state(ticket_id) == before
    assert await TicketEvent.all().count() == events_before
    assert await Ticket.all().count() == tickets_before


@pytest.mark.parametrize("state", ["waiting", "done", "no_show"])
async def test_transfer_from_a_state_not_at_a_desk_is_409_and_changes_nothing(client, kiosk, op, state):
    ticket_id = await _ticket_in(client, kiosk, op, state)
    before = await ticket_state(ticket_id)
    tickets_before = await Ticket.all().count()
    response = await act(client, op, ticket_id, "transfer", service="CERT")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
    assert await ticket_state(ticket_id) == before
    assert await Ticket.all().count() == tickets_before


@pytest.mark.parametrize("action", ["recall", "start", "finish", "no-show"])
async def test_actions_on_an_unknown_ticket_are_404(client, op, action):
    response = await act(client, op, "doesnotexist12345", action)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ticket_not_found"


# ---------------------------------------------------------------- transfer


async def test_transfer_keeps_number_and_arrival_and_returns_the_new_waiting_ticket(client, kiosk, op):
    original = await issue(client, kiosk)
    clock.advance(timedelta(minutes=5))
    await open_desk(client, op, "5")
    called = await call_next(client, op, "5")
    await ok(client, op, called["id"], "start")
    clock.advance(timedelta(minutes=5))
    moved = await ok(client, op, called["id"], "transfer", service="CERT")
    assert moved["id"] != original["id"] and PUBLIC_ID.match(moved["id"])
    assert moved["number"] == "C-001"
    assert moved["service"] == "CERT"
    assert moved["status"] == "waiting" and moved["position"] == 1 and moved["desk"] is None
    assert moved["arrived_at"] == original["issued_at"]
    old = await row(original["id"])
    assert old.status == TicketStatus.TRANSFERRED and old.finished_at is not None
    new = await row(moved["id"])
    assert new.visit_id == old.visit_id and new.hop == 1 and new.previous_id == old.id
    assert new.arrived_at == old.arrived_at
    assert await TicketEvent.filter(ticket_id=old.id, kind="transferred").count() == 1


async def test_transferred_ticket_keeps_its_place_ahead_of_later_arrivals(client, kiosk, op):
    op = await login(client, "supervisor")  # walks between desks: an operator holds one desk
    moved_later = await issue(client, kiosk)  # C-001 arrives first
    clock.advance(timedelta(minutes=1))
    cert = await issue(client, kiosk, "CERT")  # D-001 arrives second
    await open_desk(client, op, "5")
    called = await call_next(client, op, "5")
    assert called["id"] == moved_later["id"]
    moved = await ok(client, op, called["id"], "transfer", service="CERT")
    assert moved["position"] == 1
    assert (await public(client, cert["id"]))["position"] == 2
    await open_desk(client, op, "1")  # DESCARTE primary, CERT secondary
    assert (await call_next(client, op, "1"))["id"] == moved["id"]


async def test_transfer_frees_the_desk(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    nxt = await issue(client, kiosk)
    await ok(client, op, called["id"], "transfer", service="CERT")
    assert (await call_next(client, op, "5"))["id"] == nxt["id"]


async def test_transfer_to_a_multi_step_service_queues_at_its_first_step(client, kiosk, op):
    """No desk serves CI-NUEVO itself: like a walk-in, the visit must start at DESCARTE
    and then go through the remaining steps."""
    op = await login(client, "supervisor")  # walks between desks: an operator holds one desk
    called = await called_at_desk(client, kiosk, op)
    moved = await ok(client, op, called["id"], "transfer", service="CI-NUEVO")
    assert moved["service"] == "DESCARTE" and moved["number"] == "C-001" and moved["status"] == "waiting"
    assert moved["arrived_at"] == called["arrived_at"]
    await open_desk(client, op, "1")
    assert (await call_next(client, op, "1"))["id"] == moved["id"]
    finished = await ok(client, op, moved["id"], "finish")
    assert finished["status"] == "transferred" and finished["next"]["service"] == "CAPTURA"


async def test_transfer_to_the_same_service_is_422_and_changes_nothing(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    before = await ticket_state(called["id"])
    response = await act(client, op, called["id"], "transfer", service="CI-RENOV")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "same_service"
    assert await ticket_state(called["id"]) == before
    assert await Ticket.all().count() == 1


async def test_transfer_to_unknown_service_is_404(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    response = await act(client, op, called["id"], "transfer", service="NOPE")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "service_not_found"
    assert (await row(called["id"])).status == TicketStatus.CALLED


async def test_transfer_to_a_service_the_office_does_not_offer_is_422(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    response = await act(client, op, called["id"], "transfer", service="PASAPORTE")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "service_not_offered"
    assert (await row(called["id"])).status == TicketStatus.CALLED


async def test_transfer_without_a_service_is_422(client, kiosk, op):
    called = await called_at_desk(client, kiosk, op)
    response = await act(client, op, called["id"], "transfer")
    assert response.status_code == 422
    assert "service" in response.json()["error"]["message"]
    assert (await row(called["id"])).status == TicketStatus.CALLED


# ---------------------------------------------------------------- multi-step visits


async def test_multi_step_visit_goes_through_each_step_and_ends_done(client, kiosk, op):
    op = await login(client, "supervisor")  # walks between desks: an operator holds one desk
    ticket = await issue(client, kiosk, "CI-NUEVO")
    steps = [("1", "DESCARTE", "CAPTURA"), ("6", "CAPTURA", "ENTREGA"), ("10", "ENTREGA", None)]
    current = ticket
    for desk, service, next_service in steps:
        await open_desk(client, op, desk)
        called = await call_next(client, op, desk)
        assert called["id"] == current["id"] and called["service"] == service and called["number"] == "N-001"
        finished = await ok(client, op, called["id"], "finish")
        if next_service is None:
            assert finished["status"] == "done" and finished["next"] is None
        else:
            assert finished["status"] == "transferred"
            nxt = finished["next"]
            assert nxt["service"] == next_service and nxt["status"] == "waiting"
            assert nxt["number"] == "N-001" and nxt["arrived_at"] == ticket["issued_at"]
            current = nxt
    hops = await Ticket.filter(visit_id=ticket["id"]).order_by("hop").values_list("service__code", "status", "step_index")
    assert hops == [
        ("DESCARTE", TicketStatus.TRANSFERRED, 0),
        ("CAPTURA", TicketStatus.TRANSFERRED, 1),
        ("ENTREGA", TicketStatus.DONE, 2),
    ]
    # The first id the citizen got still leads to where the visit is.
    view = await public(client, ticket["id"])
    assert view["service"] == "ENTREGA" and view["status"] == "done" and view["transferred_from"] == ticket["id"]


async def test_public_view_follows_a_visit_to_its_next_step(client, kiosk, op):
    ticket = await issue(client, kiosk, "CI-NUEVO")
    await open_desk(client, op, "1")
    await call_next(client, op, "1")
    finished = await ok(client, op, ticket["id"], "finish")
    view = await public(client, ticket["id"])
    assert view["id"] == finished["next"]["id"]
    assert view["service"] == "CAPTURA" and view["status"] == "waiting" and view["position"] == 1


# ---------------------------------------------------------------- call-next ordering


async def _serve_all(client, op, desk) -> list[str]:
    """Call and finish at `desk` until nothing waits; the numbers called, in order."""
    numbers = []
    while True:
        response = await client.post(f"/api/offices/{OFFICE}/desks/{desk}/call-next", headers=op)
        if response.status_code == 204:
            return numbers
        assert response.status_code == 200, response.text
        numbers.append(response.json()["number"])
        await ok(client, op, response.json()["id"], "finish")


async def test_call_next_interleaves_two_preferential_then_one_regular(client, kiosk, op):
    plan = ["regular", "regular", "senior", "pregnant", "child", "regular", "disability"]
    for priority in plan:
        await issue(client, kiosk, priority=priority)
        clock.advance(timedelta(seconds=30))
    await open_desk(client, op, "5")
    # C-001 R, C-002 R, C-003 P, C-004 P, C-005 P, C-006 R, C-007 P
    assert await _serve_all(client, op, "5") == [
        "C-003", "C-004", "C-001", "C-005", "C-007", "C-002", "C-006",
    ]


async def test_only_preferential_or_only_regular_go_by_arrival(client, kiosk, op):
    for _ in range(3):
        await issue(client, kiosk, priority="senior")
    await open_desk(client, op, "5")
    assert await _serve_all(client, op, "5") == ["C-001", "C-002", "C-003"]
    for _ in range(2):
        await issue(client, kiosk)
    assert await _serve_all(client, op, "5") == ["C-004", "C-005"]


async def test_desk_calls_its_primary_service_before_its_secondary(client, kiosk, op):
    cert = await issue(client, kiosk, "CERT")  # secondary at desk 5, arrived first
    clock.advance(timedelta(minutes=1))
    renov = await issue(client, kiosk, "CI-RENOV")  # primary at desk 5
    await open_desk(client, op, "5")
    assert (await call_next(client, op, "5"))["id"] == renov["id"]
    await ok(client, op, renov["id"], "finish")
    assert (await call_next(client, op, "5"))["id"] == cert["id"]


async def test_desk_3_serves_ci_renov_before_captura(client, kiosk, op):
    op = await login(client, "supervisor")  # walks between desks: an operator holds one desk
    visit = await issue(client, kiosk, "CI-NUEVO")
    await open_desk(client, op, "1")
    await call_next(client, op, "1")
    captura = (await ok(client, op, visit["id"], "finish"))["next"]
    clock.advance(timedelta(minutes=1))
    renov = await issue(client, kiosk)
    await open_desk(client, op, "3")
    assert (await call_next(client, op, "3"))["id"] == renov["id"]
    await ok(client, op, renov["id"], "finish")
    assert (await call_next(client, op, "3"))["id"] == captura["id"]


async def test_call_next_only_calls_services_the_desk_serves(client, kiosk, op):
    op = await login(client, "supervisor")  # walks between desks: an operator holds one desk
    await issue(client, kiosk, "SANEAMIENTO")
    await open_desk(client, op, "5")
    response = await client.post(f"/api/offices/{OFFICE}/desks/5/call-next", headers=op)
    assert response.status_code == 204
    await open_desk(client, op, "9")
    assert (await call_next(client, op, "9"))["number"] == "S-001"


# ---------------------------------------------------------------- board


async def test_board_lists_calls_newest_first(client, kiosk, op):
    op = await login(client, "supervisor")  # walks between desks: an operator holds one desk
    first = await issue(client, kiosk)
    second = await issue(client, kiosk)
    await open_desk(client, op, "3")
    await open_desk(client, op, "4")
    await call_next(client, op, "3")
    clock.advance(timedelta(seconds=20))
    await call_next(client, op, "4")
    board = (await client.get(f"/api/offices/{OFFICE}/board")).json()
    assert board["office"] == OFFICE
    calls = [(c["ticket"], c["service"], c["desk"]) for c in board["calls"]]
    assert calls == [(second["number"], "CI-RENOV", "4"), (first["number"], "CI-RENOV", "3")]
    assert all(offset_of(c["called_at"]) == LA_PAZ for c in board["calls"])
    assert board["calls"][0]["called_at"] > board["calls"][1]["called_at"]


async def test_board_counts_waiting_tickets_per_service(client, kiosk, op):
    for service in ("CI-RENOV", "CI-RENOV", "CERT", "CI-NUEVO"):
        await issue(client, kiosk, service)
    board = (await client.get(f"/api/offices/{OFFICE}/board")).json()
    assert board["waiting"]["CI-RENOV"] == 2
    assert board["waiting"]["CERT"] == 1
    assert board["waiting"]["DESCARTE"] == 1
    assert board["waiting"]["SANEAMIENTO"] == 0
    assert set(board["waiting"]) == {
        "CI-RENOV", "CI-NUEVO", "CERT", "SANEAMIENTO", "CIE", "DESCARTE", "CAPTURA", "ENTREGA",
    }
    await open_desk(client, op, "5")
    await call_next(client, op, "5")
    board = (await client.get(f"/api/offices/{OFFICE}/board")).json()
    assert board["waiting"]["CI-RENOV"] == 1


async def test_board_shows_desks_and_what_they_serve(client, kiosk, op):
    ticket = await issue(client, kiosk)
    await open_desk(client, op, "5")
    await call_next(client, op, "5")
    board = (await client.get(f"/api/offices/{OFFICE}/board")).json()
    desks = {d["name"]: d for d in board["desks"]}
    assert set(desks) == set(FLOW_DESKS)
    assert desks["5"] == {"name": "5", "status": "open", "serving": ticket["number"]}
    assert desks["1"] == {"name": "1", "status": "closed", "serving": None}


async def test_board_has_no_personal_data(client, kiosk, op):
    await issue(client, kiosk, phone="71234567")
    await issue(client, kiosk, phone="+591 69876543")
    await open_desk(client, op, "5")
    await call_next(client, op, "5")
    response = await client.get(f"/api/offices/{OFFICE}/board")
    text = response.text
    for secret in ("71234567", "69876543", "+591", "phone"):
        assert secret not in text
    names = await User.all().values_list("username", "full_name")
    for username, full_name in names:  # as words: "admin" is in «resolución administrativa»
        assert not re.search(rf"\b{re.escape(username)}\b", text)
        assert not full_name or not re.search(rf"\b{re.escape(full_name)}\b", text)


async def test_board_is_public_and_unknown_office_is_404(client):
    assert (await client.get(f"/api/offices/{OFFICE}/board")).status_code == 200
    response = await client.get("/api/offices/NOPE/board")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "office_not_found"


async def test_board_only_shows_calls_of_its_own_office(client, kiosk, op):
    await issue(client, kiosk)
    await open_desk(client, op, "5")
    await call_next(client, op, "5")
    board = (await client.get("/api/offices/LPZ-ZONA-SUR/board")).json()
    assert board["calls"] == [] and board["waiting"]["CI-RENOV"] == 0
    assert await Desk.filter(office__code="LPZ-ZONA-SUR", status="open").count() == 0
