"""The one place code reads the time from, so tests can move it.

All stored times are UTC; offices convert to their own zone for days and display.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

_offset = timedelta(0)
_frozen: datetime | None = None


def now() -> datetime:
    if _frozen is not None:
        return _frozen
    return datetime.now(timezone.utc) + _offset


def freeze(at: datetime | None) -> None:
    """Stop the clock at `at` (aware datetime); None lets it run again."""
    global _frozen
    if at is not None and at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = at


def advance(delta: timedelta) -> None:
    """Move the clock forward (or back) by `delta`, frozen or running."""
    global _offset, _frozen
    if _frozen is not None:
        _frozen = _frozen + delta
    else:
        _offset += delta


def reset() -> None:
    global _offset, _frozen
    _offset = timedelta(0)
    _frozen = None


def local(at: datetime, tz: str) -> datetime:
    return at.astimezone(ZoneInfo(tz))


def local_day(at: datetime, tz: str) -> date:
    return local(at, tz).date()


def day_start(day: date, tz: str | ZoneInfo) -> datetime:
    """When the office-local `day` begins (its midnight in zone `tz`), in UTC."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return datetime.combine(day, time(0), zone).astimezone(timezone.utc)


def days_span(first: date, last: date, tz: str | ZoneInfo) -> tuple[datetime, datetime]:
    """The office-local days `first` to `last`, both included, as [start, end) in UTC."""
    return day_start(first, tz), day_start(last + timedelta(days=1), tz)


def iso(at: datetime | None, tz: str | None = None) -> str | None:
    """ISO 8601 with offset, to the second: in the office's zone `tz` when given (as
    the API shows times), else as stored (UTC). None stays None."""
    if at is None:
        return None
    return _iso_in(at, tz) if tz else at.isoformat(timespec="seconds")


@functools.lru_cache(maxsize=65536)
def _iso_in(at: datetime, tz: str) -> str:
    """Kept: the same times (a slot's start, its cut-offs and check-in window) are
    formatted for every cita booked in them and in every availability answer."""
    return local(at, tz).isoformat(timespec="seconds")
