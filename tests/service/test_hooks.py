"""core/hooks.py: domain events, their two phases, and the notifications subscribed to them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from tortoise.transactions import in_transaction

from tests.driver import app_settings, book, cita
from turnero.core import clock, hooks
from turnero.core.db import placeholders
from turnero.core.models import Office
from turnero.notifications import subscribers
from turnero.notifications.models import MessageStatus, OutboundMessage
from turnero.notifications.policy import NotificationConfig
from turnero.scheduler.changes import cancel
from turnero.scheduler.config import SchedulerConfig
from turnero.scheduler.models import Appointment, AppointmentStatus, Slot
from turnero.wiring import wire

ZONE = ZoneInfo("America/La_Paz")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=ZONE)
START = datetime(2026, 12, 2, 9, 30, tzinfo=ZONE)


@dataclass(frozen=True)
class Happened:
    what: str


@pytest.fixture
def handlers():
    """Handlers a test subscribes, taken off again afterwards."""
    added: list[tuple[type, object, str]] = []

    def add(event_type, handler, phase=hooks.IN_TRANSACTION):
        hooks.subscribe(event_type, handler, phase=phase)
        added.append((event_type, handler, phase))

    yield add
    for event_type, handler, phase in added:
        hooks.unsubscribe(event_type, handler, phase=phase)


async def test_handlers_run_in_registration_order_once_each(handlers):
    seen = []

    async def first(conn, event):
        seen.append(("first", conn, event.what))

    async def second(conn, event):
        seen.append(("second", conn, event.what))

    async def later(event):
        seen.append(("later", None, event.what))

    handlers(Happened, first)
    handlers(Happened, second)
    handlers(Happened, first)  # registering again changes nothing
    handlers(Happened, later, hooks.AFTER_COMMIT)
    await hooks.emit("conn", Happened("x"))
    assert seen == [("first", "conn", "x"), ("second", "conn", "x")]  # after-commit ones wait
    await hooks.committed(Happened("y"))
    assert seen[-1] == ("later", None, "y")
    assert hooks.subscribers(Happened) == (first, second)


def test_wiring_the_notifications_again_replaces_them():
    try:
        subscribers.register(NotificationConfig())
        subscribers.register(NotificationConfig(reminder_hours=(48,)))
        (booked,) = hooks.subscribers(hooks.AppointmentBooked)  # one reaction, not two
        assert booked.__self__.config.reminder_hours == (48,)  # with the settings wired last
        assert len(hooks.subscribers(hooks.TicketCalled)) == 1
    finally:
        wire(app_settings())


def test_an_unknown_phase_is_refused():
    with pytest.raises(ValueError):
        hooks.subscribe(Happened, print, phase="whenever")


async def test_an_after_commit_handler_that_fails_is_logged_and_the_change_stays(db, handlers, caplog):
    ran = []

    async def broken(event):
        raise RuntimeError("bus down")

    async def fine(event):
        ran.append(event.what)

    handlers(Happened, broken, hooks.AFTER_COMMIT)
    handlers(Happened, fine, hooks.AFTER_COMMIT)
    office = await Office.get(code="LPZ-ZONA-SUR")
    async with in_transaction() as conn:
        await conn.execute_query(placeholders("UPDATE office SET name = ? WHERE id = ?"), ["Renombrada", office.id])
        await hooks.emit(conn, Happened("grown"))
    with caplog.at_level(logging.ERROR, logger="turnero.hooks"):
        await hooks.committed(Happened("grown"))  # does not raise
    assert ran == ["grown"]  # the next handler still ran
    assert "after-commit hook" in caplog.text
    assert (await Office.get(id=office.id)).name == "Renombrada"


async def _book(client) -> dict:
    return await book(client, cita(START, phone="71234567"))


async def test_an_in_transaction_handler_that_fails_rolls_the_change_back(client, handlers):
    """A reaction after the notifications' one fails: the cancel, its freed place and
    its "cancelada" message are all rolled back together."""
    clock.freeze(NOW.astimezone(timezone.utc))
    cita = await _book(client)
    appt = await Appointment.get(code=cita["code"])
    booked = (await Slot.get(id=appt.slot_id)).booked
    order = []

    async def broken(conn, event):
        order.append(event.appointment_id)
        assert await conn.execute_query_dict(  # the notifications' row is there, on this connection
            placeholders("SELECT id FROM outbound_message WHERE appointment_id = ? AND template = 'cita_cancelada'"),
            [event.appointment_id])
        raise RuntimeError("refused")

    handlers(hooks.AppointmentCancelled, broken)
    with pytest.raises(RuntimeError):
        await cancel(cita["code"], "1234567", SchedulerConfig())
    assert order == [appt.id]
    appt = await Appointment.get(id=appt.id)
    assert appt.status == AppointmentStatus.BOOKED
    assert (await Slot.get(id=appt.slot_id)).booked == booked
    templates = await OutboundMessage.filter(appointment_id=appt.id).values_list("template", "status")
    assert ("cita_cancelada", MessageStatus.PENDING) not in templates
    assert {t for t, _ in templates} == {"cita_confirmada", "cita_recordatorio"}
    assert all(status == MessageStatus.PENDING for _, status in templates)  # reminders still planned
    clock.freeze(NOW.astimezone(timezone.utc) + timedelta(minutes=1))
    hooks.unsubscribe(hooks.AppointmentCancelled, broken)
    await cancel(cita["code"], "1234567", SchedulerConfig())  # without it, the same cancel goes through
    assert await OutboundMessage.filter(appointment_id=appt.id, template="cita_cancelada").exists()
