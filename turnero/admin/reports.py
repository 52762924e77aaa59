"""Office performance figures: pure functions over plain facts (no database), so each
figure can be checked against a constructed day whose answers are known.

Definitions (minutes throughout):
- wait: from the ticket (or the step of a visit) being issued until it is called;
- service time: from the start of service (or the call, if "start" was never pressed)
  until it is finished, for tickets that ended `done`;
- no-show and cancellation rates: share of the tickets that reached an outcome
  (done, no-show or cancelled) in the period; transfers are not outcomes;
- percentiles by the nearest-rank method: p90 of n values is the ⌈0.9·n⌉-th smallest,
  always one of the observed values;
- desks: open, paused and busy time inside the period from their status changes; idle
  is open time not spent with a called or serving ticket;
- citas: fill rate = places booked / places offered (slots starting in the period);
  no-show rate among citas whose time came (attended or not);
- theory exam: attendance = candidates checked in / places booked; pass rate = passed /
  scored attempts.

Days whose detail has been purged (admin/retention.py) come in as ServiceDay roll-ups
(`days=`) and count exactly as the tickets, slots and citas they replace.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from turnero.core import clock


@dataclass(frozen=True)
class TicketFact:
    service: str
    status: str
    issued_at: datetime
    hop: int = 0
    called_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    desk: str | None = None
    operator: str | None = None  # who finished (or marked no-show) the ticket


@dataclass(frozen=True)
class DeskChange:
    desk: str
    status: str  # open, paused, closed
    at: datetime


def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict:
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None}
    return {
        "count": len(values),
        "mean": round(sum(values) / len(values), 2),
        "p50": round(percentile(values, 50), 2),
        "p90": round(percentile(values, 90), 2),
    }


def wait_minutes(t: TicketFact) -> float | None:
    return _minutes(t.issued_at, t.called_at) if t.called_at else None


def service_minutes(t: TicketFact) -> float | None:
    if t.status != "done" or t.finished_at is None:
        return None
    begin = t.started_at or t.called_at
    return _minutes(begin, t.finished_at) if begin else None


def tickets_by_service_and_hour(tickets: list[TicketFact], tz: str,
                                days: Iterable["ServiceDay"] = ()) -> dict[str, dict[int, int]]:
    """Visits (first steps only) by service and office-local hour of issue."""
    zone = ZoneInfo(tz)
    table: dict[str, Counter] = defaultdict(Counter)
    for t in tickets:
        if t.hop == 0:
            table[t.service][t.issued_at.astimezone(zone).hour] += 1
    for d in days:
        for hour, n in d.hours.items():
            table[d.service][hour] += n
    return {service: dict(sorted(hours.items())) for service, hours in sorted(table.items())}


def outcome_rates(tickets: list[TicketFact], days: Iterable["ServiceDay"] = ()) -> dict:
    counts = Counter(t.status for t in tickets)
    for d in days:
        counts.update(d.statuses)
    outcomes = counts["done"] + counts["no_show"] + counts["cancelled"]
    rate = (lambda n: round(n / outcomes, 4) if outcomes else None)
    return {
        "done": counts["done"], "no_show": counts["no_show"], "cancelled": counts["cancelled"],
        "transferred": counts["transferred"], "outcomes": outcomes,
        "no_show_rate": rate(counts["no_show"]), "cancellation_rate": rate(counts["cancelled"]),
    }


def by_service(tickets: list[TicketFact], measure, days: Iterable["ServiceDay"] = (),
               rolled: str = "wait_us") -> dict[str, dict]:
    """`measure` of each ticket, and the `rolled` list (wait_us or service_us) of each day."""
    values: dict[str, list[float]] = defaultdict(list)
    for t in tickets:
        value = measure(t)
        if value is not None:
            values[t.service].append(value)
    for d in days:
        if getattr(d, rolled):
            values[d.service].extend(us_minutes(us) for us in getattr(d, rolled))
    return {service: summary(v) for service, v in sorted(values.items())}


def operator_productivity(tickets: list[TicketFact], days: Iterable["ServiceDay"] = ()) -> dict[str, dict]:
    served: Counter = Counter()
    minutes_served: dict[str, float] = defaultdict(float)
    no_shows: Counter = Counter()
    for t in tickets:
        if t.operator is None:
            continue
        if t.status == "done":
            minutes = service_minutes(t)
            served[t.operator] += 1
            minutes_served[t.operator] += minutes if minutes is not None else 0.0
        elif t.status == "no_show":
            no_shows[t.operator] += 1
    for d in days:
        for name, (n_served, n_no_show, us) in d.operators.items():
            if n_served:
                served[name] += n_served
                minutes_served[name] += us_minutes(us)
            if n_no_show:
                no_shows[name] += n_no_show
    names = sorted(set(served) | set(no_shows))
    return {
        name: {
            "served": served[name],
            "no_show": no_shows[name],
            "mean_service_minutes": round(minutes_served[name] / served[name], 2) if served[name] else None,
        }
        for name in names
    }


def _clip(a: datetime, b: datetime, start: datetime, end: datetime) -> float:
    lo, hi = max(a, start), min(b, end)
    return max(0.0, _minutes(lo, hi))


def desk_time(changes: list[DeskChange], tickets: list[TicketFact], start: datetime, end: datetime,
              initial: dict[str, str] | None = None, extra_busy: dict[str, float] | None = None) -> dict[str, dict]:
    """Open, paused, busy and idle minutes per desk inside [start, end). `initial` is
    each desk's status when the period begins (closed when unknown); `extra_busy`, busy
    minutes of tickets rolled up into days."""
    state = dict(initial or {})
    since = {desk: start for desk in state}
    open_time: Counter = Counter()
    paused_time: Counter = Counter()
    for change in sorted(changes, key=lambda c: c.at):
        previous = state.get(change.desk, "closed")
        began = since.get(change.desk, start)
        if previous == "open":
            open_time[change.desk] += _clip(began, change.at, start, end)
        elif previous == "paused":
            paused_time[change.desk] += _clip(began, change.at, start, end)
        state[change.desk], since[change.desk] = change.status, change.at
    for desk, status in state.items():  # still open or paused when the period ends
        if status == "open":
            open_time[desk] += _clip(since[desk], end, start, end)
        elif status == "paused":
            paused_time[desk] += _clip(since[desk], end, start, end)
    busy: Counter = Counter()
    for t in tickets:
        if t.desk and t.called_at and t.finished_at:
            busy[t.desk] += _clip(t.called_at, t.finished_at, start, end)
    for desk, minutes in (extra_busy or {}).items():
        busy[desk] += minutes
    desks = sorted(set(state) | set(busy), key=lambda d: (0, int(d), "") if d.isdigit() else (1, 0, d))
    return {
        desk: {
            "open_minutes": round(open_time[desk], 2),
            "paused_minutes": round(paused_time[desk], 2),
            "busy_minutes": round(busy[desk], 2),
            "idle_minutes": round(max(0.0, open_time[desk] - busy[desk]), 2),
        }
        for desk in desks
    }


@dataclass(frozen=True)
class SlotFact:
    service: str
    capacity: int
    booked: int
    start: datetime | None = None  # needed only to roll the slot up into its day


@dataclass(frozen=True)
class AppointmentFact:
    service: str
    start: datetime
    status: str


def _ratio(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def citas_fill(slots: list[SlotFact], appointment_statuses: list[str], days: Iterable["ServiceDay"] = ()) -> dict:
    """Places offered and taken per service (fill rate = booked / capacity), and what
    became of the citas: no-show rate among those whose time came (attended or not),
    cancellation rate among all."""
    capacity: Counter = Counter()
    booked: Counter = Counter()
    for slot in slots:
        capacity[slot.service] += slot.capacity
        booked[slot.service] += slot.booked
    counts = Counter(appointment_statuses)
    for d in days:
        if d.slots:
            capacity[d.service] += d.slot_capacity
            booked[d.service] += d.slot_booked
        counts.update(d.citas)
    by_service = {
        service: {"capacity": capacity[service], "booked": booked[service],
                  "fill_rate": _ratio(booked[service], capacity[service])}
        for service in sorted(capacity)
    }
    attended = counts["checked_in"] + counts["done"]
    return {
        "all": {"capacity": sum(capacity.values()), "booked": sum(booked.values()),
                "fill_rate": _ratio(sum(booked.values()), sum(capacity.values()))},
        "by_service": by_service,
        "appointments": {status: counts[status] for status in ("booked", "checked_in", "done", "cancelled", "no_show")},
        "no_show_rate": _ratio(counts["no_show"], attended + counts["no_show"]),
        "cancellation_rate": _ratio(counts["cancelled"], counts.total()),
    }


def exam_results(booked_places: int, attempts: list[tuple[str, bool | None]]) -> dict:
    """Theory-exam attendance (candidates who checked in / places booked) and pass rate
    (passed / scored attempts). `attempts` are (status, passed) of checked-in candidates;
    a cancelled attempt (wrong person, withdrew) is not attendance."""
    attended = [a for a in attempts if a[0] != "cancelled"]
    scored = [passed for status, passed in attended if status == "finished"]
    passed = sum(1 for p in scored if p)
    return {
        "booked": booked_places, "attended": len(attended), "attendance_rate": _ratio(len(attended), booked_places),
        "scored": len(scored), "passed": passed, "failed": len(scored) - passed,
        "pass_rate": _ratio(passed, len(scored)),
    }


def build_report(tickets: list[TicketFact], changes: list[DeskChange], *, tz: str, start: datetime, end: datetime,
                 initial_desk_status: dict[str, str] | None = None, days: Iterable["ServiceDay"] = ()) -> dict:
    """The figures of `tickets` (detail) and `days` (roll-ups of purged detail) together."""
    days = list(days)
    waits = [w for t in tickets if (w := wait_minutes(t)) is not None]
    waits += [us_minutes(us) for d in days for us in d.wait_us]
    services = [s for t in tickets if (s := service_minutes(t)) is not None]
    services += [us_minutes(us) for d in days for us in d.service_us]
    return {
        "visits": sum(1 for t in tickets if t.hop == 0) + sum(d.visits for d in days),
        "tickets": len(tickets) + sum(d.tickets for d in days),
        "by_service_and_hour": tickets_by_service_and_hour(tickets, tz, days),
        "wait": {"all": summary(waits), "by_service": by_service(tickets, wait_minutes, days, "wait_us")},
        "service_time": {"all": summary(services),
                         "by_service": by_service(tickets, service_minutes, days, "service_us")},
        "outcomes": outcome_rates(tickets, days),
        "operators": operator_productivity(tickets, days),
        "desks": desk_time(changes, tickets, start, end, initial_desk_status, rolled_busy(days, tz, end)),
    }


# ---------------------------------------------------------------- daily roll-ups
# Detail past its retention (admin/retention.py) is replaced by one ServiceDay per
# office, service and office-local day. A roll-up keeps what the figures above need:
# counts, the issue hour of first steps, every wait and service time (in microseconds,
# so that percentiles over any period come out exactly as from the detail), and per
# operator and desk the sums their figures add up. Roll-ups of parts merge into the
# roll-up of the whole, so detail is rolled up batch by batch as it is deleted.

_US = timedelta(microseconds=1)


def _us(a: datetime, b: datetime) -> int:
    return (b - a) // _US


def us_minutes(us: int) -> float:
    """Minutes of an interval of `us` microseconds: the very float _minutes gives for it
    (timedelta.total_seconds() is microseconds / 10**6, correctly rounded)."""
    return us / 10**6 / 60


@dataclass
class ServiceDay:
    """The figures of one service on one office-local day, from detail that is gone."""

    service: str
    day: date
    visits: int = 0  # first steps
    tickets: int = 0
    statuses: Counter = field(default_factory=Counter)  # ticket status -> tickets
    hours: Counter = field(default_factory=Counter)  # office-local hour of issue -> first steps
    wait_us: list[int] = field(default_factory=list)  # sorted
    service_us: list[int] = field(default_factory=list)  # sorted
    operators: dict[str, list[int]] = field(default_factory=dict)  # name -> [served, no-shows, service µs]
    desks: dict[str, list[int]] = field(default_factory=dict)  # name -> [busy µs inside the day, after it]
    slots: int = 0
    slot_capacity: int = 0
    slot_booked: int = 0
    citas: Counter = field(default_factory=Counter)  # appointment status -> citas

    @property
    def key(self) -> tuple[str, date]:
        return self.service, self.day

    def merge(self, other: "ServiceDay") -> "ServiceDay":
        if other.key != self.key:
            raise ValueError(f"cannot merge {other.key} into {self.key}")
        self.visits += other.visits
        self.tickets += other.tickets
        self.statuses.update(other.statuses)
        self.hours.update(other.hours)
        self.wait_us = sorted(self.wait_us + other.wait_us)
        self.service_us = sorted(self.service_us + other.service_us)
        for mine, theirs in ((self.operators, other.operators), (self.desks, other.desks)):
            for name, sums in theirs.items():
                mine[name] = [a + b for a, b in zip(mine.get(name, [0] * len(sums)), sums)]
        self.slots += other.slots
        self.slot_capacity += other.slot_capacity
        self.slot_booked += other.slot_booked
        self.citas.update(other.citas)
        return self


def roll_up(tickets: Iterable[TicketFact] = (), slots: Iterable[SlotFact] = (), citas: Iterable[AppointmentFact] = (),
            *, tz: str) -> list[ServiceDay]:
    """ServiceDays of detail (each ticket counts on the local day it was issued; slots
    and citas on the day they start), in (service, day) order."""
    zone = ZoneInfo(tz)
    days: dict[tuple[str, date], ServiceDay] = {}

    def day_of(service: str, at: datetime) -> ServiceDay:
        key = (service, at.astimezone(zone).date())
        if key not in days:
            days[key] = ServiceDay(*key)
        return days[key]

    for t in tickets:
        d = day_of(t.service, t.issued_at)
        d.tickets += 1
        d.statuses[t.status] += 1
        if t.hop == 0:
            d.visits += 1
            d.hours[t.issued_at.astimezone(zone).hour] += 1
        if t.called_at:
            d.wait_us.append(_us(t.issued_at, t.called_at))
        served_us = None
        if service_minutes(t) is not None:
            served_us = _us(t.started_at or t.called_at, t.finished_at)
            d.service_us.append(served_us)
        if t.operator is not None and t.status in ("done", "no_show"):
            sums = d.operators.setdefault(t.operator, [0, 0, 0])
            if t.status == "done":
                sums[0] += 1
                sums[2] += served_us or 0
            else:
                sums[1] += 1
        if t.desk and t.called_at and t.finished_at:
            day_end = clock.day_start(d.day + timedelta(days=1), tz)
            sums = d.desks.setdefault(t.desk, [0, 0])
            sums[0] += max(0, _us(t.called_at, min(t.finished_at, day_end)))
            sums[1] += max(0, _us(max(t.called_at, day_end), t.finished_at))
    for slot in slots:
        d = day_of(slot.service, slot.start)
        d.slots += 1
        d.slot_capacity += slot.capacity
        d.slot_booked += slot.booked
    for cita in citas:
        day_of(cita.service, cita.start).citas[cita.status] += 1
    for d in days.values():
        d.wait_us.sort()
        d.service_us.sort()
    return [days[key] for key in sorted(days)]


def rolled_busy(days: Iterable[ServiceDay], tz: str, end: datetime) -> dict[str, float]:
    """Busy minutes per desk of rolled-up tickets in a period ending at `end`: a ticket
    still at the desk when its day ended counts up to the period's end — all of it, unless
    its day is the period's last (as _clip does with the detail)."""
    last_day = (end - _US).astimezone(ZoneInfo(tz)).date()
    busy: Counter = Counter()
    for d in days:
        for desk, (inside, after) in d.desks.items():
            busy[desk] += inside + (after if d.day < last_day else 0)
    return {desk: us_minutes(us) for desk, us in busy.items()}


# ---------------------------------------------------------------- tables (for CSV)


TABLES = ("by_service_and_hour", "wait", "service_time", "outcomes", "operators", "desks", "citas", "exam")


def table_rows(report: dict, table: str) -> list[list]:
    """One report table as rows (header first), as the CSV export writes it."""
    if table == "by_service_and_hour":
        hours = sorted({h for counts in report["by_service_and_hour"].values() for h in counts})
        rows = [["tramite", *[f"{h:02d}:00" for h in hours], "total"]]
        for service, counts in report["by_service_and_hour"].items():
            rows.append([service, *[counts.get(h, 0) for h in hours], sum(counts.values())])
        return rows
    if table in ("wait", "service_time"):
        rows = [["tramite", "cantidad", "media_min", "p50_min", "p90_min"]]
        for service, s in [*report[table]["by_service"].items(), ("TODOS", report[table]["all"])]:
            rows.append([service, s["count"], s["mean"], s["p50"], s["p90"]])
        return rows
    if table == "outcomes":
        o = report["outcomes"]
        return [["atendidos", "no_se_presentaron", "cancelados", "transferidos", "tasa_no_show", "tasa_cancelacion"],
                [o["done"], o["no_show"], o["cancelled"], o["transferred"], o["no_show_rate"], o["cancellation_rate"]]]
    if table == "operators":
        rows = [["operador", "atendidos", "no_se_presentaron", "media_atencion_min"]]
        for name, o in report["operators"].items():
            rows.append([name, o["served"], o["no_show"], o["mean_service_minutes"]])
        return rows
    if table == "citas":
        rows = [["tramite", "cupos", "reservados", "ocupacion"]]
        for service, c in [*report["citas"]["by_service"].items(), ("TODOS", report["citas"]["all"])]:
            rows.append([service, c["capacity"], c["booked"], c["fill_rate"]])
        return rows
    if table == "exam":
        e = report["exam"]
        return [["reservados", "asistieron", "tasa_asistencia", "evaluados", "aprobados", "reprobados", "tasa_aprobacion"],
                [e["booked"], e["attended"], e["attendance_rate"], e["scored"], e["passed"], e["failed"], e["pass_rate"]]]
    if table == "desks":
        rows = [["ventanilla", "abierta_min", "en_pausa_min", "ocupada_min", "ociosa_min"]]
        for desk, d in report["desks"].items():
            rows.append([desk, d["open_minutes"], d["paused_minutes"], d["busy_minutes"], d["idle_minutes"]])
        return rows
    raise KeyError(table)
