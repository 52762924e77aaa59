"""Group or sector theory-exam sessions (issue 20): an institution (a drivers' association,
a transport union, a company) registers its list of candidates into one exam session.

The seeds' Pando evaluation: an association registered 84 candidates. One request books a
list into one session (one slot of the office's exam service): each candidate the exam's
rules let book (eligibility: already passed, attempts, retake wait; the document accepted
by the service; no active exam cita already) gets a cita of that session, all in one
transaction that takes the places with the engine's own
`UPDATE slot SET booked = booked + n … <= capacity` — all of them or nobody, never over
the room's seats in service. Who the rules refuse is reported with the reason; the
institution splits a longer list over several sessions.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.errors import ApiError, conflict
from turnero.core.ids import public_id
from turnero.exam import booking
from turnero.exam.eligibility import check_eligibility
from turnero.exam.models import ExamSession
from turnero.exam.policy import ExamConfig
from turnero.scheduler import policy as appointment_rules
from turnero.scheduler.booking import new_code
from turnero.scheduler.models import ACTIVE_STATUSES, Appointment, AppointmentStatus, Slot
from turnero.scheduler.places import record_event, take_places


async def book_group(session: ExamSession, institution: str, category: str, candidates: list,
                     actor: Principal, config: ExamConfig) -> dict:
    """Book `candidates` (objects with `name` and `document`: a scheduler DocumentIn)
    into `session`. Returns the seats given and the refusals; 409 `not_enough_places`
    (nothing written) when the session has fewer free places than candidates allowed."""
    room = session.room
    office = room.office
    service = await booking.exam_service(office)
    bookable = await booking.booking_room(office.id)
    if service is None or bookable is None or bookable.id != room.id:
        raise conflict("room_not_bookable", "Las reservas de examen de esta oficina van a otra sala.")
    now = clock.now()
    if session.starts_at <= now:
        raise conflict("session_started", "La sesión ya comenzó o terminó: elija una sesión futura.")
    seats, refused, seen = [], [], set()
    for person in candidates:
        doc = person.document.document()
        entry = {"name": person.name, "document": doc.key}
        why = None
        if doc.key in seen:
            why = ("duplicate", "La persona figura dos veces en la lista.")
        elif refusal := appointment_rules.document_refusal(service.documents or [], doc.type):
            why = ("document_not_accepted", refusal)
        elif await Appointment.exists(service_id=service.id, document_key=doc.key, status__in=ACTIVE_STATUSES):
            why = ("already_booked", "Ya tiene una cita activa para el examen teórico.")
        else:
            verdict = await check_eligibility(doc.number, category, config, now)
            if not verdict.allowed:
                why = (verdict.code, verdict.message)
        seen.add(doc.key)
        if why:
            refused.append({**entry, "code": why[0], "message": why[1]})
        else:
            seats.append((person, doc, entry))
    slot = await Slot.get(id=session.slot_id)
    if len(seats) > slot.capacity - slot.booked:
        raise ApiError(409, "not_enough_places",
                       f"La sesión tiene {max(0, slot.capacity - slot.booked)} plazas libres para "
                       f"{len(seats)} postulantes habilitados: divida la lista entre varias sesiones.",
                       free=max(0, slot.capacity - slot.booked), eligible=len(seats))
    booked = []
    try:
        async with in_transaction() as conn:
            if seats:
                await take_places(conn, slot.id, len(seats))  # all or nobody, never over the seats
            for person, doc, entry in seats:
                appt = await Appointment.create(
                    public_id=public_id(), code=new_code(), office_id=office.id, service_id=service.id,
                    slot_id=slot.id, start=slot.start, end=slot.end, status=AppointmentStatus.BOOKED,
                    document_type=doc.type, document_number=doc.number, document_complement=doc.complement,
                    document_issued_in=doc.issued_in, document_key=doc.key, name=person.name, phone=None,
                    party_size=1, category=category, created_at=now, using_db=conn,
                )
                await record_event(conn, appt.id, "booked", now, actor,
                                   {"slot": slot.id, "party_size": 1, "group": institution})
                booked.append({**entry, "appointment": appt.code})
    except ApiError as exc:
        if exc.code == "slot_full":  # taken meanwhile
            raise conflict("not_enough_places", "La sesión ya no tiene plazas para toda la lista; "
                           "nadie fue inscrito.") from None
        raise
    except IntegrityError:  # a candidate booked meanwhile (one active cita per document)
        raise conflict("already_booked", "Un postulante de la lista reservó por su cuenta mientras tanto; "
                       "nadie fue inscrito: envíe la lista otra vez.") from None
    free = slot.capacity - slot.booked - len(booked)
    return {"session": session.id, "institution": institution, "category": category,
            "starts_at": clock.iso(session.starts_at, office.timezone), "booked": booked, "refused": refused,
            "places_left": free}
