#!/usr/bin/env python
"""Morning peak benchmark: a SEGIP office opening at 08:00 with 2,000 people waiting,
1,000 of them following their ticket on the phone, on a real server and PostgreSQL.

Each run (a fresh database `turnero_peak`, dropped and made again; `python -m turnero
serve`, TURNERO_RUN_JOBS=0, TURNERO_ACCESS_LOG=0, on 127.0.0.1 only):

1. seeds, with turnero's models, office `PEAK` with four trámites (CI-RENOV 60 %,
   CI-NUEVO 15 %, CERT 15 %, SANEAMIENTO 10 %), 24 desks (each with a first trámite
   and fallbacks), one operator per desk and a kiosk user; then, by bulk SQL (COPY),
   --waiting tickets that arrived over the last hour (15 % preferential, 30 % with a
   phone) with their `issued` events and the day's number counters;
2. starts, in a second process, --phones citizen pages and --displays lobby screens on
   /ws/offices/PEAK/board (picows clients). A phone does what turnero/static/js/
   ticket.js and live.js do: seq order, a resync on a gap or on a ping naming a later
   event, reconnection; it connects with ?ticket={id}. Until the server sends it a
   personal `ticket.update` (an older server never does) it re-reads GET
   /api/tickets/{id} within 1 s of each snapshot, at once on its own call and within
   3 s (random) of any queue.changed or ticket.called (one pending re-read at a time);
   once it has had one (`pushed`, the new protocol) it takes its state from them, drops
   a pending re-read and no longer re-reads on events or snapshots (ticket.js of
   2026-12-04; the brief of issue 15 said it would still re-read on its own call and
   on snapshots: change `Phone` if the page does). Either way a fallback read comes 60 s
   after the last one (the first spread over the minute: pages opened at different
   times), and the phone leaves when its ticket is finished. A phone makes one read at
   a time (a browser would start a second). --page old: no ?ticket=, the page before
   ticket.update. Screens read the estimates on connecting and every 60 s (board-eta.js);
3. phases, timed by this process: *before opening* (kiosks issue --issue-rate tickets/s,
   15 % preferential, 30 % with a phone; GET /api/offices/PEAK/estimates once a second;
   no desk open); *desks opening* (operator i arrives at (i-1) × --open-every s, signs
   in, opens desk i, then loops call-next → a pause of --pause s → finish); *full speed*
   (every desk looping, --full s).

Per phase it prints p50/p99 of issue, call-next, finish, the phones' ticket reads and
the estimates; server, PostgreSQL and load generator CPU per second, and per call
(everything the server did in the phase, the fan-out to phones and their reads, the
issues and sign-ins included, ÷ calls); per phone per call the WebSocket messages and
ticket reads (by reason), and the pages' event loop lag (is the load generator keeping up?).

Then the cost curve: for each --sizes line length (1k, 10k, 100k waiting, seeded the
same way, --curve-desks desks open) a fresh database and server, and --rounds
sequential rounds (after --warmup) of: issue; call-next; in random order, read a
ticket from the middle of the line, read the newest ticket, GET /api/offices/PEAK/board
and the estimates; finish. Before each request the server is let go idle (background
work of earlier ones done, at most 20 s), so each is charged its own work: median
latency and median server and PostgreSQL CPU (exact: /proc/PID/task/*/schedstat) while
it ran, with the ratios to the first size — PASS when both are ≤ 1.5×, else FAIL and
which one (printed only: the exit status does not depend on it). A last row per size
is the whole round: its CPU including the background work the round set off.

CPU figures hold on a busy machine better than latencies: the load average is printed.
Every loop is bounded in count and in time. --runs N prints the median of N runs.

    python benchmarks/peak.py                 # full: ~4 min for the peak, then the curve
    python benchmarks/peak.py --quick         # short phases, 4 rounds (~2 min on an idle machine)
    python benchmarks/peak.py --runs 3 --skip-curve
    python benchmarks/peak.py --quick --page old   # phones as the page before ticket.update
"""

from __future__ import annotations

import os
import sys

# Python puts this file's folder (which holds queue.py) first on sys.path: take it out
# so that `import queue` (multiprocessing, logging) finds the standard library.
_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from benchmarks import common  # noqa: E402
from benchmarks.queue import (  # noqa: E402
    CLIENT_ERRORS, PASSWORD, PREFERENTIAL, BenchError, RawHttp, login, percentile,
)

OFFICE = "PEAK"
PG_DB = "turnero_peak"
PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/test"
# code, name, ticket prefix, expected desk minutes, share of visits
SERVICES = (
    ("CI-RENOV", "Renovación de cédula", "C", 7.0, 0.60),
    ("CI-NUEVO", "Cédula por primera vez", "N", 12.0, 0.15),
    ("CERT", "Certificaciones", "T", 4.0, 0.15),
    ("SANEAMIENTO", "Saneamiento de datos", "S", 15.0, 0.10),
)
# desks 1-14 renewals first, 15-18 first CIs, 19-21 certificates, 22-24 saneamiento
DESK_PLAN = [(0, 1, 2)] * 14 + [(1, 0)] * 4 + [(2, 0)] * 3 + [(3, 2)] * 3
PHASES = ("before opening", "desks opening", "full speed")
CURVE_OPS = ("issue", "call-next", "finish", "read middle", "read newest", "board", "estimates")
POLL_SECONDS = 60.0  # ticket.js: the fallback poll
FINAL = frozenset(("done", "no_show", "cancelled"))
ERRORS = CLIENT_ERRORS + (ConnectionError,)


def _uvloop_run(coro):
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
    return uvloop.run(coro)


# ---------------------------------------------------------------- seeding


@dataclass
class Seeded:
    tickets: list[tuple[str, str]]  # (public id, number) in arrival order
    middle: str  # a regular CI-RENOV ticket half way down its line


async def seed(database_url: str, waiting: int, desks: int, rng: random.Random) -> Seeded:
    """The office, its trámites, desks and users with turnero's models; then `waiting`
    tickets, their `issued` events and the number counters by bulk SQL."""
    import asyncpg
    from tortoise.transactions import in_transaction

    from turnero.core import clock
    from turnero.core.auth import hash_password
    from turnero.core.db import close_db, init_db
    from turnero.core.models import Office, OfficeService, Role, Service, User
    from turnero.queue.models import Desk, DeskService
    from turnero.settings import Settings

    await init_db(Settings(database_url=database_url, run_jobs=False))
    try:
        password_hash = hash_password(PASSWORD)
        async with in_transaction():
            all_day = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
            office = await Office.create(code=OFFICE, name="SEGIP benchmark (hora pico)", department="LP",
                                         city="La Paz", timezone="America/La_Paz", opening_hours=all_day)
            services = []
            for code, name, prefix, minutes, _share in SERVICES:
                service = await Service.create(code=code, name=name, prefix=prefix, walk_in=True,
                                               expected_service_minutes=minutes)
                await OfficeService.create(office=office, service=service)
                services.append(service)
            await User.create(username="peak-kiosk", role=Role.KIOSK, office=office, password_hash=password_hash)
            for i in range(1, desks + 1):
                desk = await Desk.create(office=office, name=str(i))
                for weight, s in enumerate(DESK_PLAN[(i - 1) % len(DESK_PLAN)], start=1):
                    await DeskService.create(desk=desk, service=services[s], weight=min(weight, 2))
                await User.create(username=f"peak-op{i}", role=Role.OPERATOR, office=office,
                                  password_hash=password_hash)
        office_id, service_ids = office.id, [s.id for s in services]
    finally:
        await close_db()

    now = clock.now()
    day = clock.local_day(now, "America/La_Paz")
    counters: Counter[str] = Counter()
    rows, tickets, middle_line = [], [], []
    for i in range(waiting):
        s = rng.choices(range(len(SERVICES)), weights=[x[4] for x in SERVICES])[0]
        prefix = SERVICES[s][2]
        counters[prefix] += 1
        n = counters[prefix]
        number = f"{prefix}-{n:03d}"
        priority = rng.choice(PREFERENTIAL) if rng.random() < 0.15 else "regular"
        lane = "regular" if priority == "regular" else "preferential"
        phone = f"+5917{rng.randrange(10**7):07d}" if rng.random() < 0.30 else None
        at = now - timedelta(minutes=60) + timedelta(minutes=59) * i / max(1, waiting)
        pid = secrets.token_urlsafe(12)
        rows.append((pid, pid, 0, office_id, service_ids[s], 0, day, number, priority, lane, 1, phone,
                     "waiting", at, at, 0))
        tickets.append((pid, number))
        if s == 0 and lane == "regular":
            middle_line.append(pid)
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1), timeout=10)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("ticket", records=rows, columns=[
                "public_id", "visit_id", "hop", "office_id", "service_id", "step_index", "day", "number",
                "priority", "lane", "party_size", "phone", "status", "arrived_at", "issued_at", "recall_count"])
            await conn.execute(
                "INSERT INTO ticket_event (ticket_id, kind, at, data) SELECT t.id, 'issued', t.issued_at,"
                " jsonb_build_object('service', s.code, 'tramite', s.code, 'priority', t.priority)"
                " FROM ticket t JOIN service s ON s.id = t.service_id WHERE t.office_id = $1", office_id)
            await conn.executemany(
                "INSERT INTO ticket_counter (office_id, prefix, day, value) VALUES ($1, $2, $3, $4)",
                [(office_id, prefix, day, value) for prefix, value in counters.items()])
        await conn.execute("ANALYZE ticket; ANALYZE ticket_event")
    finally:
        await conn.close()
    return Seeded(tickets, middle_line[len(middle_line) // 2] if middle_line else tickets[len(tickets) // 2][0])


# ---------------------------------------------------------------- the pages (second process)

_TYPE = re.compile(rb'"type":"([^"]*)"')
_SEQ = re.compile(rb'"seq":(\d+)')
_LAST_SEQ = re.compile(rb'"last_seq":(\d+)')
_NUMBER = re.compile(rb'"ticket":"([^"]*)"')


def _phase_stats() -> dict:
    return {"phone_msgs": 0, "screen_msgs": 0, "updates": 0, "reads": Counter(), "overlaps": 0,
            "read_lat": [], "read_errors": Counter(), "reconnects": 0, "active": [], "lag": []}


class Crowd:
    """The phones and screens of one process, and what they counted per phase."""

    def __init__(self, http: common.HttpGet, ws_url: str, phase, seed: int):
        self.http, self.ws_url, self.phase = http, ws_url, phase
        self.rng = random.Random(seed)
        self.stats = [_phase_stats() for _ in range(len(PHASES) + 2)]
        self.phones: list[Phone] = []
        self.screens: list[Screen] = []
        self.tasks: set[asyncio.Task] = set()
        self.stopping = False

    def now(self) -> dict:
        return self.stats[self.phase.value]

    def spawn(self, coro) -> None:
        if self.stopping:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class Follower:
    """One page's board channel as live.js keeps it: events in seq order, a resync on a
    gap or when a ping names a later event, reconnection with backoff."""

    is_phone = False

    def __init__(self, crowd: Crowd, url: str):
        self.crowd, self.url = crowd, url
        self.transport = None
        self.seq: int | None = None
        self.waiting_snapshot = True
        self.closed = False
        self.loop = asyncio.get_running_loop()

    async def connect(self) -> None:
        from picows import WSListener, WSMsgType, ws_connect

        owner = self

        class Socket(WSListener):
            def on_ws_frame(self, transport, frame):
                if frame.msg_type == WSMsgType.TEXT:  # picows answers WebSocket pings itself
                    owner.on_text(frame.get_payload_as_bytes())

            def on_ws_disconnected(self, transport):
                owner.on_closed()

        for attempt in range(8):
            try:
                self.transport, _ = await ws_connect(Socket, self.url, websocket_handshake_timeout=30,
                                                     max_frame_size=2**22, enable_auto_pong=True)
                self.waiting_snapshot, self.seq = True, None
                return
            except (OSError, asyncio.TimeoutError, RuntimeError, ValueError):
                await asyncio.sleep(min(8.0, 0.5 * 2**attempt) * (0.6 + 0.8 * self.crowd.rng.random()))
        self.closed = True  # given up

    def on_closed(self) -> None:
        self.transport = None
        if not self.closed and not self.crowd.stopping:
            self.crowd.now()["reconnects"] += 1
            self.crowd.spawn(self.connect())

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.disconnect()

    def on_text(self, data: bytes) -> None:
        stats = self.crowd.now()
        stats["phone_msgs" if self.is_phone else "screen_msgs"] += 1
        m = _TYPE.search(data, 0, 48)
        kind = m.group(1) if m else b""
        if kind == b"snapshot":
            s = _SEQ.search(data)
            self.seq, self.waiting_snapshot = (int(s.group(1)) if s else 0), False
            self.on_snapshot()
        elif kind == b"ping":
            s = _LAST_SEQ.search(data)
            if s and not self.waiting_snapshot and self.seq is not None and int(s.group(1)) > self.seq:
                self.resync()
        elif kind == b"ticket.update":
            self.on_update(data)
        elif (s := _SEQ.search(data)) is not None:
            seq = int(s.group(1))
            if self.waiting_snapshot or self.seq is None or seq <= self.seq:
                return
            if seq != self.seq + 1:
                self.resync()
                return
            self.seq = seq
            self.on_event(kind, data)

    def resync(self) -> None:
        self.waiting_snapshot = True
        if self.transport is not None:
            from picows import WSMsgType

            self.transport.send(WSMsgType.TEXT, b'{"type":"resync"}')

    def on_snapshot(self) -> None:
        pass

    def on_event(self, kind: bytes, data: bytes) -> None:
        pass

    def on_update(self, data: bytes) -> None:
        pass


class Phone(Follower):
    """The citizen ticket page /t/{id} as ticket.js is: with the new protocol (`pushed`:
    the server has sent a ticket.update) nothing but the fallback poll re-reads."""

    is_phone = True

    def __init__(self, crowd: Crowd, ticket_id: str, number: str, ask_updates: bool):
        super().__init__(crowd, crowd.ws_url + (f"?ticket={ticket_id}" if ask_updates else ""))
        self.path, self.number = f"/api/tickets/{ticket_id}", number.encode()
        self.status = "waiting"
        self.pushed = False
        self.timer: asyncio.TimerHandle | None = None
        self.fallback: asyncio.TimerHandle | None = None
        self.reading = False
        self.reads = 0

    def start(self) -> None:
        # Pages opened at different moments: their fallback polls are spread out.
        self.fallback = self.loop.call_later(self.crowd.rng.random() * POLL_SECONDS, self.read_now, "fallback")
        self.crowd.spawn(self.connect())

    def on_snapshot(self) -> None:
        if not self.pushed:
            self.refetch_soon(1.0, "snapshot")

    def on_event(self, kind: bytes, data: bytes) -> None:
        if kind in (b"ticket.called", b"ticket.recalled"):
            m = _NUMBER.search(data)
            if m and m.group(1) == self.number:
                if self.status not in FINAL:
                    self.status = "called"
                if not self.pushed:  # (pushed: the server's update of this call follows)
                    self.refetch_soon(0.0, "own call")
                return
        if (kind == b"queue.changed" or kind == b"ticket.called") and not self.pushed:
            self.refetch_soon(3.0, "queue")

    def on_update(self, data: bytes) -> None:
        self.pushed = True
        self.crowd.now()["updates"] += 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        ticket = json.loads(data).get("ticket") or {}
        self.status = ticket.get("status", self.status)
        if self.status in FINAL:
            self.leave()

    def refetch_soon(self, max_delay: float, reason: str) -> None:
        if self.status in FINAL or self.closed:
            return
        if self.timer is not None and max_delay == 0:
            self.timer.cancel()
            self.timer = None
        if self.timer is None:
            self.timer = self.loop.call_later(self.crowd.rng.random() * max_delay, self._fire, reason)

    def _fire(self, reason: str) -> None:
        self.timer = None
        self.read_now(reason)

    def read_now(self, reason: str) -> None:
        if self.fallback is not None:
            self.fallback.cancel()
            self.fallback = None
        if self.closed:
            return
        if self.reading:
            self.crowd.now()["overlaps"] += 1
            return
        self.reading = True
        self.crowd.spawn(self.read(reason))

    async def read(self, reason: str) -> None:
        stats = self.crowd.now()
        stats["reads"][reason] += 1
        t0 = time.perf_counter()
        try:
            status, body = await self.crowd.http.get(self.path)
            stats["read_lat"].append(time.perf_counter() - t0)
            if status == 200:
                self.status = json.loads(body)["status"]
            else:
                stats["read_errors"][str(status)] += 1
        except ERRORS as exc:
            stats["read_errors"][type(exc).__name__] += 1
        finally:
            self.reading = False
        self.reads += 1
        if self.status in FINAL:
            self.leave()
        elif not self.closed:
            # After the first read (on connecting) the next fallback is put anywhere in
            # the minute: pages in a steady state, not a thousand opened together.
            delay = POLL_SECONDS if self.reads > 1 else self.crowd.rng.random() * POLL_SECONDS
            self.fallback = self.loop.call_later(delay, self.read_now, "fallback")

    def leave(self) -> None:
        for handle in (self.timer, self.fallback):
            if handle is not None:
                handle.cancel()
        self.timer = self.fallback = None
        self.close()


class Screen(Follower):
    """A lobby display: the board channel, and the estimates every 60 s (board-eta.js)."""

    def start(self) -> None:
        self.crowd.spawn(self.connect())
        self.crowd.spawn(self.estimates())

    async def estimates(self) -> None:
        for _ in range(1000):
            if self.closed or self.crowd.stopping:
                return
            try:
                await self.crowd.http.get(f"/api/offices/{OFFICE}/estimates")
            except ERRORS:
                pass
            await asyncio.sleep(60.0)


def crowd_process(base: str, phones: list[tuple[str, str]], screens: int, ask_updates: bool, phase, ready, stop,
                  out, seed: int, limit: float) -> None:
    """The pages, in their own process (the figures of the timed requests in the other
    one are then not delayed by thousands of sockets). Reports its counters on `stop`."""
    async def main() -> dict:
        http = common.HttpGet(base)
        crowd = Crowd(http, base.replace("http://", "ws://") + f"/ws/offices/{OFFICE}/board", phase, seed)
        crowd.phones = [Phone(crowd, pid, number, ask_updates) for pid, number in phones]
        crowd.screens = [Screen(crowd, crowd.ws_url) for _ in range(screens)]
        for i, page in enumerate(crowd.phones + crowd.screens):
            page.start()
            if i % 50 == 49:
                await asyncio.sleep(0.05)  # do not flood the listen backlog
        deadline = time.monotonic() + limit
        started = time.monotonic()
        while time.monotonic() < min(deadline, started + 90):  # connected; first update or read done
            if (all(p.seq is not None or p.closed for p in crowd.screens)
                    and all(p.pushed or p.reads or p.closed for p in crowd.phones)):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)
        ready.set()
        tick = time.monotonic()
        while not stop.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            now = time.monotonic()
            stats = crowd.now()
            stats["lag"].append(now - tick - 0.25)
            stats["active"].append(sum(1 for p in crowd.phones if not p.closed))
            tick = now
        crowd.stopping = True
        for page in crowd.phones + crowd.screens:
            if isinstance(page, Phone):
                page.leave()
            else:
                page.close()
        for task in list(crowd.tasks):
            task.cancel()
        await asyncio.gather(*crowd.tasks, return_exceptions=True)
        http.close()
        return {"stats": crowd.stats, "left": sum(1 for p in crowd.phones if p.status in FINAL),
                "pushed": sum(1 for p in crowd.phones if p.pushed)}

    out.put(_uvloop_run(main()))


# ---------------------------------------------------------------- the timed side


class Meter:
    """CPU seconds of the server, its PostgreSQL backends and the load generator."""

    def __init__(self, server_pids: list[int], crowd_pid: int | None = None):
        self.server_pids, self.crowd_pid = server_pids, crowd_pid
        self.db_pids = common.pg_backend_pids(PG_DB)

    def rescan(self) -> None:
        self.db_pids = sorted(set(self.db_pids) | set(common.pg_backend_pids(PG_DB)))

    def server_cpu(self) -> float:
        return sum(common.cpu_seconds_exact(p) for p in self.server_pids)

    def read(self) -> dict[str, float]:
        return {
            "server": self.server_cpu(),
            "db": sum(common.cpu_seconds_exact(p) for p in self.db_pids),
            "clients": time.process_time() + (common.cpu_seconds_exact(self.crowd_pid) if self.crowd_pid else 0.0),
        }


@dataclass
class Timed:
    """Latency samples (seconds) per operation and phase, and the phase marks."""

    samples: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    calls: Counter = field(default_factory=Counter)
    issued: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    marks: list[tuple[float, dict]] = field(default_factory=list)

    def add(self, op: str, phase: int, seconds: float) -> None:
        self.samples.setdefault((op, phase), []).append(seconds)


async def _kiosk(raw: RawHttp, headers: dict, rate: float, phase, timed: Timed, stop: asyncio.Event,
                 rng: random.Random) -> None:
    url = f"/api/offices/{OFFICE}/tickets"
    headers = {**headers, "Content-Type": "application/json"}
    inflight: set[asyncio.Task] = set()

    async def issue() -> None:
        body = {"service": rng.choices([s[0] for s in SERVICES], weights=[s[4] for s in SERVICES])[0],
                "priority": rng.choice(PREFERENTIAL) if rng.random() < 0.15 else "regular"}
        if rng.random() < 0.30:
            body["phone"] = f"+5917{rng.randrange(10**7):07d}"
        p, t0 = phase.value, time.perf_counter()
        try:
            status, text = await raw.post(url, headers, json.dumps(body).encode())
        except ERRORS as exc:
            timed.errors.append(f"emitir: {exc!r}")
            return
        timed.add("issue", p, time.perf_counter() - t0)
        if status == 201:
            timed.issued[p] += 1
        else:
            timed.errors.append(f"emitir: {status} {text[:120]!r}")

    next_at = time.monotonic()
    for _ in range(100_000):
        if stop.is_set():
            break
        if len(inflight) < 20:  # a kiosk that cannot print does not queue up citizens
            task = asyncio.create_task(issue())
            inflight.add(task)
            task.add_done_callback(inflight.discard)
        next_at += 1.0 / rate
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    await asyncio.gather(*inflight, return_exceptions=True)


async def _probe(http: common.HttpGet, phase, timed: Timed, stop: asyncio.Event) -> None:
    for _ in range(100_000):
        if stop.is_set():
            return
        p, t0 = phase.value, time.perf_counter()
        try:
            status, _body = await http.get(f"/api/offices/{OFFICE}/estimates")
            timed.add("estimates", p, time.perf_counter() - t0)
            if status != 200:
                timed.errors.append(f"estimaciones: {status}")
        except ERRORS as exc:
            timed.errors.append(f"estimaciones: {exc!r}")
        await asyncio.sleep(1.0)


async def _desk(raw: RawHttp, name: str, headers: dict, pause: tuple[float, float], phase, timed: Timed,
                stop: asyncio.Event, rng: random.Random) -> None:
    """An operator: call-next, attend (a short pause), finish; again."""
    call_url = f"/api/offices/{OFFICE}/desks/{name}/call-next"
    for _ in range(100_000):
        if stop.is_set():
            return
        p, t0 = phase.value, time.perf_counter()
        try:
            status, body = await raw.post(call_url, headers)
        except ERRORS as exc:
            timed.errors.append(f"llamar ({name}): {exc!r}")
            await asyncio.sleep(1.0)
            continue
        timed.add("call-next", p, time.perf_counter() - t0)
        if status != 200:
            if status != 204:
                timed.errors.append(f"llamar ({name}): {status} {body[:120]!r}")
            await asyncio.sleep(1.0)
            continue
        timed.calls[p] += 1
        ticket = json.loads(body)["id"]
        await asyncio.sleep(rng.uniform(*pause))  # finished even when stopping: the desk is left free
        p, t0 = phase.value, time.perf_counter()
        try:
            status, body = await raw.post(f"/api/tickets/{ticket}/finish", headers)
        except ERRORS as exc:
            timed.errors.append(f"finalizar ({name}): {exc!r}")
            continue
        timed.add("finish", p, time.perf_counter() - t0)
        if status != 200:
            timed.errors.append(f"finalizar ({name}): {status} {body[:120]!r}")


async def drive_peak(base: str, args, phase, meter: Meter, rng: random.Random) -> Timed:
    import aiohttp

    timed, stop = Timed(), asyncio.Event()
    raw, http = RawHttp(base), common.HttpGet(base)

    def mark(p: int) -> None:
        meter.rescan()
        phase.value = p
        timed.marks.append((time.monotonic(), meter.read()))

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        kiosk = await login(session, base, "peak-kiosk")
        mark(1)
        tasks = [asyncio.create_task(_kiosk(raw, kiosk, args.issue_rate, phase, timed, stop, rng)),
                 asyncio.create_task(_probe(http, phase, timed, stop))]
        await asyncio.sleep(args.before)
        mark(2)
        start = time.monotonic()

        async def operator(i: int, opened: asyncio.Future) -> None:
            """Arrives at its time, signs in, opens its desk, then works it."""
            await asyncio.sleep(max(0.0, start + (i - 1) * args.open_every - time.monotonic()))
            status, body = 0, b""
            try:
                headers = await login(session, base, f"peak-op{i}")
                status, body = await raw.post(f"/api/offices/{OFFICE}/desks/{i}/open", headers)
            except ERRORS + (BenchError,) as exc:
                body = repr(exc).encode()
            finally:
                opened.set_result(None)
            if status != 200:
                timed.errors.append(f"abrir {i}: {status} {body[:120]!r}")
                return
            await _desk(raw, str(i), headers, args.pause, phase, timed, stop, random.Random(rng.random()))

        opened = [asyncio.get_running_loop().create_future() for _ in range(args.desks)]
        tasks += [asyncio.create_task(operator(i, f)) for i, f in enumerate(opened, start=1)]
        await asyncio.wait(opened, timeout=args.desks * args.open_every + 120)
        mark(3)
        await asyncio.sleep(args.full)
        mark(4)
        stop.set()
        await asyncio.wait(tasks, timeout=max(10.0, args.pause[1] + 5))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await raw.close()
    http.close()
    return timed


def peak_figures(timed: Timed, crowd: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for p, name in enumerate(PHASES, start=1):
        (t0, c0), (t1, c1) = timed.marks[p - 1], timed.marks[p]
        secs = t1 - t0
        calls = timed.calls[p]
        st = crowd["stats"][p]
        phones = statistics.mean(st["active"]) if st["active"] else 0.0
        f = {"secs": secs, "calls": calls, "calls_s": calls / secs, "issued": timed.issued[p]}
        for op in ("issue", "call-next", "finish", "estimates"):
            lat = timed.samples.get((op, p), [])
            f[f"{op}_p50"], f[f"{op}_p99"] = percentile(lat, 50), percentile(lat, 99)
        f["read_p50"], f["read_p99"] = percentile(st["read_lat"], 50), percentile(st["read_lat"], 99)
        f["reads"] = sum(st["reads"].values())
        for who in ("server", "db", "clients"):
            f[f"{who}_ms_s"] = 1000 * (c1[who] - c0[who]) / secs
            f[f"{who}_ms_call"] = 1000 * (c1[who] - c0[who]) / calls if calls else float("nan")
        f["phones"] = phones
        per = phones * calls
        f["msgs_phone_call"] = st["phone_msgs"] / per if per else float("nan")
        f["reads_phone_call"] = f["reads"] / per if per else float("nan")
        f["msgs_phone_s"] = st["phone_msgs"] / phones / secs if phones else float("nan")
        f["reads_phone_s"] = f["reads"] / phones / secs if phones else float("nan")
        for reason in ("snapshot", "own call", "queue", "fallback"):
            f[f"reads_{reason}"] = st["reads"][reason]
        f["updates"] = st["updates"]
        f["overlaps"], f["reconnects"] = st["overlaps"], st["reconnects"]
        f["read_errors"] = sum(st["read_errors"].values())
        f["read_error_kinds"] = ", ".join(f"{k} ×{v}" for k, v in st["read_errors"].most_common(3))
        f["screen_msgs_s"] = st["screen_msgs"] / secs
        f["lag_p99"] = percentile(st["lag"], 99)
        out.update({f"{name}|{k}": v for k, v in f.items()})
    return out


def print_peak(f: dict[str, float], phones_total: int, screens: int) -> None:
    def ms(v: float) -> str:
        return "—" if v != v else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")

    for name in PHASES:
        g = {k.split("|", 1)[1]: v for k, v in f.items() if k.startswith(name + "|")}
        print(f"  {name}: {g['secs']:.0f} s, {g['calls']:.0f} calls ({g['calls_s']:.1f}/s), {g['issued']:.0f} issued,"
              f" {g['phones']:.0f} of {phones_total} phones following, {screens} screens")
        print("    p50/p99 ms: " + ", ".join(
            f"{label} {ms(g[key + '_p50'])}/{ms(g[key + '_p99'])}"
            for label, key in (("issue", "issue"), ("call-next", "call-next"), ("finish", "finish"),
                               (f"ticket read ({g['reads']:.0f})", "read"), ("estimates", "estimates"))))
        print(f"    CPU ms per s: server {g['server_ms_s']:.0f}, PostgreSQL {g['db_ms_s']:.0f}, load generator"
              f" {g['clients_ms_s']:.0f}; per call (all included): server {ms(g['server_ms_call'])},"
              f" PostgreSQL {ms(g['db_ms_call'])}")
        print(f"    per phone per call: messages {ms(g['msgs_phone_call'])}, reads {g['reads_phone_call']:.3f}"
              f" (per phone per s: {g['msgs_phone_s']:.2f} msgs, {g['reads_phone_s']:.3f} reads); reads by reason:"
              f" snapshot {g['reads_snapshot']:.0f}, own call {g['reads_own call']:.0f}, queue {g['reads_queue']:.0f},"
              f" fallback {g['reads_fallback']:.0f}; {g['updates']:.0f} ticket.update")
        kinds = f" ({g['read_error_kinds']})" if g.get("read_error_kinds") else ""
        print(f"    {g['overlaps']:.0f} re-reads skipped (one already running), {g['read_errors']:.0f} read errors{kinds},"
              f" {g['reconnects']:.0f} reconnects; screens {g['screen_msgs_s']:.0f} msgs/s;"
              f" pages' event loop lag p99 {ms(g['lag_p99'])} ms")


def run_peak(args, workdir: Path, run: int) -> tuple[dict[str, float], list[str]]:
    rng = random.Random(args.seed + run)
    t0 = time.monotonic()
    url = common.fresh_database("postgres", args.pg_url, workdir, pg_name=PG_DB, sqlite_name="")
    seeded = asyncio.run(seed(url, args.waiting, args.desks, rng))
    t1 = time.monotonic()
    server = common.Server(url, args.workers, workdir / f"peak-server-{run}.log", _server_env(args))
    ctx = mp.get_context("fork")
    phase, ready, stop, out = ctx.RawValue("i", 0), ctx.Event(), ctx.Event(), ctx.Queue()
    proc = None
    try:
        server.wait_ready()
        t2 = time.monotonic()
        phones = rng.sample(seeded.tickets, min(args.phones, len(seeded.tickets)))
        limit = args.before + args.desks * args.open_every + args.full + 180
        proc = ctx.Process(target=crowd_process, daemon=True,
                           args=(server.url, phones, args.displays, args.page == "auto", phase, ready, stop, out,
                                 args.seed + run, limit))
        proc.start()
        if not ready.wait(120):
            raise RuntimeError("las páginas no se conectaron a tiempo")
        print(f"    set-up: database {t1 - t0:.1f} s, server {t2 - t1:.1f} s, pages connected and read"
              f" {time.monotonic() - t2:.1f} s", flush=True)
        meter = Meter(server.worker_pids(), proc.pid)
        timed = _uvloop_run(drive_peak(server.url, args, phase, meter, rng))
        stop.set()
        crowd = out.get(timeout=120)
        proc.join(20)
    finally:
        stop.set()
        if proc is not None and proc.is_alive():
            proc.terminate()
        server.stop()
    figures = peak_figures(timed, crowd)
    figures["phones_left"], figures["phones_pushed"] = crowd["left"], crowd["pushed"]
    return figures, timed.errors


# ---------------------------------------------------------------- the cost curve


async def drive_curve(base: str, seeded: Seeded, args, meter: Meter, rng: random.Random) -> dict:
    """Sequential rounds, each request timed and charged the server's and PostgreSQL's
    CPU while it ran (background work running meanwhile included)."""
    import aiohttp

    raw, http = RawHttp(base), common.HttpGet(base)
    samples: dict[str, list[tuple[float, float, float]]] = {op: [] for op in CURVE_OPS}  # latency, server, db

    async def settle() -> None:
        """Until the server has been idle for a moment (at most 20 s): a request is then
        charged its own work, not the background work of the ones before it."""
        last, end = meter.server_cpu(), time.monotonic() + 20
        while time.monotonic() < end:
            await asyncio.sleep(0.05)
            now = meter.server_cpu()
            if now - last < 0.0025:
                return
            last = now

    async def timed(op: str, request) -> tuple[int, bytes]:
        await settle()
        before, t0 = meter.read(), time.perf_counter()
        status, body = await request
        seconds = time.perf_counter() - t0
        after = meter.read()
        samples[op].append((seconds, after["server"] - before["server"], after["db"] - before["db"]))
        if status not in (200, 201, 204):
            raise RuntimeError(f"{op}: {status} {body[:200]!r}")
        return status, body

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        kiosk = await login(session, base, "peak-kiosk")
        kiosk["Content-Type"] = "application/json"
        ops = [await login(session, base, f"peak-op{i}") for i in range(1, args.curve_desks + 1)]
    for i, headers in enumerate(ops, start=1):
        status, body = await raw.post(f"/api/offices/{OFFICE}/desks/{i}/open", headers)
        if status != 200:
            raise RuntimeError(f"abrir {i}: {status} {body[:200]!r}")
    await asyncio.sleep(1.0)  # start-up work of the server out of the way
    rounds, total, deadline = 0, {"server": 0.0, "db": 0.0, "secs": 0.0, "requests": 0.0}, float("inf")
    for r in range(args.warmup + args.rounds):
        if r > args.warmup and time.monotonic() > deadline:  # (at least one round is measured)
            break
        if r == args.warmup:
            deadline = time.monotonic() + args.curve_timeout
            for op in CURVE_OPS:
                samples[op].clear()
        meter.rescan()
        await settle()
        begin, t0 = meter.read(), time.monotonic()
        in_requests = sum(x[1] + x[2] for rows in samples.values() for x in rows)
        body = json.dumps({"service": SERVICES[0][0], "priority": "regular"}).encode()
        _s, issued = await timed("issue", raw.post(f"/api/offices/{OFFICE}/tickets", kiosk, body))
        newest = json.loads(issued)["id"]
        d = r % len(ops)
        status, called = await timed("call-next", raw.post(f"/api/offices/{OFFICE}/desks/{d + 1}/call-next", ops[d]))
        reads = [("read middle", f"/api/tickets/{seeded.middle}"), ("read newest", f"/api/tickets/{newest}"),
                 ("board", f"/api/offices/{OFFICE}/board"), ("estimates", f"/api/offices/{OFFICE}/estimates")]
        rng.shuffle(reads)
        for op, path in reads:
            await timed(op, http.get(path))
        if status == 200:
            await timed("finish", raw.post(f"/api/tickets/{json.loads(called)['id']}/finish", ops[d]))
        await settle()  # the round's background work done
        if r >= args.warmup:
            end = meter.read()
            rounds += 1
            total["secs"] += time.monotonic() - t0
            total["requests"] += sum(x[1] + x[2] for rows in samples.values() for x in rows) - in_requests
            for who in ("server", "db"):
                total[who] += end[who] - begin[who]
    await raw.close()
    http.close()
    return {"samples": samples, "rounds": rounds, "total": total}


def run_curve_size(args, workdir: Path, size: int, run: int) -> dict[str, float]:
    rng = random.Random(args.seed * 1000 + size + run)
    t0 = time.monotonic()
    url = common.fresh_database("postgres", args.pg_url, workdir, pg_name=PG_DB, sqlite_name="")
    seeded = asyncio.run(seed(url, size, max(args.desks, args.curve_desks), rng))
    server = common.Server(url, args.workers, workdir / f"curve-server-{size}-{run}.log", _server_env(args))
    try:
        t1 = time.monotonic()
        server.wait_ready()
        t2 = time.monotonic()
        res = _uvloop_run(drive_curve(server.url, seeded, args, Meter(server.worker_pids()), rng))
    finally:
        server.stop()
    print(f"    database {t1 - t0:.1f} s, server {t2 - t1:.1f} s, {res['rounds']} rounds {time.monotonic() - t2:.1f} s",
          flush=True)
    out = {"rounds": res["rounds"]}
    n = max(1, res["rounds"])
    out["round|p50"] = 1000 * res["total"]["secs"] / n
    out["round|server"] = 1000 * res["total"]["server"] / n
    out["round|db"] = 1000 * res["total"]["db"] / n
    out["round|background"] = out["round|server"] + out["round|db"] - 1000 * res["total"]["requests"] / n
    for op in CURVE_OPS:
        rows = res["samples"][op]
        out[f"{op}|n"] = len(rows)
        out[f"{op}|p50"] = percentile([r[0] for r in rows], 50)
        for i, who in ((1, "server"), (2, "db")):
            out[f"{op}|{who}"] = 1000 * statistics.median(r[i] for r in rows) if rows else float("nan")
    return out


def print_curve(by_size: dict[int, dict[str, float]]) -> None:
    """One row per operation and size: median latency, median server and PostgreSQL CPU
    per request, their ratios to the smallest size; the last rows, a whole round."""
    sizes = sorted(by_size)
    base = by_size[sizes[0]]
    print(f"  {'operation':<12} {'waiting':>8} {'p50 ms':>9} {'×':>7} {'server ms':>10} {'db ms':>7}"
          f" {'CPU ×':>7}   (medians per request; target ≤ 1.5× the {sizes[0]:,} figure)")
    for op in CURVE_OPS + ("round",):
        if op == "round":
            print("  whole round (means: seconds, CPU ms with the background work each round started):")
        for size in sizes:
            f = by_size[size]
            r_lat = f[f"{op}|p50"] / base[f"{op}|p50"]
            r_cpu = (f[f"{op}|server"] + f[f"{op}|db"]) / (base[f"{op}|server"] + base[f"{op}|db"])
            failed = [what for what, ratio in (("latency", r_lat), ("CPU", r_cpu)) if ratio > 1.5
                      and not (what == "latency" and op == "round")]  # (a round's time includes the waits)
            verdict = "" if size == sizes[0] else ("FAIL: " + ", ".join(failed) if failed else "PASS")
            n = (f"(n={f[op + '|n']:.0f})" if op != "round" else
                 f"(rounds={f['rounds']:.0f}; {f['round|background']:.0f} ms CPU after the responses)")
            print(f"  {op:<12} {size:>8,} {f[op + '|p50']:>9.1f} {r_lat:>6.2f}× {f[op + '|server']:>10.2f}"
                  f" {f[op + '|db']:>7.2f} {r_cpu:>6.2f}×  {verdict:<18} {n}")


# ---------------------------------------------------------------- main


def _server_env(args) -> dict[str, str]:
    env = {"TURNERO_ACCESS_LOG": "0"}
    if args.redis_url:
        env["TURNERO_REDIS_URL"] = args.redis_url
    return env


def _medians(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) if isinstance(v, (int, float)) else runs[-1][k]
            for k, v in runs[0].items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="shorter phases and fewer rounds (under ~2 min)")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--waiting", type=int, default=2000, help="tickets waiting when the office opens")
    p.add_argument("--desks", type=int, default=24)
    p.add_argument("--phones", type=int, default=1000)
    p.add_argument("--displays", type=int, default=20)
    p.add_argument("--page", choices=("auto", "old"), default="auto",
                   help="auto: phones ask for their ticket's updates (?ticket=) and use them if the server"
                        " sends them; old: they do not ask, as the page before ticket.update")
    p.add_argument("--issue-rate", type=float, default=2.0, help="kiosk tickets per second")
    p.add_argument("--before", type=float, help="seconds before the first desk opens (default 20; quick 5)")
    p.add_argument("--open-every", type=float, help="seconds between desks opening (default 4; quick 0.5)")
    p.add_argument("--full", type=float, help="seconds at full speed (default 60; quick 15)")
    p.add_argument("--pause", type=float, nargs=2, default=(0.5, 1.5), metavar=("MIN", "MAX"),
                   help="seconds a desk attends before finishing (uniform)")
    p.add_argument("--sizes", default="1000,10000,100000", help="cost curve: tickets waiting")
    p.add_argument("--rounds", type=int, help="cost curve rounds per size (default 20; quick 4)")
    p.add_argument("--warmup", type=int, help="cost curve rounds not counted (default 2; quick 1)")
    p.add_argument("--curve-desks", type=int, default=4, help="cost curve: desks open (each round calls at the next)")
    p.add_argument("--curve-timeout", type=float, help="cost curve: seconds of rounds per size at most"
                   " (default 240; quick 20)")
    p.add_argument("--skip-peak", action="store_true")
    p.add_argument("--skip-curve", action="store_true")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--pg-url", default=os.environ.get("TURNERO_BENCH_POSTGRES_URL", PG_DEFAULT),
                   help=f"a PostgreSQL server where {PG_DB} may be created (127.0.0.1 only)")
    p.add_argument("--redis-url", default="", help="TURNERO_REDIS_URL for the server (default: in-process bus)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the work folder (server logs)")
    args = p.parse_args(argv)
    q = args.quick
    for name, full, quick in (("before", 20, 5), ("open_every", 4, 0.5), ("full", 60, 15), ("rounds", 20, 4),
                              ("warmup", 2, 1), ("curve_timeout", 240, 20)):
        if getattr(args, name) is None:
            setattr(args, name, quick if q else full)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if min(args.runs, args.waiting, args.desks, args.rounds, args.issue_rate, *sizes) <= 0 or args.desks > 200:
        p.error("--runs, --waiting, --desks (≤ 200), --rounds, --issue-rate y --sizes deben ser positivos")

    workdir = Path(tempfile.mkdtemp(prefix="turnero-peak-"))
    commit = os.popen(f"git -C {REPO} log -1 --oneline 2>/dev/null").read().strip()[:90]
    changed = len(os.popen(f"git -C {REPO} status --porcelain -- turnero 2>/dev/null").read().splitlines())
    if changed:
        commit += f" + {changed} uncommitted file(s) under turnero/"
    print(f"Turnero morning peak: {args.waiting} waiting, {args.desks} desks (one every {args.open_every} s),"
          f" {args.phones} phones ({args.page} page), {args.displays} screens, kiosks {args.issue_rate}/s;"
          f" {args.runs} run(s);"
          f" {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}; at {commit}", flush=True)
    problems = False
    try:
        if not args.skip_peak:
            runs = []
            for run in range(1, args.runs + 1):
                print(f"[peak] run {run}/{args.runs} (load average {os.getloadavg()[0]:.1f}) …", flush=True)
                figures, errors = run_peak(args, workdir, run)
                runs.append(figures)
                print_peak(figures, args.phones, args.displays)
                print(f"    phones whose ticket was finished: {figures['phones_left']:.0f}; phones that got"
                      f" ticket.update (new protocol): {figures['phones_pushed']:.0f} of {args.phones}", flush=True)
                if errors:
                    problems = True
                    print(f"    {len(errors)} errors: " + "; ".join(errors[:5]), flush=True)
            if args.runs > 1:
                print(f"[peak] median of {args.runs} runs:")
                print_peak(_medians(runs), args.phones, args.displays)
        if not args.skip_curve:
            by_size: dict[int, list[dict[str, float]]] = {s: [] for s in sizes}
            for run in range(1, args.runs + 1):
                for size in sizes:
                    print(f"[curve] {size:,} waiting, run {run}/{args.runs}"
                          f" (load average {os.getloadavg()[0]:.1f}) …", flush=True)
                    by_size[size].append(run_curve_size(args, workdir, size, run))
            print(f"[curve] medians of {args.rounds} rounds" + (f", median of {args.runs} runs" if args.runs > 1 else "")
                  + f"; load average {os.getloadavg()[0]:.1f}")
            print_curve({s: _medians(r) for s, r in by_size.items()})
    finally:
        common.drop_database("postgres", args.pg_url, PG_DB)
        if args.keep or problems:
            print(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
