"""Exam room operations: rooms and seats, sessions, check-in with seat assignment,
the seat's exam (start, answers, submit, automatic scoring), seat swaps, the board.

Each operation is one database transaction with its audit event (`ExamEvent`, and the
cita's `AppointmentEvent` when the cita changes state); the bus event goes out after
commit. A session is a scheduler slot and a place is a cita (see booking.py): this
module takes over at the proctor's check-in (`check_in`), which checks the cita in.
"""

from __future__ import annotations

import logging
import secrets
from datetime import date, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.db import is_postgres, placeholders
from turnero.core.errors import ApiError, conflict, invalid, not_found
from turnero.core.ids import public_id
from turnero.core.models import Office
from turnero.core.service import can_match
from turnero.displays.bus import publish_office_event
from turnero.exam import booking, policy, seat_links
from turnero.exam.models import (
    SEAT_HOLDING,
    AttemptStatus,
    ExamAnswer,
    ExamAttempt,
    ExamEvent,
    ExamRoom,
    ExamSession,
    Question,
    Seat,
)
from turnero.exam.policy import ExamConfig
from turnero.exam.seat_links import RESULT_SHOWN_FOR, seat_link

log = logging.getLogger("turnero.exam")

ACTIVE = (AttemptStatus.ASSIGNED, AttemptStatus.IN_PROGRESS)
_ASSIGN_RETRIES = 60


def _actor_id(actor: Principal | None) -> int | None:
    return actor.user_id if actor else None


def _iso(at: datetime | None, tz: str | None = None) -> str | None:
    """ISO 8601 with offset: in the office's zone `tz` when given (as the API shows
    times), else UTC."""
    if at is None:
        return None
    return (clock.local(at, tz) if tz else at).isoformat(timespec="seconds")


async def _event(kind: str, *, attempt: ExamAttempt | None = None, seat_id: int | None = None,
                 actor: Principal | None = None, **data) -> None:
    await ExamEvent.create(
        attempt_id=attempt.id if attempt else None, seat_id=seat_id, kind=kind, at=clock.now(),
        user_id=_actor_id(actor), data=data,
    )


# ---------------------------------------------------------------- rooms and seats


async def create_room(office: Office, code: str, name: str, seats: int) -> ExamRoom:
    """A room with seats numbered 1..`seats`, each with its own kiosk link token."""
    async with in_transaction():
        room = await ExamRoom.create(office=office, code=code, name=name)
        await Seat.bulk_create(
            [Seat(room=room, number=n, in_service=True, token=public_id()) for n in range(1, seats + 1)]
        )
    return room


async def get_room(office: Office, code: str) -> ExamRoom:
    room = await ExamRoom.get_or_none(office_id=office.id, code=code) if can_match(ExamRoom, "code", code) else None
    if room is None:
        raise not_found("room_not_found", f"No existe la sala de examen {code!r} en {office.code}.")
    room.office = office
    return room


async def office_rooms(office: Office) -> list[ExamRoom]:
    return await ExamRoom.filter(office_id=office.id).order_by("code").prefetch_related("seats")


async def _seat(room: ExamRoom, number: int) -> Seat:
    seat = await Seat.get_or_none(room_id=room.id, number=number)
    if seat is None:
        raise not_found("seat_not_found", f"No existe la computadora {number} en la sala {room.code}.")
    return seat


async def set_seat_in_service(room: ExamRoom, number: int, in_service: bool, actor: Principal | None) -> dict:
    """Take a seat out of service, or back. A seat holding a candidate who has not
    finished is refused: swap the candidate to another seat (which also takes the
    failed seat out of service) instead. In the same transaction the places of every
    session not started yet follow the seats in service, and bookings that no longer
    fit are moved (or cancelled), with notice (booking.seats_changed)."""
    seat = await _seat(room, number)
    changes = {"moved": 0, "cancelled": 0}
    async with in_transaction() as conn:
        if not in_service:
            busy = await ExamAttempt.filter(seat_id=seat.id, status__in=ACTIVE).exists()
            if busy:
                raise conflict(
                    "seat_occupied",
                    f"La computadora {number} tiene un postulante asignado: cámbielo de computadora primero.",
                )
        updated = await Seat.filter(id=seat.id, in_service=not in_service).update(in_service=in_service)
        if updated:
            await _event("seat.in_service" if in_service else "seat.out_of_service", seat_id=seat.id, actor=actor,
                         number=number)
            changes = await booking.seats_changed(conn, room, actor)
    if updated:
        await publish_office_event(room.office.code, {"type": "exam.seat_changed", "room": room.code,
                                                      "seat": number, "in_service": in_service})
    return {"number": number, "in_service": in_service, "places": await booking.places(room.office),
            "moved": changes["moved"], "cancelled": changes["cancelled"]}


# ---------------------------------------------------------------- sessions


async def create_session(room: ExamRoom, starts_at: datetime, duration: timedelta, config=None) -> ExamSession:
    """An extra session (a new slot of the office's exam service)."""
    return await booking.extra_session(room, starts_at, duration, config)


async def get_session(session_id: str | int) -> ExamSession:
    """A session with its room and office loaded; 404 for anything but a known id."""
    sid = _int_id(session_id)
    session = await ExamSession.get_or_none(id=sid).select_related("room", "room__office") if sid else None
    if session is None:
        raise not_found("session_not_found", f"No existe la sesión de examen {session_id!r}.")
    return session


def session_start(session: ExamSession) -> datetime:
    """When the sitting starts: its time, or earlier if the proctor started it."""
    return min(session.starts_at, session.opened_at) if session.opened_at else session.starts_at


def _checkin_refusal(session: ExamSession, now: datetime, config: ExamConfig) -> tuple[str, str] | None:
    if session.opened_at is not None and now >= session.opened_at:
        return "late_arrival", "El examen ya comenzó: no se admiten postulantes que llegan tarde."
    return policy.checkin_refusal(now, session.starts_at, config)


async def open_session(session: ExamSession, actor: Principal | None, config: ExamConfig) -> ExamSession:
    """The proctor starts the sitting now, ahead of its time (everyone expected is
    seated): seats may start their exam, and check-in closes (late arrivals refused).
    Only once check-in is open; a second call changes nothing."""
    now = clock.now()
    if now >= session_start(session):
        return session
    if policy.checkin_refusal(now, session.starts_at, config) is not None:
        raise conflict("checkin_too_early", "La sesión solo puede iniciarse una vez abierto el registro.")
    async with in_transaction():
        updated = await ExamSession.filter(id=session.id, opened_at__isnull=True).update(opened_at=now)
        if updated:
            await ExamEvent.create(kind="session.opened", at=now, user_id=_actor_id(actor),
                                   data={"session": session.id})
    fresh = await get_session(session.id)
    if updated:
        await publish_office_event(fresh.room.office.code, {"type": "exam.session_opened", "session": session.id,
                                                            "room": fresh.room.code})
    return fresh


def _int_id(value) -> int | None:
    if isinstance(value, int):
        return value if 0 < value < 2**31 else None
    if isinstance(value, str) and value.isdigit() and len(value) <= 9:
        return int(value) or None
    return None


async def day_sessions(room: ExamRoom, day: date | None = None, config=None) -> list[ExamSession]:
    """The room's sessions on an office-local day (today if None), by start time."""
    return await booking.sessions_of_day(room, day, config)


# ---------------------------------------------------------------- eligibility


async def past_attempts(document: str, category: str) -> list[policy.PastAttempt]:
    rows = await ExamAttempt.filter(
        document=document, category=category, status=AttemptStatus.FINISHED
    ).values_list("finished_at", "passed")
    return [policy.PastAttempt(finished_at, bool(passed)) for finished_at, passed in rows]


async def check_eligibility(document: str, category: str, config: ExamConfig,
                            now: datetime | None = None) -> policy.Eligibility:
    """For the booking engine too: may this document book or sit an exam of `category`?"""
    return policy.eligibility(await past_attempts(document, category), now or clock.now(), config)


# ---------------------------------------------------------------- check-in


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
    from turnero.scheduler.models import AppointmentStatus

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
    refusal = _checkin_refusal(session, now, config)
    if refusal:
        raise conflict(*refusal)
    verdict = await check_eligibility(appt.document_number, category, config, now)
    if not verdict.allowed:
        extra = {"not_before": _iso(verdict.not_before, session.room.office.timezone)} if verdict.not_before else {}
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
        seat = await _seat(session.room, seat_number)
        if not seat.in_service:
            raise conflict("seat_out_of_service", f"La computadora {seat_number} está fuera de servicio.")
    attempt = None
    for _ in range(_ASSIGN_RETRIES):
        try:
            attempt = await _check_in_once(session, appt, seat_number, seed, drawn, actor, now)
            break
        except _SeatRace:
            if seat_number is not None:
                raise conflict("seat_taken", f"La computadora {seat_number} ya está asignada.") from None
    if attempt is None:
        raise conflict("room_busy", "Muchos registros a la vez; intente nuevamente.")
    await _publish_seat(session, attempt, "exam.checked_in")
    return attempt


class _SeatRace(Exception):
    """Another check-in took the chosen seat first (unique index): choose again."""


def _choose_seat(seats: list[tuple], taken: list[int], seat_number: int | None, unavailable: str) -> int:
    """The seat asked for by number (in service and free), or the lowest free one;
    `seats` are (id, number, in_service) rows, `taken` the ids already held."""
    if seat_number is not None:
        seat_id = next((sid for sid, n, ok in seats if n == seat_number and ok), None)
        if seat_id is None:
            raise conflict("seat_out_of_service", f"La computadora {seat_number} {unavailable}.")
        if seat_id in taken:
            raise _SeatRace()
        return seat_id
    seat_id = policy.lowest_free_seat(seats, taken)
    if seat_id is None:
        raise conflict("room_full", "No queda ninguna computadora libre en servicio en la sala.")
    return seat_id


async def _check_in_once(session, appt, seat_number, seed, drawn, actor, now) -> ExamAttempt:
    from turnero.scheduler.places import record_event
    from turnero.scheduler.models import AppointmentStatus

    try:
        async with in_transaction() as conn:
            taken = await ExamAttempt.filter(
                session_id=session.id, status__in=SEAT_HOLDING, seat_id__isnull=False
            ).values_list("seat_id", flat=True)
            seats = await Seat.filter(room_id=session.room_id).values_list("id", "number", "in_service")
            seat_id = _choose_seat(seats, taken, seat_number, "está fuera de servicio")
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
                                                                             "seat": await _seat_number(seat_id)})
            await _event("checked_in", attempt=attempt, seat_id=seat_id, actor=actor,
                         booking=appt.code, category=appt.category)
            return attempt
    except IntegrityError as exc:
        # Which unique rule? Document or appointment: the same candidate twice.
        message = str(exc).lower()
        if "document" in message or "appointment" in message:
            raise conflict("already_checked_in", "El postulante ya está registrado en esta sesión.") from None
        if "seat" in message or "unique" in message:
            raise _SeatRace() from None
        raise


async def _seat_number(seat_id: int | None) -> int | None:
    return await Seat.filter(id=seat_id).first().values_list("number", flat=True) if seat_id else None


# ---------------------------------------------------------------- seat swap


async def swap_seat(attempt: ExamAttempt, *, seat_number: int | None = None, actor: Principal | None,
                    reason: str = "") -> ExamAttempt:
    """Move a candidate whose computer failed to another seat: the failed seat goes out
    of service, the answers stay, and the time left is kept — the clock stops now and
    restarts when the candidate presses «Continuar» on the new seat."""
    session = await get_session(attempt.session_id)
    if seat_number is not None:
        target = await _seat(session.room, seat_number)
        if not target.in_service:
            raise conflict("seat_out_of_service", f"La computadora {seat_number} está fuera de servicio.")
    for _ in range(_ASSIGN_RETRIES):
        try:
            moved = await _swap_once(session, attempt.id, seat_number, actor, reason)
            break
        except _SeatRace:
            if seat_number is not None:
                raise conflict("seat_taken", f"La computadora {seat_number} ya está asignada.") from None
    else:
        raise conflict("room_busy", "Muchos cambios a la vez; intente nuevamente.")
    await _publish_seat(session, moved, "exam.seat_swapped")
    return moved


async def _swap_once(session: ExamSession, attempt_id: int, seat_number, actor, reason) -> ExamAttempt:
    now = clock.now()
    try:
        async with in_transaction() as conn:
            attempt = await _locked_attempt(attempt_id)
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
            seat_id = _choose_seat(seats, taken, seat_number, "no está disponible")
            changes: dict = {"seat_id": seat_id, "seat_token": public_id()}  # the old seat's link is dead
            if attempt.status == AttemptStatus.IN_PROGRESS:
                changes.update(status=AttemptStatus.ASSIGNED, deadline=None,
                               remaining_seconds=policy.seconds_left(attempt.deadline, now))
            await ExamAttempt.filter(id=attempt.id).update(**changes)
            if old_seat_id is not None:
                retired = await Seat.filter(id=old_seat_id, in_service=True).update(in_service=False)
                await _event("seat.out_of_service", seat_id=old_seat_id, actor=actor, reason=reason or "swap")
                if retired:  # one seat less for the sessions ahead
                    await booking.seats_changed(conn, session.room, actor)
            await _event("seat_swapped", attempt=attempt, seat_id=seat_id, actor=actor, from_seat=old_seat_id,
                         reason=reason, remaining_seconds=changes.get("remaining_seconds"))
    except IntegrityError:
        raise _SeatRace() from None
    return await ExamAttempt.get(id=attempt_id)


async def _locked_attempt(attempt_id: int) -> ExamAttempt:
    """The attempt row, locked until the transaction ends on PostgreSQL (SQLite's
    write transaction already holds the database)."""
    query = ExamAttempt.filter(id=attempt_id)
    if is_postgres():
        query = query.select_for_update()
    attempt = await query.first()
    if attempt is None:
        raise not_found("attempt_not_found", "No existe ese examen.")
    return attempt


async def get_attempt(public: str) -> ExamAttempt:
    attempt = (
        await ExamAttempt.get_or_none(public_id=public) if can_match(ExamAttempt, "public_id", public) else None
    )
    if attempt is None:
        raise not_found("attempt_not_found", "No existe ese examen.")
    return attempt


async def cancel_attempt(attempt: ExamAttempt, actor: Principal | None, reason: str = "") -> ExamAttempt:
    """Release a check-in that was a mistake (the exam not started): frees the seat."""
    from turnero.scheduler.places import record_event
    from turnero.scheduler.models import AppointmentStatus

    async with in_transaction() as conn:
        updated = await ExamAttempt.filter(id=attempt.id, status=AttemptStatus.ASSIGNED, started_at__isnull=True
                                           ).update(status=AttemptStatus.CANCELLED, seat_token=None)
        if not updated:
            raise conflict("attempt_not_cancellable", "Solo se anula un registro cuyo examen no empezó.")
        await _event("cancelled", attempt=attempt, seat_id=attempt.seat_id, actor=actor, reason=reason)
        # The cita is booked again: the right candidate can still be checked in.
        await conn.execute_query_dict(
            placeholders("UPDATE appointment SET status = ?, checked_in_at = NULL WHERE id = ? AND status = ?"
                         " RETURNING id"),
            [AppointmentStatus.BOOKED.value, attempt.appointment_id, AppointmentStatus.CHECKED_IN.value],
        )
        await record_event(conn, attempt.appointment_id, "checkin_undone", clock.now(), actor,
                               {"exam_attempt": attempt.public_id, "reason": reason})
    attempt = await ExamAttempt.get(id=attempt.id)
    await _publish_seat(await get_session(attempt.session_id), attempt, "exam.cancelled")
    return attempt


# ---------------------------------------------------------------- the seat's exam


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
        locked = await _locked_attempt(attempt.id)
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
        await _event("resumed" if locked.started_at else "started", attempt=locked, seat_id=seat.id,
                     seconds=int((deadline - now).total_seconds()))
    attempt = await ExamAttempt.get(id=attempt.id)
    await _publish_seat(session, attempt, "exam.started")
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
    from turnero.scheduler.places import record_event
    from turnero.scheduler.models import AppointmentStatus

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
        await _event("finished", attempt=fresh, seat_id=fresh.seat_id, actor=actor, reason=reason,
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
    await _publish_seat(session, fresh, "exam.finished")
    return fresh


async def notify_result(conn, attempt: ExamAttempt, office: Office) -> int | None:
    """The result SMS, written to the notifications outbox inside the scoring
    transaction (it commits or rolls back with the result); the dispatcher sends it."""
    if not attempt.phone:
        return None
    from turnero.notifications import service as notifications

    service = await booking.exam_service(office)
    return await notifications.exam_result(
        conn, result_key=attempt.public_id, phone=attempt.phone, office=office, category=attempt.category,
        passed=bool(attempt.passed), correct=attempt.correct_count or 0, total=attempt.total or 0,
        service_code=service.code if service else None, appointment_id=attempt.appointment_id,
    )


async def finish_overdue(config: ExamConfig) -> int:
    """Score every attempt whose time is over (the seat page may be closed): the job."""
    overdue = await ExamAttempt.filter(status=AttemptStatus.IN_PROGRESS, deadline__lte=clock.now())
    for attempt in overdue:
        await finish_attempt(attempt, "time_over", config)
    return len(overdue)


# ---------------------------------------------------------------- views


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
        "session_starts_at": _iso(session.starts_at, seat.room.office.timezone),
        "duration_seconds": int(config.duration.total_seconds()),
        "remaining_seconds": attempt.remaining_seconds, "resumed": attempt.started_at is not None,
        "total": len(attempt.question_ids),
        "pass_percent": round(config.pass_mark * 100),
    }
    if attempt.status == AttemptStatus.IN_PROGRESS:
        questions = {q.id: q for q in await Question.filter(id__in=attempt.question_ids)}
        answers = dict(await ExamAnswer.filter(attempt_id=attempt.id).values_list("question_id", "choice"))
        a.update(
            deadline=_iso(attempt.deadline, seat.room.office.timezone),
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
    from turnero.scheduler.models import Appointment, Slot

    slot = await Slot.get(id=session.slot_id)
    citas = await Appointment.filter(slot_id=session.slot_id).exclude(status="cancelled").order_by("name", "id")
    expected = [a for a in citas if a.status == "booked"]
    no_shows = sum(1 for a in citas if a.status == "no_show")
    return {
        "session": session.id, "room": room.code, "room_name": room.name, "office": room.office.code,
        "starts_at": _iso(session.starts_at, tz), "ends_at": _iso(session.ends_at, tz), "slot_id": session.slot_id,
        "checkin_open": _checkin_refusal(session, now, config) is None,
        "started": now >= session_start(session), "opened_at": _iso(session.opened_at, tz),
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
        "checked_in_at": _iso(attempt.checked_in_at), "started_at": _iso(attempt.started_at),
        "deadline": _iso(attempt.deadline), "finished_at": _iso(attempt.finished_at),
        "correct": attempt.correct_count, "total": attempt.total, "percent": attempt.score_percent,
        "passed": attempt.passed,
    }


async def attempt_view_loaded(attempt: ExamAttempt) -> dict:
    return attempt_view(attempt, await _seat_number(attempt.seat_id))


async def _publish_seat(session: ExamSession, attempt: ExamAttempt, kind: str) -> None:
    """After commit: a small event for the room board (no names: the bus also feeds
    public screens)."""
    await publish_office_event(session.room.office.code, {
        "type": kind, "session": session.id, "room": session.room.code,
        "seat": await _seat_number(attempt.seat_id), "status": str(attempt.status),
    })


# ---------------------------------------------------------------- demo


DEMO_ROOM = ("SALA-1", "Sala de exámenes teóricos", 20)
# Sessions of one hour at set times; booked up to 30 days ahead, at least 2 hours
# before; cancelled or moved up to 24 hours before.
_WEEKDAY_SESSIONS = [["08:00", "09:00"], ["10:00", "11:00"], ["14:30", "15:30"]]
DEMO_SESSIONS = {
    "slot_minutes": 60, "window_days": 30, "min_notice_minutes": 120, "cancel_cutoff_minutes": 24 * 60,
    "hours": {day: _WEEKDAY_SESSIONS for day in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [["08:00", "09:00"]]},
}


async def seed_exam_demo(office: Office) -> None:
    """The demo exam room (20 computers) and the demo question bank, if missing."""
    from turnero.exam.questions import seed_demo_bank

    from turnero.scheduler.models import BookingRule

    code, name, seats = DEMO_ROOM
    if not await ExamRoom.exists(office_id=office.id, code=code):
        await create_room(office, code, name, seats)
    await seed_demo_bank()
    service = await booking.exam_service(office)
    if service is not None:  # the session times: booked as citas of the exam service
        await BookingRule.get_or_create(office=office, service=service, defaults=DEMO_SESSIONS)
