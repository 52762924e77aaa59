"""Retention of the scheduler's detail (admin/retention.py drives it): citas that are
over (done, cancelled, no-show) starting before a cutoff, with their events, then the
past slots no cita points at any more — taken in batches inside the caller's
transaction, returned as report facts. A cita still booked or checked in is never
taken, however old, nor its slot. Only counter citas and slots go: a kind plugged into
the engine (kinds.py; the theory exam) keeps its own, as its tables point at them (the
exam's sessions and attempts, read by its eligibility rules)."""

from __future__ import annotations

from datetime import datetime, timezone

from turnero.core.db import db_datetime, is_postgres, placeholders
from turnero.core.models import ServiceKind
from turnero.queue.models import GroupMember
from turnero.scheduler.models import ACTIVE_STATUSES, Appointment, AppointmentEvent, AppointmentStatus, Slot

OVER = tuple(s.value for s in (AppointmentStatus.DONE, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW))
ACTIVE = tuple(s.value for s in ACTIVE_STATUSES)
_COUNTERS_ONLY = f"service_id IN (SELECT id FROM service WHERE kind = '{ServiceKind.COUNTER.value}')"  # counters only


def _utc(at: datetime) -> datetime:
    return at.astimezone(timezone.utc)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)  # constants of this module, never input


def _lock() -> str:
    return " FOR UPDATE" if is_postgres() else ""


async def _pick(sql: str, values: list) -> list[int]:
    db = Slot._meta.db  # the transaction's connection inside in_transaction()
    return [r["id"] for r in await db.execute_query_dict(placeholders(sql + _lock()), values)]


async def take_over_appointments(office_id: int, before: datetime, limit: int) -> tuple[list[dict], int]:
    """Delete up to `limit` citas of the office that are over and started before
    `before`, with their events. Returns the citas (service, start,
    status) and the number of events deleted."""
    ids = await _pick(
        f'SELECT id FROM appointment WHERE office_id = ? AND status IN ({_in(OVER)}) AND "start" < ?'
        f" AND {_COUNTERS_ONLY} LIMIT ?", [office_id, _utc(before), limit])  # (any order: all go)
    if not ids:
        return [], 0
    rows = await Appointment.filter(id__in=ids).order_by("id").values("service__code", "start", "status")
    events = await AppointmentEvent.filter(appointment_id__in=ids).delete()
    await GroupMember.filter(appointment_id__in=ids).delete()  # the minors' names go with the cita
    await Appointment.filter(id__in=ids, status__in=OVER).delete()
    citas = [{"service": r["service__code"], "start": db_datetime(r["start"]), "status": str(r["status"])}
             for r in rows]
    return citas, events


async def take_past_slots(office_id: int, before: datetime, limit: int) -> list[dict]:
    """Delete up to `limit` slots of the office starting before `before` that no cita
    points at (take the citas first). Returns them (service, start, capacity, booked)."""
    ids = await _pick(
        'SELECT id FROM slot s WHERE s.office_id = ? AND s."start" < ? AND s.' + _COUNTERS_ONLY +
        ' AND NOT EXISTS (SELECT 1 FROM appointment a WHERE a.slot_id = s.id) LIMIT ?',
        [office_id, _utc(before), limit])
    if not ids:
        return []
    rows = await Slot.filter(id__in=ids).order_by("id").values("service__code", "start", "capacity", "booked")
    await Slot.filter(id__in=ids).delete()
    return [{"service": r["service__code"], "start": db_datetime(r["start"]), "capacity": r["capacity"],
             "booked": r["booked"]} for r in rows]


async def count_old(office_id: int, before: datetime) -> dict:
    """What the take_ functions would delete, and the old citas kept because they are
    still active (for dry runs and the audit)."""
    before = _utc(before)
    db = Slot._meta.db
    params = [office_id, before]
    over = f'FROM appointment WHERE office_id = ? AND status IN ({_in(OVER)}) AND "start" < ? AND {_COUNTERS_ONLY}'
    # A slot goes once no cita that stays points at it: none active, none of the exam.
    slots = (f'SELECT count(*) AS n FROM slot s WHERE s.office_id = ? AND s."start" < ? AND s.{_COUNTERS_ONLY}'
             f" AND NOT EXISTS (SELECT 1 FROM appointment a WHERE a.slot_id = s.id AND a.status IN ({_in(ACTIVE)}))")

    async def count(sql: str) -> int:
        return int((await db.execute_query_dict(placeholders(sql), params))[0]["n"])

    return {
        "appointments": await count(f"SELECT count(*) AS n {over}"),
        "appointment_events": await count(
            f"SELECT count(*) AS n FROM appointment_event WHERE appointment_id IN (SELECT id {over})"),
        "slots": await count(slots),
        "kept_active_citas": await count(
            f'SELECT count(*) AS n FROM appointment WHERE office_id = ? AND "start" < ? AND status IN ({_in(ACTIVE)})'),
    }
