"""The licence path after the theory exam (issue 20): the medical evaluation and the
practical driving test as bookable steps, the practical only after a passed theory exam,
the examiner's results (auth, validation, audit) and the retake rules; the demo bank's
size per category."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import assert_error, login
from turnero.core import clock
from turnero.core.models import Office, Service
from turnero.exam import licence_path
from turnero.exam.licence_path import PathRules, PracticalResult
from turnero.exam.models import AttemptStatus, ExamAttempt, ExamRoom, ExamSession, LicenceResult
from turnero.exam.policy import CATEGORIES, ExamConfig
from turnero.scheduler.models import Appointment, AppointmentEvent, AppointmentStatus, Slot
from tests.driver import app_settings
from turnero.settings import Settings

ZONE = ZoneInfo("America/La_Paz")
OFFICE = "LPZ-SEGELIC"
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=ZONE)  # a Monday, 10:00 in La Paz
DOC = "4785123"
UTC = timezone.utc


def local(d, hh=8, mm=0, month=12) -> datetime:
    return datetime(2026, month, d, hh, mm, tzinfo=ZONE)


@pytest.fixture
def settings(database) -> Settings:
    return app_settings(database_url=database.url, booking_rate_limit="1000/minute")


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW.astimezone(UTC))
    yield


def booking(start: datetime, service: str = licence_path.PRACTICAL, number: str = DOC, **extra) -> dict:
    body = {"office": OFFICE, "service": service, "start": start.isoformat(),
            "document": {"number": number, "issued_in": "LP"}, "name": "Juana Mamani", "phone": "71234567"}
    if service == licence_path.PRACTICAL:
        body["category"] = "P"
    return {**body, **extra}


async def book(client, start, **kw):
    return await client.post("/api/appointments", json=booking(start, **kw))


async def theory_pass(finished_at: datetime, document: str = DOC, category: str = "P", passed: bool = True) -> None:
    """A scored theory-exam attempt of the demo exam room (as the seat's submit leaves it)."""
    office = await Office.get(code=OFFICE)
    service = await Service.get(code="EXAM-TEORICO")
    room = await ExamRoom.filter(office_id=office.id).order_by("code").first()
    start = finished_at - timedelta(minutes=40 + await Slot.filter(service_id=service.id).count())  # one per slot
    slot = await Slot.create(office_id=office.id, service_id=service.id, start=start, end=start + timedelta(minutes=45),
                             day=clock.local_day(start, office.timezone), capacity=20, booked=1)
    session = await ExamSession.create(room_id=room.id, slot_id=slot.id, starts_at=slot.start, ends_at=slot.end,
                                       created_at=start)
    appt = await Appointment.create(
        public_id=f"theory{slot.id:010d}", code=f"TH{slot.id:06d}", office_id=office.id, service_id=service.id,
        slot_id=slot.id, start=slot.start, end=slot.end, status=AppointmentStatus.DONE, document_number=document,
        document_key=f"ci:{document}", name="Juana Mamani", category=category, created_at=start,
    )
    await ExamAttempt.create(
        public_id=f"att{slot.id:010d}", session_id=session.id, appointment_id=appt.id, document=document,
        name="Juana Mamani", category=category, status=AttemptStatus.FINISHED, seed=1, checked_in_at=start,
        finished_at=finished_at, correct_count=18 if passed else 10, total=20, passed=passed,
    )


# ---------------------------------------------------------------- the pure rules

RULES = PathRules()
T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def test_practical_needs_a_passed_theory_exam_valid_on_the_day():
    verdict = licence_path.practical_verdict([], [], T0 + timedelta(days=5), T0, RULES)
    assert (verdict.allowed, verdict.code) == (False, "theory_exam_required")
    assert licence_path.practical_verdict([T0], [], T0 + timedelta(days=90), T0, RULES).allowed
    late = licence_path.practical_verdict([T0], [], T0 + timedelta(days=90, minutes=1), T0, RULES)
    assert (late.allowed, late.code) == (False, "theory_exam_required") and "90 días" in late.message
    # A pass recorded after `now` does not count (no booking on a future result).
    assert not licence_path.practical_verdict([T0 + timedelta(days=1)], [], T0 + timedelta(days=5), T0, RULES).allowed


def test_retake_waits_after_a_failed_practical_and_attempts_are_limited_per_theory_pass():
    failed = [PracticalResult(T0 + timedelta(days=3), False)]
    now = T0 + timedelta(days=3, hours=1)
    early = licence_path.practical_verdict([T0], failed, T0 + timedelta(days=9), now, RULES)
    assert (early.allowed, early.code, early.not_before) == (False, "retake_too_soon", T0 + timedelta(days=10))
    assert licence_path.practical_verdict([T0], failed, T0 + timedelta(days=10), now, RULES).allowed
    three = [PracticalResult(T0 + timedelta(days=d), False) for d in (3, 10, 17)]
    used = licence_path.practical_verdict([T0], three, T0 + timedelta(days=30), T0 + timedelta(days=18), RULES)
    assert (used.allowed, used.code) == (False, "practical_attempts_exhausted")
    # A new theory pass starts a new series of practicals.
    again = T0 + timedelta(days=20)
    assert licence_path.practical_verdict([T0, again], three, T0 + timedelta(days=30), T0 + timedelta(days=21),
                                          RULES).allowed
    passed = [PracticalResult(T0 + timedelta(days=3), True)]
    done = licence_path.practical_verdict([T0], passed, T0 + timedelta(days=30), T0 + timedelta(days=4), RULES)
    assert done.code == "practical_already_passed"


def test_rules_from_the_environment(monkeypatch):
    monkeypatch.setenv("TURNERO_LICENCE_RETAKE_WAIT_DAYS", "14")
    monkeypatch.setenv("TURNERO_LICENCE_MAX_PRACTICAL_ATTEMPTS", "2")
    rules = PathRules.from_settings(Settings.from_env())
    assert (rules.retake_wait, rules.max_practical_attempts, rules.theory_valid) == (
        timedelta(days=14), 2, timedelta(days=90))


# ---------------------------------------------------------------- booking the steps


async def test_the_steps_are_in_the_catalogue_without_an_invented_fee(client):
    services = {s["code"]: s for s in (await client.get("/api/services")).json()}
    for code in (licence_path.MEDICAL, licence_path.PRACTICAL):
        assert services[code]["fee_bs"] is None and services[code]["requirements"]
    assert services[licence_path.PRACTICAL]["kind"] == "practical"


async def test_medical_evaluation_books_like_any_cita(client):
    response = await book(client, local(2, 8, 10), service=licence_path.MEDICAL)
    assert response.status_code == 201, response.text


async def test_practical_refused_without_a_passed_theory_exam_then_allowed(client):
    error = assert_error(await book(client, local(2)), 422, "theory_exam_required")
    assert "teórico" in error["message"]
    await theory_pass(local(27, 11, month=11), passed=False)  # a failed theory exam does not count
    assert_error(await book(client, local(2)), 422, "theory_exam_required")
    await theory_pass(local(28, 11, month=11), category="M")  # another category does not count
    assert_error(await book(client, local(2)), 422, "theory_exam_required")
    assert_error(await book(client, local(2), category=None), 422, "category_required")
    await theory_pass(local(28, 11, month=11))
    response = await book(client, local(2))
    assert response.status_code == 201, response.text
    # Beyond the pass's 90 days: refused.
    await theory_pass(local(1, 11, month=9), document="9988776")  # valid until 30 November
    error = assert_error(await book(client, local(2), number="9988776"), 422, "theory_exam_required")
    assert "90 días" in error["message"]


# ---------------------------------------------------------------- results


async def _practical(client, start=None) -> dict:
    await theory_pass(local(28, 11, month=11))
    response = await book(client, start or local(2))
    assert response.status_code == 201, response.text
    return response.json()


async def record(client, headers, code, passed=False, **extra):
    return await client.post("/api/licence/results", json={"appointment": code, "passed": passed, **extra},
                             headers=headers)


async def test_results_need_the_office_examiner(client):
    cita = await _practical(client)
    clock.freeze(local(2, 8, 40).astimezone(UTC))
    assert_error(await record(client, {}, cita["code"]), 401)
    operator = await login(client, "operador1")
    assert_error(await record(client, operator, cita["code"]), 403)
    other = await login(client, "supervisor")  # supervisor of another office
    assert_error(await record(client, other, cita["code"]), 403)
    assert not await LicenceResult.exists()


async def test_results_are_validated(client):
    cita = await _practical(client)
    examiner = await login(client, "examinador")
    assert_error(await record(client, examiner, cita["code"]), 409, "step_not_taken_yet")  # not its hour yet
    clock.freeze(local(2, 8, 40).astimezone(UTC))
    examiner = await login(client, "examinador")
    assert_error(await record(client, examiner, "ZZZZZZZZ"), 404, "appointment_not_found")
    assert_error(await record(client, examiner, "0" * 32), 404, "appointment_not_found")  # not a code's shape
    assert_error(await client.post("/api/licence/results", json={"appointment": cita["code"]}, headers=examiner), 422)
    assert_error(await record(client, examiner, cita["code"], notes="x" * 501), 422)
    assert_error(await record(client, examiner, cita["code"], passed="quizás"), 422)
    clock.freeze(NOW.astimezone(UTC))
    ci = await book(client, local(2, 9, 10), service="LIC-NUEVA")  # a counter trámite, not a step
    assert ci.status_code == 201, ci.text
    clock.freeze(local(2, 9, 30).astimezone(UTC))
    examiner = await login(client, "examinador")
    assert_error(await record(client, examiner, ci.json()["code"]), 422, "not_a_licence_step")


async def test_a_result_is_recorded_once_and_audited(client):
    cita = await _practical(client)
    clock.freeze(local(2, 8, 40).astimezone(UTC))
    examiner = await login(client, "examinador")
    response = await record(client, examiner, cita["code"], passed=False, notes="No respetó el paso peatonal.")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["step"], body["passed"], body["category"], body["service"]) == ("practical", False, "P",
                                                                                 licence_path.PRACTICAL)
    appt = await Appointment.get(code=cita["code"])
    assert appt.status == AppointmentStatus.DONE
    event = await AppointmentEvent.get(appointment_id=appt.id, kind="licence_result")
    data = event.data if isinstance(event.data, dict) else json.loads(event.data)
    assert data["passed"] is False and data["step"] == "practical" and event.user_id is not None
    assert_error(await record(client, examiner, cita["code"], passed=True), 409, "result_exists")
    result = await LicenceResult.get(appointment_id=appt.id)
    assert (result.passed, result.document, result.notes) == (False, DOC, "No respetó el paso peatonal.")


async def test_a_result_by_the_ticket_of_the_cita_s_check_in(client):
    cita = await _practical(client)
    clock.freeze(local(2, 7, 50).astimezone(UTC))
    admin = await login(client, "admin")
    ticket = await client.post(f"/api/offices/{OFFICE}/checkins", json={"code": cita["code"]}, headers=admin)
    assert ticket.status_code == 201, ticket.text
    clock.freeze(local(2, 8, 40).astimezone(UTC))
    examiner = await login(client, "examinador")
    assert_error(await client.post("/api/licence/results", json={"ticket": "x" * 20, "passed": True},
                                   headers=examiner), 404, "appointment_not_found")
    both = {"ticket": ticket.json()["id"], "appointment": cita["code"], "passed": True}
    assert_error(await client.post("/api/licence/results", json=both, headers=examiner), 422)
    response = await client.post("/api/licence/results", json={"ticket": ticket.json()["id"], "passed": True},
                                 headers=examiner)
    assert response.status_code == 201, response.text
    assert response.json()["appointment"] == cita["code"] and response.json()["passed"] is True
    # Passed: no other practical of the category.
    clock.freeze(NOW.astimezone(UTC))
    assert_error(await book(client, local(9)), 422, "practical_already_passed")


async def test_retake_after_a_failed_practical_waits_seven_days(client):
    cita = await _practical(client)
    clock.freeze(local(2, 8, 40).astimezone(UTC))
    examiner = await login(client, "examinador")
    assert (await record(client, examiner, cita["code"])).status_code == 201
    error = assert_error(await book(client, local(7)), 422, "retake_too_soon")
    assert error["not_before"].startswith("2026-12-09T08:40")
    response = await book(client, local(9, 9))
    assert response.status_code == 201, response.text


# ---------------------------------------------------------------- the demo bank


def test_the_demo_bank_has_enough_questions_for_every_category():
    bank = json.loads((Path(__file__).parents[2] / "turnero/exam/data/preguntas_demo.json").read_text("utf-8"))
    per_category = Counter(c for q in bank["preguntas"] for c in q["categorias"])
    draw = ExamConfig().questions_per_exam
    for category in CATEGORIES:
        # Two different exams' worth at least: a retake does not see the same paper.
        assert per_category[category] >= 2 * draw, (category, per_category[category])
    own = Counter(c for q in bank["preguntas"] if len(q["categorias"]) < len(CATEGORIES) for c in q["categorias"])
    for category in CATEGORIES:  # and questions of its own (vehicle, load, passengers)
        assert own[category] >= 8, (category, own[category])


# ---------------------------------------------------------------- an institution's list into a session


async def exam_session(client, day=2) -> dict:
    examiner = await login(client, "examinador")
    response = await client.get(f"/api/exam/offices/{OFFICE}/rooms/SALA-1/sessions",
                                params={"date": f"2026-12-{day:02d}"}, headers=examiner)
    assert response.status_code == 200, response.text
    return response.json()[0]


def candidates(n: int, first: int = 7100001) -> list[dict]:
    return [{"name": f"Postulante {i}", "document": {"number": str(first + i), "issued_in": "PD"}} for i in range(n)]


async def group(client, headers, session, people, **extra):
    body = {"institution": "Asociación de Mototaxistas de Cobija", "category": "M", "candidates": people, **extra}
    return await client.post(f"/api/exam/sessions/{session['id']}/group-bookings", json=body, headers=headers)


async def test_an_institution_books_its_list_and_hears_who_got_a_seat(client):
    session = await exam_session(client)
    admin = await login(client, "admin")
    assert_error(await group(client, {}, session, candidates(2)), 401)
    assert_error(await group(client, await login(client, "examinador"), session, candidates(2)), 403)
    await theory_pass(local(20, 11, month=11), document="7100002", category="M")  # passed already
    people = candidates(3) + [candidates(1)[0]]  # the first one listed twice
    response = await group(client, admin, session, people)
    assert response.status_code == 201, response.text
    body = response.json()
    assert [s["document"] for s in body["booked"]] == ["ci:7100001", "ci:7100003"]
    assert {r["document"]: r["code"] for r in body["refused"]} == {"ci:7100002": "already_passed",
                                                                   "ci:7100001": "duplicate"}
    assert body["places_left"] == 18
    slot = await Slot.get(id=session["slot_id"])
    assert slot.booked == 2
    for seat in body["booked"]:
        appt = await Appointment.get(code=seat["appointment"])
        assert (appt.category, appt.status, appt.slot_id) == ("M", AppointmentStatus.BOOKED, slot.id)
        event = await AppointmentEvent.get(appointment_id=appt.id, kind="booked")
        data = event.data if isinstance(event.data, dict) else json.loads(event.data)
        assert data["group"] == "Asociación de Mototaxistas de Cobija"
    # Sent again: both are booked already, nobody is booked twice.
    again = (await group(client, admin, session, candidates(1) + candidates(1, first=7100003))).json()
    assert again["booked"] == [] and {r["code"] for r in again["refused"]} == {"already_booked"}


async def test_a_list_longer_than_the_free_seats_books_nobody(client):
    session = await exam_session(client)
    admin = await login(client, "admin")
    error = assert_error(await group(client, admin, session, candidates(21)), 409, "not_enough_places")
    assert "20 plazas libres" in error["message"]
    assert (await Slot.get(id=session["slot_id"])).booked == 0
    assert not await Appointment.filter(slot_id=session["slot_id"]).exists()
    assert_error(await group(client, admin, session, []), 422)
    assert_error(await group(client, admin, session, candidates(1), category="X"), 422)
    full = await group(client, admin, session, candidates(20))
    assert full.status_code == 201 and full.json()["places_left"] == 0
