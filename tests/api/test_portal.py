"""Citizen portal pages (/citas, /citas/consultar) and the kiosk's «Tengo cita» screen.

The server-rendered HTML is checked in-process here; tests/browser/test_portal_browser.py drives
the pages in headless Chromium against a real server and the real citas API.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from turnero.core import clock
from tests.api.test_pages import page_login


async def booking_rules() -> set[tuple[str, str]]:
    from turnero.scheduler.models import BookingRule

    return set(await BookingRule.filter(active=True).values_list("office__code", "service__code"))


def portal_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="portal-data">(.*?)</script>', html, re.S)
    assert match, "the page carries no portal data"
    return json.loads(match.group(1))


async def test_booking_page_lists_the_bookable_tramites_with_requirements(client):
    response = await client.get("/citas")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="es-BO">' in html
    assert 'name="viewport"' in html
    assert "¿Qué trámite quiere realizar?" in html and "Paso 1 de 5" in html
    services = {s["code"]: s for s in (await client.get("/api/services")).json()}
    offices = (await client.get("/api/offices")).json()
    ruled = await booking_rules()
    offered = {code for o in offices for code in o["services"] if (o["code"], code) in ruled}
    expected = {code for code, s in services.items() if s["bookable"] and code in offered}
    assert expected  # (a bookable trámite is listed once an office has its booking rule)
    listed = set(re.findall(r'data-service="([^"]+)"', html))
    assert listed == expected
    # Walk-in-only trámites and the steps of a visit are not booked online.
    assert {"CERT", "DESCARTE", "CAPTURA", "ENTREGA"}.isdisjoint(listed)
    for code in expected:
        for requirement in services[code]["requirements"]:
            assert requirement in html, requirement
    assert 'href="/citas/consultar"' in html
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "/static/js/portal.js" in html and "/static/css/portal.css" in html


async def test_booking_page_data_names_each_office_with_its_bookable_services_and_today(client):
    data = portal_data((await client.get("/citas")).text)
    assert data["page"] == "book" and data["chosen_service"] is None
    bookable = {s["code"] for s in data["services"]}
    api_offices = {o["code"]: o for o in (await client.get("/api/offices")).json()}
    ruled = await booking_rules()
    for office in data["offices"]:
        source = api_offices[office["code"]]
        assert office["address"] == source["address"] and office["city"] == source["city"]
        assert set(office["services"]) == {c for c in source["services"] if c in bookable and (office["code"], c) in ruled}
        today = datetime.now(timezone.utc).astimezone(ZoneInfo(source["timezone"])).date()
        assert office["today"] in {today.isoformat(), (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()}
    assert {o["code"] for o in data["offices"]} == {
        code for code, o in api_offices.items() if any((code, c) in ruled for c in set(o["services"]) & bookable)
    }


async def test_the_office_date_follows_the_server_clock(client):
    # 02:30 UTC on 1 December is still 30 November in La Paz (UTC-4).
    clock.freeze(datetime(2026, 12, 1, 2, 30, tzinfo=timezone.utc))
    data = portal_data((await client.get("/citas")).text)
    assert {o["today"] for o in data["offices"]} == {"2026-11-30"}


async def test_a_link_may_choose_the_tramite_but_only_a_bookable_one(client):
    assert portal_data((await client.get("/citas?tramite=LIC-RENOV")).text)["chosen_service"] == "LIC-RENOV"
    assert portal_data((await client.get("/citas?tramite=CERT")).text)["chosen_service"] is None
    assert portal_data((await client.get("/citas?tramite=<script>")).text)["chosen_service"] is None


async def test_booking_form_asks_for_the_document_phone_and_party_size(client):
    html = (await client.get("/citas")).text
    for label in ("Nombre completo", "Tipo de documento", "Número", "Complemento", "Expedido en",
                  "Celular", "Personas que harán el trámite", "Categoría de licencia", "Confirmar cita"):
        assert label in html, label
    issued = re.findall(r'<option value="([A-Z]{2})">', html.split('id="f-issued"')[1].split("</select>")[0])
    assert issued == ["LP", "CB", "SC", "OR", "PT", "CH", "TJ", "BE", "PD"]
    assert "+591" in html and 'type="tel"' in html
    assert re.findall(r'<option value="(\d+)">', html.split('id="f-party"')[1].split("</select>")[0]) == [
        str(n) for n in range(1, 11)
    ]
    # Every input has a label that points at it.
    for input_id in re.findall(r'<(?:input|select) id="([^"]+)"', html):
        assert f'<label for="{input_id}"' in html, input_id


async def test_lookup_page_prefills_a_cleaned_code(client):
    response = await client.get("/citas/consultar?codigo=%20ab3k7m9q%20")
    assert response.status_code == 200
    html = response.text
    assert 'value="AB3K7M9Q"' in html
    assert "Consultar, cambiar o cancelar una cita" in html and "Buscar mi cita" in html
    data = portal_data(html)
    assert data["page"] == "manage"
    # A cita may be for any trámite of any office: the page can name them all.
    assert {s["code"] for s in data["services"]} == {s["code"] for s in (await client.get("/api/services")).json()}
    assert response.headers["cache-control"] == "no-store"
    injected = (await client.get('/citas/consultar?codigo="><script>alert(1)</script>')).text
    assert "<script>alert(1)" not in injected


async def test_home_links_to_the_portal(client):
    html = (await client.get("/")).text
    assert 'href="/citas"' in html and 'href="/citas/consultar"' in html


async def test_portal_assets_are_served(client):
    for path in ("/static/js/portal.js", "/static/css/portal.css", "/static/js/kiosk-checkin.js",
                 "/static/css/kiosk-checkin.css"):
        assert (await client.get(path)).status_code == 200, path


async def test_kiosk_offers_the_check_in_of_a_cita(client):
    from turnero.scheduler.policy import CODE_ALPHABET, CODE_LENGTH

    await page_login(client, "kiosko")
    html = (await client.get("/kiosk/LPZ-PRINCIPAL")).text
    assert "Tengo cita" in html and 'data-checkin="start"' in html
    assert "Registre su llegada" in html and "Código de cita" in html and "Número de cédula" in html
    assert f'data-code-alphabet="{CODE_ALPHABET}"' in html and f'data-code-length="{CODE_LENGTH}"' in html
    assert html.index("/static/js/kiosk.js") < html.index("/static/js/kiosk-checkin.js")


async def test_the_qr_link_of_a_cita_opens_its_page_without_the_document(client):
    from turnero.scheduler.views import PORTAL_PATH

    response = await client.get(PORTAL_PATH.format(id="Zx8f3kQ2mN7pLw4R"))
    assert response.status_code == 200
    data = portal_data(response.text)
    assert data["page"] == "manage" and data["cita_id"] == "Zx8f3kQ2mN7pLw4R"
    assert "confirme el número de documento" in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    # The look-up page itself is not mistaken for a cita id.
    assert portal_data((await client.get("/citas/consultar")).text)["cita_id"] is None


async def test_only_offices_with_a_booking_rule_are_offered(client):
    from turnero.scheduler.models import BookingRule

    data = portal_data((await client.get("/citas")).text)
    before = next(o for o in data["offices"] if o["code"] == "LPZ-ZONA-SUR")
    assert "SANEAMIENTO" in before["services"]
    await BookingRule.filter(office__code="LPZ-ZONA-SUR", service__code="SANEAMIENTO").update(active=False)
    data = portal_data((await client.get("/citas")).text)
    after = next(o for o in data["offices"] if o["code"] == "LPZ-ZONA-SUR")
    assert "SANEAMIENTO" not in after["services"] and "CI-RENOV" in after["services"]
