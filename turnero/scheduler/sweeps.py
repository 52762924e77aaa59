"""Citas: the sweeps the scheduled jobs run (jobs.py) — no-shows, finished citas,
expired idempotency keys."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.db import placeholders
from turnero.scheduler import policy
from turnero.scheduler.config import SchedulerConfig
from turnero.scheduler.models import AppointmentStatus, IdempotencyKey

IDEMPOTENCY_TTL = timedelta(hours=24)

# ---------------------------------------------------------------- sweeps (jobs)


async def mark_no_shows(config: SchedulerConfig, now: datetime | None = None) -> int:
    """Booked citas whose check-in window and grace have passed become no-shows, each
    with its event. Safe on several instances at once: the conditional UPDATE moves a
    cita once, and only the rows it returned get an event."""
    now = now or clock.now()
    cutoff = policy.no_show_cutoff(now, config.checkin)
    return await _sweep(AppointmentStatus.BOOKED, AppointmentStatus.NO_SHOW, "no_show", cutoff, now)


async def close_finished(now: datetime | None = None) -> int:
    """Checked-in citas of past days are done (the visit was served or abandoned in
    the queue), so the document may book that service again."""
    now = now or clock.now()
    return await _sweep(AppointmentStatus.CHECKED_IN, AppointmentStatus.DONE, "done", now - timedelta(hours=12), now)


async def _sweep(source: AppointmentStatus, target: AppointmentStatus, kind: str, before: datetime, now: datetime) -> int:
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            placeholders("UPDATE appointment SET status = ? WHERE status = ? AND start < ? RETURNING id"),
            # (UTC: SQLite compares the stored ISO text)
            [target.value, source.value, before.astimezone(timezone.utc)],
        )
        if rows:
            marks = ", ".join(["(?, ?, ?, NULL, ?)"] * len(rows))
            params = []
            for row in rows:
                params += [row["id"], kind, now.astimezone(timezone.utc), "{}"]
            await conn.execute_query_dict(
                placeholders(f"INSERT INTO appointment_event (appointment_id, kind, at, user_id, data) VALUES {marks}"),
                params,
            )
            # outbox: a no-show could send "perdió su cita" here.
    return len(rows)


async def purge_idempotency_keys(now: datetime | None = None) -> int:
    now = now or clock.now()
    # (UTC: SQLite compares the stored ISO text)
    return await IdempotencyKey.filter(created_at__lt=(now - IDEMPOTENCY_TTL).astimezone(timezone.utc)).delete()
