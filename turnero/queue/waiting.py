"""The waiting lines of the offices this instance serves, held in memory (lines.py) and
kept in step with the database, so that a ticket's place and the counts per service
never scan the line.

An office's lines are loaded on first use (one indexed read of its waiting tickets).
After that they follow the audit trail: every change of a ticket's state writes a
`ticket_event` row in the same transaction, so the events after the last one applied
name every ticket that may have moved, whichever instance moved it. Their current rows
are read (one statement, only the events since) and put in or taken out of the lines.
Applying a row is idempotent, so the events of the last LAG_SECONDS are read again on
each sync: PostgreSQL may make a lower event id visible after a higher one (two
transactions committing out of order). As a safety net each office is reloaded every
RELOAD_SECONDS in the background.

This instance's own changes mark the index stale (`changed`), so the next read syncs
first; other instances' changes show within SYNC_SECONDS, or at once after their
queue event reaches this instance over the bus.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from turnero.core.db import database_generation, db_datetime, placeholders
from turnero.queue import lines
from turnero.queue.models import Ticket, TicketStatus

log = logging.getLogger("turnero.queue")

SYNC_SECONDS = 0.05
LAG_SECONDS = 5.0
RELOAD_SECONDS = 600.0
_WAITING = TicketStatus.WAITING.value


def _connection():
    return Ticket._meta.db


class _Index:
    def __init__(self, generation: int):
        self.generation = generation
        self.offices: dict[int, lines.OfficeLines] = {}
        self.loaded_at: dict[int, float] = {}
        self.floor: int | None = None  # events after this id are read on every sync
        self.marks: deque[tuple[float, int]] = deque()  # (when, highest event id seen)
        self.high = 0
        self.last_sync = 0.0
        self.dirty = True
        self.locks: dict[int, asyncio.Lock] = {}
        self.reloading: set[int] = set()

    def lock(self) -> asyncio.Lock:
        """One sync at a time per event loop (tests run servers on other loops)."""
        key = id(asyncio.get_running_loop())
        lock = self.locks.get(key)
        if lock is None:
            lock = self.locks[key] = asyncio.Lock()
        return lock


_index = _Index(0)


def _current() -> _Index:
    global _index
    if _index.generation != database_generation():
        _index = _Index(database_generation())
    return _index


def changed() -> None:
    """A ticket changed (here, after commit, or elsewhere as the bus tells): sync before the next read."""
    _index.dirty = True


# Per office id: bumped when this instance opens, pauses, closes or moves a desk, so the
# next estimate is computed at once instead of in the background (eta_service).
_desk_versions: dict[int, int] = {}
# Per office id: bumped by every change of this instance but a plain walk-in issue
# (desks, calls, finishes), so the office's estimate is refreshed soon (eta_service).
_queue_versions: dict[int, int] = {}


def queue_changed(office_id: int) -> None:
    _queue_versions[office_id] = _queue_versions.get(office_id, 0) + 1


def queue_version(office_id: int) -> int:
    return _queue_versions.get(office_id, 0)


def desks_changed(office_id: int) -> None:
    _desk_versions[office_id] = _desk_versions.get(office_id, 0) + 1


def desk_version(office_id: int) -> int:
    return _desk_versions.get(office_id, 0)


def clear() -> None:
    global _index
    _index = _Index(database_generation())


async def office_lines(office_id: int) -> lines.OfficeLines:
    """The office's waiting lines, up to date (see module doc)."""
    index = _current()
    if index.floor is None or office_id not in index.offices:
        async with index.lock():
            if index.floor is None:
                index.high = await _max_event_id()
                index.floor = index.high
                index.marks.append((time.monotonic(), index.high))
            if office_id not in index.offices:
                index.offices[office_id] = await _load(office_id)
                index.loaded_at[office_id] = time.monotonic()
    now = time.monotonic()
    if index.dirty or now - index.last_sync >= SYNC_SECONDS:
        async with index.lock():
            if index.dirty or time.monotonic() - index.last_sync >= SYNC_SECONDS:
                await _sync(index)
    if now - index.loaded_at[office_id] > RELOAD_SECONDS and office_id not in index.reloading:
        index.reloading.add(office_id)
        asyncio.get_running_loop().create_task(_reload(index, office_id))
    return index.offices[office_id]


async def _max_event_id() -> int:
    rows = await _connection().execute_query_dict("SELECT MAX(id) AS high FROM ticket_event")
    return int(rows[0]["high"] or 0)


async def _load(office_id: int) -> lines.OfficeLines:
    rows = await _connection().execute_query_dict(
        placeholders("SELECT id, service_id, lane, arrived_at, due_at FROM ticket WHERE office_id = ? AND status = ?"),
        [office_id, _WAITING],
    )
    office = lines.OfficeLines()
    for r in rows:
        office.put(lines.entry(r["id"], r["service_id"], r["lane"], db_datetime(r["arrived_at"]),
                               db_datetime(r["due_at"])))
    return office


async def _sync(index: _Index) -> None:
    index.dirty = False
    started = time.monotonic()
    rows = await _connection().execute_query_dict(
        placeholders(
            "SELECT e.id AS event_id, t.id, t.office_id, t.service_id, t.lane, t.status, t.arrived_at, t.due_at"
            " FROM ticket_event e JOIN ticket t ON t.id = e.ticket_id WHERE e.id > ? ORDER BY e.id"
        ),
        [index.floor],
    )
    for r in rows:
        office = index.offices.get(r["office_id"])
        if office is None:
            continue
        if r["status"] == _WAITING:
            office.put(lines.entry(r["id"], r["service_id"], r["lane"], db_datetime(r["arrived_at"]),
                                   db_datetime(r["due_at"])))
        else:
            office.discard(r["id"])
        index.high = max(index.high, r["event_id"])
    index.last_sync = started
    # Move the floor up to what was seen at least LAG_SECONDS ago.
    index.marks.append((started, index.high))
    while len(index.marks) > 1 and index.marks[1][0] <= started - LAG_SECONDS:
        index.marks.popleft()
    if index.marks[0][0] <= started - LAG_SECONDS:
        index.floor = max(index.floor, index.marks[0][1])


async def _reload(index: _Index, office_id: int) -> None:
    """Read the office afresh (the safety net); changes made meanwhile are re-read from
    the floor it started at."""
    try:
        floor = index.floor
        fresh = await _load(office_id)
        async with index.lock():
            fresh.version = index.offices[office_id].version + 1
            index.offices[office_id] = fresh
            index.loaded_at[office_id] = time.monotonic()
            index.floor = min(index.floor, floor)
            index.dirty = True
    except Exception:  # noqa: BLE001 — the old lines keep answering
        log.exception("no se pudo recargar la fila de la oficina %s", office_id)
    finally:
        index.reloading.discard(office_id)
