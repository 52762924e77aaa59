"""Exam pages as HTML (in-process): who may open them and what they carry. The real
browser run of these pages is in test_exam_live.py."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import login
from turnero.core import clock

OFFICE = "LPZ-SEGELIC"


async def page_login(client, username: str) -> None:
    client.cookies.clear()
    response = await client.post("/login", data={"username": username, "password": "demo", "next": ""})
    assert response.status_code == 303


def boot_data(html: str, element_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert match, element_id
    return json.loads(match.group(1))


# A Tuesday at 09:30 in La Paz: the demo rule's sessions are at 08:00, 10:00 and 14:30.
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=ZoneInfo("America/La_Paz"))


@pytest.fixture(autouse=True)
def _frozen():
    clock.freeze(NOW.astimezone(timezone.utc))


async def _session(client) -> int:
    headers = await login(client, "examinador")
    starts = (NOW + timedelta(hours=2, minutes=30)).isoformat(timespec="seconds")
    response = await client.post(f"/api/exam/offices/{OFFICE}/rooms/SALA-1/sessions",
                                 json={"starts_at": starts}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_rooms_page_lists_the_room_and_todays_sessions(client):
    session = await _session(client)
    assert (await client.get(f"/exam/{OFFICE}")).status_code == 303  # login first
    await page_login(client, "examinador")
    html = (await client.get(f"/exam/{OFFICE}")).text
    assert '<html lang="es-BO">' in html and "Sala de exámenes teóricos" in html
    assert "20 de 20 computadoras en servicio" in html
    assert f'href="/exam/{OFFICE}/sessions/{session}"' in html
    assert "Sesión 12:00–12:45" in html and "Sesión 14:30–15:30" in html  # the extra one and the rule's
    assert boot_data(html, "rooms-data") == {"office": OFFICE, "offset": "-04:00"}


async def test_board_page_is_for_staff_of_the_office(client):
    session = await _session(client)
    await page_login(client, "supervisor")  # another office
    assert (await client.get(f"/exam/{OFFICE}/sessions/{session}")).status_code == 403
    await page_login(client, "examinador")
    response = await client.get(f"/exam/{OFFICE}/sessions/{session}")
    assert response.status_code == 200
    boot = boot_data(response.text, "board-data")
    assert boot["session"] == session and len(boot["board"]["seats"]) == 20
    assert "Registrar llegada" in response.text and "Documento que presenta" in response.text
    assert "Por llegar" in response.text and "Iniciar el examen ahora" in response.text
    missing = await client.get(f"/exam/{OFFICE}/sessions/999999")
    assert missing.status_code == 404 and "No existe esa sesión" in missing.text


async def test_seat_page_needs_only_its_link_and_shows_no_answers(client):
    session = await _session(client)
    headers = await login(client, "examinador")
    board = (await client.get(f"/api/exam/sessions/{session}/board", headers=headers)).json()
    token = board["seats"][0]["token"]
    client.cookies.clear()
    response = await client.get(f"/exam/seat/{token}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "Computadora <strong>1</strong>" in response.text
    assert boot_data(response.text, "seat-data")["state"]["attempt"] is None
    bad = await client.get("/exam/seat/no-es-un-enlace")
    assert bad.status_code == 404 and "no es válido" in bad.text
