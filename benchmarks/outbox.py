#!/usr/bin/env python
"""Outbox benchmark: 10,000 due messages sent through the real `twilio` client to the
loopback fake of Twilio's Messages API, by one or several dispatchers at once.

For each backend (SQLite file; PostgreSQL database `turnero_bench_outbox`, dropped and
re-created every run) and each dispatcher count, every run:

1. creates a fresh database (turnero's migrations) and writes N messages already due
   (one in ten by WhatsApp) straight into `outbound_message`;
2. starts the fake (tests/twilio_fake.py: a threaded HTTP server on 127.0.0.1 that
   answers like Twilio and records every request) in this process;
3. starts D dispatcher processes, each with Turnero's own TwilioGateway (the official
   library's async client, its base URL pointed at the fake) and `dispatch_due`, the
   function the scheduled job runs; once all are ready they start together and call it
   until no message is due;
4. prints messages/s (N / wall time from the start to the last dispatcher done) and the
   CPU time per message of the dispatchers and of the fake;
5. checks that none was doubled or lost: the fake counts the requests it accepted by
   message id (each request names its row in the StatusCallback URL, `?id=N`) — every
   id exactly once, no request refused — and, in the database, every row `sent` with the
   provider id the fake gave for it.

With --runs N it prints each run and then the median of every figure, ending with a
Markdown table for the README. The fake and the dispatchers share the machine's cores.

    python benchmarks/outbox.py --backend both --messages 10000 --dispatchers 1,3 --runs 3
"""

from __future__ import annotations

import os
import sys

# Python puts this file's folder first on sys.path; take it out (this file's name must
# not shadow anything) and make the repository importable (turnero, tests.twilio_fake).
_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import multiprocessing as mp  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import parse_qs, urlsplit  # noqa: E402

from benchmarks import common  # noqa: E402

PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/test"
PG_BENCH_DB = "turnero_bench_outbox"  # not queue.py's: both benchmarks may run at once
PUBLIC_URL = "https://turnero.example.bo"  # only written into each request's StatusCallback
SMS_FROM = "+15005550006"
WHATSAPP_FROM = "+14155238886"


# ---------------------------------------------------------------- databases


def fresh_database(backend: str, pg_url: str, workdir: Path) -> str:
    return common.fresh_database(backend, pg_url, workdir, pg_name=PG_BENCH_DB, sqlite_name="outbox.sqlite3")


def drop_database(backend: str, pg_url: str) -> None:
    common.drop_database(backend, pg_url, PG_BENCH_DB)


async def write_messages(database_url: str, count: int) -> None:
    """Migrate, then write `count` due messages (as rows, the way the outbox writes them)."""
    from tortoise import connections

    from turnero.core.db import close_db, connection_name, init_db, placeholders
    from turnero.settings import Settings

    await init_db(Settings(database_url=database_url, run_jobs=False))
    try:
        conn = connections.get(connection_name(database_url))
        now = datetime.now(timezone.utc)
        due = now - timedelta(minutes=1)
        sql = placeholders(
            'INSERT INTO outbound_message (dedupe_key, template, "to", channel, body, status, send_at,'
            " attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?)"
        )
        rows = []
        for i in range(count):
            channel = "whatsapp" if i % 10 == 9 else "sms"
            body = f"SEGIP: recordatorio de su cita BENCH{i:05d} manana 09:15 en La Paz - Principal."
            rows.append([f"bench:{i}", "cita_recordatorio", f"+5917{i:07d}", channel, body, due, due, now])
        for start in range(0, count, 2000):
            await conn.execute_many(sql, rows[start:start + 2000])
    finally:
        await close_db()


async def check_database(database_url: str, fake_sid_by_id: dict[int, str], count: int) -> list[str]:
    """Every row sent once, with the provider id the fake gave for it."""
    from tortoise import connections

    from turnero.core.db import close_db, connection_name, init_db
    from turnero.settings import Settings

    await init_db(Settings(database_url=database_url, run_jobs=False), migrate=False)
    try:
        conn = connections.get(connection_name(database_url))
        rows = await conn.execute_query_dict("SELECT id, status, attempts, provider_sid FROM outbound_message")
    finally:
        await close_db()
    problems = []
    if len(rows) != count:
        problems.append(f"{len(rows)} filas en la base, se esperaban {count}")
    not_sent = [r["id"] for r in rows if r["status"] != "sent"]
    if not_sent:
        problems.append(f"{len(not_sent)} filas no quedaron 'sent' (p. ej. {not_sent[:5]})")
    retried = [r["id"] for r in rows if r["attempts"] != 1]
    if retried:
        problems.append(f"{len(retried)} filas con attempts != 1 (p. ej. {retried[:5]})")
    wrong_sid = [r["id"] for r in rows if fake_sid_by_id.get(int(r["id"])) != r["provider_sid"]]
    if wrong_sid:
        problems.append(f"{len(wrong_sid)} filas sin el MessageSid que dio el proveedor (p. ej. {wrong_sid[:5]})")
    return problems


# ---------------------------------------------------------------- a dispatcher process


def _dispatcher(database_url: str, fake_url: str, account_sid: str, auth_token: str, ready, go, results) -> None:
    asyncio.run(_dispatch(database_url, fake_url, account_sid, auth_token, ready, go, results))


async def _dispatch(database_url, fake_url, account_sid, auth_token, ready, go, results) -> None:
    from turnero.core.db import close_db, init_db
    from turnero.notifications.dispatcher import dispatch_due
    from turnero.notifications.gateways import TwilioGateway
    from turnero.notifications.policy import NotificationConfig
    from turnero.settings import Settings

    await init_db(Settings(database_url=database_url, run_jobs=False), migrate=False)
    gateway = TwilioGateway(account_sid, auth_token, sms_from=SMS_FROM, whatsapp_from=WHATSAPP_FROM,
                            public_url=PUBLIC_URL, api_base_url=fake_url)
    config = NotificationConfig()
    totals = Counter()
    try:
        ready.release()
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        cpu, started = time.process_time(), time.perf_counter()
        while True:  # what the job does every few seconds, back to back until nothing is due
            report = await dispatch_due(gateway, config)
            totals.update(claimed=report.claimed, sent=report.sent, retrying=report.retrying,
                          failed=report.failed)
            if report.claimed == 0:
                break
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        results.put({"pid": os.getpid(), "seconds": elapsed, "cpu": cpu, **totals})
    except BaseException as exc:  # the parent must hear of it, not wait forever
        results.put({"pid": os.getpid(), "error": repr(exc)})
        raise
    finally:
        await gateway.aclose()
        await close_db()


# ---------------------------------------------------------------- one run


def run_once(backend: str, pg_url: str, messages: int, dispatchers: int, workdir: Path) -> dict:
    from tests.twilio_fake import TwilioFake

    database_url = fresh_database(backend, pg_url, workdir)
    asyncio.run(write_messages(database_url, messages))
    fake = TwilioFake()
    fake.start()
    ctx = mp.get_context("spawn")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_dispatcher, args=(database_url, fake.url, fake.account_sid, fake.auth_token,
                                              ready, go, results), daemon=True)
        for _ in range(dispatchers)
    ]
    try:
        for proc in procs:
            proc.start()
        for _ in procs:
            if not ready.acquire(timeout=120):
                raise SystemExit("un despachador no arrancó")
        cpu0 = time.process_time()  # from here this process only runs the fake's threads
        started = time.perf_counter()
        go.set()
        reports = [results.get(timeout=600) for _ in procs]
        wall = time.perf_counter() - started
        fake_cpu = time.process_time() - cpu0
        for proc in procs:
            proc.join(30)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        fake.stop()
    errors = [r["error"] for r in reports if "error" in r]
    if errors:
        raise SystemExit(f"un despachador falló: {errors[0]}")

    # The fake's count, by message id.
    by_id: Counter = Counter()
    sid_by_id: dict[int, str] = {}
    refused = 0
    for request in fake.requests:
        if request.status != 201:
            refused += 1
            continue
        callback = request.one("StatusCallback") or ""
        message_id = int(parse_qs(urlsplit(callback).query)["id"][0])
        by_id[message_id] += 1
        sid_by_id[message_id] = request.sid
    doubled = sum(1 for n in by_id.values() if n > 1)
    problems = asyncio.run(check_database(database_url, sid_by_id, messages))
    lost = messages - len(by_id)
    if doubled:
        problems.append(f"{doubled} mensajes enviados más de una vez")
    if lost:
        problems.append(f"{lost} mensajes nunca llegaron al proveedor")
    if refused:
        problems.append(f"{refused} solicitudes rechazadas por el proveedor")
    whatsapp = sum(1 for r in fake.requests if (r.one("To") or "").startswith("whatsapp:"))
    drop_database(backend, pg_url)
    return {
        "backend": backend, "dispatchers": dispatchers, "messages": messages,
        "seconds": wall, "per_second": messages / wall,
        "sent_by": sorted(r["sent"] for r in reports),
        "dispatcher_cpu_ms": 1000 * sum(r["cpu"] for r in reports) / messages,
        "fake_cpu_ms": 1000 * fake_cpu / messages,
        "requests": len(fake.requests), "whatsapp": whatsapp, "doubled": doubled, "lost": lost,
        "problems": problems, "load": os.getloadavg()[0],
    }


def describe(r: dict) -> str:
    ok = "OK: ninguno duplicado ni perdido" if not r["problems"] else "FALLA: " + "; ".join(r["problems"])
    return (
        f"{r['backend']:8s} despachadores={r['dispatchers']} {r['messages']} mensajes en {r['seconds']:.2f} s"
        f" = {r['per_second']:.0f} mensajes/s  (enviados por cada uno: {r['sent_by']};"
        f" CPU por mensaje: despachadores {r['dispatcher_cpu_ms']:.2f} ms, fake {r['fake_cpu_ms']:.2f} ms;"
        f" solicitudes {r['requests']}, WhatsApp {r['whatsapp']}; carga {r['load']:.1f})  {ok}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--dispatchers", default="1", help="dispatcher processes running at once, e.g. 1,3")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--postgres-url", default=os.environ.get("TURNERO_BENCH_POSTGRES_URL", PG_DEFAULT),
                        help="an administrative URL of a local server (the benchmark database is created there)")
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    counts = [int(n) for n in args.dispatchers.split(",") if n.strip()]
    summary = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="turnero-outbox-bench-") as tmp:
        for backend in backends:
            for count in counts:
                runs = []
                for n in range(args.runs):
                    result = run_once(backend, args.postgres_url, args.messages, count, Path(tmp))
                    print(f"run {n + 1}: {describe(result)}", flush=True)
                    failed |= bool(result["problems"])
                    runs.append(result)
                median = {k: statistics.median(r[k] for r in runs)
                          for k in ("per_second", "seconds", "dispatcher_cpu_ms", "fake_cpu_ms", "load")}
                correct = all(not r["problems"] for r in runs)
                summary.append((backend, count, len(runs), median, correct))
    print("\n| backend | dispatchers | messages | runs | messages/s (median) | seconds | dispatcher CPU ms/msg |"
          " fake CPU ms/msg | doubled / lost |")
    print("|---|---|---|---|---|---|---|---|---|")
    for backend, count, runs, m, correct in summary:
        print(f"| {backend} | {count} | {args.messages} | {runs} | {m['per_second']:.0f} | {m['seconds']:.2f} |"
              f" {m['dispatcher_cpu_ms']:.2f} | {m['fake_cpu_ms']:.2f} | {'0 / 0' if correct else 'FALLA'} |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
