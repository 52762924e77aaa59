"""Moving a candidate whose computer failed to another seat, and undoing a check-in
that was a mistake."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.db import placeholders
from turnero.core.errors import conflict
from turnero.core.ids import public_id
from turnero.exam import booking, policy
from turnero.exam.checkin import SeatRace, choose_seat
from turnero.exam.models import SEAT_HOLDING, AttemptStatus, ExamAttempt, ExamSession, Seat
from turnero.exam.rooms import (
    ACTIVE,
    ASSIGN_RETRIES,
    exam_event,
    get_session,
    locked_attempt,
    publish_seat,
    room_seat,
)
from turnero.scheduler.models import AppointmentStatus
from turnero.scheduler.places import record_event


async def swap_seat(attempt: ExamAttempt, *, seat_number: int | None = None, actor: Principal | None,
                    reason: str = "") -> ExamAttempt:
    """Move a candidate whose computer failed to another seat: the failed seat goes out
    of service, the answers stay, and the time left is kept — the clock stops now and
    restarts when the candidate presses «Continuar» on the new seat."""
    session = await get_session(attempt.session_id)
    if seat_number is not None:
        target = await room_seat(session.room, seat_number)
        if not target.in_service:
            raise conflict("seat_out_of_service", f"La computadora {seat_number} está fuera de servicio.")
    for _ in range(ASSIGN_RETRIES):
        try:
            moved = await _swap_once(session, attempt.id, seat_number, actor, reason)
            break
        except SeatRace:
            if seat_number is not None:
                raise conflict("seat_taken", f"La computadora {seat_number} ya está asignada.") from None
    else:
        raise conflict("room_busy", "Muchos cambios a la vez; intente nuevamente.")
    await publish_seat(session, moved, "exam.seat_swapped")
    return moved


async def _swap_once(session: ExamSession, attempt_id: int, seat_number, actor, reason) -> ExamAttempt:
    now = clock.now()
    try:
        async with in_transaction() as conn:
            attempt = await locked_attempt(attempt_id)
            if attempt.status not in ACTIVE:
                raise conflict("attempt_not_active", "El examen de este postulante ya terminó o fue anulado.")
            old_seat_id = attempt.seat_id
            taken = await ExamAttempt.filter(
                session_id=session.id, status__in=SEAT_HOLDING, seat_id__isnull=False
            ).values_list("seat_id", flat=True)
            seats = [
                s for s in await Seat.filter(room_id=session.room_id).values_list("id", "number", "in_service")
                if s[0] != old_seat_id
            ]
            seat_id = choose_seat(seats, taken, seat_number, "no está disponible")
            changes: dict = {"seat_id": seat_id, "seat_token": public_id()}  # the old seat's link is dead
            if attempt.status == AttemptStatus.IN_PROGRESS:
                changes.update(status=AttemptStatus.ASSIGNED, deadline=None,
                               remaining_seconds=policy.seconds_left(attempt.deadline, now))
            await ExamAttempt.filter(id=attempt.id).update(**changes)
            if old_seat_id is not None:
                retired = await Seat.filter(id=old_seat_id, in_service=True).update(in_service=False)
                await exam_event("seat.out_of_service", seat_id=old_seat_id, actor=actor, reason=reason or "swap")
                if retired:  # one seat less for the sessions ahead
                    await booking.seats_changed(conn, session.room, actor)
            await exam_event("seat_swapped", attempt=attempt, seat_id=seat_id, actor=actor, from_seat=old_seat_id,
                         reason=reason, remaining_seconds=changes.get("remaining_seconds"))
    except IntegrityError:
        raise SeatRace() from None
    return await ExamAttempt.get(id=attempt_id)

async def cancel_attempt(attempt: ExamAttempt, actor: Principal | None, reason: str = "") -> ExamAttempt:
    """Release a check-in that was a mistake (the exam not started): frees the seat."""
    async with in_transaction() as conn:
        updated = await ExamAttempt.filter(id=attempt.id, status=AttemptStatus.ASSIGNED, started_at__isnull=True
                                           ).update(status=AttemptStatus.CANCELLED, seat_token=None)
        if not updated:
            raise conflict("attempt_not_cancellable", "Solo se anula un registro cuyo examen no empezó.")
        await exam_event("cancelled", attempt=attempt, seat_id=attempt.seat_id, actor=actor, reason=reason)
        # The cita is booked again: the right candidate can still be checked in.
        await conn.execute_query_dict(
            placeholders("UPDATE appointment SET status = ?, checked_in_at = NULL WHERE id = ? AND status = ?"
                         " RETURNING id"),
            [AppointmentStatus.BOOKED.value, attempt.appointment_id, AppointmentStatus.CHECKED_IN.value],
        )
        await record_event(conn, attempt.appointment_id, "checkin_undone", clock.now(), actor,
                           {"exam_attempt": attempt.public_id, "reason": reason})
    attempt = await ExamAttempt.get(id=attempt.id)
    await publish_seat(await get_session(attempt.session_id), attempt, "exam.cancelled")
    return attempt


