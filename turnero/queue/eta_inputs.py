"""What the wait replay is fed besides the queue itself: the office's catalogue (which
line each trámite's steps queue in) and its service-time statistics.

Service times come straight from the ticket rows (called_at → finished_at of finished
calls, written by the engine in the same transaction as the finish): one grouped
statement per office over its last HISTORY_DAYS days, cached for STATS_TTL of the
clock — so they follow every finished ticket without a statistics table, a write in
the finish hot path or a job. The walk-ins still expected come from the office's usual
day (`arrivals`: its comparable earlier days by quarter hour, scaled by the last hour),
or from the last ARRIVAL_WINDOW's issues when it has no such days yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from turnero.core import clock
from turnero.core.cache import Cache
from turnero.core.db import db_datetime, is_postgres, placeholders
from turnero.core.models import Office
from turnero.queue import arrivals, eta, eta_range, policy, staffing
from turnero.queue.models import Ticket, TicketStatus

STATS_TTL = timedelta(seconds=60)
HISTORY_DAYS = 14
# A call longer than this counts as this long (a desk left open over lunch, say).
MAX_CALL_MINUTES = 120.0
ARRIVAL_WINDOW = timedelta(minutes=60)
_FINISHED = (TicketStatus.DONE, TicketStatus.NO_SHOW, TicketStatus.TRANSFERRED)


def sql_list(values) -> str:
    """A SQL list literal of the code's own enum values."""
    return "(" + ", ".join(f"'{v.value}'" for v in values if v.value.isidentifier()) + ")"


def _connection():
    return Ticket._meta.db


# ---------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class CatalogueService:
    id: int
    code: str
    name: str
    steps: tuple[str, ...]
    prior_minutes: float
    walk_in: bool


async def catalogue(office_id: int) -> dict[int, CatalogueService]:
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
        out[r["id"]] = CatalogueService(r["id"], r["code"], r["name"], tuple(steps),
                                float(r["expected_service_minutes"] or eta.DEFAULT_PRIOR_MINUTES), bool(r["walk_in"]))
    return out


def step_ids(catalogue: dict[int, CatalogueService], codes) -> tuple[int, ...]:
    by_code = {s.code: s.id for s in catalogue.values()}
    ids = []
    for code in codes:
        if code not in by_code:  # a step the office does not offer: the visit ends here
            break
        ids.append(by_code[code])
    return tuple(ids)


def first_step(catalogue: dict[int, CatalogueService], service: CatalogueService) -> int | None:
    """The line a walk-in for `service` joins (a multi-step trámite starts at step 1)."""
    if not service.steps:
        return service.id
    steps = step_ids(catalogue, service.steps[:1])
    return steps[0] if steps else None


# ---------------------------------------------------------------- service-time statistics


@dataclass
class Stats:
    computed_at: datetime
    day: date
    model: eta.ServiceTimeModel
    # (service id, lane, flow service id, step index) -> visits expected in the next ARRIVAL_WINDOW
    arrivals: dict[tuple, float]


# Per office and local day, on the estimate's own clock (`now`): tests move it.
_stats_cache = Cache(STATS_TTL.total_seconds())
# The usual day's arrivals do not change during the day (per office and local day).
_usual_cache = Cache(timedelta(hours=1).total_seconds())


def clear_cache() -> None:
    _stats_cache.forget()
    _usual_cache.forget()
    _errors_cache.forget()


def _utc_offset_hours(tz: str, at: datetime) -> float:
    offset = at.astimezone(ZoneInfo(tz)).utcoffset()
    return offset.total_seconds() / 3600 if offset else 0.0


async def _observations(office_id: int, today: date) -> list[tuple]:
    if is_postgres():
        hour = "CAST(EXTRACT(HOUR FROM called_at AT TIME ZONE 'UTC') AS INTEGER)"
        minutes = f"LEAST(EXTRACT(EPOCH FROM (finished_at - called_at)) / 60.0, {MAX_CALL_MINUTES})"
    else:
        hour = "CAST(strftime('%H', called_at) AS INTEGER)"
        minutes = f"MIN((julianday(finished_at) - julianday(called_at)) * 1440.0, {MAX_CALL_MINUTES})"
    # The (office, day, number, hop) unique index covers office and day.
    rows = await _connection().execute_query_dict(
        placeholders(
            f"SELECT service_id, desk_id, {hour} AS utc_hour, day, COUNT(*) AS n, SUM({minutes}) AS total,"
            f" SUM({minutes} * {minutes}) AS squares FROM ticket"
            f" WHERE office_id = ? AND day >= ? AND day <= ? AND status IN {sql_list(_FINISHED)}"
            " AND called_at IS NOT NULL AND finished_at IS NOT NULL AND finished_at >= called_at"
            " GROUP BY service_id, desk_id, utc_hour, day"
        ),
        [office_id, today - timedelta(days=HISTORY_DAYS), today],
    )
    return [(r["service_id"], int(r["utc_hour"]), int(r["n"]), float(r["total"] or 0.0), _as_date(r["day"]),
             float(r["squares"] or 0.0), r["desk_id"]) for r in rows]


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


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


async def _usual_arrivals(office: Office, today: date, offset_hours: float) -> tuple[dict[tuple, dict[int, int]], int]:
    """Walk-ins per stream and local quarter hour summed over the comparable earlier days
    (the last HISTORY_DAYS days of the same kind as today: weekdays or weekend), and how
    many such days had any. Today does not change them: cached for the day."""
    cached = _usual_cache.get((office.id, today))
    if cached is not None:
        return cached
    if is_postgres():
        hour = "CAST(EXTRACT(HOUR FROM issued_at AT TIME ZONE 'UTC') AS INTEGER)"
        quarter = "CAST(FLOOR(EXTRACT(MINUTE FROM issued_at AT TIME ZONE 'UTC') / 15) AS INTEGER)"
    else:
        hour = "CAST(strftime('%H', issued_at) AS INTEGER)"
        quarter = "CAST(strftime('%M', issued_at) AS INTEGER) / 15"
    rows = await _connection().execute_query_dict(
        placeholders(
            f"SELECT day, service_id, lane, flow_service_id, step_index, {hour} AS utc_hour, {quarter} AS utc_quarter,"
            " COUNT(*) AS n FROM ticket WHERE office_id = ? AND day >= ? AND day < ? AND hop = 0 AND lane <> ?"
            " GROUP BY day, service_id, lane, flow_service_id, step_index, utc_hour, utc_quarter"
        ),
        [office.id, today - timedelta(days=HISTORY_DAYS), today, policy.APPOINTMENT],
    )
    usual: dict[tuple, dict[int, int]] = {}
    days = set()
    shift = round(offset_hours * 60)
    for r in rows:
        day = _as_date(r["day"])
        if staffing.same_kind(day, today):
            days.add(day)
            key = (r["service_id"], r["lane"], r["flow_service_id"], r["step_index"])
            minute = (int(r["utc_hour"]) * 60 + int(r["utc_quarter"]) * arrivals.QUARTER + shift) % (24 * 60)
            by_quarter = usual.setdefault(key, {})
            q = minute // arrivals.QUARTER
            by_quarter[q] = by_quarter.get(q, 0) + int(r["n"])
    return _usual_cache.put((office.id, today), (usual, len(days)))


async def expected_arrivals(office: Office, today: date, now: datetime) -> dict[tuple, float]:
    """Walk-ins expected per stream in the next ARRIVAL_WINDOW (see `arrivals`); a stream
    the usual day does not know keeps its last hour's count."""
    offset = _utc_offset_hours(office.timezone, now)
    last_hour = await _arrival_counts(office.id, today, now - ARRIVAL_WINDOW)
    usual, days = await _usual_arrivals(office, today, offset)
    if not days:
        return dict(last_hour)
    local = now.astimezone(ZoneInfo(office.timezone))
    coming = arrivals.expected(usual, days, sum(last_hour.values()), local.hour * 60 + local.minute + local.second / 60,
                               ARRIVAL_WINDOW.total_seconds() / 60)
    return {**{k: float(n) for k, n in last_hour.items() if k not in usual}, **coming}


async def office_stats(office: Office, catalogue: dict[int, CatalogueService], now: datetime) -> Stats:
    today = clock.local_day(now, office.timezone)
    cached = _stats_cache.get((office.id, today), now=now.timestamp())
    if cached is not None:
        return cached
    offset = _utc_offset_hours(office.timezone, now)
    observations = [
        eta.Observation(service_id, int((utc_hour + offset) // 1) % 24, n, total, day == today, desk_id, day, squares)
        for service_id, utc_hour, n, total, day, squares, desk_id in await _observations(office.id, today)
    ]
    model = eta.ServiceTimeModel.fit(
        observations, {s.id: s.prior_minutes for s in catalogue.values()}, utc_offset_hours=offset
    )
    stats = Stats(now, today, model, await expected_arrivals(office, today, now))
    return _stats_cache.put((office.id, today), stats, now=now.timestamp())


async def service_times(office: Office) -> eta.ServiceTimeModel:
    """The office's expected desk minutes per call (by service and hour), as used now."""
    return (await office_stats(office, await catalogue(office.id), clock.now())).model


def arrival_streams(stats: Stats, catalogue: dict[int, CatalogueService]) -> list[eta.ArrivalStream]:
    minutes = ARRIVAL_WINDOW.total_seconds() / 60
    streams = []
    for (service_id, lane, flow_id, step_index), n in stats.arrivals.items():
        flow = catalogue.get(flow_id) if flow_id is not None else None
        next_steps = step_ids(catalogue, flow.steps[step_index + 1:]) if flow else ()
        streams.append(eta.ArrivalStream(service_id, lane, n / minutes, next_steps))
    return streams


# ---------------------------------------------------------------- citas still to come

# Where today's booked citas come from: the scheduler's, plugged in by turnero/wiring.py
# (the scheduler imports the queue, not the other way round). None: no citas expected.
# Called with (office id, the office's local midnight today, now); returns an object
# with `coming` [(service id, start, party size)], `came` and `booked` (earlier days).
_citas_source = None


def expect_citas(source) -> None:
    global _citas_source
    _citas_source = source


async def coming_citas(office: Office, catalogue: dict[int, CatalogueService], now: datetime) -> list[eta.WaitingTicket]:
    """Today's citas not checked in yet, as the tickets they will be: each joins its
    trámite's first line at its start (the appointment lane calls a cita when due), its
    later steps after; as many as came on the earlier days (arrivals.citas_to_play).
    Their ids are negative: no ticket has one."""
    if _citas_source is None:
        return []
    midnight = clock.day_start(clock.local_day(now, office.timezone), office.timezone)
    expected = await _citas_source(office.id, midnight, now)
    playable = []  # (service, its first line, start, party): a trámite the office no longer offers is left out
    for service_id, start, party in expected.coming:
        service = catalogue.get(service_id)
        line = first_step(catalogue, service) if service is not None else None
        if line is not None:
            playable.append((service, line, db_datetime(start), party))
    share = arrivals.show_share(expected.came, expected.booked)
    out = []
    for n in arrivals.citas_to_play(len(playable), share):
        service, line, start, party = playable[n]
        later = step_ids(catalogue, service.steps[1:]) if service.steps else ()
        out.append(eta.WaitingTicket(-(n + 1), policy.APPOINTMENT, line, max(now, start), start, party, later,
                                     policy.REGULAR))
    return out


# ---------------------------------------------------------------- the estimate's own error

# The errors of past promises change slowly: read again at most this often.
ERRORS_TTL = timedelta(minutes=10)
_errors_cache = Cache(ERRORS_TTL.total_seconds())  # per office and local day, like _stats_cache


def day_slot(office: Office, at: datetime) -> str:
    """The local quarter hour `at` falls in ("09:30" for 09:44): the errors' finest group."""
    local = at.astimezone(ZoneInfo(office.timezone))
    return f"{local.hour:02d}:{15 * (local.minute // 15):02d}"


def in_first_hour(office: Office, at: datetime) -> bool:
    """Whether `at` comes before the end of the office's first hour open that day
    (before the opening included): the part of the day whose estimates err most."""
    zone = ZoneInfo(office.timezone)
    local = at.astimezone(zone)
    spans = staffing.spans_for(office.opening_hours, local.date())
    if not spans:
        return False
    opening = datetime.combine(local.date(), spans[0][0], zone)
    return local < opening + timedelta(hours=1)


async def wait_errors(office: Office, now: datetime) -> eta_range.ErrorModel:
    """What the office's walk-ins were promised at issue against the wait they had, over
    its last HISTORY_DAYS days and today, fitted (eta_range.ErrorModel)."""
    today = clock.local_day(now, office.timezone)
    cached = _errors_cache.get((office.id, today), now=now.timestamp())
    if cached is not None:
        return cached
    # (office, day, called_at) index: the office's days, their calls.
    rows = await _connection().execute_query_dict(
        placeholders(
            "SELECT lane, issued_at, called_at, promised_wait FROM ticket WHERE office_id = ? AND day >= ?"
            " AND day <= ? AND called_at IS NOT NULL AND hop = 0 AND promised_wait IS NOT NULL"
        ),
        [office.id, today - timedelta(days=HISTORY_DAYS), today],
    )
    samples = []
    for r in rows:
        issued, called = db_datetime(r["issued_at"]), db_datetime(r["called_at"])
        samples.append(eta_range.Sample(r["lane"], in_first_hour(office, issued), int(r["promised_wait"]),
                                        max(0.0, (called - issued).total_seconds() / 60), day_slot(office, issued)))
    model = eta_range.ErrorModel.fit(samples)
    return _errors_cache.put((office.id, today), model, now=now.timestamp())

