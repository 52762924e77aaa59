"""The proctor's check-in: the candidate's cita is checked in and an attempt holds a
seat, with the question draw, in one transaction."""

from __future__ import annotations

import secrets

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.db import placeholders
from turnero.core.errors import ApiError, conflict
from turnero.core.ids import public_id
from turnero.exam import booking, policy
from turnero.exam.eligibility import check_eligibility
from turnero.exam.models import SEAT_HOLDING, AttemptStatus, ExamAttempt, ExamSession, Question, Seat
from turnero.exam.policy import ExamConfig
from turnero.exam.rooms import (
    ASSIGN_RETRIES,
    exam_event,
    publish_seat,
    room_seat,
    seat_number_of,
    session_checkin_refusal,
)
from turnero.scheduler.models import AppointmentStatus
from turnero.scheduler.places import record_event


async def check_in(
    session: ExamSession,
    reference: str | None,
    presented_document: str,
    *,
    seat_number: int | None = None,
    actor: Principal | None,
    config: ExamConfig,
) -> ExamAttempt:
    """The proctor checks a candidate in and gives them a seat: the cita (its code, or
    found by the presented document among this session's bookings) becomes
    `checked_in` — the citas engine's own state and event — and an attempt holds a
    seat, in one transaction.

    Refuses (ApiError, nothing written): no such cita (404 `appointment_not_found`),
    a cita of another session (409 `wrong_session`); the presented document does not
    match the booking (409 `document_mismatch`); the cita is not `booked` (409
    `already_checked_in` / `not_checkable`); check-in outside its window, e.g. after
    the session started (409 `late_arrival` / `checkin_too_early`); the candidate is not
    eligible (409 `already_passed` / `attempts_exhausted` / `retake_too_soon`); the
    question bank is too small (409 `question_bank_too_small`); no free seat in
    service (409 `room_full`); the chosen seat is out of service or taken (409
    `seat_out_of_service` / `seat_taken`).

    Seats: the lowest-numbered free seat in service, or `seat_number`. Two check-ins
    never get one seat: a partial unique index on the session's active (session, seat)
    pairs decides, and a check-in that loses the race tries the next free seat.
    The question draw is made here, from a per-attempt seed.
    """
    appt = await booking.find_booking(session, reference, presented_document)
    if not booking.identity_matches(appt, presented_document):
        raise conflict("document_mismatch", "El documento presentado no coincide con el de la reserva.")
    if appt.status in (AppointmentStatus.CHECKED_IN, AppointmentStatus.DONE):
        raise conflict("already_checked_in", "El postulante ya está registrado en esta sesión.")
    if appt.status != AppointmentStatus.BOOKED:
        raise conflict("not_checkable", f"La reserva está «{appt.status.value}»: no puede rendir en esta sesión.")
    category = appt.category or ""
    if category not in policy.CATEGORIES:
        raise conflict("unknown_category", "La reserva no indica la categoría de licencia.")
    now = clock.now()
    refusal = session_checkin_refusal(session, now, config)
    if refusal:
        raise conflict(*refusal)
    verdict = await check_eligibility(appt.document_number, category, config, now)
    if not verdict.allowed:
        extra = {"not_before": clock.iso(verdict.not_before, session.room.office.timezone)} if verdict.not_before else {}
        raise ApiError(409, verdict.code, verdict.message, **extra)
    pool = await Question.filter(active=True, categories__contains=f"|{category}|").values_list("id", flat=True)
    if len(pool) < config.questions_per_exam:
        raise conflict(
            "question_bank_too_small",
            f"El banco tiene {len(pool)} preguntas de la categoría {category}; se necesitan "
            f"{config.questions_per_exam}.",
        )
    seed = secrets.randbits(62)
    drawn = policy.draw_questions(pool, config.questions_per_exam, seed)
    if seat_number is not None:
        seat = await room_seat(session.room, seat_number)
        if not seat.in_service:
            raise conflict("seat_out_of_service", f"La computadora {seat_number} está fuera de servicio.")
    attempt = None
    for _ in range(ASSIGN_RETRIES):
        try:
            attempt = await _check_in_once(session, appt, seat_number, seed, drawn, actor, now)
            break
        except SeatRace:
            if seat_number is not None:
                raise conflict("seat_taken", f"La computadora {seat_number} ya está asignada.") from None
    if attempt is None:
        raise conflict("room_busy", "Muchos registros a la vez; intente nuevamente.")
    await publish_seat(session, attempt, "exam.checked_in")
    return attempt


class SeatRace(Exception):
    """Another check-in took the chosen seat first (unique index): choose again."""


def choose_seat(seats: list[tuple], taken: list[int], seat_number: int | None, unavailable: str) -> int:
    """The seat asked for by number (in service and free), or the lowest free one;
    `seats` are (id, number, in_service) rows, `taken` the ids already held."""
    if seat_number is not None:
        seat_id = next((sid for sid, n, ok in seats if n == seat_number and ok), None)
        if seat_id is None:
            raise conflict("seat_out_of_service", f"La computadora {seat_number} {unavailable}.")
        if seat_id in taken:
            raise SeatRace()
        return seat_id
    seat_id = policy.lowest_free_seat(seats, taken)
    if seat_id is None:
        raise conflict("room_full", "No queda ninguna computadora libre en servicio en la sala.")
    return seat_id


async def _check_in_once(session, appt, seat_number, seed, drawn, actor, now) -> ExamAttempt:
    try:
        async with in_transaction() as conn:
            taken = await ExamAttempt.filter(
                session_id=session.id, status__in=SEAT_HOLDING, seat_id__isnull=False
            ).values_list("seat_id", flat=True)
            seats = await Seat.filter(room_id=session.room_id).values_list("id", "number", "in_service")
            seat_id = choose_seat(seats, taken, seat_number, "está fuera de servicio")
            # The cita's own check-in (the citas engine's state): once, whoever wins.
            claimed = await conn.execute_query_dict(
                placeholders("UPDATE appointment SET status = ?, checked_in_at = ? WHERE id = ? AND status = ?"
                             " RETURNING id"),
                [AppointmentStatus.CHECKED_IN.value, now, appt.id, AppointmentStatus.BOOKED.value],
            )
            if not claimed:
                raise conflict("already_checked_in", "El postulante ya está registrado en esta sesión.")
            attempt = await ExamAttempt.create(
                public_id=public_id(), session_id=session.id, seat_id=seat_id, seat_token=public_id(),
                appointment_id=appt.id, booking_ref=appt.code,
                document=appt.document_number, name=appt.name, phone=appt.phone, category=appt.category,
                status=AttemptStatus.ASSIGNED, seed=seed, question_ids=drawn, position=0, checked_in_at=now,
            )
            await record_event(conn, appt.id, "checked_in", now, actor, {"exam_attempt": attempt.public_id,
                                                                  "seat": await seat_number_of(seat_id)})
            await exam_event("checked_in", attempt=attempt, seat_id=seat_id, actor=actor,
                         booking=appt.code, category=appt.category)
            return attempt
    except IntegrityError as exc:
        # Which unique rule? Document or appointment: the same candidate twice.
        message = str(exc).lower()
        if "document" in message or "appointment" in message:
            raise conflict("already_checked_in", "El postulante ya está registrado en esta sesión.") from None
        if "seat" in message or "unique" in message:
            raise SeatRace() from None
        raise


