"""Scheduled jobs of the scheduler domain: slots ahead, no-shows, finished citas,
expired idempotency keys. Each is idempotent and safe on several instances at once
(slot inserts skip existing rows; sweeps are conditional UPDATEs)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from turnero.scheduler.config import SchedulerConfig, config_of
from turnero.scheduler.rules import materialise_all
from turnero.scheduler.sweeps import close_finished, mark_no_shows, purge_idempotency_keys

log = logging.getLogger("turnero.jobs")


async def materialise_slots(config: SchedulerConfig) -> None:
    created = await materialise_all(config)
    if created:
        log.info("citas: %d horarios nuevos", created)


async def sweep_appointments(config: SchedulerConfig) -> None:
    no_shows = await mark_no_shows(config)
    done = await close_finished()
    await purge_idempotency_keys()
    if no_shows or done:
        log.info("citas: %d ausentes, %d concluidas", no_shows, done)


def register(scheduler: AsyncIOScheduler, app) -> None:
    """Add this domain's jobs; `app.state` holds settings and configs."""
    config = config_of(app)
    # At start (so a fresh instance has its window at once), then hourly: the day that
    # opens at the release time already has its slots.
    scheduler.add_job(
        materialise_slots, "interval", hours=1, args=[config], id="citas.materialise",
        next_run_time=datetime.now(timezone.utc), max_instances=1, coalesce=True, replace_existing=True,
    )
    scheduler.add_job(
        sweep_appointments, "interval", minutes=1, args=[config], id="citas.sweep",
        max_instances=1, coalesce=True, replace_existing=True,
    )
