"""Queue service rules that depend on the office's day: numbering and the day close."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from tests.driver import issue_in
from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.models import Office, Role, User
from turnero.queue import actions, calls, day_close, desks
from turnero.queue.config import QueueConfig
from turnero.queue.models import DeskStatus, Ticket, TicketEvent, TicketStatus

LA_PAZ = ZoneInfo("America/La_Paz")
CONFIG = QueueConfig()


def la_paz(year, month, day, hour, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LA_PAZ).astimezone(timezone.utc)


async def operator(username: str = "operador3") -> Principal:
    user = await User.get(username=username).select_related("office")
    return Principal(user.id, user.username, Role(user.role), user.office_id, user.office.code, 0.0)


async def issue(office: Office, service_code: str = "CI-RENOV", **kw) -> dict:
    return await issue_in(office, service_code, config=CONFIG, **kw)


async def test_numbers_restart_each_office_day_in_the_office_time_zone(db):
    office = await Office.get(code="LPZ-PRINCIPAL")
    clock.freeze(la_paz(2026, 11, 23, 8))  # Monday morning
    assert (await issue(office))["number"] == "C-001"
    assert (await issue(office))["number"] == "C-002"
    # 23:30 in La Paz is already Tuesday in UTC, but still Monday at the office.
    clock.freeze(la_paz(2026, 11, 23, 23, 30))
    assert (await issue(office))["number"] == "C-003"
    clock.freeze(la_paz(2026, 11, 24, 7, 30))
    assert (await issue(office))["number"] == "C-001"
    # Each office counts on its own.
    other = await Office.get(code="LPZ-ZONA-SUR")
    assert (await issue(other))["number"] == "C-001"


async def test_waiting_tickets_are_cancelled_after_closing_time_with_an_event(db):
    office = await Office.get(code="LPZ-PRINCIPAL")
    actor = await operator()
    clock.freeze(la_paz(2026, 11, 23, 10))  # Monday; closes 16:00, grace 60 min
    waiting = [await issue(office) for _ in range(3)]
    await desks.set_desk_status(office, "3", DeskStatus.OPEN, actor)
    called = await calls.call_next(office, "3", actor, CONFIG)
    assert called["id"] == waiting[0]["id"]

    assert await day_close.close_day(office, CONFIG, now=la_paz(2026, 11, 23, 16, 30)) == 0
    assert await day_close.close_day(office, CONFIG, now=la_paz(2026, 11, 23, 17, 0)) == 2

    statuses = {t.public_id: t.status for t in await Ticket.filter(office_id=office.id)}
    assert statuses[waiting[0]["id"]] == TicketStatus.CALLED  # at a desk: not the sweep's business
    assert statuses[waiting[1]["id"]] == statuses[waiting[2]["id"]] == TicketStatus.CANCELLED
    events = await TicketEvent.filter(kind="cancelled", ticket__office_id=office.id)
    assert len(events) == 2 and all(e.data == {"reason": "day_closed"} for e in events)
    # Running it again changes nothing.
    assert await day_close.close_day(office, CONFIG, now=la_paz(2026, 11, 23, 18, 0)) == 0


async def test_yesterdays_tickets_are_cancelled_and_a_day_without_hours_waits(db):
    office = await Office.get(code="LPZ-PRINCIPAL")
    clock.freeze(la_paz(2026, 11, 29, 9))  # Sunday: no opening hours
    sunday = await issue(office)
    assert await day_close.close_day(office, CONFIG, now=la_paz(2026, 11, 29, 20)) == 0
    assert await day_close.close_day(office, CONFIG, now=la_paz(2026, 11, 30, 0, 1)) == 1
    assert (await Ticket.get(public_id=sunday["id"])).status == TicketStatus.CANCELLED


async def test_close_all_days_covers_every_office(db):
    clock.freeze(la_paz(2026, 11, 23, 9))
    for code in ("LPZ-PRINCIPAL", "LPZ-ZONA-SUR"):
        await issue(await Office.get(code=code), "CERT")
    assert await day_close.close_all_days(CONFIG, now=la_paz(2026, 11, 24, 9)) == 2


async def test_position_and_wait_follow_the_interleave_and_open_desks(db):
    office = await Office.get(code="LPZ-PRINCIPAL")
    clock.freeze(la_paz(2026, 11, 23, 9))
    regulars = []
    for _ in range(2):
        regulars.append(await issue(office))
        clock.advance(timedelta(seconds=10))
    seniors = []
    for _ in range(3):
        seniors.append(await issue(office, priority="senior"))
        clock.advance(timedelta(seconds=10))
    # Order under the 2:1 interleave: S1 S2 R1 S3 R2
    view = await actions.public_ticket_view(regulars[1]["id"], CONFIG)
    assert view["position"] == 5
    assert (await actions.public_ticket_view(seniors[2]["id"], CONFIG))["position"] == 4
    assert (await actions.public_ticket_view(regulars[0]["id"], CONFIG))["position"] == 3
    # CI-RENOV takes 7 minutes; with no desk open one is assumed, then more desks share the line.
    assert view["estimated_wait_minutes"] == 32  # ceil(4.5 * 7 / 1)
    for desk, name in (("3", "operador3"), ("4", "operador4"), ("5", "operador5")):  # one desk each
        await desks.set_desk_status(office, desk, DeskStatus.OPEN, await operator(name))
    assert (await actions.public_ticket_view(regulars[1]["id"], CONFIG))["estimated_wait_minutes"] == 11
