"""Administration rough edges a newcomer meets: a save says it saved, the audit log shows
the office's local time and Spanish field names, validation messages name fields in
Spanish, reports show service names."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import httpx
import pytest

from tests.conftest import assert_error, login
from tests.api.test_admin_pages import page_login
from tests.api.test_pages import _new_page, _sign_in, browser  # noqa: F401  (fixture)
from turnero.core import clock

OFFICE = "LPZ-PRINCIPAL"


# ---------------------------------------------------------------- audit log


async def test_audit_log_shows_la_paz_time_and_spanish_field_names(client):
    admin = await login(client, "admin")
    # 14:05 UTC is 10:05 in La Paz (UTC−4, no daylight saving).
    clock.freeze(datetime(2026, 11, 24, 14, 5, tzinfo=timezone.utc))
    response = await client.patch(f"/api/admin/offices/{OFFICE}", headers=admin,
                                  json={"address": "Av. Camacho 1485", "city": "La Paz (centro)"})
    assert response.status_code == 200, response.text

    await page_login(client, "admin")
    for path in ("/admin/audit", f"/admin/offices/{OFFICE}"):
        page = (await client.get(path)).text
        table = page[page.index('<table class="admin-table audit">'):]
        assert ">24/11/2026 10:05</time>" in table, path
        assert 'datetime="2026-11-24T14:05:00+00:00"' in table  # the exact instant stays readable by machines
        assert "14:05" not in re.sub(r'datetime="[^"]*"', "", table)
        assert ">dirección</span>" in table and ">ciudad</span>" in table
        assert "<code>address</code>" not in table and ">address<" not in table
    assert "hora UTC" not in (await client.get("/admin/audit")).text


async def test_a_change_to_no_office_is_shown_in_the_default_time_zone(client):
    admin = await login(client, "admin")
    clock.freeze(datetime(2026, 11, 24, 2, 30, tzinfo=timezone.utc))  # 22:30 the day before in La Paz
    response = await client.patch("/api/admin/services/CERT", headers=admin, json={"name": "Certificado de datos"})
    assert response.status_code == 200, response.text
    await page_login(client, "admin")
    page = (await client.get("/admin/audit")).text
    assert ">23/11/2026 22:30</time>" in page
    assert ">nombre</span>" in page


async def test_a_closed_day_reads_as_spanish_in_the_audit_log(client):
    supervisor = await login(client, "supervisor")
    clock.freeze(datetime(2026, 11, 24, 14, 5, tzinfo=timezone.utc))
    response = await client.post(f"/api/offices/{OFFICE}/closures", headers=supervisor,
                                 json={"date": "2026-12-02", "reason": "Inventario"})
    assert response.status_code in (200, 201), response.text
    await page_login(client, "supervisor")
    page = (await client.get("/admin/audit")).text
    assert "cerró el día <strong>LPZ-PRINCIPAL/2026-12-02</strong>" in page
    assert "closure.create" not in page


# ---------------------------------------------------------------- validation messages


async def test_validation_messages_name_fields_in_spanish(client):
    admin = await login(client, "admin")
    error = assert_error(await client.patch(f"/api/admin/offices/{OFFICE}", headers=admin,
                                            json={"timezone": "Marte/Olympus"}), 422)
    assert error["message"].startswith("Datos inválidos — zona horaria (timezone): "), error
    error = assert_error(await client.post("/api/admin/users", headers=admin,
                                           json={"username": "nuevo", "password": "corta", "role": "operator",
                                                 "office": OFFICE}), 422)
    assert "contraseña (password)" in error["message"], error
    error = assert_error(await client.patch(f"/api/admin/offices/{OFFICE}", headers=admin,
                                            json={"opening_hours": {"mon": [["x"]]}}), 422)
    assert "horario de atención (opening_hours)" in error["message"], error


def test_a_field_without_a_spanish_name_keeps_its_key():
    from pydantic import BaseModel, ValidationError

    from turnero.core.http import describe_validation_error

    class Odd(BaseModel):
        flux_capacitor: int
        city: str

    with pytest.raises(ValidationError) as caught:
        Odd.model_validate({"flux_capacitor": "x", "city": 3})
    message = describe_validation_error(caught.value)
    assert "flux_capacitor: " in message and "ciudad (city): " in message


# ---------------------------------------------------------------- reports


async def test_report_tables_show_service_names_with_the_code_small(client):
    kiosk = await login(client, "kiosko")
    clock.freeze(datetime(2026, 11, 24, 13, 0, tzinfo=timezone.utc))
    for code in ("CERT", "CI-RENOV"):
        response = await client.post(f"/api/offices/{OFFICE}/tickets", headers=kiosk, json={"service": code})
        assert response.status_code == 201, response.text
    names = {s["code"]: s["name"] for s in (await client.get("/api/services")).json()}

    await page_login(client, "supervisor")
    page = (await client.get(f"/admin/offices/{OFFICE}/report?from=2026-11-24&to=2026-11-24")).text
    by_hour = page[page.index('id="by-hour"'):page.index("</table>", page.index('id="by-hour"'))]
    for code in ("CERT", "CI-RENOV"):
        assert f'<td>{names[code]} <small class="muted code">{code}</small></td>' in by_hour
        assert f"<td>{code}</td>" not in page


# ---------------------------------------------------------------- saving says so (a real browser)


@pytest.mark.browser
def test_saving_an_office_says_changes_were_saved(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    base = live_server.url
    page = _new_page(browser)
    page.goto(base + f"/login?next=/admin/offices/{OFFICE}")
    _sign_in(page, "admin")
    expect(page).to_have_url(base + f"/admin/offices/{OFFICE}")
    expect(page.locator(".form-saved")).to_have_count(0)

    address = f"Av. Camacho 1485 ({live_server.backend})"
    form = page.locator("#office-form")
    form.get_by_label("Dirección", exact=True).fill(address)
    form.get_by_role("button", name="Guardar cambios").click()
    saved = form.locator(".form-saved")
    expect(saved).to_have_text("Cambios guardados")
    expect(saved).to_have_attribute("role", "status")
    expect(form.get_by_label("Dirección", exact=True)).to_have_value(address)  # the reloaded page
    expect(page.locator(".audit")).to_contain_text("dirección")

    # A refused save says why, and nothing about saving.
    form.get_by_label("Zona horaria", exact=True).fill("Marte/Olympus")
    form.get_by_role("button", name="Guardar cambios").click()
    expect(form.locator(".form-error")).to_contain_text("zona horaria")

    # Said once: another visit of the page does not repeat it.
    page.reload()
    expect(page.locator("#office-form")).to_be_visible()
    expect(page.locator(".form-saved")).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]

    office = httpx.get(base + "/api/offices").json()
    assert next(o for o in office if o["code"] == OFFICE)["address"] == address
