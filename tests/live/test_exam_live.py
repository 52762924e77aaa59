"""The exam room against a real server process (SQLite and PostgreSQL): 100 concurrent
bookings of a 20-seat session through POST /api/appointments take 20 places, concurrent
check-ins over HTTP never share a seat, and a headless-Chromium run of the proctor's
board (live over the office WebSocket) and a seat page taking an exam from booking to
result, with a reload midway."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.conftest import BACKENDS, OUTPUT_DIR, FreshDatabase, LiveServer
from tests.api.test_pages import browser  # noqa: F401 (the headless Chromium fixture)
from turnero.exam.questions import DEMO_BANK

OFFICE = "LPZ-SEGELIC"
ROOM = "SALA-1"
SERVICE = "EXAM-TEORICO"
QUESTIONS = 10


@pytest.fixture(scope="module", params=BACKENDS)
def exam_server(request, tmp_path_factory):
    """`turnero demo` with short exams, check-in open hours ahead (the tests cannot move
    a real server's clock, and bookings need 2 hours' notice), no booking limit, and no
    holiday table (a session three hours from now may fall on a holiday: the test would
    have nothing to book on the day it runs)."""
    directory = tmp_path_factory.mktemp(f"exam-{request.param}")
    database = FreshDatabase(request.param, directory, seeded=True)
    server = LiveServer(database.url, directory / "server.log", extra_env={
        "TURNERO_EXAM_QUESTIONS": str(QUESTIONS), "TURNERO_EXAM_MINUTES": "15",
        "TURNERO_EXAM_CHECKIN_OPENS_MINUTES": "600", "TURNERO_BOOKING_RATE_LIMIT": "100000/minute",
        "TURNERO_HOLIDAYS_COUNTRY": "", "TURNERO_DEPARTMENTAL_HOLIDAYS": "0",
    })
    server.backend = request.param  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        database.drop()


def _token(server, username: str) -> dict:
    response = httpx.post(f"{server.url}/api/auth/token", json={"username": username, "password": "demo"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _new_session(server, headers) -> dict:
    """An extra session about three hours ahead (bookable: 2 h notice), at the next
    time the room is free."""
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(hours=3)
    for shift in range(0, 24 * 60, 50):
        response = httpx.post(
            f"{server.url}/api/exam/offices/{OFFICE}/rooms/{ROOM}/sessions", headers=headers,
            json={"starts_at": (start + timedelta(minutes=shift)).isoformat(), "minutes": 45},
        )
        if response.status_code != 409:
            break
    assert response.status_code == 201, response.text
    return response.json()


def _cita(session: dict, n: int, category: str = "P") -> dict:
    return {"office": OFFICE, "service": SERVICE, "start": session["starts_at"], "category": category,
            "document": {"number": str(5100000 + n)}, "name": f"Candidata {n}", "phone": "71234567"}


# ---------------------------------------------------------------- headless Chromium


def _page(browser, width=1280, height=900):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="es-BO", has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _answer_key() -> dict[str, str]:
    """Question text -> the text of its correct option, from the demo bank file."""
    bank = json.loads(DEMO_BANK.read_text(encoding="utf-8"))["preguntas"]
    return {q["pregunta"]: q["opciones"]["abcde".index(q["respuesta"])] for q in bank}


def _shot(page, name: str) -> None:
    OUTPUT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / name), full_page=True)


@pytest.mark.browser
def test_a_candidate_takes_the_exam_on_a_seat_page_end_to_end(browser, exam_server):
    from playwright.sync_api import expect

    key = _answer_key()
    suffix = exam_server.backend  # type: ignore[attr-defined]

    # The candidate books a place like any cita; the proctor checks her in on the board page.
    headers = _token(exam_server, "examinador")
    session = _new_session(exam_server, headers)
    made = httpx.post(f"{exam_server.url}/api/appointments",
                      json={**_cita(session, 0), "document": {"number": "6123456"}, "name": "María Quispe Mamani"})
    assert made.status_code == 201, made.text
    proctor = _page(browser)
    proctor.on("dialog", lambda dialog: dialog.accept())
    proctor.goto(f"{exam_server.url}/exam/{OFFICE}/sessions/{session['id']}")
    proctor.fill("#username", "examinador")
    proctor.fill("#password", "demo")
    proctor.get_by_role("button", name="Ingresar").click()
    expect(proctor.locator("#seat-map .seat")).to_have_count(20)
    expect(proctor.locator("#expected li")).to_have_count(1)
    proctor.locator("#expected li button").click()  # fills the cita's code
    form = proctor.locator("#checkin-form")
    expect(form.locator("[name=booking]")).to_have_value(made.json()["code"])
    form.locator("[name=presented_document]").fill("6123457")  # the wrong card first
    form.locator("#checkin-btn").click()
    expect(proctor.locator("#message")).to_contain_text("no coincide")
    form.locator("[name=booking]").fill(made.json()["code"])
    form.locator("[name=presented_document]").fill("6123456")
    form.locator("#checkin-btn").click()
    expect(proctor.locator("#message")).to_contain_text("computadora 1")
    seat1 = proctor.locator('#seat-map .seat[data-seat="1"]')
    expect(seat1).to_have_attribute("data-state", "assigned")
    expect(seat1).to_contain_text("María Quispe Mamani")
    expect(proctor.locator("#expected li")).to_have_count(0)
    link = proctor.locator("#detail-link").get_attribute("href")
    assert link.startswith("/exam/seat/")

    # The seat's computer: no login, only its link. It waits for the session to start.
    seat = _page(browser)
    seat.goto(exam_server.url + link)
    expect(seat.locator("#screen-ready")).to_be_visible()
    expect(seat.locator("#ready-name")).to_have_text("María Quispe Mamani")
    expect(seat.locator("#ready-total")).to_have_text(str(QUESTIONS))
    seat.get_by_role("button", name="Comenzar el examen").click()
    expect(seat.locator("#ready-message")).to_contain_text("aún no comenzó")
    proctor.get_by_role("button", name="Iniciar el examen ahora").click()  # everyone expected is seated
    expect(proctor.locator("#checkin-state")).to_contain_text("Examen en curso")
    seat.get_by_role("button", name="Comenzar el examen").click()
    expect(seat.locator("#screen-question")).to_be_visible()
    expect(seat.locator("#timer")).to_be_visible()
    first_timer = seat.locator("#timer-value").inner_text()
    assert first_timer.startswith("14:") or first_timer == "15:00"
    for choice in seat.locator("#q-choices .choice").all():
        box = choice.bounding_box()
        assert box and box["height"] >= 64, "choices must be big touch targets"
    def answer_current(right: bool) -> None:
        text = seat.locator("#q-text").inner_text()
        correct = key[text]
        choices = seat.locator("#q-choices .choice")
        target = None
        for i in range(choices.count()):
            label = choices.nth(i).locator("span").nth(1).inner_text()
            if (label == correct) == right:
                target = choices.nth(i)
                break
        target.tap()
        expect(seat.locator("#save-state")).to_have_text("Respuesta guardada ✓")

    answered_texts = []
    for i in range(4):  # two wrong, two right
        answered_texts.append(seat.locator("#q-text").inner_text())
        answer_current(right=i >= 2)
        seat.get_by_role("button", name="Siguiente ▶").click()
    expect(seat.locator("#q-index")).to_have_text(f"Pregunta 5 de {QUESTIONS}")

    # A reload (or a crash of the browser) loses nothing: same questions, answers, place and clock.
    seat.reload()
    expect(seat.locator("#screen-question")).to_be_visible()
    expect(seat.locator("#q-index")).to_have_text(f"Pregunta 4 de {QUESTIONS}")  # where the last answer was saved
    expect(seat.locator("#q-dots .qdot.done")).to_have_count(4)
    expect(seat.locator("#q-choices .choice.chosen")).to_have_count(1)
    assert seat.locator("#q-text").inner_text() == answered_texts[3]
    seat.locator("#q-dots .qdot").nth(0).click()
    assert seat.locator("#q-text").inner_text() == answered_texts[0]
    seat.locator("#q-dots .qdot").nth(4).click()
    for i in range(4, QUESTIONS):
        answer_current(right=True)
        if i < QUESTIONS - 1:
            seat.get_by_role("button", name="Siguiente ▶").click()
    _shot(seat, f"exam-seat-question-{suffix}.png")

    # Meanwhile the proctor's board shows the seat in progress: pushed over the office's
    # WebSocket (while it is up the board polls only every 15 s, so 8 s means pushed).
    expect(proctor.locator("#live-note")).to_have_text("En vivo.")
    expect(seat1).to_have_attribute("data-state", "in_progress", timeout=8000)

    seat.get_by_role("button", name="Terminar y entregar el examen").click()
    expect(seat.locator("#confirm-text")).to_contain_text("¿Entregar el examen?")
    seat.get_by_role("button", name="Sí, entregar").click()
    expect(seat.locator("#screen-result")).to_be_visible()
    expect(seat.locator("#result-verdict")).to_have_text("APROBADO")  # 8 of 10 = 80 %
    expect(seat.locator("#result-score")).to_contain_text(f"8 de {QUESTIONS} respuestas correctas")
    _shot(seat, f"exam-seat-result-{suffix}.png")

    expect(seat1).to_have_attribute("data-state", "finished", timeout=8000)
    expect(proctor.locator("#stats")).to_contain_text("100 %")
    _shot(proctor, f"exam-board-{suffix}.png")
    assert seat.errors == [] and proctor.errors == []


# ---------------------------------------------------------------- concurrency over HTTP


async def _storm(server, requests: list[tuple[str, dict]], headers: dict | None = None) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(base_url=server.url, headers=headers or {}, limits=limits, timeout=120) as client:
        return await asyncio.gather(*(client.post(path, json=body) for path, body in requests))


def test_a_hundred_concurrent_bookings_of_a_twenty_seat_session_and_concurrent_check_ins(exam_server):
    """100 candidates book one session of 20 computers at once through
    POST /api/appointments: 20 get a place, 80 `slot_full`. Then the 20 are checked in
    concurrently (10 proctor clicks on one chosen seat first): never two on one seat."""
    headers = _token(exam_server, "examinador")
    session = _new_session(exam_server, headers)
    booked = asyncio.run(_storm(exam_server, [("/api/appointments", _cita(session, n)) for n in range(100)]))
    made = [r.json() for r in booked if r.status_code == 201]
    assert len(made) == 20, [r.text for r in booked if r.status_code not in (201, 409)][:3]
    assert {r.json()["error"]["code"] for r in booked if r.status_code != 201} == {"slot_full"}
    board = httpx.get(f"{exam_server.url}/api/exam/sessions/{session['id']}/board", headers=headers).json()
    assert board["places"] == 20 and board["stats"]["booked"] == 20 and len(board["expected"]) == 20

    document = {m["code"]: str(5100000 + int(m["name"].split()[-1])) for m in made}
    codes = list(document)
    path = f"/api/exam/sessions/{session['id']}/checkins"
    first = asyncio.run(_storm(exam_server, [
        (path, {"booking": code, "presented_document": document[code], "seat": 5}) for code in codes[:10]
    ], headers))
    assert sorted(r.status_code for r in first) == [201] + [409] * 9
    assert {r.json()["error"]["code"] for r in first if r.status_code == 409} == {"seat_taken"}
    winner = next(r.json()["booking"] for r in first if r.status_code == 201)
    rest = [code for code in codes if code != winner]
    second = asyncio.run(_storm(exam_server, [
        (path, {"booking": code, "presented_document": document[code]}) for code in rest
    ], headers))
    assert all(r.status_code == 201 for r in second), [r.text for r in second if r.status_code != 201][:3]
    assert sorted(r.json()["seat"] for r in [*second, *(r for r in first if r.status_code == 201)]) == list(range(1, 21))
    board = httpx.get(f"{exam_server.url}/api/exam/sessions/{session['id']}/board", headers=headers).json()
    assert board["stats"]["checked_in"] == 20 and board["stats"]["expected"] == 0
    assert {s["attempt"]["booking"] for s in board["seats"]} == set(codes)
