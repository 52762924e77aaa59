"""Printed tickets: the 80 mm HTML page (with its QR code) and the ESC/POS stream."""

from __future__ import annotations

import re
from datetime import datetime
from types import SimpleNamespace

import segno

from tests.conftest import login
from tests.driver import issue as issue_as
from turnero.core import wait_words
from turnero.kiosk.printing import ESCPOS_COLUMNS, Slip, citizen_url, escpos_bytes
from turnero.settings import Settings

OFFICE = "LPZ-PRINCIPAL"
ESC_INIT = b"\x1b@"
CUT = b"\x1dV"  # GS V: paper cut
NATIVE_QR = b"\x1d(k"  # GS ( k: the printer's own QR code function
DOUBLE_SIZE = b"\x1b!\x30"  # ESC ! with double height and double width


async def issue(client, service="CI-RENOV", **fields) -> dict:
    return await issue_as(client, await login(client, "kiosko"), service, OFFICE, **fields)


async def sign_in(client, username: str) -> None:
    client.cookies.clear()
    response = await client.post("/login", data={"username": username, "password": "demo"})
    assert response.status_code == 303


def local_issued(ticket: dict) -> str:
    # issued_at is already in the office's zone (-04:00); the slip prints it as is.
    return datetime.fromisoformat(ticket["issued_at"]).strftime("%d/%m/%Y %H:%M")


def qr_svg(url: str) -> str:
    return segno.make(url, error="m").svg_inline(scale=4, omitsize=True, title="Código QR de su turno")


# ---------------------------------------------------------------- HTML print page


async def test_print_page_has_the_number_and_a_qr_code_of_the_citizen_page(client):
    ticket = await issue(client, priority="senior")
    await sign_in(client, "kiosko")
    response = await client.get(f"/kiosk/ticket/{ticket['id']}/print")
    assert response.status_code == 200
    html = response.text
    url = f"http://testserver/t/{ticket['id']}"
    assert f'<div class="slip-number">{ticket["number"]}</div>' in html
    assert "Renovación de cédula de identidad" in html
    assert "Atención preferencial: Adulto mayor" in html
    assert f"Emitido: {local_issued(ticket)}" in html
    assert f"Lugar en la fila: <b>{ticket['position']}</b>" in html
    assert url in html
    # The inline SVG is exactly the QR code of the citizen page's URL.
    assert qr_svg(url) in html
    assert "/static/css/print.css" in html


async def test_multi_step_ticket_prints_the_tramite_and_its_first_step(client):
    ticket = await issue(client, service="CI-NUEVO")
    await sign_in(client, "kiosko")
    html = (await client.get(f"/kiosk/ticket/{ticket['id']}/print")).text
    assert "Cédula de identidad — primera vez" in html
    assert "Primer paso: Revisión de requisitos (descarte)" in html
    assert "Atención preferencial" not in html


async def test_slip_fragment_is_only_the_ticket(client):
    ticket = await issue(client)
    await sign_in(client, "operador1")
    response = await client.get(f"/kiosk/ticket/{ticket['id']}/slip")
    assert response.status_code == 200
    assert response.text.lstrip().startswith("<div class=\"slip\">")
    assert "<html" not in response.text and ticket["number"] in response.text


async def test_print_pages_need_staff_of_the_ticket_office(client):
    ticket = await issue(client)
    for path in ("print", "slip", "escpos"):
        client.cookies.clear()
        response = await client.get(f"/kiosk/ticket/{ticket['id']}/{path}")
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next=/kiosk/ticket/{ticket['id']}/{path}"
    await sign_in(client, "pantalla")
    assert (await client.get(f"/kiosk/ticket/{ticket['id']}/print")).status_code == 403
    await sign_in(client, "kiosko")
    missing = await client.get("/kiosk/ticket/no-such-ticket/print")
    assert missing.status_code == 404 and "No existe ese turno." in missing.text
    assert (await client.get("/kiosk/ticket/no-such-ticket/escpos")).status_code == 404


def test_printed_links_use_the_public_url_when_configured():
    def request(public_url: str):
        settings = Settings(public_url=public_url)
        return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(settings=settings)),
                               base_url="http://10.0.0.5:8000/")

    assert citizen_url(request(""), "abc123") == "http://10.0.0.5:8000/t/abc123"
    assert citizen_url(request("https://turnos.segip.gob.bo"), "abc123") == "https://turnos.segip.gob.bo/t/abc123"


# ---------------------------------------------------------------- ESC/POS


async def test_escpos_stream_of_a_ticket(client):
    ticket = await issue(client, priority="disability")
    await sign_in(client, "kiosko")
    response = await client.get(f"/kiosk/ticket/{ticket['id']}/escpos")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    data = response.content
    assert data.startswith(ESC_INIT)
    number = ticket["number"].encode()
    assert DOUBLE_SIZE in data and data.index(DOUBLE_SIZE) < data.index(number)
    assert b"SEGIP" in data  # header with the institution and office
    assert b"Atenci\xa2n preferencial:\nPersona con discapacidad\n" in data  # CP437 accents
    assert f"Emitido: {local_issued(ticket)}".encode() in data
    assert f"Lugar en la fila: {ticket['position']}".encode() in data
    # The ticket's estimate with its range (the server's default predicts waits).
    assert ticket["estimated_wait_low_minutes"] < ticket["estimated_wait_high_minutes"]
    words = wait_words.span(ticket["estimated_wait_low_minutes"], ticket["estimated_wait_high_minutes"])
    assert re.search(rb"Espera estimada:[ \n]" + re.escape(words.encode("cp437")) + rb"( \(abre \d\d:\d\d\))?\n", data)
    assert NATIVE_QR in data and f"http://testserver/t/{ticket['id']}".encode() in data
    assert CUT in data[-4:]  # the cut is the last command


def _slip(**changes) -> Slip:
    base = dict(
        institution="SEGIP", office_name="SEGIP La Paz — Oficina Principal", number="C-023",
        tramite="Renovación de cédula de identidad", first_step=None, priority="regular",
        priority_label=None, issued_local="23/11/2026 08:15", position=4, estimated_wait_minutes=12,
        url="https://turnos.example/t/AbCdEfGhIjKlMnOp",
    )
    base.update(changes)
    return Slip(**base)


def test_escpos_regular_ticket_has_no_priority_line_and_wraps_long_lines():
    long_name = "Saneamiento de datos del registro de identidad con documentos respaldatorios adicionales"
    data = escpos_bytes(_slip(tramite=long_name))
    assert data.startswith(ESC_INIT) and b"C-023" in data and CUT in data
    assert b"preferencial" not in data
    assert "Espera estimada: ≈ 12 min\n".encode("cp437") in data  # no range: the figure alone
    assert b"https://turnos.example/t/AbCdEfGhIjKlMnOp" in data
    assert "—".encode() not in data  # thermal code pages have no em dash
    # The long trámite is wrapped to lines that fit a 42-column roll.
    lines = [re.sub(rb"\x1b[a!Et].", b"", line) for line in data.split(b"\n")]
    name_lines = [line for line in lines if line and line in long_name.encode()]
    assert len(name_lines) >= 3
    assert b" ".join(name_lines) == long_name.encode()
    assert all(len(line) <= ESCPOS_COLUMNS for line in name_lines)


def test_escpos_says_the_wait_in_the_words_of_every_surface():
    # The range learnt from the estimate's errors, as on the kiosk's screen and the ticket page.
    slip = _slip(estimated_wait_minutes=40, estimated_wait_low_minutes=35, estimated_wait_high_minutes=50)
    assert slip.wait == "entre 35 y 50 min" == wait_words.wait_text(40, low=35, high=50)
    assert b"Espera estimada: entre 35 y 50 min\n" in escpos_bytes(slip)
    # Rounded for reading, in hours from two hours; wrapped to the roll like any line.
    data = escpos_bytes(_slip(estimated_wait_minutes=130, estimated_wait_low_minutes=100,
                              estimated_wait_high_minutes=157))
    assert b"Espera estimada:\nentre 1 h 40 min y 2 h 40 min\n" in data  # too long for one line
    # A slip does not see the desks: a 0 is never "Sin espera" there.
    assert "Espera estimada: ≈ 0 min\n".encode("cp437") in escpos_bytes(_slip(estimated_wait_minutes=0))
    # The same words on the 80 mm HTML slip.
    from turnero.core.templating import templates

    html = templates.env.get_template("kiosk/_slip.html").render(slip=slip)
    assert '<b data-eta-minutes="40">entre 35 y 50 min</b>' in html


def test_escpos_without_position_once_the_ticket_left_the_queue():
    data = escpos_bytes(_slip(position=None, estimated_wait_minutes=None, first_step="Captura biométrica"))
    assert b"Lugar en la fila" not in data and b"Espera estimada" not in data
    assert b"Primer paso: Captura biom" in data
