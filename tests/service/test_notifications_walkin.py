"""Walk-in messages: "es su turno: ventanilla N" when a ticket with a phone is called,
"faltan N turnos" once when it gets near, nothing for tickets without a phone, and
phones never on the public board."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from tests.conftest import login
from tests.driver import issue_in
from turnero.core import clock, wait_words
from turnero.core.auth import Principal
from turnero.core.models import Office, Role, User
from turnero.notifications.dispatcher import dispatch_due
from turnero.notifications.gateways import ConsoleGateway
from turnero.notifications.messages import render, sms_segments
from turnero.notifications.models import MessageStatus, OutboundMessage
from turnero.notifications.policy import NotificationConfig
from turnero.notifications.service import notify_near_turns
from turnero.queue import actions, calls, desks, issuing, views
from turnero.queue.config import QueueConfig
from turnero.queue.models import DeskStatus, Ticket, TicketEvent, TicketStatus

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # Monday 10:00 in La Paz
QUEUE = QueueConfig()
CONFIG = NotificationConfig(near_turn_position=3, near_turn_minutes=10)


@pytest.fixture(autouse=True)
def _config():
    clock.freeze(NOW)


async def operator(office: Office, name: str = "operador3") -> Principal:
    user = await User.get(username=name)
    return Principal(user.id, user.username, Role(user.role), office.id, office.code, 0.0)


async def issue(office: Office, phone: str | None = None, service: str = "SANEAMIENTO") -> dict:
    return await issue_in(office, service, phone=phone, config=QUEUE)


async def messages(template: str) -> list[OutboundMessage]:
    return await OutboundMessage.filter(template=template).order_by("id")


async def test_calling_a_ticket_with_a_phone_writes_its_turn_message(db):
    office = await Office.get(code="LPZ-PRINCIPAL")
    actor = await operator(office)
    await desks.set_desk_status(office, "9", DeskStatus.OPEN, actor)  # desk 9 serves SANEAMIENTO
    with_phone = await issue(office, "+59171234567")
    without = await issue(office)
    called = await calls.call_next(office, "9", actor, QUEUE)
    assert called["id"] == with_phone["id"]
    (message,) = await messages("turno_llamado")
    ticket = await Ticket.get(public_id=with_phone["id"])
    assert message.ticket_id == ticket.id and message.to == "+59171234567"
    assert message.body == f"SEGIP: es su turno {with_phone['number']}. Pase a la ventanilla 9."
    assert message.expires_at == NOW + CONFIG.walk_in_ttl and message.status == MessageStatus.PENDING

    await actions.finish(await actions.get_ticket(with_phone["id"]), actor, QUEUE)
    assert (await calls.call_next(office, "9", actor, QUEUE))["id"] == without["id"]
    assert len(await messages("turno_llamado")) == 1  # no phone, no message
    assert (await dispatch_due(ConsoleGateway(), CONFIG)).sent == 1


async def test_near_turn_message_goes_once_to_tickets_near_the_front(db):
    office = await Office.get(code="LPZ-PRINCIPAL")
    actor = await operator(office)
    await desks.set_desk_status(office, "9", DeskStatus.OPEN, actor)
    # SANEAMIENTO takes 15 min a person at one desk: only position counts here.
    tickets = [await issue(office, f"+5917000000{n}") for n in range(6)]
    no_phone = await issue(office)

    assert await notify_near_turns(QUEUE, CONFIG) == 3
    near = await messages("turno_cerca")
    assert [m.to for m in near] == ["+59170000000", "+59170000001", "+59170000002"]
    assert "es el siguiente" in near[0].body and f"su turno {tickets[0]['number']}" in near[0].body
    assert "falta 1 turno (unos 23 min)" in near[1].body
    assert "faltan 2 turnos" in near[2].body

    assert await notify_near_turns(QUEUE, CONFIG) == 0  # once per ticket

    # The first is called before its "near" message went out: that one is cancelled,
    # and the ticket now fourth in line gets its own.
    await calls.call_next(office, "9", actor, QUEUE)
    assert (await OutboundMessage.get(id=near[0].id)).status == MessageStatus.CANCELLED
    assert await notify_near_turns(QUEUE, CONFIG) == 1
    assert (await messages("turno_cerca"))[-1].to == "+59170000003"
    ticket_ids = set(await OutboundMessage.all().values_list("ticket_id", flat=True))
    assert (await Ticket.get(public_id=no_phone["id"])).id not in ticket_ids

    report = await dispatch_due(ConsoleGateway(), CONFIG)
    assert report.sent == 4  # three "near" still wanted + one "es su turno"


async def test_a_short_estimated_wait_is_near_too(db):
    office = await Office.get(code="LPZ-PRINCIPAL")
    actor = await operator(office)
    # CERT takes 4 min; with two desks serving it, the 5th waits about 9 min.
    for desk in ("1", "5"):
        await desks.set_desk_status(office, desk, DeskStatus.OPEN, await operator(office, f"operador{desk}"))
    for n in range(7):
        await issue(office, f"+5916000000{n}", service="CERT")
    assert await notify_near_turns(QUEUE, CONFIG) == 5
    assert sorted(m.to for m in await messages("turno_cerca"))[-1] == "+59160000004"
    del actor


async def test_the_near_turn_sms_gives_the_estimates_range(db):
    """With waits predicted (as the running service does), each ticket's estimate
    carries a range, and its "faltan N turnos" says it in the pages' words: "(entre 10 y
    20 min)", not a bare figure — in one GSM-7 segment."""
    predicting = QueueConfig(predict_waits=True)
    office = await Office.get(code="LPZ-PRINCIPAL")
    await desks.set_desk_status(office, "9", DeskStatus.OPEN, await operator(office))
    tickets = [await issuing.issue_ticket(office, "SANEAMIENTO", phone=f"+5917000000{n}", actor=None, config=predicting)
               for n in range(4)]
    assert await notify_near_turns(predicting, CONFIG) == 3
    near = await messages("turno_cerca")
    checked = 0
    for message in near:
        ticket = await Ticket.get(id=message.ticket_id).select_related("service")
        view = await views.ticket_view(ticket, office, predicting)
        low, high = view["estimated_wait_low_minutes"], view["estimated_wait_high_minutes"]
        assert message.body.startswith(f"SEGIP: su turno {ticket.number} en ")
        assert sms_segments(message.body) == ("GSM-7", 1)
        if low is not None and low < high:
            assert f"({wait_words.span(low, high)})." in message.body, message.body
            checked += 1
    assert checked == 3, [m.body for m in near]
    # e.g. "…: falta 1 turno (entre 7 y 29 min)." (the first: "es el siguiente (hasta 4 min).")
    assert re.search(r": falta 1 turno \(entre \d+ y \d+ min\)\. ", near[1].body), near[1].body
    assert tickets[1]["number"] in near[1].body and "falta 1 turno (" in near[1].body
    assert "unos" not in " ".join(m.body for m in near)


async def test_the_near_turn_sms_with_the_widest_range_still_fits_one_segment(db):
    for office in await Office.all():
        context = {"institucion": office.institution, "oficina": office.name, "numero": "C-123", "delante": 9,
                   "minutos": 130, "minimo": 100, "maximo": 165}
        sms = render("turno_cerca", context, sms=True)
        assert "faltan 9 turnos (entre 1 h 40 min y 2 h 45 min)." in sms
        assert sms_segments(sms) == ("GSM-7", 1), (len(sms), sms)
    # No range (an old row's context, or none learnt): the figure alone, as before.
    near = {"institucion": "SEGIP", "oficina": "SEGIP El Alto", "numero": "C-1", "delante": 2, "minutos": 14}
    assert "faltan 2 turnos (unos 14 min)." in render("turno_cerca", near, sms=True)
    assert "(unos 14 min)." in render("turno_cerca", {**near, "minimo": 14, "maximo": 14}, sms=True)
    assert "(hasta 6 min)." in render("turno_cerca", {**near, "minutos": 2, "minimo": 0, "maximo": 6}, sms=True)


async def test_a_ticket_called_out_of_order_gets_its_message_with_the_call(db):
    office = await Office.get(code="LPZ-PRINCIPAL")
    actor = await operator(office)
    await desks.set_desk_status(office, "9", DeskStatus.OPEN, actor)
    for n in range(5):
        await issue(office)
    late = await issue(office, "+59171234567")
    await calls.call_ticket(office, "9", late["number"], actor, QUEUE)
    (message,) = await messages("turno_llamado")  # written by the call itself
    assert message.to == "+59171234567" and "ventanilla 9" in message.body
    # Its "near" message can no longer be written (a cancelled placeholder holds the key).
    assert [m.status for m in await messages("turno_cerca")] == [MessageStatus.CANCELLED]
    assert await notify_near_turns(QUEUE, CONFIG) == 0  # the sweep finds nothing missing
    assert len(await messages("turno_llamado")) == 1


_REFUSE_TURN_MESSAGES = {
    # A trigger that makes writing an "es su turno" row fail, as a full disk or a lost
    # connection would at that instant.
    "sqlite": [
        "CREATE TRIGGER refuse_turn BEFORE INSERT ON outbound_message WHEN NEW.template = 'turno_llamado'"
        " BEGIN SELECT RAISE(ABORT, 'outbox refused'); END",
    ],
    "postgres": [
        "CREATE FUNCTION refuse_turn() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$",
        "CREATE TRIGGER refuse_turn BEFORE INSERT ON outbound_message FOR EACH ROW"
        " WHEN (NEW.template = 'turno_llamado') EXECUTE FUNCTION refuse_turn()",
    ],
}
_ALLOW_TURN_MESSAGES = {
    "sqlite": ["DROP TRIGGER refuse_turn"],
    "postgres": ["DROP TRIGGER refuse_turn ON outbound_message", "DROP FUNCTION refuse_turn()"],
}


@pytest.mark.parametrize("how", ["call_next", "call_ticket"])
async def test_the_turn_message_is_written_in_the_calls_own_transaction(db, backend, how):
    """The call and its "es su turno" row commit together: when the row cannot be
    written the call is undone too (the ticket still waits, no audit event, the desk
    free), and calling again once the outbox works writes both. On PostgreSQL this
    covers the one-statement call-next, run inside a transaction for this."""
    office = await Office.get(code="LPZ-PRINCIPAL")
    actor = await operator(office)
    await desks.set_desk_status(office, "9", DeskStatus.OPEN, actor)
    issued = await issue(office, "+59171234567")

    async def call():
        if how == "call_next":
            return await calls.call_next(office, "9", actor, QUEUE)
        return await calls.call_ticket(office, "9", issued["number"], actor, QUEUE)

    conn = OutboundMessage._meta.db
    for sql in _REFUSE_TURN_MESSAGES[backend]:
        await conn.execute_script(sql)
    try:
        with pytest.raises(Exception, match="outbox refused"):
            await call()
    finally:
        for sql in _ALLOW_TURN_MESSAGES[backend]:
            await conn.execute_script(sql)
    ticket = await Ticket.get(public_id=issued["id"])
    assert ticket.status == TicketStatus.WAITING and ticket.called_at is None and ticket.desk_id is None
    assert not await TicketEvent.filter(ticket_id=ticket.id, kind__startswith="called").exists()
    assert not await OutboundMessage.filter(ticket_id=ticket.id).exists()  # nor the "near" placeholder

    called = await call()
    assert called["id"] == issued["id"] and called["desk"] == "9"
    (message,) = await messages("turno_llamado")
    assert message.ticket_id == ticket.id and message.status == MessageStatus.PENDING
    assert (await Ticket.get(id=ticket.id)).status == TicketStatus.CALLED


async def test_the_public_board_never_shows_phones(client):
    kiosk = await login(client, "kiosko")
    op = await login(client, "operador3")
    response = await client.post("/api/offices/LPZ-PRINCIPAL/tickets",
                                 json={"service": "CI-RENOV", "phone": "7123 4567"}, headers=kiosk)
    assert response.status_code == 201, response.text
    ticket = await Ticket.get(public_id=response.json()["id"])
    assert ticket.phone == "+59171234567"  # stored in E.164
    await client.post("/api/offices/LPZ-PRINCIPAL/desks/3/open", headers=op)
    assert (await client.post("/api/offices/LPZ-PRINCIPAL/desks/3/call-next", headers=op)).status_code == 200
    board = await client.get("/api/offices/LPZ-PRINCIPAL/board")
    assert board.status_code == 200
    assert "71234567" not in board.text and "phone" not in board.text
    public = await client.get(f"/api/tickets/{ticket.public_id}")
    assert "71234567" not in public.text
    assert await OutboundMessage.filter(template="turno_llamado", to="+59171234567").exists()
