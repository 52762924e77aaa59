"""Issue 18 at the kiosk, in headless Chromium against a real server: a citizen who cannot
see the screen takes a ticket by keyboard alone in audio mode (the words spoken are
recorded by wrapping speechSynthesis.speak); the focus follows each step; the ticket is
announced in the live region; the ticket screen stays until «Listo», warns before it
closes and any touch or key extends it (longer when printing failed); an abandoned
choice warns before going back to the start."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.api.test_pages import _new_page, _screenshot, _sign_in, browser  # noqa: F401
# The portal tests' server: check-in opened wide, so a cita booked now can be checked in.
from tests.browser.test_portal_browser import availability, book_api, live_server, new_document  # noqa: F401

pytestmark = pytest.mark.browser
OFFICE = "LPZ-PRINCIPAL"

# Record what is spoken (headless Chromium has no voice) and what is printed.
RECORD = """
window.__spoken = [];
window.print = () => { window.__printed = true; };
if (window.speechSynthesis) {
  const speak = window.speechSynthesis.speak.bind(window.speechSynthesis);
  window.speechSynthesis.speak = (u) => { window.__spoken.push(u.text); try { speak(u); } catch (e) {} };
}
"""


def _kiosk(browser, live_server, clock: bool = False):  # noqa: F811
    page = _new_page(browser)
    page.add_init_script(RECORD)
    if clock:
        page.clock.install()
    page.goto(f"{live_server.url}/login?next=/kiosk/{OFFICE}")
    _sign_in(page, "kiosko")
    page.wait_for_url(f"{live_server.url}/kiosk/{OFFICE}")
    page.wait_for_load_state("load")
    return page


def _focused(page) -> dict:
    return page.evaluate("""() => { const e = document.activeElement;
        return { tag: e.tagName, id: e.id, text: (e.innerText || '').trim(), service: e.dataset.service || '',
                 action: e.dataset.action || '', priority: e.dataset.priority || '' }; }""")


def _arrow_to(page, test, limit: int = 40) -> dict:
    for _ in range(limit):
        page.keyboard.press("ArrowDown")
        now = _focused(page)
        if test(now):
            return now
    raise AssertionError(f"not reached with the arrows: last {now}")


def _spoken(page) -> list[str]:
    return page.evaluate("window.__spoken")


def test_a_ticket_by_keyboard_alone_in_audio_mode(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    page = _kiosk(browser, live_server)
    # On arrival the focus is on the first step's heading, not the page's body.
    assert _focused(page)["id"] == "h-service"
    assert page.get_by_role("button", name="Modo accesible").get_attribute("aria-pressed") == "false"

    # Any key (here an arrow of a headphone-jack keypad) starts audio mode on the first option.
    page.keyboard.press("ArrowDown")
    expect(page.locator("#audio-mode")).to_have_attribute("aria-pressed", "true")
    assert "Tengo cita" in _focused(page)["text"]
    page.wait_for_function("() => window.__spoken.some((t) => t.startsWith('Modo accesible activado'))")
    assert any("Elija su trámite" in t for t in _spoken(page))
    assert any(t.startswith("Tengo cita") for t in _spoken(page))

    # The arrows move between the trámites, each one read aloud.
    _arrow_to(page, lambda f: f["service"] == "CI-RENOV")
    assert _spoken(page)[-1].startswith("Renovación de cédula")
    # The focus ring shows, in two tones (dark inside, amber outside), over the card's shadow.
    ring = page.evaluate("() => getComputedStyle(document.activeElement).boxShadow")
    assert "rgb(17, 20, 24)" in ring and "rgb(255, 191, 71)" in ring, ring
    page.keyboard.press("ArrowUp")
    assert _focused(page)["service"] != "CI-RENOV"
    page.keyboard.press("ArrowDown")
    assert _focused(page)["service"] == "CI-RENOV"
    page.keyboard.press("Enter")

    # Step 2: the choice is announced, the focus is on its first option, and it is spoken.
    expect(page.get_by_role("heading", name="¿Necesita atención preferencial?")).to_be_visible()
    expect(page.locator("#kiosk-live")).to_have_text("Trámite elegido: Renovación de cédula de identidad.")
    assert _focused(page)["priority"] == "regular"
    page.wait_for_function("() => window.__spoken.some((t) => t.includes('¿Necesita atención preferencial?'))")
    assert _spoken(page)[-1] == "No, atención general"
    page.keyboard.press("Escape")  # Escape goes back a step…
    expect(page.get_by_role("heading", name="Elija su trámite")).to_be_visible()
    assert _focused(page)["text"].startswith("Tengo cita")  # (audio mode: the first option)
    _arrow_to(page, lambda f: f["service"] == "CI-RENOV")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="¿Necesita atención preferencial?")).to_be_visible()
    assert _focused(page)["priority"] == "regular"
    page.keyboard.press("End")  # Home/End: the last option («‹ Volver»)…
    assert _focused(page)["action"] == "back"
    page.keyboard.press("Home")  # …and the first: the step's heading
    assert _focused(page)["id"] == "h-priority"
    page.keyboard.press("ArrowDown")
    assert _focused(page)["priority"] == "regular"
    page.keyboard.press("Enter")

    # Step 3: «Omitir» first; the number typed on the keyboard, read back digit by digit.
    expect(page.get_by_role("heading", name=re.compile("aviso por SMS"))).to_be_visible()
    assert _focused(page)["action"] == "skip-phone"
    page.keyboard.type("71234567")
    expect(page.locator("#phone-display")).to_have_text("7123 4567")
    assert _spoken(page)[-1] == "7 1 2 3 4 5 6 7"
    for _ in range(5):
        page.keyboard.press("ArrowRight")
        if _focused(page)["action"] == "phone-ok":
            break
    assert _focused(page)["action"] == "phone-ok"
    page.keyboard.press("Enter")

    # The ticket: focus on its heading, the number in the live region and spoken letter by letter.
    number = page.locator("#t-number")
    expect(number).to_have_text(re.compile(r"^[A-Z]+-\d{3}$"))
    text = number.inner_text()
    assert _focused(page)["id"] == "t-heading"
    expect(page.locator("#kiosk-live")).to_contain_text(f"Su turno es {text}")
    spelled = ", ".join(text.replace("-", ""))
    page.wait_for_function("(s) => window.__spoken.some((t) => t.includes(s))", arg=f"Su turno es {text}: {spelled}.")
    page.wait_for_function("() => window.__printed === true")

    # The ticket was issued, with the phone typed.
    ticket_id = page.locator("#print-area .slip-url").inner_text().rsplit("/t/", 1)[1]
    ticket = httpx.get(f"{live_server.url}/api/tickets/{ticket_id}").json()
    assert ticket["number"] == text and ticket["service"] == "CI-RENOV" and ticket["status"] == "waiting"

    # «Listo» by keyboard: the next citizen starts on the first step, without audio mode.
    page.keyboard.press("ArrowDown")
    assert _focused(page)["action"] == "done"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Elija su trámite")).to_be_visible()
    assert _focused(page)["id"] == "h-service"
    expect(page.locator("#audio-mode")).to_have_attribute("aria-pressed", "false")
    assert page.errors == []


def test_the_modo_accesible_button_and_a_qr_readers_burst(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    page = _kiosk(browser, live_server)
    # A QR reader types fast: that is not a citizen asking for audio mode.
    page.keyboard.type("ZZZZZZZZ", delay=5)
    page.wait_for_timeout(600)
    expect(page.locator("#audio-mode")).to_have_attribute("aria-pressed", "false")
    assert _spoken(page) == []
    page.get_by_role("button", name="Modo accesible").click()
    expect(page.locator("#audio-mode")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => window.__spoken.some((t) => t.startsWith('Modo accesible activado'))")
    assert "Tengo cita" in _focused(page)["text"]
    # Tab reaches the next option, which is read aloud too.
    page.keyboard.press("Tab")
    assert _focused(page)["service"]
    page.wait_for_function("(n) => window.__spoken.at(-1).startsWith(n)", arg=_focused(page)["text"].split("\n")[0])
    page.get_by_role("button", name="Modo accesible").click()
    expect(page.locator("#audio-mode")).to_have_attribute("aria-pressed", "false")
    assert page.errors == []


def _take_ticket_by_touch(page):
    from playwright.sync_api import expect

    page.locator('.service-card[data-service="CI-RENOV"]').click()
    expect(page.get_by_role("heading", name="¿Necesita atención preferencial?")).to_be_visible()
    assert _focused(page)["id"] == "h-priority"  # after each tap the focus goes to the step
    page.get_by_role("button", name="No, atención general").click()
    expect(page.get_by_role("heading", name=re.compile("aviso por SMS"))).to_be_visible()
    assert _focused(page)["id"] == "h-phone"
    page.get_by_role("button", name="Omitir").click()
    expect(page.locator("#t-number")).to_have_text(re.compile(r"^[A-Z]+-\d{3}$"))
    assert _focused(page)["id"] == "t-heading"
    expect(page.locator("#kiosk-live")).to_contain_text("Su turno es " + page.locator("#t-number").inner_text())


def test_the_ticket_stays_warns_and_is_extended_by_a_touch_or_a_key(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    page = _kiosk(browser, live_server, clock=True)
    _take_ticket_by_touch(page)
    page.wait_for_function("() => window.__printed === true")
    ticket = page.locator("#step-ticket")
    warning = page.locator("#timeout-warn")

    page.clock.run_for(35_000)  # long past the old 10 s: still there, no warning yet
    expect(ticket).to_be_visible()
    expect(warning).to_be_hidden()
    page.clock.run_for(7_000)  # the last 20 s: warned, on screen and in the live region
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(re.compile(r"Esta pantalla se cerrará en 1\d s"))
    expect(page.locator("#kiosk-live")).to_contain_text("Esta pantalla se cerrará en")
    _screenshot(page, "kiosk-ticket-warning.png")
    page.get_by_role("button", name="Tocar para seguir viendo").click()
    expect(warning).to_be_hidden()
    assert _focused(page)["tag"] != "BODY"

    page.clock.run_for(50_000)  # the time started again at the touch
    expect(ticket).to_be_visible()
    expect(warning).to_be_visible()
    page.keyboard.press("Shift")  # a key (a switch) extends it as well
    expect(warning).to_be_hidden()
    page.clock.run_for(50_000)
    expect(ticket).to_be_visible()

    page.clock.run_for(11_000)  # nobody: the screen is ready for the next citizen
    expect(page.get_by_role("heading", name="Elija su trámite")).to_be_visible()
    expect(warning).to_be_hidden()
    assert _focused(page)["id"] == "h-service"
    assert page.errors == []


def test_when_printing_fails_the_ticket_stays_longer(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    page = _kiosk(browser, live_server, clock=True)
    page.route(re.compile(r"/kiosk/ticket/.+/slip$"), lambda route: route.fulfill(status=500, body="x"))
    _take_ticket_by_touch(page)
    number = page.locator("#t-number").inner_text()
    expect(page.locator("#t-print-msg")).to_have_text(f"No se pudo imprimir el ticket: anote su número {number}.")
    expect(page.locator("#kiosk-live")).to_contain_text(f"anote su número {number}")
    page.clock.run_for(90_000)  # far longer than a printed ticket's 60 s
    expect(page.locator("#step-ticket")).to_be_visible()
    expect(page.locator("#timeout-warn")).to_be_hidden()
    page.clock.run_for(12_000)
    expect(page.locator("#timeout-warn")).to_be_visible()
    page.clock.run_for(20_000)
    expect(page.get_by_role("heading", name="Elija su trámite")).to_be_visible()
    assert page.evaluate("window.__printed === undefined")


def test_an_abandoned_choice_warns_before_going_back_to_the_start(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    page = _kiosk(browser, live_server, clock=True)
    page.locator('.service-card[data-service="CI-RENOV"]').click()
    heading = page.get_by_role("heading", name="¿Necesita atención preferencial?")
    expect(heading).to_be_visible()
    warning = page.locator("#timeout-warn")
    page.clock.run_for(42_000)
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(re.compile(r"Esta pantalla volverá al inicio en 1\d s"))
    expect(page.get_by_role("button", name="Tocar para continuar")).to_be_visible()
    expect(page.locator("#kiosk-live")).to_contain_text("volverá al inicio")
    page.keyboard.press("Shift")  # any key restarts the time
    expect(warning).to_be_hidden()
    page.clock.run_for(42_000)
    expect(heading).to_be_visible()
    page.mouse.click(5, 400)  # so does a touch anywhere
    expect(warning).to_be_hidden()
    page.clock.run_for(61_000)
    expect(page.get_by_role("heading", name="Elija su trámite")).to_be_visible()
    assert _focused(page)["id"] == "h-service"
    assert page.errors == []


def test_a_cita_checked_in_by_keyboard_alone_in_audio_mode(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    document = new_document()
    slot = next(s for s in availability(live_server, OFFICE, "CI-RENOV") if s["available"] > 0)
    booked = book_api(live_server, OFFICE, "CI-RENOV", slot["start"], document)
    assert booked.status_code == 201, booked.text
    code = booked.json()["code"]

    page = _kiosk(browser, live_server)
    page.keyboard.press("Tab")  # audio mode; the focus on «Tengo cita»
    expect(page.locator("#audio-mode")).to_have_attribute("aria-pressed", "true")
    assert "Tengo cita" in _focused(page)["text"]
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Registre su llegada")).to_be_visible()
    assert _focused(page)["text"] == "Código de cita"
    # A wrong number first (by cédula): refused, and the refusal is spoken.
    page.keyboard.press("ArrowDown")
    assert _focused(page)["text"] == "Número de cédula"
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__spoken.at(-1).startsWith('Número de cédula, seleccionado. Escriba su número de cédula')")
    page.keyboard.type("12345", delay=90)  # at a person's pace, read back digit by digit
    expect(page.locator("#checkin-display")).to_have_text("12345")
    page.wait_for_function("() => window.__spoken.at(-1) === '1 2 3 4 5'")
    for _ in range(40):
        page.keyboard.press("ArrowDown")
        if page.evaluate("() => document.activeElement.dataset.checkin") == "submit":
            break
    page.keyboard.press("Enter")
    expect(page.locator("#checkin-error")).to_contain_text("No encontramos una cita")
    page.wait_for_function("() => window.__spoken.some((t) => t.includes('No encontramos una cita'))")
    assert _focused(page)["text"] == "Código de cita"
    # The cita's code, typed; Backspace erases.
    page.keyboard.press("Enter")
    expect(page.locator("#checkin-display")).to_have_text("Código")
    page.keyboard.type(code.lower(), delay=90)
    expect(page.locator("#checkin-display")).to_have_text(code[:4] + " " + code[4:])
    page.wait_for_function("(s) => window.__spoken.at(-1) === s", arg=" ".join(code))
    page.keyboard.press("Backspace")
    expect(page.locator("#checkin-display")).to_have_text(code[:4] + " " + code[4:-1])
    page.keyboard.type(code[-1], delay=90)
    expect(page.locator("#checkin-display")).to_have_text(code[:4] + " " + code[4:])
    for _ in range(40):
        page.keyboard.press("ArrowDown")
        if page.evaluate("() => document.activeElement.dataset.checkin") == "submit":
            break
    assert page.evaluate("() => document.activeElement.textContent") == "Registrar llegada"
    page.keyboard.press("Enter")

    number = page.locator("#t-number")
    expect(number).to_have_text(re.compile(r"^[A-Z]+-\d{3}$"))
    text = number.inner_text()
    assert _focused(page)["id"] == "t-heading"
    # Announced with the cita's line, once the kiosk knows it is a cita.
    expect(page.locator("#kiosk-live")).to_contain_text(f"Su turno es {text}")
    expect(page.locator("#kiosk-live")).to_contain_text(f"Cita {code}: se le llama a su hora")
    page.wait_for_function("(s) => window.__spoken.some((t) => t.includes(s))", arg=f"Cita {code}: se le llama a su hora")
    cita = httpx.get(f"{live_server.url}/api/appointments/{code}", params={"document": document}).json()
    assert cita["status"] == "checked_in"
    assert page.errors == []
