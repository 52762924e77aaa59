"""Citas: check-in at the kiosk — a cita in its window becomes a ticket in the
appointment lane."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.db import placeholders
from turnero.core.errors import conflict, not_found
from turnero.core.models import Office
from turnero.queue import groups, issuing, views
from turnero.queue.events import publish_queue_changed
from turnero.scheduler import kinds, policy
from turnero.scheduler.config import SchedulerConfig
from turnero.scheduler.models import Appointment, AppointmentStatus
from turnero.scheduler.places import record_event
from turnero.scheduler.views import _appointment_by_ref

# ---------------------------------------------------------------- check-in


async def _find_for_checkin(office: Office, code: str | None, document: str | None, now: datetime) -> Appointment:
    if code is not None:
        ref = code.strip().rstrip("/").rsplit("/", 1)[-1]  # a scanned QR link ends with the id
        appt = await _appointment_by_ref(ref)
        if appt is None:
            raise not_found("appointment_not_found", "No existe una cita con ese código.")
        if appt.office_id != office.id:
            raise conflict(
                "wrong_office", f"Esa cita es en otra oficina: {appt.office.name}, {appt.office.address}."
            )
        return appt
    # By document: today's citas at this office for that number, the nearest first.
    day_start = clock.day_start(clock.local_day(now, office.timezone), office.timezone)
    candidates = await Appointment.filter(
        office_id=office.id, start__gte=day_start, start__lt=day_start + timedelta(days=1),
        status__in=[AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN],
    ).select_related("office", "service")
    mine = [a for a in candidates if policy.document_matches(a.document_number, a.document_complement, document or "")]
    if not mine:
        raise not_found("appointment_not_found", "No hay una cita para hoy con ese documento en esta oficina.")
    booked = [a for a in mine if a.status == AppointmentStatus.BOOKED] or mine
    return min(booked, key=lambda a: abs((a.start - now).total_seconds()))


async def check_in(office: Office, *, code: str | None, document: str | None, actor: Principal,
                   config: SchedulerConfig, queue_config) -> dict:
    """Check a cita in at the kiosk: inside the window it becomes a ticket in the
    appointment lane, due at the cita's time; a late arrival is refused (409 too_late)
    or let in as a walk-in, as configured. One transaction: the cita's state, the
    ticket and the event; a second check-in is 409 already_checked_in."""
    now = clock.now()
    found = await _find_for_checkin(office, code, document, now)
    if found.status == AppointmentStatus.CHECKED_IN or found.status == AppointmentStatus.DONE:
        raise conflict("already_checked_in", "Esa cita ya fue registrada; espere su llamado.")
    if found.status != AppointmentStatus.BOOKED:
        raise conflict("not_checkable", f"La cita está «{found.status.value}»; saque un turno presencial.")
    kinds.kind_of(found.service).check_in(found)  # an exam's: with the proctor, in the room (409)
    rules = config.checkin
    tz = ZoneInfo(office.timezone)
    when = policy.arrival(found.start, now, rules)
    if when == policy.Arrival.EARLY:
        raise conflict(
            "too_early", f"Es temprano: puede registrar su cita desde las {(found.start - rules.before).astimezone(tz):%H:%M}."
        )
    late = when == policy.Arrival.LATE
    if late and rules.late != "walk_in":
        raise conflict(
            "too_late", f"El plazo para registrar su cita venció a las {(found.start + rules.after).astimezone(tz):%H:%M}."
        )
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            placeholders("UPDATE appointment SET status = ?, checked_in_at = ? WHERE id = ? AND status = ? RETURNING id"),
            [AppointmentStatus.CHECKED_IN.value, now, found.id, AppointmentStatus.BOOKED.value],
        )
        if not rows:
            raise conflict("already_checked_in", "Esa cita ya fue registrada; espere su llamado.")
        ticket = await issuing.issue_checkin_ticket(
            office, found.service, due_at=None if late else found.start, party_size=found.party_size,
            phone=found.phone, actor=actor, data={"appointment": found.code, "late": late},
        )
        await conn.execute_query_dict(
            placeholders("UPDATE appointment SET ticket_id = ? WHERE id = ?"), [ticket.id, found.id]
        )
        members = await groups.link_ticket(conn, found.id, ticket.id) if found.party_size > 1 else 0  # the minors
        await record_event(conn, found.id, "checked_in", now, actor,
                           {"ticket": ticket.public_id, "late": late, **({"members": members} if members else {})})
        # outbox: nothing yet (the queue's "your turn is near" messages take over).
    await publish_queue_changed(office)
    view = await views.ticket_view(ticket, office, queue_config)
    view["appointment"] = found.code
    view["late"] = late
    return view
