"""The lobby board: recent calls, waiting counts, desks — ticket numbers only, never
names, documents or phones (the board and its WebSocket are public)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from turnero.core import clock
from turnero.core.models import Office, OfficeService
from turnero.queue import waiting
from turnero.queue.models import ACTIVE_AT_DESK, Desk, Ticket

RECENT_CALLS = 8
# A snapshot also lists every call of this last while (up to RECENT_WINDOW_MAX), so a
# screen that was cut off (a Redis outage, a network blip) can announce the calls it
# missed, in order, instead of only showing the last RECENT_CALLS.
RECENT_WINDOW_SECONDS = 300
RECENT_WINDOW_MAX = 60


async def recent_calls(office: Office, limit: int = RECENT_CALLS, since: datetime | None = None) -> list[dict]:
    """Today's latest calls, newest first (with `since`: only those called since then)."""
    tz = ZoneInfo(office.timezone)
    today = clock.local_day(clock.now(), office.timezone)
    query = Ticket.filter(office_id=office.id, day=today, called_at__isnull=False)
    if since is not None:
        query = query.filter(called_at__gte=since)
    recent = await query.order_by("-called_at", "-id").limit(limit).select_related("service", "desk")
    return [
        {
            "ticket": t.number,
            "service": t.service.code,
            "service_name": t.service.name,
            "desk": t.desk.name if t.desk else None,
            "called_at": t.called_at.astimezone(tz).isoformat(timespec="seconds"),
            "recall_count": t.recall_count,
        }
        for t in recent
    ]


async def waiting_counts(office: Office) -> dict[str, int]:
    """Tickets waiting per service code; every service the office offers appears. From
    the office's lines held in memory (queue/waiting.py): no scan of the line."""
    catalogue = await OfficeService.filter(office_id=office.id).values_list("service_id", "service__code")
    counts = (await waiting.office_lines(office.id)).counts()
    return {code: counts.get(sid, 0) for sid, code in sorted(catalogue, key=lambda row: row[1])}


async def board_desks(office: Office) -> list[dict]:
    """Each desk's name, status and the ticket it is calling or serving."""
    desks = await Desk.filter(office_id=office.id).order_by("id").values_list("id", "name", "status")
    serving = dict(
        await Ticket.filter(office_id=office.id, status__in=ACTIVE_AT_DESK, desk_id__isnull=False)
        .values_list("desk_id", "number")
    )
    return [{"name": name, "status": str(status), "serving": serving.get(pk)} for pk, name, status in desks]


async def service_names(office: Office) -> dict[str, str]:
    rows = await OfficeService.filter(office_id=office.id).values_list("service__code", "service__name")
    return dict(rows)


async def board_snapshot(office: Office) -> dict:
    since = clock.now() - timedelta(seconds=RECENT_WINDOW_SECONDS)
    window = await recent_calls(office, RECENT_WINDOW_MAX, since=since)
    # The board's last calls are the window's first ones when it holds enough of them.
    calls = window[:RECENT_CALLS] if len(window) >= RECENT_CALLS else await recent_calls(office)
    return {
        "office": office.code,
        "office_name": office.name,
        "services": await service_names(office),
        "calls": calls,
        # Every call of the last RECENT_WINDOW_SECONDS, newest first: what a screen that
        # was cut off compares with what it announced (display.js).
        "recent_calls": window,
        "recent_window_seconds": RECENT_WINDOW_SECONDS,
        "waiting": await waiting_counts(office),
        "desks": await board_desks(office),
    }
