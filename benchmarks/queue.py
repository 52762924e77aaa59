#!/usr/bin/env python
"""Queue benchmark: a real server, 10,000 walk-in tickets, 50 desks draining them over HTTP.

For each backend (SQLite file, PostgreSQL database `turnero_bench`, dropped and
re-created every run) and each worker count, every run:

1. creates a fresh database and, with turnero's own models, a benchmark office
   `BENCH` with two services (`BENCH-A`, `BENCH-B`), N desks serving both (half of
   them A first, half B first), one operator per desk and a kiosk user;
2. starts `python -m turnero serve` on 127.0.0.1 (TURNERO_RUN_JOBS=0);
3. phase 1 — issues the tickets with C concurrent kiosk clients (15 % preferential):
   tickets/s and the p50/p99 latency of POST /api/offices/BENCH/tickets;
4. phase 2 — opens the desks, then runs one loop per desk: call-next, then finish,
   until call-next answers 204: calls/s (call-next answers with a ticket per second of
   wall clock), p50/p99 of call-next and of finish;
5. checks correctness: every ticket called exactly once (no duplicate ids, as many
   calls as tickets, the same ids as issued), numbers unique, and in the database every
   ticket `done` with exactly one `called` event;
6. PostgreSQL: the baselines, in the same run — the same drain (the same desk loops,
   the same line: the issued tickets are copied before phase 2 into fresh databases
   seeded the same way) done in bare SQL from this process, plain asyncpg on a pool of
   the server's size, no HTTP, checked the same way. `bare`: each call the minimal
   correct claim in one statement (the heads of the desk's lines in index order,
   FOR UPDATE SKIP LOCKED, the earliest claimed, its `called` event), each finish one
   statement. `stmt`: each call Turnero's own call-next statement (its policy, desk
   lock, busy check and streak), the same finish. Turnero's calls/s over each of
   theirs is the ratio printed; Turnero over `stmt` is the cost of the server itself
   (HTTP, framework, Python), `stmt` over `bare` that of the call-next policy in SQL.
   The load average at the start of every drain is printed with it, and the CPU
   ratio: a baseline's CPU per call+finish (database + client) over Turnero's (server
   + database + client), what the rate ratio tends to when the cores are the limit.
   Every drain starts with fresh planner statistics (ANALYZE of the queue's tables).

With --runs N it prints each run and then the median of every figure (and of the
ratios), and ends with a Markdown table for the README. Every loop is bounded in count
and by --timeout.

It also prints the CPU time used per ticket (issued; called and finished) by the
server processes, the PostgreSQL backends and the load generator, read from /proc:
unlike throughput, those figures hold on a machine that is busy with other work (the
load average at the start of each run is printed too). The server runs with
TURNERO_ACCESS_LOG=0 (--access-log to keep uvicorn's line per request) and the app's
default pool size (--pool-size to change it).

The load generator shares the machine's cores with the server, so it is one asyncio
process (uvloop when installed) with keep-alive connections: the timed phases use a
minimal HTTP/1.1 client (RawHttp, a fraction of aiohttp's CPU per request;
--http-client aiohttp to compare), set-up and log-in use aiohttp. Those are
benchmark-only dependencies: `pip install -e '.[bench]'`.

    python benchmarks/queue.py --backend both --runs 3 --workers 1,2
    python benchmarks/queue.py --backend postgres --runs 5        # ratio to bare SQL
"""

from __future__ import annotations

import os
import sys

# This file is called queue.py and Python puts its folder first on sys.path: take that
# folder out so that `import queue` (asyncio, logging, concurrent.futures) finds the
# standard library, and make the repository importable instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

from benchmarks import common  # noqa: E402

try:
    import aiohttp
except ImportError:  # pragma: no cover
    raise SystemExit("Falta aiohttp: pip install -e '.[bench]'") from None

HOST = "127.0.0.1"
OFFICE = "BENCH"
SERVICES = (("BENCH-A", "A"), ("BENCH-B", "B"))
PASSWORD = "bench-password"
PREFERENTIAL = ("senior", "disability", "pregnant", "child")
PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/test"
PG_BENCH_DB = "turnero_bench"
BASELINES = {"bare": "turnero_bench_bare", "stmt": "turnero_bench_stmt"}  # prefix: its database


# ---------------------------------------------------------------- databases


def fresh_database(backend: str, pg_url: str, workdir: Path) -> str:
    return common.fresh_database(backend, pg_url, workdir, pg_name=PG_BENCH_DB, sqlite_name="bench.sqlite3")


async def seed(database_url: str, desks: int) -> None:
    """Migrate, then create the benchmark office, services, desks and users."""
    from tortoise.transactions import in_transaction

    from turnero.core.auth import hash_password
    from turnero.core.db import close_db, init_db
    from turnero.core.models import Office, OfficeService, Role, Service, User
    from turnero.queue.models import Desk, DeskService
    from turnero.settings import Settings

    await init_db(Settings(database_url=database_url, run_jobs=False))
    try:
        password_hash = hash_password(PASSWORD)
        async with in_transaction():
            every_day = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
            office = await Office.create(
                code=OFFICE, name="Oficina de benchmark", department="LP", city="La Paz",
                timezone="America/La_Paz", opening_hours=every_day,
            )
            services = []
            for code, prefix in SERVICES:
                service = await Service.create(
                    code=code, name=f"Trámite {prefix}", prefix=prefix, walk_in=True,
                    expected_service_minutes=5,
                )
                await OfficeService.create(office=office, service=service)
                services.append(service)
            await User.create(username="bench-kiosk", role=Role.KIOSK, office=office, password_hash=password_hash)
            for i in range(1, desks + 1):
                desk = await Desk.create(office=office, name=str(i))
                first, second = services if i % 2 else services[::-1]
                await DeskService.create(desk=desk, service=first, weight=1)
                await DeskService.create(desk=desk, service=second, weight=2)
                await User.create(
                    username=f"bench-op{i}", role=Role.OPERATOR, office=office, password_hash=password_hash
                )
    finally:
        await close_db()


async def check_database(database_url: str, tickets: int) -> list[str]:
    """Independent check in the database after the run; returns the problems found."""
    from tortoise import connections

    from turnero.core.db import close_db, connection_name, init_db
    from turnero.settings import Settings

    await init_db(Settings(database_url=database_url, run_jobs=False), migrate=False)
    try:
        conn = connections.get(connection_name(database_url))
        sql = (
            "SELECT (SELECT COUNT(*) FROM ticket) AS total,"
            " (SELECT COUNT(*) FROM ticket WHERE status = 'done') AS done,"
            " (SELECT COUNT(*) FROM ticket_event WHERE kind = 'called') AS called,"
            " (SELECT COUNT(DISTINCT ticket_id) FROM ticket_event WHERE kind = 'called') AS called_once,"
            " (SELECT COUNT(*) FROM ticket_event WHERE kind = 'finished') AS finished,"
            " (SELECT COUNT(DISTINCT number) FROM ticket) AS numbers"
        )
        row = (await conn.execute_query_dict(sql))[0]
    finally:
        await close_db()
    problems = [f"db {k}={row[k]} (esperado {tickets})" for k in row if int(row[k]) != tickets]
    return problems


# ---------------------------------------------------------------- server process


# ---------------------------------------------------------------- load


class BenchError(Exception):
    pass


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values` (seconds) in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k] * 1000


class CpuMeter:
    """CPU seconds used by the server processes, the PostgreSQL backends and this client
    between two snapshots — the figures that stay meaningful on a busy machine."""

    def __init__(self, server_pids: list[int], backend: str):
        self.server_pids, self.backend = server_pids, backend

    def snapshot(self) -> dict[str, dict[int, float] | float]:
        return {
            "server": {p: common.cpu_seconds(p) for p in self.server_pids},
            "db": {p: common.cpu_seconds(p) for p in
                   (common.pg_backend_pids(PG_BENCH_DB) if self.backend == "postgres" else [])},
            "client": time.process_time(),
        }

    @staticmethod
    def delta(before: dict, after: dict) -> dict[str, float]:
        out = {"client": after["client"] - before["client"]}
        for key in ("server", "db"):
            out[key] = sum(v - before[key].get(p, 0.0) for p, v in after[key].items())
        return out


@dataclass
class RunResult:
    backend: str
    workers: int
    figures: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


CLIENT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError, EOFError, ValueError)


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client for the two timed phases: it writes each
    POST as one buffer and reads the status line, headers and Content-Length body —
    what uvicorn sends for these routes. The load generator shares the machine's two
    cores with the server and PostgreSQL; this one spends a fraction of aiohttp's CPU
    per request (--http-client aiohttp measures with aiohttp instead)."""

    def __init__(self, base: str):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, url: str, headers: dict, data: bytes | None = None) -> tuple[int, bytes]:
        path = urlsplit(url).path
        body = data or b""
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        conn = self._idle.pop() if self._idle else await asyncio.open_connection(self.host, self.port)
        reader, writer = conn
        try:
            async with asyncio.timeout(30):
                writer.write(request)
                header_block = await reader.readuntil(b"\r\n\r\n")
                lines = header_block.split(b"\r\n")
                status = int(lines[0].split(b" ", 2)[1])
                length, close = 0, False
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and value.strip().lower() == b"close":
                        close = True
                    elif name == b"transfer-encoding":
                        raise ValueError("respuesta fragmentada: use --http-client aiohttp")
                payload = await reader.readexactly(length) if length else b""
        except BaseException:
            writer.close()
            raise
        if close:
            writer.close()
        else:
            self._idle.append(conn)
        return status, payload

    async def close(self) -> None:
        for _reader, writer in self._idle:
            writer.close()
        self._idle.clear()


async def post(session, url: str, headers: dict, data: bytes | None = None):
    if isinstance(session, RawHttp):
        return await session.post(url, headers, data)
    async with session.post(url, data=data, headers=headers) as r:
        return r.status, await r.read()


async def login(session: aiohttp.ClientSession, base: str, username: str) -> dict[str, str]:
    async with session.post(f"{base}/api/auth/token", json={"username": username, "password": PASSWORD}) as r:
        if r.status != 200:
            raise BenchError(f"login {username}: {r.status} {await r.text()}")
        token = (await r.json())["token"]
    return {"Authorization": f"Bearer {token}"}


async def issue_phase(session, base, headers, tickets: int, concurrency: int, preferential: float,
                      deadline: float, rng: random.Random):
    url = f"{base}/api/offices/{OFFICE}/tickets"
    bodies = []
    for _ in range(tickets):
        prio = rng.choice(PREFERENTIAL) if rng.random() < preferential else "regular"
        bodies.append(json.dumps({"service": rng.choice(SERVICES)[0], "priority": prio}).encode())
    latencies: list[float] = []
    issued: dict[str, str] = {}
    errors: list[str] = []
    next_index = iter(range(tickets))
    post_headers = {**headers, "Content-Type": "application/json"}

    async def client():
        for i in next_index:  # shared iterator: each ticket issued once, at most `tickets` in all
            if time.monotonic() > deadline or len(errors) > 20:
                return
            t0 = time.perf_counter()
            try:
                status, body = await post(session, url, post_headers, bodies[i])
            except CLIENT_ERRORS as exc:
                errors.append(f"emitir: {exc!r}")
                continue
            latencies.append(time.perf_counter() - t0)
            if status != 201:
                errors.append(f"emitir: {status} {body[:200]!r}")
                continue
            view = json.loads(body)
            issued[view["id"]] = view["number"]

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    return issued, latencies, wall, errors


async def drain_phase(session, base, desk_headers: list[dict], expected: int, deadline: float):
    call_lat: list[float] = []
    finish_lat: list[float] = []
    called: list[tuple[str, str]] = []
    errors: list[str] = []
    empty = 0
    max_loops = expected + 10  # per desk: a desk can never call more than every ticket

    async def desk_loop(name: str, headers: dict):
        nonlocal empty
        call_url = f"{base}/api/offices/{OFFICE}/desks/{name}/call-next"
        for _ in range(max_loops):
            if time.monotonic() > deadline or len(errors) > 20:
                return
            t0 = time.perf_counter()
            try:
                status, body = await post(session, call_url, headers)
            except CLIENT_ERRORS as exc:
                errors.append(f"llamar ({name}): {exc!r}")
                continue
            call_lat.append(time.perf_counter() - t0)
            if status == 204:
                empty += 1
                return
            if status != 200:
                errors.append(f"llamar ({name}): {status} {body[:200]!r}")
                continue
            view = json.loads(body)
            called.append((view["id"], view["number"]))
            t0 = time.perf_counter()
            try:
                status, body = await post(session, f"{base}/api/tickets/{view['id']}/finish", headers)
            except CLIENT_ERRORS as exc:
                errors.append(f"finalizar ({name}): {exc!r}")
                continue
            finish_lat.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(f"finalizar ({name}): {status} {body[:200]!r}")

    start = time.perf_counter()
    await asyncio.gather(*(desk_loop(str(i + 1), h) for i, h in enumerate(desk_headers)))
    wall = time.perf_counter() - start
    return called, call_lat, finish_lat, wall, errors


async def drive(base: str, args, rng: random.Random, meter: CpuMeter, database_url: str,
                bare_urls: list[str]) -> tuple[dict[str, float], list[str], dict[str, str]]:
    deadline = time.monotonic() + args.timeout
    # Keep-alive below uvicorn's 5 s, so the client never reuses a connection the server
    # is closing at that moment (a reset POST is not retried).
    connector = aiohttp.TCPConnector(limit=max(args.concurrency, args.desks) + 10, limit_per_host=0,
                                     keepalive_timeout=3)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        kiosk = await login(session, base, "bench-kiosk")
        # Log the operators in a few at a time (argon2 is deliberately slow).
        sem = asyncio.Semaphore(4)

        async def op_login(i):
            async with sem:
                return await login(session, base, f"bench-op{i}")

        desk_headers = await asyncio.gather(*(op_login(i) for i in range(1, args.desks + 1)))

        timed = RawHttp(base) if args.http_client == "raw" else session
        cpu0 = meter.snapshot()
        issued, issue_lat, issue_wall, problems = await issue_phase(
            timed, base, kiosk, args.tickets, args.concurrency, args.preferential, deadline, rng
        )
        issue_cpu = meter.delta(cpu0, meter.snapshot())
        if len(issued) != args.tickets:
            problems.append(f"emitidos {len(issued)} de {args.tickets}")
        if len(set(issued.values())) != len(issued):
            problems.append("números de turno repetidos al emitir")

        for i, headers in enumerate(desk_headers, start=1):
            async with session.post(f"{base}/api/offices/{OFFICE}/desks/{i}/open", headers=headers) as r:
                if r.status != 200:
                    raise BenchError(f"abrir ventanilla {i}: {r.status} {await r.text()}")

        for bare_url in bare_urls:
            # The baselines drain the very same line: copied now, while it waits.
            await copy_line(database_url, bare_url)
        await analyze(database_url)
        if args.profile_cmd:
            print("    (fase 2: llamadas)", flush=True)
        load = common.load_average()
        cpu0 = meter.snapshot()
        called, call_lat, finish_lat, drain_wall, errors = await drain_phase(
            timed, base, desk_headers, len(issued), deadline
        )
        drain_cpu = meter.delta(cpu0, meter.snapshot())
        if isinstance(timed, RawHttp):
            await timed.close()
        problems += errors
        problems += check_calls(called, set(issued))
        if time.monotonic() > deadline:
            problems.append(f"se alcanzó el tiempo límite ({args.timeout} s)")

    figures = {
        "tickets_per_s": len(issued) / issue_wall if issue_wall else 0.0,
        "issue_p50_ms": percentile(issue_lat, 50),
        "issue_p99_ms": percentile(issue_lat, 99),
        "calls_per_s": len(called) / drain_wall if drain_wall else 0.0,
        "call_p50_ms": percentile(call_lat, 50),
        "call_p99_ms": percentile(call_lat, 99),
        "finish_p50_ms": percentile(finish_lat, 50),
        "finish_p99_ms": percentile(finish_lat, 99),
        "load": load,
    }
    # CPU milliseconds per ticket issued, and per ticket called and finished.
    for phase, cpu, n in (("issue", issue_cpu, len(issued)), ("drain", drain_cpu, len(called))):
        for who in ("server", "db", "client"):
            figures[f"{phase}_{who}_cpu_ms"] = 1000 * cpu[who] / n if n else float("nan")
    return figures, problems, issued


def check_calls(called: list[tuple[str, str]], issued: set[str]) -> list[str]:
    """Each issued ticket called exactly once, numbers unique."""
    problems = []
    ids = [c[0] for c in called]
    if len(ids) != len(set(ids)):
        problems.append(f"¡turnos llamados dos veces! {len(ids) - len(set(ids))}")
    if len(set(ids)) != len(issued) or set(ids) != issued:
        problems.append(f"llamados {len(set(ids))} distintos de {len(issued)} emitidos")
    numbers = [c[1] for c in called]
    if len(numbers) != len(set(numbers)):
        problems.append("números repetidos al llamar")
    return problems


# ---------------------------------------------------------------- bare SQL baseline
#
# The same drain without Turnero: N desk loops in this process (uvloop), plain asyncpg
# on a pool of the server's size, straight to a database seeded the same way and holding
# a copy of the same waiting line (copied from the server's database before its drain).
# Each call is the minimal correct claim in one statement (autocommit): the heads of
# the desk's lines (its two services, preferential and regular: index order, FOR UPDATE
# SKIP LOCKED), the earliest of them claimed and its `called` event; each finish one
# statement too (the ticket done and its `finished` event). No policy ratio, desk lock,
# busy check, streak, outbox, auth, HTTP, JSON or bus: what Turnero adds on top.


def _bare_head(lane: str, service_param: str) -> str:
    return (
        "SELECT * FROM (SELECT id, arrived_at FROM ticket WHERE office_id = $1 AND status = 'waiting'"
        f" AND lane = '{lane}' AND service_id = {service_param} ORDER BY arrived_at, id LIMIT 1"
        f" FOR UPDATE SKIP LOCKED) AS {lane}_{service_param[1:]}"
    )


BARE_CALL_SQL = (
    "WITH h AS (" + " UNION ALL ".join(
        _bare_head(lane, param) for param in ("$2", "$3") for lane in ("preferential", "regular")
    ) + "),"
    " pick AS (SELECT id FROM h ORDER BY arrived_at, id LIMIT 1),"
    " t AS (UPDATE ticket SET status = 'called', desk_id = $4, called_at = $5 FROM pick"
    "  WHERE ticket.id = pick.id AND ticket.status = 'waiting' RETURNING ticket.*),"
    " e AS (INSERT INTO ticket_event (ticket_id, kind, at, desk_id, user_id, data)"
    "  SELECT id, 'called', $5, desk_id, $6, '{}'::jsonb FROM t)"
    " SELECT * FROM t"
)

BARE_FINISH_SQL = (
    "WITH t AS (UPDATE ticket SET status = 'done', started_at = COALESCE(started_at, called_at),"
    "  finished_at = $2 WHERE id = $1 AND status IN ('called', 'serving') RETURNING *),"
    " e AS (INSERT INTO ticket_event (ticket_id, kind, at, desk_id, user_id, data)"
    "  SELECT id, 'finished', $2, desk_id, $3, '{}'::jsonb FROM t)"
    " SELECT * FROM t"
)

QUEUE_TABLES = ("ticket_counter", "ticket", "ticket_event")


async def copy_line(source_url: str, target_url: str) -> None:
    """Copy the issued tickets (and their counters and events) into the baseline's
    database, seeded like the server's: same ids, binary COPY."""
    import io

    import asyncpg

    source = await asyncpg.connect(common.asyncpg_dsn(source_url))
    target = await asyncpg.connect(common.asyncpg_dsn(target_url))
    try:
        for table in QUEUE_TABLES:
            data = io.BytesIO()
            await source.copy_from_table(table, output=data, format="binary")
            data.seek(0)
            await target.copy_to_table(table, source=data, format="binary")
            if await target.fetchval("SELECT pg_get_serial_sequence($1, 'id')", table):
                await target.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
    finally:
        await source.close()
        await target.close()
    await analyze(target_url)


async def analyze(database_url: str) -> None:
    """Fresh planner statistics for the queue's tables before a drain (both databases
    alike, whatever autovacuum did meanwhile)."""
    if not database_url.startswith("postgres"):
        return
    import asyncpg

    conn = await asyncpg.connect(common.asyncpg_dsn(database_url))
    try:
        await conn.execute("ANALYZE " + ", ".join(QUEUE_TABLES))
    finally:
        await conn.close()


async def bare_drain(database_url: str, args, issued: set[str], prefix: str) -> tuple[dict[str, float], list[str]]:
    """The drain in bare SQL; prefix "bare" calls with BARE_CALL_SQL, "stmt" with
    Turnero's own call-next statement (its policy, desk lock, busy check and streak)."""
    import asyncpg

    from turnero.queue.calls import _call_next_statement
    from turnero.queue.config import QueueConfig
    from turnero.settings import Settings

    policy = QueueConfig.from_settings(Settings()).policy
    turnero_sql = _call_next_statement()
    pool_size = args.pool_size or Settings.db_pool_size
    pool = await asyncpg.create_pool(common.asyncpg_dsn(database_url), min_size=pool_size, max_size=pool_size)
    try:
        office_id = await pool.fetchval("SELECT id FROM office WHERE code = $1", OFFICE)
        if prefix == "stmt":  # Turnero's statement calls at open desks only
            await pool.execute("UPDATE desk SET status = 'open' WHERE office_id = $1", office_id)
        service_ids = [await pool.fetchval("SELECT id FROM service WHERE code = $1", code) for code, _ in SERVICES]
        desks = await pool.fetch("SELECT id, name FROM desk WHERE office_id = $1 ORDER BY id", office_id)
        users = {r["username"]: r["id"] for r in await pool.fetch("SELECT id, username FROM app_user")}
        call_lat: list[float] = []
        finish_lat: list[float] = []
        called: list[tuple[str, str]] = []
        errors: list[str] = []
        deadline = time.monotonic() + args.timeout
        max_loops = len(issued) + 10

        async def call(desk_id: int, desk_name: str, user_id: int, first: int, second: int):
            now = datetime.now(UTC)
            if prefix == "bare":
                return await pool.fetchrow(BARE_CALL_SQL, office_id, first, second, desk_id, now, user_id)
            for _attempt in range(20):  # as Turnero does: again when the desk changed meanwhile
                row = await pool.fetchrow(turnero_sql, office_id, desk_name, now, now - policy.regular_max_wait,
                                          max(1, policy.preferential_ratio), user_id, False)
                if row["q_desk_name"] is not None:
                    return row if row["id"] is not None else None
            raise OSError("la ventanilla cambió 20 veces seguidas")

        async def desk_loop(desk_id: int, desk_name: str, user_id: int, first: int, second: int):
            for _ in range(max_loops):
                if time.monotonic() > deadline or len(errors) > 20:
                    return
                t0 = time.perf_counter()
                try:
                    row = await call(desk_id, desk_name, user_id, first, second)
                except (asyncpg.PostgresError, OSError) as exc:
                    errors.append(f"llamar (SQL): {exc!r}")
                    continue
                call_lat.append(time.perf_counter() - t0)
                if row is None:
                    return
                called.append((row["public_id"], row["number"]))
                t0 = time.perf_counter()
                try:
                    done = await pool.fetchrow(BARE_FINISH_SQL, row["id"], datetime.now(UTC), user_id)
                except (asyncpg.PostgresError, OSError) as exc:
                    errors.append(f"finalizar (SQL): {exc!r}")
                    continue
                finish_lat.append(time.perf_counter() - t0)
                if done is None:
                    errors.append(f"finalizar (SQL): {row['number']} no estaba llamado")

        loops = []
        for i, desk in enumerate(desks):
            first, second = service_ids if (i + 1) % 2 else service_ids[::-1]
            loops.append(desk_loop(desk["id"], desk["name"], users[f"bench-op{i + 1}"], first, second))
        db_pids = common.pg_backend_pids(urlsplit(database_url).path.lstrip("/"))
        db0 = {p: common.cpu_seconds(p) for p in db_pids}
        client0 = time.process_time()
        load = common.load_average()
        start = time.perf_counter()
        await asyncio.gather(*loops)
        wall = time.perf_counter() - start
        db_cpu = sum(common.cpu_seconds(p) - db0[p] for p in db_pids)
        client_cpu = time.process_time() - client0
    finally:
        await pool.close()
    n = len(called)
    figures = {
        "calls_per_s": n / wall if wall else 0.0,
        "call_p50_ms": percentile(call_lat, 50),
        "call_p99_ms": percentile(call_lat, 99),
        "finish_p50_ms": percentile(finish_lat, 50),
        "finish_p99_ms": percentile(finish_lat, 99),
        "db_cpu_ms": 1000 * db_cpu / n if n else float("nan"),
        "client_cpu_ms": 1000 * client_cpu / n if n else float("nan"),
        "load": load,
    }
    return {f"{prefix}_{k}": v for k, v in figures.items()}, errors + check_calls(called, issued)


# ---------------------------------------------------------------- runs and report

COLUMNS = [
    ("tickets_per_s", "tickets/s", "{:.0f}"),
    ("issue_p50_ms", "issue p50 ms", "{:.1f}"),
    ("issue_p99_ms", "issue p99 ms", "{:.1f}"),
    ("calls_per_s", "calls/s", "{:.0f}"),
    ("call_p50_ms", "call p50 ms", "{:.1f}"),
    ("call_p99_ms", "call p99 ms", "{:.1f}"),
    ("finish_p50_ms", "finish p50 ms", "{:.1f}"),
    ("finish_p99_ms", "finish p99 ms", "{:.1f}"),
]


CPU_COLUMNS = [
    (f"{phase}_{who}_cpu_ms", f"{who}", "{:.2f}") for phase in ("issue", "drain") for who in ("server", "db", "client")
]


BASELINE_NAMES = {"bare": "bare SQL (minimal claim)", "stmt": "bare SQL (Turnero's statement)"}
BARE_COLUMNS = [
    (f"{prefix}_{key}", label, fmt)
    for prefix in BASELINES
    for key, label, fmt in (
        ("calls_per_s", "calls/s", "{:.0f}"),
        ("ratio", "Turnero/it", "{:.2f}"),
        ("cpu_ratio", "CPU ratio", "{:.2f}"),
        ("call_p50_ms", "call p50 ms", "{:.1f}"),
        ("call_p99_ms", "call p99 ms", "{:.1f}"),
        ("finish_p50_ms", "finish p50 ms", "{:.1f}"),
        ("finish_p99_ms", "finish p99 ms", "{:.1f}"),
        ("db_cpu_ms", "CPU ms per call+finish: db", "{:.2f}"),
        ("client_cpu_ms", "client", "{:.2f}"),
        ("load", "load average", "{:.1f}"),
    )
]


def format_row(figures: dict[str, float]) -> str:
    return "  ".join(f"{label} {fmt.format(figures[key])}" for key, label, fmt in COLUMNS)


def format_bare(figures: dict[str, float]) -> list[str]:
    """One line per baseline run: its figures, and Turnero's rate over its rate."""
    lines = []
    for prefix, name in BASELINE_NAMES.items():
        cells = [f"{label} {fmt.format(figures[key])}" for key, label, fmt in BARE_COLUMNS
                 if key.startswith(prefix + "_") and key in figures]
        if cells:
            lines.append(f"{name}: " + "  ".join(cells))
    return lines


def add_cpu_ratios(figures: dict[str, float]) -> None:
    """CPU per call+finish of a baseline (db + client) over Turnero's (server + db +
    client): the throughput ratio the machine would show if it were CPU-bound, and a
    figure that moves less with other work on the machine than calls/s do."""
    turnero = sum(figures[f"drain_{who}_cpu_ms"] for who in ("server", "db", "client"))
    for prefix in BASELINES:
        if f"{prefix}_db_cpu_ms" in figures and turnero:
            bare = figures[f"{prefix}_db_cpu_ms"] + figures[f"{prefix}_client_cpu_ms"]
            figures[f"{prefix}_cpu_ratio"] = bare / turnero


def format_cpu(figures: dict[str, float]) -> str:
    parts = []
    for phase, what in (("issue", "per ticket issued"), ("drain", "per ticket called+finished")):
        cells = ", ".join(f"{who} {figures[f'{phase}_{who}_cpu_ms']:.2f}" for who in ("server", "db", "client"))
        parts.append(f"{what}: {cells}")
    return "CPU ms " + "; ".join(parts)


def one_run(backend: str, workers: int, args, workdir: Path, run: int) -> RunResult:
    result = RunResult(backend, workers)
    database_url = fresh_database(backend, args.pg_url, workdir)
    asyncio.run(seed(database_url, args.desks))
    bare_urls: dict[str, str] = {}
    if backend == "postgres":
        for prefix in args.baselines:
            bare_urls[prefix] = common.fresh_database(backend, args.pg_url, workdir, pg_name=BASELINES[prefix],
                                                      sqlite_name="")
            asyncio.run(seed(bare_urls[prefix], args.desks))
    env_extra = {"TURNERO_ACCESS_LOG": "1" if args.access_log else "0"}
    if args.pool_size:
        env_extra["TURNERO_DB_POOL_SIZE"] = str(args.pool_size)
    log_path = workdir / f"server-{backend}-w{workers}-r{run}.log"
    server = common.Server(database_url, workers, log_path, env_extra)
    try:
        server.wait_ready()
        if args.profile_cmd:
            pids = ",".join(str(p) for p in server.worker_pids())
            print(f"    (pids del servidor: {pids})", flush=True)
        rng = random.Random(args.seed + run)
        meter = CpuMeter(server.worker_pids(), backend)
        loop_runner = _runner()
        figures, problems, issued = loop_runner(
            drive(server.url, args, rng, meter, database_url, list(bare_urls.values()))
        )
        result.figures, result.problems = figures, problems
    finally:
        server.stop()
    if not result.problems:
        result.problems += asyncio.run(check_database(database_url, args.tickets))
    if result.problems:
        print("    servidor: " + str(log_path))
    # Right after, with the server stopped: the same drain in bare SQL (the baselines'
    # order alternates from run to run, so neither always goes first).
    order = list(bare_urls) if run % 2 else list(bare_urls)[::-1]
    for prefix in order:
        bare, bare_problems = _runner()(bare_drain(bare_urls[prefix], args, set(issued), prefix))
        if not bare_problems:
            bare_problems += asyncio.run(check_database(bare_urls[prefix], args.tickets))
        result.figures.update(bare)
        result.figures[f"{prefix}_ratio"] = result.figures["calls_per_s"] / bare[f"{prefix}_calls_per_s"]
        result.problems += [f"baseline {prefix}: {p}" for p in bare_problems]
        common.drop_database(backend, args.pg_url, BASELINES[prefix])
    add_cpu_ratios(result.figures)
    return result


def _runner():
    try:
        import uvloop

        return uvloop.run
    except ImportError:  # pragma: no cover
        return asyncio.run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--desks", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=50, help="kiosk clients issuing tickets")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", default="1", help="server worker processes, e.g. 1 or 1,2")
    parser.add_argument("--preferential", type=float, default=0.15, help="share of preferential tickets")
    parser.add_argument("--pg-url", default=os.environ.get("TURNERO_BENCH_POSTGRES_URL", PG_DEFAULT),
                        help=f"a PostgreSQL server where {PG_BENCH_DB} may be created")
    parser.add_argument("--pool-size", type=int, default=0, help="TURNERO_DB_POOL_SIZE (default: the app's)")
    parser.add_argument("--access-log", action="store_true", help="keep uvicorn's access log on")
    parser.add_argument("--http-client", choices=("raw", "aiohttp"), default="raw",
                        help="load generator for the timed phases (raw: minimal keep-alive HTTP/1.1)")
    parser.add_argument("--timeout", type=float, default=600, help="hard limit in seconds for each run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile-cmd", action="store_true",
                        help="print the server pids and phase changes (to attach py-spy or perf)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, SQLite file)")
    parser.add_argument("--baselines", default="bare,stmt",
                        help="bare SQL drains run after each PostgreSQL run: bare (the minimal claim), stmt "
                             "(Turnero's own call-next statement); '' for none")
    args = parser.parse_args(argv)
    if args.tickets < 1 or args.desks < 1 or args.runs < 1 or args.concurrency < 1:
        parser.error("--tickets, --desks, --runs y --concurrency deben ser positivos")
    worker_counts = [int(w) for w in str(args.workers).split(",") if w.strip()]
    args.baselines = [b.strip() for b in args.baselines.split(",") if b.strip()]
    if set(args.baselines) - set(BASELINES):
        parser.error(f"--baselines: {', '.join(BASELINES)}")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]

    workdir = Path(tempfile.mkdtemp(prefix="turnero-bench-"))
    print(
        f"Turnero queue benchmark: {args.tickets} tickets, {args.concurrency} issuing clients, "
        f"{args.desks} desks, {args.runs} run(s), {os.cpu_count()} CPUs; access log "
        f"{'on' if args.access_log else 'off'}; {args.http_client} HTTP client; work folder {workdir}",
        flush=True,
    )
    summary: list[tuple[str, int, dict[str, float], int]] = []
    failed = False
    try:
        for backend in backends:
            for workers in worker_counts:
                results = []
                for run in range(1, args.runs + 1):
                    load = " (load average %.1f)" % os.getloadavg()[0] if hasattr(os, "getloadavg") else ""
                    print(f"[{backend}, {workers} worker(s)] run {run}/{args.runs}{load} …", flush=True)
                    result = one_run(backend, workers, args, workdir, run)
                    results.append(result)
                    print("    " + format_row(result.figures), flush=True)
                    print("    " + format_cpu(result.figures), flush=True)
                    for line in format_bare(result.figures):
                        print("    " + line, flush=True)
                    if result.problems:
                        failed = True
                        print("    PROBLEMS: " + "; ".join(result.problems[:10]), flush=True)
                    else:
                        print(f"    ok: {args.tickets} tickets issued, each called once, numbers unique", flush=True)
                medians = {
                    key: statistics.median(r.figures[key] for r in results)
                    for key, _label, _fmt in COLUMNS + CPU_COLUMNS + BARE_COLUMNS + [("load", "", "")]
                    if all(key in r.figures for r in results)
                }
                summary.append((backend, workers, medians, sum(1 for r in results if r.problems)))
                print(f"  median of {len(results)}: " + format_row(medians), flush=True)
                print("    " + format_cpu(medians), flush=True)
                for line in format_bare(medians):
                    print("    " + line, flush=True)
                for prefix, name in BASELINE_NAMES.items():
                    if f"{prefix}_ratio" in medians:
                        ratios = ", ".join(f"{r.figures[f'{prefix}_ratio']:.2f}" for r in results)
                        loads = ", ".join(f"{r.figures['load']:.1f}/{r.figures[f'{prefix}_load']:.1f}"
                                          for r in results)
                        print(f"    Turnero call-next rate / {name}: median {medians[f'{prefix}_ratio']:.2f}"
                              f" (runs: {ratios}; load averages Turnero/baseline: {loads})", flush=True)
    finally:
        if args.keep or failed:
            print(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(f"Medians of {args.runs} run(s); {args.tickets} tickets, {args.desks} desks, "
          f"{args.concurrency} issuing clients, {os.cpu_count()} CPUs (client and server on the same machine).")
    print()
    header = (
        ["backend", "workers"] + [label for _key, label, _fmt in COLUMNS]
        + ["CPU ms per call+finish (server + db + client)", "bare SQL calls/s", "Turnero/bare SQL",
           "Turnero's statement in bare SQL calls/s", "Turnero/that", "load average", "failed runs"]
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for backend, workers, medians, bad in summary:
        cpu = " + ".join(f"{medians[f'drain_{who}_cpu_ms']:.1f}" for who in ("server", "db", "client"))
        if backend == "sqlite":  # SQLite runs inside the server process
            cpu = " + ".join(f"{medians[f'drain_{who}_cpu_ms']:.1f}" for who in ("server", "client"))
        bare = []
        for prefix in BASELINES:
            if f"{prefix}_ratio" in medians:
                bare += [f"{medians[f'{prefix}_calls_per_s']:.0f}", f"{medians[f'{prefix}_ratio']:.2f}"]
            else:
                bare += ["–", "–"]
        cells = (
            [backend, str(workers)] + [fmt.format(medians[key]) for key, _label, fmt in COLUMNS]
            + [cpu, *bare, f"{medians['load']:.1f}", str(bad)]
        )
        print("| " + " | ".join(cells) + " |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
