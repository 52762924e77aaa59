"""Issue 8 in headless Chromium against a real server (`turnero demo`): the kiosk shows
each trámite's estimated wait and proposes a faster nearby office when the line here is
long; the supervisor's balancing view applies a suggested desk move; the lobby board
shows the estimate next to each waiting count."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.api.test_pages import _new_page, _screenshot, _sign_in, _token, browser  # noqa: F401

pytestmark = pytest.mark.browser
OFFICE = "LPZ-PRINCIPAL"


def _post(server, path: str, headers: dict, **body) -> dict:
    response = httpx.post(server.url + path, json=body or None, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_kiosk_board_and_supervisor_balancing(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    supervisor = _token(live_server, "supervisor")
    kiosk_token = _token(live_server, "kiosko")
    for desk in ("3", "9"):  # 3: CI-RENOV first; 9: SANEAMIENTO only
        _post(live_server, f"/api/offices/{OFFICE}/desks/{desk}/open", supervisor)
    _post(live_server, "/api/offices/LPZ-ZONA-SUR/desks/4/open", _token(live_server, "admin"))  # SANEAMIENTO first
    for _ in range(10):
        _post(live_server, f"/api/offices/{OFFICE}/tickets", kiosk_token, service="SANEAMIENTO")

    # The kiosk: the estimate on the card, and the nearby office proposed for SANEAMIENTO.
    kiosk = _new_page(browser)
    kiosk.goto(f"{live_server.url}/kiosk/{OFFICE}")
    _sign_in(kiosk, "kiosko")
    card = kiosk.locator('.service-card[data-service="SANEAMIENTO"]')
    # In the words of every surface (eta-format.js): "Espera estimada: entre 35 y 50 min".
    expect(card.locator(".service-eta")).to_have_text(re.compile(r"^Espera estimada: (≈|entre|hasta) \d"), timeout=10000)
    card.click()
    advice = kiosk.locator("#kiosk-advice")
    expect(advice).to_be_visible(timeout=10000)
    expect(advice).to_contain_text("Zona Sur")
    _screenshot(kiosk, f"kiosk-advice-{live_server.backend}.png")

    # The board: "entre N y M min" (or "≈ N min") beside the waiting count.
    board = _new_page(browser)
    board.goto(f"{live_server.url}/display/{OFFICE}")
    expect(board.locator("#d-waiting li[data-service='SANEAMIENTO'] .d-w-eta")).to_contain_text("min", timeout=10000)

    # The supervisor applies the suggested move; the desk now serves SANEAMIENTO first.
    page = _new_page(browser)
    page.goto(f"{live_server.url}/supervisor/{OFFICE}/balancing")
    _sign_in(page, "supervisor")
    expect(page.locator("h1")).to_have_text("Balanceo de ventanillas")
    button = page.locator('#bal-suggestions button[data-desk="3"][data-service="SANEAMIENTO"]')
    expect(button).to_be_visible()
    _screenshot(page, f"balancing-{live_server.backend}.png")
    expect(page.locator("#bal-desks tbody tr")).to_have_count(24)
    button.click()
    expect(page.locator("#bal-message")).to_contain_text("Ventanilla 3 ahora atiende primero SANEAMIENTO")
    desks = httpx.get(f"{live_server.url}/api/offices/{OFFICE}/desks", headers=supervisor).json()
    assert next(d for d in desks if d["name"] == "3")["service_weights"]["SANEAMIENTO"] == 1
    # The view redrew itself from the API after the move (desks included).
    expect(page.locator("#bal-desks tbody tr")).to_have_count(24)

    # Automatic balancing is the server's: the box turns it on at the threshold shown.
    page.locator("#bal-threshold").fill("35")
    page.locator("#bal-auto").check()
    expect(page.locator("#bal-message")).to_contain_text("Balanceo automático activado: umbral de 35 min")
    view = httpx.get(f"{live_server.url}/api/offices/{OFFICE}/balancing", headers=supervisor).json()
    assert view["auto_threshold_minutes"] == 35
    page.reload()
    expect(page.locator("#bal-auto")).to_be_checked()
    expect(page.locator("#bal-threshold")).to_have_value("35")
    page.locator("#bal-auto").uncheck()
    expect(page.locator("#bal-message")).to_contain_text("Balanceo automático desactivado")
    view = httpx.get(f"{live_server.url}/api/offices/{OFFICE}/balancing", headers=supervisor).json()
    assert view["auto_threshold_minutes"] is None
    for p in (kiosk, board, page):
        assert p.errors == [], p.errors
