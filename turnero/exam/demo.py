"""The demo exam room and question bank, and the demo office's exam session times."""

from __future__ import annotations

from turnero.core.models import Office
from turnero.exam import booking
from turnero.exam.models import ExamRoom
from turnero.exam.questions import seed_demo_bank
from turnero.exam.rooms import create_room
from turnero.scheduler.models import BookingRule

DEMO_ROOM = ("SALA-1", "Sala de exámenes teóricos", 20)
# Sessions of one hour at set times; booked up to 30 days ahead, at least 2 hours
# before; cancelled or moved up to 24 hours before.
_WEEKDAY_SESSIONS = [["08:00", "09:00"], ["10:00", "11:00"], ["14:30", "15:30"]]
DEMO_SESSIONS = {
    "slot_minutes": 60, "window_days": 30, "min_notice_minutes": 120, "cancel_cutoff_minutes": 24 * 60,
    "hours": {day: _WEEKDAY_SESSIONS for day in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [["08:00", "09:00"]]},
}


async def seed_exam_demo(office: Office) -> None:
    """The demo exam room (20 computers) and the demo question bank, if missing."""
    code, name, seats = DEMO_ROOM
    if not await ExamRoom.exists(office_id=office.id, code=code):
        await create_room(office, code, name, seats)
    await seed_demo_bank()
    service = await booking.exam_service(office)
    if service is not None:  # the session times: booked as citas of the exam service
        await BookingRule.get_or_create(office=office, service=service, defaults=DEMO_SESSIONS)
