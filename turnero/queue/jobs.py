"""Scheduled queue jobs: the day-close sweep."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from turnero.queue.service import QueueConfig, close_all_days

log = logging.getLogger("turnero.jobs")


async def sweep_day_close(config: QueueConfig) -> None:
    cancelled = await close_all_days(config)
    if cancelled:
        log.info("cierre del día: %d turnos en espera cancelados", cancelled)


def register(scheduler: AsyncIOScheduler, app) -> None:
    config: QueueConfig = app.state.queue_config
    # Idempotent (it only touches tickets still waiting), so running it on several
    # instances at once cancels each ticket once: rows are locked and re-checked.
    scheduler.add_job(
        sweep_day_close, "interval", minutes=5, args=[config], id="queue.day_close",
        max_instances=1, coalesce=True, replace_existing=True,
    )
