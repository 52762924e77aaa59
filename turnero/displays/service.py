"""The lobby board snapshot: recent calls, waiting counts, desks — no personal data."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from tortoise.functions import Count

from turnero.core import clock
from turnero.core.models import Office, OfficeService
from turnero.queue.models import Ticket, TicketStatus
from turnero.queue.service import desk_views

RECENT_CALLS = 8


async def board_snapshot(office: Office) -> dict:
    tz = ZoneInfo(office.timezone)
    today = clock.local_day(clock.now(), office.timezone)
    recent = (
        await Ticket.filter(office_id=office.id, day=today, called_at__isnull=False)
        .order_by("-called_at", "-id")
        .limit(RECENT_CALLS)
        .select_related("service", "desk")
    )
    catalogue = await OfficeService.filter(office_id=office.id).values_list("service__code", flat=True)
    waiting = {code: 0 for code in sorted(catalogue)}
    counts = (
        await Ticket.filter(office_id=office.id, status=TicketStatus.WAITING)
        .annotate(n=Count("id"))
        .group_by("service__code")
        .values_list("service__code", "n")
    )
    waiting.update({code: n for code, n in counts})
    return {
        "office": office.code,
        "office_name": office.name,
        "calls": [
            {
                "ticket": t.number,
                "service": t.service.code,
                "service_name": t.service.name,
                "desk": t.desk.name if t.desk else None,
                "called_at": t.called_at.astimezone(tz).isoformat(timespec="seconds"),
                "recall_count": t.recall_count,
            }
            for t in recent
        ],
        "waiting": waiting,
        "desks": [
            {"name": d["name"], "status": d["status"], "serving": d["serving"]}
            for d in await desk_views(office)
        ],
    }
