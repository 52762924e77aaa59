"""Citas: booking rules and slots — a rule's terms, places per slot, materialising the
booking window's slots, finding the slot a booking asks for, and whether it may be
booked now."""

from __future__ import annotations

import asyncio
import time as time_module
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from turnero.core import brigades, clock
from turnero.core.db import placeholders
from turnero.core.errors import invalid
from turnero.core.models import Office, Service
from turnero.queue.models import DeskService
from turnero.scheduler import kinds, places, policy
from turnero.scheduler.config import SchedulerConfig, _cached, _closed, _closed_on, _db
from turnero.scheduler.models import BookingRule

_EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)

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


async def _rule(office: Office, service: Service, config: SchedulerConfig) -> BookingRule:
    return (await _rule_and_rules(office, service, config))[0]


async def _rule_and_rules(office: Office, service: Service, config: SchedulerConfig) -> tuple[BookingRule, policy.Rules]:
    async def load():
        rule = await booking_rule(office, service)
        return rule, rules_of(rule)

    return await _cached(config, ("rule", office.id, service.id), load)

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
    """Places of a new slot: the service's kind says (an exam session: the seats in
    service, kinds.py), else the rule's, else the desks serving the service."""
    capacity = await kinds.kind_of(service).capacity(office, service, rule)
    if capacity is not None:
        return capacity
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
    # Each day's hours: the rule's or the office's weekly ones; a brigade's stop's (core/brigades.py).
    hours = await brigades.weekly_hours_by_day(office, todo, rule.hours or office.opening_hours)
    chunks: list[list[tuple]] = [[]]
    for day in todo:
        rows = [
            (office.id, service.id, start.astimezone(timezone.utc), end.astimezone(timezone.utc), day, capacity)
            for start, end in policy.slot_times(day, hours[day], rules.slot_minutes, tz)
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
