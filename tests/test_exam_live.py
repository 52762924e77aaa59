"""The exam room against a real server process (SQLite and PostgreSQL): many concurrent
check-ins over HTTP never share a seat, and a headless-Chromium run of the proctor's
board and a seat page taking an exam from start to result, with a reload midway."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.conftest import BACKENDS, OUTPUT_DIR, FreshDatabase, LiveServer
from tests.test_pages import browser  # noqa: F401 (the headless Chromium fixture)
from turnero.exam.questions import DEMO_BANK

OFFICE = "LPZ-SEGELIC"
ROOM = "SALA-1"
QUESTIONS = 10


@pytest.fixture(scope="module", params=BACKENDS)
def exam_server(request, tmp_path_factory):
    """`turnero demo` with short exams and a late-arrival grace, so a session that has
    just started can still take check-ins (the browser test cannot move the clock)."""
    directory = tmp_path_factory.mktemp(f"exam-{request.param}")
    database = FreshDatabase(request.param, directory)
    server = LiveServer(database.url, directory / "server.log", extra_env={
        "TURNERO_EXAM_QUESTIONS": str(QUESTIONS), "TURNERO_EXAM_LATE_GRACE_MINUTES": "20",
        "TURNERO_EXAM_MINUTES": "15", "TURNERO_EXAM_CHECKIN_OPENS_MINUTES": "600",
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


def _new_session(server, headers, starts_in: timedelta) -> int:
    start = datetime.now(timezone.utc).replace(microsecond=0) + starts_in
    for shift in range(0, 600, 61):  # a room holds one sitting at a time: the next free hour
        response = httpx.post(
            f"{server.url}/api/exam/offices/{OFFICE}/rooms/{ROOM}/sessions", headers=headers,
            json={"starts_at": (start + timedelta(minutes=shift)).isoformat(), "minutes": 60},
        )
        if response.status_code != 409:
            break
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _candidate(n: int) -> dict:
    document = str(5100000 + n)
    return {"booking": f"CITA{n:04d}", "document": document, "presented_document": document,
            "name": f"Candidata {n}", "category": "P"}


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

    # The proctor creates a session that has just started and checks the candidate in on the board page.
    headers = _token(exam_server, "examinador")
    session = _new_session(exam_server, headers, timedelta(minutes=-1))
    proctor = _page(browser)
    proctor.goto(f"{exam_server.url}/exam/{OFFICE}/sessions/{session}")
    proctor.fill("#username", "examinador")
    proctor.fill("#password", "demo")
    proctor.get_by_role("button", name="Ingresar").click()
    expect(proctor.locator("#seat-map .seat")).to_have_count(20)
    form = proctor.locator("#checkin-form")
    form.locator("[name=booking]").fill("CITA-E2E")
    form.locator("[name=document]").fill("6123456")
    form.locator("[name=name]").fill("María Quispe Mamani")
    form.locator("[name=category]").select_option("P")
    form.locator("[name=presented_document]").fill("6123457")  # the wrong card first
    form.locator("#checkin-btn").click()
    expect(proctor.locator("#message")).to_contain_text("no coincide")
    form.locator("[name=presented_document]").fill("6123456")
    form.locator("#checkin-btn").click()
    expect(proctor.locator("#message")).to_contain_text("computadora 1")
    seat1 = proctor.locator('#seat-map .seat[data-seat="1"]')
    expect(seat1).to_have_attribute("data-state", "assigned")
    expect(seat1).to_contain_text("María Quispe Mamani")
    link = proctor.locator("#detail-link").get_attribute("href")
    assert link.startswith("/exam/seat/")

    # The seat's computer: no login, only its link.
    seat = _page(browser)
    seat.goto(exam_server.url + link)
    expect(seat.locator("#screen-ready")).to_be_visible()
    expect(seat.locator("#ready-name")).to_have_text("María Quispe Mamani")
    expect(seat.locator("#ready-total")).to_have_text(str(QUESTIONS))
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

    # Meanwhile the proctor's board shows the seat in progress.
    expect(seat1).to_have_attribute("data-state", "in_progress", timeout=20000)

    seat.get_by_role("button", name="Terminar y entregar el examen").click()
    expect(seat.locator("#confirm-text")).to_contain_text("¿Entregar el examen?")
    seat.get_by_role("button", name="Sí, entregar").click()
    expect(seat.locator("#screen-result")).to_be_visible()
    expect(seat.locator("#result-verdict")).to_have_text("APROBADO")  # 8 of 10 = 80 %
    expect(seat.locator("#result-score")).to_contain_text(f"8 de {QUESTIONS} respuestas correctas")
    _shot(seat, f"exam-seat-result-{suffix}.png")

    expect(seat1).to_have_attribute("data-state", "finished", timeout=20000)
    expect(proctor.locator("#stats")).to_contain_text("100 %")
    _shot(proctor, f"exam-board-{suffix}.png")
    assert seat.errors == [] and proctor.errors == []


# ---------------------------------------------------------------- concurrency over HTTP


async def _check_in_storm(server, headers, session: int, bodies: list[dict]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits, timeout=60) as client:
        return await asyncio.gather(*(client.post(f"/api/exam/sessions/{session}/checkins", json=b) for b in bodies))


def test_sixty_concurrent_check_ins_fill_twenty_seats_once_each(exam_server):
    headers = _token(exam_server, "examinador")
    session = _new_session(exam_server, headers, timedelta(hours=2))
    responses = asyncio.run(_check_in_storm(exam_server, headers, session, [_candidate(n) for n in range(60)]))
    seated = [r.json() for r in responses if r.status_code == 201]
    assert len(seated) == 20, [r.text for r in responses if r.status_code >= 500][:3]
    assert sorted(a["seat"] for a in seated) == list(range(1, 21))
    others = [r for r in responses if r.status_code != 201]
    assert all(r.status_code == 409 and r.json()["error"]["code"] == "room_full" for r in others)
    board = httpx.get(f"{exam_server.url}/api/exam/sessions/{session}/board", headers=headers).json()
    assert {s["attempt"]["document"] for s in board["seats"]} == {a["document"] for a in seated}
    assert board["stats"]["checked_in"] == 20


def test_concurrent_check_ins_for_one_chosen_seat_give_it_to_one_candidate(exam_server):
    headers = _token(exam_server, "examinador")
    session = _new_session(exam_server, headers, timedelta(hours=4))
    bodies = [{**_candidate(100 + n), "seat": 5} for n in range(25)]
    responses = asyncio.run(_check_in_storm(exam_server, headers, session, bodies))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 24
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"seat_taken"}
