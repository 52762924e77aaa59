"""Wait estimates read from a real database (SQLite and PostgreSQL) through the real
queue engine: history rows with a known answer, today's finished calls, snapshots."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.driver import issue_in, issue_response
from turnero.core import clock, wait_words
from turnero.core.auth import Principal
from turnero.core.errors import ApiError
from turnero.core.models import Office, Role, Service, User
from turnero.queue import (
    actions,
    balancing,
    calls,
    desk_balancing,
    desks,
    eta,
    eta_inputs,
    eta_service,
    policy,
    ranking,
    waiting,
)
from turnero.queue.config import QueueConfig
from turnero.queue.models import Desk, DeskEvent, DeskService, DeskStatus, Ticket, TicketStatus
from turnero.scheduler.models import Appointment, AppointmentStatus, Slot

LA_PAZ = ZoneInfo("America/La_Paz")
CONFIG = QueueConfig()
POLICY = CONFIG.policy


def la_paz(day, hour, minute=0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LA_PAZ).astimezone(timezone.utc)


@pytest.fixture(autouse=True)
def _fresh_cache():
    eta_service.clear_cache()
    yield
    eta_service.clear_cache()


async def services_now(office: Office, estimate=None) -> dict:
    """Per service code, the estimate's figures for the office's lines now."""
    estimate = estimate or await eta_service.estimates_for_office(office, POLICY)
    return estimate.services(await waiting.office_lines(office.id))


async def actor() -> Principal:
    user = await User.get(username="supervisor").select_related("office")
    return Principal(user.id, user.username, Role(user.role), user.office_id, user.office.code, 0.0)


async def issue(office: Office, code: str = "CI-RENOV", **kw) -> dict:
    view = await issue_in(office, code, config=CONFIG, **kw)
    clock.advance(timedelta(seconds=5))
    return view


async def history(office: Office, code: str, *, days_ago: int, hour: int, minutes: float, count: int,
                  desk: Desk | None = None, spread: float = 0.0) -> None:
    """Finished calls of `minutes` each (± `spread`, alternately), called at `hour` (La Paz)
    `days_ago` days before the 23rd."""
    svc = await Service.get(code=code)
    for n in range(count):
        called = la_paz(23 - days_ago, hour, n % 50)
        await Ticket.create(
            public_id=f"h{code}{days_ago}{hour}{n}", visit_id=f"v{code}{days_ago}{hour}{n}", office=office,
            service=svc, day=called.astimezone(LA_PAZ).date(), number=f"H-{hour}{n:03d}", status=TicketStatus.DONE,
            desk=desk, arrived_at=called - timedelta(minutes=20), issued_at=called - timedelta(minutes=20),
            called_at=called, started_at=called,
            finished_at=called + timedelta(minutes=minutes + (spread if n % 2 else -spread)),
        )


async def test_history_with_a_known_service_time_gives_known_waits(db):
    office = await Office.get(code="LPZ-ZONA-SUR")
    await history(office, "CI-RENOV", days_ago=3, hour=10, minutes=10.0, count=400)
    clock.freeze(la_paz(23, 10))
    await desks.set_desk_status(office, "3", DeskStatus.OPEN, await actor())
    tickets = [await issue(office) for _ in range(3)]
    estimate = await eta_service.estimates_for_office(office, POLICY, with_arrivals=False)
    ids = [(await Ticket.get(public_id=t["id"])).id for t in tickets]
    assert [estimate.tickets[i] for i in ids] == [0, 10, 20]
    ci = (await services_now(office, estimate))["CI-RENOV"]
    assert (ci.waiting, ci.open_desks, ci.primary_desks) == (3, 1, 1.0)
    assert abs(ci.service_minutes - 10.0) < 0.2 and ci.wait_minutes == 30
    # The other hours of the day also learn from the history (7-minute prior, 10 observed).
    model = await eta_inputs.service_times(office)
    assert 9.5 < model.minutes_at_hour((await Service.get(code="CI-RENOV")).id, 14) <= 10.0
    ticket = await Ticket.get(public_id=tickets[2]["id"])
    assert await eta_service.estimate_for_ticket(ticket, office, POLICY) == 20


async def test_a_desk_that_was_slow_on_earlier_days_is_played_slow(db):
    office = await Office.get(code="LPZ-ZONA-SUR")
    slow, fast = await Desk.get(office=office, name="3"), await Desk.get(office=office, name="4")
    await history(office, "CI-RENOV", days_ago=3, hour=10, minutes=15.0, count=300, desk=slow)
    await history(office, "CI-RENOV", days_ago=4, hour=10, minutes=5.0, count=300, desk=fast)
    clock.freeze(la_paz(23, 10))
    await desks.set_desk_status(office, "3", DeskStatus.OPEN, await actor())
    tickets = [await issue(office) for _ in range(3)]
    estimate = await eta_service.estimates_for_office(office, POLICY, with_arrivals=False)
    ids = [(await Ticket.get(public_id=t["id"])).id for t in tickets]
    model = await eta_inputs.service_times(office)
    assert abs(model.pace(slow.id) - (20 + 300 * 1.5) / 320) < 0.01  # 15 min where the office takes 10
    assert [estimate.tickets[i] for i in ids] == [0, 15, 29]


async def test_a_morning_of_long_calls_stretches_the_day_only_where_days_really_differ(db):
    """Today's first 40 calls took 13 min against the usual 10. Where the earlier days
    were alike but for their calls' scatter (6 or 14 min), that is luck and the desks are
    still played at 10 min; where whole days differed (7 and 13 min), today is believed."""
    office = await Office.get(code="LPZ-ZONA-SUR")
    svc = await Service.get(code="CI-RENOV")
    for days_ago in range(1, 7):
        await history(office, "CI-RENOV", days_ago=days_ago, hour=9, minutes=10.0, spread=4.0, count=100)
    await history(office, "CI-RENOV", days_ago=0, hour=8, minutes=13.0, spread=4.0, count=40)
    clock.freeze(la_paz(23, 9, 30))
    alike = await eta_inputs.service_times(office)
    assert alike.day_weight[svc.id] == eta.MAX_DAY_WEIGHT
    assert abs(alike.minutes_at_hour(svc.id, 9) - 10.0) < 0.1

    await Ticket.filter(office=office, day__lt=date(2026, 11, 23)).delete()
    for days_ago in range(1, 7):
        await history(office, "CI-RENOV", days_ago=days_ago, hour=9, minutes=7.0 if days_ago % 2 else 13.0,
                      spread=1.0, count=100)
    eta_service.clear_cache()
    differ = await eta_inputs.service_times(office)
    assert differ.day_weight[svc.id] < 10
    assert differ.minutes_at_hour(svc.id, 9) > 12.0


async def walk_ins_history(office: Office, code: str, lane: str, *, days_ago: int, hour: int, count: int) -> None:
    """`count` walk-ins of `lane` issued between hour:00 and hour:29 `days_ago` days before the 23rd."""
    svc = await Service.get(code=code)
    for n in range(count):
        issued = la_paz(23 - days_ago, hour, n * 30 // count)
        await Ticket.create(
            public_id=f"w{lane[0]}{code}{days_ago}{hour}{n}", visit_id=f"w{lane[0]}{code}{days_ago}{hour}{n}",
            office=office, service=svc, day=issued.astimezone(LA_PAZ).date(), number=f"W{lane[0]}-{hour}{n:03d}",
            status=TicketStatus.DONE, priority="senior" if lane == "preferential" else "regular", lane=lane,
            arrived_at=issued, issued_at=issued,
            called_at=issued + timedelta(minutes=40), started_at=issued + timedelta(minutes=40),
            finished_at=issued + timedelta(minutes=45))


async def test_a_desk_is_expected_to_take_its_usual_lunch(db):
    """A desk that pauses at 10:30 for half an hour on every weekday is expected to: the
    ticket it would have called then waits until it is back; once it took its pause
    today, nobody waits for it any more."""
    office = await Office.get(code="LPZ-ZONA-SUR")
    await history(office, "CI-RENOV", days_ago=3, hour=10, minutes=10.0, count=400)
    desk = await Desk.get(office=office, name="3")
    for day in (16, 17, 18, 19, 20):  # Monday 16th to Friday 20th
        for kind, hh, mm in (("open", 8, 0), ("paused", 10, 30), ("open", 11, 0), ("closed", 16, 0)):
            await DeskEvent.create(desk=desk, kind=kind, at=la_paz(day, hh, mm))
    clock.freeze(la_paz(23, 10))
    await desks.set_desk_status(office, "3", DeskStatus.OPEN, await actor())
    tickets = [await issue(office) for _ in range(5)]
    ids = [(await Ticket.get(public_id=t["id"])).id for t in tickets]
    estimate = await eta_service.estimates_for_office(office, POLICY, with_arrivals=False)
    assert [estimate.tickets[i] for i in ids] == [0, 10, 20, 60, 70]
    # The pause taken today (at 10:25, near its usual time): after it, the line moves on.
    clock.freeze(la_paz(23, 10, 25))
    await desks.set_desk_status(office, "3", DeskStatus.PAUSED, await actor())
    clock.freeze(la_paz(23, 10, 55))
    await desks.set_desk_status(office, "3", DeskStatus.OPEN, await actor())
    eta_service.clear_cache()
    estimate = await eta_service.estimates_for_office(office, POLICY, with_arrivals=False)
    assert [estimate.tickets[i] for i in ids] == [0, 10, 20, 30, 40]


async def test_a_desk_is_expected_to_take_the_pause_planned_for_it(db):
    """A pause in the day's plan (pause_plan.py) is played like a habit, with no history:
    written while tickets wait, the next estimate holds the ticket the desk would have
    called then until it is back."""
    from turnero.queue import pause_plan

    office = await Office.get(code="LPZ-ZONA-SUR")
    await history(office, "CI-RENOV", days_ago=3, hour=10, minutes=10.0, count=400)
    clock.freeze(la_paz(23, 10))
    await desks.set_desk_status(office, "3", DeskStatus.OPEN, await actor())
    tickets = [await issue(office) for _ in range(5)]
    ids = [(await Ticket.get(public_id=t["id"])).id for t in tickets]
    estimate = await eta_service.estimates_for_office(office, POLICY, with_arrivals=False)
    assert [estimate.tickets[i] for i in ids] == [0, 10, 20, 30, 40]
    plan = [pause_plan.Pause("3", datetime.min.replace(hour=10, minute=30).time(), 30, "refrigerio")]
    await pause_plan.replace_plan(office, la_paz(23, 10).astimezone(LA_PAZ).date(), plan, await actor())
    estimate = await eta_service.current_estimate(office, POLICY)  # the plan changed the desks: replayed now
    assert [estimate.tickets[i] for i in ids[:4]] == [0, 10, 20, 60]


async def test_walk_ins_still_at_the_kiosks_are_expected_from_the_usual_day(db):
    """At the doors' opening nothing is issued yet: the preferential walk-ins the office
    usually issues in the coming hour are still expected (and go before a regular one
    issued now), scaled by how today compares; a weekend day is not a weekday's guide."""
    office = await Office.get(code="LPZ-ZONA-SUR")
    ci = await Service.get(code="CI-RENOV")
    for days_ago in (1, 2, 3):  # Fri 20, Thu 19 … before Monday the 23rd; Sun 22 is the weekend
        await walk_ins_history(office, "CI-RENOV", "preferential", days_ago=days_ago + 2, hour=7, count=12)
        await walk_ins_history(office, "CI-RENOV", "regular", days_ago=days_ago + 2, hour=7, count=60)
    await walk_ins_history(office, "CI-RENOV", "preferential", days_ago=1, hour=7, count=300)  # Sunday: not counted
    today = la_paz(23, 7).astimezone(LA_PAZ).date()
    expected = await eta_inputs.expected_arrivals(office, today, la_paz(23, 7))
    key = (ci.id, "preferential", None, 0)
    assert expected[key] == pytest.approx(12.0)  # the mean over the three weekdays, nobody issued yet
    assert expected[(ci.id, "regular", None, 0)] == pytest.approx(60.0)
    # Past the usual arrivals nothing more is expected; a quiet morning lowers the figure.
    eta_inputs.clear_cache()
    assert await eta_inputs.expected_arrivals(office, today, la_paz(23, 9)) == {}
    eta_inputs.clear_cache()
    later = await eta_inputs.expected_arrivals(office, today, la_paz(23, 7, 15))
    assert 0 < later[key] < 6.0  # 6 usually come after 07:15, and today nobody came by then
    # The replay plays them in: the second regular ticket issued at the doors waits for
    # the preferential ones who come while the first is at the desk.
    eta_inputs.clear_cache()
    clock.freeze(la_paz(23, 7))
    await desks.set_desk_status(office, "3", DeskStatus.OPEN, await actor())
    await issue(office)
    second = await Ticket.get(public_id=(await issue(office))["id"])
    alone = (await eta_service.estimates_for_office(office, POLICY, with_arrivals=False)).tickets[second.id]
    eta_service.clear_cache()
    behind_them = (await eta_service.estimates_for_office(office, POLICY)).tickets[second.id]
    assert 0 < alone < behind_them


async def cita(office: Office, code: str, start: datetime, status: AppointmentStatus, n: int) -> None:
    svc = await Service.get(code=code)
    slot, _ = await Slot.get_or_create(office_id=office.id, service_id=svc.id, start=start, defaults={
        "end": start + timedelta(minutes=15), "day": start.astimezone(LA_PAZ).date(), "capacity": 50})
    await Appointment.create(
        public_id=f"cita{n:08d}", code=f"C{n:07d}", office=office, service=svc, slot=slot, start=start,
        end=slot.end, status=status, document_number=f"{n}", document_key=f"ci:{n}", name="Juana Mamani",
        created_at=start - timedelta(days=3))


async def test_citas_booked_for_later_today_are_expected_at_their_time(db):
    """A walk-in waits behind the citas that will fall due before its call, though none
    has checked in yet: the booked ones still on time, as many as came on earlier days
    (there: 5 of 10, shrunk to 90 % by 10 citas' weight: 70 %). Cancelled, checked-in
    (a ticket already) and too late ones (past the check-in window) are not expected."""
    office = await Office.get(code="LPZ-ZONA-SUR")
    for n in range(10):  # last week: half of them came
        status = AppointmentStatus.DONE if n % 2 else AppointmentStatus.NO_SHOW
        await cita(office, "CI-RENOV", la_paz(16, 9, 3 * n), status, n)
    await cita(office, "CI-RENOV", la_paz(16, 10), AppointmentStatus.CANCELLED, 99)
    clock.freeze(la_paz(23, 9))
    await desks.set_desk_status(office, "3", DeskStatus.OPEN, await actor())
    for _ in range(4):
        await issue(office)
    fourth = (await Ticket.filter(office_id=office.id, status=TicketStatus.WAITING).order_by("-id").first()).id
    alone = (await eta_service.estimates_for_office(office, POLICY)).tickets[fourth]
    for n in range(6):  # due from 09:05 to 09:10, before the fourth walk-in's call
        await cita(office, "CI-RENOV", la_paz(23, 9, 5 + n), AppointmentStatus.BOOKED, 100 + n)
    await cita(office, "CI-RENOV", la_paz(23, 8, 40), AppointmentStatus.BOOKED, 200)  # 20 min late: not let in
    await cita(office, "CI-RENOV", la_paz(23, 9, 5), AppointmentStatus.CANCELLED, 201)
    await cita(office, "CI-RENOV", la_paz(23, 9, 5), AppointmentStatus.CHECKED_IN, 202)
    await cita(office, "CI-RENOV", la_paz(24, 9, 5), AppointmentStatus.BOOKED, 203)  # tomorrow
    await cita(office, "CI-NUEVO", la_paz(23, 9, 6), AppointmentStatus.BOOKED, 204)  # not offered here
    catalogue = await eta_inputs.catalogue(office.id)
    renewals = await Service.get(code="CI-RENOV")
    coming = await eta_inputs.coming_citas(office, catalogue, clock.now())
    assert len(coming) == 4  # 70 % of the 6
    assert all(c.lane == policy.APPOINTMENT and c.service_id == renewals.id
               and la_paz(23, 9, 5) <= c.due_at <= la_paz(23, 9, 10) for c in coming)
    eta_service.clear_cache()
    behind_them = (await eta_service.estimates_for_office(office, POLICY)).tickets[fourth]
    minutes = (await services_now(office))["CI-RENOV"].service_minutes
    assert behind_them - alone == pytest.approx(4 * minutes, abs=1.5)


async def test_todays_finished_calls_update_the_service_time(db):
    office = await Office.get(code="LPZ-ZONA-SUR")
    who = await actor()
    clock.freeze(la_paz(23, 9))
    await desks.set_desk_status(office, "3", DeskStatus.OPEN, who)
    before = (await services_now(office))["CI-RENOV"].service_minutes
    assert before == 7.0  # the service's prior: nothing observed yet
    for _ in range(12):
        await issue(office)
        called = await calls.call_next(office, "3", who, CONFIG)
        clock.advance(timedelta(minutes=14))
        await actions.finish(await actions.get_ticket(called["id"]), who, CONFIG)
    after = (await services_now(office))["CI-RENOV"].service_minutes
    expected = 7.0 * (5 + 12 * 2.0) / (5 + 12)  # 14 minutes observed, twice the prior
    assert abs(after - expected) < 0.01
    # The statistics are cached for a minute of the clock, then read again.
    await issue(office)
    called = await calls.call_next(office, "3", who, CONFIG)
    await actions.finish(await actions.get_ticket(called["id"]), who, CONFIG)  # a short call
    cached = (await services_now(office))["CI-RENOV"].service_minutes
    assert cached == after
    clock.advance(eta_inputs.STATS_TTL)
    assert (await services_now(office))["CI-RENOV"].service_minutes < after


async def test_a_multi_step_walk_in_waits_in_its_first_steps_line(db):
    office = await Office.get(code="LPZ-PRINCIPAL")
    clock.freeze(la_paz(23, 9))
    for desk in ("1", "3"):  # 1: DESCARTE first; 3: CI-RENOV first
        await desks.set_desk_status(office, desk, DeskStatus.OPEN, await actor())
    for _ in range(4):
        await issue(office, "CI-NUEVO")  # DESCARTE (3 min) first
    estimate = await services_now(office, await eta_service.estimates_for_office(office, POLICY, with_arrivals=False))
    assert estimate["CI-NUEVO"].wait_minutes == estimate["DESCARTE"].wait_minutes
    # Desk 2 (DESCARTE first) is closed, so desk 1 alone: four calls of 3 minutes; desk 3
    # serves neither line, so it does not help.
    assert estimate["DESCARTE"].wait_minutes == 12
    assert estimate["CI-RENOV"].wait_minutes == 0


async def saneamiento_backlog() -> tuple[Office, Principal]:
    """Zona Sur at 09:00 on the 23rd: four desks open, eight saneamientos waiting (15
    minutes each, one desk) and two renewals."""
    office = await Office.get(code="LPZ-ZONA-SUR")
    who = await actor()
    clock.freeze(la_paz(23, 9))
    for desk in ("1", "2", "3", "4"):
        await desks.set_desk_status(office, desk, DeskStatus.OPEN, who)
    for _ in range(8):
        await issue(office, "SANEAMIENTO")
    for _ in range(2):
        await issue(office, "CI-RENOV")
    return office, who


async def test_balancing_suggests_and_applies_a_desk_move(db):
    office, who = await saneamiento_backlog()
    view = await desk_balancing.balancing_view(office, POLICY, threshold_minutes=30)
    waits = {s["service"]: s["estimated_wait_minutes"] for s in view["services"]}
    assert waits["SANEAMIENTO"] >= 100
    assert view["suggestions"], view
    move = view["suggestions"][0]
    assert move["to"] == "SANEAMIENTO" and move["from"] == ["CI-RENOV"] and move["desk"] in {"1", "2", "3"}
    assert move["wait_after"] < move["wait_before"]

    result = await desk_balancing.apply_desk_move(office, move["desk"], "SANEAMIENTO", who)
    desk = await Desk.get(office_id=office.id, name=move["desk"])
    weights = {link.service.code: link.weight for link in await DeskService.filter(desk=desk).select_related("service")}
    assert weights["SANEAMIENTO"] == 1 and weights["CI-RENOV"] == 2
    assert result["before"]
    assert await DeskEvent.filter(desk=desk, kind="reassigned").count() == 1
    # The engine now calls SANEAMIENTO at that desk, and the prediction drops.
    called = await calls.call_next(office, move["desk"], who, CONFIG)
    assert called["service"] == "SANEAMIENTO"
    after = await services_now(office)
    assert after["SANEAMIENTO"].wait_minutes < waits["SANEAMIENTO"]


async def test_balancing_does_not_move_a_desk_about_to_leave_for_its_planned_pause(db):
    from datetime import time

    from turnero.queue import pause_plan

    office, who = await saneamiento_backlog()

    async def first_move(plan: list[pause_plan.Pause]) -> dict:
        await pause_plan.replace_plan(office, date(2026, 11, 23), plan, who)
        eta_service.clear_cache()
        view = await desk_balancing.balancing_view(office, POLICY, threshold_minutes=30)
        assert view["suggestions"], view
        return view["suggestions"][0]

    unplanned = await first_move([])
    assert unplanned["leaves_for"] is None
    # That desk's refrigerio begins in 10 minutes: another CI-RENOV desk is moved instead.
    move = await first_move([pause_plan.Pause(unplanned["desk"], time(9, 10), 15)])
    assert move["desk"] not in {unplanned["desk"], "4"} and move["leaves_for"] is None
    # A pause in an hour does not count against it.
    assert (await first_move([pause_plan.Pause(unplanned["desk"], time(10, 0), 15)]))["desk"] == unplanned["desk"]
    # Every CI-RENOV desk leaves within half an hour: the move is still suggested, and says so.
    move = await first_move([pause_plan.Pause(d, time(9, 5 + 5 * k), 15) for k, d in enumerate(("1", "2", "3"))])
    assert move["leaves_for"] and move["leaves_for"].startswith("refrigerio 09:")
    assert f"Ojo: tiene planificado su {move['leaves_for']}." in move["message"]


async def test_a_move_to_a_desk_of_another_office_or_a_closed_desk_is_refused(db):
    office = await Office.get(code="LPZ-ZONA-SUR")
    with pytest.raises(ApiError) as error:
        await desk_balancing.apply_desk_move(office, "99", "CERT", await actor())
    assert error.value.status == 404
    with pytest.raises(ApiError) as error:
        await desk_balancing.apply_desk_move(office, "1", "CERT", await actor())
    assert error.value.status == 409  # closed
    with pytest.raises(ApiError) as error:
        await desk_balancing.apply_desk_move(office, "1", "PASAPORTE", await actor())
    assert error.value.status == 422  # not offered here


async def test_offices_are_ranked_by_predicted_walk_in_wait(db):
    who = await actor()
    clock.freeze(la_paz(23, 9))
    sur = await Office.get(code="LPZ-ZONA-SUR")
    rojo = await Office.get(code="LPZ-TELEFERICO-ROJO")
    await desks.set_desk_status(sur, "3", DeskStatus.OPEN, who)
    await desks.set_desk_status(rojo, "5", DeskStatus.OPEN, who)
    for _ in range(10):
        await issue(sur)
    await issue(rojo)
    ranked = await ranking.recommend_offices("CI-RENOV", POLICY, city="la paz", near="LPZ-ZONA-SUR")
    # The two with a desk open first; then the offices with none (the brigade, elsewhere today, is not among them).
    assert [o["office"] for o in ranked][:2] == ["LPZ-TELEFERICO-ROJO", "LPZ-ZONA-SUR"]
    assert "LPZ-PRINCIPAL" in [o["office"] for o in ranked[2:]] and "LPZ-BRIGADA-1" not in [o["office"] for o in ranked]
    assert ranked[0]["estimated_wait_minutes"] < ranked[1]["estimated_wait_minutes"]
    assert all(o["open_desks"] == 0 for o in ranked[2:])
    options = [balancing.OfficeOption(o["office"], o["name"], o["estimated_wait_minutes"], o["waiting"],
                                      o["open_desks"]) for o in ranked]
    assert balancing.faster_alternative(options, "LPZ-ZONA-SUR").office == "LPZ-TELEFERICO-ROJO"
    waits = await ranking.walk_in_waits("CI-RENOV", [sur, rojo], POLICY)
    assert waits["LPZ-ZONA-SUR"]["waiting"] == 10 and waits["LPZ-TELEFERICO-ROJO"]["waiting"] == 1
    assert await ranking.recommend_offices("CI-RENOV", POLICY, city="Cochabamba") == []


# ---------------------------------------------------------------- through the HTTP API


async def _headers(client, username: str) -> dict:
    response = await client.post("/api/auth/token", json={"username": username, "password": "demo"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def _issue_api(client, headers, office="LPZ-PRINCIPAL", service_code="CI-RENOV", **fields) -> dict:
    response = await issue_response(client, headers, service_code, office, **fields)
    assert response.status_code == 201, response.text
    clock.advance(timedelta(seconds=5))
    return response.json()


def _error(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    return response.json()["error"]["code"]


async def test_tickets_offices_and_the_kiosk_show_the_replayed_wait(client, kiosk):
    clock.freeze(la_paz(23, 9))
    admin = await _headers(client, "admin")
    opened = await client.post("/api/offices/LPZ-PRINCIPAL/desks/3/open", headers=admin)  # CI-RENOV first
    assert opened.status_code == 200, opened.text
    r1 = await _issue_api(client, kiosk)
    r2 = await _issue_api(client, kiosk)
    s1 = await _issue_api(client, kiosk, priority="senior")
    # At issue: the desk is free for R1; R2 after R1 (7-minute prior); the senior goes first.
    assert [r1["estimated_wait_minutes"], r2["estimated_wait_minutes"], s1["estimated_wait_minutes"]] == [0, 7, 0]
    eta_service.clear_cache()
    # Read again, the whole office replayed: S1, then R1 and R2 (the 2:1 interleave).
    waits = [(await client.get(f"/api/tickets/{t['id']}")).json()["estimated_wait_minutes"] for t in (s1, r1, r2)]
    assert waits == [0, 7, 14]
    read = (await client.get(f"/api/tickets/{r2['id']}")).json()
    page = await client.get(f"/t/{r2['id']}")
    # The page says the same wait, with its range, in the shared words.
    words = wait_words.wait_text(14, low=read["estimated_wait_low_minutes"], high=read["estimated_wait_high_minutes"])
    assert page.status_code == 200 and words in page.text and "min" in words

    offices = {o["code"]: o for o in (await client.get("/api/offices?service=CI-RENOV")).json()}
    assert offices["LPZ-PRINCIPAL"]["waiting"] == 3
    assert offices["LPZ-PRINCIPAL"]["estimated_wait_minutes"] == 21  # a walk-in now: after all three
    assert offices["LPZ-ZONA-SUR"]["waiting"] == 0
    plain = (await client.get("/api/offices")).json()
    assert "estimated_wait_minutes" not in plain[0]  # only with ?service=
    estimates = (await client.get("/api/offices/LPZ-PRINCIPAL/estimates")).json()
    ci = next(s for s in estimates["services"] if s["service"] == "CI-RENOV")
    assert (ci["waiting"], ci["open_desks"], ci["estimated_wait_minutes"]) == (3, 1, 21)
    assert _error(await client.get("/api/offices/NOPE/estimates"), 404) == "office_not_found"
    assert _error(await client.get("/api/offices?service=NOPE"), 404)

    # The ranking: the open office first; no proposal while the local wait is short.
    ranking = (await client.get("/api/services/CI-RENOV/ranking?near=LPZ-PRINCIPAL")).json()
    assert ranking["offices"][0]["office"] == "LPZ-PRINCIPAL" and ranking["suggestion"] is None
    assert ranking["city"] == "La Paz"
    # A long line here and an open desk at another La Paz office: the kiosk proposes it.
    for _ in range(6):
        await _issue_api(client, kiosk)
    opened = await client.post("/api/offices/LPZ-TELEFERICO-ROJO/desks/5/open", headers=admin)
    assert opened.status_code == 200, opened.text
    ranking = (await client.get("/api/services/CI-RENOV/ranking?near=LPZ-PRINCIPAL")).json()
    assert ranking["offices"][0]["office"] == "LPZ-TELEFERICO-ROJO"
    suggestion = ranking["suggestion"]
    assert suggestion["office"] == "LPZ-TELEFERICO-ROJO" and suggestion["saving_minutes"] >= 20
    assert "min" in suggestion["message"] and suggestion["address"]
    assert _error(await client.get("/api/services/CI-RENOV/ranking?near=NOPE"), 404) == "office_not_found"
    assert _error(await client.get("/api/services/NOPE/ranking"), 404)
    assert _error(await client.get("/api/services/CI-RENOV/ranking?city=" + "x" * 80), 422) == "invalid_query"


async def test_supervisor_balancing_api_and_page(client):
    clock.freeze(la_paz(23, 9))
    admin = await _headers(client, "admin")
    for desk in ("1", "2", "3", "4"):
        assert (await client.post(f"/api/offices/LPZ-ZONA-SUR/desks/{desk}/open", headers=admin)).status_code == 200
    for _ in range(8):
        await _issue_api(client, admin, "LPZ-ZONA-SUR", "SANEAMIENTO")  # 15 minutes each, one desk
    await _issue_api(client, admin, "LPZ-ZONA-SUR", "CI-RENOV")
    view = (await client.get("/api/offices/LPZ-ZONA-SUR/balancing?threshold=30", headers=admin)).json()
    before = next(s for s in view["services"] if s["service"] == "SANEAMIENTO")["estimated_wait_minutes"]
    assert before >= 100 and view["threshold_minutes"] == 30
    assert {d["name"]: d["status"] for d in view["desks"]} == {"1": "open", "2": "open", "3": "open", "4": "open",
                                                               "L1": "closed"}  # (its licence desk)
    move = view["suggestions"][0]
    assert move["to"] == "SANEAMIENTO" and "Mover la ventanilla" in move["message"]
    applied = await client.post("/api/offices/LPZ-ZONA-SUR/balancing/apply",
                                json={"desk": move["desk"], "service": "SANEAMIENTO"}, headers=admin)
    assert applied.status_code == 200, applied.text
    assert applied.json()["desk"] == move["desk"]
    after = (await client.get("/api/offices/LPZ-ZONA-SUR/balancing?threshold=30", headers=admin)).json()
    assert next(s for s in after["services"] if s["service"] == "SANEAMIENTO")["estimated_wait_minutes"] < before

    # Errors: the API's shape, nothing written.
    url = "/api/offices/LPZ-ZONA-SUR/balancing"
    assert _error(await client.get(url), 401)
    supervisor = await _headers(client, "supervisor")  # of LPZ-PRINCIPAL
    assert _error(await client.get(url, headers=supervisor), 403)
    assert _error(await client.get(url, headers=await _headers(client, "kiosko")), 403)
    assert _error(await client.get(url + "?threshold=abc", headers=admin), 422) == "invalid_threshold"
    assert _error(await client.post(url + "/apply", content=b"{", headers=admin), 400)
    assert _error(await client.post(url + "/apply", json={"desk": "99", "service": "CERT"}, headers=admin), 404)
    assert _error(await client.post(url + "/apply", json={"desk": "1", "service": "PASAPORTE"}, headers=admin), 422)
    assert _error(await client.post(url + "/apply", json={"desk": "1"}, headers=admin), 422)
    assert _error(await client.get("/api/offices/NOPE/balancing", headers=admin), 404)

    # The page: supervisors of the office only, Spanish, with the suggestion's apply button.
    anonymous = await client.get("/supervisor/LPZ-PRINCIPAL/balancing")
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]
    login = await client.post("/login", data={"username": "supervisor", "password": "demo", "next": ""})
    assert login.status_code in (302, 303)
    for desk in ("3", "9"):  # 3: CI-RENOV first, 9: SANEAMIENTO only
        assert (await client.post(f"/api/offices/LPZ-PRINCIPAL/desks/{desk}/open", headers=supervisor)).status_code == 200
    for _ in range(12):
        await _issue_api(client, supervisor, "LPZ-PRINCIPAL", "SANEAMIENTO")
    page = await client.get("/supervisor/LPZ-PRINCIPAL/balancing")
    assert page.status_code == 200, page.text
    assert "Balanceo de ventanillas" in page.text and "Espera estimada" in page.text
    assert 'data-desk="3" data-service="SANEAMIENTO"' in page.text and "Aplicar" in page.text
    assert "/static/js/balancing.js" in page.text
    other = await client.get("/supervisor/LPZ-ZONA-SUR/balancing")
    assert other.status_code == 403


async def test_automatic_balancing_moves_a_desk_by_itself_at_most_once_per_cooldown(client):
    """A supervisor turns it on; the server's job then applies the first suggestion with
    nobody on the page, waits out the cooldown before the next move, and stops when it
    is turned off. Bad requests change nothing."""
    from turnero.core.audit import AuditEntry
    from turnero.queue.jobs import balance_offices

    clock.freeze(la_paz(23, 9))
    admin = await _headers(client, "admin")
    for desk in ("1", "2", "3", "4"):
        assert (await client.post(f"/api/offices/LPZ-ZONA-SUR/desks/{desk}/open", headers=admin)).status_code == 200
    for _ in range(30):
        await _issue_api(client, admin, "LPZ-ZONA-SUR", "SANEAMIENTO")  # one desk, 15 minutes each
    url = "/api/offices/LPZ-ZONA-SUR/balancing"
    saneamiento = await Service.get(code="SANEAMIENTO")

    async def first_desks() -> set[str]:
        links = await DeskService.filter(desk__office__code="LPZ-ZONA-SUR", service_id=saneamiento.id,
                                         weight=1).select_related("desk")
        return {link.desk.name for link in links}

    assert await balance_offices(CONFIG) == 0  # off by default: suggestions only
    before = await first_desks()

    # Errors first: the API's shape, and nothing changes.
    for body in ({"threshold_minutes": 0}, {"threshold_minutes": 601}, {"threshold_minutes": "30"},
                 {"threshold_minutes": True}, {"threshold_minutes": 2.5}, {}):
        assert _error(await client.put(url + "/auto", json=body, headers=admin), 422), body
    assert _error(await client.put(url + "/auto", content=b"{", headers=admin), 400)
    assert _error(await client.put(url + "/auto", json={"threshold_minutes": 30}), 401)
    supervisor = await _headers(client, "supervisor")  # of LPZ-PRINCIPAL
    assert _error(await client.put(url + "/auto", json={"threshold_minutes": 30}, headers=supervisor), 403)
    assert _error(await client.put("/api/offices/NOPE/balancing/auto", json={"threshold_minutes": 30},
                                   headers=admin), 404)
    assert (await client.get(url, headers=admin)).json()["auto_threshold_minutes"] is None
    assert await balance_offices(CONFIG) == 0 and await first_desks() == before

    turned_on = await client.put(url + "/auto", json={"threshold_minutes": 30}, headers=admin)
    assert turned_on.status_code == 200, turned_on.text
    assert turned_on.json() == {"office": "LPZ-ZONA-SUR", "auto_threshold_minutes": 30}
    assert (await client.get(url, headers=admin)).json()["auto_threshold_minutes"] == 30
    entry = await AuditEntry.get(action="office.auto_balance", target="LPZ-ZONA-SUR")
    assert (entry.before, entry.after) == ({"auto_balance_minutes": None}, {"auto_balance_minutes": 30})

    assert await balance_offices(CONFIG) == 1
    moved = await first_desks() - before
    assert len(moved) == 1
    event = await DeskEvent.filter(kind="reassigned", desk__office__code="LPZ-ZONA-SUR",
                                   desk__name__in=list(moved)).first()
    assert event is not None and event.user_id is None  # the system, not a person
    assert (await client.get(url + "?threshold=30", headers=admin)).json()["suggestions"]  # still long

    clock.advance(timedelta(minutes=5))
    assert await balance_offices(CONFIG) == 0  # within the cooldown: the line needs time to react
    clock.advance(timedelta(minutes=6))
    assert await balance_offices(CONFIG) == 1 and len(await first_desks() - before) == 2

    # Several instances at once (each with the office as it read it): one move, not two.
    clock.advance(timedelta(minutes=11))
    copies = [await Office.get(code="LPZ-ZONA-SUR") for _ in range(4)]
    results = await asyncio.gather(*(desk_balancing.auto_balance(o, POLICY) for o in copies))
    assert sum(r is not None for r in results) == 1 and len(await first_desks() - before) == 3

    # An instance still holding the old threshold after a supervisor changed it: no move.
    stale = await Office.get(code="LPZ-ZONA-SUR")
    changed = await client.put(url + "/auto", json={"threshold_minutes": 31}, headers=admin)
    assert changed.status_code == 200
    clock.advance(timedelta(minutes=11))
    assert stale.auto_balance_minutes == 30 and await desk_balancing.auto_balance(stale, POLICY) is None
    assert len(await first_desks() - before) == 3

    turned_off = await client.put(url + "/auto", json={"threshold_minutes": None}, headers=admin)
    assert turned_off.status_code == 200 and turned_off.json()["auto_threshold_minutes"] is None
    clock.advance(timedelta(minutes=11))
    assert await balance_offices(CONFIG) == 0 and len(await first_desks() - before) == 3
