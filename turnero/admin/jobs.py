"""Scheduled jobs of the administration: retention (admin/retention.py), once a day."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from turnero.admin.retention import RetentionConfig, run_retention

log = logging.getLogger("turnero.jobs")


async def run_retention_job(config: RetentionConfig) -> None:
    await run_retention(config)


def register(scheduler: AsyncIOScheduler, app) -> None:
    settings = app.state.settings
    config = RetentionConfig.from_settings(settings)
    if not config.enabled:
        log.info("retención desactivada (TURNERO_RETENTION_DAYS=0): el detalle se conserva sin límite")
        return
    # Every instance schedules it; the lease lets one run it (the others find it held).
    # At night in the offices' time (07:00 UTC is 03:00 in La Paz), spread over minutes.
    scheduler.add_job(
        run_retention_job, "cron", hour=settings.retention_hour_utc, minute=0, jitter=600, args=[config],
        id="admin.retention", max_instances=1, coalesce=True, replace_existing=True, misfire_grace_time=3600,
    )
