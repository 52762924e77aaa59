"""Citas: cancel and reschedule, by the citizen (code + document) until the cut-off."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from turnero.core import brigades, clock, hooks
from turnero.core.auth import Principal
from turnero.core.db import is_postgres, model_from_row, placeholders
from turnero.core.errors import conflict, invalid
from turnero.core.models import Office, Service
from turnero.queue import groups
from turnero.scheduler import places, policy
from turnero.scheduler.config import SchedulerConfig
from turnero.scheduler.models import Appointment, AppointmentStatus, BookingRule
from turnero.scheduler.places import record_event, release_places, take_places
from turnero.scheduler.rules import _check_bookable, _local_start, _rule, _slot_at, rules_of
from turnero.scheduler.views import appointment_view, find_for_citizen

# ---------------------------------------------------------------- cancel and reschedule


async def _locked(conn, appt_id: int) -> Appointment:
    """The cita's row, locked (PostgreSQL; SQLite's write transaction is exclusive)."""
    lock = " FOR UPDATE" if is_postgres() else ""
    rows = await conn.execute_query_dict(placeholders(f"SELECT * FROM appointment WHERE id = ?{lock}"), [appt_id])
    return model_from_row(Appointment, rows[0])


def _require_changeable(appt: Appointment, rules: policy.Rules, now: datetime, office: Office) -> None:
    if appt.status != AppointmentStatus.BOOKED:
        raise conflict("not_changeable", f"La cita está «{appt.status.value}»: ya no se puede cambiar.")
    if not policy.can_cancel(appt.start, now, rules):
        deadline = policy.cancel_deadline(appt.start, rules).astimezone(ZoneInfo(office.timezone))
        raise conflict(
            "cutoff_passed",
            f"Las citas se cancelan o reprograman hasta el {deadline:%d/%m/%Y %H:%M}; ese plazo ya pasó.",
        )


async def cancel(ref: str, document: str, config: SchedulerConfig, actor: Principal | None = None,
                 reason: str = "citizen") -> dict:
    """Cancel a booked cita (its `Appointment`, by code + document) until the cut-off;
    frees its places. Returns the cita's view."""
    found = await find_for_citizen(ref, document)
    office, service = found.office, found.service
    rules = rules_of(await booking_rule_or_default(office, service))
    now = clock.now()
    async with in_transaction() as conn:
        appt = await _locked(conn, found.id)
        _require_changeable(appt, rules, now, office)
        await conn.execute_query_dict(
            placeholders("UPDATE appointment SET status = ?, cancelled_at = ? WHERE id = ?"),
            [AppointmentStatus.CANCELLED.value, now, appt.id],
        )
        await release_places(conn, appt.slot_id, appt.party_size)
        await record_event(conn, appt.id, "cancelled", now, actor, {"reason": reason, "slot": appt.slot_id})
        await hooks.emit(conn, hooks.AppointmentCancelled(  # notifications: reminders off, "cancelada"
            **hooks.appointment_fields(appt), office=office, service_code=service.code))
    places.known.forget((appt.slot_id,))  # again: a read that crossed the commit must not keep "full"
    appt.status, appt.cancelled_at = AppointmentStatus.CANCELLED, now
    return appointment_view(appt, office, service, rules, config, now)


async def booking_rule_or_default(office: Office, service: Service) -> BookingRule:
    """The rule, even if since deactivated (a cita already booked keeps its terms)."""
    rule = await BookingRule.get_or_none(office_id=office.id, service_id=service.id)
    return rule or BookingRule(office_id=office.id, service_id=service.id)


async def reschedule(ref: str, document: str, new_start: datetime, config: SchedulerConfig,
                     actor: Principal | None = None) -> dict:
    """Move a booked cita to another slot of the same service and office, atomically:
    the new places are taken first, then the old ones released, in one transaction —
    it never holds two, and a full new slot (409 slot_full) leaves the cita as it was."""
    found = await find_for_citizen(ref, document)
    office, service = found.office, found.service
    rule = await _rule(office, service, config)
    rules = rules_of(rule)
    now = clock.now()
    start = _local_start(new_start, office.timezone)
    _require_changeable(found, rules, now, office)
    await _check_bookable(office, rules, start, now, config)
    await brigades.check_invited(office, clock.local_day(start, office.timezone), found.document_key)
    slot = await _slot_at(office, service, rule, start, config)
    if slot.id == found.slot_id:
        raise invalid("La cita ya está en ese horario.", code="same_slot")
    if found.party_size > slot.capacity:
        raise invalid("El grupo supera los cupos de ese horario.", code="party_too_large")
    async with in_transaction() as conn:
        appt = await _locked(conn, found.id)
        _require_changeable(appt, rules, now, office)
        old_slot = appt.slot_id
        if is_postgres():  # both slot rows in id order: two crossing moves cannot deadlock
            await conn.execute_query_dict(
                "SELECT id FROM slot WHERE id IN ($1, $2) ORDER BY id FOR UPDATE", [old_slot, slot.id]
            )
        await take_places(conn, slot.id, appt.party_size)
        await release_places(conn, old_slot, appt.party_size)
        await conn.execute_query_dict(
            placeholders(
                'UPDATE appointment SET slot_id = ?, start = ?, "end" = ?, reschedule_count = reschedule_count + 1'
                " WHERE id = ?"
            ),
            [slot.id, slot.start, slot.end, appt.id],
        )
        if appt.party_size > 1:  # its minors go to the new day, checked there (queue/groups.py)
            await groups.move(conn, appt.id, service.id, clock.local_day(slot.start, office.timezone))
        await record_event(conn, appt.id, "rescheduled", now, actor, {
            "from": clock.iso(appt.start, "UTC"), "to": clock.iso(slot.start, "UTC"), "from_slot": old_slot, "to_slot": slot.id,
        })
        await hooks.emit(conn, hooks.AppointmentRescheduled(  # notifications: re-planned, "reprogramada"
            **hooks.appointment_fields(appt, start=slot.start), office=office, service_code=service.code))
    places.known.forget((old_slot,))  # again after the commit (see cancel)
    appt.slot_id, appt.start, appt.end = slot.id, slot.start, slot.end
    appt.reschedule_count += 1
    return appointment_view(appt, office, service, rules, config, now)
