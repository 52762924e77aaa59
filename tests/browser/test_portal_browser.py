"""The citizen portal and the kiosk's «Tengo cita» in headless Chromium, against a real
server (`turnero demo`) and the real citas API: book on a phone-size screen, look the cita
up, move it, cancel it; a lost answer retried books once; a slot filled meanwhile; the
kiosk check-in printing a ticket.
"""

from __future__ import annotations

import re
import secrets

import httpx
import pytest

from tests.conftest import BACKENDS, FreshDatabase, LiveServer
from tests.api.test_pages import _assert_touch_targets, _new_page, _screenshot, _sign_in, _token, browser  # noqa: F401
from turnero.scheduler.policy import CODE_ALPHABET, CODE_LENGTH

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}  # a cheap Android phone
CODE_RE = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(request, tmp_path_factory):
    """`turnero demo` with the check-in window opened wide, so a cita booked now (at
    least an hour ahead) can be checked in at the kiosk without moving the clock."""
    directory = tmp_path_factory.mktemp(f"portal-{request.param}")
    database = FreshDatabase(request.param, directory, seeded=True)
    server = LiveServer(database.url, directory / "server.log",
                        extra_env={"TURNERO_CHECKIN_BEFORE_MINUTES": str(60 * 24 * 60)})
    try:
        yield server
    finally:
        server.stop()
        database.drop()


def new_document() -> str:
    """A CI number no other test uses (the server is shared by the module)."""
    return str(1_000_000 + secrets.randbelow(8_999_999))


def office_today(server, office: str) -> str:
    offices = httpx.get(f"{server.url}/api/offices").json()
    page = httpx.get(f"{server.url}/citas").text
    data = re.search(r'id="portal-data">(.*?)</script>', page, re.S).group(1)
    match = re.search(rf'"code": ?"{office}".*?"today": ?"(\d{{4}}-\d{{2}}-\d{{2}})"', data)
    assert match and any(o["code"] == office for o in offices)
    return match.group(1)


def availability(server, office: str, service: str) -> list[dict]:
    response = httpx.get(
        f"{server.url}/api/offices/{office}/availability",
        params={"service": service, "from": office_today(server, office), "days": 31},
    )
    assert response.status_code == 200, response.text
    return sorted(response.json(), key=lambda s: s["start"])


def first_free(server, office: str, service: str) -> str:
    return next(s["start"] for s in availability(server, office, service) if s["available"] > 0)


def book_api(server, office: str, service: str, start: str, document: str, **extra) -> httpx.Response:
    body = {"office": office, "service": service, "start": start, "document": {"number": document},
            "name": "Persona de Prueba", **extra}
    return httpx.post(f"{server.url}/api/appointments", json=body)


def choose_slot(page, service: str, office: str) -> str:
    """Steps 1–3 of the portal; returns the chosen slot's start."""
    from playwright.sync_api import expect

    page.locator(f'[data-service="{service}"]').click()
    expect(page.locator("#progress-text")).to_have_text("Paso 2 de 5")
    page.locator(f'[data-office="{office}"]').click()
    expect(page.locator("#progress-text")).to_have_text("Paso 3 de 5")
    first_time = page.locator("#times .time:not([disabled])").first
    expect(first_time).to_be_visible()
    start = first_time.get_attribute("data-start")
    first_time.click()
    expect(page.locator("#progress-text")).to_have_text("Paso 4 de 5")
    return start


def fill_form(page, document: str, name: str = "María Quispe Mamani", **optional) -> None:
    page.get_by_label("Nombre completo").fill(name)
    page.get_by_label("Número", exact=True).fill(document)
    if "complement" in optional:
        page.get_by_label("Complemento").fill(optional["complement"])
    if "issued_in" in optional:
        page.get_by_label("Expedido en").select_option(optional["issued_in"])
    if "phone" in optional:
        page.get_by_label(re.compile("^Celular")).fill(optional["phone"])
    if "party_size" in optional:
        page.get_by_label("Personas que harán el trámite").select_option(str(optional["party_size"]))


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# ---------------------------------------------------------------- booking end to end


def test_book_look_up_reschedule_and_cancel_a_cita_on_a_phone(browser, live_server):
    from playwright.sync_api import expect

    server = live_server
    office, service = "LPZ-ZONA-SUR", "CI-RENOV"
    first_free_before = first_free(server, office, service)

    page = _new_page(browser, **PHONE)
    page.goto(f"{server.url}/citas")
    expect(page.get_by_role("heading", name="¿Qué trámite quiere realizar?")).to_be_visible()
    expect(page.locator("#progress-text")).to_have_text("Paso 1 de 5")
    expect(page.locator('[data-service="CI-RENOV"]')).to_contain_text("Factura de luz, agua o gas")
    assert no_sideways_scroll(page)
    _screenshot(page, "portal-1-tramite.png")

    page.locator(f'[data-service="{service}"]').click()
    expect(page.get_by_role("heading", name="Elija la oficina")).to_be_visible()
    # The offices that take citas for it (a booking rule), not every office that offers it.
    expected_offices = {o["code"] for o in httpx.get(f"{server.url}/api/services/{service}/offices").json()}
    expect(page.locator("#office-list [data-office]")).to_have_count(len(expected_offices))
    card = page.locator(f'[data-office="{office}"]')
    expect(card).to_contain_text("Av. Ballivián esq. calle 15, Calacoto")
    # The next free time shown is the API's first slot with a place.
    expect(card.locator(".option-next")).to_have_text(re.compile(r"^Próximo horario libre: "))
    # (The minimum notice moves the first free time while the test runs: either side.)
    shown = card.locator(".option-next").inner_text()
    assert any(
        re.fullmatch(rf"Próximo horario libre: .+ {int(s[8:10])} .+, {s[11:16]}", shown)
        for s in (first_free_before, first_free(server, office, service))
    ), shown
    assert no_sideways_scroll(page)
    _screenshot(page, "portal-2-oficina.png")

    card.click()
    expect(page.locator("#progress-text")).to_have_text("Paso 3 de 5")
    # The first day with a free place is chosen already; its times are listed.
    chosen_day = page.locator(".cal-day[aria-pressed=true]")
    free_times = page.locator("#times .time:not([disabled])")
    expect(free_times.first).to_be_visible()
    assert free_times.first.get_attribute("data-start") in (first_free_before, first_free(server, office, service))
    expect(chosen_day).to_have_attribute("data-day", free_times.first.get_attribute("data-start")[:10])
    for day in page.locator(".cal-day[data-day]").all():
        box = day.bounding_box()
        assert box and box["height"] >= 48 and box["width"] >= 40, box
    assert no_sideways_scroll(page)
    _screenshot(page, "portal-3-fecha.png")
    # A later day (a cita can be changed or cancelled only until some hours before it).
    later_day = page.locator(".cal-day[data-day]:not([aria-disabled=true])").nth(2)
    later_day.click()
    expect(later_day).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#times-title")).to_be_focused()
    expect(free_times.first).to_have_attribute("data-start", re.compile("^" + later_day.get_attribute("data-day")))
    start = free_times.first.get_attribute("data-start")
    free_times.first.click()

    expect(page.get_by_role("heading", name="Sus datos")).to_be_visible()
    expect(page.locator("#progress-text")).to_have_text("Paso 4 de 5")
    document = new_document()
    # Client-side checks first, in Spanish, next to the field.
    page.get_by_role("button", name="Confirmar cita").click()
    expect(page.locator("#e-name")).to_have_text("Escriba su nombre completo.")
    expect(page.get_by_label("Nombre completo")).to_be_focused()
    fill_form(page, document, complement="1b", issued_in="LP", phone="5123", party_size=2)
    page.get_by_role("button", name="Confirmar cita").click()
    expect(page.locator("#e-phone")).to_have_text("El celular tiene 8 dígitos y empieza con 6 o 7.")
    page.get_by_label(re.compile("^Celular")).fill("71234567")
    assert no_sideways_scroll(page)
    _screenshot(page, "portal-4-datos.png")
    page.get_by_role("button", name="Confirmar cita").click()

    expect(page.get_by_role("heading", name="¡Su cita está reservada!")).to_be_visible()
    expect(page.locator("#progress-text")).to_have_text("Paso 5 de 5")
    code = page.locator("#c-code").inner_text()
    assert CODE_RE.match(code), code
    expect(page.locator("#c-when")).to_contain_text(start[11:16])
    expect(page.locator("#c-office")).to_have_text("SEGIP Zona Sur")
    expect(page.locator("#c-who")).to_have_text(f"María Quispe Mamani · CI {document}-1B LP · 2 personas")
    expect(page.locator("#c-reqs")).to_contain_text("Factura de luz, agua o gas del domicilio actual")
    expect(page.locator(".arrival")).to_contain_text("Tengo cita")
    # «Agregar al calendario» downloads the cita's .ics; the QR code image loads.
    ics = httpx.get(server.url + page.locator("#c-ics").get_attribute("href"))
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert code in ics.text and "BEGIN:VEVENT" in ics.text
    expect(page.locator("#c-qr-box")).to_be_visible()
    assert page.evaluate("document.getElementById('c-qr').naturalWidth") > 0
    assert no_sideways_scroll(page)
    _screenshot(page, "portal-5-confirmacion.png")

    cita = httpx.get(f"{server.url}/api/appointments/{code}", params={"document": document})
    assert cita.status_code == 200, cita.text
    cita = cita.json()
    assert (cita["status"], cita["office"], cita["service"], cita["start"]) == ("booked", office, service, start)
    assert cita.get("party_size", 2) == 2

    # ---- look it up, move it, cancel it
    page.get_by_role("link", name="Ver, cambiar o cancelar esta cita").click()
    expect(page).to_have_url(re.compile(rf"/citas/consultar\?codigo={code}$"))
    expect(page.get_by_label("Código de la cita")).to_have_value(code)
    page.get_by_label("Número de cédula o pasaporte").fill("9999999")
    page.get_by_role("button", name="Buscar mi cita").click()
    expect(page.locator("#notice")).to_contain_text("No encontramos una cita con ese código")
    page.get_by_label("Número de cédula o pasaporte").fill(document)
    page.get_by_role("button", name="Buscar mi cita").click()
    expect(page.locator("#m-status")).to_have_text("Reservada")
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#m-service")).to_have_text("Renovación de cédula de identidad")
    expect(page.locator("#m-when")).to_contain_text(start[11:16])
    _screenshot(page, "portal-6-mi-cita.png")

    page.get_by_role("button", name="Cambiar fecha u hora").click()
    expect(page.get_by_role("heading", name="Elija la nueva fecha y hora")).to_be_visible()
    expect(page.locator(f'#times .time[data-start="{start}"]')).to_be_disabled()  # the current one
    other = page.locator("#times .time:not([disabled])").first
    new_start = other.get_attribute("data-start")
    assert new_start != start
    other.click()
    page.get_by_role("button", name="Confirmar el cambio").click()
    expect(page.locator("#done-msg")).to_contain_text("su cita ahora es")
    expect(page.locator("#m-when")).to_contain_text(new_start[11:16])
    moved = httpx.get(f"{server.url}/api/appointments/{code}", params={"document": document}).json()
    assert moved["start"] == new_start and moved["status"] == "booked"

    before = {s["start"]: s["available"] for s in availability(server, office, service)}
    page.get_by_role("button", name="Cancelar la cita").click()
    expect(page.get_by_text("¿Seguro que quiere cancelar esta cita?")).to_be_visible()
    page.get_by_role("button", name="Sí, cancelar la cita").click()
    expect(page.locator("#m-status")).to_have_text("Cancelada")
    expect(page.locator("#done-msg")).to_have_text("Su cita fue cancelada. El lugar quedó libre para otra persona.")
    expect(page.get_by_role("button", name="Cambiar fecha u hora")).to_be_hidden()
    _screenshot(page, "portal-7-cancelada.png")
    assert httpx.get(f"{server.url}/api/appointments/{code}", params={"document": document}).json()["status"] == "cancelled"
    after = {s["start"]: s["available"] for s in availability(server, office, service)}
    assert after[new_start] == before[new_start] + 2  # both places of the group are free again

    # The QR code's link opens the cita by its id alone, without offering changes.
    page.goto(server.url + cita["links"]["page"])
    expect(page.locator("#m-code")).to_have_text(code)
    expect(page.locator("#m-status")).to_have_text("Cancelada")
    expect(page.locator("#m-actions")).to_be_hidden()
    assert page.errors == []


def test_a_lost_answer_retried_books_the_same_cita_once(browser, live_server):
    from playwright.sync_api import expect

    page = _new_page(browser)
    keys: list[str] = []
    first_answer: dict = {}

    def lose_the_first_answer(route):
        keys.append(route.request.headers.get("idempotency-key", ""))
        if not first_answer:
            response = route.fetch()  # the server books…
            first_answer.update(status=response.status, body=response.json())
            route.abort("connectionreset")  # …and the phone never hears back
        else:
            route.continue_()

    page.route("**/api/appointments", lose_the_first_answer)
    page.goto(f"{live_server.url}/citas")
    start = choose_slot(page, "CI-RENOV", "LPZ-PRINCIPAL")
    document = new_document()
    fill_form(page, document)
    page.get_by_role("button", name="Confirmar cita").click()
    notice = page.get_by_role("alert").filter(has_text="No hay conexión")
    expect(notice).to_be_visible()
    assert first_answer["status"] == 201, first_answer
    page.get_by_role("button", name="Intentar de nuevo").click()

    expect(page.get_by_role("heading", name="¡Su cita está reservada!")).to_be_visible()
    expect(page.locator("#c-code")).to_have_text(first_answer["body"]["code"])
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    cita = httpx.get(f"{live_server.url}/api/appointments/{first_answer['body']['code']}", params={"document": document})
    assert cita.json()["start"] == start and cita.json()["status"] == "booked"
    # One cita per document and service: a second booking would have said already_booked.
    again = book_api(live_server, "LPZ-PRINCIPAL", "CI-RENOV", start, document)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_booked"
    assert page.errors == []


def test_a_slot_filled_meanwhile_sends_the_citizen_back_to_the_calendar(browser, live_server):
    from playwright.sync_api import expect

    page = _new_page(browser, **PHONE)
    page.goto(f"{live_server.url}/citas")
    office, service = "LPZ-ZONA-SUR", "SANEAMIENTO"
    start = choose_slot(page, service, office)
    # Others take every place left at that time while the citizen types.
    for _ in range(50):
        taken = book_api(live_server, office, service, start, new_document())
        if taken.status_code == 409:
            assert taken.json()["error"]["code"] == "slot_full"
            break
        assert taken.status_code == 201, taken.text
    else:
        pytest.fail("the slot never filled")
    fill_form(page, new_document())
    page.get_by_role("button", name="Confirmar cita").click()
    expect(page.get_by_role("alert")).to_contain_text("Ese horario se acaba de llenar, elija otro.")
    expect(page.locator("#progress-text")).to_have_text("Paso 3 de 5")
    expect(page.locator(f'#times .time[data-start="{start}"]')).to_be_disabled()
    expect(page.locator(f'#times .time[data-start="{start}"]')).to_contain_text("lleno")
    _screenshot(page, "portal-horario-lleno.png")
    assert page.errors == []


def test_a_document_with_an_active_cita_is_told_where_to_find_it(browser, live_server):
    from playwright.sync_api import expect

    office, service = "LPZ-PRINCIPAL", "CI-RENOV"
    document = new_document()
    held = next(s for s in availability(live_server, office, service) if s["available"] > 0)
    assert book_api(live_server, office, service, held["start"], document).status_code == 201
    page = _new_page(browser, **PHONE)
    page.goto(f"{live_server.url}/citas?tramite={service}")
    expect(page.locator("#progress-text")).to_have_text("Paso 2 de 5")  # the link chose the trámite
    page.locator(f'[data-office="{office}"]').click()
    page.locator("#times .time:not([disabled])").first.click()
    fill_form(page, document)
    page.get_by_role("button", name="Confirmar cita").click()
    alert = page.get_by_role("alert").filter(has_text="Ya tiene una cita activa para este trámite")
    expect(alert).to_be_visible()
    expect(alert.get_by_role("link", name="Ir a «Mi cita»")).to_have_attribute("href", "/citas/consultar")
    expect(page.locator("#progress-text")).to_have_text("Paso 4 de 5")
    assert page.errors == []


# ---------------------------------------------------------------- kiosk check-in


def _open_checkin(page, server):
    from playwright.sync_api import expect

    page.add_init_script("window.print = () => { window.__printed = true }")
    page.goto(f"{server.url}/login?next=/kiosk/LPZ-PRINCIPAL")
    _sign_in(page, "kiosko")
    expect(page.get_by_role("heading", name="Elija su trámite")).to_be_visible()
    # The heading is in the served HTML; the buttons' handlers come with the page's
    # scripts (a touch before they ran did nothing, and the test failed now and then).
    page.wait_for_load_state("load")
    page.get_by_role("button", name=re.compile("^Tengo cita")).click()
    expect(page.get_by_role("heading", name="Registre su llegada")).to_be_visible()
    _assert_touch_targets(page)


def _type(page, text: str) -> None:
    for ch in text:
        page.locator(f'#checkin-keys [data-ckey="{ch}"]').click()


def test_kiosk_check_in_by_code_prints_a_ticket_and_refuses_a_second_time(browser, live_server):
    from playwright.sync_api import expect

    office, service = "LPZ-PRINCIPAL", "CI-RENOV"
    document = new_document()
    slot = next(s for s in availability(live_server, office, service) if s["available"] > 0)
    booked = book_api(live_server, office, service, slot["start"], document, party_size=2)
    assert booked.status_code == 201, booked.text
    code = booked.json()["code"]

    page = _new_page(browser)
    _open_checkin(page, live_server)
    submit = page.get_by_role("button", name="Registrar llegada")
    # The keyboard has only the code's characters: no 0/O or 1/I to mix up.
    for absent in "01IOS":
        expect(page.locator(f'#checkin-keys [data-ckey="{absent}"]')).to_have_count(0)
    _type(page, code[:-1])
    expect(submit).to_be_disabled()
    _type(page, code[-1])
    expect(page.locator("#checkin-display")).to_have_text(code[:4] + " " + code[4:])
    _screenshot(page, "kiosk-cita-codigo.png")
    submit.click()

    number = page.locator("#t-number")
    expect(number).to_have_text(re.compile(r"^C-\d{3}$"))
    expect(page.locator("#t-service")).to_have_text("Renovación de cédula de identidad")
    expect(page.locator("#t-priority")).to_have_text(f"Cita {code}: se le llama a su hora")
    page.wait_for_function("() => window.__printed === true")
    slip = page.locator("#print-area .slip")
    expect(slip.locator(".slip-number")).to_have_text(number.inner_text())
    expect(slip.locator(".slip-qr svg")).to_have_count(1)
    _screenshot(page, "kiosk-cita-ticket.png")
    ticket_id = slip.locator(".slip-url").inner_text().rsplit("/t/", 1)[1]
    ticket = httpx.get(f"{live_server.url}/api/tickets/{ticket_id}").json()
    assert ticket["number"] == number.inner_text() and ticket["service"] == service and ticket["status"] == "waiting"
    cita = httpx.get(f"{live_server.url}/api/appointments/{code}", params={"document": document}).json()
    assert cita["status"] == "checked_in"

    # Back to the start; the same cita again: already registered, no second ticket.
    page.get_by_role("button", name=re.compile("^Listo")).click()
    page.get_by_role("button", name=re.compile("^Tengo cita")).click()
    _type(page, code)
    submit.click()
    expect(page.locator("#checkin-error")).to_have_text("Esa cita ya fue registrada; espere su llamado.")
    assert page.evaluate("document.querySelectorAll('#print-area .slip').length") == 0
    assert page.errors == []


def test_kiosk_check_in_explains_unknown_codes_and_other_offices(browser, live_server):
    from playwright.sync_api import expect

    page = _new_page(browser)
    _open_checkin(page, live_server)
    submit = page.get_by_role("button", name="Registrar llegada")
    unknown = (CODE_ALPHABET * 2)[:CODE_LENGTH]
    _type(page, unknown)
    submit.click()
    expect(page.locator("#checkin-error")).to_have_text(re.compile("^No encontramos una cita"))
    expect(page.locator("#checkin-display")).to_contain_text(unknown[:4])  # kept, to fix a typo

    # A cita at another office: the kiosk says where it is.
    elsewhere = next(s for s in availability(live_server, "LPZ-ZONA-SUR", "CI-RENOV") if s["available"] > 0)
    booked = book_api(live_server, "LPZ-ZONA-SUR", "CI-RENOV", elsewhere["start"], new_document())
    assert booked.status_code == 201, booked.text
    page.get_by_role("button", name="Borrar", exact=True).click()
    _type(page, booked.json()["code"])
    submit.click()
    expect(page.locator("#checkin-error")).to_contain_text("SEGIP Zona Sur")
    _screenshot(page, "kiosk-cita-otra-oficina.png")

    # A QR reader types the cita's link and Enter: checked in without a touch.
    here = next(s for s in availability(live_server, "LPZ-PRINCIPAL", "CI-RENOV") if s["available"] > 0)
    scanned = book_api(live_server, "LPZ-PRINCIPAL", "CI-RENOV", here["start"], new_document()).json()
    page.get_by_role("button", name="‹ Volver").click()
    expect(page.get_by_role("heading", name="Elija su trámite")).to_be_visible()
    page.keyboard.type(f"{live_server.url}{scanned['links']['page']}\n", delay=5)
    expect(page.locator("#t-number")).to_have_text(re.compile(r"^C-\d{3}$"))
    page.wait_for_function("() => window.__printed === true")
    assert page.errors == []


def test_the_offices_walk_in_wait_reads_as_on_every_surface(browser, live_server):
    """«Hoy sin cita: espera …» beside an office with a desk open, written by the one
    formatter of waits (eta-format.js, which the portal loads for it)."""
    from playwright.sync_api import expect

    office, service = "LPZ-PRINCIPAL", "CI-RENOV"
    response = httpx.post(f"{live_server.url}/api/offices/{office}/desks/3/open",  # CI-RENOV first
                          headers=_token(live_server, "admin"))
    assert response.status_code == 200, response.text
    page = _new_page(browser, **PHONE)
    page.goto(f"{live_server.url}/citas")
    page.locator(f'[data-service="{service}"]').click()
    walk_in = page.locator(f'[data-office="{office}"] .option-walkin')
    # "sin espera", "espera ≈ 12 min", "espera entre 35 y 50 min" (once the ranking carries the range)
    expect(walk_in).to_have_text(re.compile(r"^Hoy sin cita: (sin espera|espera (≈|entre|hasta) \d)"),
                                 timeout=10000)
    assert page.evaluate("typeof window.TurneroEta.line") == "function"
    assert page.errors == []


def test_too_many_bookings_from_one_client_get_a_spanish_wait_message(browser, live_server):
    """Last in the module: it spends this client's booking allowance (20 a minute)."""
    from playwright.sync_api import expect

    page = _new_page(browser, **PHONE)
    page.goto(f"{live_server.url}/citas")
    choose_slot(page, "CI-RENOV", "LPZ-TELEFERICO-ROJO")
    fill_form(page, new_document())
    # Someone at the same address (a reseller's script) hammers the booking endpoint.
    for _ in range(40):
        if httpx.post(f"{live_server.url}/api/appointments", json={}).status_code == 429:
            break
    else:
        pytest.fail("the booking rate limit never answered 429")
    page.get_by_role("button", name="Confirmar cita").click()
    alert = page.get_by_role("alert").filter(has_text="Hizo demasiados intentos seguidos")
    expect(alert).to_be_visible()
    expect(alert.get_by_role("button", name="Intentar de nuevo")).to_be_visible()
    expect(page.locator("#progress-text")).to_have_text("Paso 4 de 5")
    _screenshot(page, "portal-demasiados-intentos.png")
    assert page.errors == []
