"""Public figures (issue 20): waits by hour of day over the last weeks and today's load,
as JSON and CSV, with no ticket number, name, document, desk or operator in them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from tests.conftest import assert_error
from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.models import Office, Role, User
from turnero.queue import actions, calls, desks, issuing
from turnero.queue.config import QueueConfig
from turnero.queue.models import DeskStatus
from turnero.queue.statistics import hourly_figures

OFFICE = "LPZ-ZONA-SUR"
CONFIG = QueueConfig(predict_waits=False)


def la_paz(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo("America/La_Paz")).astimezone(timezone.utc)


def test_hourly_figures_are_per_day_means_and_percentiles():
    rows = hourly_figures([(8, 10.0), (8, 20.0), (8, 30.0), (9, 5.0)], days=2)
    assert rows == [
        {"hour": "08:00", "visits_per_day": 1.5, "wait_mean_minutes": 20, "wait_median_minutes": 20,
         "wait_p90_minutes": 30},
        {"hour": "09:00", "visits_per_day": 0.5, "wait_mean_minutes": 5, "wait_median_minutes": 5,
         "wait_p90_minutes": 5},
    ]
    assert hourly_figures([], days=0) == []


async def test_an_office_publishes_its_waits_by_hour_and_todays_load(client):
    office = await Office.get(code=OFFICE)
    user = await User.get(username="admin")
    who = Principal(user.id, user.username, Role(user.role), None, None, 0.0)
    # Two past days: at 08:00 two people waited 10 and 30 minutes; at 10:00 one waited 4.
    for day in (23, 24):
        clock.freeze(la_paz(day, 8))
        await desks.set_desk_status(office, "3", DeskStatus.OPEN, who)
        first = await issuing.issue_ticket(office, "CI-RENOV", actor=None, config=CONFIG, phone="71234567")
        clock.freeze(la_paz(day, 8, 10 if day == 23 else 30))
        called = await calls.call_next(office, "3", who, CONFIG)
        assert called["id"] == first["id"]
        await actions.finish(await actions.get_ticket(called["id"]), who, CONFIG)
        if day == 24:
            clock.freeze(la_paz(day, 10))
            await issuing.issue_ticket(office, "CI-RENOV", actor=None, config=CONFIG)
            clock.freeze(la_paz(day, 10, 4))
            await actions.finish(await actions.get_ticket((await calls.call_next(office, "3", who, CONFIG))["id"]),
                                 who, CONFIG)
        await desks.set_desk_status(office, "3", DeskStatus.CLOSED, who)
    # Today: one visit so far, still waiting.
    clock.freeze(la_paz(25, 9))
    await issuing.issue_ticket(office, "CI-RENOV", actor=None, config=CONFIG)

    response = await client.get(f"/api/offices/{OFFICE}/statistics")
    assert response.status_code == 200
    figures = response.json()
    assert figures["period"]["days"] == 2 and figures["period"]["to"] == "2026-11-24"
    assert figures["by_hour"] == [
        {"hour": "08:00", "visits_per_day": 1.0, "wait_mean_minutes": 20, "wait_median_minutes": 20,
         "wait_p90_minutes": 30},
        {"hour": "10:00", "visits_per_day": 0.5, "wait_mean_minutes": 4, "wait_median_minutes": 4,
         "wait_p90_minutes": 4},
    ]
    assert figures["today"] == {"date": "2026-11-25", "visits": 1, "served": 0, "waiting_now": 1}
    # Public, and nothing personal in it.
    assert "71234567" not in response.text and "admin" not in response.text and "C-0" not in response.text
    csv_text = (await client.get(f"/api/offices/{OFFICE}/statistics.csv")).text
    assert csv_text.splitlines()[0] == "hora,visitas_por_dia,espera_media_min,espera_mediana_min,espera_p90_min"
    assert csv_text.splitlines()[1] == "08:00,1.0,20,20,30"
    assert_error(await client.get("/api/offices/NOPE/statistics"), 404, "office_not_found")
