"""Bytes on disk per walk-in ticket and per cita (PostgreSQL), what a national year
weighs with and without retention, and what the daily roll-ups cost instead.

    python benchmarks/retention_size.py [--pg postgres://postgres@127.0.0.1:5432/test]
                                        [--days 6] [--walk-ins 300] [--citas 120]

A fresh database gets the demo offices; then, day after day (after warm-up days) at LPZ-PRINCIPAL through
the HTTP API (the app in-process, the clock moved): walk-ins issued (a third with a
phone), called, started and finished (some absent, some transferred); citas booked
two days ahead (reminders written), checked in at the kiosk, called and finished,
closed as done by the scheduler's sweep. pg_total_relation_size (table, TOAST and
indexes) of each table is read before and after each phase, after a VACUUM ANALYZE.
Then the clock moves past the retention and a run rolls everything up.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

# The repository instead of this folder (its queue.py would shadow the standard module).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx  # noqa: E402

TABLES = ("ticket", "ticket_event", "appointment", "appointment_event", "slot", "outbound_message",
          "ticket_counter", "report_day", "desk_event", "idempotency_key")
OFFICE = "LPZ-PRINCIPAL"
ZONE = ZoneInfo("America/La_Paz")
FIRST_DAY = datetime(2026, 3, 2, tzinfo=ZONE)  # a Monday


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def pg_admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def sizes(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("VACUUM ANALYZE")
        return {t: await conn.fetchval("SELECT pg_total_relation_size($1)", t) for t in TABLES}
    finally:
        await conn.close()


async def counts() -> dict[str, int]:
    from tortoise import connections

    db = connections.get("postgres")
    return {t: (await db.execute_query_dict(f"SELECT count(*) AS n FROM {t}"))[0]["n"] for t in TABLES}


async def deliver_all() -> None:
    """What the dispatcher and Twilio's callbacks would have written: every message
    accepted (a provider id) and delivered."""
    from tortoise import connections

    await connections.get("postgres").execute_script(
        "UPDATE outbound_message SET status = 'delivered', attempts = 1, provider_sid = 'SM' || md5(id::text),"
        " delivery_status = 'delivered', sent_at = next_attempt_at, status_changed_at = next_attempt_at"
        " WHERE status = 'pending'")


def delta(after: dict, before: dict) -> dict:
    return {k: after[k] - before[k] for k in after}


def at(day: datetime, hh: int, mm: int, seconds: float = 0) -> datetime:
    return (day.replace(hour=hh, minute=mm) + timedelta(seconds=seconds)).astimezone(timezone.utc)


class Client:
    def __init__(self, http: httpx.AsyncClient):
        self.http = http
        self.headers: dict[str, dict] = {}

    async def login(self, user: str) -> dict:
        if user not in self.headers:
            r = await self.http.post("/api/auth/token", json={"username": user, "password": "demo"})
            r.raise_for_status()
            self.headers[user] = {"Authorization": f"Bearer {r.json()['token']}"}
        return self.headers[user]

    async def post(self, path: str, user: str | None = None, **body):
        headers = await self.login(user) if user else {}
        r = await self.http.post(path, json=body or None, headers=headers)
        if r.status_code == 401 and user:  # the token expired as the clock moved on
            self.headers.pop(user)
            r = await self.http.post(path, json=body or None, headers=await self.login(user))
        if r.status_code >= 400:
            raise RuntimeError(f"{path}: {r.status_code} {r.text}")
        return r.json() if r.status_code != 204 else None


async def walk_in_day(c: Client, day: datetime, n: int, rng: random.Random) -> int:
    from turnero.core import clock

    base = f"/api/offices/{OFFICE}"
    desks = {"3": "operador3", "5": "operador5", "9": "operador9"}  # CI-RENOV, CERT, SANEAMIENTO
    clock.freeze(at(day, 7, 55))
    c.headers.clear()  # tokens of the day before have expired
    for desk, user in desks.items():
        await c.post(f"{base}/desks/{desk}/open", user)
    served = 0
    t = 0.0
    pending: list[str] = []
    for i in range(n):
        t += rng.uniform(20, 90)
        clock.freeze(at(day, 8, 0, t))
        phone = f"7{rng.randrange(10**7):07d}" if i % 3 == 0 else None
        await c.post(f"{base}/tickets", "kiosko", service=rng.choice(["CI-RENOV", "CERT", "SANEAMIENTO"]),
                     **({"phone": phone} if phone else {}))
        pending.append("x")
        for desk, user in desks.items():
            if rng.random() < 0.45:
                continue
            called = await c.post(f"{base}/desks/{desk}/call-next", user)
            if called is None:
                continue
            t += rng.uniform(10, 60)
            clock.freeze(at(day, 8, 0, t))
            roll = rng.random()
            if roll < 0.08:
                await c.post(f"/api/tickets/{called['id']}/no-show", user)
            elif roll < 0.13 and called["service"] != "CERT":
                await c.post(f"/api/tickets/{called['id']}/transfer", user, service="CERT")
            else:
                await c.post(f"/api/tickets/{called['id']}/start", user)
                t += rng.uniform(60, 300)
                clock.freeze(at(day, 8, 0, t))
                await c.post(f"/api/tickets/{called['id']}/finish", user)
            served += 1
    # Drain the lines.
    while True:
        moved = False
        for desk, user in desks.items():
            t += rng.uniform(30, 200)
            clock.freeze(at(day, 8, 0, t))
            called = await c.post(f"{base}/desks/{desk}/call-next", user)
            if called is not None:
                await c.post(f"/api/tickets/{called['id']}/finish", user)
                moved = True
        if not moved:
            break
    for desk, user in desks.items():
        await c.post(f"{base}/desks/{desk}/close", user)
    return served


async def cita_day(c: Client, day: datetime, n: int, rng: random.Random, serial: list[int]) -> int:
    """Book `n` citas of CI-RENOV on `day` two days ahead, then play the day."""
    from turnero.core import clock
    from turnero.scheduler.sweeps import close_finished

    base = f"/api/offices/{OFFICE}"
    clock.freeze(at(day - timedelta(days=2), 10, 0))
    r = await c.http.get(f"{base}/availability", params={"service": "CI-RENOV", "from": day.date().isoformat(),
                                                          "days": 1})
    r.raise_for_status()
    free = [s for s in r.json() for _ in range(s["available"])]
    rng.shuffle(free)
    booked = []
    for slot in sorted(free[:n], key=lambda s: s["start"]):
        serial[0] += 1
        cita = await c.post("/api/appointments", None, office=OFFICE, service="CI-RENOV", start=slot["start"],
                            document={"number": f"{4000000 + serial[0]}", "issued_in": "LP"},
                            name=rng.choice(["Juana Mamani Quispe", "Luis Fernando Choque", "María Rosa Condori"]),
                            phone=f"7{rng.randrange(10**7):07d}")
        booked.append(cita)
    # The day: each arrives a few minutes early, checks in, is called at its time.
    clock.freeze(at(day, 7, 0))
    c.headers.clear()  # tokens of two days ago have expired
    await c.post(f"{base}/desks/4/open", "operador4")
    for cita in booked:
        start = datetime.fromisoformat(cita["start"])
        # (Citas of one slot are played one after the other from their start: the
        # clock steps back between them, which changes no row's size.)
        clock.freeze(start.astimezone(timezone.utc) - timedelta(minutes=rng.uniform(2, 20)))
        await c.post(f"{base}/checkins", "kiosko", code=cita["code"])
        clock.freeze(start.astimezone(timezone.utc) + timedelta(seconds=rng.uniform(0, 120)))
        called = await c.post(f"{base}/desks/4/call-next", "operador4")
        if called is not None:
            clock.freeze(clock.now() + timedelta(seconds=rng.uniform(120, 500)))
            await c.post(f"/api/tickets/{called['id']}/finish", "operador4")
    await c.post(f"{base}/desks/4/close", "operador4")
    clock.freeze(at(day + timedelta(days=1), 6, 0))
    await close_finished()
    return len(booked)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument("--days", type=int, default=6, help="measured days of each kind")
    parser.add_argument("--warm-days", type=int, default=2, help="days of each kind played before measuring")
    parser.add_argument("--walk-ins", type=int, default=300, help="per day")
    parser.add_argument("--citas", type=int, default=120, help="per day")
    parser.add_argument("--per-day", type=int, default=12000, help="national trámites per day")
    args = parser.parse_args()

    from turnero.app import create_app
    from turnero.core import clock
    from turnero.settings import Settings

    name = "turnero_size_" + secrets.token_hex(4)
    await pg_admin(args.pg, f'CREATE DATABASE "{name}"')
    url = with_database(args.pg, name)
    try:
        settings = Settings(database_url=url, run_jobs=False, booking_rate_limit="100000/minute", db_pool_size=4)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            from turnero.demo import seed_demo

            await seed_demo()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                c = Client(http)
                rng = random.Random(1)
                serial = [0]
                # Warm-up days first: a row updated after its insert (every ticket and cita
                # is) leaves a dead version and index entries that VACUUM frees for later
                # rows; measured from an empty table, that free space would count as size.
                for d in range(args.warm_days):
                    await walk_in_day(c, FIRST_DAY + timedelta(days=d), args.walk_ins, rng)
                    await cita_day(c, FIRST_DAY + timedelta(days=40 + d), args.citas, rng, serial)
                await deliver_all()
                s0, n0 = await sizes(url), await counts()
                t0 = time.monotonic()
                for d in range(args.warm_days, args.warm_days + args.days):
                    await walk_in_day(c, FIRST_DAY + timedelta(days=d), args.walk_ins, rng)
                await deliver_all()
                s1, n1 = await sizes(url), await counts()
                print(f"walk-ins: {n1['ticket'] - n0['ticket']} tickets in {time.monotonic() - t0:.0f} s", flush=True)
                citas = 0
                for d in range(args.warm_days, args.warm_days + args.days):
                    citas += await cita_day(c, FIRST_DAY + timedelta(days=40 + d), args.citas, rng, serial)
                await deliver_all()
                s2, n2 = await sizes(url), await counts()
                print(f"citas: {citas}", flush=True)

                from turnero.admin.retention import RetentionConfig, run_retention

                clock.freeze(FIRST_DAY.astimezone(timezone.utc) + timedelta(days=400 + 60))
                t1 = time.monotonic()
                result = await run_retention(RetentionConfig(days=400, batch=500, pause_seconds=0))
                purge_seconds = time.monotonic() - t1
                s3, n3 = await sizes(url), await counts()
        report(args, s0, n0, s1, n1, s2, n2, s3, n3, result, purge_seconds)
    finally:
        from turnero.core import clock

        clock.reset()
        await pg_admin(args.pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(args, s0, n0, s1, n1, s2, n2, s3, n3, result, purge_seconds) -> None:
    walk = delta(s1, s0)
    walk_n = delta(n1, n0)
    cita = delta(s2, s1)
    cita_n = delta(n2, n1)
    tickets = walk_n["ticket"]
    per_ticket = (walk["ticket"] + walk["ticket_event"]) / tickets
    print(f"\nWalk-ins: {tickets} tickets, {walk_n['ticket_event']} events "
          f"({walk_n['ticket_event'] / tickets:.2f} per ticket), {walk_n['outbound_message']} messages")
    print(f"  ticket {walk['ticket'] / tickets:.0f} B + its events {walk['ticket_event'] / tickets:.0f} B"
          f" = {per_ticket:.0f} B per ticket (rows, TOAST and indexes)")
    print(f"  outbox {walk['outbound_message'] / max(1, walk_n['outbound_message']):.0f} B per message,"
          f" {walk['outbound_message'] / tickets:.0f} B per walk-in")
    appts = cita_n["appointment"]
    per_slot = cita["slot"] / max(1, cita_n["slot"])
    appt_bytes = (cita["appointment"] + cita["appointment_event"]) / appts
    print(f"Citas: {appts} citas, {cita_n['appointment_event']} events "
          f"({cita_n['appointment_event'] / appts:.2f} per cita), {cita_n['slot']} slots made, "
          f"{cita_n['ticket']} check-in tickets, {cita_n['outbound_message']} messages")
    print(f"  appointment {cita['appointment'] / appts:.0f} B + its events {cita['appointment_event'] / appts:.0f} B"
          f" = {appt_bytes:.0f} B per cita; a slot {per_slot:.0f} B")
    checkin = (cita["ticket"] + cita["ticket_event"]) / max(1, cita_n["ticket"])
    print(f"  its check-in ticket with events {checkin:.0f} B; reminders and messages "
          f"{cita['outbound_message'] / appts:.0f} B per cita; idempotency keys {cita['idempotency_key'] / appts:.0f} B")
    print(f"\nRetention run: {result.status}, {result.batches} batches, {purge_seconds:.1f} s; "
          f"{dict(sorted(result.counts.items()))}")
    rolled = n3["report_day"]
    print(f"  report_day: {rolled} rows, {s3['report_day']} B = {s3['report_day'] / result.counts['tickets']:.0f}"
          f" B per ticket rolled up")
    print(f"  tables after (PostgreSQL keeps the freed pages for new rows): "
          f"{ {t: s3[t] for t in ('ticket', 'ticket_event', 'appointment', 'slot', 'outbound_message')} }")

    # A national year: per_day trámites a day, 365 days; half walk-ins, half with a cita
    # (the cita, its check-in ticket, its share of slots offered at 3 places each and
    # 2/3 booked), each a third of them with a message or two.
    per_year = args.per_day * 365
    outbox_walk = walk["outbound_message"] / tickets
    outbox_cita = cita["outbound_message"] / appts
    slot_share = per_slot / (3 * 2 / 3)
    walk_in_b = per_ticket + outbox_walk
    cita_b = appt_bytes + slot_share + checkin + outbox_cita
    year = per_year * (0.5 * walk_in_b + 0.5 * cita_b)
    year_all_walk = per_year * walk_in_b
    rolled_per_ticket = s3["report_day"] / result.counts["tickets"]
    aggregates_year = per_year * rolled_per_ticket
    print(f"\nNational year ({args.per_day} trámites a day x 365 = {per_year / 1e6:.2f} M):")
    print(f"  walk-in with events and messages {walk_in_b:.0f} B; cita with events, slot share "
          f"({slot_share:.0f} B), check-in ticket and messages {cita_b:.0f} B")
    print(f"  detail per year: {year / 1e9:.2f} GB (half by cita), {year_all_walk / 1e9:.2f} GB (all walk-in)")
    print(f"  without retention after 5 years: {5 * year / 1e9:.1f} GB, growing {year / 1e9:.2f} GB a year")
    print(f"  with 400 days: detail {year * 400 / 365 / 1e9:.2f} GB at most, plus roll-ups "
          f"{aggregates_year / 1e6:.0f} MB a year ({rolled_per_ticket:.0f} B per trámite); "
          f"after 5 years {(year * 400 / 365 + 5 * aggregates_year) / 1e9:.2f} GB")


if __name__ == "__main__":
    asyncio.run(main())
