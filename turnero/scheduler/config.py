"""Citas: what every part of the scheduler shares — its configuration, the per-app cache
of offices, booking rules and closed days, and the formatting of slot times (times
and JSON text in general: core.clock.iso, core.db.json_text).

The domain's operations live in the modules next to this one (rules and slots,
availability, views, changes, check-in, sweeps, calendars; booking.py books). Each state
change is one function running one database transaction that also writes its
AppointmentEvent (and its outbox rows). Routes parse and serialise; the rules live in
those modules and in `policy` (pure).

Concurrency (docs/architecture.md): a place is taken by `UPDATE slot SET booked = booked + n
WHERE id = ? AND booked + n <= capacity` in the transaction that inserts the cita, so
a slot is never overbooked; "one active cita per document and service" is a partial
unique index the insert runs into (`ON CONFLICT DO NOTHING`), never a check-then-insert.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from limits import RateLimitItem, parse_many

from turnero.core import clock
from turnero.core.cache import Cache
from turnero.core.db import db_datetime
from turnero.core.models import Office, Service
from turnero.core.service import get_office, offered_service
from turnero.scheduler import policy
from turnero.scheduler.holidays import closed_days
from turnero.scheduler.models import Slot
from turnero.settings import Settings

log = logging.getLogger("turnero.citas")

_ACTIVE_SQL = "('booked', 'checked_in')"  # policy.ACTIVE_STATUSES, as in the partial index
CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class SchedulerConfig:
    holidays_country: str = "BO"
    departmental_holidays: bool = True
    checkin: policy.CheckinRules = policy.CheckinRules()
    booking_rate_limit: str = "20/minute"
    public_url: str = ""
    # Booking rules, offices and closed days, kept CACHE_SECONDS per app: every booking
    # and availability request reads them, and they change rarely (a closure also takes
    # the day's places away, so a stale copy cannot let a booking in).
    cache: Cache = field(default_factory=lambda: Cache(CACHE_SECONDS, max_size=10_000), compare=False, repr=False)
    # booking_rate_limit parsed once ("5/second;100/hour" is two rules, both applied).
    booking_limits: tuple[RateLimitItem, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.booking_limits:
            object.__setattr__(self, "booking_limits", tuple(parse_many(self.booking_rate_limit)))

    @classmethod
    def from_settings(cls, settings: Settings) -> "SchedulerConfig":
        late = settings.late_checkin if settings.late_checkin in ("refuse", "walk_in") else "refuse"
        return cls(
            holidays_country=settings.holidays_country,
            departmental_holidays=settings.departmental_holidays,
            checkin=policy.CheckinRules(
                before=timedelta(minutes=max(0, settings.checkin_before_minutes)),
                after=timedelta(minutes=max(0, settings.checkin_after_minutes)),
                late=late,
                no_show_grace=timedelta(minutes=max(0, settings.no_show_grace_minutes)),
            ),
            booking_rate_limit=settings.booking_rate_limit,
            public_url=settings.public_url,
        )


def config_of(app) -> SchedulerConfig:
    """The scheduler configuration of a running app, built once from its settings."""
    config = getattr(app.state, "scheduler_config", None)
    if config is None:
        config = SchedulerConfig.from_settings(app.state.settings)
        app.state.scheduler_config = config
    return config


@functools.lru_cache(maxsize=65536)
def _slot_iso(raw, tz: str) -> str:
    """A slot time as read by raw SQL (SQLite: text; PostgreSQL: datetime), in the
    office's zone. Slot times repeat in every availability answer: formatted once."""
    return clock.iso(db_datetime(raw), tz)


def _db():
    """The connection queries run on now (the transaction's, inside in_transaction)."""
    return Slot._meta.db


async def _cached(config: SchedulerConfig, key: tuple, load):
    """`load()`'s value, kept CACHE_SECONDS in the app's cache, one load per key at a time."""
    return await config.cache.get_or_load(key, load)


def _forget_cached(config: SchedulerConfig) -> None:
    """Rules, offices or closed days changed: the next request loads them again (and a
    load already under way is not kept)."""
    config.cache.forget()


async def _closed(office: Office, start: date, end: date, config: SchedulerConfig) -> dict[date, str]:
    days = await _cached(
        config, ("closed", office.id, office.department, start, end),
        lambda: closed_days(office, start, end, config.holidays_country, config.departmental_holidays),
    )
    return dict(days)


async def _closed_on(office: Office, day: date, config: SchedulerConfig) -> frozenset[date]:
    """The day as a set if the office is closed then, else empty (kept like _closed)."""
    return await _cached(
        config, ("closed-on", office.id, office.department, day),
        lambda: _closed_set(office, day, config),
    )


async def _closed_set(office: Office, day: date, config: SchedulerConfig) -> frozenset[date]:
    return frozenset(await _closed(office, day, day, config))


async def office_by_code(code: str, config: SchedulerConfig) -> Office:
    """The office, as get_office (404 office_not_found), kept CACHE_SECONDS: in a
    booking storm every request names the same office. Misses are never kept."""
    return await _cached(config, ("office", code), lambda: get_office(code))


async def _offered(office: Office, code: str, config: SchedulerConfig) -> Service:
    """The service, as offered_service (404 / 422 service_not_offered), kept likewise."""
    return await _cached(config, ("offered", office.id, code), lambda: offered_service(office, code))
