"""Public figures of an office (issue 20, transparency): how long people waited by hour
of the day over the last weeks, today's load so far, and how citizens rated their visits
(average and count of the last 30 days). Counts and minutes only — no ticket number,
name, document, desk or operator — so anyone may read them (JSON, CSV, and the page
/oficinas/{office}/estadisticas).

`hourly_figures` is pure: (local hour of issue, minutes waited) pairs in, a row per hour
out. The wait is a visit's first step, issue to first call, as the reports count it."""

from __future__ import annotations

import csv
import io
import statistics
from datetime import timedelta
from zoneinfo import ZoneInfo

from turnero.core import clock
from turnero.core.db import db_datetime
from turnero.core.models import Office
from turnero.queue import satisfaction
from turnero.queue.models import Ticket, TicketStatus

WEEKS = 4  # the period the hourly figures cover, ending yesterday


def hourly_figures(samples: list[tuple[int, float]], days: int) -> list[dict]:
    """Per local hour with any visit: visits per day (mean) and the wait's mean, median
    and 90th percentile in whole minutes."""
    by_hour: dict[int, list[float]] = {}
    for hour, minutes in samples:
        by_hour.setdefault(hour, []).append(minutes)
    rows = []
    for hour in sorted(by_hour):
        waits = sorted(by_hour[hour])
        p90 = waits[min(len(waits) - 1, int(0.9 * len(waits)))]
        rows.append({"hour": f"{hour:02d}:00", "visits_per_day": round(len(waits) / max(1, days), 1),
                     "wait_mean_minutes": round(statistics.fmean(waits)),
                     "wait_median_minutes": round(statistics.median(waits)), "wait_p90_minutes": round(p90)})
    return rows


async def office_statistics(office: Office) -> dict:
    zone = ZoneInfo(office.timezone)
    now = clock.now()
    today = now.astimezone(zone).date()
    first = today - timedelta(weeks=WEEKS)
    start, midnight = clock.day_start(first, zone), clock.day_start(today, zone)
    rows = await Ticket.filter(office_id=office.id, hop=0, issued_at__gte=start).values_list(
        "issued_at", "called_at", "status")
    past, issued_today, served_today = [], 0, 0
    for issued_raw, called_raw, status in rows:
        issued, called = db_datetime(issued_raw), db_datetime(called_raw)
        if issued >= midnight:
            issued_today += 1
            served_today += status in (TicketStatus.DONE, TicketStatus.TRANSFERRED)
        elif called is not None:
            past.append((issued.astimezone(zone).hour, (called - issued).total_seconds() / 60))
    worked_days = len({d for (d,) in await Ticket.filter(
        office_id=office.id, hop=0, issued_at__gte=start, issued_at__lt=midnight).distinct().values_list("day")})
    return {
        "office": office.code,
        "office_name": office.name,
        "period": {"from": first.isoformat(), "to": (today - timedelta(days=1)).isoformat(), "days": worked_days},
        "by_hour": hourly_figures(past, worked_days),
        "today": {
            "date": today.isoformat(),
            "visits": issued_today,
            "served": served_today,
            "waiting_now": await Ticket.filter(office_id=office.id, status=TicketStatus.WAITING).count(),
        },
        "satisfaction": await satisfaction.public_summary(office),
    }


def statistics_csv(figures: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["hora", "visitas_por_dia", "espera_media_min", "espera_mediana_min", "espera_p90_min"])
    for row in figures["by_hour"]:
        writer.writerow([row["hour"], row["visits_per_day"], row["wait_mean_minutes"], row["wait_median_minutes"],
                         row["wait_p90_minutes"]])
    rated = figures.get("satisfaction")
    if rated is not None:  # a second small table after a blank line: the office's ratings
        writer.writerow([])
        writer.writerow(["valoracion_desde", "valoracion_hasta", "valoraciones", "valoracion_media"])
        writer.writerow([rated["from"], rated["to"], rated["count"],
                         "" if rated["average"] is None else rated["average"]])
    return out.getvalue()
