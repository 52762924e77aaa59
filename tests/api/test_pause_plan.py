"""The day's plan of pauses (GET/PUT /api/offices/{office}/pause-plan): a supervisor
writes it whole, every desk's staff read it, bad plans change nothing, and the wait
estimate counts with the pauses it holds."""

from __future__ import annotations

from datetime import datetime

import pytest
from zoneinfo import ZoneInfo

from tests.conftest import assert_error, login
from turnero.core import clock
from turnero.core.audit import AuditEntry

THURSDAY = "2026-12-10"
PATH = "/api/offices/LPZ-PRINCIPAL/pause-plan"
ZONE = ZoneInfo("America/La_Paz")


@pytest.fixture(autouse=True)
def _wednesday_evening():
    clock.freeze(datetime(2026, 12, 9, 18, 0, tzinfo=ZONE))


@pytest.fixture
async def supervisor(client) -> dict:
    return await login(client, "supervisor")  # of LPZ-PRINCIPAL


ROSTER = [
    {"desk": "9", "start": "12:30", "minutes": 45, "kind": "almuerzo"},
    {"desk": "1", "start": "10:15", "minutes": 20},
    {"desk": "9", "start": "10:00", "minutes": 15, "kind": "refrigerio"},
]


async def test_a_supervisor_writes_the_days_plan_whole_and_staff_read_it(client, supervisor):
    response = await client.put(PATH, json={"day": THURSDAY, "pauses": ROSTER}, headers=supervisor)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan == {"office": "LPZ-PRINCIPAL", "day": THURSDAY, "pauses": [
        {"desk": "1", "start": "10:15", "ends": "10:35", "minutes": 20, "kind": "refrigerio"},
        {"desk": "9", "start": "10:00", "ends": "10:15", "minutes": 15, "kind": "refrigerio"},
        {"desk": "9", "start": "12:30", "ends": "13:15", "minutes": 45, "kind": "almuerzo"},
    ]}
    operator = await login(client, "operador1")
    assert (await client.get(PATH, params={"day": THURSDAY}, headers=operator)).json() == plan
    # Another day has its own plan; without a day, today's (Wednesday's: none).
    assert (await client.get(PATH, params={"day": "2026-12-11"}, headers=operator)).json()["pauses"] == []
    assert (await client.get(PATH, headers=operator)).json() == {"office": "LPZ-PRINCIPAL", "day": "2026-12-09",
                                                                  "pauses": []}

    # Written again: replaced, not added to; the empty list clears it. Each write audited.
    again = await client.put(PATH, json={"day": THURSDAY, "pauses": ROSTER[1:2]}, headers=supervisor)
    assert [p["desk"] for p in again.json()["pauses"]] == ["1"]
    cleared = await client.put(PATH, json={"day": THURSDAY, "pauses": []}, headers=supervisor)
    assert cleared.json()["pauses"] == []
    entries = await AuditEntry.filter(action="pause_plan.replace").order_by("id")
    assert [e.target for e in entries] == [f"LPZ-PRINCIPAL/{THURSDAY}"] * 3
    assert (len(entries[0].before["pauses"]), len(entries[0].after["pauses"])) == (0, 3)
    assert (len(entries[2].before["pauses"]), len(entries[2].after["pauses"])) == (1, 0)
    assert entries[0].username == "supervisor"


@pytest.mark.parametrize("pauses, code", [
    ([{"desk": "99", "start": "10:00", "minutes": 15}], "desk_not_found"),
    ([{"desk": "1", "start": "10:00", "minutes": 30}, {"desk": "1", "start": "10:20", "minutes": 15}],
     "overlapping_pauses"),
    ([{"desk": "1", "start": "06:00", "minutes": 15}], "pause_outside_hours"),
    ([{"desk": "1", "start": "16:00", "minutes": 15}], "pause_outside_hours"),
    ([{"desk": "1", "start": "10:00", "minutes": 0}], "validation_error"),
    ([{"desk": "1", "start": "10:00", "minutes": 181}], "validation_error"),
    ([{"desk": "1", "start": "10:00", "minutes": "15"}], "validation_error"),
    ([{"desk": "1", "start": "25:00", "minutes": 15}], "validation_error"),
    ([{"desk": "1", "start": "10h", "minutes": 15}], "validation_error"),
    ([{"desk": "", "start": "10:00", "minutes": 15}], "validation_error"),
    ([{"desk": "1", "start": "10:00", "minutes": 15, "kind": "siesta"}], "validation_error"),
    ([{"desk": "1", "start": f"{8 + k:02d}:00", "minutes": 10} for k in range(7)], "invalid_pause"),
])
async def test_a_bad_plan_is_refused_and_changes_nothing(client, supervisor, pauses, code):
    await client.put(PATH, json={"day": THURSDAY, "pauses": ROSTER}, headers=supervisor)
    response = await client.put(PATH, json={"day": THURSDAY, "pauses": pauses}, headers=supervisor)
    error = assert_error(response, 422, code)
    if code != "validation_error":  # the desk at fault is named
        assert error["desk"] in {p["desk"] for p in pauses}
    assert len((await client.get(PATH, params={"day": THURSDAY}, headers=supervisor)).json()["pauses"]) == 3
    assert await AuditEntry.filter(action="pause_plan.replace").count() == 1


@pytest.mark.parametrize("body, code", [
    ({"day": "2026-12-08", "pauses": []}, "day_past"),
    ({"day": "2027-03-01", "pauses": []}, "day_too_far"),
    ({"day": "10/12/2026", "pauses": []}, "validation_error"),
    ({"pauses": []}, "validation_error"),
    ({"day": THURSDAY}, "validation_error"),
    ({"day": THURSDAY, "pauses": "1 a las 10"}, "validation_error"),
])
async def test_a_bad_day_or_body_is_refused(client, supervisor, body, code):
    assert_error(await client.put(PATH, json=body, headers=supervisor), 422, code)


async def test_only_the_offices_supervisor_writes_and_only_its_staff_read(client, supervisor):
    body = {"day": THURSDAY, "pauses": ROSTER}
    assert_error(await client.put(PATH, json=body), 401)
    assert_error(await client.get(PATH), 401)
    assert_error(await client.put(PATH, json=body, headers=await login(client, "operador1")), 403)
    assert_error(await client.get(PATH, headers=await login(client, "kiosko")), 403)
    other = "/api/offices/LPZ-TELEFERICO-ROJO/pause-plan"
    assert_error(await client.put(other, json=body, headers=supervisor), 403)
    assert_error(await client.get(other, headers=supervisor), 403)
    assert_error(await client.put("/api/offices/NO-EXISTE/pause-plan", json=body, headers=supervisor), 404)
    assert_error(await client.get(PATH, params={"day": "mañana"}, headers=supervisor), 422)
    assert_error(await client.put(PATH, content=b"[]", headers=supervisor), 400)
    admin = await login(client, "admin")
    assert (await client.put(other, json={"day": THURSDAY, "pauses": [
        {"desk": "1", "start": "10:00", "minutes": 15}]}, headers=admin)).status_code == 200


async def test_the_supervisors_page_shows_the_plan_desk_by_desk(client, supervisor):
    from tests.api.test_admin_pages import page_login

    await client.put(PATH, json={"day": THURSDAY, "pauses": [*ROSTER, {"desk": "9", "start": "15:00", "minutes": 10,
                                                                       "kind": "otra"}]}, headers=supervisor)
    await page_login(client, "supervisor")
    page = await client.get(f"/supervisor/LPZ-PRINCIPAL/pausas?day={THURSDAY}")
    assert page.status_code == 200
    html = page.text
    assert html.count('<tr data-desk="') == 24
    row9 = html.split('<tr data-desk="9">')[1].split("</tr>")[0]
    assert 'data-kind="refrigerio" data-field="start" value="10:00"' in row9
    assert 'data-kind="almuerzo" data-field="start" value="12:30"' in row9
    assert 'data-start="15:00" data-minutes="10" data-kind="otra"' in row9  # kept as it is on saving
    row2 = html.split('<tr data-desk="2">')[1].split("</tr>")[0]
    assert 'data-field="start" value=""' in row2  # no pause planned: empty
    assert "07:30–16:00" in html and 'id="pp-save"' in html
    # Without a day (or with a mistyped one): today's. A past day: read only.
    assert "2026-12-09" in (await client.get("/supervisor/LPZ-PRINCIPAL/pausas?day=ayer")).text
    past = (await client.get("/supervisor/LPZ-PRINCIPAL/pausas?day=2026-12-01")).text
    assert 'id="pp-save"' not in past and "Un día pasado no se modifica" in past
    # Signed out: to the login form, and back to the same day after it.
    client.cookies.clear()
    away = await client.get(f"/supervisor/LPZ-PRINCIPAL/pausas?day={THURSDAY}")
    assert away.status_code == 303 and away.headers["location"] == f"/login?next=/supervisor/LPZ-PRINCIPAL/pausas%3Fday%3D{THURSDAY}"
    back = await client.post("/login", data={"username": "supervisor", "password": "demo",
                                              "next": f"/supervisor/LPZ-PRINCIPAL/pausas?day={THURSDAY}"})
    assert back.headers["location"] == f"/supervisor/LPZ-PRINCIPAL/pausas?day={THURSDAY}"
    # Supervisors only, of their office.
    assert (await client.get("/supervisor/LPZ-TELEFERICO-ROJO/pausas")).status_code == 403
    await page_login(client, "operador1")
    assert (await client.get("/supervisor/LPZ-PRINCIPAL/pausas")).status_code == 403


async def test_the_page_copies_another_days_plan_into_the_table_and_writes_nothing(client, supervisor):
    from tests.api.test_admin_pages import page_login

    next_thursday = "2026-12-17"
    await client.put(PATH, json={"day": THURSDAY, "pauses": ROSTER}, headers=supervisor)
    await page_login(client, "supervisor")
    page = (await client.get(f"/supervisor/LPZ-PRINCIPAL/pausas?day={next_thursday}")).text
    assert f'name="copy" value="{THURSDAY}"' in page  # the same weekday a week before, offered
    copied = (await client.get(f"/supervisor/LPZ-PRINCIPAL/pausas?day={next_thursday}&copy={THURSDAY}")).text
    row9 = copied.split('<tr data-desk="9">')[1].split("</tr>")[0]
    assert 'data-kind="almuerzo" data-field="start" value="12:30"' in row9 and 'value="45"' in row9
    assert f"Copiado el plan del {THURSDAY}: 3 pausas. Revíselo y guarde el plan del {next_thursday}." in copied
    assert f"Guardar el plan del {next_thursday}" in copied
    assert (await client.get(PATH, params={"day": next_thursday}, headers=supervisor)).json()["pauses"] == []
    # A day without a plan, or a mistyped one: the day's own table, said so.
    empty = (await client.get(f"/supervisor/LPZ-PRINCIPAL/pausas?day={THURSDAY}&copy=2026-12-11")).text
    assert "El 2026-12-11 no tiene pausas planificadas; la tabla no cambió." in empty
    assert 'data-kind="refrigerio" data-field="start" value="10:00"' in empty.split('<tr data-desk="9">')[1]
    bad = (await client.get(f"/supervisor/LPZ-PRINCIPAL/pausas?day={next_thursday}&copy=jueves")).text
    assert "La fecha del plan a copiar no es válida; la tabla no cambió." in bad
    assert 'value="12:30"' not in bad
    # A past day is read only: nothing is copied into it, and no copy form is offered.
    past = (await client.get(f"/supervisor/LPZ-PRINCIPAL/pausas?day=2026-12-01&copy={THURSDAY}")).text
    assert "Copiado" not in past and 'id="pp-copy"' not in past and 'value="12:30"' not in past


async def test_a_desks_console_shows_its_own_pauses_planned_today(client, supervisor):
    from tests.api.test_admin_pages import page_login

    today = "2026-12-09"
    await client.put(PATH, json={"day": today, "pauses": ROSTER}, headers=supervisor)
    await client.put(PATH, json={"day": THURSDAY, "pauses": [{"desk": "2", "start": "11:00", "minutes": 15}]},
                     headers=supervisor)
    await page_login(client, "operador1")
    desk9 = (await client.get("/desk/LPZ-PRINCIPAL/9")).text
    plan9 = desk9.split('id="desk-plan"')[1].split("</p>")[0]
    assert plan9.count('class="planned-pause"') == 2
    assert "refrigerio 10:00–10:15" in plan9 and "almuerzo 12:30–13:15" in plan9
    desk1 = (await client.get("/desk/LPZ-PRINCIPAL/1")).text
    assert "refrigerio 10:15–10:35" in desk1 and "10:00–10:15" not in desk1  # its own, not desk 9's
    # Desk 2 has a pause planned tomorrow only: nothing shown today (the list is there, hidden).
    desk2 = (await client.get("/desk/LPZ-PRINCIPAL/2")).text
    assert 'id="desk-plan" hidden' in desk2 and 'class="planned-pause"' not in desk2


async def test_the_consoles_state_follows_the_plan_and_reminds_the_operator(client, supervisor):
    """The console re-reads /desk/{office}/{desk}/state every few seconds: a plan written
    during the day shows there at once, and the reminder follows the clock and the desk."""
    from tests.api.test_admin_pages import page_login

    today = "2026-12-10"
    clock.freeze(datetime(2026, 12, 10, 7, 45, tzinfo=ZONE))  # the day itself: sign in then
    supervisor = await login(client, "supervisor")
    operator = await login(client, "operador1")
    await page_login(client, "operador1")
    state_url = "/desk/LPZ-PRINCIPAL/9/state"

    async def plan_now(hhmm: str) -> dict:
        hour, minute = map(int, hhmm.split(":"))
        clock.freeze(datetime(2026, 12, 10, hour, minute, tzinfo=ZONE))
        response = await client.get(state_url)
        assert response.status_code == 200, response.text
        return response.json()["plan"]

    async def desk(action: str) -> None:
        response = await client.post(f"/api/offices/LPZ-PRINCIPAL/desks/9/{action}", headers=operator)
        assert response.status_code == 200, response.text

    await desk("open")
    assert await plan_now("07:50") == {"pauses": [], "reminder": None}
    await client.put(PATH, json={"day": today, "pauses": ROSTER}, headers=supervisor)  # written during the day
    plan = await plan_now("07:51")
    assert [(p["kind"], p["start"], p["ends"]) for p in plan["pauses"]] == [
        ("refrigerio", "10:00", "10:15"), ("almuerzo", "12:30", "13:15")]
    assert plan["reminder"] is None
    assert (await plan_now("09:56"))["reminder"] == {
        "kind": "soon", "text": "Su refrigerio (10:00–10:15) empieza en 4 min."}
    assert (await plan_now("10:03"))["reminder"]["kind"] == "due"
    await desk("pause")  # at 10:03
    away = (await plan_now("10:10"))["reminder"]
    assert away["kind"] == "away" and "vuelva a las 10:18" in away["text"]
    assert (await plan_now("10:20"))["reminder"]["kind"] == "over"
    await desk("open")  # back at 10:20: the refrigerio was taken, nothing more until lunch
    assert (await plan_now("10:21"))["reminder"] is None
    assert (await plan_now("12:31"))["reminder"]["kind"] == "due"
    # Another desk's operator reads nothing of desk 9's plan through desk 2's state.
    other = (await client.get("/desk/LPZ-PRINCIPAL/2/state")).json()["plan"]
    assert other == {"pauses": [], "reminder": None}


async def test_plans_written_at_once_leave_exactly_one_of_them(client, supervisor):
    import asyncio

    plans = [[{"desk": str(d), "start": f"10:{5 * k:02d}", "minutes": 10 + k} for d in range(1, 7)]
             for k in range(8)]
    answers = await asyncio.gather(*(client.put(PATH, json={"day": THURSDAY, "pauses": p}, headers=supervisor)
                                     for p in plans))
    assert [a.status_code for a in answers] == [200] * 8
    saved = (await client.get(PATH, params={"day": THURSDAY}, headers=supervisor)).json()["pauses"]
    assert len(saved) == 6 and len({(p["start"], p["minutes"]) for p in saved}) == 1
    assert await AuditEntry.filter(action="pause_plan.replace").count() == 8


# ------------------------------------------------- repeating a saved day's plan

REPEAT = PATH + "/repeat"
WEEKLY = ["2026-12-31", "2026-12-17", "2026-12-24"]  # Thursdays after THURSDAY, in any order


async def _plan(client, headers, day: str) -> list[dict]:
    return (await client.get(PATH, params={"day": day}, headers=headers)).json()["pauses"]


async def test_a_saved_plan_is_repeated_weekly_each_day_replaced_whole_and_audited(client, supervisor):
    from turnero.core.models import Office
    from turnero.queue import waiting

    saved = (await client.put(PATH, json={"day": THURSDAY, "pauses": ROSTER}, headers=supervisor)).json()["pauses"]
    # One target already has a plan of its own: replaced whole, not added to.
    await client.put(PATH, json={"day": "2026-12-24", "pauses": [{"desk": "2", "start": "11:00", "minutes": 15}]},
                     headers=supervisor)
    office = await Office.get(code="LPZ-PRINCIPAL")
    version = waiting.desk_version(office.id)
    response = await client.post(REPEAT, json={"from": THURSDAY, "days": WEEKLY}, headers=supervisor)
    assert response.status_code == 200, response.text
    assert response.json() == {"office": "LPZ-PRINCIPAL", "from": THURSDAY, "days": sorted(WEEKLY), "pauses": saved}
    for day in WEEKLY:
        assert await _plan(client, supervisor, day) == saved
    assert await _plan(client, supervisor, THURSDAY) == saved  # the source is left as it was
    assert await _plan(client, supervisor, "2026-12-18") == []  # a day not asked for: untouched
    entries = await AuditEntry.filter(action="pause_plan.replace").order_by("id")
    repeated = entries[2:]
    assert [e.target for e in repeated] == [f"LPZ-PRINCIPAL/{day}" for day in sorted(WEEKLY)]
    assert all(e.after == {"pauses": saved} and e.username == "supervisor" for e in repeated)
    assert [len(e.before["pauses"]) for e in repeated] == [0, 1, 0]
    assert waiting.desk_version(office.id) == version  # today was not among the days

    # Today among the days: this instance's estimate plays the new plan at once.
    today = "2026-12-09"
    assert (await client.post(REPEAT, json={"from": THURSDAY, "days": [today]}, headers=supervisor)).status_code == 200
    assert await _plan(client, supervisor, today) == saved
    assert waiting.desk_version(office.id) > version


async def test_a_past_days_plan_is_repeated_forward(client, supervisor):
    await client.put(PATH, json={"day": THURSDAY, "pauses": ROSTER}, headers=supervisor)
    saved = await _plan(client, supervisor, THURSDAY)
    clock.freeze(datetime(2026, 12, 14, 8, 0, tzinfo=ZONE))  # the Monday after: THURSDAY is gone by
    supervisor = await login(client, "supervisor")
    response = await client.post(REPEAT, json={"from": THURSDAY, "days": ["2026-12-17"]}, headers=supervisor)
    assert response.status_code == 200, response.text
    assert await _plan(client, supervisor, "2026-12-17") == saved


@pytest.mark.parametrize("bad_day, code", [
    ("2026-12-08", "day_past"),
    ("2027-02-11", "day_too_far"),
    ("2026-12-26", "pause_outside_hours"),  # a Saturday: open 08:00–12:00, the 12:30 almuerzo does not fit
])
async def test_one_bad_day_leaves_every_days_plan_as_it_was(client, supervisor, bad_day, code):
    await client.put(PATH, json={"day": THURSDAY, "pauses": ROSTER}, headers=supervisor)
    other = [{"desk": "2", "start": "11:00", "minutes": 15}]
    await client.put(PATH, json={"day": "2026-12-24", "pauses": other}, headers=supervisor)
    days = ["2026-12-17", "2026-12-24", bad_day, "2026-12-31"]
    error = assert_error(await client.post(REPEAT, json={"from": THURSDAY, "days": days}, headers=supervisor),
                         422, code)
    assert error["day"] == bad_day and bad_day in error["message"]
    assert await _plan(client, supervisor, "2026-12-17") == []
    assert [p["desk"] for p in await _plan(client, supervisor, "2026-12-24")] == ["2"]
    assert await _plan(client, supervisor, "2026-12-31") == []
    assert await AuditEntry.filter(action="pause_plan.replace").count() == 2


@pytest.mark.parametrize("body, code", [
    ({"from": THURSDAY, "days": ["2026-12-08"]}, "day_past"),
    ({"from": THURSDAY, "days": ["2027-02-10"]}, "day_too_far"),  # 63 days ahead
    ({"from": "2026-12-11", "days": ["2026-12-18"]}, "nothing_to_copy"),  # Friday: no plan
    ({"from": "2026-12-01", "days": ["2026-12-17"]}, "nothing_to_copy"),
    ({"from": THURSDAY, "days": []}, "invalid_days"),
    ({"from": THURSDAY, "days": [f"2027-01-{d:02d}" for d in range(1, 32)] + ["2026-12-31"]}, "invalid_days"),
    ({"from": THURSDAY, "days": ["2026-12-17", THURSDAY]}, "invalid_days"),
    ({"from": THURSDAY, "days": ["2026-12-17", "2026-12-24", "2026-12-17"]}, "invalid_days"),
    ({"from": THURSDAY, "days": ["2026-12-12"]}, "pause_outside_hours"),
    ({"from": "10/12/2026", "days": ["2026-12-17"]}, "validation_error"),
    ({"from": THURSDAY, "days": "2026-12-17"}, "validation_error"),
    ({"from": THURSDAY, "days": [17]}, "validation_error"),
    ({"days": ["2026-12-17"]}, "validation_error"),
    ({"from": THURSDAY}, "validation_error"),
])
async def test_a_bad_repeat_is_refused_and_writes_nothing(client, supervisor, body, code):
    await client.put(PATH, json={"day": THURSDAY, "pauses": ROSTER}, headers=supervisor)
    error = assert_error(await client.post(REPEAT, json=body, headers=supervisor), 422, code)
    if code == "pause_outside_hours":  # the day that does not hold the plan is named
        assert error["message"].startswith("El 2026-12-12: ") and error["day"] == "2026-12-12"
    for day in ("2026-12-17", "2026-12-24", "2026-12-31", "2027-01-01", "2026-12-12"):
        assert await _plan(client, supervisor, day) == []
    assert await AuditEntry.filter(action="pause_plan.replace").count() == 1


async def test_only_the_offices_supervisor_repeats_a_plan(client, supervisor):
    body = {"from": THURSDAY, "days": ["2026-12-17"]}
    await client.put(PATH, json={"day": THURSDAY, "pauses": ROSTER}, headers=supervisor)
    assert_error(await client.post(REPEAT, json=body), 401)
    assert_error(await client.post(REPEAT, json=body, headers=await login(client, "operador1")), 403)
    assert_error(await client.post(REPEAT, json=body, headers=await login(client, "kiosko")), 403)
    other = "/api/offices/LPZ-TELEFERICO-ROJO/pause-plan"
    assert_error(await client.post(other + "/repeat", json=body, headers=supervisor), 403)
    assert_error(await client.post("/api/offices/NO-EXISTE/pause-plan/repeat", json=body, headers=supervisor), 404)
    assert_error(await client.post(REPEAT, content=b"[]", headers=supervisor), 400)
    assert await _plan(client, supervisor, "2026-12-17") == []
    admin = await login(client, "admin")
    await client.put(other, json={"day": THURSDAY, "pauses": [{"desk": "1", "start": "10:00", "minutes": 15}]},
                     headers=admin)
    response = await client.post(other + "/repeat", json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert [p["start"] for p in response.json()["pauses"]] == ["10:00"]


async def test_repeats_at_once_leave_each_day_one_whole_plan(client, supervisor):
    import asyncio

    friday = "2026-12-11"
    await client.put(PATH, json={"day": THURSDAY, "pauses": ROSTER}, headers=supervisor)
    await client.put(PATH, json={"day": friday, "pauses": [{"desk": str(d), "start": "11:00", "minutes": 10}
                                                           for d in range(1, 7)]}, headers=supervisor)
    days = ["2026-12-28", "2026-12-29", "2026-12-30"]
    answers = await asyncio.gather(*(client.post(REPEAT, json={"from": source, "days": days}, headers=supervisor)
                                     for source in [THURSDAY, friday] * 4))
    assert [a.status_code for a in answers] == [200] * 8
    plans = [await _plan(client, supervisor, day) for day in days]
    assert plans[0] in (await _plan(client, supervisor, THURSDAY), await _plan(client, supervisor, friday))
    assert plans[1] == plans[0] and plans[2] == plans[0]  # one repeat's plan on every day, none mixed
    assert await AuditEntry.filter(action="pause_plan.replace").count() == 2 + 8 * 3


def _boot(html: str) -> dict:
    import json

    return json.loads(html.split('<script type="application/json" id="pp-data">')[1].split("</script>")[0])


async def test_the_page_offers_to_repeat_only_a_saved_plan_of_an_editable_day(client, supervisor):
    from tests.api.test_admin_pages import page_login

    await client.put(PATH, json={"day": THURSDAY, "pauses": ROSTER}, headers=supervisor)
    await page_login(client, "supervisor")
    page = (await client.get(f"/supervisor/LPZ-PRINCIPAL/pausas?day={THURSDAY}")).text
    form = page.split('<form class="pp-repeat" id="pp-repeat" data-no-submit>')[1].split("</form>")[0]
    assert "<legend>Repetir este plan</legend>" in form
    assert 'value="week" checked> el mismo día de cada semana' in form
    assert 'value="workday"> cada día hábil (lunes a viernes)' in form
    # «hasta»: four weeks later by default, from the next day, at most as far as a plan is written.
    assert 'value="2027-01-07"' in form and 'min="2026-12-11"' in form and 'max="2027-02-09"' in form
    assert _boot(page)["saved"] == [{k: p[k] for k in ("desk", "start", "minutes", "kind")}
                                    for p in await _plan(client, supervisor, THURSDAY)]
    # A day with no saved plan: the form is there but hidden (shown once a plan is saved);
    # so is it while another day's plan is copied into the table, unsaved.
    for url in ("?day=2026-12-17", f"?day=2026-12-17&copy={THURSDAY}"):
        unsaved = (await client.get(f"/supervisor/LPZ-PRINCIPAL/pausas{url}")).text
        assert '<form class="pp-repeat" id="pp-repeat" data-no-submit hidden>' in unsaved
        assert _boot(unsaved)["saved"] == []
    # The table holding a copy, the day's own saved plan is what would be repeated.
    copied = (await client.get(f"/supervisor/LPZ-PRINCIPAL/pausas?day=2026-12-11&copy={THURSDAY}")).text
    assert "Copiado el plan" in copied and _boot(copied)["saved"] == []
    # A past day, or the last day a plan may be written for: no form at all.
    assert 'id="pp-repeat"' not in (await client.get("/supervisor/LPZ-PRINCIPAL/pausas?day=2026-12-01")).text
    await client.put(PATH, json={"day": "2027-02-09", "pauses": ROSTER}, headers=supervisor)
    assert 'id="pp-repeat"' not in (await client.get("/supervisor/LPZ-PRINCIPAL/pausas?day=2027-02-09")).text


async def test_the_supervisors_page_shows_how_each_planned_pause_was_kept(client):
    """Today and past days: per desk, each planned pause against the pause taken for it
    (the desk_event trail), pending while the estimate still expects it."""
    from tests.api.test_admin_pages import page_login

    def at(hhmm: str) -> None:
        hour, minute = map(int, hhmm.split(":"))
        clock.freeze(datetime(2026, 12, 10, hour, minute, tzinfo=ZONE))

    at("07:45")
    supervisor = await login(client, "supervisor")
    operator = await login(client, "operador1")
    await client.put(PATH, json={"day": "2026-12-10", "pauses": ROSTER}, headers=supervisor)
    for when, action in (("07:50", "open"), ("10:04", "pause"), ("10:22", "open"), ("11:00", "pause"),
                         ("11:05", "open")):
        at(when)
        response = await client.post(f"/api/offices/LPZ-PRINCIPAL/desks/9/{action}", headers=operator)
        assert response.status_code == 200, response.text
    await page_login(client, "supervisor")
    at("12:00")
    page = (await client.get("/supervisor/LPZ-PRINCIPAL/pausas")).text
    assert '<th scope="col">Cumplimiento</th>' in page
    row9 = page.split('<tr data-desk="9">')[1].split("</tr>")[0]
    assert "refrigerio 10:00–10:15: de 10:04 a 10:22 (4 min tarde; 18 de 15 min)" in row9
    assert "almuerzo 12:30–13:15: pendiente" in row9
    row1 = page.split('<tr data-desk="1">')[1].split("</tr>")[0]
    assert "refrigerio 10:15–10:35: no se tomó" in row1  # desk 1 never paused
    # The next day, the 10th is a past day: still shown, with the lunch not taken.
    clock.freeze(datetime(2026, 12, 11, 8, 0, tzinfo=ZONE))
    await page_login(client, "supervisor")
    past = (await client.get("/supervisor/LPZ-PRINCIPAL/pausas?day=2026-12-10")).text
    assert "almuerzo 12:30–13:15: no se tomó" in past and "de 10:04 a 10:22" in past
    # A day ahead, or a day without a plan, has no such column.
    supervisor = await login(client, "supervisor")
    await client.put(PATH, json={"day": "2026-12-14", "pauses": ROSTER}, headers=supervisor)
    assert "Cumplimiento" not in (await client.get("/supervisor/LPZ-PRINCIPAL/pausas?day=2026-12-14")).text
    assert "Cumplimiento" not in (await client.get("/supervisor/LPZ-PRINCIPAL/pausas?day=2026-12-09")).text


async def test_the_balancing_view_shows_each_desks_next_planned_pause(client):
    """A desk about to leave is a poor one to move: the balancing API and page show each
    desk's next planned pause today that is not over yet."""
    from tests.api.test_admin_pages import page_login

    clock.freeze(datetime(2026, 12, 10, 7, 45, tzinfo=ZONE))
    supervisor = await login(client, "supervisor")
    await client.put(PATH, json={"day": "2026-12-10", "pauses": ROSTER}, headers=supervisor)
    url = "/api/offices/LPZ-PRINCIPAL/balancing"

    async def next_pauses(hour: int, minute: int) -> dict:
        clock.freeze(datetime(2026, 12, 10, hour, minute, tzinfo=ZONE))
        response = await client.get(url, headers=supervisor)
        assert response.status_code == 200, response.text
        return {d["name"]: d["next_pause"] for d in response.json()["desks"] if d["next_pause"]}

    assert await next_pauses(10, 5) == {"9": "refrigerio 10:00–10:15", "1": "refrigerio 10:15–10:35"}
    assert await next_pauses(10, 20) == {"9": "almuerzo 12:30–13:15", "1": "refrigerio 10:15–10:35"}
    assert await next_pauses(13, 15) == {}  # the day's plan is over
    # Desk 1 takes its refrigerio early and is back before its planned end: its next
    # pause is none left today, not the one it has taken (nor is it «about to leave»).
    operator = await login(client, "operador1")
    for hour, minute, action in ((10, 0, "open"), (10, 12, "pause"), (10, 25, "open")):
        clock.freeze(datetime(2026, 12, 10, hour, minute, tzinfo=ZONE))
        response = await client.post(f"/api/offices/LPZ-PRINCIPAL/desks/1/{action}", headers=operator)
        assert response.status_code == 200, response.text
    assert await next_pauses(10, 30) == {"9": "almuerzo 12:30–13:15"}
    clock.freeze(datetime(2026, 12, 10, 10, 5, tzinfo=ZONE))
    await page_login(client, "supervisor")
    page = (await client.get("/supervisor/LPZ-PRINCIPAL/balancing")).text
    assert "<th>Próxima pausa planificada</th>" in page and "<td>refrigerio 10:00–10:15</td>" in page
