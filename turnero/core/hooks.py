"""Domain events and the hooks that react to them, so a domain says what happened
instead of calling the domains that care.

The queue, the citas (scheduler) and the exam emit small events — facts with ids and
values — and never import the domains that react (notifications today). Reactions are
registered at start-up by the composition (`app.create_app`, and `core.db.init_db` for
every process that opens the database: the CLI, benchmarks, tests), in two phases:

- IN_TRANSACTION handlers run inside the emitting code's transaction: `await emit(conn,
  event)` awaits each of them, in registration order, with the same connection, before
  the caller commits. What they write (an outbox row) commits or rolls back with the
  change; an error they raise propagates and rolls the change back.
- AFTER_COMMIT handlers run once the change is committed: the emitting code calls
  `await committed(event)` after its transaction block (bus publishes, cache
  invalidation). Their errors are logged and never reach the caller: the change is
  already done. (Called inside an enclosing transaction — a nested block is only a
  savepoint — they run when the inner block ends; keep them to things that are
  harmless to repeat or to do early, as a bus message or a forgotten cache entry is.)

Registering the same handler twice for the same event and phase is a no-op, so every
start-up path may register freely. Emitting an event nobody subscribed to is a dict
lookup: cheap enough for the booking and call-next hot paths.

Two hot paths emit only where a reaction can have something to write, so that without
one they keep running as a lone statement with no transaction: `TicketCalled` only for
a ticket with a phone (queue/calls.py), and `AppointmentBooked` not on PostgreSQL's one-statement
booking of a cita without a phone nor an Idempotency-Key (scheduler/booking.py). A new
subscriber that must see every call or booking changes those two places first.
No emitter calls `committed` yet: there is no after-commit subscriber (the bus events
are still published by the domains themselves, after their commits).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from turnero.core.db import db_datetime
from turnero.core.models import Office

log = logging.getLogger("turnero.hooks")

IN_TRANSACTION = "in_transaction"
AFTER_COMMIT = "after_commit"
PHASES = (IN_TRANSACTION, AFTER_COMMIT)

# ---------------------------------------------------------------- events
# Offices travel as the Office row the emitting code already holds (its name, time zone
# and institution are what reactions read; loading it again would cost a query on the
# hot paths). Everything else is ids and values.


@dataclass(frozen=True)
class AppointmentBooked:
    """A cita was booked (the citizen's confirmation and reminders react)."""

    appointment_id: int
    code: str
    phone: str | None
    start: datetime  # UTC
    office: Office
    service_code: str | None = None
    cost: str | None = None  # the trámite's fee in words (core.service.fee_words)


@dataclass(frozen=True)
class AppointmentRescheduled:
    """A booked cita moved; `start` is its new time (UTC)."""

    appointment_id: int
    code: str
    phone: str | None
    start: datetime
    office: Office
    service_code: str | None = None


@dataclass(frozen=True)
class AppointmentCancelled:
    """A booked cita was cancelled (by the citizen, an office closure, a seat out of service)."""

    appointment_id: int
    code: str
    phone: str | None
    start: datetime
    office: Office
    service_code: str | None = None


@dataclass(frozen=True)
class TicketCalled:
    """A walk-in ticket was called to a desk."""

    ticket_id: int
    number: str
    phone: str | None
    office: Office
    desk_name: str
    service_code: str | None = None


@dataclass(frozen=True)
class ExamScored:
    """A theory exam attempt was scored; `attempt` is its public id."""

    attempt: str
    phone: str | None
    office: Office
    category: str
    passed: bool
    correct: int
    total: int
    service_code: str | None = None
    appointment_id: int | None = None


def appointment_fields(appointment, start: datetime | None = None) -> dict:
    """The fields a cita event carries, from an Appointment, a raw appointment row
    (dict; SQLite gives `start` as text) or any object with id, code, phone and start;
    `start` overrides the one it carries (a reschedule's new time)."""
    if isinstance(appointment, Mapping):
        get = appointment.get
    else:
        def get(name):
            return getattr(appointment, name)
    return {"appointment_id": int(get("id")), "code": get("code"), "phone": get("phone"),
            "start": start or db_datetime(get("start"))}


# ---------------------------------------------------------------- registry

Handler = Callable[..., Awaitable[Any]]
_handlers: dict[str, dict[type, list[Handler]]] = {phase: {} for phase in PHASES}


def subscribe(event_type: type, handler: Handler, *, phase: str = IN_TRANSACTION) -> None:
    """`handler(conn, event)` (IN_TRANSACTION) or `handler(event)` (AFTER_COMMIT) on
    every `event_type` emitted; run in registration order. Idempotent."""
    if phase not in PHASES:
        raise ValueError(f"unknown hook phase {phase!r}")
    handlers = _handlers[phase].setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)


def unsubscribe(event_type: type, handler: Handler, *, phase: str = IN_TRANSACTION) -> None:
    handlers = _handlers[phase].get(event_type, [])
    if handler in handlers:
        handlers.remove(handler)


def subscribers(event_type: type, phase: str = IN_TRANSACTION) -> tuple[Handler, ...]:
    return tuple(_handlers[phase].get(event_type, ()))


async def emit(conn, event) -> None:
    """Run the IN_TRANSACTION handlers of `event` on `conn`, the caller's transaction,
    in order; the first error propagates (the caller's transaction rolls back)."""
    for handler in _handlers[IN_TRANSACTION].get(type(event), ()):
        await handler(conn, event)


async def committed(*events) -> None:
    """Run the AFTER_COMMIT handlers of each event, in order; an error is logged and
    the next handler still runs. Call it after the transaction that emitted them."""
    for event in events:
        for handler in _handlers[AFTER_COMMIT].get(type(event), ()):
            try:
                await handler(event)
            except Exception:
                log.exception("after-commit hook %s failed for %s", getattr(handler, "__qualname__", handler),
                              type(event).__name__)
