"""Administration of a brigade's stops (admin only): list, create, replace, delete.

Each change is one transaction with its audit entry. A stop belongs to an office of
kind "brigade"; two stops of one brigade never share a day (the hours of a brigade on
a date come from the one stop that covers it, core/brigades.py).
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from turnero.admin.schemas import InviteeList, StopIn
from turnero.admin.service import audit, office_by_code
from turnero.core.auth import Principal
from turnero.core.brigades import is_brigade, stop_view
from turnero.core.errors import conflict, forbidden, not_found
from turnero.core.models import BrigadeInvitee, BrigadeStop, Office
from turnero.scheduler.models import BookingRule


def _require_admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise forbidden("Solo un administrador puede cambiar las paradas de una brigada.")


async def _brigade(code: str) -> Office:
    office = await office_by_code(code)
    if not is_brigade(office):
        raise conflict("not_a_brigade", f"La oficina {office.code} es fija: solo una brigada (kind «brigade») "
                                        "tiene paradas.")
    return office


async def _stop(office: Office, stop_id: str) -> BrigadeStop:
    stop = await BrigadeStop.get_or_none(id=int(stop_id), office_id=office.id) if stop_id.isdigit() else None
    if stop is None:
        raise not_found("stop_not_found", f"La brigada {office.code} no tiene la parada {stop_id!r}.")
    return stop


async def _check_overlap(office: Office, data: StopIn, exclude_id: int | None = None) -> None:
    query = BrigadeStop.filter(office_id=office.id, starts_on__lte=data.ends_on, ends_on__gte=data.starts_on)
    if exclude_id is not None:
        query = query.exclude(id=exclude_id)
    other = await query.order_by("starts_on").first()
    if other is not None:
        raise conflict("stop_overlaps", f"La brigada ya está en {other.municipality} del {other.starts_on.isoformat()} "
                                        f"al {other.ends_on.isoformat()}: una parada por día.")


async def _remake_slots(office: Office) -> None:
    """The brigade's days changed: its booking rules make the days of the window that
    have no slots yet again on the next request (days already made keep theirs)."""
    await BookingRule.filter(office_id=office.id).update(materialised_on=None)


async def list_stops(actor: Principal, code: str) -> list[dict]:
    _require_admin(actor)
    office = await _brigade(code)
    stops = await BrigadeStop.filter(office_id=office.id).order_by("starts_on", "id")
    return [stop_view(s, office) for s in stops]


async def create_stop(actor: Principal, code: str, data: StopIn) -> dict:
    _require_admin(actor)
    office = await _brigade(code)
    async with in_transaction():
        await Office.filter(id=office.id).select_for_update().get()  # one change of this brigade at a time
        await _check_overlap(office, data)
        stop = await BrigadeStop.create(office_id=office.id, **data.model_dump())
        view = stop_view(stop, office)
        await _remake_slots(office)
        await audit(actor, "brigade_stop.create", f"{office.code}/{stop.id}", office.id, None, view)
    return view


async def update_stop(actor: Principal, code: str, stop_id: str, data: StopIn) -> dict:
    _require_admin(actor)
    office = await _brigade(code)
    async with in_transaction():
        await Office.filter(id=office.id).select_for_update().get()
        stop = await _stop(office, stop_id)
        before = stop_view(stop, office)
        await _check_overlap(office, data, exclude_id=stop.id)
        stop.update_from_dict(data.model_dump())
        await stop.save()
        if not stop.closed:  # open to all now: the institution's list is not kept
            await BrigadeInvitee.filter(stop_id=stop.id).delete()
        after = stop_view(stop, office)
        if after != before:
            await _remake_slots(office)
            await audit(actor, "brigade_stop.update", f"{office.code}/{stop.id}", office.id, before, after)
    return after


async def delete_stop(actor: Principal, code: str, stop_id: str) -> None:
    _require_admin(actor)
    office = await _brigade(code)
    async with in_transaction():
        stop = await _stop(office, stop_id)
        before = stop_view(stop, office)
        await stop.delete()
        await _remake_slots(office)
        await audit(actor, "brigade_stop.delete", f"{office.code}/{stop.id}", office.id, before, None)


# ---------------------------------------------------------------- a closed session's list


def _require_closed(stop: BrigadeStop) -> None:
    if not stop.closed:
        raise conflict("stop_not_closed", "Esa parada está abierta a todos: solo una sesión cerrada (closed) "
                                          "tiene lista de personas.")


async def set_invitees(actor: Principal, code: str, stop_id: str, data: InviteeList) -> dict:
    """Replace the list an institution submitted. The audit keeps the count, never the
    people (names and documents are personal data, read by admins here only)."""
    _require_admin(actor)
    office = await _brigade(code)
    people = {}
    for person in data.people:
        people.setdefault(person.document.document().key, person.name.strip())  # a person listed twice: once
    async with in_transaction():
        stop = await _stop(office, stop_id)
        _require_closed(stop)
        before = await BrigadeInvitee.filter(stop_id=stop.id).count()
        await BrigadeInvitee.filter(stop_id=stop.id).delete()
        await BrigadeInvitee.bulk_create(
            [BrigadeInvitee(stop_id=stop.id, full_name=name, document_key=key) for key, name in people.items()]
        )
        after = {"institution": stop.institution, "people": len(people)}
        await audit(actor, "brigade_stop.invitees", f"{office.code}/{stop.id}", office.id,
                    {"institution": stop.institution, "people": before}, after)
    return {"stop": stop.id, **after}


async def list_invitees(actor: Principal, code: str, stop_id: str) -> list[dict]:
    _require_admin(actor)
    office = await _brigade(code)
    stop = await _stop(office, stop_id)
    _require_closed(stop)
    rows = await BrigadeInvitee.filter(stop_id=stop.id).order_by("full_name", "id")
    return [{"name": r.full_name, "document": r.document_key} for r in rows]
