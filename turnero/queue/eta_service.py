"""Wait estimates for an office, read from the database and played forward by eta.py.

Service times come straight from the ticket rows (called_at → finished_at of finished
calls, written by the engine in the same transaction as the finish): one grouped
statement per office over its last HISTORY_DAYS days, cached for STATS_TTL of the
clock — so they follow every finished ticket without a statistics table, a write in
the finish hot path or a job. The snapshot of the queue (waiting tickets, desks and
what they are serving) is read fresh on every estimate: three indexed statements.

Entry points (no HTTP): `estimates_for_office`, `estimate_for_ticket`,
`walk_in_waits` (offices list), `recommend_offices`, `balancing_view`, `apply_desk_move`,
`set_auto_balance` and `auto_balance` (the server applying moves by itself).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from turnero.admin import service as admin_service
from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.db import database_generation, db_datetime, is_postgres, placeholders
from turnero.core.errors import conflict, not_found
from turnero.core.models import Office, Service
from turnero.core.service import get_service, offered_service
from turnero.queue import balancing, eta, policy
from turnero.queue import service as queue_service
from turnero.queue.service import get_desk
from turnero.queue.models import Desk, DeskEvent, DeskService, DeskStatus, Ticket, TicketStatus

log = logging.getLogger("turnero.eta")

STATS_TTL = timedelta(seconds=60)
# How long an office's estimate answers the ticket views of a running service: at
# least MIN_REUSE, REUSE_FACTOR times what computing it took (so estimating never takes
# more than about a tenth of the time), at most MAX_REUSE; any change to the queue but
# a new walk-in (desks, calls, finishes) makes it stale at once in this process.
MIN_REUSE = timedelta(seconds=2)
MAX_REUSE = timedelta(seconds=30)
REUSE_FACTOR = 10
HISTORY_DAYS = 14
# A call longer than this counts as this long (a desk left open over lunch, say).
MAX_CALL_MINUTES = 120.0
ARRIVAL_WINDOW = timedelta(minutes=60)
_FINISHED = (TicketStatus.DONE, TicketStatus.NO_SHOW, TicketStatus.TRANSFERRED)
_ACTIVE = (TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING)


def _in(values) -> str:
    """A SQL list literal of the code's own enum values."""
    return "(" + ", ".join(f"'{v.value}'" for v in values if v.value.isidentifier()) + ")"


def _connection():
    return Ticket._meta.db


# ---------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class _Service:
    id: int
    code: str
    name: str
    steps: tuple[str, ...]
    prior_minutes: float
    walk_in: bool


async def _catalogue(office_id: int) -> dict[int, _Service]:
    rows = await _connection().execute_query_dict(
        placeholders(
            "SELECT s.id, s.code, s.name, s.steps, s.expected_service_minutes, s.walk_in FROM service s"
            " JOIN office_service os ON os.service_id = s.id WHERE os.office_id = ? AND s.active = ?"
        ),
        [office_id, True],
    )
    out = {}
    for r in rows:
        steps = json.loads(r["steps"]) if isinstance(r["steps"], str) else (r["steps"] or [])
        out[r["id"]] = _Service(r["id"], r["code"], r["name"], tuple(steps),
                                float(r["expected_service_minutes"] or eta.DEFAULT_PRIOR_MINUTES), bool(r["walk_in"]))
    return out


def _step_ids(catalogue: dict[int, _Service], codes) -> tuple[int, ...]:
    by_code = {s.code: s.id for s in catalogue.values()}
    ids = []
    for code in codes:
        if code not in by_code:  # a step the office does not offer: the visit ends here
            break
        ids.append(by_code[code])
    return tuple(ids)


def _first_step(catalogue: dict[int, _Service], service: _Service) -> int | None:
    """The line a walk-in for `service` joins (a multi-step trámite starts at step 1)."""
    if not service.steps:
        return service.id
    steps = _step_ids(catalogue, service.steps[:1])
    return steps[0] if steps else None


# ---------------------------------------------------------------- service-time statistics


@dataclass
class _Stats:
    computed_at: datetime
    day: date
    model: eta.ServiceTimeModel
    # (service id, lane, flow service id, step index) -> visits issued in the window
    arrivals: dict[tuple, int]
    generation: int = 0  # of the database (core.db.database_generation): ids are per database


_stats_cache: dict[int, _Stats] = {}


def clear_cache() -> None:
    _stats_cache.clear()
    _estimate_cache.clear()
    _locks.clear()


def _utc_offset_hours(tz: str, at: datetime) -> float:
    offset = at.astimezone(ZoneInfo(tz)).utcoffset()
    return offset.total_seconds() / 3600 if offset else 0.0


async def _observations(office_id: int, today: date) -> list[eta.Observation]:
    if is_postgres():
        hour = "CAST(EXTRACT(HOUR FROM called_at AT TIME ZONE 'UTC') AS INTEGER)"
        minutes = f"LEAST(EXTRACT(EPOCH FROM (finished_at - called_at)) / 60.0, {MAX_CALL_MINUTES})"
    else:
        hour = "CAST(strftime('%H', called_at) AS INTEGER)"
        minutes = f"MIN((julianday(finished_at) - julianday(called_at)) * 1440.0, {MAX_CALL_MINUTES})"
    # The (office, day, number, hop) unique index covers office and day.
    rows = await _connection().execute_query_dict(
        placeholders(
            f"SELECT service_id, {hour} AS utc_hour, CASE WHEN day = ? THEN 1 ELSE 0 END AS today,"
            f" COUNT(*) AS n, SUM({minutes}) AS total FROM ticket"
            f" WHERE office_id = ? AND day >= ? AND day <= ? AND status IN {_in(_FINISHED)}"
            " AND called_at IS NOT NULL AND finished_at IS NOT NULL AND finished_at >= called_at"
            " GROUP BY service_id, utc_hour, today"
        ),
        [today, office_id, today - timedelta(days=HISTORY_DAYS), today],
    )
    return [(r["service_id"], int(r["utc_hour"]), int(r["n"]), float(r["total"] or 0.0), bool(r["today"])) for r in rows]


async def _arrival_counts(office_id: int, today: date, since: datetime) -> dict[tuple, int]:
    rows = await _connection().execute_query_dict(
        placeholders(
            "SELECT service_id, lane, flow_service_id, step_index, COUNT(*) AS n FROM ticket"
            " WHERE office_id = ? AND day = ? AND hop = 0 AND issued_at >= ? AND lane <> ?"
            " GROUP BY service_id, lane, flow_service_id, step_index"
        ),
        [office_id, today, since, policy.APPOINTMENT],
    )
    return {(r["service_id"], r["lane"], r["flow_service_id"], r["step_index"]): int(r["n"]) for r in rows}


async def _office_stats(office: Office, catalogue: dict[int, _Service], now: datetime) -> _Stats:
    today = clock.local_day(now, office.timezone)
    cached = _stats_cache.get(office.id)
    if (cached and cached.generation == database_generation() and cached.day == today
            and timedelta(0) <= now - cached.computed_at < STATS_TTL):
        return cached
    offset = _utc_offset_hours(office.timezone, now)
    observations = [
        eta.Observation(service_id, int((utc_hour + offset) // 1) % 24, n, total, is_today)
        for service_id, utc_hour, n, total, is_today in await _observations(office.id, today)
    ]
    model = eta.ServiceTimeModel.fit(
        observations, {s.id: s.prior_minutes for s in catalogue.values()}, utc_offset_hours=offset
    )
    stats = _Stats(now, today, model, await _arrival_counts(office.id, today, now - ARRIVAL_WINDOW),
                   database_generation())
    _stats_cache[office.id] = stats
    return stats


async def service_times(office: Office) -> eta.ServiceTimeModel:
    """The office's expected desk minutes per call (by service and hour), as used now."""
    return (await _office_stats(office, await _catalogue(office.id), clock.now())).model


def _streams(stats: _Stats, catalogue: dict[int, _Service]) -> list[eta.ArrivalStream]:
    minutes = ARRIVAL_WINDOW.total_seconds() / 60
    streams = []
    for (service_id, lane, flow_id, step_index), n in stats.arrivals.items():
        flow = catalogue.get(flow_id) if flow_id is not None else None
        next_steps = _step_ids(catalogue, flow.steps[step_index + 1:]) if flow else ()
        streams.append(eta.ArrivalStream(service_id, lane, n / minutes, next_steps))
    return streams


# ---------------------------------------------------------------- the office's queue now


@dataclass
class _Snapshot:
    waiting: list[eta.WaitingTicket]
    public_ids: dict[int, str]
    desks: list[eta.DeskState]
    desk_rows: list[dict]  # name, status, {service id: weight}
    waiting_by_service: dict[int, int]


def _next_lane(priority: str) -> str:
    return policy.REGULAR if priority == "regular" else policy.PREFERENTIAL


async def _snapshot(office: Office, catalogue: dict[int, _Service]) -> _Snapshot:
    conn = _connection()
    tickets = await conn.execute_query_dict(
        placeholders(
            "SELECT id, public_id, lane, priority, service_id, arrived_at, due_at, party_size, flow_service_id,"
            f" step_index, status, desk_id, called_at FROM ticket WHERE office_id = ? AND status IN {_in(_ACTIVE)}"
        ),
        [office.id],
    )
    desk_rows = await conn.execute_query_dict(
        placeholders(
            "SELECT d.id, d.name, d.status, d.preferential_streak, ds.service_id, ds.weight FROM desk d"
            " LEFT JOIN desk_service ds ON ds.desk_id = d.id WHERE d.office_id = ? ORDER BY d.id"
        ),
        [office.id],
    )
    waiting: list[eta.WaitingTicket] = []
    public_ids: dict[int, str] = {}
    at_desk: dict[int, tuple[eta.WaitingTicket, datetime]] = {}
    counts: dict[int, int] = {}
    for r in tickets:
        flow = catalogue.get(r["flow_service_id"]) if r["flow_service_id"] is not None else None
        next_steps = _step_ids(catalogue, flow.steps[r["step_index"] + 1:]) if flow else ()
        ticket = eta.WaitingTicket(
            r["id"], r["lane"], r["service_id"], db_datetime(r["arrived_at"]), db_datetime(r["due_at"]),
            int(r["party_size"] or 1), next_steps, _next_lane(r["priority"]),
        )
        if r["status"] == TicketStatus.WAITING.value:
            waiting.append(ticket)
            public_ids[r["id"]] = r["public_id"]
            counts[r["service_id"]] = counts.get(r["service_id"], 0) + 1
        elif r["desk_id"] is not None and r["called_at"] is not None:
            at_desk[r["desk_id"]] = (ticket, db_datetime(r["called_at"]))
    desks: dict[int, dict] = {}
    for r in desk_rows:
        d = desks.setdefault(r["id"], {"id": r["id"], "name": r["name"], "status": r["status"],
                                       "streak": r["preferential_streak"], "weights": {}})
        if r["service_id"] is not None:
            d["weights"][r["service_id"]] = r["weight"]
    states = []
    for d in desks.values():
        if d["status"] != DeskStatus.OPEN.value or not d["weights"]:
            continue
        busy, since = at_desk.get(d["id"], (None, None))
        states.append(eta.DeskState(d["id"], d["weights"], d["streak"] or 0, busy, since))
    return _Snapshot(waiting, public_ids, states, list(desks.values()), counts)


# ---------------------------------------------------------------- estimates


@dataclass
class ServiceEstimate:
    code: str
    name: str
    walk_in: bool
    waiting: int
    open_desks: int  # open desks that serve it at any tier
    primary_desks: float  # open desks with it as (one of) their first services
    service_minutes: float  # expected desk minutes per call now
    wait_minutes: int | None  # a regular walk-in arriving now (its first step's line)
    preferential_wait_minutes: int | None

    def as_dict(self) -> dict:
        return {
            "service": self.code, "name": self.name, "waiting": self.waiting, "open_desks": self.open_desks,
            "primary_desks": round(self.primary_desks, 2), "service_minutes": round(self.service_minutes, 1),
            "estimated_wait_minutes": self.wait_minutes,
            "estimated_wait_minutes_preferential": self.preferential_wait_minutes,
        }


@dataclass
class OfficeEstimate:
    office: str
    computed_at: datetime
    tickets: dict[int, int | None]  # waiting ticket id -> minutes until called
    by_public_id: dict[str, int | None]
    services: dict[str, ServiceEstimate] = field(default_factory=dict)
    desks: list[dict] = field(default_factory=list)
    # For tickets issued after it was computed: a new walk-in's wait per (service id,
    # lane), expected desk minutes and open desks per service id.
    walk_in: dict[tuple[int, str], int | None] = field(default_factory=dict)
    minutes: dict[int, float] = field(default_factory=dict)
    open_desks: dict[int, int] = field(default_factory=dict)
    version: int = 0
    issued_version: int = 0
    computed_mono: float = 0.0
    cost_seconds: float = 0.0
    generation: int = 0


    def fresh(self, office_id: int, now: datetime, *, new_walk_ins: bool = False) -> bool:
        """Still answers for the office; with `new_walk_ins`, even if walk-ins were
        issued since (the ticket views account for those themselves)."""
        reuse = min(MAX_REUSE, max(MIN_REUSE, timedelta(seconds=REUSE_FACTOR * self.cost_seconds)))
        return (
            self.generation == database_generation()
            and self.version == queue_service.queue_versions.get(office_id, 0)
            and (new_walk_ins or self.issued_version == queue_service.walk_ins_issued.get(office_id, 0))
            and timedelta(0) <= now - self.computed_at <= reuse
            and time.monotonic() - self.computed_mono <= reuse.total_seconds()
        )

    def as_dict(self) -> dict:
        return {
            "office": self.office,
            "computed_at": self.computed_at.isoformat(timespec="seconds"),
            "services": [s.as_dict() for s in sorted(self.services.values(), key=lambda s: s.code)],
        }


_estimate_cache: dict[int, OfficeEstimate] = {}


async def estimates_for_office(
    office: Office, config: policy.PolicyConfig, *, with_arrivals: bool = True
) -> OfficeEstimate:
    """Minutes until called for every waiting ticket of the office, and for a regular
    and a preferential walk-in arriving now at each service it offers."""
    now = clock.now()
    began = time.perf_counter()
    version = queue_service.queue_versions.get(office.id, 0)
    issued_version = queue_service.walk_ins_issued.get(office.id, 0)
    catalogue = await _catalogue(office.id)
    stats = await _office_stats(office, catalogue, now)
    snap = await _snapshot(office, catalogue)
    first_steps = {s.id: _first_step(catalogue, s) for s in catalogue.values()}
    ghost_services = {sid for sid in first_steps.values() if sid is not None} | set(catalogue)
    ghosts = [(sid, lane) for sid in ghost_services for lane in (policy.REGULAR, policy.PREFERENTIAL)]
    prediction = eta.simulate(
        snap.waiting, snap.desks, stats.model, now=now, config=config, ghosts=ghosts,
        arrivals=_streams(stats, catalogue) if with_arrivals else (),
        assume_desk_for=catalogue,
    )
    tickets = {t.ticket_id: prediction.wait_minutes(t.ticket_id) for t in snap.waiting}
    capacity = balancing.desk_capacity([d.weights for d in snap.desks])
    services = {}
    for s in catalogue.values():
        first = first_steps[s.id]
        services[s.code] = ServiceEstimate(
            s.code, s.name, s.walk_in, snap.waiting_by_service.get(s.id, 0),
            sum(1 for d in snap.desks if s.id in d.weights), capacity.get(s.id, 0.0),
            stats.model.minutes(s.id, now),
            prediction.walk_in_minutes(first, policy.REGULAR) if first is not None else None,
            prediction.walk_in_minutes(first, policy.PREFERENTIAL) if first is not None else None,
        )
    names = {s.id: s.code for s in catalogue.values()}
    desks = [
        {"name": d["name"], "status": d["status"],
         "services": {names.get(sid, str(sid)): w for sid, w in sorted(d["weights"].items(), key=lambda kv: kv[1])}}
        for d in snap.desk_rows
    ]
    estimate = OfficeEstimate(
        office.code, now, tickets, {snap.public_ids[i]: m for i, m in tickets.items()}, services, desks,
        walk_in={key: prediction.walk_in_minutes(*key) for key in prediction.walk_in},
        minutes={sid: stats.model.minutes(sid, now) for sid in catalogue},
        open_desks={sid: sum(1 for d in snap.desks if sid in d.weights) for sid in catalogue},
        version=version, issued_version=issued_version, computed_mono=time.monotonic(),
        generation=database_generation(),
    )
    estimate.cost_seconds = time.perf_counter() - began
    _estimate_cache[office.id] = estimate
    return estimate


async def current_estimate(office: Office, config: policy.PolicyConfig) -> OfficeEstimate:
    """The office's estimate, reused while fresh (see MIN_REUSE)."""
    cached = _estimate_cache.get(office.id)
    if cached is not None and cached.fresh(office.id, clock.now()):
        return cached
    async with _office_lock(office.id):
        cached = _estimate_cache.get(office.id)
        if cached is not None and cached.fresh(office.id, clock.now()):
            return cached  # computed while this one waited
        return await estimates_for_office(office, config)


_locks: dict[tuple[int, int], asyncio.Lock] = {}


def _office_lock(office_id: int) -> asyncio.Lock:
    """One estimate computation at a time per office (and event loop): a burst of
    issues that finds the estimate stale computes it once, not once per request."""
    key = (id(asyncio.get_running_loop()), office_id)
    lock = _locks.get(key)
    if lock is None:
        if len(_locks) > 1000:
            _locks.clear()
        lock = _locks[key] = asyncio.Lock()
    return lock


def _fresh_estimate(office: Office) -> OfficeEstimate | None:
    """For ticket views: new walk-ins since do not make it stale (see _wait_from)."""
    cached = _estimate_cache.get(office.id)
    return cached if cached is not None and cached.fresh(office.id, clock.now(), new_walk_ins=True) else None


async def _wait_from(estimate: OfficeEstimate, ticket: Ticket, office: Office) -> tuple[bool, int | None]:
    """(known, minutes) for the ticket from an office estimate; known is False when the
    estimate cannot tell (a ticket it does not hold and that is no new walk-in)."""
    if ticket.id in estimate.tickets:
        return True, estimate.tickets[ticket.id]
    lane = str(ticket.lane)
    base = estimate.walk_in.get((ticket.service_id, lane))
    if lane == policy.APPOINTMENT or base is None or ticket.arrived_at < estimate.computed_at:
        return False, None
    # Those who joined ahead of it since: its own lane before it and, for a regular
    # ticket, the preferential ones (the interleave calls them first).
    ahead = Q(lane=lane, arrived_at__lt=ticket.arrived_at) | Q(lane=lane, arrived_at=ticket.arrived_at, id__lt=ticket.id)
    if lane == policy.REGULAR:
        ahead = ahead | Q(lane=policy.PREFERENTIAL)
    between = await Ticket.filter(
        ahead, office_id=office.id, service_id=ticket.service_id,
        status=TicketStatus.WAITING, arrived_at__gte=estimate.computed_at,
    ).count()
    minutes = estimate.minutes.get(ticket.service_id, eta.DEFAULT_PRIOR_MINUTES)
    return True, base + math.ceil(between * minutes / max(1, estimate.open_desks.get(ticket.service_id, 0)))


async def wait_for_view(ticket: Ticket, office: Office, config: policy.PolicyConfig) -> int | None:
    """Minutes until a waiting ticket is called, for the ticket views of the running
    service (issue, GET /api/tickets/{id}, the citizen page, the slip). A walk-in issued
    since the office's fresh estimate was computed waits what a new walk-in waited
    then, plus the desk time of those who joined its line in between: one count
    instead of replaying the office on every issue. None: unknown (the caller keeps
    its position-based figure); an estimator failure never fails the view."""
    if ticket.status != TicketStatus.WAITING:
        return None
    try:
        cached = _fresh_estimate(office)
        if cached is not None:
            known, minutes = await _wait_from(cached, ticket, office)
            if known:
                return minutes
        async with _office_lock(office.id):
            fresh = _fresh_estimate(office)
            if fresh is None or fresh is cached:  # nobody computed it meanwhile
                fresh = await estimates_for_office(office, config)
        return (await _wait_from(fresh, ticket, office))[1]
    except Exception:  # noqa: BLE001 — the ticket must still be shown
        log.exception("wait estimate failed for office %s", office.code)
        return None


async def estimate_for_ticket(
    ticket: Ticket, office: Office, config: policy.PolicyConfig, *, max_age: timedelta = timedelta(seconds=5)
) -> int | None:
    """Minutes until a waiting ticket is called (None: not waiting, or no desk for it
    within the horizon). Reuses the office's estimate if it is at most `max_age` old
    and includes the ticket; otherwise computes the office's afresh."""
    if ticket.status != TicketStatus.WAITING:
        return None
    cached = _estimate_cache.get(office.id)
    now = clock.now()
    if (cached is None or cached.generation != database_generation() or ticket.id not in cached.tickets
            or not timedelta(0) <= now - cached.computed_at <= max_age):
        cached = await estimates_for_office(office, config)
    return cached.tickets.get(ticket.id)


async def walk_in_waits(service_code: str, offices: list[Office], config: policy.PolicyConfig) -> dict[str, dict]:
    """Per office code: `estimated_wait_minutes` for a regular walk-in for the service
    and how many wait in that line now (for GET /api/offices?service=CODE)."""
    out = {}
    for office in offices:
        estimate = await current_estimate(office, config)
        s = estimate.services.get(service_code)
        if s is not None:
            out[office.code] = {"estimated_wait_minutes": s.wait_minutes, "waiting": s.waiting}
    return out


async def add_walk_in_waits(offices: list[dict], service_code: str, config: policy.PolicyConfig) -> list[dict]:
    """GET /api/offices?service=CODE: adds `estimated_wait_minutes` (a regular walk-in,
    None when the trámite takes no walk-ins) and `waiting` to each office dict."""
    service = await get_service(service_code)
    rows = await Office.filter(code__in=[o["code"] for o in offices])
    waits = await walk_in_waits(service.code, rows, config)
    for o in offices:
        w = waits.get(o["code"], {"estimated_wait_minutes": None, "waiting": 0})
        o["estimated_wait_minutes"] = w["estimated_wait_minutes"] if service.walk_in else None
        o["waiting"] = w["waiting"]
    return offices


async def recommend_offices(
    service_code: str, config: policy.PolicyConfig, *, city: str | None = None, near: str | None = None,
    next_free: dict[str, datetime] | None = None,
) -> list[dict]:
    """Offices (of `city`, if given) offering the trámite: fastest first for a walk-in,
    each with its next free cita time from `next_free` (office code -> time)."""
    service = await get_service(service_code)
    query = Office.filter(active=True, catalogue__service_id=service.id)
    if city:
        query = query.filter(city__iexact=city)
    offices = await query.order_by("code").distinct()
    options = []
    for office in offices:
        estimate = await current_estimate(office, config)
        s = estimate.services[service.code]
        cita = (next_free or {}).get(office.code) if service.bookable else None
        options.append(balancing.OfficeOption(
            office.code, office.name, s.wait_minutes if service.walk_in else None, s.waiting, s.open_desks, cita,
        ))
    return [o.as_dict() for o in balancing.rank_offices(options, current=near)]


async def ranking(
    service_code: str, config: policy.PolicyConfig, *, city: str | None = None, near: str | None = None,
    scheduler_config=None,
) -> dict:
    """The offices ranked for a trámite (walk-in wait, then next free cita) and, when
    `near` is the citizen's office and its wait is long, the faster office to propose."""
    service = await get_service(service_code)
    here = None
    if near is not None:
        here = await Office.get_or_none(code=near, active=True)
        if here is None:
            raise not_found("office_not_found", f"No existe la oficina {near!r}.")
        city = city or here.city
    next_free = {}
    if service.bookable:
        from turnero.scheduler import service as scheduler

        for row in await scheduler.offices_for_service(service.code, scheduler_config or scheduler.SchedulerConfig()):
            if row.get("next_free"):
                next_free[row["code"]] = datetime.fromisoformat(row["next_free"]["start"])
    ranked = await recommend_offices(service.code, config, city=city, near=near, next_free=next_free)
    suggestion = None
    if here is not None:
        options = [
            balancing.OfficeOption(
                o["office"], o["name"], o["estimated_wait_minutes"], o["waiting"], o["open_desks"],
                datetime.fromisoformat(o["next_appointment"]) if o["next_appointment"] else None,
            )
            for o in ranked
        ]
        best = balancing.faster_alternative(options, here.code)
        if best is not None:
            local = next(o for o in options if o.office == here.code)
            target = await Office.get(code=best.office)
            suggestion = {
                **best.as_dict(), "address": target.address,
                "saving_minutes": local.wait_minutes - best.wait_minutes,
                "message": (
                    f"La espera aquí es de unos {local.wait_minutes} min. En {target.name} ({target.address})"
                    + (f" es de unos {best.wait_minutes} min." if best.wait_minutes else " no hay espera.")
                ),
            }
    return {"service": service.code, "city": city, "offices": ranked, "suggestion": suggestion}


# ---------------------------------------------------------------- desk balancing


async def balancing_view(
    office: Office, config: policy.PolicyConfig, *, threshold_minutes: int = balancing.DEFAULT_THRESHOLD_MINUTES
) -> dict:
    """Per service: queue, open desks and predicted wait; and suggested desk moves."""
    estimate = await estimates_for_office(office, config)
    queues = [
        balancing.ServiceQueue(s.code, s.waiting, s.wait_minutes, s.primary_desks, s.service_minutes)
        for s in estimate.services.values()
    ]
    open_desks = [
        balancing.DeskAssignment(d["name"], d["services"]) for d in estimate.desks if d["status"] == DeskStatus.OPEN.value
    ]
    moves = balancing.suggest_moves(queues, open_desks, threshold_minutes=threshold_minutes)
    return {**estimate.as_dict(), "desks": estimate.desks, "threshold_minutes": threshold_minutes,
            "auto_threshold_minutes": office.auto_balance_minutes,
            "suggestions": [m.as_dict() for m in moves]}


async def apply_desk_move(office: Office, desk_name: str, service_code: str, actor: Principal | None) -> dict:
    """Make `service_code` the desk's first service (weight 1); the services it had
    first become its fallbacks (weight 2). One transaction with its audit event."""
    service: Service = await offered_service(office, service_code)
    desk = await get_desk(office, desk_name)
    async with in_transaction():
        moved = await _move_desk(desk, service, actor)
    await queue_service.publish_queue_changed(office)  # also makes cached estimates stale
    return moved


async def set_auto_balance(office: Office, threshold_minutes: int | None, actor: Principal) -> dict:
    """Turn automatic desk moves on (above `threshold_minutes` of predicted wait) or off
    (None); with its audit record."""
    async with in_transaction():
        before = office.auto_balance_minutes
        await Office.filter(id=office.id).update(auto_balance_minutes=threshold_minutes)
        await admin_service.audit(actor, "office.auto_balance", office.code, office.id,
                                  {"auto_balance_minutes": before}, {"auto_balance_minutes": threshold_minutes})
    office.auto_balance_minutes = threshold_minutes
    return {"office": office.code, "auto_threshold_minutes": threshold_minutes}


# After a desk moves (by hand or by itself), the lines need time to show its effect:
# no automatic move sooner than this, so desks do not swing back and forth.
AUTO_BALANCE_COOLDOWN = timedelta(minutes=10)


async def auto_balance(office: Office, config: policy.PolicyConfig) -> dict | None:
    """One automatic step for an office with `auto_balance_minutes` set: apply the first
    suggested move, unless a desk of the office moved within AUTO_BALANCE_COOLDOWN.
    Several instances may run this at once: the office row is written first in the
    transaction (a row lock on PostgreSQL, the write lock on SQLite), so the check of
    the last move and the move itself happen one instance at a time."""
    threshold = office.auto_balance_minutes
    if threshold is None:
        return None
    view = await balancing_view(office, config, threshold_minutes=threshold)
    if not view["suggestions"]:
        return None
    first = view["suggestions"][0]
    moved = None
    async with in_transaction():
        locked = await Office.filter(id=office.id, auto_balance_minutes=threshold).update(
            auto_balance_minutes=threshold)
        recent = await DeskEvent.filter(desk__office_id=office.id, kind="reassigned",
                                        at__gte=clock.now() - AUTO_BALANCE_COOLDOWN).exists()
        if locked and not recent:
            service = await offered_service(office, first["to"])
            desk = await get_desk(office, first["desk"])
            moved = await _move_desk(desk, service, None)
    if moved is None:
        return None
    await queue_service.publish_queue_changed(office)  # also makes cached estimates stale
    log.info("balanceo automático en %s: %s", office.code, first["message"])
    return {**moved, "message": first["message"]}


async def _move_desk(desk: Desk, service: Service, actor: Principal | None) -> dict:
    """apply_desk_move's change, in the caller's transaction (published by the caller
    after it commits)."""
    now = clock.now()
    desk = await Desk.filter(id=desk.id).select_for_update().get()
    if desk.status == DeskStatus.CLOSED:
        raise conflict("desk_not_open", f"La ventanilla {desk.name} está cerrada.")
    links = {link.service_id: link for link in await DeskService.filter(desk_id=desk.id)}
    before = {sid: link.weight for sid, link in links.items()}
    for sid, link in links.items():
        if sid != service.id and link.weight <= 1:
            link.weight = 2
            await link.save(update_fields=["weight"])
    if service.id in links:
        links[service.id].weight = 1
        await links[service.id].save(update_fields=["weight"])
    else:
        await DeskService.create(desk_id=desk.id, service_id=service.id, weight=1)
    await DeskEvent.create(desk_id=desk.id, kind="reassigned", at=now, user_id=actor.user_id if actor else None)
    return {"desk": desk.name, "service": service.code, "before": before}
