"""The exam room through its API, in-process, on every backend. A place is a cita booked
with POST /api/appointments (category, eligibility, cut-off); a session is a slot whose
capacity is the seats in service; the proctor's check-in checks the cita in (identity,
seat); unclaimed citas become no-shows by the citas sweep; the seat's exam (answers
saved as they go, reload, scoring, the deadline, the result SMS in the outbox); swaps."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import assert_error, login
from turnero.core import clock
from turnero.exam.models import AttemptStatus, ExamAnswer, ExamAttempt, ExamEvent, Question, Seat
from turnero.exam.policy import ExamConfig, draw_questions
from turnero.notifications.models import OutboundMessage
from turnero.notifications.policy import NotificationConfig
from turnero.scheduler.models import Appointment, AppointmentEvent, Slot
from tests.driver import app_settings
from turnero.settings import Settings
from turnero.wiring import wire

OFFICE = "LPZ-SEGELIC"
ROOM = "SALA-1"
SERVICE = "EXAM-TEORICO"
QUESTIONS = 20
LPZ = ZoneInfo("America/La_Paz")
# A Tuesday morning; the demo rule's sessions that day: 08:00, 10:00, 14:30 (one hour).
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=LPZ)
NOON = NOW.replace(hour=12, minute=0)


@pytest.fixture
def settings(database) -> Settings:
    # Known exam rules, whatever the environment says (the app and its wiring read them).
    return app_settings(database_url=database.url, booking_rate_limit="1000/minute", exam_questions=QUESTIONS,
                        exam_minutes=30, exam_pass_percent=80, exam_retake_wait_days=7, exam_max_attempts=3)


@pytest.fixture(autouse=True)
def _fixed_config_and_clock(client):
    """The app's exam rules (from `settings`) and a known time for these tests."""
    clock.freeze(NOW.astimezone(timezone.utc))
    config = client._transport.app.state.exam_config
    assert config == ExamConfig(questions_per_exam=QUESTIONS, duration=timedelta(minutes=30), pass_mark=0.8,
                                retake_wait=timedelta(days=7), max_attempts=3)
    yield config
    wire(app_settings())  # the default rules again for the tests after these


@pytest.fixture
async def proctor(client) -> dict:
    return await login(client, "examinador")


async def new_session(client, headers, starts: datetime = NOON, minutes: int = 45) -> dict:
    response = await client.post(f"/api/exam/offices/{OFFICE}/rooms/{ROOM}/sessions",
                                 json={"starts_at": starts.isoformat(), "minutes": minutes}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def document_of(n: int) -> str:
    return f"{4800000 + n}"


def cita(start: str, n: int = 1, **overrides) -> dict:
    body = {"office": OFFICE, "service": SERVICE, "start": start, "category": "B",
            "document": {"number": document_of(n)}, "name": f"Postulante Número {n}", "phone": "71234567"}
    body.update(overrides)
    return body


async def book(client, session: dict, n: int = 1, **overrides):
    return await client.post("/api/appointments", json=cita(session["starts_at"], n, **overrides))


async def booked(client, session: dict, n: int = 1, **overrides) -> dict:
    response = await book(client, session, n, **overrides)
    assert response.status_code == 201, response.text
    return response.json()


def to_checkin_window(session: dict, before=timedelta(minutes=5)) -> None:
    clock.freeze(datetime.fromisoformat(session["starts_at"]).astimezone(timezone.utc) - before)


def to_start(session: dict, after=timedelta(0)) -> None:
    clock.freeze(datetime.fromisoformat(session["starts_at"]).astimezone(timezone.utc) + after)


async def check_in(client, headers, session: dict, **body):
    return await client.post(f"/api/exam/sessions/{session['id']}/checkins", json=body, headers=headers)


async def board(client, headers, session: dict) -> dict:
    response = await client.get(f"/api/exam/sessions/{session['id']}/board", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def seat_token(client, headers, session: dict, number: int) -> str:
    return next(s["token"] for s in (await board(client, headers, session))["seats"] if s["number"] == number)


async def seated(client, proctor, n=1, starts: datetime = NOON, **overrides):
    """A session, a candidate booked and checked in 5 minutes before it starts, and
    their seat's token."""
    session = await new_session(client, proctor, starts)
    code = (await booked(client, session, n, **overrides))["code"]
    to_checkin_window(session)
    response = await check_in(client, proctor, session, booking=code, presented_document=document_of(n))
    assert response.status_code == 201, response.text
    attempt = response.json()
    return session, attempt, await seat_token(client, proctor, session, attempt["seat"])


async def start(client, token: str, attempt_id: str) -> dict:
    response = await client.post(f"/api/exam/seats/{token}/start", json={"attempt": attempt_id})
    assert response.status_code == 200, response.text
    return response.json()


async def correct_answers(question_ids) -> dict[int, int]:
    return dict(await Question.filter(id__in=list(question_ids)).values_list("id", "correct"))


async def answer(client, token, attempt_id, question, choice, position=None):
    body = {"attempt": attempt_id, "question": question, "choice": choice}
    if position is not None:
        body["position"] = position
    return await client.post(f"/api/exam/seats/{token}/answers", json=body)


async def take_out(client, headers, number: int):
    return await client.post(f"/api/exam/offices/{OFFICE}/rooms/{ROOM}/seats/{number}/out-of-service",
                             headers=headers)


# ---------------------------------------------------------------- sessions are slots, places are seats


async def test_the_rules_session_times_are_the_rooms_sessions_and_bookable(client, proctor):
    listed = await client.get(f"/api/exam/offices/{OFFICE}/rooms/{ROOM}/sessions?date=2026-11-24", headers=proctor)
    assert listed.status_code == 200, listed.text
    sessions = listed.json()
    assert [s["starts_at"][11:16] for s in sessions] == ["08:00", "10:00", "14:30"]
    slots = await Slot.filter(id__in=[s["slot_id"] for s in sessions])
    assert {s.capacity for s in slots} == {20}  # the seats in service
    free = await client.get(f"/api/offices/{OFFICE}/availability?service={SERVICE}&from=2026-11-24&days=1")
    assert [s["start"][11:16] for s in free.json()] == ["14:30"]  # 08:00 passed, 10:00 is too soon (2 h)
    assert free.json()[0]["capacity"] == 20
    made = await booked(client, sessions[2])
    assert made["kind"] == "exam" and made["category"] == "B" and made["status"] == "booked"
    assert (await board(client, proctor, sessions[2]))["expected"][0]["code"] == made["code"]
    # An exam place needs a licence category, and is one person's.
    body = cita(sessions[2]["starts_at"], 2)
    del body["category"]
    assert_error(await client.post("/api/appointments", json=body), 422, "category_required")
    assert_error(await book(client, sessions[2], 2, party_size=2), 422, "party_too_large")
    assert_error(await book(client, sessions[2], 2, category="Z"), 422)
    assert await Appointment.all().count() == 1


async def test_capacity_follows_the_seats_in_service_and_bookings_that_no_longer_fit_move(client, proctor):
    first = await new_session(client, proctor)
    for number in range(1, 18):  # 3 seats left
        assert (await take_out(client, proctor, number)).status_code == 200
    assert (await Slot.get(id=first["slot_id"])).capacity == 3
    codes = [(await booked(client, first, n))["code"] for n in range(1, 4)]
    assert_error(await book(client, first, 4), 409, "slot_full")
    changed = await take_out(client, proctor, 18)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"number": 18, "in_service": False, "places": 2, "moved": 1, "cancelled": 0}
    # The last to book moved to the next session with room (14:30, a rule session), with notice.
    last = await Appointment.get(code=codes[-1])
    assert last.status == "booked" and last.start.astimezone(LPZ).strftime("%H:%M") == "14:30"
    assert await AppointmentEvent.filter(appointment_id=last.id, kind="rescheduled").count() == 1
    notice = await OutboundMessage.filter(appointment_id=last.id, template="cita_reprogramada").first()
    assert notice is not None and "14:30" in notice.body
    first_slot = await Slot.get(id=first["slot_id"])
    assert (first_slot.capacity, first_slot.booked) == (2, 2)
    later = await client.get(f"/api/offices/{OFFICE}/availability?service={SERVICE}&from=2026-11-25&days=1")
    assert {s["capacity"] for s in later.json()} == {2}  # every future session
    back = await client.post(f"/api/exam/offices/{OFFICE}/rooms/{ROOM}/seats/18/in-service", headers=proctor)
    assert back.json()["places"] == 3 and (await Slot.get(id=first["slot_id"])).capacity == 3


# ---------------------------------------------------------------- check-in


async def test_check_in_checks_the_cita_in_assigns_the_lowest_free_seat_and_draws_the_exam(client, proctor):
    session = await new_session(client, proctor)
    one = await booked(client, session, 1)
    two = await booked(client, session, 2, category="M")
    to_checkin_window(session)
    first = (await check_in(client, proctor, session, booking=one["code"], presented_document=document_of(1))).json()
    # Without the code: the session's booking made with the presented document.
    second = (await check_in(client, proctor, session, presented_document=document_of(2))).json()
    assert (first["seat"], second["seat"]) == (1, 2) and second["booking"] == two["code"]
    assert first["status"] == "assigned" and first["category"] == "B" and first["name"] == "Postulante Número 1"
    row = await ExamAttempt.get(public_id=first["id"])
    assert len(row.question_ids) == QUESTIONS == len(set(row.question_ids))
    bank_b = set(await Question.filter(categories__contains="|B|").values_list("id", flat=True))
    assert set(row.question_ids) <= bank_b
    moto = await ExamAttempt.get(public_id=second["id"])
    bank_m = set(await Question.filter(categories__contains="|M|").values_list("id", flat=True))
    # Drawn from the motorcycle bank (which has questions of its own) by the attempt's seed;
    # whether a given draw happens to include any of them is chance, so it is not asserted.
    assert bank_m - bank_b and set(moto.question_ids) <= bank_m
    assert moto.question_ids == draw_questions(bank_m, QUESTIONS, moto.seed)
    appt = await Appointment.get(code=one["code"])
    assert appt.status == "checked_in" and appt.checked_in_at is not None
    assert await AppointmentEvent.filter(appointment_id=appt.id, kind="checked_in").count() == 1
    assert await ExamEvent.filter(attempt_id=row.id, kind="checked_in").count() == 1
    public = (await client.get(f"/api/appointments/{one['id']}")).json()
    assert public["status"] == "checked_in"
    again = await check_in(client, proctor, session, booking=one["code"], presented_document=document_of(1))
    assert_error(again, 409, "already_checked_in")


async def test_wrong_document_is_refused_and_writes_nothing(client, proctor):
    session = await new_session(client, proctor)
    code = (await booked(client, session, 1, document={"number": "4800001", "complement": "1B"}))["code"]
    to_checkin_window(session)
    error = assert_error(await check_in(client, proctor, session, booking=code, presented_document="9999999"),
                         409, "document_mismatch")
    assert "no coincide" in error["message"]
    # The complement counts: the booking has one, the card shown must too.
    assert_error(await check_in(client, proctor, session, booking=code, presented_document="4800001"),
                 409, "document_mismatch")
    assert await ExamAttempt.all().count() == 0 and await ExamEvent.all().count() == 0
    assert (await Appointment.get(code=code)).status == "booked"
    ok = await check_in(client, proctor, session, booking=code, presented_document="4800001-1b")
    assert ok.status_code == 201, ok.text


async def test_a_cita_of_another_session_is_refused_and_not_checked_in_at_the_kiosk(client, proctor):
    session = await new_session(client, proctor)
    later = await new_session(client, proctor, NOON.replace(hour=16))
    code = (await booked(client, later, 1))["code"]
    to_checkin_window(session)
    error = assert_error(await check_in(client, proctor, session, booking=code, presented_document=document_of(1)),
                         409, "wrong_session")
    assert "16:00" in error["message"]
    assert_error(await check_in(client, proctor, session, booking="ACDEFGHJ", presented_document="4800001"), 404,
                 "appointment_not_found")
    assert_error(await check_in(client, proctor, session, presented_document="4800009"), 404, "appointment_not_found")
    # The kiosk does not check exam citas in: identity and seat are the proctor's.
    response = await client.post(f"/api/offices/{OFFICE}/checkins", json={"code": code},
                                 headers=await login(client, "admin"))
    assert_error(response, 409, "exam_checkin_in_room")


async def test_a_seat_out_of_service_is_never_assigned_and_a_chosen_seat_is_used(client, proctor):
    session = await new_session(client, proctor)
    codes = [(await booked(client, session, n))["code"] for n in range(1, 4)]
    for number in (1, 2):
        assert (await take_out(client, proctor, number)).json()["in_service"] is False
    to_checkin_window(session)
    assert (await check_in(client, proctor, session, booking=codes[0], presented_document=document_of(1))
            ).json()["seat"] == 3
    assert_error(await check_in(client, proctor, session, booking=codes[1], presented_document=document_of(2), seat=1),
                 409, "seat_out_of_service")
    chosen = await check_in(client, proctor, session, booking=codes[1], presented_document=document_of(2), seat=7)
    assert chosen.json()["seat"] == 7
    assert_error(await check_in(client, proctor, session, booking=codes[2], presented_document=document_of(3), seat=7),
                 409, "seat_taken")
    view = await board(client, proctor, session)
    states = {s["number"]: s["state"] for s in view["seats"]}
    assert states[1] == states[2] == "out_of_service" and states[3] == states[7] == "assigned" and states[4] == "free"
    assert view["stats"]["seats_in_service"] == 18 and view["places"] == 18


async def test_concurrent_check_ins_never_share_a_seat(client, proctor):
    """20 booked candidates checked in at once: 20 different seats; then 10 proctors'
    clicks for one chosen seat of another session: one gets it."""
    session = await new_session(client, proctor)
    codes = [(await booked(client, session, n))["code"] for n in range(1, 21)]
    to_checkin_window(session)
    responses = await asyncio.gather(*(
        check_in(client, proctor, session, booking=code, presented_document=document_of(n))
        for n, code in enumerate(codes, start=1)
    ))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201][:2]
    assert sorted(r.json()["seat"] for r in responses) == list(range(1, 21))
    seats = await ExamAttempt.filter(session_id=session["id"]).values_list("seat_id", flat=True)
    assert len(seats) == len(set(seats)) == 20
    assert await Appointment.filter(status="checked_in").count() == 20
    # The rule is a unique index, not only the service's choice.
    from tortoise.exceptions import IntegrityError

    one, other = await ExamAttempt.filter(session_id=session["id"]).order_by("id").limit(2)
    with pytest.raises(IntegrityError):
        await ExamAttempt.filter(id=other.id).update(seat_id=one.seat_id)


async def test_late_arrival_is_refused_and_unclaimed_citas_become_no_shows(client, proctor):
    from turnero.scheduler.config import SchedulerConfig
    from turnero.scheduler.sweeps import mark_no_shows

    session = await new_session(client, proctor)
    early, late, present = [(await booked(client, session, n))["code"] for n in (1, 2, 3)]
    to_checkin_window(session, before=timedelta(minutes=61))
    assert_error(await check_in(client, proctor, session, booking=early, presented_document=document_of(1)),
                 409, "checkin_too_early")
    to_checkin_window(session)
    assert (await check_in(client, proctor, session, booking=present, presented_document=document_of(3))
            ).status_code == 201
    to_start(session, after=timedelta(seconds=1))
    assert_error(await check_in(client, proctor, session, booking=late, presented_document=document_of(2)),
                 409, "late_arrival")
    assert await ExamAttempt.all().count() == 1
    # The citas engine's sweep: the same no-show rule as any cita.
    to_start(session, after=timedelta(minutes=16))
    assert await mark_no_shows(SchedulerConfig()) == 2
    assert set(await Appointment.filter(status="no_show").values_list("code", flat=True)) == {early, late}
    stats = (await board(client, proctor, session))["stats"]
    assert (stats["booked"], stats["checked_in"], stats["no_shows"], stats["expected"]) == (3, 1, 2, 0)
    assert stats["attendance_rate"] == 33.3


async def test_the_proctor_may_start_the_session_early_which_closes_check_in(client, proctor):
    session = await new_session(client, proctor)
    seated_code, late_code = [(await booked(client, session, n))["code"] for n in (1, 2)]
    to_checkin_window(session, before=timedelta(minutes=61))
    path = f"/api/exam/sessions/{session['id']}/start"
    assert_error(await client.post(path, headers=proctor), 409, "checkin_too_early")
    to_checkin_window(session, before=timedelta(minutes=20))
    attempt = (await check_in(client, proctor, session, booking=seated_code, presented_document=document_of(1))).json()
    opened = await client.post(path, headers=proctor)
    assert opened.status_code == 200 and opened.json()["started"] and not opened.json()["checkin_open"]
    assert_error(await check_in(client, proctor, session, booking=late_code, presented_document=document_of(2)),
                 409, "late_arrival")
    token = await seat_token(client, proctor, session, attempt["seat"])
    assert (await start(client, token, attempt["id"]))["attempt"]["status"] == "in_progress"
    assert await ExamEvent.filter(kind="session.opened").count() == 1


async def test_cancellation_cut_off_is_24_hours(client, proctor):
    tomorrow = await new_session(client, proctor, NOON + timedelta(days=1))
    clock.freeze(NOW.astimezone(timezone.utc) + timedelta(hours=4))  # 22 h before
    made = await booked(client, tomorrow, 1)
    assert made["can_cancel"] is False  # less than 24 h ahead
    assert_error(await client.post(f"/api/appointments/{made['code']}/cancel", json={"document": document_of(1)}),
                 409, "cutoff_passed")
    later = await new_session(client, proctor, NOON + timedelta(days=3))
    other = await booked(client, later, 2)
    done = await client.post(f"/api/appointments/{other['code']}/cancel", json={"document": document_of(2)})
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    assert (await Slot.get(id=later["slot_id"])).booked == 0


# ---------------------------------------------------------------- the seat's exam


async def test_seat_page_state_start_only_from_the_session_start_and_live_events(client, proctor):
    session, attempt, token = await seated(client, proctor)
    ready = (await client.get(f"/api/exam/seats/{token}")).json()["attempt"]
    assert ready["status"] == "assigned" and ready["name"] == "Postulante Número 1"
    assert ready["total"] == QUESTIONS and ready["pass_percent"] == 80 and not ready.get("questions")
    idle = (await client.get(f"/api/exam/seats/{await seat_token(client, proctor, session, 2)}")).json()
    assert idle["seat"] == 2 and idle["attempt"] is None
    response = await client.post(f"/api/exam/seats/{token}/start", json={"attempt": attempt["id"]})
    assert_error(response, 409, "session_not_started")
    to_start(session)
    from turnero.core.bus import get_bus

    async with get_bus().subscribe(OFFICE) as sub:
        state = await start(client, token, attempt["id"])
        await client.post(f"/api/exam/seats/{token}/submit", json={"attempt": attempt["id"]})
        events = [await asyncio.wait_for(sub.get(), 2) for _ in range(2)]
    assert state["attempt"]["status"] == "in_progress" and state["attempt"]["seconds_left"] == 30 * 60
    # The room board's live events on the office channel: no names (public screens share it).
    assert [e["type"] for e in events] == ["exam.started", "exam.finished"]
    assert events[1]["seat"] == 1 and events[1]["session"] == session["id"]
    assert "Postulante" not in json.dumps(events) and "4800001" not in json.dumps(events)


async def test_answers_survive_a_reload_and_are_never_shown_with_the_key(client, proctor):
    session, attempt, token = await seated(client, proctor)
    to_start(session)
    first = (await start(client, token, attempt["id"]))["attempt"]
    questions = first["questions"]
    assert all(set(q) == {"id", "text", "choices"} for q in questions)  # never the correct answer
    for i, q in enumerate(questions[:5]):
        assert (await answer(client, token, attempt["id"], q["id"], i % len(q["choices"]), position=i + 1)
                ).status_code == 200
    # Changing one's mind replaces the answer.
    assert (await answer(client, token, attempt["id"], questions[0]["id"], 1, position=5)).status_code == 200
    clock.advance(timedelta(minutes=3))
    again = (await client.get(f"/api/exam/seats/{token}")).json()["attempt"]
    assert [q["id"] for q in again["questions"]] == [q["id"] for q in questions]  # same draw, same order
    assert again["position"] == 5
    expected = {str(q["id"]): i % len(q["choices"]) for i, q in enumerate(questions[:5])}
    expected[str(questions[0]["id"])] = 1
    assert again["answers"] == expected
    assert again["seconds_left"] == 27 * 60
    assert await ExamAnswer.filter(attempt__public_id=attempt["id"]).count() == 5


async def test_scoring_against_the_pass_mark_and_the_result_sms_through_the_outbox(client, proctor):
    """16 of 20 right passes (80 %); 15 of 20 fails. The cita is done."""
    results = {}
    for n, right, at in ((1, 16, NOON), (2, 15, NOON.replace(hour=16))):
        session, attempt, token = await seated(client, proctor, n=n, starts=at)
        to_start(session)
        questions = (await start(client, token, attempt["id"]))["attempt"]["questions"]
        key = await correct_answers(q["id"] for q in questions)
        for i, q in enumerate(questions):
            choice = key[q["id"]] if i < right else (key[q["id"]] + 1) % len(q["choices"])
            assert (await answer(client, token, attempt["id"], q["id"], choice)).status_code == 200
        done = await client.post(f"/api/exam/seats/{token}/submit", json={"attempt": attempt["id"]})
        assert done.status_code == 200, done.text
        results[right] = done.json()["attempt"]["result"]
    assert results[16] == {"correct": 16, "total": 20, "percent": 80.0, "passed": True, "required": 16}
    assert results[15] == {"correct": 15, "total": 20, "percent": 75.0, "passed": False, "required": 16}
    rows = await ExamAttempt.filter(status=AttemptStatus.FINISHED).order_by("id").values_list("correct_count", "passed")
    assert rows == [(16, True), (15, False)]
    assert await ExamEvent.filter(kind="finished").count() == 2
    assert await Appointment.filter(status="done").count() == 2
    assert await AppointmentEvent.filter(kind="done").count() == 2
    # The result SMS went to the outbox with the result (the dispatcher sends it later).
    messages = await OutboundMessage.filter(template="resultado_examen").order_by("id")
    assert [m.to for m in messages] == ["+59171234567", "+59171234567"]
    assert [m.channel for m in messages] == ["sms", "sms"]
    assert "APROBADO (16/20)" in messages[0].body and "REPROBADO (15/20)" in messages[1].body
    # Each names the cita it was booked as, like the cita's other messages.
    booked_as = await ExamAttempt.filter(status=AttemptStatus.FINISHED).order_by("id").values_list(
        "appointment_id", flat=True)
    assert [m.appointment_id for m in messages] == booked_as and None not in booked_as


@pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio.*")
async def test_the_result_sms_is_sent_by_the_dispatcher_through_twilio(client, proctor):
    """The outbox row goes out through the notifications dispatcher, with the real
    twilio client against the fake Twilio API."""
    from tests.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
    from turnero.notifications.dispatcher import dispatch_due
    from turnero.notifications.gateways import TwilioGateway
    from turnero.notifications.models import MessageStatus

    session, attempt, token = await seated(client, proctor)
    to_start(session)
    await start(client, token, attempt["id"])
    await client.post(f"/api/exam/seats/{token}/submit", json={"attempt": attempt["id"]})
    fake = TwilioFake().start()
    gateway = TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, sms_from="+15005550006", api_base_url=fake.url)
    try:
        await OutboundMessage.exclude(template="resultado_examen").delete()  # only the result here
        assert (await dispatch_due(gateway, NotificationConfig())).sent == 1
        (sent,) = fake.accepted
        assert sent.one("To") == "+59171234567"
        assert sent.one("Body") == "SEGELIC: examen teorico categoria B: REPROBADO (0/20). Puede rendir un segundo intento."
    finally:
        await gateway.aclose()
        fake.stop()
    row = await OutboundMessage.get(template="resultado_examen")
    assert row.status == MessageStatus.SENT and row.provider_sid


async def test_the_deadline_scores_the_exam_and_refuses_later_answers(client, proctor):
    session, attempt, token = await seated(client, proctor)
    to_start(session)
    questions = (await start(client, token, attempt["id"]))["attempt"]["questions"]
    key = await correct_answers(q["id"] for q in questions)
    for q in questions[:3]:
        await answer(client, token, attempt["id"], q["id"], key[q["id"]])
    clock.advance(timedelta(minutes=30))
    late = await answer(client, token, attempt["id"], questions[3]["id"], key[questions[3]["id"]])
    assert_error(late, 409, "time_over")
    row = await ExamAttempt.get(public_id=attempt["id"])
    assert row.status == AttemptStatus.FINISHED and row.correct_count == 3 and row.passed is False
    shown = (await client.get(f"/api/exam/seats/{token}")).json()["attempt"]
    assert shown["status"] == "finished" and shown["result"]["correct"] == 3


async def test_overdue_attempts_are_scored_by_the_job_and_no_phone_means_no_message(client, proctor):
    from turnero.exam.taking import finish_overdue

    session, attempt, token = await seated(client, proctor, phone=None)
    to_start(session)
    await start(client, token, attempt["id"])
    assert await finish_overdue(ExamConfig()) == 0
    clock.advance(timedelta(minutes=31))
    assert await finish_overdue(ExamConfig()) == 1
    assert (await ExamAttempt.get(public_id=attempt["id"])).status == AttemptStatus.FINISHED
    assert await OutboundMessage.filter(template="resultado_examen").count() == 0  # no phone, no message


async def test_invalid_answers_are_refused_and_concurrent_ones_all_kept(client, proctor):
    session, attempt, token = await seated(client, proctor)
    to_start(session)
    before = await answer(client, token, attempt["id"], 1, 0)
    assert before.status_code in (409, 422)
    questions = (await start(client, token, attempt["id"]))["attempt"]["questions"]
    other = await Question.exclude(id__in=[q["id"] for q in questions]).first()
    assert_error(await answer(client, token, attempt["id"], other.id, 0), 422, "question_not_in_exam")
    assert_error(await answer(client, token, attempt["id"], questions[0]["id"], 7), 422, "choice_out_of_range")
    assert_error(await answer(client, token, attempt["id"], questions[0]["id"], 0, position=500), 422)
    assert_error(await answer(client, token, "nope", questions[0]["id"], 0), 404, "attempt_not_found")
    assert_error(await client.get("/api/exam/seats/not-a-seat"), 404, "seat_not_found")
    assert await ExamAnswer.all().count() == 0
    # Concurrent answers to different questions are all kept.
    responses = await asyncio.gather(*(answer(client, token, attempt["id"], q["id"], 0) for q in questions))
    assert all(r.status_code == 200 for r in responses)
    assert await ExamAnswer.filter(attempt__public_id=attempt["id"]).count() == QUESTIONS


# ---------------------------------------------------------------- swap, cancel


async def test_swap_keeps_answers_and_the_time_left_and_retires_the_failed_seat(client, proctor):
    session, attempt, old_token = await seated(client, proctor)
    # A seat in use is not taken out of service: the candidate is swapped.
    assert_error(await take_out(client, proctor, 1), 409, "seat_occupied")
    to_start(session)
    questions = (await start(client, old_token, attempt["id"]))["attempt"]["questions"]
    for q in questions[:4]:
        await answer(client, old_token, attempt["id"], q["id"], 1, position=4)
    clock.advance(timedelta(minutes=10))  # 20 minutes left
    moved = await client.post(f"/api/exam/attempts/{attempt['id']}/swap", json={"reason": "pantalla negra"},
                              headers=proctor)
    assert moved.status_code == 200, moved.text
    assert moved.json()["seat"] == 2 and moved.json()["status"] == "assigned"
    clock.advance(timedelta(minutes=4))  # walking to the new seat does not cost exam time
    # The failed seat's link is dead: it neither reads nor answers the exam (its link was made anew).
    assert_error(await answer(client, old_token, attempt["id"], questions[5]["id"], 0), 404, "seat_not_found")
    assert_error(await client.get(f"/api/exam/seats/{old_token}"), 404, "seat_not_found")
    new_token = await seat_token(client, proctor, session, 2)
    ready = (await client.get(f"/api/exam/seats/{new_token}")).json()["attempt"]
    assert ready["status"] == "assigned" and ready["resumed"] and ready["remaining_seconds"] == 20 * 60
    resumed = (await start(client, new_token, attempt["id"]))["attempt"]
    assert resumed["seconds_left"] == 20 * 60
    assert resumed["answers"] == {str(q["id"]): 1 for q in questions[:4]} and resumed["position"] == 4
    view = await board(client, proctor, session)
    states = {s["number"]: s["state"] for s in view["seats"]}
    assert states[1] == "out_of_service" and states[2] == "in_progress"
    assert await ExamEvent.filter(kind="seat_swapped").count() == 1
    # One computer less for the sessions ahead too.
    later = await client.get(f"/api/offices/{OFFICE}/availability?service={SERVICE}&from=2026-11-25&days=1")
    assert {s["capacity"] for s in later.json()} == {19}


async def test_cancel_frees_the_seat_and_the_cita_can_be_checked_in_again(client, proctor):
    session = await new_session(client, proctor)
    one, two = [(await booked(client, session, n))["code"] for n in (1, 2)]
    to_checkin_window(session)
    attempt = (await check_in(client, proctor, session, booking=one, presented_document=document_of(1))).json()
    cancelled = await client.post(f"/api/exam/attempts/{attempt['id']}/cancel", json={}, headers=proctor)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await Appointment.get(code=one)).status == "booked"
    assert (await check_in(client, proctor, session, booking=two, presented_document=document_of(2))).json()["seat"] == 1
    assert (await check_in(client, proctor, session, booking=one, presented_document=document_of(1))).json()["seat"] == 2


# ---------------------------------------------------------------- eligibility


async def _sit_and_fail(client, proctor, n: int, starts: datetime) -> None:
    session, attempt, token = await seated(client, proctor, n=n, starts=starts)
    to_start(session)
    await start(client, token, attempt["id"])
    assert (await client.post(f"/api/exam/seats/{token}/submit", json={"attempt": attempt["id"]})).status_code == 200


async def test_retake_waiting_period_and_attempt_limit_when_booking(client):
    proctor = await login(client, "examinador")
    await _sit_and_fail(client, proctor, 1, NOON)
    clock.freeze(NOW.astimezone(timezone.utc) + timedelta(hours=6))  # 15:30, after the exam
    proctor = await login(client, "examinador")
    tomorrow = await new_session(client, proctor, NOON + timedelta(days=1))
    error = assert_error(await book(client, tomorrow, 1), 409, "retake_too_soon")
    assert error["not_before"].startswith("2026-12-01")
    eligibility = await client.get("/api/exam/eligibility?document=4800001&category=B", headers=proctor)
    assert eligibility.json()["allowed"] is False and eligibility.json()["code"] == "retake_too_soon"
    other = await client.get("/api/exam/eligibility?document=4800001&category=M", headers=proctor)
    assert other.json()["allowed"] is True  # per category
    for _ in range(2):
        clock.freeze(clock.now() + timedelta(days=7, minutes=1))  # just after the waiting period
        assert (await client.get("/api/exam/eligibility?document=4800001&category=B",
                                 headers=await login(client, "examinador"))).json()["allowed"] is True
        proctor = await login(client, "examinador")  # tokens last 12 h
        await _sit_and_fail(client, proctor, 1, clock.now().astimezone(LPZ).replace(second=0, microsecond=0)
                            + timedelta(hours=4))
    clock.freeze(NOW.astimezone(timezone.utc) + timedelta(days=30))
    proctor = await login(client, "examinador")
    last = await new_session(client, proctor, NOON + timedelta(days=30))
    assert_error(await book(client, last, 1), 409, "attempts_exhausted")
    assert await ExamAttempt.filter(document="4800001", status=AttemptStatus.FINISHED).count() == 3


# ---------------------------------------------------------------- board, auth, docs


async def test_board_statistics(client, proctor):
    session = await new_session(client, proctor)
    codes = [(await booked(client, session, n))["code"] for n in range(1, 5)]
    to_checkin_window(session)
    tokens = {}
    for n in range(1, 4):
        a = (await check_in(client, proctor, session, booking=codes[n - 1], presented_document=document_of(n))).json()
        tokens[n] = (a["id"], await seat_token(client, proctor, session, a["seat"]))
    to_start(session)
    for n, right in ((1, 20), (2, 0)):
        attempt_id, token = tokens[n]
        questions = (await start(client, token, attempt_id))["attempt"]["questions"]
        key = await correct_answers(q["id"] for q in questions)
        for q in questions:
            await answer(client, token, attempt_id, q["id"],
                         key[q["id"]] if right else (key[q["id"]] + 1) % len(q["choices"]))
        await client.post(f"/api/exam/seats/{token}/submit", json={"attempt": attempt_id})
    await start(client, tokens[3][1], tokens[3][0])
    view = await board(client, proctor, session)
    assert view["stats"] == {
        "seats": 20, "seats_in_service": 20, "booked": 4, "expected": 1, "no_shows": 0, "checked_in": 3,
        "in_progress": 1, "finished": 2, "passed": 1, "failed": 1, "pass_rate": 50.0, "attendance_rate": 75.0,
    }
    assert [e["code"] for e in view["expected"]] == [codes[3]]
    by_number = {s["number"]: s for s in view["seats"]}
    assert by_number[1]["state"] == "finished" and by_number[1]["attempt"]["passed"] is True
    assert by_number[3]["state"] == "in_progress" and by_number[3]["attempt"]["answered"] == 0


async def test_proctor_routes_need_staff_of_that_office(client, proctor):
    session = await new_session(client, proctor)
    other_office_staff = await login(client, "supervisor")  # LPZ-PRINCIPAL
    kiosk = await login(client, "kiosko")
    admin = await login(client, "admin")
    for headers, status in ((other_office_staff, 403), (kiosk, 403), ({}, 401)):
        assert_error(await client.get(f"/api/exam/sessions/{session['id']}/board", headers=headers), status)
        assert_error(await check_in(client, headers, session, presented_document="4800001"), status)
        assert_error(await client.get(f"/api/exam/offices/{OFFICE}/rooms", headers=headers), status)
        assert_error(await take_out(client, headers, 3), status)
    assert (await client.get(f"/api/exam/sessions/{session['id']}/board", headers=admin)).status_code == 200
    rooms = (await client.get(f"/api/exam/offices/{OFFICE}/rooms", headers=proctor)).json()
    assert rooms[0]["code"] == ROOM and len(rooms[0]["seats"]) == 20
    assert await ExamAttempt.all().count() == 0 and await Seat.filter(in_service=False).count() == 0


async def test_extra_sessions_and_bad_session_input(client, proctor):
    session = await new_session(client, proctor)
    listed = (await client.get(f"/api/exam/offices/{OFFICE}/rooms/{ROOM}/sessions", headers=proctor)).json()
    assert [s["starts_at"][11:16] for s in listed] == ["08:00", "10:00", "12:00", "14:30"]
    assert session["id"] in [s["id"] for s in listed]
    path = f"/api/exam/offices/{OFFICE}/rooms/{ROOM}/sessions"
    for overlapping in (NOON, NOON + timedelta(minutes=30), NOON.replace(hour=14)):
        assert_error(await client.post(path, json={"starts_at": overlapping.isoformat()}, headers=proctor), 409,
                     "session_overlaps")
    assert_error(await client.post(path, json={"starts_at": NOW.replace(hour=7).isoformat()}, headers=proctor), 422,
                 "slot_in_past")
    for body in ({"starts_at": "2026-11-24T18:00:00"}, {"starts_at": "mañana"},
                 {"starts_at": NOON.replace(hour=18).isoformat(), "minutes": 5}):
        assert_error(await client.post(path, json=body, headers=proctor), 422)
    assert_error(await client.get(path + "?date=ayer", headers=proctor), 422)
    assert_error(await client.post(f"/api/exam/offices/{OFFICE}/rooms/NOPE/sessions",
                                   json={"starts_at": NOON.isoformat()}, headers=proctor), 404, "room_not_found")


BAD_CHECKINS = [
    {"booking": "X", "presented_document": "!!"},
    {"booking": "X"},
    {"presented_document": "4800001", "seat": 0},
    {"presented_document": "4800001", "seat": "3"},
    {"presented_document": "4800001", "booking": "x" * 300},
]


GARBAGE = [b"", b"{", b"[]", b"null", b'{"attempt": "\\u0000", "question": 1e400, "choice": -1}',
           b'{"attempt": ["x"], "booking": {}, "seat": "1"}', b"x" * (70 * 1024),
           json.dumps({"attempt": "' OR 1=1 --", "question": 2**40, "choice": 2, "booking": "' OR 1=1 --",
                       "presented_document": "4800001"}).encode()]
SEGMENTS = ["NOPE", "%00", "-1", "0", "99999999999999999999", "A" * 2000, "%E2%80%AE"]


async def test_garbage_at_every_exam_route_is_never_a_500_and_every_route_is_documented(client, proctor):
    from turnero.app import api_routes

    spec = (await client.get("/openapi.json")).json()
    for route in api_routes():
        if route.path.startswith("/api/exam/"):
            assert (route.methods - {"HEAD"}) <= {m.upper() for m in spec["paths"][route.path]}, route.path

    session, attempt, token = await seated(client, proctor)
    for body in BAD_CHECKINS:
        assert_error(await check_in(client, proctor, session, **body), 422)
    assert await ExamAttempt.all().count() == 1
    real = {"office": OFFICE, "room": ROOM, "seat": "1", "session": str(session["id"]), "attempt": attempt["id"],
            "token": token}
    routes = [r for r in api_routes() if r.path.startswith("/api/exam/")]
    assert len(routes) >= 14
    for route in routes:
        method = next(iter(route.methods - {"HEAD"}))
        names = [n for n in real if "{" + n + "}" in route.path]
        urls = [route.path.format(**real)]
        for segment in SEGMENTS:
            urls += [route.path.format(**{**real, name: segment}) for name in names]
        for url in dict.fromkeys(urls):
            for headers in (proctor, {}):
                for body in GARBAGE:
                    response = await client.request(method, url, content=body, headers=headers)
                    assert response.status_code < 500, (method, url, body[:60], response.text[:200])
                    if response.status_code >= 400:
                        assert_error(response, response.status_code)
