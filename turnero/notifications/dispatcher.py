"""The dispatcher: claims due outbox rows, sends them, records what happened.

Claiming is one statement that moves rows from `pending` to `sending` with this run's
claim token and a lease. On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`,
so dispatchers in several instances never pick the same row; on SQLite the statement
runs in a write transaction, which excludes every other writer. Every result is
written only while the row is still claimed by this run, so a row is sent once.

A row whose lease ran out while `sending` (its dispatcher died mid-send) is taken
again: a crash between the provider accepting a message and the row being marked is
the one case that can send a message twice, which beats losing a reminder.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field

from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.db import is_postgres, placeholders
from turnero.notifications.gateways import Gateway, Outgoing, SendError
from turnero.notifications.models import Channel, MessageStatus, OutboundMessage
from turnero.notifications.outbox import current_config
from turnero.notifications.policy import NotificationConfig, backoff

log = logging.getLogger("turnero.notifications")

_HOST = f"{socket.gethostname()}:{os.getpid()}"

_DUE = (
    "(status = 'pending' AND next_attempt_at <= ?)"
    " OR (status = 'sending' AND next_attempt_at <= ? AND claimed_until < ?)"
)


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    expired: int = 0
    errors: list[str] = field(default_factory=list)


async def _expire(now) -> int:
    """Cancel due rows whose time to be useful has passed (never sent late)."""
    sql = (
        "UPDATE outbound_message SET status = 'cancelled', status_changed_at = ?, last_error = 'vencido'"
        " WHERE id IN (SELECT id FROM outbound_message WHERE status = 'pending' AND next_attempt_at <= ?"
        " AND expires_at IS NOT NULL AND expires_at <= ?{lock})"
    )
    conn = OutboundMessage._meta.db
    if is_postgres():
        affected, _ = await conn.execute_query(
            placeholders(sql.format(lock=" FOR UPDATE SKIP LOCKED")), [now, now, now]
        )
    else:
        async with in_transaction() as tx:
            affected, _ = await tx.execute_query(sql.format(lock=""), [now, now, now])
    return int(affected or 0)


async def _claim(token: str, now, config: NotificationConfig) -> list[dict]:
    lease_until = now + config.lease
    pick = f"SELECT id FROM outbound_message WHERE {_DUE} ORDER BY next_attempt_at, id LIMIT ?"
    params = [now, now, now, config.batch_size]
    returning = 'RETURNING m.id, m."to", m.channel, m.body, m.attempts'
    if is_postgres():
        # The picked rows in a CTE (evaluated once), locked; rows another dispatcher
        # holds are skipped, not waited for.
        sql = placeholders(
            f"WITH picked AS ({pick} FOR UPDATE SKIP LOCKED)"
            " UPDATE outbound_message AS m SET status = 'sending', claimed_by = ?, claimed_until = ?,"
            f" attempts = m.attempts + 1 FROM picked WHERE m.id = picked.id {returning}"
        )
        return await OutboundMessage._meta.db.execute_query_dict(sql, [*params, token, lease_until])
    sql = (
        "UPDATE outbound_message SET status = 'sending', claimed_by = ?, claimed_until = ?,"
        f" attempts = attempts + 1 WHERE id IN ({pick}) RETURNING id, \"to\", channel, body, attempts"
    )
    async with in_transaction() as tx:
        return await tx.execute_query_dict(sql, [token, lease_until, *params])


async def _finish(row_id: int, token: str, values: dict) -> bool:
    """Write a claimed row's outcome, only if this run still holds the claim."""
    sets = ", ".join(f"{column} = ?" for column in values)
    sql = placeholders(
        f"UPDATE outbound_message SET {sets}, claimed_by = NULL, claimed_until = NULL"
        " WHERE id = ? AND status = 'sending' AND claimed_by = ?"
    )
    affected, _ = await OutboundMessage._meta.db.execute_query(sql, [*values.values(), row_id, token])
    return bool(affected)


async def _send_one(gateway: Gateway, row: dict, token: str, config: NotificationConfig, report: DispatchReport):
    message = Outgoing(id=int(row["id"]), to=row["to"], channel=Channel(row["channel"]), body=row["body"])
    try:
        sid = await gateway.send(message)
    except SendError as exc:
        now = clock.now()
        attempts = int(row["attempts"])
        if exc.retryable and attempts < config.max_attempts:
            wait = backoff(attempts, config.backoff_base, config.backoff_cap)
            await _finish(message.id, token, {
                "status": MessageStatus.PENDING.value, "next_attempt_at": now + wait, "last_error": str(exc)[:500],
            })
            report.retrying += 1
        else:
            await _finish(message.id, token, {
                "status": MessageStatus.FAILED.value, "status_changed_at": now, "last_error": str(exc)[:500],
            })
            report.failed += 1
            log.warning("mensaje %s no enviado: %s", message.id, exc)
        report.errors.append(str(exc))
        return
    except Exception as exc:  # a bug or an unexpected library error: retry later, keep going
        log.exception("error inesperado al enviar el mensaje %s", message.id)
        await _finish(message.id, token, {
            "status": MessageStatus.PENDING.value,
            "next_attempt_at": clock.now() + backoff(int(row["attempts"]), config.backoff_base, config.backoff_cap),
            "last_error": repr(exc)[:500],
        })
        report.retrying += 1
        return
    now = clock.now()
    await _finish(message.id, token, {
        "status": MessageStatus.SENT.value, "provider_sid": sid, "sent_at": now, "status_changed_at": now,
        "last_error": None,
    })
    report.sent += 1


async def dispatch_due(
    gateway: Gateway, config: NotificationConfig | None = None, *, max_batches: int = 50
) -> DispatchReport:
    """Send every due message (up to `max_batches` claims of `config.batch_size`).
    Safe to run in several processes at once; each row is sent by one of them."""
    config = config or current_config()
    report = DispatchReport()
    report.expired = await _expire(clock.now())
    semaphore = asyncio.Semaphore(config.concurrency)

    async def bounded(row: dict, token: str) -> None:
        async with semaphore:
            await _send_one(gateway, row, token, config, report)

    for _ in range(max_batches):
        token = f"{_HOST}:{uuid.uuid4().hex[:12]}"
        rows = await _claim(token, clock.now(), config)
        report.claimed += len(rows)
        if rows:
            await asyncio.gather(*(bounded(row, token) for row in rows))
        if len(rows) < config.batch_size:
            break
    return report
