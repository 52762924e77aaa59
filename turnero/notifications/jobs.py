"""Scheduled jobs of the notifications domain: the outbox dispatcher and the
"your turn is near" scan of waiting walk-in tickets."""

from __future__ import annotations

import asyncio
import logging

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from turnero.notifications.dispatcher import dispatch_due
from turnero.notifications.gateways import Gateway, build_gateway
from turnero.notifications.policy import NotificationConfig
from turnero.notifications.service import notify_near_turns
from turnero.notifications.surveys import queue_surveys

log = logging.getLogger("turnero.jobs")


async def run_dispatcher(gateway: Gateway, config: NotificationConfig) -> None:
    report = await dispatch_due(gateway, config)
    if report.claimed or report.expired:
        log.info(
            "mensajes: %d enviados (%d hallados ya enviados), %d por reintentar, %d fallidos, %d vencidos",
            report.sent, report.reconciled, report.retrying, report.failed, report.expired,
        )


async def run_near_turns(queue_config, config: NotificationConfig) -> None:
    written = await notify_near_turns(queue_config, config)
    if written:
        log.info("avisos de turno cercano: %d", written)


async def run_surveys(config: NotificationConfig) -> None:
    written = await queue_surveys(config)
    if written:
        log.info("encuestas de satisfacción: %d", written)


_closing: set[asyncio.Task] = set()  # (a task nobody references may be collected unfinished)


def _close_later(gateway: Gateway) -> None:
    """Close the gateway's HTTP session when the app stops (the scheduler's shutdown
    runs in the lifespan, on the event loop)."""
    try:
        task = asyncio.get_running_loop().create_task(gateway.aclose())
    except RuntimeError:  # no loop running any more: nothing left to close it with
        return
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def register(scheduler: AsyncIOScheduler, app) -> None:
    """Add this domain's jobs; `app.state` holds settings and configs."""
    settings = app.state.settings
    config = app.state.notification_config
    gateway = build_gateway(settings)
    app.state.notification_gateway = gateway
    # Each instance may run these: the dispatcher claims rows (SKIP LOCKED on
    # PostgreSQL) and a near-turn message has a unique event key, so nothing doubles.
    scheduler.add_job(
        run_dispatcher, "interval", seconds=max(1, settings.notify_interval_seconds), args=[gateway, config],
        id="notifications.dispatch", max_instances=1, coalesce=True, replace_existing=True,
    )
    scheduler.add_listener(lambda _event: _close_later(gateway), EVENT_SCHEDULER_SHUTDOWN)
    scheduler.add_job(
        run_near_turns, "interval", seconds=10, args=[app.state.queue_config, config],
        id="notifications.near_turns", max_instances=1, coalesce=True, replace_existing=True,
    )
    if settings.satisfaction_sms:
        scheduler.add_job(
            run_surveys, "interval", seconds=30, args=[config],
            id="notifications.surveys", max_instances=1, coalesce=True, replace_existing=True,
        )
