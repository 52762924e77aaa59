"""The exam room on the citas engine (issue 7): no parallel booking path.

An exam session IS a scheduler slot of the office's exam service (`kind: "exam"`): its
places are the room's seats in service, candidates book them with
`POST /api/appointments` (with the licence `category`), cancel and reschedule them like
any cita (the exam rule's cut-off, e.g. 24 h), and the scheduler's sweep turns the
unclaimed ones into no-shows. This module is the bridge:

- `ExamKind`, registered by `register_kind(config, rules)` as the exam's bookable kind
  (turnero/scheduler/kinds.py): the engine asks it a session's places (`places(office)`,
  so new sessions are made with the seats in service), the refusals before a place is
  taken (`check_booking(...)`: category, retake waiting period, attempt limit, one
  candidate per place) and refuses a kiosk check-in (the proctor checks candidates in);
- `seats_changed(...)`: a seat taken out of (or back into) service sets the places of
  every future session, and moves the bookings that no longer fit to the next session
  with room (or cancels them when none is left), each with its event and its message;
- `sessions_of_day(...)`, `extra_session(...)`: the sessions a proctor works with, one
  `ExamSession` row per slot.

One office has one exam room taking bookings: its first room by code.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from turnero.core import clock, hooks
from turnero.core.auth import Principal
from turnero.core.db import db_datetime, placeholders
from turnero.core.errors import ApiError, conflict, invalid, not_found
from turnero.core.models import Office, Service, ServiceKind
from turnero.exam import licence_results, policy
from turnero.exam.eligibility import check_eligibility
from turnero.exam.models import ExamRoom, ExamSession, Seat
from turnero.exam.licence_path import PathRules
from turnero.exam.policy import ExamConfig
from turnero.scheduler import kinds
from turnero.scheduler import policy as appointment_rules
from turnero.scheduler.config import SchedulerConfig
from turnero.scheduler.models import Appointment, AppointmentStatus, BookingRule, Slot
from turnero.scheduler.places import record_event, release_places, take_places
from turnero.scheduler.rules import materialise_slots

# ---------------------------------------------------------------- the office's exam service and room


async def exam_service(office: Office) -> Service | None:
    """The exam service the office offers (the first by code), or None."""
    return await Service.filter(
        kind=ServiceKind.EXAM, active=True, offices__office_id=office.id
    ).order_by("code").first()


async def booking_room(office_id: int) -> ExamRoom | None:
    return await ExamRoom.filter(office_id=office_id).order_by("code").first()


async def places(office: Office) -> int:
    """Places of a session at `office`: the seats in service of its exam room."""
    room = await booking_room(office.id)
    if room is None:
        return 0
    return await Seat.filter(room_id=room.id, in_service=True).count()


# ---------------------------------------------------------------- booking (called by the scheduler)


async def check_booking(office: Office, body: dict, now: datetime, config: ExamConfig) -> None:
    """May this candidate book an exam place? Raises the API error if not (nothing has
    been written yet). `body` is the validated booking request."""
    if body.get("party_size", 1) != 1:
        raise invalid("Cada postulante reserva su propia computadora (una plaza por cita).",
                      code="party_too_large")
    category = body.get("category")
    if category not in policy.CATEGORIES:
        raise invalid("Indique la categoría de licencia (A, B, C, M, P o T).", code="category_required")
    verdict = await check_eligibility(body["document"]["number"], category, config, now)
    if not verdict.allowed:
        extra = {"not_before": clock.iso(verdict.not_before, office.timezone)} if verdict.not_before else {}
        raise ApiError(409, verdict.code, verdict.message, **extra)


class ExamKind(kinds.BookableKind):
    """The theory exam as a bookable kind of the citas engine (scheduler/kinds.py), with
    the exam rules it was wired with (turnero/wiring.py, from the settings)."""

    def __init__(self, config: ExamConfig) -> None:
        self.config = config

    async def capacity(self, office: Office, service: Service, rule) -> int:
        return await places(office)

    async def check_booking(self, office: Office, service: Service, body: dict, now: datetime) -> None:
        if not body.get("category"):
            raise invalid("Indique la categoría de licencia (A, B, C, M, P o T).", code="category_required")
        await check_booking(office, body, now, self.config)

    def check_in(self, appt) -> None:
        raise conflict("exam_checkin_in_room", "Los postulantes al examen teórico se registran con el examinador, "
                       "en la sala de exámenes, con su documento.")


def register_kind(config: ExamConfig, rules: PathRules) -> None:
    """Plug the exam into the citas engine with these rules (turnero/wiring.py, for the
    app, the command line, the tests and the benchmarks). Idempotent: again replaces it.
    The practical driving test too (a passed theory exam first: exam/licence_results.py)."""
    kinds.register(ServiceKind.EXAM, ExamKind(config))
    licence_results.register_kind(rules)


# ---------------------------------------------------------------- sessions = slots


async def _ensure_day(office: Office, service: Service, day: date, config: SchedulerConfig) -> None:
    """Make the day's sessions from the exam booking rule (if the service has one)."""
    rule = await BookingRule.get_or_none(office_id=office.id, service_id=service.id, active=True)
    if rule is not None and service.bookable:
        await materialise_slots(office, service, rule, config, days=[day])


async def session_for_slot(room: ExamRoom, slot) -> ExamSession:
    """The session row of a slot, created on first use."""
    session = await ExamSession.get_or_none(slot_id=slot.id)
    if session is None:
        try:
            session = await ExamSession.create(room_id=room.id, slot_id=slot.id, starts_at=slot.start,
                                               ends_at=slot.end, created_at=clock.now())
        except IntegrityError:  # made concurrently
            session = await ExamSession.get(slot_id=slot.id)
    return session


async def sessions_of_day(room: ExamRoom, day: date | None, config: SchedulerConfig) -> list[ExamSession]:
    """The room's sessions on an office-local day (today if None), by start: the exam
    service's slots that day (made from its booking rule if not yet made)."""
    office = room.office
    day = day or clock.local_day(clock.now(), office.timezone)
    if (await booking_room(office.id)).id != room.id:
        return []  # bookings go to the office's first room
    service = await exam_service(office)
    if service is None:
        return []
    await _ensure_day(office, service, day, config)
    slots = await Slot.filter(office_id=office.id, service_id=service.id, day=day).order_by("start")
    sessions = [await session_for_slot(room, slot) for slot in slots]
    for session in sessions:
        session.room = room
    return sessions


async def extra_session(room: ExamRoom, starts_at: datetime, duration: timedelta,
                        config: SchedulerConfig) -> ExamSession:
    """A session the office adds outside the rule's session times: a new slot of the
    exam service (bookable like the others, with the seats in service as places)."""
    office = room.office
    if starts_at.tzinfo is None:
        raise invalid("La hora de inicio debe incluir la zona horaria.")
    starts_at = starts_at.astimezone(timezone.utc).replace(second=0, microsecond=0)
    ends_at = starts_at + duration
    if starts_at <= clock.now():
        raise invalid("La sesión debe empezar en el futuro.", code="slot_in_past")
    booking = await booking_room(office.id)
    if booking is None or booking.id != room.id:
        raise conflict("room_not_bookable", "Las reservas de examen de esta oficina van a otra sala.")
    service = await exam_service(office)
    if service is None:
        raise conflict("no_exam_service", "Esta oficina no ofrece el examen teórico.")
    day = clock.local_day(starts_at, office.timezone)
    await _ensure_day(office, service, day, config)
    capacity = await places(office)
    try:
        async with in_transaction():
            # The room holds one sitting at a time.
            if await Slot.filter(office_id=office.id, service_id=service.id, start__lt=ends_at,
                                 end__gt=starts_at).exists():
                raise conflict("session_overlaps", "La sala ya tiene una sesión en ese horario.")
            slot = await Slot.create(office_id=office.id, service_id=service.id, start=starts_at, end=ends_at,
                                     day=day, capacity=capacity, booked=0)
            session = await ExamSession.create(room_id=room.id, slot_id=slot.id, starts_at=starts_at,
                                               ends_at=ends_at, created_at=clock.now())
    except IntegrityError:
        raise conflict("session_exists", "Ya existe una sesión en esa sala a esa hora.") from None
    session.room = room
    return session


# ---------------------------------------------------------------- seats in service -> places


async def seats_changed(conn, room: ExamRoom, actor: Principal | None) -> dict:
    """Inside the seat change's transaction: every session not started yet gets the
    seats in service as its places; the bookings that no longer fit (the latest booked
    first) move to the next later session with a free place, or are cancelled when
    there is none — each with its AppointmentEvent and its message (outbox)."""
    office = room.office
    booking = await booking_room(office.id)
    service = await exam_service(office)
    if booking is None or booking.id != room.id or service is None:
        return {"moved": 0, "cancelled": 0}
    capacity = await Seat.filter(room_id=room.id, in_service=True).using_db(conn).count()
    now = clock.now()
    db = conn
    # A slot never holds more than its capacity (ck_slot_places): the full ones keep
    # `booked` as their capacity until their extra bookings have left.
    clamp = placeholders("UPDATE slot SET capacity = CASE WHEN booked > ? THEN booked ELSE ? END"
                         " WHERE office_id = ? AND service_id = ? AND start > ? RETURNING id")
    await db.execute_query_dict(clamp, [capacity, capacity, office.id, service.id, now])
    over = await db.execute_query_dict(
        placeholders(
            "SELECT id, booked FROM slot WHERE office_id = ? AND service_id = ? AND start > ?"
            " AND booked > ? ORDER BY start"
        ),
        [office.id, service.id, now, capacity],
    )
    moved = cancelled = 0
    for slot in over:
        excess = slot["booked"] - capacity
        rows = await db.execute_query_dict(
            placeholders(
                "SELECT id, code, phone, start, party_size FROM appointment WHERE slot_id = ? AND status = ?"
                " ORDER BY created_at DESC, id DESC"
            ),
            [slot["id"], AppointmentStatus.BOOKED.value],
        )
        for appt in rows[:excess]:
            target = await db.execute_query_dict(
                placeholders(
                    'SELECT id, start, "end" FROM slot WHERE office_id = ? AND service_id = ? AND start > ?'
                    " AND booked + ? <= capacity ORDER BY start LIMIT 1"
                ),
                [office.id, service.id, max(now, _db_time(appt["start"])), appt["party_size"]],
            )
            if target:
                new = target[0]
                await take_places(db, new["id"], appt["party_size"])
                await release_places(db, slot["id"], appt["party_size"])
                await db.execute_query_dict(
                    placeholders('UPDATE appointment SET slot_id = ?, start = ?, "end" = ? WHERE id = ? RETURNING id'),
                    [new["id"], new["start"], new["end"], appt["id"]],
                )
                await record_event(db, appt["id"], "rescheduled", now, actor, {
                    "reason": "seat_out_of_service", "from_slot": slot["id"], "to_slot": new["id"],
                })
                await hooks.emit(db, hooks.AppointmentRescheduled(  # notifications: "reprogramada"
                    **hooks.appointment_fields(appt, start=_db_time(new["start"])), office=office,
                    service_code=service.code))
                moved += 1
            else:
                await db.execute_query_dict(
                    placeholders("UPDATE appointment SET status = ?, cancelled_at = ? WHERE id = ? RETURNING id"),
                    [AppointmentStatus.CANCELLED.value, now, appt["id"]],
                )
                await release_places(db, slot["id"], appt["party_size"])
                await record_event(db, appt["id"], "cancelled", now, actor, {
                    "reason": "seat_out_of_service", "slot": slot["id"],
                })
                await hooks.emit(db, hooks.AppointmentCancelled(  # notifications: "cancelada"
                    **hooks.appointment_fields(appt), office=office, service_code=service.code))
                cancelled += 1
    if over:  # what could not leave (checked in already) keeps its places
        await db.execute_query_dict(clamp, [capacity, capacity, office.id, service.id, now])
    return {"moved": moved, "cancelled": cancelled, "places": capacity}


def _db_time(value) -> datetime:
    return db_datetime(value)


# ---------------------------------------------------------------- the cita behind a check-in


async def find_booking(session: ExamSession, ref: str | None, presented: str):
    """The cita a candidate shows at the room door: by its code (or unguessable id),
    else the booking of this session made with the presented document. 404 when there
    is none; 409 `wrong_session` for a cita of another session."""
    if ref:
        code = appointment_rules.normalise_code(ref.strip().rstrip("/").rsplit("/", 1)[-1])
        appt = await Appointment.get_or_none(code=code) if appointment_rules.looks_like_code(code) else None
        if appt is None and 12 <= len(ref) <= 32 and ref.replace("-", "").replace("_", "").isalnum():
            appt = await Appointment.get_or_none(public_id=ref)
        if appt is None:
            raise not_found("appointment_not_found", "No existe una reserva de examen con ese código.")
        if appt.slot_id != session.slot_id:
            if await ExamSession.exists(slot_id=appt.slot_id):
                other = await ExamSession.get(slot_id=appt.slot_id).select_related("room__office")
                tz = other.room.office.timezone
                raise conflict("wrong_session", "Esa reserva es para otra sesión: "
                               f"{clock.local(other.starts_at, tz):%d/%m/%Y %H:%M}.")
            raise conflict("wrong_session", "Esa reserva no es para esta sesión de examen.")
        return appt
    candidates = await Appointment.filter(slot_id=session.slot_id).exclude(status="cancelled")
    mine = [a for a in candidates if appointment_rules.document_matches(a.document_number, a.document_complement, presented)]
    if not mine:
        raise not_found("appointment_not_found", "No hay una reserva para esta sesión con ese documento.")
    return mine[0]


def identity_matches(appt, presented: str) -> bool:
    """The document presented in person must be the one booked with: same number, and
    the complement too when the booking has one (it tells apart people sharing a
    number)."""
    raw = "".join(ch for ch in (presented or "").upper() if ch.isalnum())
    if not appointment_rules.document_matches(appt.document_number, appt.document_complement, presented or ""):
        return False
    return not appt.document_complement or raw.endswith(appt.document_complement)

