"""Citas: slots, availability, booking, cancel, reschedule, check-in, no-shows.

Each state change is one function running one database transaction that also writes
its AppointmentEvent (and, once the notifications package hooks in, its outbox rows:
see the `# outbox:` comments). Routes parse and serialise; the rules live here and in
`policy` (pure).

Concurrency (docs/architecture.md): a place is taken by `UPDATE slot SET booked = booked + n
WHERE id = ? AND booked + n <= capacity` in the transaction that inserts the cita, so
a slot is never overbooked; "one active cita per document and service" is a partial
unique index the insert runs into (`ON CONFLICT DO NOTHING`), never a check-then-insert.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time as time_module
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from limits import RateLimitItem, parse_many
from tortoise.transactions import in_transaction

from turnero.admin import service as admin_service
from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.db import db_datetime, is_postgres, model_from_row, placeholders
from turnero.core.errors import ApiError, conflict, invalid, not_found
from turnero.core.models import Office, OfficeService, Service, ServiceKind
from turnero.core.service import can_match, get_office, get_service, offered_service
from turnero.notifications import service as notifications
from turnero.queue import service as queue_service
from turnero.queue.models import DeskService
from turnero.scheduler import places, policy
from turnero.scheduler.holidays import closed_days
from turnero.scheduler.models import (
    Appointment,
    AppointmentStatus,
    BookingRule,
    IdempotencyKey,
    OfficeClosure,
    Slot,
)
from turnero.settings import Settings

log = logging.getLogger("turnero.citas")

# Where the citizen portal shows one cita (the QR code and the .ics link to it).
PORTAL_PATH = "/citas/{id}"
IDEMPOTENCY_TTL = timedelta(hours=24)
_EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
_ACTIVE_SQL = "('booked', 'checked_in')"  # policy.ACTIVE_STATUSES, as in the partial index


@dataclass(frozen=True)
class SchedulerConfig:
    holidays_country: str = "BO"
    departmental_holidays: bool = True
    checkin: policy.CheckinRules = policy.CheckinRules()
    booking_rate_limit: str = "20/minute"
    public_url: str = ""
    # Booking rules and closed days, kept CACHE_SECONDS per app: every booking and
    # availability request reads them, and they change rarely (a closure also takes
    # the day's places away, so a stale copy cannot let a booking in).
    cache: dict = field(default_factory=dict, compare=False, repr=False)
    loading: dict = field(default_factory=dict, compare=False, repr=False)  # key -> the load under way
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
def _iso(at: datetime | None, tz: str) -> str | None:
    """A time in the office's zone. Kept: the same slot times (and their cut-offs and
    check-in windows) are formatted for every cita booked in them."""
    return at.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds") if at else None


@functools.lru_cache(maxsize=65536)
def _slot_iso(raw, tz: str) -> str:
    """A slot time as read by raw SQL (SQLite: text; PostgreSQL: datetime), in the
    office's zone. Slot times repeat in every availability answer: formatted once."""
    return _iso(db_datetime(raw), tz)


def _json(data) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _db():
    """The connection queries run on now (the transaction's, inside in_transaction)."""
    return Slot._meta.db


CACHE_SECONDS = 10.0


async def _cached(config: SchedulerConfig, key: tuple, load):
    """`load()`'s value, kept CACHE_SECONDS. One load per key at a time: when a storm's
    first hundreds of requests all find the value missing or expired at once, they
    wait for the same load instead of each running its queries (that herd alone held
    the first answers of a release back by seconds)."""
    hit = config.cache.get(key)
    if hit is not None and time_module.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    loading = config.loading.get(key)
    if loading is None:
        loading = config.loading[key] = asyncio.ensure_future(_load(config, key, load))
    # Shielded: a waiter that is cancelled (its client left) does not cancel the others'.
    return await asyncio.shield(loading)


async def _load(config: SchedulerConfig, key: tuple, load):
    this = asyncio.current_task()
    try:
        value = await load()
    finally:
        stored = config.loading.get(key)
        if stored is not None and stored is this:  # (not forgotten meanwhile)
            del config.loading[key]
    if stored is this:
        if len(config.cache) > 10_000:
            config.cache.clear()
        config.cache[key] = (time_module.monotonic(), value)
    return value


def _forget_cached(config: SchedulerConfig) -> None:
    """Rules, offices or closed days changed: the next request loads them again (and a
    load already under way is not kept)."""
    config.cache.clear()
    config.loading.clear()


async def _closed(office: Office, start: date, end: date, config: SchedulerConfig) -> dict[date, str]:
    days = await _cached(
        config, ("closed", office.id, office.department, start, end),
        lambda: closed_days(office, start, end, config.holidays_country, config.departmental_holidays),
    )
    return dict(days)


async def _rule(office: Office, service: Service, config: SchedulerConfig) -> BookingRule:
    return (await _rule_and_rules(office, service, config))[0]


async def _rule_and_rules(office: Office, service: Service, config: SchedulerConfig) -> tuple[BookingRule, policy.Rules]:
    async def load():
        rule = await booking_rule(office, service)
        return rule, rules_of(rule)

    return await _cached(config, ("rule", office.id, service.id), load)


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


# ---------------------------------------------------------------- rules and slots


def rules_of(rule: BookingRule) -> policy.Rules:
    return policy.Rules(
        slot_minutes=rule.slot_minutes,
        window_days=rule.window_days,
        min_notice=timedelta(minutes=rule.min_notice_minutes),
        release_time=time.fromisoformat(rule.release_time) if rule.release_time else None,
        cancel_cutoff=timedelta(minutes=rule.cancel_cutoff_minutes),
    )


async def booking_rule(office: Office, service: Service) -> BookingRule:
    rule = await BookingRule.get_or_none(office_id=office.id, service_id=service.id, active=True)
    if rule is None or not service.bookable:
        raise invalid(
            f"El trámite {service.code} no admite citas en {office.code}.", code="not_bookable"
        )
    return rule


async def default_capacity(office: Office, service: Service) -> int:
    """Places per slot when the rule sets none: the desks serving the service (or the
    first step of a multi-step trámite), at least one."""
    served = service
    if service.steps:
        served = await Service.get_or_none(code=service.steps[0]) or service
    primary = await DeskService.filter(service_id=served.id, desk__office_id=office.id, weight=1).count()
    if primary:
        return primary
    return max(1, await DeskService.filter(service_id=served.id, desk__office_id=office.id).count())


async def rule_capacity(office: Office, service: Service, rule: BookingRule) -> int:
    if service.kind == ServiceKind.EXAM:  # an exam session's places: the seats in service (turnero/exam)
        from turnero.exam import booking as exam_booking

        return await exam_booking.places(office)
    return rule.capacity if rule.capacity is not None else await default_capacity(office, service)


async def materialise_slots(
    office: Office, service: Service, rule: BookingRule, config: SchedulerConfig,
    now: datetime | None = None, days: list[date] | None = None,
) -> int:
    """Insert the slots of the days of the booking window (plus the day that opens
    next) that have none yet; returns how many were created. A day is made whole, in
    one statement, or not at all: a day that already has slots keeps them as they are
    (a new slot length or new hours apply to the days not made yet, and never add a
    second, overlapping grid to a day). Idempotent and safe when two instances do it
    at once: (office, service, start) is unique. Closed days get no slots."""
    now = now or clock.now()
    tz = office.timezone
    rules = rules_of(rule)
    whole_window = days is None
    if days is None:
        today = clock.local_day(now, tz)
        days = [today + timedelta(days=n) for n in range(rules.window_days + 2)]
    if not days:
        return 0
    made = await _db().execute_query_dict(
        placeholders("SELECT DISTINCT day FROM slot WHERE office_id = ? AND service_id = ? AND day >= ? AND day <= ?"),
        [office.id, service.id, min(days), max(days)],
    )
    made_days = {row["day"] if isinstance(row["day"], date) else date.fromisoformat(row["day"]) for row in made}
    closed = await _closed(office, min(days), max(days), config)
    todo = [day for day in days if day not in made_days and day not in closed]
    capacity = await rule_capacity(office, service, rule) if todo else 0
    hours = rule.hours or office.opening_hours
    chunks: list[list[tuple]] = [[]]
    for day in todo:
        rows = [
            (office.id, service.id, start.astimezone(timezone.utc), end.astimezone(timezone.utc), day, capacity)
            for start, end in policy.slot_times(day, hours, rules.slot_minutes, tz)
        ]
        if chunks[-1] and len(chunks[-1]) + len(rows) > 400:
            chunks.append([])
        chunks[-1].extend(rows)
    created = 0
    for chunk in chunks:
        if not chunk:
            continue
        marks = ", ".join(["(?, ?, ?, ?, ?, ?, 0)"] * len(chunk))
        result = await _db().execute_query_dict(
            placeholders(
                f'INSERT INTO slot (office_id, service_id, start, "end", day, capacity, booked) VALUES {marks}'
                " ON CONFLICT (office_id, service_id, start) DO NOTHING RETURNING id"
            ),
            [value for row in chunk for value in row],
        )
        created += len(result)
    if whole_window:
        await BookingRule.filter(id=rule.id).update(materialised_on=days[0])
        rule.materialised_on = days[0]
    return created


_materialising: dict[int, asyncio.Lock] = {}


async def ensure_slots(office: Office, service: Service, rule: BookingRule, config: SchedulerConfig) -> None:
    """Materialise the window on demand when the job has not done so today yet. One
    request per rule and process does it; the others wait for it (no herd of identical
    inserts just after midnight)."""
    today = clock.local_day(clock.now(), office.timezone)
    if rule.materialised_on == today:
        return
    async with _materialising.setdefault(rule.id, asyncio.Lock()):
        done_on = await BookingRule.filter(id=rule.id).first().values_list("materialised_on", flat=True)
        if done_on != today:
            await materialise_slots(office, service, rule, config)
        rule.materialised_on = today


async def materialise_all(config: SchedulerConfig, now: datetime | None = None) -> int:
    """Slots for every active booking rule (the scheduled job, demo start)."""
    total = 0
    rules = await BookingRule.filter(active=True, office__active=True, service__active=True).select_related(
        "office", "service"
    )
    for rule in rules:
        total += await materialise_slots(rule.office, rule.service, rule, config, now)
    return total


def _local_start(start: datetime, tz: str) -> datetime:
    """A requested start as an aware UTC datetime; without an offset it is read in the
    office's zone. 422 for times no office could have."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=ZoneInfo(tz))
    try:
        utc = start.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not (_EARLIEST <= utc < _LATEST):
        raise invalid("Fecha y hora de la cita fuera de rango.", code="invalid_start")
    return utc


async def _slot_at(office: Office, service: Service, rule: BookingRule, start: datetime,
                   config: SchedulerConfig) -> places.KnownSlot:
    """The slot starting at `start` with its places as the database said at most
    places.FRESH_SECONDS ago (read now if not), materialising its day on demand (the
    job may not have run yet); 422 invalid_start if no slot starts then. Requests that
    need the same slot read at once share one read (unless places were freed since it
    was asked)."""
    known = places.known.get(office.id, service.id, start)
    if known is not None and known.fresh(time_module.monotonic()):
        return known
    key = (office.id, service.id, start)
    reading = _reading.get(key)
    if reading is None or reading[1] != places.known.epoch:
        task = asyncio.ensure_future(_read_slot(office, service, rule, start, config, known))
        reading = _reading[key] = (task, places.known.epoch)
        task.add_done_callback(lambda done: _reading.pop(key) if _reading.get(key, (None,))[0] is done else None)
    return await asyncio.shield(reading[0])


_reading: dict[tuple, tuple[asyncio.Future, int]] = {}


async def _read_slot(office: Office, service: Service, rule: BookingRule, start: datetime, config: SchedulerConfig,
                     known: places.KnownSlot | None) -> places.KnownSlot:
    asked_at = places.known.epoch
    if known is not None:
        rows = await _db().execute_query_dict(
            placeholders('SELECT id, start, "end", capacity, booked FROM slot WHERE id = ?'), [known.id]
        )
    else:
        rows = await _slot_rows(office, service, start)
        if not rows:  # its day may not be made yet (a day that is made is left alone)
            await materialise_slots(office, service, rule, config, days=[clock.local_day(start, office.timezone)])
            rows = await _slot_rows(office, service, start)
    if not rows:
        local = start.astimezone(ZoneInfo(office.timezone))
        raise invalid(
            f"No hay un horario de cita que empiece el {local:%d/%m/%Y} a las {local:%H:%M} "
            "para ese trámite en esa oficina.", code="invalid_start",
        )
    return places.known.learn(office.id, service.id, rows[0], asked_at)


async def _slot_rows(office: Office, service: Service, start: datetime) -> list[dict]:
    return await _db().execute_query_dict(
        placeholders('SELECT id, start, "end", capacity, booked FROM slot WHERE office_id = ? AND service_id = ? AND start = ?'),
        [office.id, service.id, start],
    )


_REFUSALS = {
    policy.Refusal.PAST: "Ese horario ya pasó.",
    policy.Refusal.TOO_SOON: "Ese horario está demasiado próximo; elija uno con más anticipación.",
    policy.Refusal.NOT_RELEASED: "Ese día todavía no está abierto para reservar citas.",
    policy.Refusal.CLOSED: "La oficina no atiende ese día (feriado o cierre).",
}


async def _check_bookable(office: Office, rules: policy.Rules, start: datetime, now: datetime, config: SchedulerConfig) -> None:
    closed = await _closed_on(office, clock.local_day(start, office.timezone), config)
    refusal = policy.booking_refusal(start, now, rules, office.timezone, closed)
    if refusal is not None:
        raise invalid(_REFUSALS[refusal], code=refusal.value)


# ---------------------------------------------------------------- availability

MAX_DAYS = 62


async def availability(
    office: Office, service_code: str, from_day: date | None, days: int, config: SchedulerConfig,
) -> list[dict]:
    """The slots of a service that may be booked now, from `from_day` for `days` days,
    with their places left: one indexed range query on (office, service, start)."""
    tz = office.timezone
    return [
        {
            "start": _slot_iso(row["start"], tz),
            "end": _slot_iso(row["end"], tz),
            "capacity": row["capacity"],
            "available": max(0, row["capacity"] - row["booked"]),
        }
        for row in await _available_rows(office, service_code, from_day, days, config)
    ]


@functools.lru_cache(maxsize=65536)
def _slot_json_head(start, end, tz: str) -> str:
    return f'{{"start":"{_slot_iso(start, tz)}","end":"{_slot_iso(end, tz)}","capacity":'


async def availability_json(
    office: Office, service_code: str, from_day: date | None, days: int, config: SchedulerConfig,
) -> str:
    """`availability` as the JSON text the API sends. The hottest read of a booking
    storm (a 30-day window is hundreds of slots): each slot's times are formatted once
    per process and the text is built directly, about three times cheaper than
    building dicts and encoding them."""
    tz = office.timezone
    rows = await _available_rows(office, service_code, from_day, days, config)
    return "[" + ",".join(
        f'{_slot_json_head(row["start"], row["end"], tz)}{row["capacity"]},'
        f'"available":{max(0, row["capacity"] - row["booked"])}}}'
        for row in rows
    ) + "]"


async def _available_rows(
    office: Office, service_code: str, from_day: date | None, days: int, config: SchedulerConfig,
) -> list[dict]:
    service = await _offered(office, service_code, config)
    rule = await _rule(office, service, config)
    await ensure_slots(office, service, rule, config)
    rules = rules_of(rule)
    tz = office.timezone
    zone = ZoneInfo(tz)
    now = clock.now()
    earliest, latest = policy.bookable_range(now, rules, tz)
    first = from_day or clock.local_day(now, tz)
    low = max(earliest, datetime.combine(first, time(0, 0), zone))
    high = min(latest, datetime.combine(first + timedelta(days=days), time(0, 0), zone))
    if low >= high:
        return []
    # Closed days have no slots, or (closed after their slots were made) no places;
    # excluding them here as well covers a holiday added to the table later.
    closed = sorted(await _closed(office, low.astimezone(zone).date(), high.astimezone(zone).date(), config))
    exclude = f" AND day NOT IN ({', '.join('?' * len(closed))})" if closed else ""
    rows = await _db().execute_query_dict(
        placeholders(
            'SELECT start, "end", capacity, booked FROM slot'
            f" WHERE office_id = ? AND service_id = ? AND start >= ? AND start < ?{exclude} ORDER BY start"
        ),
        [office.id, service.id, low.astimezone(timezone.utc), high.astimezone(timezone.utc), *closed],
    )
    return rows


async def offices_for_service(service_code: str, config: SchedulerConfig) -> list[dict]:
    """The offices where a service can be booked, each with its next free time."""
    service = await get_service(service_code)
    now = clock.now()
    rules = await BookingRule.filter(service_id=service.id, active=True, office__active=True).select_related("office")
    offered = set(await OfficeService.filter(service_id=service.id).values_list("office_id", flat=True))
    out = []
    for rule in sorted(rules, key=lambda r: r.office.code):
        office = rule.office
        if office.id not in offered or not service.bookable:
            continue
        out.append({
            "code": office.code, "name": office.name, "institution": office.institution,
            "department": office.department, "city": office.city, "address": office.address,
            "timezone": office.timezone,
            "next_free": await _next_free(office, service, rule, now, config),
        })
    return out


async def _next_free(office: Office, service: Service, rule: BookingRule, now: datetime, config: SchedulerConfig) -> dict | None:
    await ensure_slots(office, service, rule, config)
    tz = office.timezone
    low, high = policy.bookable_range(now, rules_of(rule), tz)
    zone = ZoneInfo(tz)
    closed = sorted(await _closed(office, low.astimezone(zone).date(), high.astimezone(zone).date(), config))
    exclude = f" AND day NOT IN ({', '.join('?' * len(closed))})" if closed else ""
    rows = await _db().execute_query_dict(
        placeholders(
            'SELECT start, "end", capacity, booked FROM slot WHERE office_id = ? AND service_id = ?'
            f" AND start >= ? AND start < ? AND booked < capacity{exclude} ORDER BY start LIMIT 1"
        ),
        [office.id, service.id, low.astimezone(timezone.utc), high.astimezone(timezone.utc), *closed],
    )
    if not rows:
        return None
    row = rows[0]
    return {
        "start": _iso(db_datetime(row["start"]), tz), "end": _iso(db_datetime(row["end"]), tz),
        "available": row["capacity"] - row["booked"],
    }


# ---------------------------------------------------------------- views


def _mask(value: str) -> str:
    return "•" * max(0, len(value) - 3) + value[-3:]


def appointment_view(appt: Appointment, office: Office, service: Service, rules: policy.Rules,
                     config: SchedulerConfig, now: datetime | None = None, ticket_public_id: str | None = None) -> dict:
    """A cita as the API shows it (document and phone masked)."""
    tz = office.timezone
    now = now or clock.now()
    checkin = config.checkin
    return {
        "id": appt.public_id,
        "code": appt.code,
        "office": office.code,
        "office_name": office.name,
        "office_address": office.address,
        "service": service.code,
        "service_name": service.name,
        "kind": str(service.kind),
        "start": _iso(appt.start, tz),
        "end": _iso(appt.end, tz),
        "timezone": tz,
        "status": str(appt.status),
        "name": appt.name,
        "document": {
            "type": str(appt.document_type),
            "number": _mask(appt.document_number + (f"-{appt.document_complement}" if appt.document_complement else "")),
            "issued_in": appt.document_issued_in,
        },
        "phone": _mask(appt.phone) if appt.phone else None,
        "party_size": appt.party_size,
        "category": appt.category,
        "requirements": list(service.requirements or []),
        "fee_bs": service.fee_bs,
        "fee_note": service.fee_note,
        "can_cancel": appt.status == AppointmentStatus.BOOKED and policy.can_cancel(appt.start, now, rules),
        "cancel_until": _iso(policy.cancel_deadline(appt.start, rules), tz),
        "checkin_from": _iso(appt.start - checkin.before, tz),
        "checkin_until": _iso(appt.start + checkin.after, tz),
        "ticket": ticket_public_id,
        "links": {
            "ics": f"/api/appointments/{appt.public_id}/calendar.ics",
            "qr": f"/api/appointments/{appt.public_id}/qr.svg",
            "page": PORTAL_PATH.format(id=appt.public_id),
        },
    }


async def _full_view(appt: Appointment, config: SchedulerConfig) -> dict:
    office = appt.office if isinstance(appt.office, Office) else await Office.get(id=appt.office_id)
    service = appt.service if isinstance(appt.service, Service) else await Service.get(id=appt.service_id)
    rule = await BookingRule.get_or_none(office_id=office.id, service_id=service.id)
    rules = rules_of(rule) if rule else policy.Rules()
    ticket_id = None
    if appt.ticket_id is not None:
        from turnero.queue.models import Ticket

        ticket_id = await Ticket.filter(id=appt.ticket_id).first().values_list("public_id", flat=True)
    return appointment_view(appt, office, service, rules, config, ticket_public_id=ticket_id)


# ---------------------------------------------------------------- finding a cita


async def _appointment_by_ref(ref: str) -> Appointment | None:
    """By the human code (any case, spaces or a dash allowed) or the unguessable id."""
    code = policy.normalise_code(ref)
    if policy.looks_like_code(code):
        found = await Appointment.get_or_none(code=code).select_related("office", "service")
        if found is not None:
            return found
    if can_match(Appointment, "public_id", ref):
        return await Appointment.get_or_none(public_id=ref).select_related("office", "service")
    return None


def _not_found():
    return not_found("appointment_not_found", "No existe una cita con ese código y documento.")


async def find_for_citizen(ref: str, document: str | None) -> Appointment:
    """The cita named by `ref`. With its short code the document must match (the code
    alone is typed by people and could be guessed); the unguessable id is enough by
    itself, but a document given with it must match too. 404 otherwise — never telling
    whether the code exists."""
    appt = await _appointment_by_ref(ref or "")
    if appt is None:
        raise _not_found()
    by_id = appt.public_id == ref
    if document is None and by_id:
        return appt
    if document is None or not policy.document_matches(appt.document_number, appt.document_complement, document):
        raise _not_found()
    return appt


async def appointment_for_citizen(ref: str, document: str | None, config: SchedulerConfig) -> dict:
    return await _full_view(await find_for_citizen(ref, document), config)


# ---------------------------------------------------------------- places (booking: booking.py)


async def take_places(conn, slot_id: int, places_: int) -> tuple[int, int]:
    """Take places of a slot in the caller's transaction: (capacity, booked) after it,
    or 409 slot_full when fewer are free (nothing changed)."""
    rows = await conn.execute_query_dict(
        placeholders(
            "UPDATE slot SET booked = booked + ? WHERE id = ? AND booked + ? <= capacity RETURNING capacity, booked"
        ),
        [places_, slot_id, places_],
    )
    if not rows:
        raise _slot_full()
    return rows[0]["capacity"], rows[0]["booked"]


def _slot_full() -> ApiError:
    return conflict("slot_full", "Ese horario ya no tiene cupos; elija otro.")


async def release_places(conn, slot_id: int, places_: int) -> None:
    """Give places of a slot back in the caller's transaction. Every process forgets
    what it knew of the slot's places (places.py): this one now (and the callers here
    again after their commit), the others through NOTIFY on PostgreSQL, delivered with
    the commit."""
    places.known.forget((slot_id,))
    notify = f", pg_notify('{places.CHANNEL}', id::text) AS notified" if is_postgres() else ""
    await conn.execute_query_dict(
        placeholders(f"UPDATE slot SET booked = booked - ? WHERE id = ? AND booked >= ? RETURNING booked{notify}"),
        [places_, slot_id, places_],
    )


async def places_changed(conn) -> None:
    """Capacities changed, in the caller's transaction (a rule, a closure; any code that
    raises a slot's capacity by its own SQL should call it too): every process forgets
    every slot's places, this one now (the callers here again after their commit), the
    others on the commit (PostgreSQL NOTIFY)."""
    places.known.forget_all()
    if is_postgres():
        await conn.execute_query_dict(f"SELECT pg_notify('{places.CHANNEL}', '{places.ALL}') AS notified")


async def record_event(conn, appointment_id: int, kind: str, at: datetime, actor: Principal | None, data: dict | None = None) -> None:
    await conn.execute_query_dict(
        placeholders("INSERT INTO appointment_event (appointment_id, kind, at, user_id, data) VALUES (?, ?, ?, ?, ?)"),
        [appointment_id, kind, at, actor.user_id if actor else None, _json(data or {})],
    )


# ---------------------------------------------------------------- cancel and reschedule


async def _locked(conn, appt_id: int) -> Appointment:
    """The cita's row, locked (PostgreSQL; SQLite's write transaction is exclusive)."""
    lock = " FOR UPDATE" if is_postgres() else ""
    rows = await conn.execute_query_dict(placeholders(f"SELECT * FROM appointment WHERE id = ?{lock}"), [appt_id])
    return model_from_row(Appointment, rows[0])


def _require_changeable(appt: Appointment, rules: policy.Rules, now: datetime, office: Office) -> None:
    if appt.status != AppointmentStatus.BOOKED:
        raise conflict("not_changeable", f"La cita está «{appt.status.value}»: ya no se puede cambiar.")
    if not policy.can_cancel(appt.start, now, rules):
        deadline = policy.cancel_deadline(appt.start, rules).astimezone(ZoneInfo(office.timezone))
        raise conflict(
            "cutoff_passed",
            f"Las citas se cancelan o reprograman hasta el {deadline:%d/%m/%Y %H:%M}; ese plazo ya pasó.",
        )


async def cancel(ref: str, document: str, config: SchedulerConfig, actor: Principal | None = None,
                 reason: str = "citizen") -> dict:
    """Cancel a booked cita (by code + document) until the cut-off; frees its places."""
    found = await find_for_citizen(ref, document)
    office, service = found.office, found.service
    rules = rules_of(await booking_rule_or_default(office, service))
    now = clock.now()
    async with in_transaction() as conn:
        appt = await _locked(conn, found.id)
        _require_changeable(appt, rules, now, office)
        await conn.execute_query_dict(
            placeholders("UPDATE appointment SET status = ?, cancelled_at = ? WHERE id = ?"),
            [AppointmentStatus.CANCELLED.value, now, appt.id],
        )
        await release_places(conn, appt.slot_id, appt.party_size)
        await record_event(conn, appt.id, "cancelled", now, actor, {"reason": reason, "slot": appt.slot_id})
        await notifications.appointment_cancelled(conn, appt, office, service.code)  # reminders off, "cancelada"
    places.known.forget((appt.slot_id,))  # again: a read that crossed the commit must not keep "full"
    appt.status, appt.cancelled_at = AppointmentStatus.CANCELLED, now
    return appointment_view(appt, office, service, rules, config, now)


async def booking_rule_or_default(office: Office, service: Service) -> BookingRule:
    """The rule, even if since deactivated (a cita already booked keeps its terms)."""
    rule = await BookingRule.get_or_none(office_id=office.id, service_id=service.id)
    return rule or BookingRule(office_id=office.id, service_id=service.id)


async def reschedule(ref: str, document: str, new_start: datetime, config: SchedulerConfig,
                     actor: Principal | None = None) -> dict:
    """Move a booked cita to another slot of the same service and office, atomically:
    the new places are taken first, then the old ones released, in one transaction —
    it never holds two, and a full new slot (409 slot_full) leaves the cita as it was."""
    found = await find_for_citizen(ref, document)
    office, service = found.office, found.service
    rule = await _rule(office, service, config)
    rules = rules_of(rule)
    now = clock.now()
    start = _local_start(new_start, office.timezone)
    _require_changeable(found, rules, now, office)
    await _check_bookable(office, rules, start, now, config)
    slot = await _slot_at(office, service, rule, start, config)
    if slot.id == found.slot_id:
        raise invalid("La cita ya está en ese horario.", code="same_slot")
    if found.party_size > slot.capacity:
        raise invalid("El grupo supera los cupos de ese horario.", code="party_too_large")
    async with in_transaction() as conn:
        appt = await _locked(conn, found.id)
        _require_changeable(appt, rules, now, office)
        old_slot = appt.slot_id
        if is_postgres():  # both slot rows in id order: two crossing moves cannot deadlock
            await conn.execute_query_dict(
                "SELECT id FROM slot WHERE id IN ($1, $2) ORDER BY id FOR UPDATE", [old_slot, slot.id]
            )
        await take_places(conn, slot.id, appt.party_size)
        await release_places(conn, old_slot, appt.party_size)
        await conn.execute_query_dict(
            placeholders(
                'UPDATE appointment SET slot_id = ?, start = ?, "end" = ?, reschedule_count = reschedule_count + 1'
                " WHERE id = ?"
            ),
            [slot.id, slot.start, slot.end, appt.id],
        )
        await record_event(conn, appt.id, "rescheduled", now, actor, {
            "from": _iso(appt.start, "UTC"), "to": _iso(slot.start, "UTC"), "from_slot": old_slot, "to_slot": slot.id,
        })
        await notifications.appointment_rescheduled(conn, appt, office, service.code, start=slot.start)
    places.known.forget((old_slot,))  # again after the commit (see cancel)
    appt.slot_id, appt.start, appt.end = slot.id, slot.start, slot.end
    appt.reschedule_count += 1
    return appointment_view(appt, office, service, rules, config, now)


# ---------------------------------------------------------------- check-in


async def _find_for_checkin(office: Office, code: str | None, document: str | None, now: datetime) -> Appointment:
    if code is not None:
        ref = code.strip().rstrip("/").rsplit("/", 1)[-1]  # a scanned QR link ends with the id
        appt = await _appointment_by_ref(ref)
        if appt is None:
            raise not_found("appointment_not_found", "No existe una cita con ese código.")
        if appt.office_id != office.id:
            raise conflict(
                "wrong_office", f"Esa cita es en otra oficina: {appt.office.name}, {appt.office.address}."
            )
        return appt
    # By document: today's citas at this office for that number, the nearest first.
    tz = ZoneInfo(office.timezone)
    local_today = now.astimezone(tz).date()
    day_start = datetime.combine(local_today, time(0, 0), tz).astimezone(timezone.utc)
    candidates = await Appointment.filter(
        office_id=office.id, start__gte=day_start, start__lt=day_start + timedelta(days=1),
        status__in=[AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN],
    ).select_related("office", "service")
    mine = [a for a in candidates if policy.document_matches(a.document_number, a.document_complement, document or "")]
    if not mine:
        raise not_found("appointment_not_found", "No hay una cita para hoy con ese documento en esta oficina.")
    booked = [a for a in mine if a.status == AppointmentStatus.BOOKED] or mine
    return min(booked, key=lambda a: abs((a.start - now).total_seconds()))


async def check_in(office: Office, *, code: str | None, document: str | None, actor: Principal,
                   config: SchedulerConfig, queue_config) -> dict:
    """Check a cita in at the kiosk: inside the window it becomes a ticket in the
    appointment lane, due at the cita's time; a late arrival is refused (409 too_late)
    or let in as a walk-in, as configured. One transaction: the cita's state, the
    ticket and the event; a second check-in is 409 already_checked_in."""
    now = clock.now()
    found = await _find_for_checkin(office, code, document, now)
    if found.status == AppointmentStatus.CHECKED_IN or found.status == AppointmentStatus.DONE:
        raise conflict("already_checked_in", "Esa cita ya fue registrada; espere su llamado.")
    if found.status != AppointmentStatus.BOOKED:
        raise conflict("not_checkable", f"La cita está «{found.status.value}»; saque un turno presencial.")
    if found.service.kind == ServiceKind.EXAM:  # identity check and seat: the proctor (turnero/exam)
        raise conflict("exam_checkin_in_room", "Los postulantes al examen teórico se registran con el examinador, "
                       "en la sala de exámenes, con su documento.")
    rules = config.checkin
    tz = ZoneInfo(office.timezone)
    when = policy.arrival(found.start, now, rules)
    if when == policy.Arrival.EARLY:
        raise conflict(
            "too_early", f"Es temprano: puede registrar su cita desde las {(found.start - rules.before).astimezone(tz):%H:%M}."
        )
    late = when == policy.Arrival.LATE
    if late and rules.late != "walk_in":
        raise conflict(
            "too_late", f"El plazo para registrar su cita venció a las {(found.start + rules.after).astimezone(tz):%H:%M}."
        )
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            placeholders("UPDATE appointment SET status = ?, checked_in_at = ? WHERE id = ? AND status = ? RETURNING id"),
            [AppointmentStatus.CHECKED_IN.value, now, found.id, AppointmentStatus.BOOKED.value],
        )
        if not rows:
            raise conflict("already_checked_in", "Esa cita ya fue registrada; espere su llamado.")
        ticket = await queue_service.issue_checkin_ticket(
            office, found.service, due_at=None if late else found.start, party_size=found.party_size,
            phone=found.phone, actor=actor, data={"appointment": found.code, "late": late},
        )
        await conn.execute_query_dict(
            placeholders("UPDATE appointment SET ticket_id = ? WHERE id = ?"), [ticket.id, found.id]
        )
        await record_event(conn, found.id, "checked_in", now, actor, {"ticket": ticket.public_id, "late": late})
        # outbox: nothing yet (the queue's "your turn is near" messages take over).
    await queue_service.publish_queue_changed(office)
    view = await queue_service.ticket_view(ticket, office, queue_config)
    view["appointment"] = found.code
    view["late"] = late
    return view


# ---------------------------------------------------------------- sweeps (jobs)


async def mark_no_shows(config: SchedulerConfig, now: datetime | None = None) -> int:
    """Booked citas whose check-in window and grace have passed become no-shows, each
    with its event. Safe on several instances at once: the conditional UPDATE moves a
    cita once, and only the rows it returned get an event."""
    now = now or clock.now()
    cutoff = policy.no_show_cutoff(now, config.checkin)
    return await _sweep(AppointmentStatus.BOOKED, AppointmentStatus.NO_SHOW, "no_show", cutoff, now)


async def close_finished(now: datetime | None = None) -> int:
    """Checked-in citas of past days are done (the visit was served or abandoned in
    the queue), so the document may book that service again."""
    now = now or clock.now()
    return await _sweep(AppointmentStatus.CHECKED_IN, AppointmentStatus.DONE, "done", now - timedelta(hours=12), now)


async def _sweep(source: AppointmentStatus, target: AppointmentStatus, kind: str, before: datetime, now: datetime) -> int:
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            placeholders("UPDATE appointment SET status = ? WHERE status = ? AND start < ? RETURNING id"),
            # (UTC: SQLite compares the stored ISO text)
            [target.value, source.value, before.astimezone(timezone.utc)],
        )
        if rows:
            marks = ", ".join(["(?, ?, ?, NULL, ?)"] * len(rows))
            params = []
            for row in rows:
                params += [row["id"], kind, now.astimezone(timezone.utc), "{}"]
            await conn.execute_query_dict(
                placeholders(f"INSERT INTO appointment_event (appointment_id, kind, at, user_id, data) VALUES {marks}"),
                params,
            )
            # outbox: a no-show could send "perdió su cita" here.
    return len(rows)


async def purge_idempotency_keys(now: datetime | None = None) -> int:
    now = now or clock.now()
    # (UTC: SQLite compares the stored ISO text)
    return await IdempotencyKey.filter(created_at__lt=(now - IDEMPOTENCY_TTL).astimezone(timezone.utc)).delete()


# ---------------------------------------------------------------- calendars (admin)


async def calendar_view(office: Office, days: int, config: SchedulerConfig) -> dict:
    now = clock.now()
    today = clock.local_day(now, office.timezone)
    closed = await _closed(office, today, today + timedelta(days=days), config)
    rules = await BookingRule.filter(office_id=office.id).select_related("service").order_by("id")
    return {
        "office": office.code,
        "timezone": office.timezone,
        "opening_hours": office.opening_hours,
        "rules": [await _rule_view(office, rule) for rule in rules],
        "closed_days": [{"date": d.isoformat(), "reason": closed[d]} for d in sorted(closed)],
    }


async def _rule_view(office: Office, rule: BookingRule) -> dict:
    return {
        "service": rule.service.code, "service_name": rule.service.name, "slot_minutes": rule.slot_minutes,
        "capacity": await rule_capacity(office, rule.service, rule), "capacity_from_desks": rule.capacity is None,
        "window_days": rule.window_days,
        "min_notice_minutes": rule.min_notice_minutes, "release_time": rule.release_time,
        "cancel_cutoff_minutes": rule.cancel_cutoff_minutes, "hours": rule.hours or office.opening_hours,
        "active": rule.active,
    }


async def set_booking_rule(office: Office, body: dict, actor: Principal, config: SchedulerConfig) -> dict:
    """Create or change a service's booking rule at an office. A new capacity applies
    to the future slots already made (never below the places already booked); a new
    slot length or hours apply to the days not materialised yet."""
    service = await offered_service(office, body["service"])
    if not service.bookable:
        raise invalid(f"El trámite {service.code} no admite citas.", code="not_bookable")
    fields = {k: body[k] for k in ("slot_minutes", "capacity", "window_days", "min_notice_minutes",
                                   "release_time", "cancel_cutoff_minutes", "hours", "active")}
    async with in_transaction() as conn:
        rule, created = await BookingRule.get_or_create(office_id=office.id, service_id=service.id, defaults=fields)
        before = None if created else {k: getattr(rule, k) for k in fields}
        if not created:
            await BookingRule.filter(id=rule.id).update(**fields)
            rule = await BookingRule.get(id=rule.id)
        await admin_service.audit(actor, "booking_rule.create" if created else "booking_rule.update",
                                  f"{office.code}/{service.code}", office.id, before, fields)
        capacity = await rule_capacity(office, service, rule)
        await _db().execute_query_dict(
            placeholders(
                "UPDATE slot SET capacity = CASE WHEN booked > ? THEN booked ELSE ? END"
                " WHERE office_id = ? AND service_id = ? AND start > ? RETURNING id"
            ),
            [capacity, capacity, office.id, service.id, clock.now()],
        )
        await places_changed(conn)
    places.known.forget_all()
    _forget_cached(config)
    rule.service = service
    await materialise_slots(office, service, rule, config)
    return await _rule_view(office, rule)


async def add_closure(office: Office, day: date, reason: str, actor: Principal, config: SchedulerConfig) -> dict:
    """Close an office on a future day: its slots lose their places and the citas
    booked then are cancelled (each with its event, and its message once notifications
    hook in)."""
    now = clock.now()
    if day <= clock.local_day(now, office.timezone):
        raise invalid("Solo se puede cerrar un día futuro.", code="invalid_date")
    async with in_transaction() as conn:
        await OfficeClosure.get_or_create(office_id=office.id, day=day, defaults={"reason": reason})
        await admin_service.audit(actor, "closure.create", f"{office.code}/{day.isoformat()}", office.id,
                                  None, {"date": day.isoformat(), "reason": reason})
        rows = await conn.execute_query_dict(
            placeholders(
                "UPDATE appointment SET status = ?, cancelled_at = ? WHERE office_id = ? AND status = ?"
                " AND slot_id IN (SELECT id FROM slot WHERE office_id = ? AND day = ?) RETURNING id, code, phone, start"
            ),
            [AppointmentStatus.CANCELLED.value, now, office.id, AppointmentStatus.BOOKED.value, office.id, day],
        )
        for row in rows:
            await record_event(conn, row["id"], "cancelled", now, actor, {"reason": "office_closed", "closure": day.isoformat()})
            await notifications.appointment_cancelled(conn, row, office)  # reminders off, "cancelada"
        await conn.execute_query_dict(
            placeholders("UPDATE slot SET booked = 0, capacity = 0 WHERE office_id = ? AND day = ? RETURNING id"),
            [office.id, day],
        )
        await places_changed(conn)
    places.known.forget_all()
    _forget_cached(config)
    return {"date": day.isoformat(), "reason": reason or "Cierre de la oficina", "cancelled": len(rows)}
