#!/usr/bin/env python
"""Booking storm: a real server, 5,000 clients trying to book 1,000 places released at once.

Each run:
1. a fresh database (PostgreSQL `turnero_bench_citas`, dropped and re-created, or a
   SQLite file), migrated and seeded with the demo data, then `python -m turnero serve`
   on 127.0.0.1 (jobs off, access log off, the per-client booking limit lifted: every
   client here comes from 127.0.0.1);
2. as admin, CI-RENOV at LPZ-PRINCIPAL gets a booking rule whose next day opens at the
   next whole minute (La Paz time, at least --lead seconds away): release time = that
   minute, window = 30 days or more (the first working day), --capacity places per
   15-minute slot, booking hours 07:30–17:30 on weekdays — 40 slots × 25 = 1,000 places
   on the day being released. Before the release the API does not offer that day;
3. the storm: first --warm-requests GETs of the window (200, 50 at a time: citizens
   refreshing the page before the release, so the server's database pool is open, as
   the baseline's is); then --clients clients wait for the release moment and all try
   at once (through at most --concurrency keep-alive connections, opened as needed, from
   one process on uvloop; --client raw: an httptools client, aiohttp: what earlier
   figures used, about 3x the client CPU per request). Each picks a random slot of
   that day and, refused with 409 slot_full, another, up to --tries slots. A client that
   came a few milliseconds early (422 not_yet_open) tries again 50 ms later. Printed:
   bookings/s (places booked / seconds from the release to the last booking), when half
   and 90% of the places were gone, the p50/p99 latency of POST /api/appointments (from
   the moment the client starts the request, waiting for a pooled connection
   included), answers by status, requests without an answer (must be 0), CPU per
   request and the CPU the server, the database and the client spent from the release
   to the last booking (read from /proc: the sell-out cannot take less than that over
   the machine's cores, which gives a figure that a busy machine does not move much);
   and, read from the database afterwards, places booked beyond a slot's capacity
   (must be 0) and slot counters that disagree with the citas they hold (must be 0);
4. availability: --avail-requests GETs of the 30-day window of that service (about 900
   slots with their places), --avail-concurrency at a time, p50/p99;
5. the bare-SQL baseline, right after, on the same database and the same 40 slots
   (their citas deleted, their counters back to 0), PostgreSQL only: the same clients
   (each tries up to --tries random slots) straight on asyncpg, --bare-connections
   pooled connections, no HTTP, no framework. One attempt is one transaction: `UPDATE
   slot SET booked = booked + 1 WHERE id = $1 AND booked + 1 <= capacity RETURNING
   booked` and, when it took the place, the cita's and its event's INSERTs; a full slot
   is the UPDATE alone. Printed: its attempts/s and bookings/s, its CPU to sell out,
   and Turnero's rates divided by the baseline's (the ratios).

With --runs N it prints every run and the medians, with the load average (1 minute)
at the start of each run. Exit status 1 if any run overbooked or left a request without
an answer.

    pip install -e ".[bench]"
    python benchmarks/booking_storm.py --backend postgres --runs 3
"""

from __future__ import annotations

import os
import sys

# benchmarks/ holds a queue.py, and Python puts this file's folder first on sys.path:
# take it off so `import queue` (aiosqlite, concurrent.futures) finds the standard module.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import random
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from datetime import time as dtime  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

try:
    import aiohttp
except ImportError:  # pragma: no cover
    raise SystemExit("Falta aiohttp: pip install -e '.[bench]'") from None

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import common  # noqa: E402
HOST = "127.0.0.1"
OFFICE, SERVICE = "LPZ-PRINCIPAL", "CI-RENOV"
TZ = "America/La_Paz"
ZONE = ZoneInfo(TZ)
PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/test"
PG_DB = "turnero_bench_citas"
SLOT_MINUTES = 15
HOURS = ("07:30", "17:30")  # 40 slots of 15 minutes
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


# ---------------------------------------------------------------- database and server


async def _pg(url: str, *statements: str):
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        result = None
        for sql in statements:
            result = await conn.fetch(sql)
        return result
    finally:
        await conn.close()


def fresh_database(backend: str, pg_url: str, workdir: Path) -> str:
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (workdir / f"bench.sqlite3{suffix}").unlink(missing_ok=True)
        return f"sqlite://{workdir / 'bench.sqlite3'}"
    if urlsplit(pg_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("El benchmark solo habla con 127.0.0.1.")
    asyncio.run(_pg(pg_url, f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)', f'CREATE DATABASE "{PG_DB}"'))
    return urlunsplit(urlsplit(pg_url)._replace(path="/" + PG_DB))


def drop_database(backend: str, pg_url: str) -> None:
    if backend == "postgres":
        asyncio.run(_pg(pg_url, f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))


async def seed(database_url: str) -> None:
    from turnero.core.db import close_db, init_db
    from turnero.demo import seed_demo
    from turnero.settings import Settings

    await init_db(Settings(database_url=database_url, run_jobs=False))
    try:
        await seed_demo()
    finally:
        await close_db()


async def query(database_url: str, sql: str) -> list[tuple]:
    if database_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(database_url.removeprefix("sqlite://"))
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    return [tuple(r) for r in await _pg(database_url, sql)]


def cpu_snapshot(server_pids: list[int]) -> dict:
    """CPU seconds so far of the server processes, the database's backends and this
    client: what a request costs, a figure that stays meaningful on a busy machine."""
    return {
        "server": {p: common.cpu_seconds(p) for p in server_pids},
        "db": {p: common.cpu_seconds(p) for p in common.pg_backend_pids(PG_DB)},
        "client": time.process_time(),
    }


def cpu_delta(before: dict, after: dict) -> dict[str, float]:
    out = {"client": after["client"] - before["client"]}
    for key in ("server", "db"):
        out[key] = sum(v - before[key].get(p, 0.0) for p, v in after[key].items())
    return out


def _schedstat_seconds(pid: int) -> float:
    """On-CPU time of a process's threads from the scheduler's accounting (nanoseconds,
    /proc/PID/task/*/schedstat): the tick counts of /proc/PID/stat are too coarse for a
    window of a second or two."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, IndexError, ValueError):
                pass
    except OSError:
        return 0.0
    return total / 1e9


def exact_snapshot(server_pids: list[int]) -> dict:
    return {
        "server": {p: _schedstat_seconds(p) for p in server_pids},
        "db": {p: _schedstat_seconds(p) for p in common.pg_backend_pids(PG_DB)},
        "client": time.process_time(),
    }


def sellout_cpu(before: dict, after: dict, booked: int) -> dict:
    """CPU spent from the release to the last booking by the server, the database and
    the client, and what it means on this machine's cores with nothing else running:
    the sell-out cannot be shorter than the total over the cores, nor than the busiest
    single process (one server worker is one thread)."""
    parts = cpu_delta(before, after)
    busiest = max([parts["client"]]
                  + [v - before["server"].get(p, 0.0) for p, v in after["server"].items()]
                  + [v - before["db"].get(p, 0.0) for p, v in after["db"].items()])
    cores = os.cpu_count() or 1
    total = parts["server"] + parts["db"] + parts["client"]
    least = max(total / cores, busiest)
    return {**parts, "total": total, "least_s": least, "bookings_per_s": booked / least if least else 0.0,
            "cores": cores}


# ---------------------------------------------------------------- the release


def plan_release(lead: float, capacity: int) -> dict:
    """The release moment (the next whole minute at least `lead` seconds away), the day
    it opens (the first weekday that is not a holiday, 30 or more days after the
    release's day) and the rule that makes it so."""
    from turnero.scheduler.holidays import holiday_names

    release = (datetime.now(ZONE) + timedelta(seconds=lead)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    window = 30
    while True:
        day = release.date() + timedelta(days=window)
        if day.weekday() < 5 and not holiday_names(day, day, "BO", "LP", True):
            break
        window += 1
    opening, closing = (dtime.fromisoformat(t) for t in HOURS)
    starts = []
    at = datetime.combine(day, opening, ZONE)
    while at + timedelta(minutes=SLOT_MINUTES) <= datetime.combine(day, closing, ZONE):
        starts.append(at.isoformat(timespec="seconds"))
        at += timedelta(minutes=SLOT_MINUTES)
    rule = {
        "service": SERVICE, "slot_minutes": SLOT_MINUTES, "capacity": capacity, "window_days": window,
        "min_notice_minutes": 60, "release_time": release.strftime("%H:%M"), "cancel_cutoff_minutes": 120,
        "hours": {d: [list(HOURS)] for d in WEEKDAYS},
    }
    return {"release": release, "day": day, "starts": starts, "rule": rule}


class RawPost(common.KeepAlive):
    """POSTs over at most `limit` keep-alive connections (common.KeepAlive): the 5,000
    clients share the server's two cores, and aiohttp spends about three times as much
    CPU per request (--client aiohttp keeps it, for comparison). A booking is not
    repeated on a closed connection."""

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        request = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        return await self.send(request, retry=False)


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile, seconds in, milliseconds out."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k] * 1000


async def storm(base: str, database_url: str, server_pids: list[int], args) -> dict:
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    # Generous: on a busy machine answers queue up; "without an answer" must mean the
    # server never answered, not that the client stopped waiting.
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as http:
        async with http.post("/api/auth/token", json={"username": "admin", "password": "demo"}) as r:
            admin = {"Authorization": "Bearer " + (await r.json())["token"]}
        plan = plan_release(args.lead, args.capacity)
        async with http.put(f"/api/offices/{OFFICE}/booking-rules", headers=admin, json=plan["rule"]) as r:
            assert r.status == 200, await r.text()
        day = plan["day"].isoformat()
        async with http.get(f"/api/offices/{OFFICE}/availability", params={"service": SERVICE, "from": day, "days": 1}) as r:
            before = await r.json()
        assert r.status == 200 and before == [], f"el día {day} ya estaba abierto: {before[:2]}"
        made = await query(database_url, (
            "SELECT COUNT(*), MIN(s.capacity), MAX(s.capacity) FROM slot s JOIN office o ON o.id = s.office_id"
            f" JOIN service v ON v.id = s.service_id WHERE o.code = '{OFFICE}' AND v.code = '{SERVICE}'"
            f" AND s.day = '{day}'"
        ))
        assert tuple(made[0]) == (len(plan["starts"]), args.capacity, args.capacity), made
        targets = plan["starts"]
        places = args.capacity * len(targets)

        latencies: list[float] = []
        statuses: dict[str, int] = {}
        unanswered = 0
        booked = 0
        early = 0
        last_booking = 0.0
        gate = asyncio.Event()

        answered_by_sellout = 0
        milestones: list[tuple[int, float, int]] = []  # (places booked, seconds, requests answered)
        at_sellout: dict = {}
        raw = RawPost(base, args.timeout, args.concurrency) if args.client == "raw" else None

        async def post(path: str, payload: dict) -> tuple[int, object]:
            if raw is not None:
                status, data = await raw.post(path, json.dumps(payload).encode())
                return status, json.loads(data)
            async with http.post(path, json=payload) as r:
                return r.status, await r.json()

        async def client(n: int) -> None:
            nonlocal unanswered, booked, early, last_booking, answered_by_sellout
            await gate.wait()
            choices = random.sample(targets, min(args.tries, len(targets)))
            body = {"office": OFFICE, "service": SERVICE, "name": f"Cliente {n}",
                    "document": {"number": str(10_000_000 + n)}}
            for start in choices:
                for _attempt in range(100):
                    t0 = time.perf_counter()
                    try:
                        status, payload = await post("/api/appointments", {**body, "start": start})
                    except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError):
                        unanswered += 1
                        return
                    latencies.append(time.perf_counter() - t0)
                    code = payload.get("error", {}).get("code", "") if isinstance(payload, dict) else ""
                    key = f"{status} {code}".strip()
                    statuses[key] = statuses.get(key, 0) + 1
                    if code == "not_yet_open":  # a few milliseconds early
                        early += 1
                        await asyncio.sleep(0.05)
                        continue
                    break
                if status == 201:
                    booked += 1
                    last_booking = time.perf_counter()
                    answered_by_sellout = len(latencies)
                    if booked == places:
                        at_sellout.update(exact_snapshot(server_pids))
                    if booked in (places // 2, places * 9 // 10):
                        milestones.append((booked, last_booking, len(latencies)))
                    return
                if code != "slot_full":
                    return

        tasks = [asyncio.create_task(client(n)) for n in range(args.clients)]
        # The minute before a release, citizens refresh the page: the server's database
        # pool is open by then (as the bare-SQL baseline's is). The day is not offered yet.
        warm = asyncio.Semaphore(args.warm_concurrency)

        async def refresh() -> None:
            async with warm:
                async with http.get(f"/api/offices/{OFFICE}/availability", params={"service": SERVICE, "days": 31}) as r:
                    await r.read()

        await asyncio.gather(*[refresh() for _ in range(args.warm_requests)])
        await asyncio.sleep(max(0.0, plan["release"].timestamp() - time.time()))
        cpu_before = cpu_snapshot(server_pids)
        exact_before = exact_snapshot(server_pids)
        t0 = time.perf_counter()
        gate.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        cpu = cpu_delta(cpu_before, cpu_snapshot(server_pids))
        if raw is not None:
            raw.close()
        sold_out = (last_booking - t0) if booked else elapsed
        to_sellout = sellout_cpu(exact_before, at_sellout or exact_snapshot(server_pids), booked)

        avail: list[float] = []
        sizes: list[int] = []
        sem = asyncio.Semaphore(args.avail_concurrency)

        async def one_availability() -> None:
            async with sem:
                t = time.perf_counter()
                async with http.get(f"/api/offices/{OFFICE}/availability", params={"service": SERVICE, "days": 30}) as r:
                    slots = await r.json()
                    assert r.status == 200
                avail.append(time.perf_counter() - t)
                sizes.append(len(slots))

        cpu_before = cpu_snapshot(server_pids)
        await asyncio.gather(*[one_availability() for _ in range(args.avail_requests)])
        avail_cpu = cpu_delta(cpu_before, cpu_snapshot(server_pids))
    return {
        "release": plan["release"], "day": day, "places": places, "slots": len(targets), "booked": booked,
        "elapsed": elapsed, "sold_out": sold_out, "bookings_per_s": booked / sold_out if sold_out else 0.0,
        "requests_per_s": len(latencies) / elapsed, "p50": pct(latencies, 50), "p99": pct(latencies, 99),
        "requests": len(latencies), "answered_by_sellout": answered_by_sellout, "to_sellout": to_sellout,
        "cpu_bound_bookings_per_s": to_sellout["bookings_per_s"],
        "milestones": [(b, at - t0, r) for b, at, r in milestones],
        "statuses": statuses, "unanswered": unanswered, "early": early,
        "avail_p50": pct(avail, 50), "avail_p99": pct(avail, 99), "avail_slots": max(sizes) if sizes else 0,
        **{f"cpu_{k}_ms": v * 1000 / max(1, len(latencies)) for k, v in cpu.items()},
        "avail_cpu_ms": (avail_cpu["server"] + avail_cpu["db"]) * 1000 / max(1, len(avail)),
    }


async def check_database(database_url: str) -> tuple[int, int]:
    """(places held beyond capacity, slots whose counter disagrees with their citas)."""
    rows = await query(database_url, (
        "SELECT s.id, s.capacity, s.booked, COALESCE(SUM(a.party_size), 0) AS held FROM slot s"
        " LEFT JOIN appointment a ON a.slot_id = s.id AND a.status IN ('booked', 'checked_in')"
        " GROUP BY s.id, s.capacity, s.booked"
    ))
    over = sum(max(0, held - capacity) for _id, capacity, _booked, held in rows)
    mismatched = sum(1 for _id, _capacity, counter, held in rows if counter != held)
    return over, mismatched


# ---------------------------------------------------------------- the bare-SQL baseline

_BARE_COLUMNS = (
    "public_id", "code", "office_id", "service_id", "slot_id", "start", "end", "status", "document_type",
    "document_number", "document_key", "name", "party_size", "created_at", "reschedule_count",
)
_BARE_INSERT = "INSERT INTO appointment ({}) VALUES ({}) RETURNING id".format(
    ", ".join(f'"{c}"' for c in _BARE_COLUMNS), ", ".join(f"${i + 1}" for i in range(len(_BARE_COLUMNS))),
)


async def bare_storm(database_url: str, day: str, args) -> dict:
    """The same storm as bare SQL (module docstring, step 5)."""
    import asyncpg
    from datetime import timezone

    dsn = database_url.replace("postgres://", "postgresql://", 1)
    admin = await asyncpg.connect(dsn)
    try:
        slots = await admin.fetch(
            "SELECT s.id, s.office_id, s.service_id, s.start, s.\"end\" FROM slot s JOIN office o ON o.id = s.office_id"
            " JOIN service v ON v.id = s.service_id WHERE o.code = $1 AND v.code = $2 AND s.day = $3::text::date",
            OFFICE, SERVICE, day,
        )
        ids = [r["id"] for r in slots]
        async with admin.transaction():
            await admin.execute("DELETE FROM appointment_event WHERE appointment_id IN"
                                " (SELECT id FROM appointment WHERE slot_id = ANY($1))", ids)
            await admin.execute("DELETE FROM appointment WHERE slot_id = ANY($1)", ids)
            await admin.execute("UPDATE slot SET booked = 0 WHERE id = ANY($1)", ids)
        await admin.execute("VACUUM ANALYZE slot, appointment, appointment_event")
    finally:
        await admin.close()
    pool = await asyncpg.create_pool(dsn, min_size=args.bare_connections, max_size=args.bare_connections)
    attempts = booked = 0
    last_booking = 0.0
    gate = asyncio.Event()
    at_sellout: dict = {}

    async def client(n: int) -> None:
        nonlocal attempts, booked, last_booking
        await gate.wait()
        for slot in random.sample(list(slots), min(args.tries, len(slots))):
            async with pool.acquire() as conn:
                async with conn.transaction():
                    attempts += 1
                    taken = await conn.fetchval(
                        "UPDATE slot SET booked = booked + 1 WHERE id = $1 AND booked + 1 <= capacity RETURNING booked",
                        slot["id"],
                    )
                    if taken is None:
                        continue
                    now = datetime.now(timezone.utc)
                    number = str(10_000_000 + n)
                    appt = await conn.fetchval(_BARE_INSERT, f"bare{n:010d}", f"B{n:07d}", slot["office_id"],
                                               slot["service_id"], slot["id"], slot["start"], slot["end"], "booked",
                                               "ci", number, f"ci:{number}", f"Cliente {n}", 1, now, 0)
                    await conn.execute(
                        "INSERT INTO appointment_event (appointment_id, kind, at, data) VALUES ($1, 'booked', $2, $3)",
                        appt, now, f'{{"party_size":1,"slot":{slot["id"]}}}',
                    )
            booked += 1
            last_booking = time.perf_counter()
            if booked == len(slots) * args.capacity:
                at_sellout.update(exact_snapshot([]))
            return

    try:
        tasks = [asyncio.create_task(client(n)) for n in range(args.clients)]
        await asyncio.sleep(0.2)
        db_before = {p: common.cpu_seconds(p) for p in common.pg_backend_pids(PG_DB)}
        client_before = time.process_time()
        exact_before = exact_snapshot([])
        t0 = time.perf_counter()
        gate.set()
        await asyncio.gather(*tasks)
        to_sellout = sellout_cpu(exact_before, at_sellout or exact_snapshot([]), booked)
        elapsed = time.perf_counter() - t0
        client_cpu = time.process_time() - client_before
        db_cpu = sum(common.cpu_seconds(p) - db_before.get(p, 0.0) for p in common.pg_backend_pids(PG_DB))
    finally:
        await pool.close()
    sold_out = (last_booking - t0) if booked else elapsed
    return {
        "booked": booked, "attempts": attempts, "elapsed": elapsed, "sold_out": sold_out,
        "bookings_per_s": booked / sold_out if sold_out else 0.0, "attempts_per_s": attempts / elapsed,
        "cpu_db_ms": db_cpu * 1000 / max(1, attempts), "cpu_client_ms": client_cpu * 1000 / max(1, attempts),
        "to_sellout": to_sellout,
    }


def one_run(args, workdir: Path, n: int) -> dict:
    load = os.getloadavg()[0]
    url = fresh_database(args.backend, args.pg_url, workdir)
    asyncio.run(seed(url))
    server = common.Server(url, args.workers, workdir / "server.log", {
        "TURNERO_ACCESS_LOG": "0", "TURNERO_BOOKING_RATE_LIMIT": "10000000/minute"})
    run = uvloop_run if args.uvloop else asyncio.run
    try:
        server.wait_ready()
        result = run(storm(server.url, url, server.worker_pids(), args))
    finally:
        server.stop()
    result["over"], result["mismatched"] = asyncio.run(check_database(url))
    result["load"] = load
    bare = None
    if args.backend == "postgres" and args.bare:
        bare = run(bare_storm(url, result["day"], args))
        bare["over"], bare["mismatched"] = asyncio.run(check_database(url))
        result["bare"] = bare
        result["bare_bookings_per_s"] = bare["bookings_per_s"]
        result["bare_attempts_per_s"] = bare["attempts_per_s"]
        result["ratio"] = result["bookings_per_s"] / bare["bookings_per_s"] if bare["bookings_per_s"] else 0.0
        result["attempts_ratio"] = result["requests_per_s"] / bare["attempts_per_s"] if bare["attempts_per_s"] else 0.0
        bare_bound = bare["to_sellout"]["bookings_per_s"]
        result["bare_cpu_bound_bookings_per_s"] = bare_bound
        result["cpu_bound_ratio"] = result["cpu_bound_bookings_per_s"] / bare_bound if bare_bound else 0.0
    result["load_end"] = os.getloadavg()[0]
    drop_database(args.backend, args.pg_url)
    print(f"run {n}: release {result['release']:%H:%M} La Paz opens {result['day']};"
          f" {args.clients} clients ({args.client} HTTP), {result['places']} places in {result['slots']} slots,"
          f" {args.workers} worker(s) (load avg {load:.1f} at start)")
    steps = "; ".join(f"{b} booked after {t:.2f} s and {r} answers" for b, t, r in result["milestones"])
    print(f"  booked {result['booked']}, sold out in {result['sold_out']:.2f} s = {result['bookings_per_s']:.0f} bookings/s"
          f" ({steps}; all after {result['answered_by_sellout']} answers)")
    print(f"  POST /api/appointments: {result['requests']} requests in {result['elapsed']:.2f} s"
          f" ({result['requests_per_s']:.0f}/s), p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms")
    print(f"  answers: {dict(sorted(result['statuses'].items()))}")
    print(f"  CPU per booking request: server {result['cpu_server_ms']:.2f} ms, database {result['cpu_db_ms']:.2f} ms,"
          f" client {result['cpu_client_ms']:.2f} ms")
    print(f"  CPU to sell out: {_cpu_text(result['to_sellout'])}")
    print(f"  unanswered: {result['unanswered']}  overbooked: {result['over']}  counters off: {result['mismatched']}")
    print(f"  availability, 30-day window ({result['avail_slots']} slots, {args.avail_concurrency} at a time):"
          f" p50 {result['avail_p50']:.1f} ms, p99 {result['avail_p99']:.1f} ms;"
          f" CPU {result['avail_cpu_ms']:.2f} ms per request (server + database)")
    if bare is not None:
        print(f"  bare SQL ({args.bare_connections} asyncpg connections, same clients and slots): booked {bare['booked']},"
              f" sold out in {bare['sold_out']:.2f} s = {bare['bookings_per_s']:.0f} bookings/s;"
              f" {bare['attempts']} attempts in {bare['elapsed']:.2f} s = {bare['attempts_per_s']:.0f} attempts/s;"
              f" CPU per attempt: database {bare['cpu_db_ms']:.2f} ms, client {bare['cpu_client_ms']:.2f} ms;"
              f" overbooked {bare['over']}")
        print(f"  bare SQL CPU to sell out: {_cpu_text(bare['to_sellout'])}")
        print(f"  ratio Turnero / bare SQL: bookings/s {result['ratio']:.2f},"
              f" attempts/s {result['attempts_ratio']:.2f}, CPU-bound bookings/s {result['cpu_bound_ratio']:.2f}"
              f" (load avg {load:.1f} at start, {result['load_end']:.1f} at end)")
    sys.stdout.flush()
    return result


def _cpu_text(cpu: dict) -> str:
    return (f"server {cpu['server']:.2f} s + database {cpu['db']:.2f} s + client {cpu['client']:.2f} s"
            f" = {cpu['total']:.2f} CPU-s; with nothing else on the {cpu['cores']} cores at least {cpu['least_s']:.2f} s"
            f" = at most {cpu['bookings_per_s']:.0f} bookings/s")


def uvloop_run(coroutine):
    import uvloop

    return uvloop.run(coroutine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--pg-url", default=os.environ.get("TURNERO_BENCH_POSTGRES_URL", PG_DEFAULT))
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--capacity", type=int, default=25, help="places per slot (40 slots on the day)")
    parser.add_argument("--tries", type=int, default=3, help="slots a client tries before giving up")
    parser.add_argument("--concurrency", type=int, default=500, help="client connections at once")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--lead", type=float, default=10.0, help="least seconds between start and release")
    parser.add_argument("--avail-requests", type=int, default=500)
    parser.add_argument("--avail-concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a client waits for an answer")
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw",
                        help="HTTP client of the storm's POSTs (raw: httptools, a third of aiohttp's CPU)")
    parser.add_argument("--no-uvloop", dest="uvloop", action="store_false")
    parser.add_argument("--warm-requests", type=int, default=200,
                        help="availability GETs in the seconds before the release (page refreshes)")
    parser.add_argument("--warm-concurrency", type=int, default=50)
    parser.add_argument("--no-bare", dest="bare", action="store_false", help="skip the bare-SQL baseline")
    parser.add_argument("--bare-connections", type=int, default=20,
                        help="pooled connections of the bare-SQL baseline (a worker's pool: TURNERO_DB_POOL_SIZE)")
    args = parser.parse_args()
    if args.uvloop:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            args.uvloop = False
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(1, args.runs + 1):
            results.append(one_run(args, Path(tmp), n))
    if len(results) > 1:
        keys = ["bookings_per_s", "requests_per_s", "p50", "p99", "avail_p50", "avail_p99", "load", "load_end",
                "cpu_server_ms", "cpu_db_ms", "cpu_client_ms", "avail_cpu_ms"]
        keys += ["cpu_bound_bookings_per_s"]
        if all("bare" in r for r in results):
            keys += ["bare_bookings_per_s", "bare_attempts_per_s", "ratio", "attempts_ratio",
                     "bare_cpu_bound_bookings_per_s", "cpu_bound_ratio"]
        med = {k: statistics.median(r[k] for r in results) for k in keys}
        print(f"median of {len(results)} runs ({args.backend}, {args.workers} worker(s)): {med['bookings_per_s']:.0f} bookings/s"
              f" ({med['requests_per_s']:.0f} booking requests/s),"
              f" booking p50 {med['p50']:.0f} ms p99 {med['p99']:.0f} ms; availability p50 {med['avail_p50']:.1f} ms"
              f" p99 {med['avail_p99']:.1f} ms (CPU {med['avail_cpu_ms']:.2f} ms); overbooked {sum(r['over'] for r in results)},"
              f" unanswered {sum(r['unanswered'] for r in results)}; CPU per booking request: server"
              f" {med['cpu_server_ms']:.2f} ms, database {med['cpu_db_ms']:.2f} ms, client {med['cpu_client_ms']:.2f} ms;"
              f" load avg at start {med['load']:.1f}, at end {med['load_end']:.1f};"
              f" CPU-bound (nothing else running) {med['cpu_bound_bookings_per_s']:.0f} bookings/s")
        if "ratio" in med:
            ratios = ", ".join(f"{r['ratio']:.2f}" for r in results)
            print(f"  bare SQL: {med['bare_bookings_per_s']:.0f} bookings/s, {med['bare_attempts_per_s']:.0f} attempts/s;"
                  f" ratio Turnero / bare SQL: bookings/s {med['ratio']:.2f} (runs: {ratios}),"
                  f" attempts/s {med['attempts_ratio']:.2f}; CPU-bound: bare {med['bare_cpu_bound_bookings_per_s']:.0f}"
                  f" bookings/s, ratio {med['cpu_bound_ratio']:.2f}")
    if any(r["over"] or r["unanswered"] or r["mismatched"] for r in results):
        raise SystemExit(1)
    if any(r["bare"]["over"] or r["bare"]["mismatched"] for r in results if "bare" in r):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
