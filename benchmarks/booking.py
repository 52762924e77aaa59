#!/usr/bin/env python
"""Booking storm: a real server, 5,000 clients trying to book 1,000 places at once.

Every run:
1. creates a fresh database (PostgreSQL `turnero_bench_citas`, dropped and re-created,
   or a SQLite file) and starts `python -m turnero demo` on it (demo data, jobs off,
   the per-client booking limit lifted: every client here comes from 127.0.0.1);
2. as admin, sets CI-RENOV at LPZ-PRINCIPAL to --capacity places per 15-minute slot and
   picks the first slots from three days ahead until they hold --places places;
3. the storm: --clients clients start together (at most --concurrency connections at
   once); each books a random one of those slots and, refused with slot_full, tries
   another up to --tries times. Prints bookings/s (successful bookings per second of
   storm), the p50/p99 latency of POST /api/appointments, answers by status, requests
   without an answer (must be 0) and, read from the database, places booked beyond a
   slot's capacity (must be 0) and citas per slot against capacity;
4. availability under load: --avail-requests GETs of a 30-day window, p50/p99.

    python benchmarks/booking.py --backend postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

try:
    import aiohttp
except ImportError:  # pragma: no cover
    raise SystemExit("Falta aiohttp: pip install -e '.[bench]'") from None

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
OFFICE, SERVICE = "LPZ-PRINCIPAL", "CI-RENOV"
PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/test"
PG_DB = "turnero_bench_citas"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


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
        return f"sqlite://{workdir / 'bench.sqlite3'}"
    if urlsplit(pg_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("El benchmark solo habla con 127.0.0.1.")
    asyncio.run(_pg(pg_url, f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)', f'CREATE DATABASE "{PG_DB}"'))
    return urlunsplit(urlsplit(pg_url)._replace(path="/" + PG_DB))


def start_server(database_url: str, port: int, workdir: Path) -> subprocess.Popen:
    env = {
        **os.environ, "TURNERO_DATABASE_URL": database_url, "TURNERO_RUN_JOBS": "0", "TURNERO_ACCESS_LOG": "0",
        "TURNERO_BOOKING_RATE_LIMIT": "10000000/minute",
    }
    log = open(workdir / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "turnero", "demo", "--host", HOST, "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit((workdir / "server.log").read_text()[-3000:])
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("el servidor no arrancó")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else float("nan")


async def storm(base: str, args) -> dict:
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    # Generous: on a busy machine answers queue up; "without an answer" must mean the
    # server never answered, not that the client stopped waiting.
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as http:
        async with http.post("/api/auth/token", json={"username": "admin", "password": "demo"}) as r:
            admin = {"Authorization": "Bearer " + (await r.json())["token"]}
        async with http.put(f"/api/offices/{OFFICE}/booking-rules", headers=admin,
                            json={"service": SERVICE, "capacity": args.capacity}) as r:
            assert r.status == 200, await r.text()
        first = (date.today() + timedelta(days=3)).isoformat()
        async with http.get(f"/api/offices/{OFFICE}/availability", params={"service": SERVICE, "from": first, "days": 20}) as r:
            slots = [s["start"] for s in await r.json()]
        targets = []
        while sum(args.capacity for _ in targets) < args.places:
            targets.append(slots[len(targets)])
        places = args.capacity * len(targets)

        latencies: list[float] = []
        statuses: dict[str, int] = {}
        unanswered = 0
        booked = 0
        last_booking = [0.0]
        gate = asyncio.Event()

        async def client(n: int) -> None:
            nonlocal unanswered, booked
            await gate.wait()
            choices = random.sample(targets, min(args.tries, len(targets)))
            for start in choices:
                body = {"office": OFFICE, "service": SERVICE, "start": start, "name": f"Cliente {n}",
                        "document": {"number": str(10_000_000 + n)}}
                t0 = time.perf_counter()
                try:
                    async with http.post("/api/appointments", json=body) as r:
                        payload = await r.json()
                        status = r.status
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    unanswered += 1
                    return
                latencies.append(time.perf_counter() - t0)
                code = payload.get("error", {}).get("code", "") if isinstance(payload, dict) else ""
                key = f"{status} {code}".strip()
                statuses[key] = statuses.get(key, 0) + 1
                if status == 201:
                    booked += 1
                    last_booking[0] = time.perf_counter()
                    return
                if code != "slot_full":
                    return

        tasks = [asyncio.create_task(client(n)) for n in range(args.clients)]
        await asyncio.sleep(0.2)
        t0 = time.perf_counter()
        gate.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        sold_out = (last_booking[0] - t0) if booked else elapsed

        avail: list[float] = []
        sem = asyncio.Semaphore(args.avail_concurrency)

        async def one_availability() -> None:
            async with sem:
                t = time.perf_counter()
                async with http.get(f"/api/offices/{OFFICE}/availability", params={"service": SERVICE, "days": 30}) as r:
                    await r.read()
                    assert r.status == 200
                avail.append(time.perf_counter() - t)

        await asyncio.gather(*[one_availability() for _ in range(args.avail_requests)])
    return {
        "places": places, "slots": len(targets), "booked": booked, "elapsed": elapsed, "sold_out": sold_out,
        "bookings_per_s": booked / sold_out, "requests_per_s": len(latencies) / elapsed, "p50": pct(latencies, 50), "p99": pct(latencies, 99),
        "requests": len(latencies), "statuses": statuses, "unanswered": unanswered,
        "avail_p50": pct(avail, 50), "avail_p99": pct(avail, 99),
    }


async def overbooking(database_url: str) -> tuple[int, int]:
    """(places taken beyond capacity, slots whose counter disagrees with their citas)."""
    sql = (
        "SELECT s.id, s.capacity, s.booked, COALESCE(SUM(a.party_size), 0) AS held FROM slot s"
        " LEFT JOIN appointment a ON a.slot_id = s.id AND a.status IN ('booked', 'checked_in')"
        " GROUP BY s.id, s.capacity, s.booked"
    )
    if database_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(database_url.removeprefix("sqlite://"))
        rows = conn.execute(sql).fetchall()
        conn.close()
    else:
        rows = [tuple(r) for r in await _pg(database_url, sql)]
    over = sum(max(0, held - capacity) for _id, capacity, _booked, held in rows)
    mismatched = sum(1 for _id, _capacity, counter, held in rows if counter != held)
    return over, mismatched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--pg-url", default=os.environ.get("TURNERO_BENCH_POSTGRES_URL", PG_DEFAULT))
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--places", type=int, default=1000)
    parser.add_argument("--capacity", type=int, default=25)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--avail-requests", type=int, default=500)
    parser.add_argument("--avail-concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a client waits for an answer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = fresh_database(args.backend, args.pg_url, workdir)
        port = free_port()
        proc = start_server(url, port, workdir)
        try:
            result = asyncio.run(storm(f"http://{HOST}:{port}", args))
            over, mismatched = asyncio.run(overbooking(url))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(f"backend {args.backend}: {args.clients} clientes, {result['places']} cupos en {result['slots']} horarios")
    print(f"  reservas: {result['booked']}, agotadas en {result['sold_out']:.2f} s = {result['bookings_per_s']:.0f} reservas/s")
    print(f"  POST /api/appointments: {result['requests']} solicitudes en {result['elapsed']:.2f} s"
          f" ({result['requests_per_s']:.0f}/s), p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms")
    print(f"  respuestas: {dict(sorted(result['statuses'].items()))}")
    print(f"  sin respuesta: {result['unanswered']}  sobrerreservas: {over}  contadores inconsistentes: {mismatched}")
    print(f"  disponibilidad (30 días, {args.avail_concurrency} a la vez): p50 {result['avail_p50']:.1f} ms,"
          f" p99 {result['avail_p99']:.1f} ms")
    print(f"  load average: {os.getloadavg()[0]:.1f} (un servidor, un worker, en la misma máquina)")
    if over or result["unanswered"] or mismatched:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
