"""Groups (issue 20): a tutor's cita or ticket carries its minors (name, document or
birth-certificate number, age). The group takes 1 + len(members) places through the
ordinary place-taking code, so it never overbooks; the members are shown at the desk
only, never on public views; a check-in ticket carries its cita's members; a minor
cannot be in two groups for the same trámite on the same day."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import assert_error, login
from tests.driver import app_settings, cita as booking, issue_response
from turnero.core import clock
from turnero.queue.models import GroupMember, Ticket, TicketEvent
from turnero.scheduler.models import Appointment, AppointmentEvent, Slot
from turnero.settings import Settings

ZONE = ZoneInfo("America/La_Paz")
OFFICE = "LPZ-ZONA-SUR"
KIOSK_OFFICE = "LPZ-PRINCIPAL"  # the demo kiosk user and operador1 belong here
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=ZONE)  # a Monday
START = datetime(2026, 12, 2, 9, 0, tzinfo=ZONE)


def minors(n: int, first: int = 1) -> list[dict]:
    return [{"name": f"Menor {i} Quispe", "document": f"80000{i:02d}", "document_type": "birth_certificate",
             "age": 3 + i % 10} for i in range(first, first + n)]



@pytest.fixture
def settings(database) -> Settings:
    return app_settings(database_url=database.url, booking_rate_limit="1000/minute")


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW.astimezone(timezone.utc))
    yield


async def set_capacity(client, capacity: int, office: str = OFFICE) -> None:
    response = await client.put(f"/api/offices/{office}/booking-rules", json={"service": "CI-RENOV", "capacity": capacity},
                                headers=await login(client, "admin"))
    assert response.status_code == 200, response.text


async def book(client, start=START, number="1234567", **extra):
    return await client.post("/api/appointments", json=booking(start, number, **extra))


async def booked_places(start: datetime = START) -> int:
    slot = await Slot.get(start=start.astimezone(timezone.utc))
    return slot.booked


# ---------------------------------------------------------------- places


async def test_a_group_takes_one_place_per_person_and_is_stored_with_its_event(client):
    await set_capacity(client, 5)
    response = await book(client, members=minors(2))
    assert response.status_code == 201, response.text
    cita = response.json()
    assert cita["party_size"] == 3
    assert [m["name"] for m in cita["members"]] == ["Menor 1 Quispe", "Menor 2 Quispe"]
    assert await booked_places() == 3
    appt = await Appointment.get(public_id=cita["id"])
    rows = await GroupMember.filter(appointment_id=appt.id).order_by("position")
    assert [(r.document, r.document_type, r.age, r.ticket_id) for r in rows] == [
        ("8000001", "birth_certificate", 4, None), ("8000002", "birth_certificate", 5, None)]
    event = await AppointmentEvent.get(appointment_id=appt.id, kind="booked")
    assert event.data["members"] == 2 and event.data["party_size"] == 3
    assert "Menor" not in str(event.data)  # the audit counts, it does not copy names


async def test_a_slot_with_three_free_places_refuses_a_group_of_four(client):
    await set_capacity(client, 4)
    assert (await book(client, number="7000001")).status_code == 201  # 3 places left
    refused = await book(client, members=minors(3))  # 1 + 3 = 4 people
    assert_error(refused, 409, "slot_full")
    assert await booked_places() == 1
    assert await GroupMember.all().count() == 0
    fits = await book(client, members=minors(2))
    assert fits.status_code == 201, fits.text
    assert await booked_places() == 4


async def test_a_group_larger_than_a_slot_is_refused_as_such(client):
    await set_capacity(client, 3)
    assert_error(await book(client, members=minors(3)), 422, "party_too_large")


async def test_concurrent_group_bookings_never_overbook(client):
    await set_capacity(client, 7)
    # Ten tutors with two minors each (3 places) race for 7 places: two groups fit.
    responses = await asyncio.gather(*[
        book(client, number=f"60000{i:02d}", members=minors(2, first=10 * i)) for i in range(10)
    ])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 201] + [409] * 8, [r.text for r in responses if r.status_code not in (201, 409)]
    assert await booked_places() == 6
    appts = await Appointment.all().values_list("id", flat=True)
    assert len(appts) == 2
    assert await GroupMember.all().count() == 4
    assert set(await GroupMember.all().values_list("appointment_id", flat=True)) == set(appts)


# Many real concurrent clients against a real server process (as tests/live/test_appointments_concurrency.py).
from tests.live import test_appointments_concurrency as storm  # noqa: E402

server = storm.server  # `turnero demo` per backend, the per-client booking limit lifted


async def test_concurrent_groups_on_a_real_server_never_overbook(server):
    async with storm.client(server) as c:
        slot = (await storm.slots_with(c, "CI-RENOV", 10))[0]
        sizes = [1 + n % 4 for n in range(60)]  # 0 to 3 minors
        responses = await asyncio.gather(*[
            c.post("/api/appointments", json=storm.body(slot["start"], 4_100_000 + n, "CI-RENOV", members=[
                {"name": f"Menor {n}-{j}", "document": f"9{n:03d}{j}", "age": 5} for j in range(size - 1)]))
            for n, size in enumerate(sizes)
        ])
        assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses][:3]
        assert all(r.json()["error"]["code"] == "slot_full" for r in responses if r.status_code == 409)
        taken = sum(size for size, r in zip(sizes, responses) if r.status_code == 201)
        assert taken <= 10
        assert all(r.json()["party_size"] == size for size, r in zip(sizes, responses) if r.status_code == 201)
        assert await storm.available(c, "CI-RENOV", slot["start"]) == 10 - taken
        refused = [size for size, r in zip(sizes, responses) if r.status_code == 409]
        assert refused and 10 - taken < min(refused)


async def test_one_minor_named_at_once_by_many_tutors_is_in_one_group(server):
    async with storm.client(server) as c:
        slots = await storm.slots_with(c, "CI-RENOV", 10)
        day = slots[0]["start"][:10]
        same_day = [s for s in slots if s["start"].startswith(day)][:8]
        minor = {"name": "Rosa Condori", "document": "77001122", "document_type": "birth_certificate", "age": 8}
        responses = await asyncio.gather(*[
            c.post("/api/appointments", json=storm.body(same_day[n % len(same_day)]["start"], 4_200_000 + n,
                                                       "CI-RENOV", members=[minor]))
            for n in range(20)
        ])
        outcome = Counter((r.status_code, r.json().get("error", {}).get("code")) for r in responses)
        assert outcome == {(201, None): 1, (409, "member_already_booked"): 19}, outcome


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(("member", "words"), [
    ({"name": "Ana", "document": "123", "age": 18}, "edad"),
    ({"name": "Ana", "document": "123", "age": -1}, "edad"),
    ({"name": "   ", "document": "123", "age": 5}, "nombre"),
    ({"name": "Ana", "document": "", "age": 5}, "certificado de nacimiento"),
    ({"name": "Ana", "document": "123", "age": 5, "document_type": "passport"}, "menores"),
])
async def test_a_bad_member_is_refused_in_spanish(client, member, words):
    error = assert_error(await book(client, members=[member]), 422, "validation_error")
    assert words in error["message"] and "members" in error["message"]
    assert await Appointment.all().count() == 0


async def test_at_most_six_minors_and_each_document_once(client):
    await set_capacity(client, 10)
    error = assert_error(await book(client, members=minors(7)), 422, "validation_error")
    assert "como máximo 6 menores" in error["message"]
    twice = minors(1) * 2
    error = assert_error(await book(client, members=twice), 422, "validation_error")
    assert "dos veces" in error["message"]
    error = assert_error(await book(client, members=minors(2), party_size=2), 422, "validation_error")
    assert "no coincide" in error["message"]
    assert (await book(client, members=minors(6))).status_code == 201


async def test_a_minor_cannot_be_in_two_groups_for_the_same_tramite_and_day(client):
    await set_capacity(client, 5)
    first = await book(client, number="5000001", members=minors(2))
    assert first.status_code == 201, first.text
    again = await book(client, number="5000002", start=START + timedelta(minutes=30), members=minors(1, first=2))
    error = assert_error(again, 409, "member_already_booked")
    assert "8000002" in error["message"]
    assert await Appointment.all().count() == 1 and await booked_places(START + timedelta(minutes=30)) == 0
    other_day = await book(client, number="5000002", start=START + timedelta(days=1), members=minors(1, first=2))
    assert other_day.status_code == 201, other_day.text
    # Once the first cita is cancelled, its minors are free again that day.
    cancel = await client.post(f"/api/appointments/{first.json()['code']}/cancel", json={"document": "5000001"})
    assert cancel.status_code == 200, cancel.text
    now_free = await book(client, number="5000003", start=START + timedelta(minutes=30), members=minors(1, first=2))
    assert now_free.status_code == 201, now_free.text


async def test_a_rescheduled_group_takes_its_minors_to_the_new_day_checked_there(client):
    await set_capacity(client, 5)
    first = await book(client, number="5000001", members=minors(2))
    other_day = START + timedelta(days=1)
    second = await book(client, number="5000002", start=other_day, members=minors(1, first=2))
    assert first.status_code == 201 and second.status_code == 201
    moved = await client.post(f"/api/appointments/{first.json()['code']}/reschedule",
                              json={"document": "5000001", "start": other_day.isoformat()})
    assert_error(moved, 409, "member_already_booked")  # 8000002 is in the other group that day
    assert await booked_places() == 3 and await booked_places(other_day) == 2  # nothing moved
    later = START + timedelta(days=2)
    moved = await client.post(f"/api/appointments/{first.json()['code']}/reschedule",
                              json={"document": "5000001", "start": later.isoformat()})
    assert moved.status_code == 200, moved.text
    assert await booked_places() == 0 and await booked_places(later) == 3
    appt = await Appointment.get(public_id=first.json()["id"])
    assert set(await GroupMember.filter(appointment_id=appt.id).values_list("day", flat=True)) == {later.date()}


async def test_retention_deletes_the_minors_with_their_cita_and_ticket(client, kiosk):
    from tortoise.transactions import in_transaction

    from turnero.core.models import Office
    from turnero.queue import retention as queue_retention
    from turnero.scheduler import retention as scheduler_retention

    start = datetime(2026, 11, 30, 11, 0, tzinfo=ZONE)
    cita = (await book(client, start=start, office=KIOSK_OFFICE, members=minors(2))).json()
    walk_in = (await issue(client, kiosk, members=minors(1, first=5))).json()
    missed = (await book(client, start=start + timedelta(hours=1), number="7000009", office=KIOSK_OFFICE,
                         members=minors(2, first=7))).json()
    clock.freeze((start - timedelta(minutes=30)).astimezone(timezone.utc))
    checked = (await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": cita["code"]},
                                 headers=kiosk)).json()
    assert await GroupMember.all().count() == 5
    await Ticket.filter(public_id__in=[walk_in["id"], checked["id"]]).update(status="done")
    await Appointment.filter(public_id=cita["id"]).update(status="done")
    await Appointment.filter(public_id=missed["id"]).update(status="no_show")
    office = await Office.get(code=KIOSK_OFFICE)
    later = start + timedelta(days=400)
    async with in_transaction():
        tickets, _ = await queue_retention.take_finished(office.id, later, 100)
    assert len(tickets) == 2
    assert await GroupMember.all().count() == 2  # the checked-in cita's minors went with its ticket
    async with in_transaction():
        citas, _ = await scheduler_retention.take_over_appointments(office.id, later, 100)
    assert len(citas) == 2 and await GroupMember.all().count() == 0  # the missed cita's with it


# ---------------------------------------------------------------- tickets, desk, public views


async def issue(client, headers, **fields):
    return await issue_response(client, headers, office=KIOSK_OFFICE, **fields)


async def test_the_kiosk_issues_a_group_ticket_that_only_the_desk_sees(client, kiosk):
    response = await issue(client, kiosk, members=minors(3))
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert ticket["party_size"] == 4 and "members" not in ticket
    row = await Ticket.get(public_id=ticket["id"])
    assert await GroupMember.filter(ticket_id=row.id).count() == 3
    issued = await TicketEvent.get(ticket_id=row.id, kind="issued")
    assert issued.data["members"] == 3
    assert_error(await issue(client, kiosk, members=minors(7)), 422, "validation_error")

    op = await login(client, "operador1")
    assert (await client.post(f"/api/offices/{KIOSK_OFFICE}/desks/5/open", headers=op)).status_code == 200
    called = await client.post(f"/api/offices/{KIOSK_OFFICE}/desks/5/call-next", headers=op)
    assert called.status_code == 200 and called.json()["id"] == ticket["id"]
    state = await client.get(f"/desk/{KIOSK_OFFICE}/5/state", headers=op)
    assert state.status_code == 200, state.text
    assert state.json()["ticket"]["members"] == [
        {"name": f"Menor {i} Quispe", "document": f"80000{i:02d}", "document_type": "birth_certificate", "age": 3 + i}
        for i in (1, 2, 3)]

    # Public: the ticket's JSON and page, the board, the display page: no name, no document.
    public = [
        await client.get(f"/api/tickets/{ticket['id']}"),
        await client.get(f"/t/{ticket['id']}"),
        await client.get(f"/api/offices/{KIOSK_OFFICE}/board"),
        await client.get(f"/display/{KIOSK_OFFICE}"),
    ]
    for response in public:
        assert response.status_code == 200, (response.url, response.text[:200])
        assert "Quispe" not in response.text and "8000001" not in response.text, response.url
    assert "members" not in public[0].json()


async def test_a_ticket_issued_at_check_in_carries_the_citas_members(client, kiosk):
    start = datetime(2026, 11, 30, 11, 0, tzinfo=ZONE)
    response = await book(client, start=start, office=KIOSK_OFFICE, members=minors(2))
    assert response.status_code == 201, response.text
    cita = response.json()
    clock.freeze((start - timedelta(minutes=30)).astimezone(timezone.utc))
    checked = await client.post(f"/api/offices/{KIOSK_OFFICE}/checkins", json={"code": cita["code"]}, headers=kiosk)
    assert checked.status_code == 201, checked.text
    ticket = await Ticket.get(public_id=checked.json()["id"])
    assert ticket.party_size == 3
    assert await GroupMember.filter(ticket_id=ticket.id).count() == 2
    appt = await Appointment.get(public_id=cita["id"])
    event = await AppointmentEvent.get(appointment_id=appt.id, kind="checked_in")
    assert event.data["members"] == 2

    op = await login(client, "operador1")
    await client.post(f"/api/offices/{KIOSK_OFFICE}/desks/5/open", headers=op)
    await client.post(f"/api/offices/{KIOSK_OFFICE}/desks/5/call", json={"ticket": ticket.number}, headers=op)
    state = (await client.get(f"/desk/{KIOSK_OFFICE}/5/state", headers=op)).json()
    assert state["ticket"]["number"] == ticket.number
    assert [m["document"] for m in state["ticket"]["members"]] == ["8000001", "8000002"]


async def test_the_booking_page_has_agregar_menor_rows(client):
    html = (await client.get("/citas")).text
    assert 'id="member-add"' in html and "+ Agregar menor" in html and 'id="member-row"' in html
    assert "style=" not in html.split('id="members-field"', 1)[1].split("</template>", 1)[0]  # CSP: no inline styles


# ---------------------------------------------------------------- pages (headless Chromium)

from tests.api import test_pages  # noqa: E402
from tests.api.test_pages import _assert_touch_targets, _new_page, _sign_in  # noqa: E402

browser = test_pages.browser  # headless Chromium, as the pages' tests have it


def axe(page, rules=None) -> list[str]:
    from tests.browser.test_a11y_axe import _axe_source, _violations

    return _violations(page, _axe_source(), rules)


@pytest.mark.browser
def test_kiosk_group_step_issues_a_group_ticket_shown_at_the_desk(browser, live_server):
    import re

    from playwright.sync_api import expect

    page = _new_page(browser)
    page.add_init_script("window.print = () => { window.__printed = true }")
    page.goto(f"{live_server.url}/login?next=/kiosk/{KIOSK_OFFICE}")
    _sign_in(page, "kiosko")
    # The kiosk's script binds its buttons once the page is up: a click before that is lost.
    expect(page.get_by_role("heading", name="Elija su trámite")).to_be_visible()
    page.get_by_role("button", name=re.compile("^Renovación de cédula de identidad(?! de extranjero)")).click()
    page.get_by_role("button", name="No, atención general").click()
    expect(page.get_by_role("heading", name=re.compile("aviso por SMS"))).to_be_visible()
    page.get_by_role("button", name="¿Viene con menores?").click()

    expect(page.get_by_role("heading", name="¿Viene con menores?")).to_be_visible()
    _assert_touch_targets(page)
    rows = page.locator("#group-list .group-row")
    expect(rows).to_have_count(1)
    rows.nth(0).get_by_label("Nombre completo").fill("Luis Quispe Mamani")
    rows.nth(0).get_by_label("Número").fill("9100-001")
    page.get_by_role("button", name="Listo").click()
    expect(page.locator("#group-error")).to_have_text("Menor 1: elija su edad.")
    problems = axe(page) + axe(page, ["label-content-name-mismatch"])  # WCAG 2.1 A/AA, with the error shown
    rows.nth(0).get_by_label("Edad").select_option("7")
    page.get_by_role("button", name="+ Agregar menor").click()
    rows.nth(1).get_by_label("Nombre completo").fill("Ana Quispe Mamani")
    rows.nth(1).get_by_label("Tipo de documento").select_option("ci")
    rows.nth(1).get_by_label("Número").fill("9100002")
    rows.nth(1).get_by_label("Edad").select_option("12")
    for _ in range(4):
        page.get_by_role("button", name="+ Agregar menor").click()
    expect(rows).to_have_count(6)
    expect(page.get_by_role("button", name="+ Agregar menor")).to_be_disabled()
    page.get_by_role("button", name="Quitar al menor 6").click()
    expect(rows).to_have_count(5)
    page.get_by_role("button", name="Listo").click()  # blank rows are left out

    expect(page.get_by_role("heading", name=re.compile("aviso por SMS"))).to_be_visible()
    expect(page.locator("#group-summary")).to_have_text("Con 2 menores")
    page.get_by_role("button", name="Omitir").click()
    expect(page.locator("#t-number")).to_have_text(re.compile(r"^[A-Z]+-\d{3}$"))
    page.wait_for_function("() => window.__printed === true")
    assert "Quispe" not in page.locator("#print-area").inner_text()  # the slip names nobody
    assert page.errors == []

    desk = _new_page(browser)
    desk.goto(f"{live_server.url}/login?next=/desk/{KIOSK_OFFICE}/5")
    _sign_in(desk, "operador1")
    desk.get_by_role("button", name="Abrir", exact=True).click()
    desk.get_by_role("button", name=re.compile("^Llamar siguiente")).click()
    expect(desk.locator("#cur-group")).to_be_visible()
    expect(desk.locator("#cur-members tr")).to_have_count(2)
    expect(desk.locator("#cur-members tr").nth(0)).to_have_text(re.compile("Luis Quispe Mamani.*Cert. de nacimiento 9100001.*7 años"))
    expect(desk.locator("#cur-members tr").nth(1)).to_have_text(re.compile("Ana Quispe Mamani.*CI 9100002.*12 años"))
    problems += axe(desk)
    assert problems == []
    assert desk.errors == []


@pytest.mark.browser
def test_portal_agregar_menor_rows_book_a_group(browser, live_server):
    import secrets

    from playwright.sync_api import expect

    from tests.browser.test_portal_browser import availability, choose_slot, fill_form

    page = _new_page(browser, 360, 740)  # a phone
    page.goto(f"{live_server.url}/citas")
    start = choose_slot(page, "CI-RENOV", OFFICE)
    before = next(s["available"] for s in availability(live_server, OFFICE, "CI-RENOV") if s["start"] == start)
    assert before >= 3
    document = str(1_000_000 + secrets.randbelow(8_999_999))
    fill_form(page, document)
    page.get_by_role("button", name="+ Agregar menor").click()
    page.get_by_role("button", name="+ Agregar menor").click()
    rows = page.locator("#member-rows .member-row")
    expect(rows).to_have_count(2)
    expect(page.get_by_label("Personas que harán el trámite")).to_be_disabled()
    for i, (name, number) in enumerate([("Luis Quispe", "9200001"), ("Ana Quispe", "9200002")]):
        rows.nth(i).get_by_label("Nombre completo del menor").fill(name)
        rows.nth(i).get_by_label("Número").fill(number)
    rows.nth(0).get_by_label("Edad").select_option("4")
    page.get_by_role("button", name="Confirmar cita").click()
    expect(page.locator("#e-members")).to_have_text("Menor 2: elija su edad.")
    expect(rows.nth(1).get_by_label("Edad")).to_be_focused()
    rows.nth(1).get_by_label("Edad").select_option("9")
    page.get_by_role("button", name="Confirmar cita").click()

    expect(page.get_by_role("heading", name="¡Su cita está reservada!")).to_be_visible()
    expect(page.locator("#c-who")).to_contain_text("3 personas (con 2 menores)")
    after = next(s["available"] for s in availability(live_server, OFFICE, "CI-RENOV") if s["start"] == start)
    assert after == before - 3
    assert page.errors == []
