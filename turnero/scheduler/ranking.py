"""Where to go for a trámite: the offices ranked by a walk-in's predicted wait (the
queue's estimate, queue/ranking.py) and then the next free cita (this package's
availability), the faster office to propose to someone at a slow one, and the mobile
brigades' stops ahead. It sits with the citas because it needs both: the citas package
may read the queue, the queue never reads the citas."""

from __future__ import annotations

from datetime import datetime

from turnero.core import brigades
from turnero.core.errors import not_found
from turnero.core.models import Office
from turnero.core.service import get_service
from turnero.queue import balancing, policy
from turnero.queue.ranking import recommend_offices
from turnero.scheduler.availability import offices_for_service
from turnero.scheduler.config import SchedulerConfig


async def ranking(
    service_code: str, config: policy.PolicyConfig, *, city: str | None = None, near: str | None = None,
    scheduler_config: SchedulerConfig,
) -> dict:
    """The offices ranked for a trámite (walk-in wait, then next free cita) and, when
    `near` is the citizen's office and its wait is long, the faster office to propose."""
    service = await get_service(service_code)
    here = None
    if near is not None:
        here = await Office.get_or_none(code=near, active=True)
        if here is None:
            raise not_found("office_not_found", f"No existe la oficina {near!r}.")
        city = city or here.city
    next_free = {}
    if service.bookable:
        for row in await offices_for_service(service.code, scheduler_config):
            if row.get("next_free"):
                next_free[row["code"]] = datetime.fromisoformat(row["next_free"]["start"])
    ranked = await recommend_offices(service.code, config, city=city, near=near, next_free=next_free)
    suggestion = None
    if here is not None:
        options = [
            balancing.OfficeOption(
                o["office"], o["name"], o["estimated_wait_minutes"], o["waiting"], o["open_desks"],
                datetime.fromisoformat(o["next_appointment"]) if o["next_appointment"] else None,
            )
            for o in ranked
        ]
        best = balancing.faster_alternative(options, here.code)
        if best is not None:
            local = next(o for o in options if o.office == here.code)
            target = await Office.get(code=best.office)
            suggestion = {
                **best.as_dict(), "address": target.address,
                "saving_minutes": local.wait_minutes - best.wait_minutes,
                "message": (
                    f"La espera aquí es de unos {local.wait_minutes} min. En {target.name} ({target.address})"
                    + (f" es de unos {best.wait_minutes} min." if best.wait_minutes else " no hay espera.")
                ),
            }
    # Mobile brigades offering the trámite, with their stops ahead (in the city, when given).
    stops = await brigades.upcoming_stops(city, service_id=service.id)
    return {"service": service.code, "city": city, "offices": ranked, "suggestion": suggestion, "brigades": stops}
