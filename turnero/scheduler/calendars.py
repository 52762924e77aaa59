"""Citas: an office's calendar (admin) — its booking rules and closed days."""

from __future__ import annotations

from datetime import date, timedelta

from tortoise.transactions import in_transaction

from turnero.core.audit import audit
from turnero.core import clock, hooks
from turnero.core.auth import Principal
from turnero.core.db import placeholders
from turnero.core.errors import invalid
from turnero.core.models import Office
from turnero.core.service import offered_service
from turnero.scheduler import places
from turnero.scheduler.config import SchedulerConfig, _closed, _db, _forget_cached
from turnero.scheduler.models import AppointmentStatus, BookingRule, OfficeClosure
from turnero.scheduler.places import places_changed, record_event
from turnero.scheduler.rules import materialise_slots, rule_capacity

# ---------------------------------------------------------------- calendars (admin)


async def calendar_view(office: Office, days: int, config: SchedulerConfig) -> dict:
    now = clock.now()
    today = clock.local_day(now, office.timezone)
    closed = await _closed(office, today, today + timedelta(days=days), config)
    rules = await BookingRule.filter(office_id=office.id).select_related("service").order_by("id")
    return {
        "office": office.code,
        "timezone": office.timezone,
        "opening_hours": office.opening_hours,
        "rules": [await _rule_view(office, rule) for rule in rules],
        "closed_days": [{"date": d.isoformat(), "reason": closed[d]} for d in sorted(closed)],
    }


async def _rule_view(office: Office, rule: BookingRule) -> dict:
    return {
        "service": rule.service.code, "service_name": rule.service.name, "slot_minutes": rule.slot_minutes,
        "capacity": await rule_capacity(office, rule.service, rule), "capacity_from_desks": rule.capacity is None,
        "window_days": rule.window_days,
        "min_notice_minutes": rule.min_notice_minutes, "release_time": rule.release_time,
        "cancel_cutoff_minutes": rule.cancel_cutoff_minutes, "hours": rule.hours or office.opening_hours,
        "active": rule.active,
    }


async def set_booking_rule(office: Office, body: dict, actor: Principal, config: SchedulerConfig) -> dict:
    """Create or change a service's booking rule at an office. A new capacity applies
    to the future slots already made (never below the places already booked); a new
    slot length or hours apply to the days not materialised yet."""
    service = await offered_service(office, body["service"])
    if not service.bookable:
        raise invalid(f"El trámite {service.code} no admite citas.", code="not_bookable")
    fields = {k: body[k] for k in ("slot_minutes", "capacity", "window_days", "min_notice_minutes",
                                   "release_time", "cancel_cutoff_minutes", "hours", "active")}
    async with in_transaction() as conn:
        rule, created = await BookingRule.get_or_create(office_id=office.id, service_id=service.id, defaults=fields)
        before = None if created else {k: getattr(rule, k) for k in fields}
        if not created:
            await BookingRule.filter(id=rule.id).update(**fields)
            rule = await BookingRule.get(id=rule.id)
        await audit(actor, "booking_rule.create" if created else "booking_rule.update",
                                  f"{office.code}/{service.code}", office.id, before, fields)
        capacity = await rule_capacity(office, service, rule)
        await _db().execute_query_dict(
            placeholders(
                "UPDATE slot SET capacity = CASE WHEN booked > ? THEN booked ELSE ? END"
                " WHERE office_id = ? AND service_id = ? AND start > ? RETURNING id"
            ),
            [capacity, capacity, office.id, service.id, clock.now()],
        )
        await places_changed(conn)
    places.known.forget_all()
    _forget_cached(config)
    rule.service = service
    await materialise_slots(office, service, rule, config)
    return await _rule_view(office, rule)


async def add_closure(office: Office, day: date, reason: str, actor: Principal, config: SchedulerConfig) -> dict:
    """Close an office on a future day: its slots lose their places and the citas
    booked then are cancelled (each with its event, and AppointmentCancelled: its message)."""
    now = clock.now()
    if day <= clock.local_day(now, office.timezone):
        raise invalid("Solo se puede cerrar un día futuro.", code="invalid_date")
    async with in_transaction() as conn:
        await OfficeClosure.get_or_create(office_id=office.id, day=day, defaults={"reason": reason})
        await audit(actor, "closure.create", f"{office.code}/{day.isoformat()}", office.id,
                                  None, {"date": day.isoformat(), "reason": reason})
        rows = await conn.execute_query_dict(
            placeholders(
                "UPDATE appointment SET status = ?, cancelled_at = ? WHERE office_id = ? AND status = ?"
                " AND slot_id IN (SELECT id FROM slot WHERE office_id = ? AND day = ?) RETURNING id, code, phone, start"
            ),
            [AppointmentStatus.CANCELLED.value, now, office.id, AppointmentStatus.BOOKED.value, office.id, day],
        )
        for row in rows:
            await record_event(conn, row["id"], "cancelled", now, actor, {"reason": "office_closed", "closure": day.isoformat()})
            await hooks.emit(conn, hooks.AppointmentCancelled(**hooks.appointment_fields(row), office=office))  # "cancelada"
        await conn.execute_query_dict(
            placeholders("UPDATE slot SET booked = 0, capacity = 0 WHERE office_id = ? AND day = ? RETURNING id"),
            [office.id, day],
        )
        await places_changed(conn)
    places.known.forget_all()
    _forget_cached(config)
    return {"date": day.isoformat(), "reason": reason or "Cierre de la oficina", "cancelled": len(rows)}
