"""What the exam API and pages show: the seat's kiosk view, the proctor's room board,
an attempt."""

from __future__ import annotations

from turnero.core import clock
from turnero.core.db import placeholders
from turnero.exam import policy
from turnero.exam.models import SEAT_HOLDING, AttemptStatus, ExamAnswer, ExamAttempt, ExamSession, Question, Seat
from turnero.exam.policy import ExamConfig
from turnero.exam.rooms import get_session, seat_number_of, session_checkin_refusal, session_start
from turnero.exam.seat_links import seat_link
from turnero.exam.taking import current_attempt, finish_attempt
from turnero.scheduler.models import Appointment, Slot


async def seat_view(seat: Seat, config: ExamConfig, attempt: ExamAttempt | None = None) -> dict:
    """What the seat's kiosk page shows (its current attempt, or `attempt`, e.g. the
    one just handed in). Never the correct answers."""
    attempt = attempt or await current_attempt(seat)
    if attempt and attempt.status == AttemptStatus.IN_PROGRESS and attempt.deadline <= clock.now():
        attempt = await finish_attempt(attempt, "time_over", config)
    view = {
        "seat": seat.number, "room": seat.room.code, "room_name": seat.room.name,
        "office": seat.room.office.code, "in_service": seat.in_service, "attempt": None,
    }
    if attempt is None:
        return view
    session = await get_session(attempt.session_id)
    a = {
        "id": attempt.public_id, "name": attempt.name, "category": attempt.category,
        "category_name": policy.CATEGORY_NAMES[attempt.category], "status": str(attempt.status),
        "session_starts_at": clock.iso(session.starts_at, seat.room.office.timezone),
        "duration_seconds": int(config.duration.total_seconds()),
        "remaining_seconds": attempt.remaining_seconds, "resumed": attempt.started_at is not None,
        "total": len(attempt.question_ids),
        "pass_percent": round(config.pass_mark * 100),
    }
    if attempt.status == AttemptStatus.IN_PROGRESS:
        questions = {q.id: q for q in await Question.filter(id__in=attempt.question_ids)}
        answers = dict(await ExamAnswer.filter(attempt_id=attempt.id).values_list("question_id", "choice"))
        a.update(
            deadline=clock.iso(attempt.deadline, seat.room.office.timezone),
            seconds_left=policy.seconds_left(attempt.deadline, clock.now()),
            position=attempt.position,
            questions=[{"id": qid, "text": questions[qid].text, "choices": questions[qid].choices}
                       for qid in attempt.question_ids],
            answers={str(k): v for k, v in answers.items()},
        )
    elif attempt.status == AttemptStatus.FINISHED:
        a.update(result={
            "correct": attempt.correct_count, "total": attempt.total, "percent": attempt.score_percent,
            "passed": attempt.passed,
            "required": policy.required_correct(attempt.total or 0, config.pass_mark),
        })
    view["attempt"] = a
    return view


async def board_view(session: ExamSession, config: ExamConfig) -> dict:
    """The proctor's room board for a session: every seat's state and the statistics."""
    room = session.room
    tz = room.office.timezone
    seats = await Seat.filter(room_id=room.id).order_by("number")
    attempts = await ExamAttempt.filter(session_id=session.id).order_by("id")
    counts = await _answer_counts(session.id)
    by_seat = {a.seat_id: a for a in attempts if a.status in SEAT_HOLDING and a.seat_id}
    now = clock.now()
    seat_rows = []
    for seat in seats:
        attempt = by_seat.get(seat.id)
        if attempt is not None:
            state = str(attempt.status)
        else:
            state = "free" if seat.in_service else "out_of_service"
        row = {"number": seat.number, "state": state, "in_service": seat.in_service, "token": seat_link(seat, attempt),
               "attempt": None}
        if attempt is not None:
            row["attempt"] = {
                "id": attempt.public_id, "name": attempt.name, "document": attempt.document,
                "category": attempt.category, "booking": attempt.booking_ref,
                "answered": counts.get(attempt.id, 0), "total": len(attempt.question_ids),
                "seconds_left": policy.seconds_left(attempt.deadline, now) if attempt.deadline else
                attempt.remaining_seconds,
                "passed": attempt.passed, "percent": attempt.score_percent,
            }
        seat_rows.append(row)
    seated = [a for a in attempts if a.status != AttemptStatus.CANCELLED]
    finished = [a for a in seated if a.status == AttemptStatus.FINISHED]
    passed = sum(1 for a in finished if a.passed)
    in_service = sum(1 for s in seats if s.in_service)
    # The session's citas (the scheduler's slot): who is expected, who did not come.
    slot = await Slot.get(id=session.slot_id)
    citas = await Appointment.filter(slot_id=session.slot_id).exclude(status="cancelled").order_by("name", "id")
    expected = [a for a in citas if a.status == "booked"]
    no_shows = sum(1 for a in citas if a.status == "no_show")
    return {
        "session": session.id, "room": room.code, "room_name": room.name, "office": room.office.code,
        "starts_at": clock.iso(session.starts_at, tz), "ends_at": clock.iso(session.ends_at, tz), "slot_id": session.slot_id,
        "checkin_open": session_checkin_refusal(session, now, config) is None,
        "started": now >= session_start(session), "opened_at": clock.iso(session.opened_at, tz),
        "places": slot.capacity, "seats": seat_rows,
        "expected": [
            {"code": a.code, "name": a.name, "document": a.document_number
             + (f"-{a.document_complement}" if a.document_complement else ""), "category": a.category}
            for a in expected
        ],
        "stats": {
            "seats": len(seats), "seats_in_service": in_service, "booked": len(citas),
            "expected": len(expected), "no_shows": no_shows,
            "checked_in": len(seated), "in_progress": sum(1 for a in seated if a.status == AttemptStatus.IN_PROGRESS),
            "finished": len(finished), "passed": passed, "failed": len(finished) - passed,
            "pass_rate": round(100 * passed / len(finished), 1) if finished else None,
            # Of the candidates who booked this session, how many came.
            "attendance_rate": round(100 * len(seated) / len(citas), 1) if citas else None,
        },
    }


async def _answer_counts(session_id: int) -> dict[int, int]:
    rows = await ExamAnswer._meta.db.execute_query_dict(
        placeholders(
            'SELECT a."attempt_id" AS attempt_id, COUNT(*) AS n FROM "exam_answer" a'
            ' JOIN "exam_attempt" t ON t."id" = a."attempt_id" WHERE t."session_id" = ? GROUP BY a."attempt_id"'
        ),
        [session_id],
    )
    return {int(r["attempt_id"]): int(r["n"]) for r in rows}


def attempt_view(attempt: ExamAttempt, seat_number: int | None = None) -> dict:
    return {
        "id": attempt.public_id, "session": attempt.session_id, "seat": seat_number,
        "booking": attempt.booking_ref, "document": attempt.document, "name": attempt.name,
        "category": attempt.category, "status": str(attempt.status),
        "checked_in_at": clock.iso(attempt.checked_in_at), "started_at": clock.iso(attempt.started_at),
        "deadline": clock.iso(attempt.deadline), "finished_at": clock.iso(attempt.finished_at),
        "correct": attempt.correct_count, "total": attempt.total, "percent": attempt.score_percent,
        "passed": attempt.passed,
    }


async def attempt_view_loaded(attempt: ExamAttempt) -> dict:
    return attempt_view(attempt, await seat_number_of(attempt.seat_id))


