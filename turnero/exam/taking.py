"""The seat's exam: which attempt a seat shows, starting the clock, answers, handing
in, and the scoring (with the result SMS through the outbox)."""

from __future__ import annotations

from datetime import timedelta

from tortoise.transactions import in_transaction

from turnero.core import clock, hooks
from turnero.core.auth import Principal
from turnero.core.db import placeholders
from turnero.core.errors import conflict, invalid
from turnero.core.models import Office
from turnero.exam import booking, policy, seat_links
from turnero.exam.models import AttemptStatus, ExamAnswer, ExamAttempt, Question, Seat
from turnero.exam.policy import ExamConfig
from turnero.exam.rooms import exam_event, get_attempt, get_session, locked_attempt, publish_seat, session_start
from turnero.exam.seat_links import RESULT_SHOWN_FOR
from turnero.scheduler.models import AppointmentStatus
from turnero.scheduler.places import record_event


async def current_attempt(seat: Seat) -> ExamAttempt | None:
    """The attempt the seat shows: an active one, else a result finished moments ago.
    Through a link (get_seat_by_token): that link's attempt only, while it is alive."""
    if seat_links.opened_by_link(seat):
        return await seat_links.linked_attempt(seat)
    # Running first; then the seated candidate of the earliest session (the next
    # session's candidates may check in while this one runs); a result only when no one
    # else is seated there (it shows a name and a score).
    attempt = await ExamAttempt.filter(seat_id=seat.id, status=AttemptStatus.IN_PROGRESS).first()
    if attempt is None:
        attempt = await ExamAttempt.filter(seat_id=seat.id, status=AttemptStatus.ASSIGNED).order_by(
            "session__starts_at", "id").first()
    if attempt is None:
        attempt = await ExamAttempt.filter(
            seat_id=seat.id, status=AttemptStatus.FINISHED, finished_at__gte=clock.now() - RESULT_SHOWN_FOR
        ).order_by("-finished_at").first()
    return attempt


async def seat_attempt(seat: Seat, attempt_public: str) -> ExamAttempt:
    """The attempt a seat page acts on: it must still be this seat's (after a swap the
    old seat's page gets 409 and reloads) and the one its link was made for (403)."""
    attempt = await get_attempt(attempt_public)
    if seat_links.opened_by_link(seat):
        seat_links.check_link_reaches(seat, attempt)
    if attempt.seat_id != seat.id:
        raise conflict("attempt_moved", "Este examen ya no está asignado a esta computadora.")
    return attempt


async def start_attempt(seat: Seat, attempt_public: str, config: ExamConfig) -> ExamAttempt:
    """Start the candidate's clock (or restart it with the time left after a swap);
    allowed from the session's start."""
    attempt = await seat_attempt(seat, attempt_public)
    session = await get_session(attempt.session_id)
    now = clock.now()
    if now < session_start(session):
        raise conflict("session_not_started", "El examen aún no comenzó: espere la indicación del examinador.")
    async with in_transaction():
        locked = await locked_attempt(attempt.id)
        if locked.status == AttemptStatus.IN_PROGRESS:
            return locked  # a double tap, or a reload: already running
        if locked.status != AttemptStatus.ASSIGNED or locked.seat_id != seat.id:
            raise conflict("attempt_not_active", "Este examen ya terminó.")
        remaining = timedelta(seconds=locked.remaining_seconds) if locked.remaining_seconds is not None else None
        deadline = policy.deadline(now, config.duration, remaining)
        await ExamAttempt.filter(id=locked.id).update(
            status=AttemptStatus.IN_PROGRESS, started_at=locked.started_at or now, deadline=deadline,
            remaining_seconds=None,
        )
        await exam_event("resumed" if locked.started_at else "started", attempt=locked, seat_id=seat.id,
                     seconds=int((deadline - now).total_seconds()))
    attempt = await ExamAttempt.get(id=attempt.id)
    await publish_seat(session, attempt, "exam.started")
    return attempt


async def record_answer(seat: Seat, attempt_public: str, question_id: int, choice: int,
                        position: int | None, config: ExamConfig) -> ExamAttempt:
    """Save one answer (a later answer to the same question replaces it) and where the
    candidate is. After the deadline the attempt is scored and the answer refused."""
    attempt = await seat_attempt(seat, attempt_public)
    if question_id not in attempt.question_ids:
        raise invalid("Esa pregunta no es parte de este examen.", code="question_not_in_exam")
    question = await Question.get(id=question_id)
    if not 0 <= choice < len(question.choices):
        raise invalid("Esa opción no existe para esta pregunta.", code="choice_out_of_range")
    if position is not None and not 0 <= position < len(attempt.question_ids):
        raise invalid("Posición fuera del examen.", code="position_out_of_range")
    now = clock.now()
    async with in_transaction() as conn:
        updated = await ExamAttempt.filter(
            id=attempt.id, status=AttemptStatus.IN_PROGRESS, seat_id=seat.id, deadline__gt=now
        ).update(position=position if position is not None else attempt.position)
        if updated:
            await conn.execute_query(
                placeholders(
                    'INSERT INTO "exam_answer" ("attempt_id", "question_id", "choice", "answered_at")'
                    " VALUES (?, ?, ?, ?) ON CONFLICT (\"attempt_id\", \"question_id\")"
                    ' DO UPDATE SET "choice" = excluded."choice", "answered_at" = excluded."answered_at"'
                ),
                [attempt.id, question_id, choice, now],
            )
    if not updated:
        attempt = await ExamAttempt.get(id=attempt.id)
        if attempt.status == AttemptStatus.IN_PROGRESS and attempt.deadline and attempt.deadline <= now:
            await finish_attempt(attempt, "time_over", config)
            raise conflict("time_over", "El tiempo del examen terminó; sus respuestas anteriores quedaron guardadas.")
        if attempt.status == AttemptStatus.ASSIGNED:
            raise conflict("attempt_not_started", "Presione «Comenzar» para iniciar el examen.")
        raise conflict("attempt_not_active", "Este examen ya terminó.")
    return await ExamAttempt.get(id=attempt.id)


async def submit_attempt(seat: Seat, attempt_public: str, config: ExamConfig) -> ExamAttempt:
    attempt = await seat_attempt(seat, attempt_public)
    if attempt.status == AttemptStatus.FINISHED:
        return attempt  # auto-submit and a click at the same moment
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise conflict("attempt_not_started", "El examen no está en curso.")
    reason = "time_over" if attempt.deadline and attempt.deadline <= clock.now() else "submitted"
    return await finish_attempt(attempt, reason, config)


async def finish_attempt(attempt: ExamAttempt, reason: str, config: ExamConfig,
                         actor: Principal | None = None) -> ExamAttempt:
    """Score and close an attempt in one transaction: claim it (only one finisher wins),
    read its answers, record the result, the audit event, the cita's end and the
    result SMS (the outbox)."""
    now = clock.now()
    session = await get_session(attempt.session_id)
    async with in_transaction() as conn:
        claimed = await ExamAttempt.filter(id=attempt.id, status=AttemptStatus.IN_PROGRESS).update(
            status=AttemptStatus.FINISHED, finished_at=now
        )
        if not claimed:
            return await ExamAttempt.get(id=attempt.id)
        fresh = await ExamAttempt.get(id=attempt.id)
        answers = dict(await ExamAnswer.filter(attempt_id=attempt.id).values_list("question_id", "choice"))
        correct = dict(await Question.filter(id__in=fresh.question_ids).values_list("id", "correct"))
        result = policy.score(fresh.question_ids, correct, answers, config.pass_mark)
        await ExamAttempt.filter(id=attempt.id).update(
            correct_count=result.correct, total=result.total, score_percent=result.percent, passed=result.passed,
        )
        await exam_event("finished", attempt=fresh, seat_id=fresh.seat_id, actor=actor, reason=reason,
                     correct=result.correct, total=result.total, passed=result.passed)
        # The cita is done (the citas engine's state and event).
        await conn.execute_query_dict(
            placeholders("UPDATE appointment SET status = ? WHERE id = ? AND status = ? RETURNING id"),
            [AppointmentStatus.DONE.value, fresh.appointment_id, AppointmentStatus.CHECKED_IN.value],
        )
        await record_event(conn, fresh.appointment_id, "done", now, actor, {
            "exam_attempt": fresh.public_id, "passed": result.passed, "correct": result.correct,
            "total": result.total,
        })
        fresh = await ExamAttempt.get(id=attempt.id)
        await notify_result(conn, fresh, session.room.office)
    await publish_seat(session, fresh, "exam.finished")
    return fresh


async def notify_result(conn, attempt: ExamAttempt, office: Office) -> None:
    """ExamScored, inside the scoring transaction: its reactions (the result SMS, an
    outbox row the dispatcher sends) commit or roll back with the result. Only for an
    attempt with a phone: nobody else reacts, and it saves the exam service's lookup."""
    if not attempt.phone:
        return
    service = await booking.exam_service(office)
    await hooks.emit(conn, hooks.ExamScored(
        attempt.public_id, attempt.phone, office, attempt.category, passed=bool(attempt.passed),
        correct=attempt.correct_count or 0, total=attempt.total or 0,
        service_code=service.code if service else None, appointment_id=attempt.appointment_id,
    ))


async def finish_overdue(config: ExamConfig) -> int:
    """Score every attempt whose time is over (the seat page may be closed): the job."""
    overdue = await ExamAttempt.filter(status=AttemptStatus.IN_PROGRESS, deadline__lte=clock.now())
    for attempt in overdue:
        await finish_attempt(attempt, "time_over", config)
    return len(overdue)


