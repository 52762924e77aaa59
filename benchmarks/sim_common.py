"""What the day simulators share (simulate_day.py, world_day.py): the demo office on a
fresh SQLite database, what its desks serve, the event heap of simulated time, La Paz
wall-clock times and the p90.

Import it after the script's own sys.path prelude (`from benchmarks import sim_common`):
benchmarks/ holds a queue.py that must not shadow the standard library's.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from turnero.core.auth import Principal
from turnero.core.models import Office, Role, User
from turnero.queue.models import DeskService
from turnero.settings import Settings

LA_PAZ = ZoneInfo("America/La_Paz")
OFFICE = "LPZ-PRINCIPAL"


def la_paz_at(day: date, hour: int, minute: float = 0.0) -> datetime:
    """The UTC instant of a La Paz wall-clock time (`minute` may pass 60)."""
    base = datetime(day.year, day.month, day.day, hour, 0, tzinfo=LA_PAZ) + timedelta(minutes=minute)
    return base.astimezone(timezone.utc)


def p90(values: list[float]) -> float:
    """The 90th percentile (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(0.9 * len(values)) - 1)]


class Events:
    """The simulated day's events: (time, kind, payload), in time order, ties in the
    order they were pushed."""

    def __init__(self) -> None:
        self._heap: list = []
        self._seq = 0

    def at(self, when: datetime, kind: str, payload) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, kind, payload))

    def pop(self) -> tuple[datetime, str, object]:
        when, _seq, kind, payload = heapq.heappop(self._heap)
        return when, kind, payload

    def __bool__(self) -> bool:
        return bool(self._heap)


@dataclass
class DemoOffice:
    settings: Settings
    office: Office
    actor: Principal  # the office's supervisor: opens desks, calls, finishes


@asynccontextmanager
async def demo_office(directory: Path) -> AsyncIterator[DemoOffice]:
    """A fresh SQLite database in `directory`, migrated and seeded by turnero itself
    (turnero.demo), opened for the demo's La Paz main office; closed on exit."""
    from turnero.core.db import close_db, init_db
    from turnero.demo import seed_demo
    from turnero.wiring import wire

    # The folder must exist: SQLite cannot create it, and opening a database in a
    # missing folder never returns (aiosqlite 0.22 under Tortoise waits forever).
    directory.mkdir(parents=True, exist_ok=True)
    settings = Settings(database_url=f"sqlite://{directory / 'sim.sqlite3'}", run_jobs=False)
    wire(settings)  # the domains plugged into each other, as turnero/app.py does
    await init_db(settings)
    try:
        await seed_demo()
        office = await Office.get(code=OFFICE)
        user = await User.get(username="supervisor")
        actor = Principal(user.id, user.username, Role(user.role), office.id, office.code, 0.0)
        yield DemoOffice(settings, office, actor)
    finally:
        await close_db()


async def desk_services(office: Office) -> dict[str, set[str]]:
    """Desk name -> the codes of the services it serves (any tier)."""
    serves: dict[str, set[str]] = {}
    for link in await DeskService.filter(desk__office_id=office.id).select_related("desk", "service"):
        serves.setdefault(link.desk.name, set()).add(link.service.code)
    return serves

