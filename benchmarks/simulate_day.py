#!/usr/bin/env python
"""Replay a realistic office day through the real queue engine with a simulated clock.

The office is the demo's SEGIP La Paz main office (24 desks, the descarte → captura →
entrega flow for first-time CIs). Each scenario gets a fresh SQLite database migrated
and seeded by turnero itself; every ticket is issued, called, finished or marked absent
by the real `turnero.queue` functions (issuing, calls, actions), with `turnero.core.clock` frozen at the
simulated time of each event (no HTTP, no sleeping).

The day (same for every scenario, from --seed), shaped on what the offices publish: a peak
(January) weekday at the busiest office — ~1,200 visits (≈1,000 of them CIs) arriving
07:30–15:30 with a crowd at opening; renewals, first-time CIs (three steps),
certifications, saneamiento and foreigners' CIs; 12 % preferential (seniors,
disability, pregnancy, small children); 12 % of renewals with a cita (checked in 0–20
minutes early, some late); 7 % of walk-ins gone when called (1.5 minutes lost at the
desk); desk minutes per call lognormal (σ 0.5) with a mean 10 % above each service's
prior (≈8 minutes on average), so the estimator has to learn them.

For each scenario it prints: the wait estimate at issue time (turnero.queue.eta_service,
replayed afresh for each ticket; the figure the running service showed on the ticket,
which reuses a fresh office estimate for walk-ins issued in between; and for comparison
the position-based figure the engine shows with predictions off) against the wait that
happened — mean and p90 absolute error; mean/p90/max wait per lane; regular tickets
that waited past the configured limit; desk utilisation. Scenarios: the call-next
policy vs plain first-come-first-served, each with desk balancing off and on
(every 10 simulated minutes the first suggestion of desk_balancing.balancing_view is
applied with desk_balancing.apply_desk_move).

FCFS is the same engine with `policy.choose_next` replaced by an arrival-order chooser
(the SQLite call-next path calls the policy function; the estimator predicts with the
same function, so it predicts what the engine does).

    python benchmarks/simulate_day.py            # full day, four scenarios (a few minutes)
    python benchmarks/simulate_day.py --short    # 90 minutes, 10 desks (seconds)
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)
# benchmarks/ holds a queue.py: take the folder off sys.path so `import queue` finds the
# standard library, and make the repository importable instead.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import date, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from turnero.core import clock  # noqa: E402
from turnero.core.ids import public_id  # noqa: E402
from turnero.core.models import Office, Service  # noqa: E402
from turnero.queue import balancing as balancing_policy  # noqa: E402
from turnero.queue import actions, calls, desk_balancing, eta_service, issuing, policy, views  # noqa: E402
from turnero.queue.config import QueueConfig  # noqa: E402
from turnero.queue.desks import set_desk_status  # noqa: E402
from turnero.queue.events import publish_queue_changed  # noqa: E402
from turnero.queue.models import DeskStatus, Lane, Ticket, TicketStatus  # noqa: E402
from turnero.settings import Settings  # noqa: E402

from benchmarks import sim_common  # noqa: E402

DAY = (2027, 1, 11)  # a Monday in January, the peak month
PREFERENTIAL = ("senior", "disability", "pregnant", "child")
# Walk-ins per visit type (trámite, share); CI-NUEVO goes DESCARTE → CAPTURA → ENTREGA.
MIX = (("CI-RENOV", 0.70), ("CI-NUEVO", 0.14), ("CERT", 0.11), ("SANEAMIENTO", 0.03), ("CIE", 0.02))
# --day: the usual peak day, or a day whose mix departs from what the desks were set up
# for (before an election: certifications and record corrections surge).
MIXES = {
    "pico": MIX,
    "elecciones": (("CI-RENOV", 0.52), ("CI-NUEVO", 0.10), ("CERT", 0.28), ("SANEAMIENTO", 0.08), ("CIE", 0.02)),
}
# Share of the day's arrivals per half hour from 07:30 (a crowd waits at the door).
HALF_HOURS = (0.10, 0.08, 0.08, 0.075, 0.075, 0.07, 0.07, 0.065, 0.06, 0.055, 0.05, 0.045, 0.045, 0.04, 0.035, 0.035)
TRUE_FACTOR = 1.10  # real desk minutes vs the catalogue's prior
SIGMA = 0.5
NO_SHOW_MINUTES = 1.5
BALANCE_EVERY = timedelta(minutes=10)


def la_paz(hour: int, minute: float = 0.0) -> datetime:
    return sim_common.la_paz_at(date(*DAY), hour, minute)


# ---------------------------------------------------------------- the day's plan


@dataclass
class Visit:
    n: int
    at: datetime
    tramite: str
    priority: str
    party: int
    gone: bool  # left before being called (a no-show at the desk)
    cita: datetime | None
    draws: list[float]  # lognormal draws (mean 1) for each step, scaled per service


def plan_day(seed: int, short: bool, mix=MIX) -> tuple[list[Visit], list[str]]:
    rng = random.Random(seed)
    if short:
        visits, halves, desks = 100, HALF_HOURS[:3], [str(n) for n in range(1, 11)]
    else:
        visits, halves, desks = 1200, HALF_HOURS, [str(n) for n in range(1, 25)]
    total = sum(halves)
    plan: list[Visit] = []
    n = 0
    for i, share in enumerate(halves):
        start = 30 + 30 * i  # minutes after 07:00
        for _ in range(round(visits * share / total)):
            tramite = rng.choices([m[0] for m in mix], [m[1] for m in mix])[0]
            priority = rng.choice(PREFERENTIAL) if rng.random() < 0.12 else "regular"
            party = 1 if rng.random() > 0.03 or tramite != "CI-NUEVO" else rng.choice((2, 3))
            at = la_paz(7, start + rng.random() * 30)
            cita = None
            if tramite == "CI-RENOV" and rng.random() < 0.12 and start >= 45:
                # Citas every 15 minutes; the citizen checks in up to 20 minutes early
                # (one in ten up to 10 minutes late).
                cita = la_paz(7, start + 15 * rng.randrange(2) + 15)
                at = cita - timedelta(minutes=rng.uniform(0, 20)) if rng.random() > 0.1 else (
                    cita + timedelta(minutes=rng.uniform(0, 10)))
            gone = cita is None and rng.random() < 0.07
            draws = [math.exp(rng.gauss(-SIGMA**2 / 2, SIGMA)) for _ in range(3)]
            plan.append(Visit(n, at, tramite, priority, party, gone, cita, draws))
            n += 1
    plan.sort(key=lambda v: (v.at, v.n))
    return plan, desks


# ---------------------------------------------------------------- FCFS variant


def fcfs_choose_next(candidates, *, now, weights, preferential_streak, config):
    """First come, first served within the desk's best tier (appointments at their time)."""
    eligible = [c for c in candidates if policy.is_eligible(c, weights, now)]
    if not eligible:
        return None
    best = min(weights[c.service_id] for c in eligible)
    tier = [c for c in eligible if weights[c.service_id] == best]
    first = min(tier, key=lambda c: (c.due_at if c.lane == policy.APPOINTMENT else c.arrived_at, c.ticket_id))
    return policy.Decision(first, 0)


# ---------------------------------------------------------------- one scenario


@dataclass
class Record:
    visit: Visit
    lane: str
    issued: datetime
    predicted: int | None
    baseline: int | None
    served: int | None = None  # what the running service showed at issue (QueueConfig.predict_waits)
    called: datetime | None = None


@dataclass
class Scenario:
    name: str
    records: dict[str, Record] = field(default_factory=dict)  # by ticket number
    busy_minutes: dict[str, float] = field(default_factory=dict)
    moves: int = 0
    last_finish: datetime | None = None
    estimate_seconds: list[float] = field(default_factory=list)


async def _insert_appointment(office: Office, visit: Visit, now: datetime) -> dict:
    """A checked-in cita becomes an appointment-lane ticket (what the citas check-in
    writes): the engine's own insert, with due_at = the cita's time."""
    tramite = await Service.get(code=visit.tramite)
    pid = public_id()
    values = {
        "public_id": pid, "visit_id": pid, "hop": 0, "step_index": 0, "day": clock.local_day(now, office.timezone),
        "priority": visit.priority, "lane": Lane.APPOINTMENT.value, "party_size": visit.party, "phone": None,
        "status": TicketStatus.WAITING.value, "arrived_at": now, "due_at": visit.cita, "issued_at": now,
        "recall_count": 0, "office_id": office.id, "service_id": tramite.id, "flow_service_id": None,
    }
    row = await issuing._insert_ticket(values, tramite.prefix, {"service": tramite.code, "cita": True}, None)
    await publish_queue_changed(office)  # as the check-in does after its commit
    return {"id": row["public_id"], "number": row["number"], "estimated_wait_minutes": None}


async def _play(sim: sim_common.DemoOffice, result: Scenario, plan: list[Visit], desk_names: list[str], *,
                balancing: bool, threshold: int) -> None:
    """The day of `plan` through the engine, on the open demo office; figures into `result`."""
    office, actor = sim.office, sim.actor
    config = QueueConfig.from_settings(sim.settings)
    position_config = dataclasses.replace(config, predict_waits=False)
    minutes = {s.code: s.expected_service_minutes for s in await Service.all()}
    start = la_paz(7, 30)
    clock.freeze(start)
    for desk in desk_names:
        await set_desk_status(office, desk, DeskStatus.OPEN, actor)
    serves = await sim_common.desk_services(office)
    events = sim_common.Events()
    at = events.at
    for visit in plan:
        at(visit.at, "arrive", visit)
        if visit.cita:
            at(visit.cita, "due", visit.tramite)
    if balancing:
        t = start + BALANCE_EVERY
        while t < la_paz(16):
            at(t, "balance", None)
            t += BALANCE_EVERY
    idle = set(desk_names)
    steps_done: dict[str, int] = {}  # ticket number -> steps finished

    async def try_call(desk: str, now: datetime) -> bool:
        view = await calls.call_next(office, desk, actor, config)
        if view is None:
            return False
        idle.discard(desk)
        record = result.records[view["number"]]
        visit = record.visit
        step = steps_done.get(view["number"], 0)
        if record.called is None:
            record.called = now
        if visit.gone:
            at(now + timedelta(minutes=NO_SHOW_MINUTES), "no_show", (desk, view["id"]))
            busy = NO_SHOW_MINUTES
        else:
            busy = minutes[view["service"]] * TRUE_FACTOR * visit.draws[min(step, 2)] * visit.party
            at(now + timedelta(minutes=busy), "finish", (desk, view["id"]))
        result.busy_minutes[desk] = result.busy_minutes.get(desk, 0.0) + busy
        return True

    async def wake(now: datetime, service_code: str | None = None) -> None:
        for desk in sorted(idle, key=lambda d: int(d)):
            if service_code is None or service_code in serves.get(desk, ()):
                await try_call(desk, now)

    while events:
        now, kind, payload = events.pop()
        clock.freeze(now)
        if kind == "arrive":
            visit: Visit = payload
            if visit.cita:
                view = await _insert_appointment(office, visit, now)
                lane = policy.APPOINTMENT
            else:
                view = await issuing.issue_ticket(office, visit.tramite, priority=visit.priority,
                                                  party_size=visit.party, actor=None, config=config)
                lane = policy.REGULAR if visit.priority == "regular" else policy.PREFERENTIAL
            ticket = await Ticket.get(public_id=view["id"])
            # The position-based figure the engine shows with predictions turned off.
            baseline = (await views.ticket_view(ticket, office, position_config))["estimated_wait_minutes"]
            began = time.perf_counter()
            predicted = await eta_service.estimate_for_ticket(ticket, office, config.policy)
            result.estimate_seconds.append(time.perf_counter() - began)
            result.records[view["number"]] = Record(visit, lane, now, predicted, baseline,
                                                       view["estimated_wait_minutes"])
            await wake(now, (await Service.get(id=ticket.service_id)).code)
        elif kind == "due":
            await wake(now, payload)
        elif kind in ("finish", "no_show"):
            desk, pid = payload
            ticket = await actions.get_ticket(pid)
            if kind == "finish":
                view = await actions.finish(ticket, actor, config)
                steps_done[view["number"]] = steps_done.get(view["number"], 0) + 1
            else:
                await actions.no_show(ticket, actor, config)
            result.last_finish = now
            idle.add(desk)
            if not await try_call(desk, now):
                nxt = view.get("next") if kind == "finish" else None
                if nxt:
                    await wake(now, nxt["service"])
            elif kind == "finish" and view.get("next"):
                await wake(now, view["next"]["service"])
        elif kind == "balance":
            view = await desk_balancing.balancing_view(office, config.policy, threshold_minutes=threshold)
            suggestion = view["suggestions"]
            if suggestion:
                move = suggestion[0]
                await desk_balancing.apply_desk_move(office, move["desk"], move["to"], actor)
                result.moves += 1
                if os.environ.get("SIMULATE_DAY_VERBOSE"):
                    waits = {q["service"]: q["estimated_wait_minutes"] for q in view["services"] if q["waiting"]}
                    print(f"  {clock.local(now, 'America/La_Paz'):%H:%M} {move['message']} {waits}",
                          file=sys.stderr)
                serves = await sim_common.desk_services(office)
                if move["desk"] in idle:
                    await try_call(move["desk"], now)
    waiting_left = await Ticket.filter(office_id=office.id, status=TicketStatus.WAITING).count()
    assert waiting_left == 0, f"{waiting_left} turnos sin atender"


async def run_scenario(plan: list[Visit], desk_names: list[str], *, fcfs: bool, balancing: bool,
                       directory: Path, quiet: bool = False,
                       threshold: int = balancing_policy.DEFAULT_THRESHOLD_MINUTES) -> Scenario:
    name = f"{'FCFS' if fcfs else 'política'} · balanceo {'sí' if balancing else 'no'}"
    result = Scenario(name)
    original = policy.choose_next
    if fcfs:
        policy.choose_next = fcfs_choose_next
    eta_service.clear_cache()
    try:
        async with sim_common.demo_office(directory) as sim:
            await _play(sim, result, plan, desk_names, balancing=balancing, threshold=threshold)
    finally:
        policy.choose_next = original
        clock.reset()
    if not quiet:
        print(f"  {name}: listo", file=sys.stderr)
    return result


# ---------------------------------------------------------------- figures


def summarise(s: Scenario, limit_minutes: int, desk_names: list[str], start: datetime) -> dict:
    waits: dict[str, list[float]] = {}
    by_tramite: dict[str, list[float]] = {}
    errors, baseline_errors, served_errors = [], [], []
    for r in s.records.values():
        if r.called is None:
            continue
        ready = max(r.issued, r.visit.cita) if r.lane == policy.APPOINTMENT and r.visit.cita else r.issued
        wait = (r.called - ready).total_seconds() / 60
        waits.setdefault(r.lane, []).append(wait)
        by_tramite.setdefault(r.visit.tramite, []).append(wait)
        actual = (r.called - r.issued).total_seconds() / 60
        if r.predicted is not None:
            errors.append(abs(r.predicted - actual))
        if r.baseline is not None:
            baseline_errors.append(abs(r.baseline - actual))
        if r.served is not None:
            served_errors.append(abs(r.served - actual))
    span = max(((s.last_finish or start) - start).total_seconds() / 60, 1.0)
    utilisation = [s.busy_minutes.get(d, 0.0) / span for d in desk_names]
    return {
        "scenario": s.name,
        "tickets": len(s.records),
        "eta_mae": statistics.fmean(errors) if errors else None,
        "eta_p90": sim_common.p90(errors),
        "eta_estimated": len(errors),
        "baseline_mae": statistics.fmean(baseline_errors) if baseline_errors else None,
        "baseline_p90": sim_common.p90(baseline_errors),
        "served_mae": statistics.fmean(served_errors) if served_errors else None,
        "served_p90": sim_common.p90(served_errors),
        "waits": {
            lane: {"n": len(v), "mean": statistics.fmean(v), "p90": sim_common.p90(v), "max": max(v)}
            for lane, v in sorted(waits.items())
        },
        "all_p90": sim_common.p90([w for v in waits.values() for w in v]),
        "waits_by_tramite": {
            t: {"n": len(v), "mean": statistics.fmean(v), "p90": sim_common.p90(v), "max": max(v)}
            for t, v in sorted(by_tramite.items())
        },
        "regular_over_limit": sum(1 for w in waits.get(policy.REGULAR, []) if w > limit_minutes),
        "utilisation": statistics.fmean(utilisation),
        "last_finish": clock.local(s.last_finish, "America/La_Paz").strftime("%H:%M") if s.last_finish else None,
        "moves": s.moves,
        "estimate_ms_mean": 1000 * statistics.fmean(s.estimate_seconds) if s.estimate_seconds else 0.0,
    }


LANE_ES = {"appointment": "cita", "preferential": "preferencial", "regular": "regular"}


def print_table(rows: list[dict], limit: int) -> None:
    print("| escenario | turnos | ETA MAE / p90 (min) | ETA mostrada MAE / p90 | ETA por posición MAE / p90"
          f" | espera media / p90 / máx por fila (min) | regulares > {limit} min | p90 total | utilización | fin"
          " | movimientos |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        lanes = "; ".join(
            f"{LANE_ES[lane]} {w['mean']:.1f} / {w['p90']:.1f} / {w['max']:.0f}" for lane, w in r["waits"].items()
        )
        print(
            f"| {r['scenario']} | {r['tickets']} | {r['eta_mae']:.1f} / {r['eta_p90']:.1f}"
            f" | {r['served_mae']:.1f} / {r['served_p90']:.1f} | {r['baseline_mae']:.1f} / {r['baseline_p90']:.1f} | {lanes} | {r['regular_over_limit']}"
            f" | {r['all_p90']:.1f} | {100 * r['utilisation']:.0f} % | {r['last_finish']} | {r['moves']} |"
        )


async def main_async(args) -> list[dict]:
    plan, desks = plan_day(args.seed, args.short, MIXES[args.day])
    limit = Settings().regular_max_wait_minutes
    combos = [(fcfs, bal) for fcfs in (False, True) for bal in (False, True)]
    if args.policy != "both":
        combos = [c for c in combos if c[0] == (args.policy == "fcfs")]
    if args.balancing != "both":
        combos = [c for c in combos if c[1] == (args.balancing == "on")]
    rows = []
    for fcfs, bal in combos:
        with tempfile.TemporaryDirectory(prefix="turnero-sim-") as tmp:
            scenario = await run_scenario(plan, desks, fcfs=fcfs, balancing=bal, directory=Path(tmp),
                                          quiet=args.json, threshold=args.threshold)
        rows.append(summarise(scenario, limit, desks, la_paz(7, 30)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="90 minutes, 10 desks, ~100 visits")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--day", choices=sorted(MIXES), default="pico",
                        help="pico: the usual mix; elecciones: certifications and saneamiento surge")
    parser.add_argument("--policy", choices=("both", "policy", "fcfs"), default="both")
    parser.add_argument("--balancing", choices=("both", "on", "off"), default="both")
    parser.add_argument("--threshold", type=int, default=balancing_policy.DEFAULT_THRESHOLD_MINUTES,
                        help="predicted wait (minutes) above which balancing moves a desk")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    began = time.perf_counter()
    rows = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        print(f"Día simulado: {'corto (90 min, 10 ventanillas)' if args.short else 'completo (24 ventanillas)'},"
              f" día {args.day}, semilla {args.seed}, {time.perf_counter() - began:.0f} s\n")
        print_table(rows, Settings().regular_max_wait_minutes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
