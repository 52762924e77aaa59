"""Wait estimates read from a real database (SQLite and PostgreSQL) through the real
queue engine: history rows with a known answer, today's finished calls, snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.errors import ApiError
from turnero.core.models import Office, Role, Service, User
from turnero.queue import balancing, eta_service, service
from turnero.queue.models import Desk, DeskEvent, DeskService, DeskStatus, Ticket, TicketStatus

LA_PAZ = ZoneInfo("America/La_Paz")
CONFIG = service.QueueConfig()
POLICY = CONFIG.policy


def la_paz(day, hour, minute=0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LA_PAZ).astimezone(timezone.utc)


@pytest.fixture(autouse=True)
def _fresh_cache():
    eta_service.clear_cache()
    yield
    eta_service.clear_cache()


async def actor() -> Principal:
    user = await User.get(username="supervisor").select_related("office")
    return Principal(user.id, user.username, Role(user.role), user.office_id, user.office.code, 0.0)


async def issue(office: Office, code: str = "CI-RENOV", **kw) -> dict:
    view = await service.issue_ticket(office, code, actor=None, config=CONFIG, **kw)
    clock.advance(timedelta(seconds=5))
    return view


async def history(office: Office, code: str, *, days_ago: int, hour: int, minutes: float, count: int) -> None:
    """Finished calls of `minutes` each, called at `hour` (La Paz) `days_ago` days before the 23rd."""
    svc = await Service.get(code=code)
    for n in range(count):
        called = la_paz(23 - days_ago, hour, n % 50)
        await Ticket.create(
            public_id=f"h{code}{days_ago}{hour}{n}", visit_id=f"v{code}{days_ago}{hour}{n}", office=office,
            service=svc, day=called.astimezone(LA_PAZ).date(), number=f"H-{hour}{n:03d}", status=TicketStatus.DONE,
            arrived_at=called - timedelta(minutes=20), issued_at=called - timedelta(minutes=20),
            called_at=called, started_at=called, finished_at=called + timedelta(minutes=minutes),
        )


async def test_history_with_a_known_service_time_gives_known_waits(db):
    office = await Office.get(code="LPZ-ZONA-SUR")
    await history(office, "CI-RENOV", days_ago=3, hour=10, minutes=10.0, count=400)
    clock.freeze(la_paz(23, 10))
    await service.set_desk_status(office, "3", DeskStatus.OPEN, await actor())
    tickets = [await issue(office) for _ in range(3)]
    estimate = await eta_service.estimates_for_office(office, POLICY, with_arrivals=False)
    assert [estimate.by_public_id[t["id"]] for t in tickets] == [0, 10, 20]
    ci = estimate.services["CI-RENOV"]
    assert (ci.waiting, ci.open_desks, ci.primary_desks) == (3, 1, 1.0)
    assert abs(ci.service_minutes - 10.0) < 0.2 and ci.wait_minutes == 30
    # The other hours of the day also learn from the history (7-minute prior, 10 observed).
    model = await eta_service.service_times(office)
    assert 9.5 < model.minutes_at_hour((await Service.get(code="CI-RENOV")).id, 14) <= 10.0
    ticket = await Ticket.get(public_id=tickets[2]["id"])
    assert await eta_service.estimate_for_ticket(ticket, office, POLICY) == 20


async def test_todays_finished_calls_update_the_service_time(db):
    office = await Office.get(code="LPZ-ZONA-SUR")
    who = await actor()
    clock.freeze(la_paz(23, 9))
    await service.set_desk_status(office, "3", DeskStatus.OPEN, who)
    before = (await eta_service.estimates_for_office(office, POLICY)).services["CI-RENOV"].service_minutes
    assert before == 7.0  # the service's prior: nothing observed yet
    for _ in range(12):
        await issue(office)
        called = await service.call_next(office, "3", who, CONFIG)
        clock.advance(timedelta(minutes=14))
        await service.finish(await service.get_ticket(called["id"]), who, CONFIG)
    after = (await eta_service.estimates_for_office(office, POLICY)).services["CI-RENOV"].service_minutes
    expected = 7.0 * (5 + 12 * 2.0) / (5 + 12)  # 14 minutes observed, twice the prior
    assert abs(after - expected) < 0.01
    # The statistics are cached for a minute of the clock, then read again.
    await issue(office)
    called = await service.call_next(office, "3", who, CONFIG)
    await service.finish(await service.get_ticket(called["id"]), who, CONFIG)  # a short call
    cached = (await eta_service.estimates_for_office(office, POLICY)).services["CI-RENOV"].service_minutes
    assert cached == after
    clock.advance(eta_service.STATS_TTL)
    assert (await eta_service.estimates_for_office(office, POLICY)).services["CI-RENOV"].service_minutes < after


async def test_a_multi_step_walk_in_waits_in_its_first_steps_line(db):
    office = await Office.get(code="LPZ-PRINCIPAL")
    clock.freeze(la_paz(23, 9))
    for desk in ("1", "3"):  # 1: DESCARTE first; 3: CI-RENOV first
        await service.set_desk_status(office, desk, DeskStatus.OPEN, await actor())
    for _ in range(4):
        await issue(office, "CI-NUEVO")  # DESCARTE (3 min) first
    estimate = await eta_service.estimates_for_office(office, POLICY, with_arrivals=False)
    assert estimate.services["CI-NUEVO"].wait_minutes == estimate.services["DESCARTE"].wait_minutes
    # Desk 2 (DESCARTE first) is closed, so desk 1 alone: four calls of 3 minutes; desk 3
    # serves neither line, so it does not help.
    assert estimate.services["DESCARTE"].wait_minutes == 12
    assert estimate.services["CI-RENOV"].wait_minutes == 0


async def test_balancing_suggests_and_applies_a_desk_move(db):
    office = await Office.get(code="LPZ-ZONA-SUR")
    who = await actor()
    clock.freeze(la_paz(23, 9))
    for desk in ("1", "2", "3", "4"):
        await service.set_desk_status(office, desk, DeskStatus.OPEN, who)
    for _ in range(8):
        await issue(office, "SANEAMIENTO")  # 15 minutes each, one desk
    for _ in range(2):
        await issue(office, "CI-RENOV")
    view = await eta_service.balancing_view(office, POLICY, threshold_minutes=30)
    waits = {s["service"]: s["estimated_wait_minutes"] for s in view["services"]}
    assert waits["SANEAMIENTO"] >= 100
    assert view["suggestions"], view
    move = view["suggestions"][0]
    assert move["to"] == "SANEAMIENTO" and move["from"] == ["CI-RENOV"] and move["desk"] in {"1", "2", "3"}
    assert move["wait_after"] < move["wait_before"]

    result = await eta_service.apply_desk_move(office, move["desk"], "SANEAMIENTO", who)
    desk = await Desk.get(office_id=office.id, name=move["desk"])
    weights = {link.service.code: link.weight for link in await DeskService.filter(desk=desk).select_related("service")}
    assert weights["SANEAMIENTO"] == 1 and weights["CI-RENOV"] == 2
    assert result["before"]
    assert await DeskEvent.filter(desk=desk, kind="reassigned").count() == 1
    # The engine now calls SANEAMIENTO at that desk, and the prediction drops.
    called = await service.call_next(office, move["desk"], who, CONFIG)
    assert called["service"] == "SANEAMIENTO"
    after = await eta_service.estimates_for_office(office, POLICY)
    assert after.services["SANEAMIENTO"].wait_minutes < waits["SANEAMIENTO"]


async def test_a_move_to_a_desk_of_another_office_or_a_closed_desk_is_refused(db):
    office = await Office.get(code="LPZ-ZONA-SUR")
    with pytest.raises(ApiError) as error:
        await eta_service.apply_desk_move(office, "99", "CERT", await actor())
    assert error.value.status == 404
    with pytest.raises(ApiError) as error:
        await eta_service.apply_desk_move(office, "1", "CERT", await actor())
    assert error.value.status == 409  # closed
    with pytest.raises(ApiError) as error:
        await eta_service.apply_desk_move(office, "1", "PASAPORTE", await actor())
    assert error.value.status == 422  # not offered here


async def test_offices_are_ranked_by_predicted_walk_in_wait(db):
    who = await actor()
    clock.freeze(la_paz(23, 9))
    sur = await Office.get(code="LPZ-ZONA-SUR")
    rojo = await Office.get(code="LPZ-TELEFERICO-ROJO")
    await service.set_desk_status(sur, "3", DeskStatus.OPEN, who)
    await service.set_desk_status(rojo, "5", DeskStatus.OPEN, who)
    for _ in range(10):
        await issue(sur)
    await issue(rojo)
    ranking = await eta_service.recommend_offices("CI-RENOV", POLICY, city="la paz", near="LPZ-ZONA-SUR")
    assert [o["office"] for o in ranking] == ["LPZ-TELEFERICO-ROJO", "LPZ-ZONA-SUR", "LPZ-PRINCIPAL"]
    assert ranking[0]["estimated_wait_minutes"] < ranking[1]["estimated_wait_minutes"]
    assert ranking[2]["open_desks"] == 0
    options = [balancing.OfficeOption(o["office"], o["name"], o["estimated_wait_minutes"], o["waiting"],
                                      o["open_desks"]) for o in ranking]
    assert balancing.faster_alternative(options, "LPZ-ZONA-SUR").office == "LPZ-TELEFERICO-ROJO"
    waits = await eta_service.walk_in_waits("CI-RENOV", [sur, rojo], POLICY)
    assert waits["LPZ-ZONA-SUR"]["waiting"] == 10 and waits["LPZ-TELEFERICO-ROJO"]["waiting"] == 1
    assert await eta_service.recommend_offices("CI-RENOV", POLICY, city="Cochabamba") == []
