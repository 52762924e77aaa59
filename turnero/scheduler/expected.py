"""The citas an office still expects today, for the queue's wait estimate (plugged in
by turnero/wiring.py: the queue does not import the scheduler). A booked cita takes a
desk at its time, ahead of the walk-ins waiting then; the estimate must count the ones
not checked in yet, or every walk-in is promised the desks' time the citas will take.
Not every booked cita comes: how many did on the office's earlier days goes with them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.functions import Count

from turnero.scheduler.models import Appointment, AppointmentStatus

# The earlier days whose citas say how many of the booked come.
SHOW_DAYS = 14
_CAME = (AppointmentStatus.CHECKED_IN, AppointmentStatus.DONE)


@dataclass(frozen=True)
class ExpectedCitas:
    coming: list[tuple[int, datetime, int]]  # (service id, start, party size), earliest first
    came: int  # of the earlier days' citas that were not cancelled: checked in
    booked: int  # ...of how many


async def expected_citas(office_id: int, day_start: datetime, now: datetime, late: timedelta) -> ExpectedCitas:
    """The citas of the day beginning at `day_start` (the office's local midnight) still
    booked (not checked in, not cancelled) that can still check in (`late`: how long
    after its start a cita is let in), and the earlier days' record of how many came."""
    coming = await Appointment.filter(
        office_id=office_id, status=AppointmentStatus.BOOKED, start__gte=max(day_start, now - late),
        start__lt=day_start + timedelta(days=1),
    ).order_by("start", "id").values_list("service_id", "start", "party_size")
    # Counted in the database (the office-status-start index): this runs with every replay.
    earlier = await Appointment.filter(
        office_id=office_id, start__gte=day_start - timedelta(days=SHOW_DAYS), start__lt=day_start,
    ).exclude(status=AppointmentStatus.CANCELLED).annotate(n=Count("id")).group_by("status").values_list("status", "n")
    return ExpectedCitas([(s, start, max(1, party or 1)) for s, start, party in coming],
                         sum(n for status, n in earlier if status in _CAME), sum(n for _status, n in earlier))
