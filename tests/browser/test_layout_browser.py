"""Issue 18, a newcomer's first hour: pages that fit, and the right kind of error page.

In headless Chromium against a real server: every public page (home, the portal's steps
up to the form, «Mi cita», login, a ticket page, the lobby display, the 404 page) and the
kiosk signed in have no horizontal overflow on a phone (390×844), a laptop (1280×720) and
a TV (1920×1080), and the home page still reflows at 320 px (400 % zoom); on the lobby
display no two cards or badges overlap and nothing runs under the bottom of a landscape
screen, the waiting list is legible from across the room, the sound badge sits in the
header and leaves at the first touch; the exam seat keeps «Terminar y entregar» on screen
at 1280×800. Without a browser: browsers get the Spanish 404/405 pages, the API and
non-HTML clients keep the JSON error shape, and the favicon is a real SVG.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.api.test_pages import _api, _new_page, _screenshot, _sign_in, _token, browser  # noqa: F401 (fixture)
from tests.browser.test_portal_browser import choose_slot

OFFICE = "LPZ-PRINCIPAL"
EXAM_OFFICE = "LPZ-SEGELIC"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
PHONE = (390, 844)
LAPTOP = (1280, 720)
TV = (1920, 1080)
VIEWPORTS = [PHONE, LAPTOP, TV]


# ---------------------------------------------------------------- error pages, favicon (no browser)


async def test_a_browser_gets_the_spanish_404_page_and_api_clients_keep_json(client):
    for path in ("/nope", "/favicon.png", "/citas/consultar/de/mas", "/static/css/no-existe.css"):
        page = await client.get(path, headers={"Accept": BROWSER_ACCEPT})
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert '<html lang="es-BO">' in page.text and "Página no encontrada" in page.text
        assert 'href="/"' in page.text and "noindex" in page.text
        assert "content-security-policy" in page.headers

    # The API's error shape for /api/*, even from a browser, and for clients that do not ask for HTML.
    for path, accept in (("/api/nope", BROWSER_ACCEPT), ("/api/nope", "*/*"), ("/nope", "*/*"),
                         ("/nope", "application/json"), ("/nope", "application/json, text/html;q=0.5"),
                         ("/nope", "")):
        response = await client.get(path, headers={"Accept": accept})
        assert response.status_code == 404, (path, accept)
        assert response.headers["content-type"] == "application/json", (path, accept)
        assert response.json() == {"error": {"code": "not_found", "message": "No existe el recurso solicitado."}}


async def test_a_browser_gets_the_spanish_405_page_with_its_allow_header(client):
    page = await client.post("/citas/consultar", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 405
    assert page.headers["content-type"].startswith("text/html")
    assert "Acción no permitida" in page.text and '<html lang="es-BO">' in page.text
    assert set(page.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}

    api = await client.delete("/api/services", headers={"Accept": BROWSER_ACCEPT})
    assert api.status_code == 405
    assert api.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in api.headers["allow"]


async def test_the_favicon_is_a_real_svg_linked_from_every_page(client):
    icon = await client.get("/favicon.ico", headers={"Accept": "image/avif,image/webp,*/*;q=0.8"})
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.lstrip().startswith("<svg") and "</svg>" in icon.text
    static = await client.get("/static/favicon.svg")
    assert static.status_code == 200 and static.text == icon.text
    for path in ("/", "/login", "/citas", "/nope"):
        html = (await client.get(path, headers={"Accept": BROWSER_ACCEPT})).text
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html, path


async def test_home_links_each_office_to_its_real_lobby_display(client):
    html = (await client.get("/")).text
    offices = [o["code"] for o in (await client.get("/api/offices")).json()]
    assert offices
    for code in offices:
        assert f'href="/display/{code}"' in html, code
        assert f'href="/api/offices/{code}/board"' in html, code  # the JSON stays, secondary
    assert html.index(f'href="/display/{offices[0]}"') < html.index(f'href="/api/offices/{offices[0]}/board"')
    assert ">Pantalla (JSON)<" not in html


async def test_the_ticket_pages_bell_is_an_svg_not_an_emoji(client):
    kiosk = await _client_token(client, "kiosko")
    ticket = await client.post(f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV"}, headers=kiosk)
    html = (await client.get(f"/t/{ticket.json()['id']}")).text
    assert "🔔" not in html
    button = re.search(r'<button[^>]*id="c-sound"[^>]*>(.*?)</button>', html, re.S).group(1)
    assert '<img src="/static/img/bell.svg" alt=""' in button and "Avisarme también con sonido" in button
    assert (await client.get("/static/img/bell.svg")).headers["content-type"].startswith("image/svg+xml")


async def _client_token(client, username: str) -> dict:
    response = await client.post("/api/auth/token", json={"username": username, "password": "demo"})
    return {"Authorization": f"Bearer {response.json()['token']}"}


# ---------------------------------------------------------------- in Chromium

OVERFLOW_JS = """() => ({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  wide: [...document.querySelectorAll('body *')]
    .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > innerWidth + 0.5; })
    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className),
})"""


def _assert_fits(page, label: str) -> None:
    page.wait_for_load_state("load")  # every stylesheet applied
    got = page.evaluate(OVERFLOW_JS)
    assert got["scrollWidth"] <= got["innerWidth"], f"{label}: {got}"


def _ticket_id(server) -> str:
    return _api(server, "POST", f"/api/offices/{OFFICE}/tickets", _token(server, "kiosko"), service="CI-RENOV")["id"]


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), VIEWPORTS, ids=["phone", "laptop", "tv"])
def test_every_public_page_fits_the_width(browser, live_server, width, height):  # noqa: F811
    from playwright.sync_api import expect

    base = live_server.url
    page = _new_page(browser, width, height)
    pages = ["/", "/citas", "/citas/consultar", "/login", f"/t/{_ticket_id(live_server)}",
             f"/display/{OFFICE}", "/no-existe-esta-pagina"]
    for path in pages:
        response = page.goto(base + path)
        assert response.status == (404 if path.startswith("/no-existe") else 200), path
        _assert_fits(page, f"{path} at {width}×{height}")

    # The portal's steps a citizen reaches without booking: trámite, oficina, fecha, datos.
    page.goto(base + "/citas")
    choose_slot(page, "CI-RENOV", OFFICE)
    expect(page.get_by_label("Complemento")).to_be_visible()
    _assert_fits(page, f"/citas step 4 at {width}×{height}")
    # «Complemento» on one line, never «Complement/o».
    lines = page.evaluate("""() => { const r = document.createRange();
        r.selectNodeContents(document.querySelector('label[for=f-comp]'));
        return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; }""")
    assert lines == 1, f"«Complemento» wraps on {lines} lines at {width}×{height}"
    # The 404 page answered to a browser is the Spanish page, not JSON.
    page.goto(base + "/no-existe-esta-pagina")
    expect(page.get_by_role("heading", name="Página no encontrada")).to_be_visible()
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), [
    pytest.param(*PHONE, id="phone"),
    pytest.param(*LAPTOP, id="laptop"),
    pytest.param(*TV, id="tv"),
])
def test_the_kiosk_fits_the_width(browser, live_server, width, height):  # noqa: F811
    page = _new_page(browser, width, height)
    page.goto(f"{live_server.url}/login?next=/kiosk/{OFFICE}")
    _sign_in(page, "kiosko")
    page.wait_for_url(f"{live_server.url}/kiosk/{OFFICE}")
    _assert_fits(page, f"/kiosk/{OFFICE} at {width}×{height}")


@pytest.mark.browser
@pytest.mark.parametrize("width", [320, 390])
def test_home_reflows_on_a_narrow_phone_signed_in_or_not(browser, live_server, width):  # noqa: F811
    from playwright.sync_api import expect

    page = _new_page(browser, width, 700)
    page.goto(live_server.url + "/")
    _assert_fits(page, f"home at {width}")
    # Office names are whole on screen (not cut at the right edge).
    for name in page.locator(".office-head h2").all():
        box = name.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, name.inner_text()
    page.goto(live_server.url + "/login")
    _sign_in(page, "admin")
    page.wait_for_url(live_server.url + "/")
    _assert_fits(page, f"home signed in at {width}")
    # The real lobby display is one tap away.
    page.locator(".office").filter(has_text=OFFICE).get_by_role("link", name="Pantalla de la sala").click()
    expect(page).to_have_url(f"{live_server.url}/display/{OFFICE}")
    expect(page.locator("#d-hero")).to_be_visible()


# ---------------------------------------------------------------- the lobby display

# Every card and badge of the display a person reads: the header's parts (the sound and
# connection badges included), the hero, the section titles, the recent calls and the
# waiting cards.
DISPLAY_PARTS_JS = """() => {
  const sel = '.d-top > *, #d-hero, .d-main h2, #d-recent > li, #d-waiting > li';
  const parts = [...document.querySelectorAll(sel)].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden';
  });
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '')
    + ' «' + e.textContent.trim().replace(/\\s+/g, ' ').slice(0, 30) + '»';
  const overlaps = [];
  for (let i = 0; i < parts.length; i++) {
    for (let j = i + 1; j < parts.length; j++) {
      const a = parts[i], b = parts[j];
      if (a.contains(b) || b.contains(a)) continue;
      const p = a.getBoundingClientRect(), q = b.getBoundingClientRect();
      const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
      const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
      if (w > 0.5 && h > 0.5) overlaps.push(name(a) + ' × ' + name(b));
    }
  }
  const below = parts.filter(e => e.getBoundingClientRect().bottom > innerHeight + 0.5).map(name);
  return { count: parts.length, overlaps, below, landscape: innerWidth > innerHeight,
           scrollWidth: document.documentElement.scrollWidth };
}"""


@pytest.fixture(scope="module")
def busy_office(live_server):
    """The display's worst ordinary case: calls at several desks (recent list full) and
    people waiting in every walk-in line."""
    admin, kiosk = _token(live_server, "admin"), _token(live_server, "kiosko")
    services = {s["code"]: s for s in httpx.get(f"{live_server.url}/api/services").json()}
    office = next(o for o in httpx.get(f"{live_server.url}/api/offices").json() if o["code"] == OFFICE)
    walk_in = [code for code in office["services"] if services[code]["walk_in"]]
    for _ in range(3):
        for code in walk_in:
            _api(live_server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk, service=code)
    desks = httpx.get(f"{live_server.url}/api/offices/{OFFICE}/desks", headers=admin).json()
    called = 0
    for desk in desks:
        httpx.post(f"{live_server.url}/api/offices/{OFFICE}/desks/{desk['name']}/open", headers=admin)
        if httpx.post(f"{live_server.url}/api/offices/{OFFICE}/desks/{desk['name']}/call-next",
                      headers=admin).status_code == 200:
            called += 1
        if called >= 9:
            break
    assert called >= 6
    for code in walk_in:  # the calls took some: people still wait in every line
        _api(live_server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk, service=code)
    return walk_in


def _open_display(browser, server, width, height):  # noqa: F811
    page = _new_page(browser, width, height)
    page.goto(f"{server.url}/display/{OFFICE}")
    page.wait_for_load_state("load")
    page.wait_for_function("() => document.body.dataset.live === 'live'", timeout=10000)
    return page


def _settle(page) -> None:
    # display.js fits the screen on the next animation frame after a change.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), [PHONE, LAPTOP, (1366, 768), TV],
                         ids=["phone", "laptop", "laptop-768", "tv"])
def test_nothing_on_the_display_overlaps(browser, live_server, busy_office, width, height):  # noqa: F811
    page = _open_display(browser, live_server, width, height)
    page.wait_for_function("n => document.querySelectorAll('#d-waiting > li').length >= n",
                           arg=len(busy_office), timeout=5000)
    page.wait_for_function("() => document.querySelectorAll('#d-recent > li').length >= 2", timeout=5000)
    # Both badges shown at once (a TV nobody touched, during an outage): the worst case.
    page.evaluate("() => { document.getElementById('d-sound').hidden = false;"
                  " document.getElementById('d-conn').hidden = false; }")
    _settle(page)
    got = page.evaluate(DISPLAY_PARTS_JS)
    label = f"{width}×{height}"
    assert got["count"] >= len(busy_office) + 6, (label, got)
    assert got["overlaps"] == [], (label, got["overlaps"])
    assert got["scrollWidth"] <= width, (label, got)
    if got["landscape"]:
        # A TV nobody scrolls: every card whole on the screen, the last waiting card included.
        assert got["below"] == [], (label, got["below"])
        assert page.locator("#d-recent > li:visible").count() >= 2
    _screenshot(page, f"layout-display-{width}x{height}-{live_server.backend}.png")
    assert page.errors == []


@pytest.mark.browser
def test_many_trámites_still_fit_on_a_laptop_screen(browser, live_server, busy_office):  # noqa: F811
    page = _open_display(browser, live_server, *LAPTOP)
    page.wait_for_function("n => document.querySelectorAll('#d-waiting > li').length >= n",
                           arg=len(busy_office), timeout=5000)
    # An office with 18 lines: the cards shrink just enough, never under the bottom.
    page.evaluate("""() => { const list = document.getElementById('d-waiting');
        for (let i = 0; list.children.length < 18; i++) {
          const li = list.firstElementChild.cloneNode(true);
          li.dataset.service = 'EXTRA-' + i;
          li.querySelector('.d-w-name').textContent = 'Trámite adicional de prueba número ' + (i + 1);
          list.append(li);
        } }""")
    _settle(page)
    got = page.evaluate(DISPLAY_PARTS_JS)
    assert got["overlaps"] == [] and got["below"] == [], got
    assert page.evaluate("window.TurneroDisplay.fit") < 1


@pytest.mark.browser
def test_the_waiting_list_is_legible_across_the_room_and_the_sound_badge_is_in_the_header(
        browser, live_server, busy_office):  # noqa: F811
    page = _open_display(browser, live_server, *TV)
    page.wait_for_function("n => document.querySelectorAll('#d-waiting > li').length >= n",
                           arg=len(busy_office), timeout=5000)
    _settle(page)
    px = lambda sel: float(page.evaluate(f"getComputedStyle(document.querySelector('{sel}')).fontSize")[:-2])  # noqa: E731
    # Was 28 px (names) on a 1080p screen: now about 4 % of its height, the counts larger.
    assert px("#d-waiting .d-w-name") >= 36
    assert px("#d-waiting .d-w-count") >= 64
    page.wait_for_selector("#d-waiting .d-w-eta", timeout=10000)  # the estimates (board-eta.js)
    assert px("#d-waiting .d-w-eta") >= 24

    # Headless Chromium keeps audio off until a gesture: the badge offers it, inside the
    # header, in the flow (not fixed over the content), and leaves at the first touch.
    sound = page.locator("#d-sound")
    page.wait_for_function("() => !document.getElementById('d-sound').hidden", timeout=3000)
    assert page.evaluate("getComputedStyle(document.getElementById('d-sound')).position") == "static"
    header = page.locator(".d-top").bounding_box()
    badge = sound.bounding_box()
    assert header["y"] <= badge["y"] and badge["y"] + badge["height"] <= header["y"] + header["height"]
    assert sound.locator("svg").count() == 1 and "activar el sonido" in sound.inner_text()
    page.mouse.click(TV[0] // 2, TV[1] // 2)
    page.wait_for_function("() => document.getElementById('d-sound').hidden", timeout=3000)
    assert page.errors == []


# ---------------------------------------------------------------- the exam seat


def _seat_token(server) -> str:
    headers = _token(server, "examinador")
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(hours=3)
    for shift in range(0, 24 * 60, 50):
        response = httpx.post(
            f"{server.url}/api/exam/offices/{EXAM_OFFICE}/rooms/SALA-1/sessions", headers=headers,
            json={"starts_at": (start + timedelta(minutes=shift)).isoformat(), "minutes": 45})
        if response.status_code != 409:
            break
    assert response.status_code == 201, response.text
    board = httpx.get(f"{server.url}/api/exam/sessions/{response.json()['id']}/board", headers=headers).json()
    return board["seats"][0]["token"]


def _running_exam(questions: int = 40) -> dict:
    """A seat's state in the middle of an exam: long questions, 40 of them (the dots)."""
    text = ("¿Qué debe hacer el conductor al acercarse a un paso peatonal señalizado donde hay personas "
            "esperando para cruzar la calzada? (pregunta {})")
    attempt = {
        "id": 1, "status": "in_progress", "name": "María Quispe Mamani", "category": "B", "category_name": "B",
        "total": questions, "position": 0, "answers": {}, "seconds_left": 1800, "duration_seconds": 2400,
        "questions": [{"id": i + 1, "text": text.format(i + 1), "choices": [
            "Detenerse y ceder el paso a los peatones que cruzan o esperan cruzar",
            "Tocar la bocina y continuar con precaución",
            "Acelerar para pasar antes que los peatones",
            "Reducir la velocidad sin detenerse"]} for i in range(questions)],
    }
    return {"attempt": attempt, "in_service": True}


@pytest.mark.browser
def test_the_exam_seat_keeps_terminar_y_entregar_on_a_1280x800_screen(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    token = _seat_token(live_server)
    state = _running_exam()
    page = _new_page(browser, 1280, 800)

    # The real page and its script, with the seat's state of a running exam in place of
    # the idle one (the server's own page HTML; the state the script re-reads, the same).
    def seat_page(route):
        response = route.fetch()
        body = response.text()
        match = re.search(r'(<script type="application/json" id="seat-data">)(.*?)(</script>)', body, re.S)
        boot = json.loads(match.group(2))
        boot["state"] = state
        route.fulfill(response=response, body=body[:match.start(2)] + json.dumps(boot) + body[match.end(2):])

    page.route(f"{live_server.url}/exam/seat/{token}", seat_page)
    page.route(f"{live_server.url}/api/exam/seats/{token}", lambda route: route.fulfill(json=state))
    page.goto(f"{live_server.url}/exam/seat/{token}")
    expect(page.locator("#screen-question")).to_be_visible()
    expect(page.locator("#q-dots .qdot")).to_have_count(40)
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollHeight") > 800  # the question is taller than the screen

    def on_screen(selector: str) -> bool:
        box = page.locator(selector).bounding_box()
        return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 800

    for selector in ("#btn-finish", "#btn-next", "#btn-prev"):
        assert on_screen(selector), selector
    _assert_fits(page, "exam seat at 1280×800")
    # Scrolled to the end the bar covers nothing: the last dot is above it.
    page.mouse.wheel(0, 3000)
    page.wait_for_function("() => scrollY + innerHeight >= document.documentElement.scrollHeight - 1")
    last_dot = page.locator("#q-dots .qdot").last.bounding_box()
    bar = page.locator(".exam-finish-row").bounding_box()
    assert last_dot["y"] + last_dot["height"] <= bar["y"] + 0.5
    assert on_screen("#btn-finish")
    # The hand-in dialog opens over the bar, its buttons reachable.
    page.get_by_role("button", name="Terminar y entregar el examen").click()
    expect(page.locator("#confirm")).to_be_visible()
    yes = page.locator("#btn-confirm-yes").bounding_box()
    on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y).id",
                           [yes["x"] + yes["width"] / 2, yes["y"] + yes["height"] / 2])
    assert on_top == "btn-confirm-yes"
    page.get_by_role("button", name="Seguir respondiendo").click()
    expect(page.locator("#confirm")).to_be_hidden()
    assert page.errors == []


@pytest.mark.browser
def test_public_pages_reflow_at_320_and_staff_tables_scroll_in_their_own_box(browser, live_server):  # noqa: F811
    # 320 px is a 1280 px screen at 400 % zoom (WCAG 1.4.10).
    page = _new_page(browser, 320, 700)
    for path in ("/login", "/citas", "/citas/consultar", f"/t/{_ticket_id(live_server)}"):
        page.goto(live_server.url + path)
        _assert_fits(page, f"{path} at 320")
    # A staff page with wide tables: the page does not scroll sideways; the report's
    # tables scroll inside their own (focusable) box.
    page = _new_page(browser, 390, 800)
    page.goto(f"{live_server.url}/login?next=/admin/offices/{OFFICE}/report")
    _sign_in(page, "admin")
    page.wait_for_url(f"**/admin/offices/{OFFICE}/report**")
    _assert_fits(page, "the report at 390")
    boxes = page.locator(".table-scroll")
    assert boxes.count() >= 5
    assert all(box.get_attribute("tabindex") == "0" for box in boxes.all())
