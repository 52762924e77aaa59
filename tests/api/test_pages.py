"""Browser pages: login, home, kiosk, desk console and the citizen ticket page.

The first part checks the server-rendered HTML with the in-process client (session
cookie from the login form). The second part drives the real pages in headless
Chromium (Debian's /usr/bin/chromium through Playwright) against a real server.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import OUTPUT_DIR, login
from tests.driver import issue

OFFICE = "LPZ-PRINCIPAL"


# ---------------------------------------------------------------- helpers


async def page_login(client: httpx.AsyncClient, username: str, password: str = "demo", next_: str = ""):
    """Sign in through the HTML form; the client keeps the session cookie."""
    client.cookies.clear()
    response = await client.post("/login", data={"username": username, "password": password, "next": next_})
    assert response.status_code == 303, response.text
    return response


async def walk_in_services(client: httpx.AsyncClient, office: str = OFFICE) -> dict[str, str]:
    """Code -> name of the services the kiosk of `office` must offer (from the API)."""
    offered = next(o for o in (await client.get("/api/offices")).json() if o["code"] == office)["services"]
    services = (await client.get("/api/services")).json()
    return {s["code"]: s["name"] for s in services if s["code"] in offered and s["walk_in"]}


def alert_hidden(html: str) -> bool:
    tag = re.search(r'<div class="called-alert"[^>]*>', html)
    assert tag, "the citizen page has no called alert"
    return " hidden" in tag.group(0)


# ---------------------------------------------------------------- login and home


async def test_login_form_is_spanish_and_keeps_next(client):
    response = await client.get("/login?next=/kiosk/LPZ-PRINCIPAL")
    assert response.status_code == 200
    assert '<html lang="es-BO">' in response.text
    assert "Iniciar sesión" in response.text and "Contraseña" in response.text
    assert 'name="next" value="/kiosk/LPZ-PRINCIPAL"' in response.text
    assert 'action="/login"' in response.text and 'method="post"' in response.text


async def test_wrong_password_stays_on_the_form_with_401(client):
    response = await client.post("/login", data={"username": "kiosko", "password": "nope", "next": "/kiosk/LPZ-PRINCIPAL"})
    assert response.status_code == 401
    assert "Usuario o contraseña incorrectos." in response.text
    assert 'value="kiosko"' in response.text  # the username is kept, the password is not
    assert 'name="next" value="/kiosk/LPZ-PRINCIPAL"' in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    ("username", "home"),
    [("kiosko", "/kiosk/LPZ-PRINCIPAL"), ("operador1", "/desk/LPZ-PRINCIPAL"),
     ("supervisor", "/desk/LPZ-PRINCIPAL"), ("admin", "/")],
)
async def test_login_sets_the_session_cookie_and_goes_to_the_role_home(client, username, home):
    response = await page_login(client, username)
    assert response.headers["location"] == home
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("turnero_session=")
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert (await client.get(home)).status_code == 200


async def test_login_follows_a_local_next_but_never_another_site(client):
    assert (await page_login(client, "admin", next_="/desk/LPZ-ZONA-SUR")).headers["location"] == "/desk/LPZ-ZONA-SUR"
    assert (await page_login(client, "kiosko", next_="//evil.example/")).headers["location"] == "/kiosk/LPZ-PRINCIPAL"


async def test_home_lists_offices_with_their_pages_and_logout(client):
    anonymous = await client.get("/")
    assert anonymous.status_code == 200
    assert 'href="/login"' in anonymous.text
    assert "/api/offices/LPZ-ZONA-SUR/board" in anonymous.text
    assert 'href="/kiosk/' not in anonymous.text  # staff links only for signed-in staff

    await page_login(client, "admin")
    home = (await client.get("/")).text
    for office in ("LPZ-PRINCIPAL", "LPZ-ZONA-SUR", "LPZ-SEGELIC"):
        assert f'href="/kiosk/{office}"' in home and f'href="/desk/{office}"' in home
        assert f'href="/api/offices/{office}/board"' in home
    assert 'action="/logout"' in home

    out = await client.post("/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    client.cookies.clear()
    assert (await client.get("/kiosk/LPZ-PRINCIPAL")).status_code == 303


async def test_a_kiosk_user_sees_only_the_kiosk_of_its_own_office_on_home(client):
    await page_login(client, "kiosko")
    home = (await client.get("/")).text
    assert 'href="/kiosk/LPZ-PRINCIPAL"' in home
    assert 'href="/kiosk/LPZ-ZONA-SUR"' not in home
    assert 'href="/desk/' not in home


# ---------------------------------------------------------------- kiosk


async def test_kiosk_requires_login(client):
    response = await client.get("/kiosk/LPZ-PRINCIPAL")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/kiosk/LPZ-PRINCIPAL"


async def test_kiosk_of_another_office_is_a_403_page(client):
    await page_login(client, "kiosko")
    response = await client.get("/kiosk/LPZ-ZONA-SUR")
    assert response.status_code == 403
    assert "Acceso no permitido" in response.text
    assert "kiosko" in response.text and '<html lang="es-BO">' in response.text


async def test_display_user_cannot_open_the_kiosk(client):
    await page_login(client, "pantalla")
    assert (await client.get("/kiosk/LPZ-PRINCIPAL")).status_code == 403


async def test_unknown_office_is_a_spanish_404_page(client):
    await page_login(client, "admin")
    response = await client.get("/kiosk/NO-EXISTE")
    assert response.status_code == 404
    assert "No existe la oficina «NO-EXISTE»" in response.text
    assert (await client.get("/desk/NO-EXISTE")).status_code == 404


async def test_kiosk_offers_the_office_walk_in_services_with_requirements(client):
    await page_login(client, "kiosko")
    response = await client.get("/kiosk/LPZ-PRINCIPAL")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="es-BO">' in html
    expected = await walk_in_services(client)
    assert set(re.findall(r'data-service="([^"]+)"', html)) == set(expected)
    for name in expected.values():
        assert name in html
    # Steps of a visit (descarte, captura, entrega) are never chosen at the kiosk,
    # and another office's trámites are not listed.
    for code in ("DESCARTE", "CAPTURA", "ENTREGA", "LIC-NUEVA", "PASAPORTE"):
        assert f'data-service="{code}"' not in html
    assert "Requisitos" in html
    assert "Factura de luz, agua o gas del domicilio actual" in html
    assert "¿Necesita atención preferencial?" in html
    for code, label in [("senior", "Adulto mayor"), ("disability", "Persona con discapacidad"),
                        ("pregnant", "Mujer embarazada"), ("child", "Persona con niño pequeño")]:
        assert f'data-priority="{code}">{label}<' in html
    assert 'data-priority="regular"' in html
    assert "/static/js/kiosk.js" in html


async def test_kiosk_of_another_office_lists_its_own_catalogue(client):
    await page_login(client, "admin")
    html = (await client.get("/kiosk/LPZ-SEGELIC")).text
    expected = await walk_in_services(client, "LPZ-SEGELIC")
    assert set(re.findall(r'data-service="([^"]+)"', html)) == set(expected)
    assert 'data-service="EXAM-TEORICO"' not in html  # booked only, never walk-in


async def test_static_assets_are_served(client):
    for path in ("/static/css/app.css", "/static/css/kiosk.css", "/static/css/print.css", "/static/css/desk.css",
                 "/static/css/ticket.css", "/static/js/api.js", "/static/js/kiosk.js", "/static/js/desk.js",
                 "/static/js/ticket.js", "/static/js/slip.js"):
        assert (await client.get(path)).status_code == 200, path


# ---------------------------------------------------------------- citizen page


async def test_citizen_page_of_an_unknown_ticket_is_a_spanish_404(client):
    response = await client.get("/t/no-existe-este-turno")
    assert response.status_code == 404
    assert "No encontramos ese turno" in response.text
    assert '<html lang="es-BO">' in response.text


async def test_citizen_page_shows_the_turn_but_no_personal_data(client):
    kiosk = await login(client, "kiosko")
    ticket = await issue(client, kiosk, priority="pregnant", phone="71234567")
    response = await client.get(f"/t/{ticket['id']}")  # public: no session
    assert response.status_code == 200
    html = response.text
    assert ticket["number"] in html
    assert ticket["service_name"] in html
    assert "En espera" in html and "Lugar en la fila" in html and "Espera estimada" in html
    assert "Mujer embarazada" in html
    assert "71234567" not in html and "591" not in html
    assert alert_hidden(html)
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in html


async def test_citizen_page_shows_the_called_alert_with_the_desk(client):
    kiosk, operator = await login(client, "kiosko"), await login(client, "operador1")
    ticket = await issue(client, kiosk)
    assert (await client.post(f"/api/offices/{OFFICE}/desks/4/open", headers=operator)).status_code == 200
    called = await client.post(f"/api/offices/{OFFICE}/desks/4/call", json={"ticket": ticket["id"]}, headers=operator)
    assert called.status_code == 200, called.text
    html = (await client.get(f"/t/{ticket['id']}")).text
    assert not alert_hidden(html)
    assert "¡Es su turno!" in html
    assert re.search(r'Diríjase a la ventanilla <b id="c-alert-desk">4</b>', html)
    assert "Llamado" in html


# ---------------------------------------------------------------- desk console


async def test_desk_pages_require_staff_of_the_office(client):
    response = await client.get("/desk/LPZ-PRINCIPAL")
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/desk/LPZ-PRINCIPAL"
    await page_login(client, "kiosko")
    assert (await client.get("/desk/LPZ-PRINCIPAL")).status_code == 403
    await page_login(client, "operador1")
    assert (await client.get("/desk/LPZ-ZONA-SUR")).status_code == 403


async def test_desk_picker_lists_the_office_desks(client):
    await page_login(client, "operador1")
    response = await client.get("/desk/LPZ-PRINCIPAL")
    assert response.status_code == 200
    desks = (await client.get(f"/api/offices/{OFFICE}/desks", headers=await login(client, "operador1"))).json()
    for desk in desks:
        assert f'href="/desk/LPZ-PRINCIPAL/{desk["name"]}"' in response.text
    assert "Cerrada" in response.text


async def test_desk_console_renders_the_buttons_and_state(client):
    await page_login(client, "operador1")
    response = await client.get("/desk/LPZ-PRINCIPAL/3")
    assert response.status_code == 200
    html = response.text
    for label in ("Abrir", "Pausar", "Cerrar", "Llamar siguiente", "Volver a llamar", "Iniciar atención",
                  "Finalizar", "No se presentó", "Transferir", "Llamar un turno específico"):
        assert label in html, label
    assert "Ventanilla 3" in html
    assert "/static/js/desk.js" in html
    assert (await client.get("/desk/LPZ-PRINCIPAL/999")).status_code == 404


async def test_desk_state_is_json_with_the_called_ticket(client):
    state_url = "/desk/LPZ-PRINCIPAL/3/state"
    anonymous = await client.get(state_url)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"

    kiosk, operator = await login(client, "kiosko"), await login(client, "operador1")
    empty = (await client.get(state_url, headers=operator)).json()
    assert empty["ticket"] is None and empty["desk"]["name"] == "3"
    ticket = await issue(client, kiosk)
    await client.post(f"/api/offices/{OFFICE}/desks/3/open", headers=operator)
    await client.post(f"/api/offices/{OFFICE}/desks/3/call", json={"ticket": ticket["number"]}, headers=operator)
    state = (await client.get(state_url, headers=operator)).json()
    assert state["desk"]["status"] == "open"
    assert state["ticket"]["id"] == ticket["id"] and state["ticket"]["status"] == "called"
    assert (await client.get(state_url, headers=kiosk)).status_code == 403
    assert (await client.get("/desk/LPZ-PRINCIPAL/999/state", headers=operator)).status_code == 404


# ---------------------------------------------------------------- headless Chromium

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _browser_unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return None


@pytest.fixture
def browser():
    """Chromium per test: Playwright's sync API runs its own loop, kept off pytest-asyncio's."""
    reason = _browser_unavailable()
    if reason:
        if os.environ.get("TURNERO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"TURNERO_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _new_page(browser, width=1366, height=768):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="es-BO")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _sign_in(page, username: str) -> None:
    page.fill("#username", username)
    page.fill("#password", "demo")
    page.get_by_role("button", name="Ingresar").click()


def _token(server, username: str) -> dict:
    response = httpx.post(f"{server.url}/api/auth/token", json={"username": username, "password": "demo"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _api(server, method: str, path: str, headers: dict, **body) -> dict:
    response = httpx.request(method, server.url + path, json=body or None, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _screenshot(page, name: str) -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    path = OUTPUT_DIR / name
    page.screenshot(path=str(path), full_page=True)
    return path


def _assert_touch_targets(page, minimum: int = 64) -> None:
    # Sizes come from the stylesheets: measured before the last one arrived (a loaded
    # machine), a button is as small as unstyled text.
    page.wait_for_load_state("load")
    for button in page.locator("#kiosk section:not([hidden]) button").all():
        box = button.bounding_box()
        assert box and box["height"] >= minimum, f"{button.inner_text()!r} is {box and box['height']} px tall"


@pytest.mark.browser
def test_kiosk_issues_and_prints_a_preferential_ticket(browser, live_server):
    from playwright.sync_api import expect

    page = _new_page(browser)
    # A real print dialog would block the page: record the call instead.
    page.add_init_script("window.print = () => { window.__printed = true }")
    page.goto(f"{live_server.url}/kiosk/{OFFICE}")
    expect(page).to_have_url(re.compile(r"/login\?next=/kiosk/LPZ-PRINCIPAL$"))
    _sign_in(page, "kiosko")
    expect(page).to_have_url(f"{live_server.url}/kiosk/{OFFICE}")
    expect(page.get_by_role("heading", name="Elija su trámite")).to_be_visible()
    _assert_touch_targets(page)

    page.get_by_role("button", name=re.compile("Certificación de datos de identidad")).click()
    expect(page.get_by_role("heading", name="¿Necesita atención preferencial?")).to_be_visible()
    _assert_touch_targets(page)
    page.get_by_role("button", name="Adulto mayor").click()

    expect(page.get_by_role("heading", name=re.compile("aviso por SMS"))).to_be_visible()
    _assert_touch_targets(page)
    # The keypad refuses a number that is not a Bolivian mobile; then the citizen skips.
    page.locator(".key[data-key='5']").click()
    expect(page.locator("#phone-error")).to_contain_text("6 o 7")
    expect(page.get_by_role("button", name="Continuar")).to_be_disabled()
    page.get_by_role("button", name="Omitir").click()

    number = page.locator("#t-number")
    expect(number).to_have_text(re.compile(r"^D-\d{3}$"))
    expect(page.locator("#t-service")).to_have_text("Certificación de datos de identidad")
    expect(page.locator("#t-priority")).to_have_text("Atención preferencial: Adulto mayor")
    expect(page.locator("#t-position")).to_have_text(re.compile(r"^\d+$"))
    # "≈ N min", "Sin espera", or with no desk of the line open "≈ N min (abre HH:MM)".
    expect(page.locator("#t-wait")).to_have_text(re.compile(r"(min|Sin espera|\(abre \d\d:\d\d\))$"))
    page.wait_for_function("() => window.__printed === true")
    # What was printed: the 80 mm slip with the same number and the QR code.
    slip = page.locator("#print-area .slip")
    expect(slip.locator(".slip-number")).to_have_text(number.inner_text())
    expect(slip.locator(".slip-qr svg")).to_have_count(1)
    # One figure, the same words on the screen and on paper (eta-format.js).
    expect(slip.locator("[data-eta-minutes]")).to_have_text(page.locator("#t-wait").inner_text())
    expect(page.locator("#t-qr svg")).to_be_visible()
    _screenshot(page, "kiosk.png")

    ticket_id = slip.locator(".slip-url").inner_text().rsplit("/t/", 1)[1]
    ticket = httpx.get(f"{live_server.url}/api/tickets/{ticket_id}").json()
    assert ticket["number"] == number.inner_text()
    assert ticket["service"] == "CERT" and ticket["priority"] == "senior" and ticket["status"] == "waiting"

    page.get_by_role("button", name=re.compile("^Listo")).click()
    expect(page.get_by_role("heading", name="Elija su trámite")).to_be_visible()
    assert page.errors == []


@pytest.mark.browser
def test_kiosk_shows_api_errors_in_spanish(browser, live_server):
    from playwright.sync_api import expect

    page = _new_page(browser)
    page.add_init_script("window.print = () => { window.__printed = true }")
    page.goto(f"{live_server.url}/login?next=/kiosk/{OFFICE}")
    _sign_in(page, "kiosko")
    expect(page.get_by_role("heading", name="Elija su trámite")).to_be_visible()
    # The session ends while the kiosk shows the form (e.g. revoked): the API says 401.
    page.context.clear_cookies()
    page.get_by_role("button", name=re.compile("^Renovación de cédula de identidad(?! de extranjero)")).click()
    page.get_by_role("button", name="No, atención general").click()
    page.get_by_role("button", name="Omitir").click()
    expect(page.get_by_role("heading", name="No se pudo emitir el turno")).to_be_visible()
    expect(page.locator("#error-message")).to_have_text("La sesión expiró. Vuelva a iniciar sesión.")
    assert page.evaluate("window.__printed === undefined")


@pytest.mark.browser
def test_desk_console_calls_and_finishes_turns(browser, live_server):
    from playwright.sync_api import expect

    kiosk = _token(live_server, "kiosko")
    page = _new_page(browser)
    page.goto(f"{live_server.url}/desk/{OFFICE}/3")
    _sign_in(page, "operador1")
    expect(page).to_have_url(f"{live_server.url}/desk/{OFFICE}/3")
    expect(page.get_by_role("heading", name="Ventanilla 3")).to_be_visible()

    call_next = page.get_by_role("button", name=re.compile("^Llamar siguiente"))
    if page.locator("#desk-status").inner_text() != "Abierta":
        expect(call_next).to_be_disabled()  # a closed desk cannot call
        page.get_by_role("button", name="Abrir").click()
    expect(page.locator("#desk-status")).to_have_text("Abierta")

    ticket = _api(live_server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk, service="CI-RENOV")
    call_next.click()
    expect(page.locator("#cur-number")).to_have_text(ticket["number"])
    expect(page.locator("#cur-status")).to_contain_text("Llamado")
    expect(call_next).to_be_disabled()  # one turn at a time (the API would say desk_busy)
    expect(page.get_by_role("button", name=re.compile("^Volver a llamar"))).to_be_enabled()
    page.wait_for_function("() => document.querySelector('#waiting-mine .w-count')?.textContent !== '…'")
    _screenshot(page, "desk.png")

    page.get_by_role("button", name=re.compile("^Finalizar")).click()
    expect(page.locator("#message")).to_have_text(f"Turno {ticket['number']} finalizado.")
    expect(page.locator("#cur-number")).to_have_text("—")
    assert httpx.get(f"{live_server.url}/api/tickets/{ticket['id']}").json()["status"] == "done"

    # Keyboard: Space calls the next turn, A marks it as a no-show.
    second = _api(live_server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk, service="CI-RENOV")
    expect(call_next).to_be_enabled()
    page.keyboard.press("Space")
    expect(page.locator("#cur-number")).to_have_text(second["number"])
    page.keyboard.press("a")
    expect(page.locator("#message")).to_contain_text("ausente")
    assert httpx.get(f"{live_server.url}/api/tickets/{second['id']}").json()["status"] == "no_show"

    # A multi-step trámite called by its number: finishing a step says where it goes next.
    visit = _api(live_server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk, service="CI-NUEVO")
    page.fill("#call-ref", visit["number"].lower())
    page.get_by_role("button", name="Llamar", exact=True).click()
    expect(page.locator("#cur-number")).to_have_text(visit["number"])
    page.get_by_role("button", name=re.compile("^Iniciar atención")).click()
    expect(page.locator("#cur-status")).to_contain_text("En atención")
    page.get_by_role("button", name=re.compile("^Finalizar")).click()
    expect(page.locator("#message")).to_contain_text("pasa a Captura biométrica y fotografía")

    # The API's refusals reach the operator in Spanish.
    page.fill("#call-ref", "Z-999")
    page.get_by_role("button", name="Llamar", exact=True).click()
    expect(page.locator("#message")).to_have_text("No existe el turno 'Z-999' en LPZ-PRINCIPAL.")
    assert page.errors == []


@pytest.mark.browser
def test_citizen_page_alerts_when_the_turn_is_called(browser, live_server):
    from playwright.sync_api import expect

    kiosk, operator = _token(live_server, "kiosko"), _token(live_server, "operador2")
    ticket = _api(live_server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk, service="CI-RENOV")
    page = _new_page(browser, width=412, height=915)  # a phone
    page.clock.install()  # the page polls every 10 s: move its clock instead of waiting
    page.goto(f"{live_server.url}/t/{ticket['id']}")
    expect(page.locator("#c-number")).to_have_text(ticket["number"])
    expect(page.locator("#c-status")).to_have_text("En espera")
    expect(page.locator("#c-alert")).to_be_hidden()

    _api(live_server, "POST", f"/api/offices/{OFFICE}/desks/5/open", operator)
    _api(live_server, "POST", f"/api/offices/{OFFICE}/desks/5/call", operator, ticket=ticket["number"])
    page.clock.run_for(11_000)
    alert = page.get_by_role("alert").filter(has_text="¡Es su turno!")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Diríjase a la ventanilla 5")
    expect(page.locator("#c-status")).to_have_text("Llamado")
    expect(page).to_have_title(re.compile("^¡Es su turno!"))
    _screenshot(page, "ticket.png")
    assert page.errors == []


@pytest.mark.browser
def test_the_citizen_page_and_the_kiosk_say_the_waits_range(browser, live_server):
    """A wait estimate carries the range learnt from its errors: the citizen's page (as
    rendered by the server and then by ticket.js), the kiosk's ticket screen and its
    printed slip all read "entre N y M min" (eta-format.js / core/wait_words.py)."""
    from playwright.sync_api import expect

    kiosk = _token(live_server, "kiosko")
    _api(live_server, "POST", f"/api/offices/{OFFICE}/desks/9/open", _token(live_server, "admin"))  # SANEAMIENTO
    ahead = [_api(live_server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk, service="SANEAMIENTO")
             for _ in range(2)]
    ticket = ahead[-1]  # one ahead of it at one desk: some minutes, with a range
    assert ticket["estimated_wait_low_minutes"] < ticket["estimated_wait_high_minutes"], ticket
    in_range = re.compile(r"^entre \d+ y \d+ min$")

    # The server renders it so (a page read before its script runs, or without it)…
    html = httpx.get(f"{live_server.url}/t/{ticket['id']}").text
    served = re.search(r'<dd id="c-wait">([^<]*)</dd>', html).group(1)
    assert in_range.match(served), served
    # …and ticket.js in the same words, with every update.
    page = _new_page(browser, width=412, height=915)
    page.goto(f"{live_server.url}/t/{ticket['id']}")
    expect(page.locator("#c-number")).to_have_text(ticket["number"])
    expect(page.locator("#c-wait")).to_have_text(in_range)
    _screenshot(page, "ticket-range.png")
    assert page.errors == []

    # The kiosk: the trámite's card, then the ticket's screen and its slip.
    page = _new_page(browser)
    page.add_init_script("window.print = () => { window.__printed = true }")
    page.goto(f"{live_server.url}/login?next=/kiosk/{OFFICE}")
    _sign_in(page, "kiosko")
    card = page.locator('.service-card[data-service="SANEAMIENTO"]')
    expect(card.locator(".service-eta")).to_contain_text(re.compile(r"^Espera estimada: entre "), timeout=10000)
    card.click()
    page.get_by_role("button", name="No, atención general").click()
    page.get_by_role("button", name="Omitir").click()
    expect(page.locator("#t-number")).to_have_text(re.compile(r"^S-\d{3}$"))
    expect(page.locator("#t-wait")).to_have_text(in_range)
    page.wait_for_function("() => window.__printed === true")
    expect(page.locator("#print-area .slip [data-eta-minutes]")).to_have_text(page.locator("#t-wait").inner_text())
    _screenshot(page, "kiosk-range.png")
    assert page.errors == []
