"""Offices ranked for a trámite by the wait a walk-in would have now (the same figure
the office's kiosk and board show, eta_service) and the next free cita, and the faster
office to propose to a citizen whose office has a long line."""

from __future__ import annotations

from datetime import datetime

from turnero.core import brigades, clock
from turnero.core.models import Office
from turnero.core.service import get_service
from turnero.queue import balancing, eta_service, policy


async def walk_in_waits(service_code: str, offices: list[Office], config: policy.PolicyConfig) -> dict[str, dict]:
    """Per office code: `estimated_wait_minutes` for a regular walk-in for the service
    and how many wait in that line now (for GET /api/offices?service=CODE)."""
    out = {}
    for office in offices:
        s = (await eta_service.service_estimates(office, config)).get(service_code)
        if s is not None:
            out[office.code] = {"estimated_wait_minutes": s.wait_minutes, "waiting": s.waiting}
    return out


async def add_walk_in_waits(offices: list[dict], service_code: str, config: policy.PolicyConfig) -> list[dict]:
    """GET /api/offices?service=CODE: adds `estimated_wait_minutes` (a regular walk-in,
    None when the trámite takes no walk-ins) and `waiting` to each office dict."""
    service = await get_service(service_code)
    rows = await Office.filter(code__in=[o["code"] for o in offices])
    waits = await walk_in_waits(service.code, rows, config)
    for o in offices:
        w = waits.get(o["code"], {"estimated_wait_minutes": None, "waiting": 0})
        o["estimated_wait_minutes"] = w["estimated_wait_minutes"] if service.walk_in else None
        o["waiting"] = w["waiting"]
    return offices


async def recommend_offices(
    service_code: str, config: policy.PolicyConfig, *, city: str | None = None, near: str | None = None,
    next_free: dict[str, datetime] | None = None,
) -> list[dict]:
    """Offices (of `city`, if given) offering the trámite: fastest first for a walk-in,
    each with its next free cita time from `next_free` (office code -> time)."""
    service = await get_service(service_code)
    query = Office.filter(active=True, catalogue__service_id=service.id)
    if city:
        query = query.filter(city__iexact=city)
    offices = await query.order_by("code").distinct()
    options = []
    for office in offices:
        if not await brigades.open_on(office, clock.local_day(clock.now(), office.timezone)):
            continue  # a brigade elsewhere today: its stops are listed apart (`ranking`)
        s = (await eta_service.service_estimates(office, config))[service.code]
        cita = (next_free or {}).get(office.code) if service.bookable else None
        options.append(balancing.OfficeOption(
            office.code, office.name, s.wait_minutes if service.walk_in else None, s.waiting, s.open_desks, cita,
        ))
    return [o.as_dict() for o in balancing.rank_offices(options, current=near)]
