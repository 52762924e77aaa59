"""The exam room through its API, in-process, on every backend: proctor check-in with
the identity check, seat assignment and swaps, the seat's exam (answers saved as they
go, reload, scoring, the deadline), eligibility, authorisation, the board."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from tests.conftest import assert_error, login
from turnero.core import clock
from turnero.exam.models import AttemptStatus, ExamAnswer, ExamAttempt, ExamEvent, Question, Seat
from turnero.exam.policy import ExamConfig

OFFICE = "LPZ-SEGELIC"
ROOM = "SALA-1"
QUESTIONS = 20


@pytest.fixture
async def proctor(client) -> dict:
    return await login(client, "examinador")


@pytest.fixture(autouse=True)
def _fixed_config(client):
    """Known rules for these tests, whatever the environment says."""
    app = client._transport.app
    app.state.exam_config = ExamConfig(
        questions_per_exam=QUESTIONS, duration=timedelta(minutes=30), pass_mark=0.8,
        retake_wait=timedelta(days=7), max_attempts=3,
    )
    return app.state.exam_config


async def new_session(client, headers, starts_in=timedelta(minutes=30), minutes=45) -> int:
    starts = (clock.now() + starts_in).astimezone().isoformat(timespec="seconds")
    response = await client.post(f"/api/exam/offices/{OFFICE}/rooms/{ROOM}/sessions",
                                 json={"starts_at": starts, "minutes": minutes}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def candidate(n: int = 1, **overrides) -> dict:
    document = f"{4800000 + n}"
    body = {"booking": f"EX{n:04d}", "document": document, "presented_document": document,
            "name": f"Postulante Número {n}", "category": "B", "phone": "71234567"}
    body.update(overrides)
    return body


async def check_in(client, headers, session: int, **body):
    return await client.post(f"/api/exam/sessions/{session}/checkins", json=body, headers=headers)


async def board(client, headers, session: int) -> dict:
    response = await client.get(f"/api/exam/sessions/{session}/board", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def seat_token(client, headers, session: int, number: int) -> str:
    return next(s["token"] for s in (await board(client, headers, session))["seats"] if s["number"] == number)


async def seated(client, proctor, n=1, starts_in=timedelta(minutes=5), **overrides):
    """A session, a checked-in candidate, and their seat's token."""
    session = await new_session(client, proctor, starts_in=starts_in)
    response = await check_in(client, proctor, session, **candidate(n, **overrides))
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


# ---------------------------------------------------------------- check-in and seats


async def test_check_in_assigns_the_lowest_free_seat_and_draws_the_exam(client, proctor):
    session = await new_session(client, proctor)
    first = (await check_in(client, proctor, session, **candidate(1))).json()
    second = (await check_in(client, proctor, session, **candidate(2, category="M"))).json()
    assert (first["seat"], second["seat"]) == (1, 2)
    assert first["status"] == "assigned" and first["category"] == "B"
    row = await ExamAttempt.get(public_id=first["id"])
    assert len(row.question_ids) == QUESTIONS == len(set(row.question_ids))
    bank_b = set(await Question.filter(categories__contains="|B|").values_list("id", flat=True))
    assert set(row.question_ids) <= bank_b
    moto = await ExamAttempt.get(public_id=second["id"])
    bank_m = set(await Question.filter(categories__contains="|M|").values_list("id", flat=True))
    assert set(moto.question_ids) <= bank_m and set(moto.question_ids) - bank_b  # motorcycle questions drawn
    assert await ExamEvent.filter(attempt_id=row.id, kind="checked_in").count() == 1


async def test_a_chosen_seat_is_used_and_a_taken_one_refused(client, proctor):
    session = await new_session(client, proctor)
    chosen = await check_in(client, proctor, session, **candidate(1), seat=7)
    assert chosen.status_code == 201 and chosen.json()["seat"] == 7
    assert_error(await check_in(client, proctor, session, **candidate(2), seat=7), 409, "seat_taken")
    assert (await check_in(client, proctor, session, **candidate(2))).json()["seat"] == 1


async def test_wrong_document_is_refused_and_writes_nothing(client, proctor):
    session = await new_session(client, proctor)
    body = candidate(1, presented_document="9999999")
    error = assert_error(await check_in(client, proctor, session, **body), 409, "document_mismatch")
    assert "no coincide" in error["message"]
    complement = candidate(1, document="4800001-1B", presented_document="4800001")  # the complemento counts
    assert_error(await check_in(client, proctor, session, **complement), 409, "document_mismatch")
    assert await ExamAttempt.all().count() == 0 and await ExamEvent.all().count() == 0
    same = candidate(1, document="4800001-1b", presented_document="4800001 1B".replace(" ", "-"))
    assert (await check_in(client, proctor, session, **same)).status_code == 201


async def test_a_seat_out_of_service_is_never_assigned(client, proctor):
    session = await new_session(client, proctor)
    for number in (1, 2):
        out = await client.post(f"/api/exam/offices/{OFFICE}/rooms/{ROOM}/seats/{number}/out-of-service",
                                headers=proctor)
        assert out.status_code == 200 and out.json() == {"number": number, "in_service": False}
    assert (await check_in(client, proctor, session, **candidate(1))).json()["seat"] == 3
    assert_error(await check_in(client, proctor, session, **candidate(2), seat=1), 409, "seat_out_of_service")
    view = await board(client, proctor, session)
    states = {s["number"]: s["state"] for s in view["seats"]}
    assert states[1] == states[2] == "out_of_service" and states[3] == "assigned" and states[4] == "free"
    assert view["stats"]["seats_in_service"] == 18


async def test_a_full_room_refuses_the_next_candidate(client, proctor):
    session = await new_session(client, proctor)
    await Seat.filter(number__gt=3).update(in_service=False)
    for n in range(1, 4):
        assert (await check_in(client, proctor, session, **candidate(n))).status_code == 201
    assert_error(await check_in(client, proctor, session, **candidate(4)), 409, "room_full")


async def test_the_same_candidate_cannot_check_in_twice(client, proctor):
    session = await new_session(client, proctor)
    assert (await check_in(client, proctor, session, **candidate(1))).status_code == 201
    assert_error(await check_in(client, proctor, session, **candidate(1, booking="OTRA")), 409, "already_checked_in")


async def test_concurrent_check_ins_never_share_a_seat(client, proctor):
    """30 candidates at once for 20 seats: 20 seated on 20 different seats, 10 refused."""
    session = await new_session(client, proctor)
    responses = await asyncio.gather(*(check_in(client, proctor, session, **candidate(n)) for n in range(1, 31)))
    ok = [r.json() for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(ok) == 20 and sorted(a["seat"] for a in ok) == list(range(1, 21))
    assert all(r.status_code == 409 and r.json()["error"]["code"] == "room_full" for r in refused)
    seats = await ExamAttempt.filter(session_id=session).values_list("seat_id", flat=True)
    assert len(seats) == len(set(seats)) == 20


async def test_the_database_refuses_a_second_active_attempt_on_a_seat(client, proctor):
    """The rule is a unique index, not only the service's choice."""
    from tortoise.exceptions import IntegrityError

    session, attempt, _ = await seated(client, proctor)
    row = await ExamAttempt.get(public_id=attempt["id"])
    with pytest.raises(IntegrityError):
        await ExamAttempt.create(
            public_id="x" * 16, session_id=session, seat_id=row.seat_id, document="1111111", name="Otro",
            category="B", seed=1, question_ids=[], checked_in_at=clock.now(),
        )


async def test_late_arrival_after_the_session_starts_is_refused(client, proctor):
    session = await new_session(client, proctor, starts_in=timedelta(minutes=1))
    clock.advance(timedelta(minutes=1, seconds=1))
    assert_error(await check_in(client, proctor, session, **candidate(1)), 409, "late_arrival")
    early = await new_session(client, proctor, starts_in=timedelta(hours=3))
    assert_error(await check_in(client, proctor, early, **candidate(2)), 409, "checkin_too_early")
    assert await ExamAttempt.all().count() == 0


# ---------------------------------------------------------------- the seat's exam


async def test_seat_page_state_before_and_after_assignment(client, proctor):
    session = await new_session(client, proctor)
    token = await seat_token(client, proctor, session, 1)
    idle = (await client.get(f"/api/exam/seats/{token}")).json()
    assert idle["seat"] == 1 and idle["attempt"] is None
    await check_in(client, proctor, session, **candidate(1))
    ready = (await client.get(f"/api/exam/seats/{token}")).json()["attempt"]
    assert ready["status"] == "assigned" and ready["name"] == "Postulante Número 1"
    assert ready["total"] == QUESTIONS and ready["pass_percent"] == 80 and "questions" not in ready or not ready["questions"]


async def test_start_is_refused_before_the_session_starts(client, proctor):
    session, attempt, token = await seated(client, proctor)
    response = await client.post(f"/api/exam/seats/{token}/start", json={"attempt": attempt["id"]})
    assert_error(response, 409, "session_not_started")
    clock.advance(timedelta(minutes=5))
    state = await start(client, token, attempt["id"])
    assert state["attempt"]["status"] == "in_progress" and state["attempt"]["seconds_left"] == 30 * 60


async def test_answers_survive_a_reload_and_are_never_shown_with_the_key(client, proctor):
    session, attempt, token = await seated(client, proctor)
    clock.advance(timedelta(minutes=5))
    first = (await start(client, token, attempt["id"]))["attempt"]
    questions = first["questions"]
    assert all(set(q) == {"id", "text", "choices"} for q in questions)  # never the correct answer
    for i, q in enumerate(questions[:5]):
        assert (await answer(client, token, attempt["id"], q["id"], i % len(q["choices"]), position=i + 1)).status_code == 200
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


async def test_scoring_against_the_pass_mark(client, proctor):
    """16 of 20 right passes (80 %); 15 of 20 fails."""
    results = {}
    for n, right in ((1, 16), (2, 15)):
        session, attempt, token = await seated(client, proctor, n=n)
        clock.advance(timedelta(minutes=5))
        questions = (await start(client, token, attempt["id"]))["attempt"]["questions"]
        key = await correct_answers(q["id"] for q in questions)
        for i, q in enumerate(questions):
            choice = key[q["id"]] if i < right else (key[q["id"]] + 1) % len(q["choices"])
            assert (await answer(client, token, attempt["id"], q["id"], choice)).status_code == 200
        done = await client.post(f"/api/exam/seats/{token}/submit", json={"attempt": attempt["id"]})
        assert done.status_code == 200, done.text
        results[right] = done.json()["attempt"]["result"]
        clock.advance(timedelta(hours=1))
    assert results[16] == {"correct": 16, "total": 20, "percent": 80.0, "passed": True, "required": 16}
    assert results[15] == {"correct": 15, "total": 20, "percent": 75.0, "passed": False, "required": 16}
    rows = await ExamAttempt.filter(status=AttemptStatus.FINISHED).order_by("id").values_list("correct_count", "passed")
    assert rows == [(16, True), (15, False)]
    assert await ExamEvent.filter(kind="finished").count() == 2
    # The result SMS went to the outbox with the result (the dispatcher sends it later).
    from turnero.notifications.models import OutboundMessage

    messages = await OutboundMessage.filter(template="resultado_examen").order_by("id")
    assert [m.to for m in messages] == ["+59171234567", "+59171234567"]
    assert "APROBADO (16/20)" in messages[0].body and "REPROBADO (15/20)" in messages[1].body


async def test_no_result_message_without_a_phone(client, proctor):
    from turnero.notifications.models import OutboundMessage

    session, attempt, token = await seated(client, proctor, phone=None)
    clock.advance(timedelta(minutes=5))
    await start(client, token, attempt["id"])
    assert (await client.post(f"/api/exam/seats/{token}/submit", json={"attempt": attempt["id"]})).status_code == 200
    assert (await ExamAttempt.get(public_id=attempt["id"])).status == AttemptStatus.FINISHED
    assert await OutboundMessage.filter(template="resultado_examen").count() == 0


async def test_the_deadline_scores_the_exam_and_refuses_later_answers(client, proctor):
    session, attempt, token = await seated(client, proctor)
    clock.advance(timedelta(minutes=5))
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


async def test_overdue_attempts_are_scored_by_the_job_without_the_seat_page(client, proctor):
    from turnero.exam.service import finish_overdue

    session, attempt, token = await seated(client, proctor)
    clock.advance(timedelta(minutes=5))
    await start(client, token, attempt["id"])
    assert await finish_overdue(ExamConfig()) == 0
    clock.advance(timedelta(minutes=31))
    assert await finish_overdue(ExamConfig()) == 1
    assert (await ExamAttempt.get(public_id=attempt["id"])).status == AttemptStatus.FINISHED


async def test_invalid_answers_are_refused(client, proctor):
    session, attempt, token = await seated(client, proctor)
    clock.advance(timedelta(minutes=5))
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


async def test_concurrent_answers_to_different_questions_are_all_kept(client, proctor):
    session, attempt, token = await seated(client, proctor)
    clock.advance(timedelta(minutes=5))
    questions = (await start(client, token, attempt["id"]))["attempt"]["questions"]
    responses = await asyncio.gather(*(answer(client, token, attempt["id"], q["id"], 0) for q in questions))
    assert all(r.status_code == 200 for r in responses)
    assert await ExamAnswer.filter(attempt__public_id=attempt["id"]).count() == QUESTIONS


# ---------------------------------------------------------------- swap


async def test_swap_keeps_answers_and_the_time_left_and_retires_the_failed_seat(client, proctor):
    session, attempt, old_token = await seated(client, proctor)
    other = (await check_in(client, proctor, session, **candidate(2))).json()
    assert other["seat"] == 2
    clock.advance(timedelta(minutes=5))
    questions = (await start(client, old_token, attempt["id"]))["attempt"]["questions"]
    for q in questions[:4]:
        await answer(client, old_token, attempt["id"], q["id"], 1, position=4)
    clock.advance(timedelta(minutes=10))  # 20 minutes left
    moved = await client.post(f"/api/exam/attempts/{attempt['id']}/swap", json={"reason": "pantalla negra"},
                              headers=proctor)
    assert moved.status_code == 200, moved.text
    assert moved.json()["seat"] == 3 and moved.json()["status"] == "assigned"
    clock.advance(timedelta(minutes=4))  # walking to the new seat does not cost exam time
    # The failed seat's page no longer acts on the exam.
    assert_error(await answer(client, old_token, attempt["id"], questions[5]["id"], 0), 409, "attempt_moved")
    new_token = await seat_token(client, proctor, session, 3)
    ready = (await client.get(f"/api/exam/seats/{new_token}")).json()["attempt"]
    assert ready["status"] == "assigned" and ready["resumed"] and ready["remaining_seconds"] == 20 * 60
    resumed = (await start(client, new_token, attempt["id"]))["attempt"]
    assert resumed["seconds_left"] == 20 * 60
    assert resumed["answers"] == {str(q["id"]): 1 for q in questions[:4]} and resumed["position"] == 4
    view = await board(client, proctor, session)
    states = {s["number"]: s["state"] for s in view["seats"]}
    assert states[1] == "out_of_service" and states[3] == "in_progress" and states[2] == "assigned"
    assert await ExamEvent.filter(kind="seat_swapped").count() == 1


async def test_a_seat_in_use_cannot_be_taken_out_of_service_without_a_swap(client, proctor):
    session, attempt, token = await seated(client, proctor)
    response = await client.post(f"/api/exam/offices/{OFFICE}/rooms/{ROOM}/seats/1/out-of-service", headers=proctor)
    assert_error(response, 409, "seat_occupied")
    assert await Seat.filter(number=1, in_service=True).exists()


async def test_cancel_frees_the_seat_before_the_exam_starts(client, proctor):
    session, attempt, token = await seated(client, proctor)
    cancelled = await client.post(f"/api/exam/attempts/{attempt['id']}/cancel", json={}, headers=proctor)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await check_in(client, proctor, session, **candidate(2))).json()["seat"] == 1
    assert (await check_in(client, proctor, session, **candidate(1))).json()["seat"] == 2


# ---------------------------------------------------------------- eligibility


async def _sit_and_fail(client, proctor, n: int) -> None:
    session, attempt, token = await seated(client, proctor, n=n)
    clock.advance(timedelta(minutes=5))
    await start(client, token, attempt["id"])
    assert (await client.post(f"/api/exam/seats/{token}/submit", json={"attempt": attempt["id"]})).status_code == 200


async def test_retake_waiting_period_and_attempt_limit_at_check_in(client):
    clock.freeze(clock.now())
    proctor = await login(client, "examinador")
    await _sit_and_fail(client, proctor, n=1)
    session = await new_session(client, proctor, starts_in=timedelta(minutes=50))  # after the first one
    error = assert_error(await check_in(client, proctor, session, **candidate(1)), 409, "retake_too_soon")
    assert error["not_before"]
    eligibility = await client.get("/api/exam/eligibility?document=4800001&category=B", headers=proctor)
    assert eligibility.json()["allowed"] is False and eligibility.json()["code"] == "retake_too_soon"
    other = await client.get("/api/exam/eligibility?document=4800001&category=M", headers=proctor)
    assert other.json()["allowed"] is True  # per category
    for _ in range(2):
        clock.advance(timedelta(days=7))
        proctor = await login(client, "examinador")  # tokens last 12 h
        await _sit_and_fail(client, proctor, n=1)
    clock.advance(timedelta(days=30))
    proctor = await login(client, "examinador")
    session = await new_session(client, proctor)
    assert_error(await check_in(client, proctor, session, **candidate(1)), 409, "attempts_exhausted")
    assert await ExamAttempt.filter(document="4800001", status=AttemptStatus.FINISHED).count() == 3


# ---------------------------------------------------------------- board, auth, docs


async def test_board_statistics(client, proctor):
    session = await new_session(client, proctor, starts_in=timedelta(minutes=5))
    tokens = {}
    for n in range(1, 4):
        a = (await check_in(client, proctor, session, **candidate(n))).json()
        tokens[n] = (a["id"], await seat_token(client, proctor, session, a["seat"]))
    clock.advance(timedelta(minutes=5))
    for n, right in ((1, 20), (2, 0)):
        attempt_id, token = tokens[n]
        questions = (await start(client, token, attempt_id))["attempt"]["questions"]
        key = await correct_answers(q["id"] for q in questions)
        for q in questions:
            await answer(client, token, attempt_id, q["id"], key[q["id"]] if right else (key[q["id"]] + 1) % len(q["choices"]))
        await client.post(f"/api/exam/seats/{token}/submit", json={"attempt": attempt_id})
    await start(client, tokens[3][1], tokens[3][0])
    view = await board(client, proctor, session)
    stats = view["stats"]
    assert stats | {} == {
        "seats": 20, "seats_in_service": 20, "checked_in": 3, "in_progress": 1, "finished": 2,
        "passed": 1, "failed": 1, "pass_rate": 50.0, "attendance_rate": 15.0,
    }
    by_number = {s["number"]: s for s in view["seats"]}
    assert by_number[1]["state"] == "finished" and by_number[1]["attempt"]["passed"] is True
    assert by_number[3]["state"] == "in_progress" and by_number[3]["attempt"]["answered"] == 0


async def test_proctor_routes_need_staff_of_that_office(client, proctor):
    session = await new_session(client, proctor)
    other_office_staff = await login(client, "supervisor")  # LPZ-PRINCIPAL
    kiosk = await login(client, "kiosko")
    admin = await login(client, "admin")
    for headers, status in ((other_office_staff, 403), (kiosk, 403), ({}, 401)):
        assert_error(await client.get(f"/api/exam/sessions/{session}/board", headers=headers), status)
        assert_error(await check_in(client, headers, session, **candidate(1)), status)
        assert_error(await client.get(f"/api/exam/offices/{OFFICE}/rooms", headers=headers), status)
    assert (await client.get(f"/api/exam/sessions/{session}/board", headers=admin)).status_code == 200
    rooms = (await client.get(f"/api/exam/offices/{OFFICE}/rooms", headers=proctor)).json()
    assert rooms[0]["code"] == ROOM and len(rooms[0]["seats"]) == 20
    assert await ExamAttempt.all().count() == 0


async def test_result_event_is_published_on_the_office_bus_without_names(client, proctor):
    from turnero.displays.bus import get_bus

    session, attempt, token = await seated(client, proctor)
    clock.advance(timedelta(minutes=5))
    async with get_bus().subscribe(OFFICE) as sub:
        await start(client, token, attempt["id"])
        await client.post(f"/api/exam/seats/{token}/submit", json={"attempt": attempt["id"]})
        events = [await asyncio.wait_for(sub.get(), 2) for _ in range(2)]
    assert [e["type"] for e in events] == ["exam.started", "exam.finished"]
    assert events[1]["seat"] == 1 and events[1]["session"] == session
    assert "Postulante" not in json.dumps(events) and "4800001" not in json.dumps(events)


async def test_sessions_of_the_day_and_bad_session_input(client, proctor):
    session = await new_session(client, proctor)
    listed = (await client.get(f"/api/exam/offices/{OFFICE}/rooms/{ROOM}/sessions", headers=proctor)).json()
    assert session in [s["id"] for s in listed]
    path = f"/api/exam/offices/{OFFICE}/rooms/{ROOM}/sessions"
    starts = (clock.now() + timedelta(minutes=30)).astimezone().isoformat(timespec="seconds")
    assert_error(await client.post(path, json={"starts_at": starts}, headers=proctor), 409, "session_overlaps")
    later = (clock.now() + timedelta(minutes=60)).astimezone().isoformat(timespec="seconds")
    assert_error(await client.post(path, json={"starts_at": later}, headers=proctor), 409, "session_overlaps")
    for body in ({"starts_at": "2026-11-24T08:00:00"}, {"starts_at": "mañana"}, {"starts_at": starts, "minutes": 5}):
        assert_error(await client.post(path, json=body, headers=proctor), 422)
    assert_error(await client.get(path + "?date=ayer", headers=proctor), 422)
    assert_error(await client.post(f"/api/exam/offices/{OFFICE}/rooms/NOPE/sessions", json={"starts_at": starts},
                                   headers=proctor), 404, "room_not_found")


BAD_CHECKINS = [
    {"booking": "X", "document": "!!", "presented_document": "4800001", "name": "Ana María", "category": "B"},
    {"booking": "X", "document": "4800001", "presented_document": "4800001", "name": "Ana María", "category": "Z"},
    {"booking": "X", "document": "4800001", "presented_document": "4800001", "name": "Ana María", "category": "b"},
    {"booking": "X", "document": "4800001", "presented_document": "4800001", "name": "A", "category": "B"},
    {"booking": "X", "document": "4800001", "presented_document": "4800001", "name": "Ana", "category": "B",
     "phone": "123"},
    {"booking": "X", "document": "4800001", "presented_document": "4800001", "name": "Ana", "category": "B",
     "seat": 0},
    {"booking": "X", "document": "4800001", "presented_document": "4800001", "name": "Ana", "category": "B",
     "seat": "3"},
    {"document": "4800001", "presented_document": "4800001", "name": "Ana", "category": "B"},
]


@pytest.mark.parametrize("body", BAD_CHECKINS)
async def test_bad_check_in_bodies_are_422_and_write_nothing(client, proctor, body):
    session = await new_session(client, proctor)
    assert_error(await check_in(client, proctor, session, **body), 422)
    assert await ExamAttempt.all().count() == 0


async def test_every_exam_route_is_in_openapi(client):
    spec = (await client.get("/openapi.json")).json()
    for path, method in [
        ("/api/exam/sessions/{session}/checkins", "post"), ("/api/exam/seats/{token}/answers", "post"),
        ("/api/exam/attempts/{attempt}/swap", "post"), ("/api/exam/sessions/{session}/board", "get"),
        ("/api/exam/seats/{token}", "get"), ("/api/exam/eligibility", "get"),
    ]:
        assert method in spec["paths"][path]


GARBAGE = [b"", b"{", b"[]", b"null", b'{"attempt": "\\u0000", "question": 1e400, "choice": -1}',
           b'{"attempt": ["x"], "booking": {}, "seat": "1"}', b"x" * (70 * 1024),
           json.dumps({"attempt": "' OR 1=1 --", "question": 2**40, "choice": 2}).encode()]
SEGMENTS = ["NOPE", "%00", "-1", "0", "99999999999999999999", "A" * 2000, "%E2%80%AE"]


async def test_garbage_at_every_exam_route_is_never_a_500(client, proctor):
    from turnero.app import api_routes

    session, attempt, token = await seated(client, proctor)
    real = {"office": OFFICE, "room": ROOM, "seat": "1", "session": str(session), "attempt": attempt["id"],
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
