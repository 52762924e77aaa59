"""Scheduled jobs of the exam room."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from turnero.exam import taking

log = logging.getLogger("turnero.exam")


def register(scheduler: AsyncIOScheduler, app) -> None:
    """Score attempts whose time ran out even when their seat page is closed."""
    config = app.state.exam_config

    async def finish_overdue() -> None:
        try:
            finished = await taking.finish_overdue(config)
        except Exception:
            log.exception("exam: no se pudieron cerrar los exámenes vencidos")
            return
        if finished:
            log.info("exam: %d exámenes calificados al vencer el tiempo", finished)

    scheduler.add_job(finish_overdue, "interval", seconds=15, id="exam-finish-overdue",
                      max_instances=1, coalesce=True)
