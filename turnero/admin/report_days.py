"""Daily report roll-ups in the database: ReportDay rows to and from reports.ServiceDay.
Retention merges each batch of purged detail in (admin/retention.py); reports read the
days of their period (admin/report_service.py)."""

from __future__ import annotations

from collections import Counter
from datetime import date

from turnero.admin.models import ReportDay
from turnero.admin.reports import ServiceDay, summary, us_minutes
from turnero.core import clock
from turnero.core.db import is_postgres
from turnero.core.models import Service

TICKET_STATUSES = ("done", "no_show", "cancelled", "transferred")
CITA_STATUSES = ("done", "no_show", "cancelled")
_FIELDS = ("id", "revision", "day", "service__code", "visits", "tickets", *TICKET_STATUSES, "slots",
           "slot_capacity", "slot_booked", *(f"citas_{s}" for s in CITA_STATUSES), "detail")


def service_day(row: dict) -> ServiceDay:
    """A ServiceDay from a ReportDay row read with `_FIELDS`."""
    detail = row["detail"] or {}
    return ServiceDay(
        service=row["service__code"], day=row["day"], visits=row["visits"], tickets=row["tickets"],
        statuses=Counter({s: row[s] for s in TICKET_STATUSES if row[s]}),
        hours=Counter({int(h): n for h, n in detail.get("hours", {}).items()}),
        wait_us=list(detail.get("wait_us", [])), service_us=list(detail.get("service_us", [])),
        operators={k: list(v) for k, v in detail.get("operators", {}).items()},
        desks={k: list(v) for k, v in detail.get("desks", {}).items()},
        slots=row["slots"], slot_capacity=row["slot_capacity"], slot_booked=row["slot_booked"],
        citas=Counter({s: row[f"citas_{s}"] for s in CITA_STATUSES if row[f"citas_{s}"]}),
    )


def _columns(d: ServiceDay) -> dict:
    unknown = (set(d.statuses) - set(TICKET_STATUSES)) | (set(d.citas) - set(CITA_STATUSES))
    if unknown:  # only finished detail is ever rolled up
        raise ValueError(f"estados que no se resumen: {sorted(unknown)}")
    wait = summary([us_minutes(us) for us in d.wait_us])
    service = summary([us_minutes(us) for us in d.service_us])
    return {
        "visits": d.visits, "tickets": d.tickets, **{s: d.statuses[s] for s in TICKET_STATUSES},
        "wait_count": wait["count"], "wait_mean": wait["mean"], "wait_p50": wait["p50"], "wait_p90": wait["p90"],
        "service_count": service["count"], "service_mean": service["mean"], "service_p50": service["p50"],
        "service_p90": service["p90"],
        "slots": d.slots, "slot_capacity": d.slot_capacity, "slot_booked": d.slot_booked,
        **{f"citas_{s}": d.citas[s] for s in CITA_STATUSES},
        "detail": {"hours": {str(h): n for h, n in sorted(d.hours.items())}, "wait_us": d.wait_us,
                   "service_us": d.service_us, "operators": d.operators, "desks": d.desks},
    }


async def add(office_id: int, days: list[ServiceDay]) -> None:
    """Merge `days` into the office's rows. Call it in the transaction that deletes the
    detail they sum up, so that every moment the rows and the detail left add up to the
    same figures."""
    if not days:
        return
    codes = sorted({d.service for d in days})
    service_ids = dict(await Service.filter(code__in=codes).values_list("code", "id"))
    now = clock.now()
    for d in days:
        query = ReportDay.filter(office_id=office_id, service_id=service_ids[d.service], day=d.day)
        row = await (query.select_for_update() if is_postgres() else query).first()
        if row is None:
            await ReportDay.create(office_id=office_id, service_id=service_ids[d.service], day=d.day,
                                   updated_at=now, **_columns(d))
            continue
        stored = service_day({**{f: getattr(row, f) for f in _FIELDS if "__" not in f}, "service__code": d.service})
        row.update_from_dict({**_columns(stored.merge(d)), "revision": row.revision + 1, "updated_at": now})
        await row.save()


async def for_period(office_id: int, day_from: date, day_to: date) -> tuple[list[ServiceDay], tuple]:
    """The office's roll-ups of days from `day_from` to `day_to` (both included), and a
    version of them: (id, revision) of each row, which changes whenever a batch merges in."""
    rows = await ReportDay.filter(office_id=office_id, day__gte=day_from, day__lte=day_to) \
        .order_by("day", "service_id").values(*_FIELDS)
    return [service_day(r) for r in rows], tuple((r["id"], r["revision"]) for r in rows)


async def version(office_id: int, day_from: date, day_to: date) -> tuple:
    """for_period's version alone (a report reads it again after the detail)."""
    rows = await ReportDay.filter(office_id=office_id, day__gte=day_from, day__lte=day_to) \
        .order_by("day", "service_id").values_list("id", "revision")
    return tuple(tuple(r) for r in rows)
