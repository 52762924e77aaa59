"""Scheduled queue jobs: the day-close sweep, and automatic desk balancing."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from turnero.core.errors import ApiError
from turnero.core.models import Office
from turnero.queue import desk_balancing
from turnero.queue.config import QueueConfig
from turnero.queue.day_close import close_all_days

log = logging.getLogger("turnero.jobs")


async def sweep_day_close(config: QueueConfig) -> None:
    cancelled = await close_all_days(config)
    if cancelled:
        log.info("cierre del día: %d turnos en espera cancelados", cancelled)


async def balance_offices(config: QueueConfig) -> int:
    """One automatic balancing step for every office that has it on; the moves made."""
    moves = 0
    for office in await Office.filter(active=True, auto_balance_minutes__isnull=False):
        try:
            moves += await desk_balancing.auto_balance(office, config.policy) is not None
        except ApiError as exc:  # e.g. the desk closed meanwhile: the next run looks again
            log.info("balanceo automático en %s omitido: %s", office.code, exc.message)
        except Exception:
            log.exception("balanceo automático en %s falló", office.code)
    return moves


def register(scheduler: AsyncIOScheduler, app) -> None:
    config: QueueConfig = app.state.queue_config
    # Idempotent (it only touches tickets still waiting), so running it on several
    # instances at once cancels each ticket once: rows are locked and re-checked.
    scheduler.add_job(
        sweep_day_close, "interval", minutes=5, args=[config], id="queue.day_close",
        max_instances=1, coalesce=True, replace_existing=True,
    )
    # Offices with automatic balancing: a desk moves at most once per cooldown
    # (desk_balancing.AUTO_BALANCE_COOLDOWN), whichever instance gets there first.
    scheduler.add_job(
        balance_offices, "interval", minutes=1, args=[config], id="queue.auto_balance",
        max_instances=1, coalesce=True, replace_existing=True,
    )
