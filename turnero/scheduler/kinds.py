"""Citas: bookable kinds — how a kind of service plugs into the booking engine.

The engine (rules, booking, check-in) books every service the same way: places per
slot, `UPDATE slot SET booked = booked + n … <= capacity`, the cita (model
`Appointment`) and its event in one transaction. What differs by the service's
`ServiceKind` is asked of its `BookableKind` here, never by testing "is this an exam?":

- `capacity(office, service, rule)`: the places of a new slot (None: the rule's, or
  the desks serving the service);
- `check_booking(office, service, body, now)`: refusals before a place is taken
  (nothing is written yet; raise the API error);
- `check_in(appt)`: may the cita be checked in at the kiosk (raise the API error if
  it is checked in elsewhere).

A kind that is not registered books as a counter (`COUNTER`: every hook does nothing).
The kinds are registered, with their rules from the settings, by the composition
(turnero/wiring.py's `wire(settings)`: the app, the tests, benchmarks and command line): the
scheduler imports no kind's package, the kinds import the scheduler's public parts
(places.take_places, places.release_places, places.record_event, rules.materialise_slots).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from turnero.core.models import Office, Service, ServiceKind


class BookableKind:
    """The hooks of one kind of service; the base class is the counter's (no hook)."""

    async def capacity(self, office: Office, service: Service, rule: Any) -> int | None:
        return None

    async def check_booking(self, office: Office, service: Service, body: dict, now: datetime) -> None:
        return None

    def check_in(self, appt: Any) -> None:
        return None


COUNTER = BookableKind()

_KINDS: dict[ServiceKind, BookableKind] = {}


def register(kind: ServiceKind, hooks: BookableKind) -> None:
    """Plug a kind into the engine (again: replaces it; idempotent)."""
    _KINDS[ServiceKind(kind)] = hooks


def kind_of(service: Service) -> BookableKind:
    """The hooks of the service's kind (the counter's when none is registered)."""
    return _KINDS.get(service.kind, COUNTER)
