"""Day close: tickets still waiting after an office's day is over are cancelled."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from turnero.core import brigades, clock
from turnero.core.models import Office
from turnero.queue.config import QueueConfig
from turnero.queue.events import _publish_queue_changed
from turnero.queue.models import Ticket, TicketEvent, TicketStatus

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def closing_time(office: Office, day: date, spans: list | None = None) -> time | None:
    """The office's last closing time on `day`, from its opening hours (or that day's
    `spans`, a brigade's stop's); None if closed."""
    if spans is None:
        spans = (office.opening_hours or {}).get(_WEEKDAYS[day.weekday()]) or []
    ends = [time.fromisoformat(end) for _start, end in spans]
    return max(ends) if ends else None


def day_is_over(office: Office, day: date, now: datetime, grace: timedelta, spans: list | None = None) -> bool:
    """Whether tickets of `day` still waiting should be cancelled at `now`."""
    tz = ZoneInfo(office.timezone)
    local_now = now.astimezone(tz)
    if day < local_now.date():
        return True
    if day > local_now.date():
        return False
    close = closing_time(office, day, spans)
    if close is None:
        return False  # a day with no hours (special opening): closed by the next day's sweep
    return local_now >= datetime.combine(day, close, tz) + grace


async def close_day(office: Office, config: QueueConfig, now: datetime | None = None) -> int:
    """Cancel the office's tickets still waiting after its day is over; returns how many."""
    now = now or clock.now()
    days = await Ticket.filter(office_id=office.id, status=TicketStatus.WAITING).distinct().values_list("day", flat=True)
    hours = await brigades.hours_by_day(office, list(days)) if brigades.is_brigade(office) else {}
    over = [d for d in days if day_is_over(office, d, now, config.day_close_grace, hours.get(d))]
    if not over:
        return 0
    cancelled = 0
    async with in_transaction():
        stale = await Ticket.filter(
            office_id=office.id, status=TicketStatus.WAITING, day__in=over
        ).select_for_update()
        for ticket in stale:
            ticket.status, ticket.finished_at = TicketStatus.CANCELLED, now
            await ticket.save(update_fields=["status", "finished_at"])
            await TicketEvent.create(ticket=ticket, kind="cancelled", at=now, data={"reason": "day_closed"})
            cancelled += 1
    if cancelled:
        await _publish_queue_changed(office)
    return cancelled


async def close_all_days(config: QueueConfig, now: datetime | None = None) -> int:
    total = 0
    for office in await Office.filter(active=True):
        total += await close_day(office, config, now)
    return total
