"""What each event of the other domains says to the citizen, and what replies do.

The functions that take `conn` run inside the caller's transaction and only write
outbox rows (see outbox.py); none of them sends anything. Citas call:

    appointment_booked(conn, appointment, office, service_code)      confirmation + reminders
    appointment_rescheduled(conn, appointment, office, service_code) pending ones cancelled, re-planned
    appointment_cancelled(conn, appointment, office, service_code)   reminders cancelled + "cancelada"

`appointment` is the scheduler's Appointment, a raw appointment row (dict) or an `AppointmentRef`:
what is read of it is `id`, `code`, `phone` (E.164 or None) and `start` (UTC).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.db import db_datetime, placeholders
from turnero.core.models import Office
from turnero.notifications import outbox, policy
from turnero.notifications.messages import render, short_day, short_time, sms_segments
from turnero.notifications.models import Channel, MessageStatus, OutboundMessage
from turnero.queue.models import Ticket, TicketStatus, waiting_with_phone
from turnero.queue.views import ticket_view

REMINDER = "cita_recordatorio"
APPOINTMENT_TEMPLATES_TO_REPLAN = ("cita_confirmada", "cita_reprogramada", REMINDER)


# ---------------------------------------------------------------- walk-in tickets


def near_key(ticket_id: int) -> str:
    return f"ticket:{ticket_id}:cerca"


def called_key(ticket_id: int) -> str:
    return f"ticket:{ticket_id}:llamado"


async def notify_called(
    conn, config: policy.NotificationConfig, *, ticket_id: int, number: str, phone: str, office: Office,
    desk_name: str, service_code: str | None,
) -> None:
    """"es su turno: ventanilla N", and no "faltan N turnos" after it (a pending one is
    cancelled, a later one can no longer be written). In the caller's transaction when
    `conn` is given (the queue's call-next and call-out-of-order pass the call's own, so
    the message commits or rolls back with the call), else in one of its own."""
    if conn is None:
        async with in_transaction() as own:
            return await notify_called(own, config, ticket_id=ticket_id, number=number, phone=phone, office=office,
                                       desk_name=desk_name, service_code=service_code)
    now = clock.now()
    await outbox.void(conn, near_key(ticket_id), template="turno_cerca", to=phone, ticket_id=ticket_id,
                      reason="turno llamado")
    await outbox.enqueue(
        conn, config, to=phone, template="turno_llamado", dedupe_key=called_key(ticket_id),
        context={"institucion": office.institution, "numero": number, "ventanilla": desk_name},
        office=office, service_code=service_code, ticket_id=ticket_id,
        expires_at=now + config.walk_in_ttl,
    )


async def _sweep_called(office: Office, config: policy.NotificationConfig) -> int:
    """Tickets with a phone called in the last `walk_in_ttl` that have no "es su turno"
    row. The queue writes it in the call's transaction, so this finds none unless a
    ticket was called by some other way (a script, an older version): a safety net."""
    rows = await OutboundMessage._meta.db.execute_query_dict(
        placeholders(
            "SELECT t.id, t.number, t.phone, d.name AS desk_name, s.code AS service_code FROM ticket t"
            " JOIN desk d ON d.id = t.desk_id JOIN service s ON s.id = t.service_id"
            " WHERE t.office_id = ? AND t.status IN ('called', 'serving') AND t.phone IS NOT NULL"
            " AND t.called_at >= ?"
            " AND NOT EXISTS (SELECT 1 FROM outbound_message m WHERE m.dedupe_key = 'ticket:' || t.id || ':llamado')"
        ),
        [office.id, clock.now() - config.walk_in_ttl],
    )
    for row in rows:
        await notify_called(None, config, ticket_id=row["id"], number=row["number"], phone=row["phone"], office=office,
                            desk_name=row["desk_name"], service_code=row["service_code"])
    return len(rows)


async def notify_near_turns(queue_config, config: policy.NotificationConfig) -> int:
    """One pass over the walk-in tickets that have a phone: a "faltan N turnos" for
    each waiting one that is near (position or estimated wait, as the citizen's ticket
    page shows them) and was not told yet, and the "es su turno" any called one still
    lacks. Runs as a job, off the call-next path; each message is written at most once
    per ticket (its event key is unique). Returns how many were written."""
    written = 0
    for office in await Office.filter(active=True):
        written += await _sweep_called(office, config)
        # Those not told yet: no "cerca" row in the outbox.
        waiting = await waiting_with_phone(office.id)
        told = set(await OutboundMessage.filter(dedupe_key__in=[near_key(i) for i in waiting])
                   .values_list("dedupe_key", flat=True)) if waiting else set()
        candidates = [i for i in waiting if near_key(i) not in told]
        if not candidates:
            continue
        tickets = (
            await Ticket.filter(id__in=candidates)
            .order_by("arrived_at", "id")
            .select_related("service")
        )
        for ticket in tickets:
            view = await ticket_view(ticket, office, queue_config)
            if view["status"] != TicketStatus.WAITING.value or view["position"] is None:
                continue
            if not policy.is_near(view["position"], view["estimated_wait_minutes"],
                                  config.near_turn_position, config.near_turn_minutes):
                continue
            # One statement. Should the ticket be called meanwhile, the call's void of
            # this key either cancels this row or makes this insert do nothing.
            created = await outbox.enqueue(
                None, config, to=ticket.phone, template="turno_cerca", dedupe_key=near_key(ticket.id),
                context={
                    "institucion": office.institution, "oficina": office.name, "numero": ticket.number,
                    "delante": view["position"] - 1, "minutos": view["estimated_wait_minutes"],
                    # its range, as the ticket page shows it: "(entre 10 y 20 min)"
                    "minimo": view["estimated_wait_low_minutes"], "maximo": view["estimated_wait_high_minutes"],
                },
                office=office, service_code=view["service"], ticket_id=ticket.id,
                expires_at=clock.now() + config.walk_in_ttl,
            )
            written += created is not None
    return written


# ---------------------------------------------------------------- citas


@dataclass(frozen=True)
class AppointmentRef:
    """What the messages need of a cita."""

    id: int
    code: str
    phone: str | None
    start: datetime  # UTC

    @classmethod
    def of(cls, appointment, start: datetime | None = None) -> "AppointmentRef":
        """From the scheduler's Appointment, a raw row (dict) or an AppointmentRef; `start`
        overrides the one it carries (a reschedule's new time)."""
        get = appointment.get if isinstance(appointment, Mapping) else functools.partial(getattr, appointment)
        return cls(int(get("id")), get("code"), get("phone"), start or db_datetime(get("start")))


def _appointment_context(cita: AppointmentRef, office: Office) -> dict:
    local = clock.local(cita.start, office.timezone)
    return {
        "institucion": office.institution, "codigo": cita.code, "oficina": office.name,
        "dia": short_day(local), "hora": short_time(local),
    }


def _confirmation_context(context: dict, cost: str | None) -> dict:
    """The confirmation's words with the fee when it still fits one SMS segment (a
    long office name leaves no room: the citizen then reads it on the cita's page)."""
    if cost:
        with_cost = {**context, "costo": cost}
        if sms_segments(render("cita_confirmada", with_cost, sms=True, shorten=False))[1] == 1:
            return with_cost
    return context


def _when(start: datetime, send_at: datetime, tz: str) -> str:
    days = (clock.local_day(start, tz) - clock.local_day(send_at, tz)).days
    return {0: "hoy", 1: "mañana"}.get(days, "el")


async def appointment_booked(
    conn, config: policy.NotificationConfig, appointment, office: Office, service_code: str | None = None, *,
    start: datetime | None = None,
    rescheduled: bool = False, cost: str | None = None,
) -> list[int]:
    """The confirmation (or "reprogramada") now and a reminder at each configured
    time before the cita still ahead. Nothing without a phone. Returns the row ids.
    `cost`: the trámite's fee in words (core.service.fee_words) for the confirmation."""
    cita = AppointmentRef.of(appointment, start)
    if not cita.phone:
        return []
    now = clock.now()
    start_key = cita.start.astimezone(timezone.utc).strftime("%Y%m%dT%H%MZ")
    context = _appointment_context(cita, office)
    common = dict(office=office, service_code=service_code, appointment_id=cita.id, to=cita.phone)
    if rescheduled:
        first = await outbox.enqueue(
            conn, config, template="cita_reprogramada", context=context,
            dedupe_key=f"cita:{cita.id}:reprogramada:{start_key}", **common,
        )
    else:
        first = await outbox.enqueue(
            conn, config, template="cita_confirmada", context=_confirmation_context(context, cost),
            dedupe_key=f"cita:{cita.id}:confirmada", **common,
        )
    ids = [first] if first else []
    for hours, send_at in policy.reminder_times(cita.start, now, config.reminder_hours):
        row = await outbox.enqueue(
            conn, config, template=REMINDER, context={**context, "cuando": _when(cita.start, send_at, office.timezone)},
            dedupe_key=f"cita:{cita.id}:recordatorio:{policy.hours_label(hours)}:{start_key}",
            send_at=send_at, expires_at=cita.start, **common,
        )
        if row:
            ids.append(row)
    return ids


async def appointment_rescheduled(
    conn, config: policy.NotificationConfig, appointment, office: Office, service_code: str | None = None, *, start: datetime | None = None
) -> list[int]:
    """The cita moved to `start` (or the start it already carries): the old plan's
    pending messages are cancelled and a "reprogramada" plus new reminders written."""
    cita = AppointmentRef.of(appointment, start)
    await outbox.cancel_pending(
        conn, appointment_id=cita.id, templates=APPOINTMENT_TEMPLATES_TO_REPLAN, reason="cita reprogramada"
    )
    return await appointment_booked(conn, config, cita, office, service_code, rescheduled=True)


async def appointment_cancelled(
    conn, config: policy.NotificationConfig, appointment, office: Office, service_code: str | None = None, *, notify: bool = True
) -> int | None:
    """Every pending message of the cita is cancelled; then, if `notify` and it has a
    phone, a "cancelada". Returns that message's row id."""
    cita = AppointmentRef.of(appointment)
    await outbox.cancel_pending(conn, appointment_id=cita.id, reason="cita cancelada")
    if not (notify and cita.phone):
        return None
    return await outbox.enqueue(
        conn, config, to=cita.phone, template="cita_cancelada", context=_appointment_context(cita, office),
        dedupe_key=f"cita:{cita.id}:cancelada", office=office, service_code=service_code, appointment_id=cita.id,
    )


async def appointment_attendance_confirmed(
    conn, config: policy.NotificationConfig, appointment, office: Office, service_code: str | None = None
) -> int | None:
    cita = AppointmentRef.of(appointment)
    if not cita.phone:
        return None
    return await outbox.enqueue(
        conn, config, to=cita.phone, template="cita_asistencia_confirmada", context=_appointment_context(cita, office),
        dedupe_key=f"cita:{cita.id}:asistencia", office=office, service_code=service_code, appointment_id=cita.id,
    )


async def appointment_not_cancellable(
    conn, config: policy.NotificationConfig, appointment, office: Office, provider_sid: str, service_code: str | None = None
) -> int | None:
    """The answer to a CANCELAR that came after the cita's cancellation cut-off."""
    cita = AppointmentRef.of(appointment)
    return await outbox.enqueue(
        conn, config, to=cita.phone, template="cita_no_cancelable", context=_appointment_context(cita, office),
        dedupe_key=f"respuesta:{provider_sid}", office=office, service_code=service_code, appointment_id=cita.id,
    )


# ---------------------------------------------------------------- exam results


async def exam_result(
    conn, config: policy.NotificationConfig, *, result_key: str, phone: str, office: Office, category: str, passed: bool, correct: int, total: int,
    service_code: str | None = None, appointment_id: int | None = None,
) -> int | None:
    """The theory exam's result; `result_key` names the attempt (one message each),
    `appointment_id` the cita it was booked as (the cita's messages list it)."""
    return await outbox.enqueue(
        conn, config, to=phone, template="resultado_examen", dedupe_key=f"examen:{result_key}:resultado",
        context={"institucion": office.institution, "categoria": category, "aprobado": passed,
                 "correctas": correct, "total": total},
        office=office, service_code=service_code, appointment_id=appointment_id,
    )


# ---------------------------------------------------------------- provider callbacks


_FINAL_STATUS = {
    "delivered": MessageStatus.DELIVERED, "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED, "failed": MessageStatus.UNDELIVERED,
}


async def record_delivery(*, message_id: int | None, provider_sid: str, status: str, error_code: str | None) -> bool:
    """A status callback: the message's delivery status moves forward (a late `sent`
    after `delivered` changes nothing). False when no message matches."""
    async with in_transaction():
        message = await OutboundMessage.filter(provider_sid=provider_sid).select_for_update().first()
        if message is None and message_id is not None:
            # The callback can beat the dispatcher's own write of the sid.
            message = await OutboundMessage.filter(id=message_id, provider_sid__isnull=True).select_for_update().first()
        if message is None:
            return False
        if policy.delivery_rank(status) < policy.delivery_rank(message.delivery_status):
            return True
        message.delivery_status = status
        fields = ["delivery_status"]
        final = _FINAL_STATUS.get(status)
        if final is not None and message.status in (MessageStatus.SENT, MessageStatus.DELIVERED,
                                                     MessageStatus.UNDELIVERED):
            message.status, message.status_changed_at = final, clock.now()
            fields += ["status", "status_changed_at"]
        if error_code and final == MessageStatus.UNDELIVERED:
            message.last_error = f"Twilio ErrorCode {error_code}"
            fields.append("last_error")
        await message.save(update_fields=fields)
    return True


@dataclass(frozen=True)
class ReplyOutcome:
    action: str  # cancelled, too_late, confirmed, no_appointment, rated, nothing_to_rate, unknown_command, duplicate
    appointment_id: int | None = None


async def reply_no_appointment(conn, config: policy.NotificationConfig, phone: str, channel: Channel,
                               provider_sid: str) -> None:
    await outbox.enqueue(
        conn, config, to=phone, template="sin_cita", context={}, dedupe_key=f"respuesta:{provider_sid}", channel=channel,
    )
