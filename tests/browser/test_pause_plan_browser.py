"""The supervisor's plan of pauses in headless Chromium against a real server: the day's
refrigerios and almuerzos typed into the table are saved whole, a bad one is refused with
the reason and changes nothing, a week later the plan is copied in and saved, a saved plan
is repeated on later days (never a table changed since it was saved), and axe finds
nothing on the page."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from tests.api.test_pages import _new_page, _screenshot, _sign_in, _token, browser  # noqa: F401
from tests.browser.test_a11y_axe import _axe_source, _violations
from turnero.core import clock

pytestmark = pytest.mark.browser
OFFICE = "LPZ-PRINCIPAL"


def _next_weekday() -> str:
    day = clock.local_day(clock.now(), "America/La_Paz") + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day.isoformat()


def test_a_supervisor_plans_the_days_pauses(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    day = _next_weekday()
    page = _new_page(browser)
    page.goto(f"{live_server.url}/supervisor/{OFFICE}/pausas?day={day}")
    _sign_in(page, "supervisor")
    expect(page.locator("h1")).to_have_text("Plan de pausas")
    expect(page.locator("#pp-desks tbody tr")).to_have_count(24)
    row = page.locator('#pp-desks tr[data-desk="9"]')
    row.get_by_label("Ventanilla 9: inicio del refrigerio").fill("10:00")
    row.get_by_label("Ventanilla 9: minutos de refrigerio").fill("20")
    row.get_by_label("Ventanilla 9: inicio del almuerzo").fill("12:30")
    row.get_by_label("Ventanilla 9: minutos de almuerzo").fill("45")
    page.locator('#pp-desks tr[data-desk="1"]').get_by_label("Ventanilla 1: inicio del refrigerio").fill("10:15")
    page.get_by_role("button", name=f"Guardar el plan del {day}").click()
    expect(page.locator("#pp-message")).to_have_text(f"Plan guardado: 3 pausas el {day}.")
    url = f"{live_server.url}/api/offices/{OFFICE}/pause-plan?day={day}"
    supervisor = _token(live_server, "supervisor")
    plan = httpx.get(url, headers=supervisor).json()["pauses"]
    assert [(p["desk"], p["start"], p["minutes"], p["kind"]) for p in plan] == [
        ("1", "10:15", 15, "refrigerio"), ("9", "10:00", 20, "refrigerio"), ("9", "12:30", 45, "almuerzo")]
    _screenshot(page, f"pause-plan-{live_server.backend}.png")

    # Lunch moved into the refrigerio: refused with the reason, the saved plan kept.
    row.get_by_label("Ventanilla 9: inicio del almuerzo").fill("10:10")
    page.get_by_role("button", name=f"Guardar el plan del {day}").click()
    expect(page.locator("#pp-message")).to_contain_text("se superponen")
    assert httpx.get(url, headers=supervisor).json()["pauses"] == plan

    # Read back: the page opens with the saved plan; axe finds nothing.
    page.reload()
    expect(row.get_by_label("Ventanilla 9: inicio del almuerzo")).to_have_value("12:30")
    assert _violations(page, _axe_source()) == []

    # A week later: the table starts empty, a day without a plan copies nothing, and
    # the week before's plan (the default) is copied in and saved as that day's.
    later = (date.fromisoformat(day) + timedelta(days=7)).isoformat()
    page.goto(f"{live_server.url}/supervisor/{OFFICE}/pausas?day={later}")
    later_row = page.locator('#pp-desks tr[data-desk="9"]')
    expect(later_row.get_by_label("Ventanilla 9: inicio del almuerzo")).to_have_value("")
    expect(page.get_by_label("Copiar el plan del día")).to_have_value(day)
    page.get_by_label("Copiar el plan del día").fill(later)
    page.get_by_role("button", name="Copiar a esta tabla").click()
    expect(page.locator("#pp-message")).to_have_text(f"El {later} no tiene pausas planificadas; la tabla no cambió.")
    page.get_by_label("Copiar el plan del día").fill(day)
    page.get_by_role("button", name="Copiar a esta tabla").click()
    expect(page.locator("#pp-message")).to_have_text(
        f"Copiado el plan del {day}: 3 pausas. Revíselo y guarde el plan del {later}.")
    expect(later_row.get_by_label("Ventanilla 9: inicio del almuerzo")).to_have_value("12:30")
    expect(later_row.get_by_label("Ventanilla 9: minutos de almuerzo")).to_have_value("45")
    later_url = f"{live_server.url}/api/offices/{OFFICE}/pause-plan?day={later}"
    assert httpx.get(later_url, headers=supervisor).json()["pauses"] == []  # nothing written before saving
    page.get_by_role("button", name=f"Guardar el plan del {later}").click()
    expect(page.locator("#pp-message")).to_have_text(f"Plan guardado: 3 pausas el {later}.")
    assert httpx.get(later_url, headers=supervisor).json()["pauses"] == plan
    assert page.errors == []


def _weekday_from(days: int) -> date:
    """The first Monday to Friday at least `days` days from today (La Paz)."""
    day = clock.local_day(clock.now(), "America/La_Paz") + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def test_a_supervisor_repeats_a_saved_plan_on_later_days(browser, live_server):  # noqa: F811
    """Days clear of the other test's (today + 1 and a week later): this one stands alone."""
    from playwright.sync_api import expect

    source = _weekday_from(9)
    iso = source.isoformat()
    supervisor = _token(live_server, "supervisor")

    def plan(day: date) -> list:
        url = f"{live_server.url}/api/offices/{OFFICE}/pause-plan?day={day.isoformat()}"
        return httpx.get(url, headers=supervisor).json()["pauses"]

    page = _new_page(browser)
    page.goto(f"{live_server.url}/supervisor/{OFFICE}/pausas?day={iso}")
    _sign_in(page, "supervisor")
    repeat = page.get_by_role("group", name="Repetir este plan")
    expect(repeat).to_be_hidden()  # nothing saved for the day yet: nothing to repeat
    row = page.locator('#pp-desks tr[data-desk="9"]')
    row.get_by_label("Ventanilla 9: inicio del refrigerio").fill("10:00")
    row.get_by_label("Ventanilla 9: inicio del almuerzo").fill("12:30")
    page.get_by_role("button", name=f"Guardar el plan del {iso}").click()
    expect(page.locator("#pp-message")).to_have_text(f"Plan guardado: 2 pausas el {iso}.")
    expect(repeat).to_be_visible()  # saved: it can be repeated at once
    saved = plan(source)
    assert _violations(page, _axe_source()) == []

    # The same weekday of each week, until two weeks later.
    weekly = [source + timedelta(days=7), source + timedelta(days=14)]
    expect(repeat.get_by_label("el mismo día de cada semana")).to_be_checked()
    repeat.get_by_label("hasta").fill(weekly[-1].isoformat())
    repeat.get_by_role("button", name="Repetir este plan").click()
    expect(page.locator("#pp-message")).to_have_text(
        f"Plan del {iso} repetido en 2 días: {weekly[0].isoformat()}, {weekly[1].isoformat()}.")
    assert [plan(day) for day in weekly] == [saved, saved]
    _screenshot(page, f"pause-plan-repeat-{live_server.backend}.png")

    # The table changed and not saved: refused, nothing written (neither the old plan).
    workdays = [source + timedelta(days=k) for k in range(1, 5) if (source + timedelta(days=k)).weekday() < 5]
    row.get_by_label("Ventanilla 9: inicio del almuerzo").fill("13:00")
    repeat.get_by_label("cada día hábil (lunes a viernes)").check()
    repeat.get_by_label("hasta").fill((source + timedelta(days=4)).isoformat())
    repeat.get_by_role("button", name="Repetir este plan").click()
    expect(page.locator("#pp-message")).to_have_text("Guarde el plan antes de repetirlo.")
    assert all(plan(day) == [] for day in workdays)

    # Back as saved: each working day after it, Saturday and Sunday left out.
    row.get_by_label("Ventanilla 9: inicio del almuerzo").fill("12:30")
    repeat.get_by_role("button", name="Repetir este plan").click()
    expect(page.locator("#pp-message")).to_have_text(
        f"Plan del {iso} repetido en {len(workdays)} días: {', '.join(d.isoformat() for d in workdays)}.")
    assert all(plan(day) == saved for day in workdays)
    weekend = [source + timedelta(days=k) for k in range(1, 5) if (source + timedelta(days=k)).weekday() >= 5]
    assert all(plan(day) == [] for day in weekend)

    # Every working day up to the last one a plan is written for: more than 31 days at
    # once, refused with the server's reason, nothing written.
    last = date.fromisoformat(repeat.get_by_label("hasta").get_attribute("max"))
    repeat.get_by_label("hasta").fill(last.isoformat())
    repeat.get_by_role("button", name="Repetir este plan").click()
    expect(page.locator("#pp-message")).to_contain_text("1 a 31 días a la vez")
    while last.weekday() >= 5:
        last -= timedelta(days=1)
    assert plan(last) == []
    assert _violations(page, _axe_source()) == []
    assert page.errors == []


def test_the_desk_console_redraws_its_plan_and_reminder_from_each_refresh(browser, live_server):  # noqa: F811
    """desk.js draws the desk's plan and the reminder the server computes from each
    re-read of the console's state (every few seconds): a plan changed during the day
    shows without a reload. The state is the real server's; only its `plan` is set here,
    so the page does not depend on the hour the test runs at (a plan for today must fall
    within today's opening hours; the reminder's rule is tested in tests/unit and
    through the server in tests/api/test_pause_plan.py)."""
    import json

    from playwright.sync_api import expect

    plan = {"pauses": [], "reminder": None}

    def state(route):
        body = route.fetch().json()
        body["plan"] = plan
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page = _new_page(browser)
    page.route(f"**/desk/{OFFICE}/9/state", state)
    page.goto(f"{live_server.url}/desk/{OFFICE}/9")
    _sign_in(page, "operador1")
    expect(page.get_by_role("heading", name="Ventanilla 9")).to_be_visible()
    expect(page.locator("#desk-plan")).to_be_hidden()
    plan["pauses"] = [{"desk": "9", "start": "10:00", "ends": "10:15", "minutes": 15, "kind": "refrigerio"},
                      {"desk": "9", "start": "12:30", "ends": "13:15", "minutes": 45, "kind": "almuerzo"}]
    plan["reminder"] = {"kind": "due", "text": "Es hora de su refrigerio (10:00–10:15): ponga la ventanilla en "
                                               "pausa al quedar libre."}
    expect(page.locator("#desk-plan")).to_have_text(
        "Pausas planificadas hoy: refrigerio 10:00–10:15, almuerzo 12:30–13:15", timeout=12_000)
    reminder = page.get_by_role("status").filter(has_text="Es hora de su refrigerio")
    expect(reminder).to_have_class("plan-reminder plan-reminder-due")
    # The reminder turning to «due» sounds once (tones.js), not again on each refresh.
    assert page.evaluate("window.TurneroDesk.reminderSounds") == ["due"]
    assert _violations(page, _axe_source()) == []
    _screenshot(page, f"desk-plan-reminder-{live_server.backend}.png")
    plan["pauses"], plan["reminder"] = [], None  # the supervisor cleared today's plan
    expect(page.locator("#desk-plan")).to_be_hidden(timeout=12_000)
    expect(page.locator("#desk-reminder")).to_have_text("")
    assert page.evaluate("window.TurneroDesk.reminderSounds") == ["due"]  # no reminder: no sound
    assert page.errors == []
