"""The lobby display page in headless Chromium against a real server: a call made
through the API is on the screen within a second, announced in Spanish (queued), a
recall is announced again, waiting counts follow; a screenshot is saved."""

from __future__ import annotations

import time

import pytest

from tests.api.test_pages import _api, _new_page, _screenshot, _token, browser  # noqa: F401 (fixture)

OFFICE = "LPZ-PRINCIPAL"
pytestmark = pytest.mark.browser


def _hero_is(page, number: str, timeout_ms: float) -> None:
    page.wait_for_function(
        "n => document.getElementById('d-hero-ticket').textContent === n", arg=number, timeout=timeout_ms
    )


def _spoken(page) -> list[str]:
    return page.evaluate("window.TurneroDisplay.spoken.slice()")


def test_display_shows_and_announces_a_call_within_a_second(browser, live_server):  # noqa: F811
    admin, kiosk = _token(live_server, "admin"), _token(live_server, "kiosko")
    _api(live_server, "POST", f"/api/offices/{OFFICE}/desks/18/open", admin)
    page = _new_page(browser, 1920, 1080)
    page.goto(f"{live_server.url}/display/{OFFICE}")
    page.wait_for_function("() => document.body.dataset.live === 'live'", timeout=10000)
    assert page.locator("#d-conn").is_hidden()

    ticket = _api(live_server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk, service="CI-RENOV")
    started = time.monotonic()
    called = _api(live_server, "POST", f"/api/offices/{OFFICE}/desks/18/call-next", admin)
    answered = time.monotonic()
    _hero_is(page, called["number"], 1000)
    shown = time.monotonic()
    assert shown - answered < 1.0, f"on screen {shown - answered:.3f} s after the call answered"
    assert called["number"] == ticket["number"] or called["status"] == "called"
    assert page.locator("#d-hero-desk").inner_text() == "Ventanilla 18"
    assert "flash" in page.locator("#d-hero").get_attribute("class")
    assert page.locator("#d-hero-service").inner_text()

    number = called["number"]
    prefix, digits = number.split("-")
    page.wait_for_function("n => window.TurneroDisplay.spoken.length >= n", arg=1, timeout=3000)
    spoken = _spoken(page)
    expected = page.evaluate("t => window.TurneroDisplay.speakable(t)", number)
    assert spoken[-1] == f"Turno {expected}, ventanilla dieciocho."
    assert expected.startswith(page.evaluate("p => window.TurneroDisplay.speakable(p)", prefix) + " guion ")

    # A second call and a recall: queued behind the first, none cut off, the recall said again.
    _api(live_server, "POST", f"/api/tickets/{called['id']}/recall", admin)
    page.wait_for_function("() => document.getElementById('d-hero-label').textContent === 'Llamando nuevamente'",
                           timeout=2000)
    page.wait_for_function("n => window.TurneroDisplay.spoken.length >= n", arg=2, timeout=15000)
    assert _spoken(page)[1] == f"Llamado nuevamente: turno {expected}, ventanilla dieciocho."

    # Waiting counts per trámite follow the queue.
    before = int(page.locator("#d-waiting li[data-service='SANEAMIENTO'] .d-w-count").inner_text())
    for _ in range(2):
        _api(live_server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk, service="SANEAMIENTO")
    page.wait_for_function(
        "n => document.querySelector(\"#d-waiting li[data-service='SANEAMIENTO'] .d-w-count\").textContent === String(n)",
        arg=before + 2, timeout=2000,
    )
    assert "ventanillas abiertas" in page.locator("#d-open").inner_text()

    _api(live_server, "POST", f"/api/tickets/{called['id']}/finish", admin)
    assert page.locator("#d-clock").inner_text()
    _screenshot(page, f"display-{live_server.backend}.png")
    assert page.errors == []
    assert started  # (kept for the timing message above)


def test_numbers_and_desks_are_read_as_spanish_words(browser, live_server):  # noqa: F811
    if live_server.backend != "sqlite":
        pytest.skip("page logic only: run once")
    page = _new_page(browser)
    page.goto(f"{live_server.url}/display/{OFFICE}")
    say = lambda text: page.evaluate("t => window.TurneroDisplay.speakable(t)", text)  # noqa: E731
    assert say("C-023") == "ce guion cero veintitrés"
    assert say("C-100") == "ce guion cien"
    assert say("CI-005") == "ce i guion cero cero cinco"
    assert say("A-1234") == "a guion mil doscientos treinta y cuatro"
    assert say("L-071") == "ele guion cero setenta y uno"
    assert say("21") == "veintiuno" and say("5") == "cinco"
    text = page.evaluate("() => window.TurneroDisplay.announcementText({ticket: 'C-023', desk: '5'}, false)")
    assert text == "Turno ce guion cero veintitrés, ventanilla cinco."
    assert page.errors == []


def test_display_keeps_its_state_through_an_outage_and_catches_up(browser, live_server):  # noqa: F811
    """The board's socket is cut (Playwright stands between page and server): the screen
    keeps the last call with a discreet badge, reconnects by itself, resnapshots, shows
    and announces the call made meanwhile."""
    if live_server.backend != "sqlite":
        pytest.skip("page behaviour: run once (the channel's backends are covered by test_displays)")
    admin, kiosk = _token(live_server, "admin"), _token(live_server, "kiosko")
    _api(live_server, "POST", f"/api/offices/{OFFICE}/desks/22/open", admin)
    state = {"blocked": False, "routes": []}

    def through(ws):
        if state["blocked"]:
            ws.close(code=4000, reason="corte simulado")
            return
        ws.connect_to_server()
        state["routes"].append(ws)

    page = _new_page(browser, 1920, 1080)
    page.route_web_socket("**/ws/offices/**", through)
    page.goto(f"{live_server.url}/display/{OFFICE}")
    page.wait_for_function("() => document.body.dataset.live === 'live'", timeout=10000)

    def call() -> dict:
        _api(live_server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk, service="CIE")
        return _api(live_server, "POST", f"/api/offices/{OFFICE}/desks/22/call-next", admin)

    first = call()
    _hero_is(page, first["number"], 2000)

    state["blocked"] = True
    for ws in state["routes"]:
        ws.close(code=4000, reason="corte simulado")
    page.wait_for_function("() => !document.getElementById('d-conn').hidden", timeout=8000)
    assert page.locator("#d-hero-ticket").inner_text() == first["number"]  # last state kept, not blank
    _api(live_server, "POST", f"/api/tickets/{first['id']}/finish", admin)
    second = call()
    page.wait_for_timeout(500)
    # Still the last call, or already the new one: while its socket is down the page
    # re-reads the board over HTTP (pollWhileDown) and may catch up before reconnecting.
    assert page.locator("#d-hero-ticket").inner_text() in (first["number"], second["number"])
    _screenshot(page, f"display-reconnecting-{live_server.backend}.png")

    state["blocked"] = False
    _hero_is(page, second["number"], 20000)  # reconnected (backoff) and resnapshotted, or polled
    # Back live: at the end of the backoff, or at the next board poll (every 15 s while the
    # socket is down; a poll that succeeds reconnects at once). The hero may already have
    # come by a poll while the socket was still refused, so this waits for the socket itself.
    page.wait_for_function("() => document.getElementById('d-conn').hidden", timeout=20000)
    page.wait_for_function("t => window.TurneroDisplay.spoken.some(s => s.includes(t))",
                           arg=page.evaluate("t => window.TurneroDisplay.speakable(t)", second["number"]),
                           timeout=15000)
    _api(live_server, "POST", f"/api/tickets/{second['id']}/finish", admin)
    assert page.errors == []


def test_ticket_page_kiosk_and_console_follow_the_same_live_channel(browser, live_server):  # noqa: F811
    """The citizen's ticket page (position, estimated wait, the called alert), the kiosk's
    and the desk console's waiting counts all move with the office's live channel, not
    with their slow fallback polls (the console's board re-read is blocked here)."""
    if live_server.backend != "sqlite":
        pytest.skip("page behaviour: run once (the channel's backends are covered by test_displays)")
    from playwright.sync_api import expect

    from tests.api.test_pages import _sign_in

    admin, kiosk_token = _token(live_server, "admin"), _token(live_server, "kiosko")
    service, desk = "CERT", "10"  # no other test of this module uses them

    kiosk = _new_page(browser)
    kiosk.goto(f"{live_server.url}/kiosk/{OFFICE}")
    _sign_in(kiosk, "kiosko")
    kiosk_count = kiosk.locator(f"[data-waiting-for='{service}']")
    expect(kiosk_count).to_be_visible(timeout=10000)

    console = _new_page(browser)
    console.goto(f"{live_server.url}/desk/{OFFICE}/{desk}")
    _sign_in(console, "operador10")
    name = _api(live_server, "GET", f"/api/offices/{OFFICE}/board", admin)["services"][service]
    console_count = console.locator("#waiting-mine li", has_text=name).locator(".w-count")
    expect(console_count).not_to_have_text("…", timeout=10000)
    console.route("**/api/offices/*/board", lambda route: route.abort())  # live channel only from now on

    def counts_become(n: int) -> float:
        started = time.monotonic()
        kiosk.wait_for_function(
            "([c, n]) => { const el = document.querySelector(`[data-waiting-for='${c}']`);"
            " return (n === 0 ? 'Nadie en espera' : n === 1 ? '1 persona en espera' : n + ' personas en espera')"
            " === el.textContent; }", arg=[service, n], timeout=2000)
        expect(console_count).to_have_text(str(n), timeout=2000)
        return time.monotonic() - started

    before = int(_api(live_server, "GET", f"/api/offices/{OFFICE}/board", admin)["waiting"][service])
    ahead = _api(live_server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk_token, service=service)
    mine = _api(live_server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk_token, service=service)
    assert counts_become(before + 2) < 1.5

    citizen = _new_page(browser, width=412, height=915)  # a phone
    citizen.goto(f"{live_server.url}/t/{mine['id']}")
    citizen.wait_for_function("() => document.body.dataset.live === 'live'", timeout=10000)
    position = int(citizen.locator("#c-position").inner_text())
    assert position >= 2 and citizen.locator("#c-wait").inner_text()
    expect(citizen.locator("#c-alert")).to_be_hidden()

    # The ticket ahead is called: the line moves, the page says so by itself (it spreads
    # its re-reads over up to 3 s; its own poll would take 60 s).
    _api(live_server, "POST", f"/api/offices/{OFFICE}/desks/{desk}/open", admin)
    first = _api(live_server, "POST", f"/api/offices/{OFFICE}/desks/{desk}/call", admin, ticket=ahead["number"])
    expect(citizen.locator("#c-position")).to_have_text(str(position - 1), timeout=5000)
    assert counts_become(before + 1) < 1.5

    # Its own call: the alert with the desk, within a second.
    _api(live_server, "POST", f"/api/tickets/{first['id']}/finish", admin)
    called = _api(live_server, "POST", f"/api/offices/{OFFICE}/desks/{desk}/call", admin, ticket=mine["number"])
    answered = time.monotonic()
    alert = citizen.get_by_role("alert").filter(has_text="¡Es su turno!")
    expect(alert).to_be_visible(timeout=1000)
    assert time.monotonic() - answered < 1.0
    expect(alert).to_contain_text(f"Diríjase a la ventanilla {desk}")
    expect(citizen.locator("#c-status")).to_have_text("Llamado")
    assert counts_become(before) < 1.5
    _screenshot(citizen, f"ticket-live-{live_server.backend}.png")
    _screenshot(console, f"desk-live-{live_server.backend}.png")
    _api(live_server, "POST", f"/api/tickets/{called['id']}/finish", admin)
    for page in (kiosk, console, citizen):
        assert page.errors == [], page.errors


def test_display_announces_the_calls_it_missed_after_a_silent_channel(browser, tmp_path):  # noqa: F811
    """The channel goes silent without closing (what a screen saw during a Redis outage:
    the socket open, nothing on it) and the board's HTTP reads fail too: the page notices
    within two ping intervals, shows its badge, tries HTTP and reconnects; when the
    channel and the board answer again it announces every call made meanwhile, oldest
    first, each with its highlight on the hero."""
    from tests.conftest import FreshDatabase, LiveServer

    database = FreshDatabase("sqlite", tmp_path, seeded=True)
    server = LiveServer(database.url, tmp_path / "server.log", extra_env={
        "TURNERO_WS_PING_SECONDS": "1", "TURNERO_ACCESS_LOG": "0", "TURNERO_SHUTDOWN_TIMEOUT": "2"})
    try:
        admin, kiosk = _token(server, "admin"), _token(server, "kiosko")
        _api(server, "POST", f"/api/offices/{OFFICE}/desks/22/open", admin)
        state = {"silent": False, "board_reads": 0}

        def through(ws):
            upstream = ws.connect_to_server()
            upstream.on_message(lambda message: None if state["silent"] else ws.send(message))

        def board(route):
            if state["silent"]:
                state["board_reads"] += 1
                route.abort()
            else:
                route.continue_()

        page = _new_page(browser, 1920, 1080)
        page.route_web_socket("**/ws/offices/**", through)
        page.route("**/api/offices/*/board", board)
        page.goto(f"{server.url}/display/{OFFICE}")
        page.wait_for_function("() => document.body.dataset.live === 'live'", timeout=10000)
        current: dict = {}

        def call() -> dict:
            if current:
                _api(server, "POST", f"/api/tickets/{current['id']}/finish", admin)
            _api(server, "POST", f"/api/offices/{OFFICE}/tickets", kiosk, service="CIE")
            current.update(_api(server, "POST", f"/api/offices/{OFFICE}/desks/22/call-next", admin))
            return dict(current)

        first = call()
        _hero_is(page, first["number"], 2000)
        page.wait_for_function("() => window.TurneroDisplay.spoken.length >= 1", timeout=5000)

        state["silent"] = True
        silenced = time.monotonic()
        page.wait_for_function("() => document.body.dataset.live !== 'live'", timeout=5000)
        noticed = time.monotonic() - silenced
        assert noticed < 3.5, f"silence noticed after {noticed:.1f} s (ping 1 s)"
        missed = [call() for _ in range(3)]
        page.wait_for_function("() => !document.getElementById('d-conn').hidden", timeout=5000)
        page.wait_for_timeout(3500)
        assert state["board_reads"] >= 1  # it fell back to reading the board over HTTP
        assert page.locator("#d-hero-ticket").inner_text() == first["number"]  # nothing came through

        state["silent"] = False
        texts = [page.evaluate("c => window.TurneroDisplay.announcementText(c, false)",
                               {"ticket": c["number"], "desk": "22"}) for c in missed]
        page.wait_for_function("ts => ts.every(t => window.TurneroDisplay.spoken.includes(t))",
                               arg=texts, timeout=60000)
        spoken = _spoken(page)
        assert [spoken.index(t) for t in texts] == sorted(spoken.index(t) for t in texts)  # oldest first
        highlighted = page.evaluate("window.TurneroDisplay.highlighted.slice()")
        assert [h for h in highlighted if h in {c["number"] for c in missed}] == [c["number"] for c in missed]
        page.wait_for_function("() => document.body.dataset.live === 'live'", timeout=30000)
        _hero_is(page, missed[-1]["number"], 15000)
        assert page.errors == []
    finally:
        server.stop()


def test_a_socket_whose_snapshot_was_lost_asks_again_and_goes_live(browser, tmp_path):  # noqa: F811
    """The first message of a new socket (the snapshot) is lost on the way: the socket
    stays open and the server's pings keep it alive, so nothing closes it. The page must
    notice at a ping that it still has no snapshot, ask for one and go live — in the
    field a screen otherwise sat 'sin conexión' for good behind a proxy that had dropped
    one frame (and a browser test did, after a silent channel)."""
    from tests.conftest import FreshDatabase, LiveServer

    database = FreshDatabase("sqlite", tmp_path, seeded=True)
    server = LiveServer(database.url, tmp_path / "server.log", extra_env={
        "TURNERO_WS_PING_SECONDS": "1", "TURNERO_ACCESS_LOG": "0", "TURNERO_SHUTDOWN_TIMEOUT": "2"})
    try:
        dropped: list[str] = []

        def through(ws):
            upstream = ws.connect_to_server()

            def relay(message):
                if not dropped:
                    dropped.append(message)  # the snapshot never reaches the page
                else:
                    ws.send(message)
            upstream.on_message(relay)

        page = _new_page(browser, 1920, 1080)
        page.route_web_socket("**/ws/offices/**", through)
        page.route("**/api/offices/*/board", lambda route: route.abort())  # no HTTP rescue either
        page.goto(f"{server.url}/display/{OFFICE}")
        page.wait_for_function("() => document.body.dataset.live === 'live'", timeout=10000)
        assert '"snapshot"' in dropped[0]
        assert page.evaluate("() => window.TurneroDisplay.spoken.length") == 0
        assert page.errors == []
    finally:
        server.stop()
