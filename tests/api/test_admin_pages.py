"""Administration pages: access rules on the server-rendered HTML, the command line
(config export/import, user commands) in real processes, and a headless-Chromium run that
creates a service, an office offering it and a desk, then finds it on the kiosk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import FreshDatabase
from tests.api.test_pages import _new_page, _screenshot, _sign_in, browser  # noqa: F401  (fixture)

OFFICE = "LPZ-PRINCIPAL"


async def page_login(client: httpx.AsyncClient, username: str) -> None:
    client.cookies.clear()
    response = await client.post("/login", data={"username": username, "password": "demo", "next": ""})
    assert response.status_code == 303, response.text


# ---------------------------------------------------------------- server-rendered pages


async def test_admin_pages_need_a_manager(client):
    response = await client.get("/admin")
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/admin"
    await page_login(client, "operador1")
    assert (await client.get("/admin")).status_code == 403


async def test_admin_overview_lists_every_office_and_the_new_office_form(client):
    await page_login(client, "admin")
    page = await client.get("/admin")
    assert page.status_code == 200 and '<html lang="es-BO">' in page.text
    for code in (OFFICE, "LPZ-ZONA-SUR", "LPZ-SEGELIC"):
        assert f'href="/admin/offices/{code}"' in page.text
    assert 'id="new-office"' in page.text and 'href="/admin/services"' in page.text
    office = await client.get(f"/admin/offices/{OFFICE}")
    assert office.status_code == 200
    assert 'id="new-desk"' in office.text and 'name="hours.mon" value="07:30-16:00"' in office.text
    assert (await client.get("/admin/offices/NO-EXISTE")).status_code == 404
    for path in ("/admin/services", "/admin/users", "/admin/audit"):
        assert (await client.get(path)).status_code == 200, path


async def test_a_supervisor_sees_only_their_office_and_no_service_admin(client):
    await page_login(client, "supervisor")
    page = (await client.get("/admin")).text
    assert f'href="/admin/offices/{OFFICE}"' in page and "/admin/offices/LPZ-ZONA-SUR" not in page
    assert 'id="new-office"' not in page
    assert (await client.get("/admin/offices/LPZ-ZONA-SUR")).status_code == 403
    assert (await client.get("/admin/services")).status_code == 403
    users = (await client.get("/admin/users")).text
    assert "operador1" in users and ">admin<" not in users
    assert '<option value="admin">' not in users and '<option value="supervisor">' not in users


async def test_the_calendar_page_shows_rules_closed_days_and_exam_rooms_and_its_forms_work(client):
    """/admin/offices/{office}/calendar: each bookable service's booking rule with a form
    for the citas API, the closed days ahead (holidays and closures) with a form to close
    a day, and the exam rooms; what the forms send is applied and shown on reload."""
    from datetime import datetime, timezone

    from turnero.core import clock

    clock.freeze(datetime(2026, 11, 30, 14, 0, tzinfo=timezone.utc))  # Monday 10:00 in La Paz
    await page_login(client, "supervisor")  # of LPZ-PRINCIPAL
    assert (await client.get("/admin/offices/LPZ-ZONA-SUR/calendar")).status_code == 403
    assert (await client.get("/admin/offices/NO-EXISTE/calendar")).status_code == 404
    office = await client.get(f"/admin/offices/{OFFICE}")
    assert f'href="/admin/offices/{OFFICE}/calendar"' in office.text

    page = await client.get(f"/admin/offices/{OFFICE}/calendar")
    assert page.status_code == 200 and '<html lang="es-BO">' in page.text
    assert 'data-service="CI-NUEVO"' in page.text and "<td>20 min</td>" in page.text  # the demo's CI-NUEVO rule
    assert f'data-method="PUT" data-url="/api/offices/{OFFICE}/booking-rules"' in page.text
    assert 'id="rule-CI-RENOV"' in page.text and 'id="new-closure"' in page.text
    assert "<td>2026-12-25</td>" in page.text  # Navidad, from the holiday table
    assert "Esta oficina no tiene salas de examen." in page.text

    # What the forms send (admin.js: JSON with the session cookie).
    rule = {"service": "CI-RENOV", "slot_minutes": 25, "capacity": 4, "window_days": 45,
            "min_notice_minutes": 30, "release_time": None, "cancel_cutoff_minutes": 60, "active": True}
    response = await client.put(f"/api/offices/{OFFICE}/booking-rules", json=rule)
    assert response.status_code == 200, response.text
    response = await client.post(f"/api/offices/{OFFICE}/closures", json={"date": "2026-12-16", "reason": "Inventario"})
    assert response.status_code == 201, response.text
    bad = await client.put(f"/api/offices/{OFFICE}/booking-rules", json={**rule, "slot_minutes": 2})
    assert bad.status_code == 422 and bad.json()["error"]["message"]

    page = (await client.get(f"/admin/offices/{OFFICE}/calendar")).text
    row = page.split('data-service="CI-RENOV"', 1)[1].split("</tr>", 1)[0]
    assert all(f"<td>{text}</td>" in row for text in ("25 min", "4", "45 días", "siempre abierta", "60 min antes"))
    assert "<tr><td>2026-12-16</td><td>Inventario</td></tr>" in page
    assert 'name="capacity" type="number" min="0" max="500" data-type="number" data-nullable\n             value="4"' in page

    # An empty «Cupos» field sends null (admin.js): back to one place per desk.
    response = await client.put(f"/api/offices/{OFFICE}/booking-rules", json={**rule, "capacity": None})
    assert response.status_code == 200 and response.json()["capacity_from_desks"] is True
    per_desk = response.json()["capacity"]
    from turnero.core.models import Office, Service
    from turnero.scheduler.rules import default_capacity
    assert per_desk == await default_capacity(await Office.get(code=OFFICE), await Service.get(code="CI-RENOV"))
    page = (await client.get(f"/admin/offices/{OFFICE}/calendar")).text
    row = page.split('data-service="CI-RENOV"', 1)[1].split("</tr>", 1)[0]
    assert f'<td>{per_desk} <span class="muted">(uno por ventanilla)</span></td>' in row
    form = page.split('id="rule-CI-RENOV"', 1)[1].split("</form>", 1)[0]
    assert 'value=""' in form.split('name="capacity"', 1)[1].split(">", 1)[0]

    await page_login(client, "admin")
    exam = (await client.get("/admin/offices/LPZ-SEGELIC/calendar")).text
    assert 'data-room="' in exam and " de 20</td>" in exam  # the demo's room of 20 computers
    assert 'data-service="LIC-NUEVA"' in exam


# ---------------------------------------------------------------- command line


def _turnero(database_url: str, cwd: Path, *args: str, input_text: str | None = None) -> subprocess.CompletedProcess:
    """`python -m turnero …` in a real process."""
    env = {**os.environ, "TURNERO_DATABASE_URL": database_url, "TURNERO_RUN_JOBS": "0"}
    return subprocess.run([sys.executable, "-m", "turnero", *args], env=env, cwd=str(cwd), capture_output=True,
                          text=True, timeout=120, input=input_text)


def _turnero_here(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The same command run by turnero.cli's own parser and functions in this process
    (what `main` does after setting up logging): a second each less than a new Python
    process importing the whole app. Exit status and messages as the process gives them."""
    import contextlib
    import io

    from turnero.cli import build_parser
    from tests.driver import app_settings

    settings = app_settings(database_url=database_url)
    out, err = io.StringIO(), io.StringIO()
    code = 0
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            parsed = build_parser().parse_args(list(args))
            parsed.func(parsed, settings)
    except SystemExit as exc:  # as the interpreter turns it into a status and a message
        if isinstance(exc.code, str):
            code = 1
            err.write(exc.code + "\n")
        else:
            code = exc.code or 0
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(["turnero", *args], code, out.getvalue(), err.getvalue())


def test_config_export_and_import_round_trip_through_the_command_line(tmp_path: Path):
    # The source: a copy of the seeded template (the demo configuration, as `turnero
    # demo` loads it); the target: a new, empty database.
    source = FreshDatabase("sqlite", tmp_path / "a", seeded=True)
    target = FreshDatabase("sqlite", tmp_path / "b")

    # The entry point in a real process; the other commands in this one (_turnero_here).
    exported = _turnero(source.url, tmp_path, "config", "export", "-o", "config.yaml")
    assert exported.returncode == 0, exported.stderr
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert {o["code"] for o in config["offices"]} >= {OFFICE, "LPZ-ZONA-SUR"}
    principal = next(o for o in config["offices"] if o["code"] == OFFICE)
    assert {"name": "5", "services": {"CERT": 2, "CI-RENOV": 1}} in principal["desks"]
    assert all("password" not in str(u) for u in config["users"])

    imported = _turnero_here(target.url, tmp_path, "config", "import", "config.yaml")
    assert imported.returncode == 0, imported.stderr
    assert "0 actualizados" in imported.stdout
    again = _turnero_here(target.url, tmp_path, "config", "export")
    assert json.loads(again.stdout) == config  # the same configuration, read back from the new database

    # Re-importing changes nothing; an edited file updates only what differs.
    principal["opening_hours"]["sat"] = [["09:00", "12:00"]]
    (tmp_path / "edited.json").write_text(json.dumps(config))
    result = _turnero_here(target.url, tmp_path, "config", "import", "edited.json")
    assert result.returncode == 0 and " 1 actualizados" in result.stdout, result.stdout

    # Users come without passwords: they cannot sign in until one is set.
    listing = _turnero_here(target.url, tmp_path, "user", "list", "--role", "kiosk")
    assert "kiosko" in listing.stdout and "operador1" not in listing.stdout
    changed = _turnero_here(target.url, tmp_path, "user", "set-password", "kiosko", "--password", "clave-nueva-1")
    assert changed.returncode == 0, changed.stderr

    # A file with one bad entry changes nothing, and says why in Spanish.
    config["offices"].append({**principal, "code": "NUEVA-OFICINA", "timezone": "Marte/Base"})
    (tmp_path / "bad.json").write_text(json.dumps(config))
    bad = _turnero_here(target.url, tmp_path, "config", "import", "bad.json")
    assert bad.returncode != 0 and "zona horaria desconocida" in bad.stderr
    config["offices"][-1]["timezone"] = "America/La_Paz"
    config["offices"][-1]["desks"] = [{"name": "1", "services": {"NO-OFRECIDO": 1}}]
    (tmp_path / "bad.json").write_text(json.dumps(config))
    bad = _turnero_here(target.url, tmp_path, "config", "import", "bad.json")
    assert bad.returncode != 0 and "NO-OFRECIDO" in bad.stderr
    after = json.loads(_turnero_here(target.url, tmp_path, "config", "export").stdout)
    assert "NUEVA-OFICINA" not in {o["code"] for o in after["offices"]}  # the whole import rolled back


# ---------------------------------------------------------------- headless Chromium


@pytest.mark.browser
def test_admin_creates_an_office_with_a_service_and_a_desk_and_the_kiosk_offers_it(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    base = live_server.url
    suffix = live_server.backend.upper()[:2]  # the module's server is shared: unique codes per backend
    service_code, office_code = f"CERT-NAC-{suffix}", f"ORU-CENTRAL-{suffix}"
    page = _new_page(browser)
    page.goto(base + "/login?next=/admin")
    _sign_in(page, "admin")
    expect(page).to_have_url(base + "/admin")

    # A new service, with its requirements.
    page.get_by_role("link", name="Trámites").click()
    form = page.locator("#new-service")
    form.get_by_label("Código", exact=True).fill(service_code)
    form.get_by_label("Nombre", exact=True).fill("Certificado de nacimiento")
    form.get_by_label("Prefijo del número de turno (1 a 3 letras)", exact=True).fill("K")
    form.get_by_label("Requisitos (uno por línea)", exact=True).fill("Cédula de identidad vigente\nComprobante de pago")
    form.get_by_role("button", name="Crear trámite").click()
    expect(page.locator("#services")).to_contain_text(service_code)

    # A new office offering it; a wrong opening time is refused with a Spanish message first.
    page.get_by_role("link", name="Oficinas").click()
    form = page.locator("#new-office")
    form.get_by_label("Código", exact=True).fill(office_code)
    form.get_by_label("Nombre", exact=True).fill("SEGIP Oruro — Central")
    form.get_by_label("Departamento", exact=True).select_option("Oruro")
    form.get_by_label("Ciudad", exact=True).fill("Oruro")
    form.get_by_label("Lunes", exact=True).fill("16:00-07:30")
    form.get_by_label(f"Certificado de nacimiento ({service_code})", exact=True).check()
    form.get_by_role("button", name="Crear oficina").click()
    expect(form.locator(".form-error")).to_contain_text("la apertura 16:00 debe ser anterior al cierre 07:30")
    form.get_by_label("Lunes", exact=True).fill("07:30-16:00")
    form.get_by_label("Martes", exact=True).fill("07:30-12:00, 14:00-18:00")
    form.get_by_role("button", name="Crear oficina").click()
    expect(page).to_have_url(base + f"/admin/offices/{office_code}")

    # A desk serving the service.
    desk_form = page.locator("#new-desk")
    desk_form.get_by_label("Nombre o número", exact=True).fill("1")
    desk_form.get_by_label(f"Certificado de nacimiento ({service_code})", exact=True).fill("1")
    desk_form.get_by_role("button", name="Crear ventanilla").click()
    expect(page.locator("#desks")).to_contain_text(f"{service_code} · 1")
    expect(page.locator(".audit")).to_contain_text("creó la ventanilla")
    _screenshot(page, f"admin-office-{live_server.backend}.png")

    # The kiosk of the new office offers the service.
    page.goto(base + f"/kiosk/{office_code}")
    expect(page.locator(f'.service-card[data-service="{service_code}"]')).to_contain_text("Certificado de nacimiento")
    assert page.errors == []  # type: ignore[attr-defined]

    # The API reference renders offline from the package's Swagger UI files, admin routes included.
    page.goto(base + "/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/admin/offices/{office}/desks").first).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]

    offices = {o["code"]: o for o in httpx.get(base + "/api/offices").json()}
    assert offices[office_code]["opening_hours"]["tue"] == [["07:30", "12:00"], ["14:00", "18:00"]]
    assert offices[office_code]["services"] == [service_code]
