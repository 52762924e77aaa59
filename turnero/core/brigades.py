"""Mobile brigades and rotating offices: an office's hours on a date, and the public list
of upcoming stops.

A fixed office is open on a date by its weekly `opening_hours`. A brigade
(`Office.kind == "brigade"`) is open only on the dates of its stops, with the stop's
hours; on a date with no stop it is closed. Scheduler (slots) and queue (walk-in
tickets) ask here, so both read one rule; the administration of stops is in
admin/brigades.py.
"""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta

from turnero.core import clock
from turnero.core.errors import ApiError, invalid
from turnero.core.models import BrigadeInvitee, BrigadeStop, Office, OfficeKind, OfficeService

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UPCOMING_LIMIT = 50


def is_brigade(office: Office) -> bool:
    return office.kind == OfficeKind.BRIGADE


async def stops_between(office: Office, first: date, last: date) -> list[BrigadeStop]:
    """The office's stops that touch [first, last], earliest first (one query)."""
    return await BrigadeStop.filter(office_id=office.id, starts_on__lte=last, ends_on__gte=first).order_by(
        "starts_on", "id"
    )


def stop_on(stops: list[BrigadeStop], day: date) -> BrigadeStop | None:
    return next((s for s in stops if s.starts_on <= day <= s.ends_on), None)


async def hours_by_day(office: Office, days: list[date]) -> dict[date, list[list[str]]]:
    """Each day's opening spans ([["08:00", "16:00"]]; empty: closed) — the weekly
    hours of a fixed office, the stop's hours for a brigade."""
    if not days:
        return {}
    if not is_brigade(office):
        weekly = office.opening_hours or {}
        return {day: list(weekly.get(WEEKDAYS[day.weekday()]) or []) for day in days}
    stops = await stops_between(office, min(days), max(days))
    result = {}
    for day in days:
        stop = stop_on(stops, day)
        result[day] = list(stop.hours) if stop else []
    return result


async def hours_on(office: Office, day: date) -> list[list[str]]:
    """The office's opening spans on `day` (empty: closed that day)."""
    return (await hours_by_day(office, [day]))[day]


async def weekly_hours_by_day(office: Office, days: list[date], weekly: dict | None = None) -> dict[date, dict]:
    """For code that reads weekly hours ({"mon": [[…]]}) one day at a time: per day, the
    weekly hours to use — `weekly` (or the office's) for a fixed office; for a brigade,
    that weekday holding the stop's hours (an empty dict: no stop, closed)."""
    if not is_brigade(office):
        hours = weekly if weekly is not None else (office.opening_hours or {})
        return {day: hours for day in days}
    by_day = await hours_by_day(office, days)
    return {day: ({WEEKDAYS[day.weekday()]: spans} if spans else {}) for day, spans in by_day.items()}


async def open_on(office: Office, day: date) -> bool:
    """Whether a brigade has a stop on `day`; a fixed office always answers True (its
    weekly hours are not a walk-in rule: kiosks may open early or stay late)."""
    if not is_brigade(office):
        return True
    return bool(await hours_on(office, day))


async def walk_in_refusal(office: Office, day: date) -> None:
    """422 when the office takes no walk-in on `day`: a brigade with no stop then
    (`office_closed`) or at a closed session (`closed_session`: only the institution's
    list, by cita). A fixed office is never refused here (its kiosk keeps its hours)."""
    if not is_brigade(office):
        return
    stop = stop_on(await stops_between(office, day, day), day)
    if stop is None or not stop.hours:
        raise invalid(f"{office.name} no tiene parada hoy: vea sus próximas paradas.", code="office_closed")
    if stop.closed:
        raise invalid(f"Hoy {office.name} atiende una sesión cerrada ({stop.institution or 'institucional'}): "
                      "solo las personas de la lista, con cita.", code="closed_session")


async def check_invited(office: Office, day: date, document_key: str) -> None:
    """403 `not_on_the_list` when `day` is a closed session of the brigade and the
    document is not on the institution's list (citas: booking and rescheduling)."""
    if not is_brigade(office):
        return
    stop = stop_on(await stops_between(office, day, day), day)
    if stop is None or not stop.closed:
        return
    if not await BrigadeInvitee.exists(stop_id=stop.id, document_key=document_key):
        raise ApiError(403, "not_on_the_list", f"Ese día {office.name} atiende una sesión cerrada "
                       f"({stop.institution or 'institucional'}): solo las personas de la lista que entregó la "
                       "institución.")


def _folded(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


def stop_view(stop: BrigadeStop, office: Office) -> dict:
    """What anyone may read of a stop: the place, the dates and the hours (no people)."""
    return {
        "id": stop.id,
        "office": office.code,
        "office_name": office.name,
        "institution": office.institution,
        "municipality": stop.municipality,
        "department": stop.department,
        "address": stop.address,
        "starts_on": stop.starts_on.isoformat(),
        "ends_on": stop.ends_on.isoformat(),
        "hours": stop.hours,
        "note": stop.note,
        # A closed session (a campaign in a prison, a school): only the people on the list of
        # `campaign` (the institution) may book; the list itself is never shown here.
        "closed": stop.closed,
        "campaign": stop.institution,
    }


async def upcoming_stops(city: str | None = None, *, service_id: int | None = None,
                         limit: int = UPCOMING_LIMIT) -> list[dict]:
    """Stops of active brigades that have not ended yet, soonest first. `city` matches
    the stop's municipality or the brigade's home city (case and accents ignored);
    `service_id`: only brigades that offer that trámite."""
    today = clock.local_day(clock.now(), "America/La_Paz") - timedelta(days=1)  # zones west of UTC-4 too
    query = BrigadeStop.filter(ends_on__gte=today, office__active=True, office__kind=OfficeKind.BRIGADE)
    if service_id is not None:
        offering = await OfficeService.filter(service_id=service_id).values_list("office_id", flat=True)
        query = query.filter(office_id__in=list(offering))
    stops = await query.order_by("starts_on", "id").prefetch_related("office")
    wanted = _folded(city) if city else None
    result = []
    for stop in stops:
        office = stop.office
        if stop.ends_on < clock.local_day(clock.now(), office.timezone):
            continue
        if wanted and wanted not in (_folded(stop.municipality), _folded(office.city)):
            continue
        result.append(stop_view(stop, office))
        if len(result) >= limit:
            break
    return result
