"""Booking a cita: the hot path of a booking storm.

One transaction takes the places and writes the cita, its AppointmentEvent, its outbox
rows and (with an Idempotency-Key) the stored result (docs/architecture.md, concurrency):
the places are taken by `UPDATE slot SET booked = booked + n WHERE id = ? AND booked + n
<= capacity`, so a slot is never overbooked; "one active cita per document and service"
is a partial unique index the insert runs into, never a check-then-insert.

On PostgreSQL the UPDATE, the cita and its event are one statement (the cita and the
event are inserted from the UPDATE's RETURNING row, so neither exists without the
places), which with BEGIN and COMMIT makes a booking three round trips; on SQLite
(one writer at a time anyway) they are separate statements, the UPDATE last.

In a storm most attempts find their slot full. What this process knows about places
(`places`) answers those without the database and without a model; see places.py for
why that never lets a booking in and how long it may at most refuse a freed place.
"""

from __future__ import annotations

import hashlib
import secrets
from types import SimpleNamespace

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from turnero.core import brigades, clock, hooks, metrics
from turnero.core.auth import Principal
from turnero.core.db import is_postgres, json_text, placeholders
from turnero.core.errors import ApiError, conflict, invalid
from turnero.core.ids import public_id
from turnero.core.models import Office, Service
from turnero.core.service import fee_words
from turnero.queue import groups
from turnero.scheduler import kinds, places, policy
from turnero.scheduler.config import _ACTIVE_SQL, SchedulerConfig, _db, _offered, office_by_code
from turnero.scheduler.models import AppointmentStatus, IdempotencyKey
from turnero.scheduler.places import _slot_full, record_event, take_places
from turnero.scheduler.rules import _check_bookable, _local_start, _rule_and_rules, _slot_at
from turnero.scheduler.schemas import BookAppointment
from turnero.scheduler.views import appointment_view

# The cita's columns, in the order `_values` lists them.
_COLUMNS = (
    "public_id", "code", "office_id", "service_id", "slot_id", "start", "end", "status", "document_type",
    "document_number", "document_complement", "document_issued_in", "document_key", "name", "phone",
    "party_size", "category", "created_at", "reschedule_count",
)
_COLUMN_LIST = ", ".join(f'"{c}"' for c in _COLUMNS)
_N = len(_COLUMNS)

# PostgreSQL: places, cita and event in one statement. No row: the slot had too few
# places, nothing was written. A unique index refusing the cita (the document's active
# cita, or a code drawn twice) fails the whole statement: nothing was written either.
_BOOK_PG = (
    "WITH s AS (UPDATE slot SET booked = booked + $1 WHERE id = $2 AND booked + $1 <= capacity"
    " RETURNING booked, capacity),"
    f" a AS (INSERT INTO appointment ({_COLUMN_LIST}) SELECT {', '.join(f'${i + 3}' for i in range(_N))} FROM s"
    " RETURNING id),"
    " e AS (INSERT INTO appointment_event (appointment_id, kind, at, user_id, data)"
    f" SELECT id, 'booked', ${_N + 3}, ${_N + 4}, ${_N + 5} FROM a)"
    " SELECT s.capacity, s.booked, a.id FROM s, a"
)
_INSERT_SQLITE = (
    f"INSERT INTO appointment ({_COLUMN_LIST}) VALUES ({', '.join('?' * _N)}) ON CONFLICT DO NOTHING RETURNING id"
)
UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE
_HOLDER = f"SELECT 1 AS x FROM appointment WHERE service_id = ? AND document_key = ? AND status IN {_ACTIVE_SQL}"


def fingerprint(body: dict) -> str:
    return hashlib.sha256(json_text(body).encode()).hexdigest()


_CODES = len(policy.CODE_ALPHABET) ** policy.CODE_LENGTH


def new_code() -> str:
    """A random code of CODE_LENGTH letters of CODE_ALPHABET: one draw of 64 bits from
    the system's random source (not one per letter), written in base len(CODE_ALPHABET)
    (2**64 is 1.2e8 times _CODES: the remainder's bias is below one in 10**8)."""
    n = int.from_bytes(secrets.token_bytes(8)) % _CODES
    letters = []
    for _ in range(policy.CODE_LENGTH):
        n, digit = divmod(n, len(policy.CODE_ALPHABET))
        letters.append(policy.CODE_ALPHABET[digit])
    return "".join(letters)


async def _stored_result(key: str, print_: str) -> tuple[int, dict] | None:
    stored = await IdempotencyKey.get_or_none(key=key)
    if stored is None:
        return None
    if stored.fingerprint != print_:
        raise ApiError(
            422, "idempotency_key_reused",
            "Esa Idempotency-Key ya se usó con otros datos; use una clave nueva para otra reserva.",
        )
    return stored.status_code, stored.response


class _KeyTaken(Exception):
    """Another request with the same Idempotency-Key committed first."""


class _Taken(Exception):
    """A unique index refused the cita's row (the document's active cita, or a code)."""


async def book(
    body: BookAppointment, *, idempotency_key: str | None, config: SchedulerConfig,
    actor: Principal | None = None,
) -> tuple[int, dict]:
    """Book a cita (inserts an `Appointment` row); returns (201, its view). With an
    Idempotency-Key, the first successful result is stored with the request's
    fingerprint in the booking's own transaction, and a retry with the same key and body
    gets it again (even while racing the first); the same key with another body is 422.
    A refused booking stores nothing: it changed nothing, so a retry simply runs again."""
    if idempotency_key is None:
        return 201, await _book(body, None, "", config, actor)
    print_ = fingerprint(body.model_dump(mode="json"))
    stored = await _stored_result(idempotency_key, print_)
    if stored is not None:
        return stored
    try:
        return 201, await _book(body, idempotency_key, print_, config, actor)
    except (ApiError, _KeyTaken) as exc:
        stored = await _stored_result(idempotency_key, print_)
        if stored is not None:
            return stored
        if isinstance(exc, _KeyTaken):  # taken and gone again: cannot happen (keys are kept)
            raise conflict("idempotency_conflict", "Reintente la solicitud.") from None
        raise


async def _book(body: BookAppointment, key: str | None, print_: str, config: SchedulerConfig,
                actor: Principal | None) -> dict:
    office = await office_by_code(body.office, config)
    service = await _offered(office, body.service, config)
    refusal = policy.document_refusal(service.documents or [], body.document.type)
    if refusal:
        raise invalid(refusal, code="document_not_accepted")
    rule, rules = await _rule_and_rules(office, service, config)
    now = clock.now()
    start = _local_start(body.start, office.timezone)
    await _check_bookable(office, rules, start, now, config)
    # A brigade's closed session (a prison, a school): only the institution's list.
    await brigades.check_invited(office, clock.local_day(start, office.timezone), body.document.document().key)
    # The service's kind may refuse first (an exam: category, retake waiting period, attempt limit).
    await kinds.kind_of(service).check_booking(office, service, body.model_dump(mode="json"), now)
    slot = await _slot_at(office, service, rule, start, config)
    party = body.party_size
    if party > slot.capacity:
        raise invalid(
            f"El grupo ({party} personas) supera los cupos de un horario ({slot.capacity}).", code="party_too_large"
        )
    if party > slot.free:  # the database said so a moment ago (places.py): no write, no round trip
        raise _slot_full()
    doc = body.document.document()
    values = [
        public_id(), new_code(), office.id, service.id, slot.id, slot.start, slot.end, AppointmentStatus.BOOKED.value,
        doc.type, doc.number, doc.complement, doc.issued_in, doc.key, body.name, body.phone,
        party, body.category, now, 0,
    ]
    for _attempt in range(5):
        try:
            return await _commit(values, slot, office, service, rules, config, actor, key, print_, now,
                                 members=body.members)
        except _Taken:
            if await _db().execute_query_dict(placeholders(_HOLDER), [service.id, values[12]]):
                raise conflict(
                    "already_booked",
                    f"Ese documento ya tiene una cita activa para {service.name}. "
                    "Cancélela o reprográmela antes de reservar otra.",
                ) from None
            values[0], values[1] = public_id(), new_code()  # the random code was taken
    raise conflict("code_collision", "No se pudo generar un código de cita; intente nuevamente.")


async def _commit(values: list, slot: places.KnownSlot, office: Office, service: Service, rules: policy.Rules,
                  config: SchedulerConfig, actor: Principal | None, key: str | None, print_: str,
                  now, members=()) -> dict:
    party, phone = values[15], values[14]
    user_id = actor.user_id if actor else None
    data = {"slot": slot.id, "party_size": party, **({"members": len(members)} if members else {})}
    event = json_text(data)
    asked_at = places.known.epoch
    try:
        if is_postgres() and key is None and not phone and not members:
            # Nothing else to write (AppointmentBooked's reactions write nothing without a
            # phone): the statement is the whole transaction, and the slot's
            # row stays locked only while it runs, not for a round trip to COMMIT.
            appt_id, counters = await _book_pg(_db(), party, slot, values, now, user_id, event)
            _appt, view = _view(appt_id, values, office, service, rules, config, now)
        else:
            async with in_transaction() as conn:
                if is_postgres():
                    appt_id, counters = await _book_pg(conn, party, slot, values, now, user_id, event)
                else:
                    rows = await conn.execute_query_dict(_INSERT_SQLITE, values)
                    if not rows:
                        raise _Taken()
                    appt_id, counters = rows[0]["id"], None
                    await record_event(conn, appt_id, "booked", now, actor, data)
                appt, view = _view(appt_id, values, office, service, rules, config, now)
                if members:  # the tutor's minors (queue/groups.py: rows and their anti-hoarding check)
                    await groups.add(conn, members, service_id=service.id, appointment_id=appt_id,
                                     day=clock.local_day(slot.start, office.timezone))
                    view["members"] = [m.model_dump() for m in members]
                await hooks.emit(conn, hooks.AppointmentBooked(  # notifications: confirmation + reminders
                    **hooks.appointment_fields(appt), office=office, service_code=service.code,
                    cost=fee_words(service.fee_bs)))
                if key is not None:
                    await _store_key(conn, key, print_, view, now)
                if counters is None:  # SQLite: last, so the slot stays locked only until the commit
                    counters = await take_places(conn, slot.id, party)
    except ApiError as exc:
        if exc.code == "slot_full":
            places.known.refused(slot, party, asked_at)
        raise
    places.known.taken(slot, *counters, asked_at)
    metrics.booking_made(office.code, service.code)  # after the commit: a refused booking is not counted
    return view


async def _book_pg(conn, party: int, slot: places.KnownSlot, values: list, now, user_id, event: str):
    try:
        rows = await conn.execute_query_dict(_BOOK_PG, [party, slot.id, *values, now, user_id, event])
    except IntegrityError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == UNIQUE_VIOLATION:
            raise _Taken() from None
        raise
    if not rows:
        raise _slot_full()
    return rows[0]["id"], (rows[0]["capacity"], rows[0]["booked"])


def _view(appt_id: int, values: list, office, service, rules, config, now) -> tuple[SimpleNamespace, dict]:
    """The new cita as appointment_view and the notifications read it (attributes of
    an Appointment; a model instance costs more to build than the rest of the view)."""
    appt = SimpleNamespace(id=appt_id, **dict(zip(_COLUMNS, values)))
    return appt, appointment_view(appt, office, service, rules, config, now)


async def _store_key(conn, key: str, print_: str, view: dict, now) -> None:
    rows = await conn.execute_query_dict(
        placeholders(
            "INSERT INTO idempotency_key (key, fingerprint, status_code, response, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id"
        ),
        [key, print_, 201, json_text(view), now],
    )
    if not rows:
        raise _KeyTaken()
