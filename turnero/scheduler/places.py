"""What this process knows about slots' places: in a booking storm most attempts ask
for a slot that is already full, and refusing them should not cost a database round
trip each.

Per slot this process has met it keeps the slot's identity (id, start, end: fixed once
made) and, for FRESH_SECONDS after the database said so, `capacity` and `free`, an
upper bound of the places left: from a read of the row, from the booking UPDATE's
RETURNING, or from that UPDATE refusing (then fewer than the places asked for).

- A booking for more places than a fresh `free` is refused (409 slot_full) without the
  database. Any other booking is decided by the conditional UPDATE as always, so this
  knowledge can never let a booking in: no overbooking, whatever it holds.
- It can refuse one that the database would take only if places were freed after the
  answer it came from and this process has not heard of it yet. Places are freed by a
  cancellation, a reschedule, a closure, a capacity or seat change; every release of
  places goes through `release_places` (below), which
  * forgets the slot here at once (and the changes made by this package forget it again
    after their commit), and
  * on PostgreSQL sends `NOTIFY turnero_places` in its transaction: delivered on commit
    to the listener of every process (every worker, every instance), which forgets the
    slot — the stale window is the notification's delivery, milliseconds;
  * otherwise (SQLite with several processes, the listener reconnecting, a capacity
    raised by SQL that does not come through here) the knowledge expires by itself:
    FRESH_SECONDS after the database's answer, at most.
- An answer asked for before something was forgotten is not kept as fresh (`epoch`):
  a read that crossed a cancellation's commit cannot bring a "full" back.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime

from turnero.core.auth import Principal
from turnero.core.db import database_generation, db_datetime, is_postgres, json_text, placeholders
from turnero.core.errors import ApiError, conflict

log = logging.getLogger("turnero.citas")

# How long an answer of the database about a slot's places is trusted when nothing said
# it changed (settings.places_fresh_seconds, set by turnero/wiring.py; 0: every attempt
# asks the database).
FRESH_SECONDS = 1.0


def set_fresh_seconds(seconds: float) -> None:
    global FRESH_SECONDS
    FRESH_SECONDS = max(0.0, seconds)


CHANNEL = "turnero_places"
ALL = "*"  # the payload that forgets every slot (a capacity change)
MAX_SLOTS = 200_000  # slots remembered per process before starting again


@dataclass(slots=True, eq=False)
class KnownSlot:
    id: int
    start: datetime
    end: datetime
    capacity: int = 0
    free: int = 0
    seen: float = -math.inf  # time.monotonic() of the answer `capacity` and `free` come from

    def fresh(self, now: float) -> bool:
        return now - self.seen < FRESH_SECONDS


class Places:
    def __init__(self) -> None:
        self._by_start: dict[tuple[int, int, datetime], KnownSlot] = {}
        self._by_id: dict[int, KnownSlot] = {}
        self._generation = -1
        self.epoch = 0  # counts forgettings: an answer asked for before one is not fresh

    def _check_generation(self) -> None:
        generation = database_generation()
        if generation != self._generation:  # another database (tests): nothing carries over
            self._generation = generation
            self._by_start.clear()
            self._by_id.clear()
            self.epoch += 1

    def get(self, office_id: int, service_id: int, start: datetime) -> KnownSlot | None:
        self._check_generation()
        return self._by_start.get((office_id, service_id, start))

    def learn(self, office_id: int, service_id: int, row: dict, asked_at: int) -> KnownSlot:
        """The slot as read from its row (id, start, end, capacity, booked), asked for
        when `epoch` was `asked_at`."""
        self._check_generation()
        known = self._by_id.get(row["id"])
        if known is None:
            if len(self._by_id) >= MAX_SLOTS:
                self._by_start.clear()
                self._by_id.clear()
            known = KnownSlot(row["id"], db_datetime(row["start"]), db_datetime(row["end"]))
            self._by_id[known.id] = known
            self._by_start[(office_id, service_id, known.start)] = known
        known.capacity = row["capacity"]
        self._answer(known, row["capacity"] - row["booked"], asked_at)
        return known

    def taken(self, known: KnownSlot, capacity: int, booked: int, asked_at: int) -> None:
        """The booking UPDATE took places and returned the row's new counters."""
        known.capacity = capacity
        self._answer(known, capacity - booked, asked_at)

    def refused(self, known: KnownSlot, places: int, asked_at: int) -> None:
        """The booking UPDATE found fewer than `places` free."""
        now = time.monotonic()
        bound = places - 1 if not known.fresh(now) else min(known.free, places - 1)
        self._answer(known, bound, asked_at, now)

    def _answer(self, known: KnownSlot, free: int, asked_at: int, now: float | None = None) -> None:
        """`free` holds the latest answer (the request that asked goes by it, as it would
        by any read); it is kept as fresh only if nothing was freed since it was asked."""
        known.free = max(0, free)
        if asked_at != self.epoch:
            known.seen = -math.inf
        else:
            known.seen = time.monotonic() if now is None else now

    def forget(self, slot_ids) -> None:
        """Places of these slots were (or are being) freed: ask the database next time."""
        self.epoch += 1
        for slot_id in slot_ids:
            known = self._by_id.get(slot_id)
            if known is not None:
                known.seen = -math.inf

    def forget_all(self) -> None:
        self.epoch += 1
        for known in self._by_id.values():
            known.seen = -math.inf


known = Places()


# ---------------------------------------------------------------- places in the database (booking: booking.py)


async def take_places(conn, slot_id: int, places_: int) -> tuple[int, int]:
    """Take places of a slot in the caller's transaction: (capacity, booked) after it,
    or 409 slot_full when fewer are free (nothing changed)."""
    rows = await conn.execute_query_dict(
        placeholders(
            "UPDATE slot SET booked = booked + ? WHERE id = ? AND booked + ? <= capacity RETURNING capacity, booked"
        ),
        [places_, slot_id, places_],
    )
    if not rows:
        raise _slot_full()
    return rows[0]["capacity"], rows[0]["booked"]


def _slot_full() -> ApiError:
    return conflict("slot_full", "Ese horario ya no tiene cupos; elija otro.")


async def release_places(conn, slot_id: int, places_: int) -> None:
    """Give places of a slot back in the caller's transaction. Every process forgets
    what it knew of the slot's places (above): this one now (and the callers here
    again after their commit), the others through NOTIFY on PostgreSQL, delivered with
    the commit."""
    known.forget((slot_id,))
    notify = f", pg_notify('{CHANNEL}', id::text) AS notified" if is_postgres() else ""
    await conn.execute_query_dict(
        placeholders(f"UPDATE slot SET booked = booked - ? WHERE id = ? AND booked >= ? RETURNING booked{notify}"),
        [places_, slot_id, places_],
    )


async def places_changed(conn) -> None:
    """Capacities changed, in the caller's transaction (a rule, a closure; any code that
    raises a slot's capacity by its own SQL should call it too): every process forgets
    every slot's places, this one now (the callers here again after their commit), the
    others on the commit (PostgreSQL NOTIFY)."""
    known.forget_all()
    if is_postgres():
        await conn.execute_query_dict(f"SELECT pg_notify('{CHANNEL}', '{ALL}') AS notified")


async def record_event(conn, appointment_id: int, kind: str, at: datetime, actor: Principal | None, data: dict | None = None) -> None:
    await conn.execute_query_dict(
        placeholders("INSERT INTO appointment_event (appointment_id, kind, at, user_id, data) VALUES (?, ?, ?, ?, ?)"),
        [appointment_id, kind, at, actor.user_id if actor else None, json_text(data or {})],
    )


# ---------------------------------------------------------------- the listener


class Listener:
    """One PostgreSQL connection per process that LISTENs on CHANNEL and forgets the
    slots named there; reconnects after a failure (forgetting everything, since it may
    have missed notifications; meanwhile knowledge still expires by itself)."""

    RETRY_SECONDS = 1.0

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None
        self._conn = None
        self._stopping = False
        self.listening = asyncio.Event()

    def start(self, connect_kwargs: dict) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(connect_kwargs), name="places-listener")

    async def _run(self, connect_kwargs: dict) -> None:
        import asyncpg

        while not self._stopping:
            lost = asyncio.Event()
            try:
                self._conn = await asyncpg.connect(**connect_kwargs)
                self._conn.add_termination_listener(lambda _conn: lost.set())
                await self._conn.add_listener(CHANNEL, _on_notify)
                known.forget_all()
                self.listening.set()
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away: try again, knowledge expires meanwhile
                log.warning("places listener: %s", exc)
            finally:
                self.listening.clear()
                known.forget_all()
                await self._close_conn()
            if not self._stopping:
                await asyncio.sleep(self.RETRY_SECONDS)

    async def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:
                conn.terminate()

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        await self._close_conn()


def _on_notify(_conn, _pid, _channel, payload: str) -> None:
    if payload == ALL:
        known.forget_all()
    else:
        try:
            known.forget([int(p) for p in payload.split(",")])
        except ValueError:
            known.forget_all()


async def listen() -> Listener | None:
    """Listen for freed places when the database is PostgreSQL: the app's lifespan,
    after init_db; several workers and instances then forget a freed slot together.
    Returns the listener to pass to `unlisten` at shutdown (None on SQLite)."""
    from tortoise import connections

    if not is_postgres():
        return None
    client = next(iter(connections.all()))
    kwargs = {"host": client.host, "port": client.port, "user": client.user, "password": client.password,
              "database": client.database}
    for key in ("ssl", "server_settings"):
        if getattr(client, "extra", {}).get(key) is not None:
            kwargs[key] = client.extra[key]
    listener = Listener()
    listener.start(kwargs)
    try:  # a moment for the first connection, so that the first storm already has it
        await asyncio.wait_for(listener.listening.wait(), 5)
    except asyncio.TimeoutError:
        log.warning("places listener: not connected yet; knowledge of places expires after %.1f s", FRESH_SECONDS)
    return listener


async def unlisten(listener: Listener | None) -> None:
    if listener is not None:
        await listener.stop()
