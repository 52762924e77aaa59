"""Exam rooms, their seats and sessions, and what the other exam modules share: the
audit event (`ExamEvent`), finding a seat, a session or an attempt, and the board's
bus event.

Each operation is one database transaction with its audit event (`ExamEvent`, and the
cita's `AppointmentEvent` when the cita changes state); the bus event goes out after
commit. A session is a scheduler slot and a place is a cita (see booking.py): the
proctor's check-in (checkin.py) takes over from there; the seat's exam is taking.py,
seat swaps seat_swap.py, what the API shows views.py.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.db import is_postgres
from turnero.core.errors import conflict, not_found
from turnero.core.ids import public_id
from turnero.core.models import Office
from turnero.core.service import can_match
from turnero.core.bus import publish_office_event
from turnero.exam import booking, policy
from turnero.exam.models import (
    AttemptStatus,
    ExamAttempt,
    ExamEvent,
    ExamRoom,
    ExamSession,
    Seat,
)
from turnero.exam.policy import ExamConfig
from turnero.scheduler.config import SchedulerConfig

log = logging.getLogger("turnero.exam")

ACTIVE = (AttemptStatus.ASSIGNED, AttemptStatus.IN_PROGRESS)
ASSIGN_RETRIES = 60


def _actor_id(actor: Principal | None) -> int | None:
    return actor.user_id if actor else None


async def exam_event(kind: str, *, attempt: ExamAttempt | None = None, seat_id: int | None = None,
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


async def room_seat(room: ExamRoom, number: int) -> Seat:
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
    seat = await room_seat(room, number)
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
            await exam_event("seat.in_service" if in_service else "seat.out_of_service", seat_id=seat.id, actor=actor,
                         number=number)
            changes = await booking.seats_changed(conn, room, actor)
    if updated:
        await publish_office_event(room.office.code, {"type": "exam.seat_changed", "room": room.code,
                                                      "seat": number, "in_service": in_service})
    return {"number": number, "in_service": in_service, "places": await booking.places(room.office),
            "moved": changes["moved"], "cancelled": changes["cancelled"]}


# ---------------------------------------------------------------- sessions


async def create_session(room: ExamRoom, starts_at: datetime, duration: timedelta,
                         config: SchedulerConfig) -> ExamSession:
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


def session_checkin_refusal(session: ExamSession, now: datetime, config: ExamConfig) -> tuple[str, str] | None:
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


async def day_sessions(room: ExamRoom, day: date | None, config: SchedulerConfig) -> list[ExamSession]:
    """The room's sessions on an office-local day (today if None), by start time."""
    return await booking.sessions_of_day(room, day, config)


# ---------------------------------------------------------------- attempts and the board's event


async def locked_attempt(attempt_id: int) -> ExamAttempt:
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


async def seat_number_of(seat_id: int | None) -> int | None:
    return await Seat.filter(id=seat_id).first().values_list("number", flat=True) if seat_id else None


async def publish_seat(session: ExamSession, attempt: ExamAttempt, kind: str) -> None:
    """After commit: a small event for the room board (no names: the bus also feeds
    public screens)."""
    await publish_office_event(session.room.office.code, {
        "type": kind, "session": session.id, "room": session.room.code,
        "seat": await seat_number_of(attempt.seat_id), "status": str(attempt.status),
    })

