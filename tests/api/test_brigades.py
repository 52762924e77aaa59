"""Mobile brigades (issue 20, item 5) and the La Paz demo network (item 9).

A brigade office (`kind: "brigade"`) is open only on the dates of its stops, with the
stop's hours; a fixed office keeps its weekly hours. Stops are public (GET /api/brigades)
and an admin alone creates, replaces and deletes them, each change audited.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from tests.conftest import assert_error, login
from turnero.core.audit import AuditEntry
from turnero.core import brigades, clock
from turnero.core.models import BrigadeInvitee, BrigadeStop, Office, OfficeKind
from turnero.demo import BRIGADE, CI_OFFICES, DEMO_STOPS, LICENCE_OFFICES, NO_ADDRESS
from turnero.scheduler.config import config_of

HOURS = [["08:00", "12:00"], ["14:00", "17:00"]]
# Monday 14 December 2026, 10:00 in La Paz.
MONDAY = date(2026, 12, 14)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour + 4, tzinfo=timezone.utc)  # La Paz is UTC-4


def _stop(day: date, days: int = 2, municipality: str = "Sorata", **extra) -> dict:
    return {"municipality": municipality, "department": "LP", "address": "Plaza principal",
            "starts_on": day.isoformat(), "ends_on": (day + timedelta(days=days - 1)).isoformat(),
            "hours": HOURS, **extra}


# ---------------------------------------------------------------- the demo network


async def test_the_demo_is_la_paz_eleven_ci_offices_seven_licence_offices_and_a_brigade(client):
    offices = {o["code"]: o for o in (await client.get("/api/offices")).json()}
    ci = {"CI-RENOV", "CI-NUEVO", "CI-REPOSICION", "CI-MENOR"}
    licences = {"LIC-NUEVA", "LIC-RENOV", "LIC-DUPLICADO"}
    fixed = {code: o for code, o in offices.items() if o["kind"] == "fixed"}
    assert {c for c, o in fixed.items() if ci & set(o["services"])} == set(CI_OFFICES)
    assert len(CI_OFFICES) == 11
    assert {c for c, o in fixed.items() if licences & set(o["services"])} == set(LICENCE_OFFICES)
    assert len(LICENCE_OFFICES) == 7
    # The main office's licence counters: a section of their own, in the same building.
    assert offices["LPZ-LIC-PRINCIPAL"]["address"] == offices["LPZ-PRINCIPAL"]["address"]
    assert {c for c, o in fixed.items() if "SANEAMIENTO" in o["services"]} == {
        "LPZ-PRINCIPAL", "LPZ-ZONA-SUR", "LPZ-CENTRO-CELESTE", "LPZ-TELEFERICO-ROJO", "LPZ-SANTA-ROSA",
        "LPZ-CARANAVI"}  # the seeds' 6 of 11
    assert "PASAPORTE" in offices["LPZ-DIGEMIG"]["services"]
    names = {o["name"] for o in offices.values()}
    for place in ("Santa Rosa", "Pacajes", "Caranavi", "Viacha", "Achacachi", "El Alto", "Teleférico Celeste",
                  "Teleférico Rojo", "Zona Sur", "Oficina Principal"):
        assert any(place in name for name in names), place
    # No invented address: where the seeds give none, the office says so.
    assert offices["LPZ-PACAJES"]["address"] == NO_ADDRESS
    assert offices[BRIGADE]["kind"] == "brigade" and offices[BRIGADE]["opening_hours"] == {}


async def test_every_demo_office_has_desks_for_what_it_offers(client):
    admin = await login(client, "admin")
    # Served at a desk: all but the exam (its room) and the trámites made of steps.
    not_at_a_desk = {s["code"] for s in (await client.get("/api/services")).json() if s["steps"]} | {"EXAM-TEORICO"}
    for office in (await client.get("/api/offices")).json():
        desks = (await client.get(f"/api/admin/offices/{office['code']}/desks", headers=admin)).json()
        assert 2 <= len(desks) <= 25, office["code"]
        served = {code for d in desks for code in d["services"]}
        assert set(office["services"]) - not_at_a_desk <= served <= set(office["services"]), office["code"]


async def test_the_demo_brigade_has_three_upcoming_stops_and_seeding_again_adds_none(db):
    from turnero.demo import seed_demo

    office = await Office.get(code=BRIGADE)
    today = clock.local_day(clock.now(), office.timezone)
    stops = await BrigadeStop.filter(office_id=office.id).order_by("starts_on")
    assert [s.municipality for s in stops] == [m for _a, _b, m in DEMO_STOPS]
    assert all(s.starts_on > today and "demostración" in s.note for s in stops)
    await seed_demo()
    assert await BrigadeStop.filter(office_id=office.id).count() == 3
    # Once every stop is past, seeding the demo again dates three new ones from then.
    clock.freeze(_at(today + timedelta(days=40)))
    await seed_demo()
    assert await BrigadeStop.filter(office_id=office.id, starts_on__gt=today + timedelta(days=40)).count() == 3


# ---------------------------------------------------------------- hours on a date


async def test_hours_on_a_date_weekly_for_a_fixed_office_and_the_stops_for_a_brigade(db):
    fixed = await Office.get(code="LPZ-ZONA-SUR")
    assert await brigades.hours_on(fixed, MONDAY) == [["07:30", "16:00"]]
    assert await brigades.hours_on(fixed, MONDAY - timedelta(days=1)) == []  # Sunday
    brigade = await Office.get(code=BRIGADE)
    await BrigadeStop.filter(office_id=brigade.id).delete()
    await BrigadeStop.create(office=brigade, municipality="Sorata", starts_on=MONDAY + timedelta(days=5),
                             ends_on=MONDAY + timedelta(days=6), hours=HOURS)
    by_day = await brigades.hours_by_day(brigade, [MONDAY + timedelta(days=n) for n in range(8)])
    # Saturday and Sunday at the stop; closed every other day, weekday or not.
    assert [n for n in range(8) if by_day[MONDAY + timedelta(days=n)]] == [5, 6]
    assert by_day[MONDAY + timedelta(days=5)] == HOURS
    assert not await brigades.open_on(brigade, MONDAY) and await brigades.open_on(brigade, MONDAY + timedelta(days=6))
    weekly = await brigades.weekly_hours_by_day(brigade, [MONDAY, MONDAY + timedelta(days=5)])
    assert weekly == {MONDAY: {}, MONDAY + timedelta(days=5): {"sat": HOURS}}


# ---------------------------------------------------------------- citas


async def test_a_brigade_has_slots_only_on_its_stop_days_in_the_stop_hours(client):
    clock.freeze(_at(MONDAY, 8))
    office = await Office.get(code=BRIGADE)
    await BrigadeStop.filter(office_id=office.id).delete()
    admin = await login(client, "admin")
    wednesday = MONDAY + timedelta(days=2)
    assert (await client.post(f"/api/admin/offices/{BRIGADE}/stops", json=_stop(wednesday, 2, "Sorata"),
                              headers=admin)).status_code == 201
    response = await client.get(f"/api/offices/{BRIGADE}/availability",
                                params={"service": "CI-RENOV", "from": MONDAY.isoformat(), "days": 7})
    assert response.status_code == 200, response.text
    slots = [datetime.fromisoformat(s["start"]) for s in response.json()]
    assert slots and {s.date() for s in slots} == {wednesday, wednesday + timedelta(days=1)}
    # Within the stop's hours (08:00–12:00, 14:00–17:00), lunch left out.
    assert min(s.strftime("%H:%M") for s in slots) == "08:00" and max(s.strftime("%H:%M") for s in slots) < "17:00"
    assert not any("12:00" <= s.strftime("%H:%M") < "14:00" for s in slots)
    body = {"office": BRIGADE, "service": "CI-RENOV", "document": {"number": "4785123", "issued_in": "LP"},
            "name": "Juana Mamani"}
    friday = datetime(2026, 12, 18, 9, 0, tzinfo=slots[0].tzinfo)
    assert_error(await client.post("/api/appointments", json={**body, "start": friday.isoformat()}), 422,
                 "office_closed")
    booked = await client.post("/api/appointments", json={**body, "start": slots[0].isoformat()})
    assert booked.status_code == 201, booked.text
    # The calendar says why the other days are closed.
    calendar = (await client.get(f"/api/offices/{BRIGADE}/calendar", headers=admin)).json()
    assert "La brigada no tiene parada ese día" in str(calendar)


async def test_a_deleted_stop_offers_no_more_citas_on_its_days(client):
    clock.freeze(_at(MONDAY, 8))
    office = await Office.get(code=BRIGADE)
    await BrigadeStop.filter(office_id=office.id).delete()
    admin = await login(client, "admin")
    stop = (await client.post(f"/api/admin/offices/{BRIGADE}/stops", json=_stop(MONDAY + timedelta(days=2), 1),
                              headers=admin)).json()
    params = {"service": "CI-RENOV", "from": MONDAY.isoformat(), "days": 7}
    assert (await client.get(f"/api/offices/{BRIGADE}/availability", params=params)).json()
    assert (await client.delete(f"/api/admin/offices/{BRIGADE}/stops/{stop['id']}", headers=admin)).status_code == 204
    # (Closed days are kept 10 s per process, as for closures: the cache has expired.)
    config_of(client._transport.app).cache.forget()
    assert (await client.get(f"/api/offices/{BRIGADE}/availability", params=params)).json() == []


async def test_a_brigade_issues_walk_in_tickets_only_on_a_stop_day(client):
    from turnero.queue.models import Ticket

    clock.freeze(_at(MONDAY))
    office = await Office.get(code=BRIGADE)
    await BrigadeStop.filter(office_id=office.id).delete()
    admin = await login(client, "admin")
    url = f"/api/offices/{BRIGADE}/tickets"
    assert_error(await client.post(url, json={"service": "CI-RENOV"}, headers=admin), 422, "office_closed")
    assert await Ticket.filter(office_id=office.id).count() == 0
    await client.post(f"/api/admin/offices/{BRIGADE}/stops", json=_stop(MONDAY, 1, "Pucarani"), headers=admin)
    issued = await client.post(url, json={"service": "CI-RENOV"}, headers=admin)
    assert issued.status_code == 201, issued.text
    # A fixed office's kiosk is not held to its weekly hours (a Sunday ticket still goes out).
    clock.freeze(_at(MONDAY - timedelta(days=1)))
    admin = await login(client, "admin")
    sunday = await client.post("/api/offices/LPZ-ZONA-SUR/tickets", json={"service": "CI-RENOV"}, headers=admin)
    assert sunday.status_code == 201, sunday.text


# ---------------------------------------------------------------- public list


async def test_upcoming_stops_soonest_first_without_past_ones_and_by_city(client):
    clock.freeze(_at(MONDAY))
    admin = await login(client, "admin")
    office = await Office.get(code=BRIGADE)
    await BrigadeStop.filter(office_id=office.id).delete()
    await BrigadeStop.create(office=office, municipality="Achacachi", starts_on=MONDAY - timedelta(days=5),
                             ends_on=MONDAY - timedelta(days=1), hours=HOURS)  # over
    for offset, municipality in ((10, "Coroico"), (3, "Sorata"), (0, "Pucarani")):
        response = await client.post(f"/api/admin/offices/{BRIGADE}/stops", headers=admin,
                                     json=_stop(MONDAY + timedelta(days=offset), 2, municipality))
        assert response.status_code == 201, response.text
    client.headers.pop("Authorization", None)
    response = await client.get("/api/brigades")
    assert response.status_code == 200
    stops = response.json()
    assert [s["municipality"] for s in stops] == ["Pucarani", "Sorata", "Coroico"]  # today's stop included
    assert stops[0] == {
        "id": stops[0]["id"], "office": BRIGADE, "office_name": "SEGIP Brigada Móvil 1 La Paz", "institution": "SEGIP",
        "municipality": "Pucarani", "department": "LP", "address": "Plaza principal",
        "starts_on": MONDAY.isoformat(), "ends_on": (MONDAY + timedelta(days=1)).isoformat(), "hours": HOURS,
        "note": "", "closed": False, "campaign": "",
    }
    assert [s["municipality"] for s in (await client.get("/api/brigades?city=coroico")).json()] == ["Coroico"]
    assert [s["municipality"] for s in (await client.get("/api/brigades?city=SÓRATA")).json()] == ["Sorata"]
    # The brigade's home city lists all its stops; a city it does not visit, none.
    assert len((await client.get("/api/brigades?city=La Paz")).json()) == 3
    assert (await client.get("/api/brigades?city=Tarija")).json() == []
    assert_error(await client.get("/api/brigades?city=" + "x" * 81), 422)


async def test_an_inactive_brigade_lists_no_stops(client):
    admin = await login(client, "admin")
    assert (await client.get("/api/brigades")).json()
    response = await client.patch(f"/api/admin/offices/{BRIGADE}", json={"active": False}, headers=admin)
    assert response.status_code == 200
    assert (await client.get("/api/brigades")).json() == []


# ---------------------------------------------------------------- admin


async def test_admin_creates_replaces_and_deletes_a_stop_each_change_audited(client):
    admin = await login(client, "admin")
    url = f"/api/admin/offices/{BRIGADE}/stops"
    created = await client.post(url, json=_stop(MONDAY + timedelta(days=60), 3), headers=admin)
    assert created.status_code == 201, created.text
    stop = created.json()
    assert stop["municipality"] == "Sorata" and stop["hours"] == HOURS
    assert stop["ends_on"] == (MONDAY + timedelta(days=62)).isoformat()
    listed = (await client.get(url, headers=admin)).json()
    assert stop in listed and len(listed) == 4  # with the demo's three
    changed = await client.put(f"{url}/{stop['id']}", headers=admin,
                               json=_stop(MONDAY + timedelta(days=61), 1, "Sorata", hours=[["09:00", "13:00"]]))
    assert changed.status_code == 200, changed.text
    assert changed.json()["hours"] == [["09:00", "13:00"]] and changed.json()["starts_on"] == changed.json()["ends_on"]
    row = await BrigadeStop.get(id=stop["id"])
    assert row.starts_on == MONDAY + timedelta(days=61) and row.hours == [["09:00", "13:00"]]
    deleted = await client.delete(f"{url}/{stop['id']}", headers=admin)
    assert deleted.status_code == 204
    assert not await BrigadeStop.exists(id=stop["id"])
    actions = await AuditEntry.filter(target=f"{BRIGADE}/{stop['id']}").order_by("id").values_list("action", flat=True)
    assert actions == ["brigade_stop.create", "brigade_stop.update", "brigade_stop.delete"]
    entry = await AuditEntry.filter(action="brigade_stop.update").get()
    assert entry.username == "admin" and entry.before["hours"] == HOURS and entry.after["hours"] == [["09:00", "13:00"]]
    assert_error(await client.delete(f"{url}/{stop['id']}", headers=admin), 404, "stop_not_found")
    assert_error(await client.put(f"{url}/nope", json=_stop(MONDAY), headers=admin), 404, "stop_not_found")


async def test_a_stop_is_validated(client):
    admin = await login(client, "admin")
    url = f"/api/admin/offices/{BRIGADE}/stops"
    day = MONDAY + timedelta(days=80)
    bad = [
        {**_stop(day), "ends_on": (day - timedelta(days=1)).isoformat()},  # ends before it starts
        {**_stop(day), "hours": [["08:00"]]},
        {**_stop(day), "hours": [["8:00", "12:00"]]},
        {**_stop(day), "hours": [["12:00", "08:00"]]},
        {**_stop(day), "hours": [["08:00", "12:00"], ["11:00", "13:00"]]},  # overlapping
        {**_stop(day), "hours": []},
        {**_stop(day), "municipality": ""},
        {**_stop(day), "starts_on": "2026-02-30"},
        {**_stop(day), "ends_on": (day + timedelta(days=400)).isoformat()},
        {**_stop(day), "closed": True},  # a closed session names its institution
        {**_stop(day), "bus": "B-12"},  # unknown field
    ]
    for body in bad:
        assert_error(await client.post(url, json=body, headers=admin), 422)
    before = await BrigadeStop.all().count()
    assert (await client.post(url, json=_stop(day, 3), headers=admin)).status_code == 201
    # Two stops of one brigade never share a day.
    overlap = await client.post(url, json=_stop(day + timedelta(days=2), 2, "Coroico"), headers=admin)
    assert_error(overlap, 409, "stop_overlaps")
    assert await BrigadeStop.all().count() == before + 1
    # A fixed office has no stops.
    assert_error(await client.post("/api/admin/offices/LPZ-ZONA-SUR/stops", json=_stop(day), headers=admin),
                 409, "not_a_brigade")
    assert_error(await client.post("/api/admin/offices/NOPE/stops", json=_stop(day), headers=admin),
                 404, "office_not_found")


async def test_only_an_admin_changes_stops(client):
    url = f"/api/admin/offices/{BRIGADE}/stops"
    assert_error(await client.post(url, json=_stop(MONDAY)), 401)
    for user in ("supervisor", "operador1", "kiosko"):
        headers = await login(client, user)
        assert_error(await client.post(url, json=_stop(MONDAY), headers=headers), 403)
        assert_error(await client.get(url, headers=headers), 403)
    stop = await BrigadeStop.filter(office__code=BRIGADE).first()
    supervisor = await login(client, "supervisor")
    assert_error(await client.delete(f"{url}/{stop.id}", headers=supervisor), 403)
    assert await BrigadeStop.exists(id=stop.id)


async def test_an_admin_turns_an_office_into_a_brigade(client):
    admin = await login(client, "admin")
    body = {"code": "LPZ-BRIGADA-2", "name": "SEGIP Brigada Móvil 2", "department": "LP", "city": "La Paz",
            "kind": "brigade", "services": ["CI-RENOV"]}
    created = await client.post("/api/admin/offices", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "brigade"
    assert (await Office.get(code="LPZ-BRIGADA-2")).kind == OfficeKind.BRIGADE
    assert_error(await client.post("/api/admin/offices", json={**body, "code": "X-1", "kind": "bus"}, headers=admin),
                 422)
    back = await client.patch("/api/admin/offices/LPZ-BRIGADA-2", json={"kind": "fixed"}, headers=admin)
    assert back.status_code == 200 and back.json()["kind"] == "fixed"


# ---------------------------------------------------------------- portal and ranking


async def test_the_portal_office_step_lists_the_upcoming_stops_in_spanish(client):
    clock.freeze(_at(MONDAY))
    office = await Office.get(code=BRIGADE)
    await BrigadeStop.filter(office_id=office.id).delete()
    await BrigadeStop.create(office=office, municipality="Achacachi", starts_on=MONDAY - timedelta(days=3),
                             ends_on=MONDAY - timedelta(days=1), hours=HOURS)  # over: not shown
    admin = await login(client, "admin")
    await client.post(f"/api/admin/offices/{BRIGADE}/stops", json=_stop(date(2026, 12, 30), 4, "Coroico"),
                      headers=admin)
    await client.post(f"/api/admin/offices/{BRIGADE}/stops", json=_stop(date(2026, 12, 16), 3, "Sorata"),
                      headers=admin)
    client.headers.pop("Authorization", None)
    html = (await client.get("/citas")).text
    section = html[html.index("Brigadas móviles: próximas paradas"):]
    section = section[:section.index("</section>")]
    assert "Achacachi" not in section
    assert section.index("Sorata") < section.index("Coroico")  # soonest first
    assert "del 16 al 18 de diciembre · 08:00–12:00 y 14:00–17:00" in section
    assert "del 30 de diciembre al 2 de enero" in section
    assert "SEGIP Brigada Móvil 1 La Paz · Plaza principal" in section
    assert "style=" not in section and "<script" not in section  # CSP: no inline styles or scripts


async def test_the_ranking_of_a_trámite_shows_the_brigades_that_offer_it(client):
    ranking = (await client.get("/api/services/CI-RENOV/ranking?city=La Paz")).json()
    assert [s["municipality"] for s in ranking["brigades"]] == [m for _a, _b, m in DEMO_STOPS]
    assert all(s["office"] == BRIGADE for s in ranking["brigades"])
    # The brigade does not do licences: none for LIC-RENOV.
    assert (await client.get("/api/services/LIC-RENOV/ranking")).json()["brigades"] == []


async def test_a_brigade_day_closes_after_its_stops_closing_time(db):
    from turnero.queue import day_close, issuing
    from turnero.queue.config import QueueConfig
    from turnero.queue.models import Ticket, TicketStatus

    config = QueueConfig()  # grace: 60 min
    office = await Office.get(code=BRIGADE)
    await BrigadeStop.filter(office_id=office.id).delete()
    await BrigadeStop.create(office=office, municipality="Pucarani", starts_on=MONDAY, ends_on=MONDAY, hours=HOURS)
    clock.freeze(_at(MONDAY, 9))
    ticket = await issuing.issue_ticket(office, "CI-RENOV", actor=None, config=config)
    # The stop closes at 17:00 (its weekly hours are none): cancelled from 18:00, not before.
    assert await day_close.close_day(office, config, now=_at(MONDAY, 17) + timedelta(minutes=59)) == 0
    assert await day_close.close_day(office, config, now=_at(MONDAY, 18)) == 1
    assert (await Ticket.get(public_id=ticket["id"])).status == TicketStatus.CANCELLED



# ---------------------------------------------------------------- closed sessions (a prison, a school)


PEOPLE = [{"name": "Juan Quispe", "document": {"number": "4785123"}},
          {"name": "Ana Mamani", "document": {"number": "5123456", "complement": "1B"}}]


async def _closed_session(client, admin, day: date) -> dict:
    office = await Office.get(code=BRIGADE)
    await BrigadeStop.filter(office_id=office.id).delete()
    body = _stop(day, 1, "Chonchocoro", closed=True, institution="Centro penitenciario San Pedro de Chonchocoro")
    stop = (await client.post(f"/api/admin/offices/{BRIGADE}/stops", json=body, headers=admin)).json()
    response = await client.put(f"/api/admin/offices/{BRIGADE}/stops/{stop['id']}/invitees", json={"people": PEOPLE},
                                headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"stop": stop["id"], "institution": body["institution"], "people": 2}
    return stop


async def test_a_closed_session_books_only_the_institutions_list_and_takes_no_walk_ins(client):
    clock.freeze(_at(MONDAY, 8))
    admin = await login(client, "admin")
    day = MONDAY + timedelta(days=2)
    stop = await _closed_session(client, admin, day)
    # Public: the stop is there, marked closed, with the institution — and nobody's name.
    public = (await client.get("/api/brigades")).json()
    assert public[0]["closed"] is True and public[0]["campaign"].startswith("Centro penitenciario")
    assert "Quispe" not in str(public) and "4785123" not in str(public)
    slots = (await client.get(f"/api/offices/{BRIGADE}/availability",
                              params={"service": "CI-RENOV", "from": day.isoformat(), "days": 1})).json()
    start = slots[0]["start"]
    body = {"office": BRIGADE, "service": "CI-RENOV", "start": start, "name": "Pedro Choque",
            "document": {"number": "6000001", "issued_in": "LP"}}
    assert_error(await client.post("/api/appointments", json=body), 403, "not_on_the_list")
    # The complemento is part of who one is: 5123456 alone is not 5123456-1B.
    not_her = {**body, "document": {"number": "5123456"}}
    assert_error(await client.post("/api/appointments", json=not_her), 403, "not_on_the_list")
    listed = await client.post("/api/appointments", json={**body, "name": "Ana Mamani",
                                                          "document": {"number": "5123456", "complement": "1B"}})
    assert listed.status_code == 201, listed.text
    # No walk-ins at a closed session, even on its day.
    clock.freeze(_at(day, 9))
    admin = await login(client, "admin")
    assert_error(await client.post(f"/api/offices/{BRIGADE}/tickets", json={"service": "CI-RENOV"}, headers=admin),
                 422, "closed_session")
    # The audit keeps how many, never who.
    entry = await AuditEntry.filter(action="brigade_stop.invitees").get()
    assert entry.after == {"institution": "Centro penitenciario San Pedro de Chonchocoro", "people": 2}
    assert "Quispe" not in str(entry.before) + str(entry.after)
    # Admins read the list; nobody else.
    people = (await client.get(f"/api/admin/offices/{BRIGADE}/stops/{stop['id']}/invitees", headers=admin)).json()
    assert people == [{"name": "Ana Mamani", "document": "ci:5123456-1B"}, {"name": "Juan Quispe",
                                                                             "document": "ci:4785123"}]
    supervisor = await login(client, "supervisor")
    assert_error(await client.get(f"/api/admin/offices/{BRIGADE}/stops/{stop['id']}/invitees",
                                  headers=supervisor), 403)


async def test_a_closed_sessions_list_is_validated_and_dropped_when_the_stop_opens(client):
    clock.freeze(_at(MONDAY, 8))
    admin = await login(client, "admin")
    stop = await _closed_session(client, admin, MONDAY + timedelta(days=3))
    url = f"/api/admin/offices/{BRIGADE}/stops/{stop['id']}/invitees"
    for people in ([{"name": "X", "document": {"number": "12"}}],  # not a CI number
                   [{"name": "", "document": {"number": "4785123"}}],
                   [{"document": {"number": "4785123"}}]):
        assert_error(await client.put(url, json={"people": people}, headers=admin), 422)
    assert len((await client.get(url, headers=admin)).json()) == 2  # unchanged
    # Opened to everyone: the list is not kept.
    opened = await client.put(f"/api/admin/offices/{BRIGADE}/stops/{stop['id']}", headers=admin,
                              json=_stop(MONDAY + timedelta(days=3), 1, "Chonchocoro"))
    assert opened.status_code == 200 and opened.json()["closed"] is False
    assert not await BrigadeInvitee.exists(stop_id=stop["id"])
    assert_error(await client.put(url, json={"people": PEOPLE}, headers=admin), 409, "stop_not_closed")


async def test_a_cita_cannot_be_moved_into_a_closed_session_by_someone_not_on_its_list(client):
    clock.freeze(_at(MONDAY, 8))
    admin = await login(client, "admin")
    closed_day = MONDAY + timedelta(days=2)
    await _closed_session(client, admin, closed_day)
    open_day = MONDAY + timedelta(days=3)
    assert (await client.post(f"/api/admin/offices/{BRIGADE}/stops", json=_stop(open_day, 1, "Pucarani"),
                              headers=admin)).status_code == 201

    def first_slot(day):
        return client.get(f"/api/offices/{BRIGADE}/availability",
                          params={"service": "CI-RENOV", "from": day.isoformat(), "days": 1})

    start = (await first_slot(open_day)).json()[0]["start"]
    cita = await client.post("/api/appointments", json={
        "office": BRIGADE, "service": "CI-RENOV", "start": start, "name": "Pedro Choque",
        "document": {"number": "6000001", "issued_in": "LP"}})
    assert cita.status_code == 201, cita.text
    into_closed = (await first_slot(closed_day)).json()[0]["start"]
    moved = await client.post(f"/api/appointments/{cita.json()['code']}/reschedule",
                              json={"document": "6000001", "start": into_closed})
    assert_error(moved, 403, "not_on_the_list")
