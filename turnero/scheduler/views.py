"""Citas: a cita as the API shows it, and finding one by its code or id (and document)."""

from __future__ import annotations

from datetime import datetime

from turnero.core import clock
from turnero.core.errors import not_found
from turnero.core.models import Office, Service
from turnero.core.service import can_match
from turnero.queue.models import Ticket
from turnero.scheduler import policy
from turnero.scheduler.config import SchedulerConfig
from turnero.scheduler.models import Appointment, AppointmentStatus, BookingRule
from turnero.scheduler.rules import rules_of

# Where the citizen portal shows one cita (the QR code and the .ics link to it).
PORTAL_PATH = "/citas/{id}"

# ---------------------------------------------------------------- views


def _mask(value: str) -> str:
    return "•" * max(0, len(value) - 3) + value[-3:]


def appointment_view(appt: Appointment, office: Office, service: Service, rules: policy.Rules,
                     config: SchedulerConfig, now: datetime | None = None, ticket_public_id: str | None = None) -> dict:
    """A cita (an `Appointment` row) as the API shows it (document and phone masked)."""
    tz = office.timezone
    now = now or clock.now()
    checkin = config.checkin
    return {
        "id": appt.public_id,
        "code": appt.code,
        "office": office.code,
        "office_name": office.name,
        "office_address": office.address,
        "service": service.code,
        "service_name": service.name,
        "kind": str(service.kind),
        "start": clock.iso(appt.start, tz),
        "end": clock.iso(appt.end, tz),
        "timezone": tz,
        "status": str(appt.status),
        "name": appt.name,
        "document": {
            "type": str(appt.document_type),
            "number": _mask(appt.document_number + (f"-{appt.document_complement}" if appt.document_complement else "")),
            "issued_in": appt.document_issued_in,
        },
        "phone": _mask(appt.phone) if appt.phone else None,
        "party_size": appt.party_size,
        "category": appt.category,
        "requirements": list(service.requirements or []),
        "fee_bs": service.fee_bs,
        "fee_note": service.fee_note,
        "can_cancel": appt.status == AppointmentStatus.BOOKED and policy.can_cancel(appt.start, now, rules),
        "cancel_until": clock.iso(policy.cancel_deadline(appt.start, rules), tz),
        "checkin_from": clock.iso(appt.start - checkin.before, tz),
        "checkin_until": clock.iso(appt.start + checkin.after, tz),
        "ticket": ticket_public_id,
        "links": {
            "ics": f"/api/appointments/{appt.public_id}/calendar.ics",
            "qr": f"/api/appointments/{appt.public_id}/qr.svg",
            "page": PORTAL_PATH.format(id=appt.public_id),
        },
    }


async def _full_view(appt: Appointment, config: SchedulerConfig) -> dict:
    office = appt.office if isinstance(appt.office, Office) else await Office.get(id=appt.office_id)
    service = appt.service if isinstance(appt.service, Service) else await Service.get(id=appt.service_id)
    rule = await BookingRule.get_or_none(office_id=office.id, service_id=service.id)
    rules = rules_of(rule) if rule else policy.Rules()
    ticket_id = None
    if appt.ticket_id is not None:
        ticket_id = await Ticket.filter(id=appt.ticket_id).first().values_list("public_id", flat=True)
    return appointment_view(appt, office, service, rules, config, ticket_public_id=ticket_id)


# ---------------------------------------------------------------- finding a cita


async def _appointment_by_ref(ref: str) -> Appointment | None:
    """By the human code (any case, spaces or a dash allowed) or the unguessable id."""
    code = policy.normalise_code(ref)
    if policy.looks_like_code(code):
        found = await Appointment.get_or_none(code=code).select_related("office", "service")
        if found is not None:
            return found
    if can_match(Appointment, "public_id", ref):
        return await Appointment.get_or_none(public_id=ref).select_related("office", "service")
    return None


def _not_found():
    return not_found("appointment_not_found", "No existe una cita con ese código y documento.")


async def find_for_citizen(ref: str, document: str | None) -> Appointment:
    """The cita named by `ref`. With its short code the document must match (the code
    alone is typed by people and could be guessed); the unguessable id is enough by
    itself, but a document given with it must match too. 404 otherwise — never telling
    whether the code exists."""
    appt = await _appointment_by_ref(ref or "")
    if appt is None:
        raise _not_found()
    by_id = appt.public_id == ref
    if document is None and by_id:
        return appt
    if document is None or not policy.document_matches(appt.document_number, appt.document_complement, document):
        raise _not_found()
    return appt


async def appointment_for_citizen(ref: str, document: str | None, config: SchedulerConfig) -> dict:
    return await _full_view(await find_for_citizen(ref, document), config)
