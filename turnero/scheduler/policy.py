"""Pure booking rules: slot generation, the booking window and its daily release,
minimum notice, cancellation cut-off, the check-in window, no-shows, identity documents.

Plain values in, plain values out (no database, no clock): unit-tested on their own.
Times are aware datetimes; days and opening hours are in the office's time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from turnero.core import clock

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEPARTMENTS = ("LP", "CB", "SC", "OR", "PT", "CH", "TJ", "BE", "PD")
LICENCE_CATEGORIES = ("A", "B", "C", "M", "P", "T")


@dataclass(frozen=True)
class Rules:
    """A service's booking rules at one office (BookingRule as plain values)."""

    slot_minutes: int = 15
    window_days: int = 30
    min_notice: timedelta = timedelta(minutes=60)
    release_time: time | None = time(7, 0)
    cancel_cutoff: timedelta = timedelta(minutes=120)


# ---------------------------------------------------------------- slot generation


def hours_for(day: date, hours: dict) -> list[tuple[time, time]]:
    """The opening spans of `day` from a weekly table {"mon": [["07:30", "16:00"]], …}."""
    spans = (hours or {}).get(WEEKDAYS[day.weekday()]) or []
    return [(time.fromisoformat(start), time.fromisoformat(end)) for start, end in spans]


def slot_times(day: date, hours: dict, slot_minutes: int, tz: str) -> list[tuple[datetime, datetime]]:
    """The (start, end) of every slot of `day`, as aware datetimes in `tz`: each opening
    span is cut into `slot_minutes` pieces, and a piece that would run past the span's
    end is dropped (a cita must end before the office closes)."""
    if slot_minutes <= 0:
        raise ValueError("slot_minutes must be positive")
    zone = ZoneInfo(tz)
    step = timedelta(minutes=slot_minutes)
    slots = []
    for open_at, close_at in hours_for(day, hours):
        start = datetime.combine(day, open_at, zone)
        end_of_span = datetime.combine(day, close_at, zone)
        while start + step <= end_of_span:
            slots.append((start, start + step))
            start += step
    return slots


# ---------------------------------------------------------------- booking window


def last_open_day(now: datetime, rules: Rules, tz: str) -> date:
    """The last office-local day that can be booked at `now`. With a release time, the
    day `window_days` ahead opens at that local time (booking storms happen then);
    before it, the window ends one day earlier."""
    local = now.astimezone(ZoneInfo(tz))
    last = local.date() + timedelta(days=rules.window_days)
    if rules.release_time is not None and local.time() < rules.release_time:
        last -= timedelta(days=1)
    return last


def release_moment(day: date, rules: Rules, tz: str) -> datetime | None:
    """When `day` opens for booking (None without a release time: as soon as it is
    inside the window, at local midnight)."""
    opens_on = day - timedelta(days=rules.window_days)
    at = rules.release_time or time(0, 0)
    return datetime.combine(opens_on, at, ZoneInfo(tz))


class Refusal(StrEnum):
    """Why a start time cannot be booked now (the API's error codes)."""

    PAST = "slot_in_past"
    TOO_SOON = "too_soon"
    NOT_RELEASED = "not_yet_open"
    CLOSED = "office_closed"


def booking_refusal(start: datetime, now: datetime, rules: Rules, tz: str, closed_days: frozenset[date] = frozenset()) -> Refusal | None:
    """None if a slot starting at `start` may be booked at `now`, else the reason."""
    if start <= now:
        return Refusal.PAST
    if start < now + rules.min_notice:
        return Refusal.TOO_SOON
    day = start.astimezone(ZoneInfo(tz)).date()
    if day > last_open_day(now, rules, tz):
        return Refusal.NOT_RELEASED
    if day in closed_days:
        return Refusal.CLOSED
    return None


def bookable_range(now: datetime, rules: Rules, tz: str) -> tuple[datetime, datetime]:
    """[earliest start, end) of the slots that may be booked at `now` (closures aside):
    one range for the availability query."""
    return now + rules.min_notice, clock.day_start(last_open_day(now, rules, tz) + timedelta(days=1), tz)


def can_cancel(start: datetime, now: datetime, rules: Rules) -> bool:
    """Cancelling or moving a cita is allowed until `cancel_cutoff` before its start."""
    return now <= start - rules.cancel_cutoff


def cancel_deadline(start: datetime, rules: Rules) -> datetime:
    return start - rules.cancel_cutoff


# ---------------------------------------------------------------- check-in and no-show


@dataclass(frozen=True)
class CheckinRules:
    before: timedelta = timedelta(minutes=30)
    after: timedelta = timedelta(minutes=15)
    late: str = "refuse"  # "refuse": 409 too_late; "walk_in": issue a walk-in ticket
    no_show_grace: timedelta = timedelta(minutes=15)


class Arrival(StrEnum):
    EARLY = "early"
    ON_TIME = "on_time"
    LATE = "late"


def arrival(start: datetime, now: datetime, rules: CheckinRules) -> Arrival:
    """Where `now` falls against the check-in window [start - before, start + after]."""
    if now < start - rules.before:
        return Arrival.EARLY
    if now > start + rules.after:
        return Arrival.LATE
    return Arrival.ON_TIME


def no_show_cutoff(now: datetime, rules: CheckinRules) -> datetime:
    """Booked citas that started before this moment were not claimed: no-shows. Never
    before the check-in window closes (a citizen may still check in until then)."""
    return now - max(rules.no_show_grace, rules.after)


# ---------------------------------------------------------------- documents

_CI = re.compile(r"^(\d{5,10})(?:-?([0-9][A-Z]))?$")
_COMPLEMENT = re.compile(r"^[0-9][A-Z]$")
_CIE = re.compile(r"^(?:E-?)?(\d{5,10})$")
_PASSPORT = re.compile(r"^[A-Z0-9]{6,12}$")


@dataclass(frozen=True)
class Document:
    type: str  # "ci", "cie" or "passport"
    number: str
    complement: str | None = None
    issued_in: str | None = None

    @property
    def key(self) -> str:
        """What identifies the person for "one active cita per document and service":
        type, number and complemento — the complemento exists to tell apart people
        who share a CI number, so `4785123-1A` holding a cita does not refuse
        `4785123-1B`. The department of issue is left out: it is optional when
        booking, so a key with it could be dodged by leaving it out once."""
        return f"{self.type}:{self.number}-{self.complement}" if self.complement else f"{self.type}:{self.number}"


def _compact(raw: str) -> str:
    return re.sub(r"[\s.]", "", raw).upper()


def parse_document(number: str, complement: str | None = None, issued_in: str | None = None, type: str = "ci") -> Document:
    """A validated identity document; ValueError (Spanish message) if it is not one.

    - CI (Bolivians): 5–10 digits, optional complement of a digit and a letter (`1B`)
      given apart or after a dash (`1234567-1B`); department of issue LP, CB, SC, OR,
      PT, CH, TJ, BE or PD.
    - CIE (foreigners' cédula): 5–10 digits, optionally written `E-1234567`.
    - Passport (foreigners without CIE): 6–12 letters and digits.
    """
    raw = _compact(number)
    comp = _compact(complement) if complement else None
    dept = _compact(issued_in) if issued_in else None
    if dept is not None and dept not in DEPARTMENTS:
        raise ValueError("lugar de expedición inválido (LP, CB, SC, OR, PT, CH, TJ, BE o PD)")
    if type == "ci":
        match = _CI.match(raw)
        if not match:
            raise ValueError("número de cédula inválido (5 a 10 dígitos, complemento opcional como 1B)")
        digits, inline = match.groups()
        if comp is not None and not _COMPLEMENT.match(comp):
            raise ValueError("complemento inválido (un dígito y una letra, p. ej. 1B)")
        if inline and comp and inline != comp:
            raise ValueError("el complemento no coincide con el del número")
        return Document("ci", digits, inline or comp, dept)
    if comp is not None:
        raise ValueError("el complemento solo corresponde a la cédula de identidad boliviana")
    if type == "cie":
        match = _CIE.match(raw)
        if not match:
            raise ValueError("número de cédula de extranjero inválido (5 a 10 dígitos)")
        return Document("cie", match.group(1), None, dept)
    if type == "passport":
        if not _PASSPORT.match(raw):
            raise ValueError("número de pasaporte inválido (6 a 12 letras y dígitos)")
        return Document("passport", raw, None, dept)
    raise ValueError("tipo de documento inválido (ci, cie o passport)")


def document_matches(stored_number: str, stored_complement: str | None, given: str) -> bool:
    """Whether `given` (as a citizen types it: `1234567`, `1234567-1B`, `E-1234567`)
    names the stored document. A complement, when given, must match too."""
    raw = _compact(given or "")
    for pattern in (_CI, _CIE, _PASSPORT):
        match = pattern.match(raw)
        if not match:
            continue
        if pattern is _CI:
            digits, comp = match.groups()
            if digits == stored_number and (comp is None or comp == stored_complement):
                return True
        elif pattern is _CIE:
            if match.group(1) == stored_number:
                return True
        elif raw == stored_number:
            return True
    return False


# ---------------------------------------------------------------- codes

# No 0/O, 1/I/L, 5/S, 2/Z, 8/B: a code read aloud or copied by hand survives.
CODE_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 8


def looks_like_code(value: str) -> bool:
    return len(value) == CODE_LENGTH and all(c in CODE_ALPHABET for c in value)


def normalise_code(value: str) -> str:
    """A code as a citizen may type it: lower case, spaces or a dash in the middle."""
    return re.sub(r"[\s\-]", "", value or "").upper()


DOCUMENT_NAMES = {"ci": "cédula de identidad", "cie": "cédula de identidad de extranjero", "passport": "pasaporte"}


def document_refusal(accepted: list[str], document_type: str) -> str | None:
    """Why a trámite cannot be booked with this kind of document (Spanish), or None.
    `accepted` empty: any document."""
    if not accepted or document_type in accepted:
        return None
    names = [DOCUMENT_NAMES.get(t, t) for t in accepted]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " o " + names[-1]
    return f"Este trámite se reserva con {listed}, no con {DOCUMENT_NAMES.get(document_type, document_type)}."
