"""The dispatcher: claims due outbox rows, sends them, records what happened.

Claiming is one statement that moves rows from `pending` to `sending` with a claim
token and a lease. On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so
dispatchers in several instances never pick the same row; on SQLite the statement runs
in a write transaction, which excludes every other writer. Every result is written only
while the row still carries this claim's token (a fence: a stale sender records nothing).

A message is sent once also when a send hangs or its dispatcher dies: every provider
request is cut at `send_timeout`, a lease lasts at least three timeouts and is renewed
while the row is in flight, so no other dispatcher takes a row being sent. An attempt
whose outcome is unknown (a timeout, a dropped connection, a crash: `unsure_since`)
makes the next claim ask the provider first (`find_sent`): if the message is there it
is recorded with that sid, never sent again. Sends run N at a time, each on its own:
a slow one holds up no other, and new rows are claimed while it hangs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.db import is_postgres, placeholders
from turnero.notifications.gateways import Gateway, Outgoing, SendError
from turnero.notifications.models import Channel, MessageStatus, OutboundMessage
from turnero.notifications.policy import NotificationConfig, backoff, recheck_since, renew_every

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
    reconciled: int = 0  # found at the provider after an unknown outcome, not sent again
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


# SET expressions read the row as it was: a row taken from a dead claim (`sending`) or
# after an unsure attempt is rechecked from the first unsure attempt's time.
_CLAIM_SET = (
    "status = 'sending', claimed_by = ?, claimed_until = ?, attempts = {m}attempts + 1,"
    " recheck_from = CASE WHEN {m}status = 'sending' THEN COALESCE({m}unsure_since, {m}send_at)"
    " ELSE {m}unsure_since END, unsure_since = COALESCE({m}unsure_since, ?)"
)


async def _claim(token: str, now, config: NotificationConfig, limit: int) -> list[dict]:
    lease_until = now + config.lease
    pick = f"SELECT id FROM outbound_message WHERE {_DUE} ORDER BY next_attempt_at, id LIMIT ?"
    params = [now, now, now, limit]
    if is_postgres():
        # The picked rows in a CTE (evaluated once), locked; rows another dispatcher
        # holds are skipped, not waited for.
        sql = placeholders(
            f"WITH picked AS ({pick} FOR UPDATE SKIP LOCKED)"
            f" UPDATE outbound_message AS m SET {_CLAIM_SET.format(m='m.')}"
            ' FROM picked WHERE m.id = picked.id RETURNING m.id, m."to", m.channel, m.body, m.attempts,'
            " m.recheck_from"
        )
        return await OutboundMessage._meta.db.execute_query_dict(sql, [*params, token, lease_until, now])
    sql = (
        f"UPDATE outbound_message SET {_CLAIM_SET.format(m='')} WHERE id IN ({pick})"
        ' RETURNING id, "to", channel, body, attempts, recheck_from'
    )
    async with in_transaction() as tx:
        return await tx.execute_query_dict(sql, [token, lease_until, now, *params])


async def _renew(tokens: dict[str, int], config: NotificationConfig) -> None:
    """Extend the leases of this run's rows still in flight, every third of a lease."""
    while True:
        await asyncio.sleep(renew_every(config.lease))
        live = [token for token, count in tokens.items() if count > 0]
        if not live:
            continue
        try:
            await OutboundMessage._meta.db.execute_query(
                placeholders(
                    f"UPDATE outbound_message SET claimed_until = ? WHERE status = 'sending'"
                    f" AND claimed_by IN ({', '.join('?' * len(live))})"
                ),
                [clock.now() + config.lease, *live],
            )
        except Exception:  # the database away for a moment: the next turn tries again
            log.exception("no se pudo renovar la reserva de mensajes en envío")


async def _finish(row_id: int, token: str, values: dict) -> bool:
    """Write a claimed row's outcome, only if this claim still holds it (the fence)."""
    sets = ", ".join(f"{column} = ?" for column in values)
    sql = placeholders(
        f"UPDATE outbound_message SET {sets}, claimed_by = NULL, claimed_until = NULL, recheck_from = NULL"
        " WHERE id = ? AND status = 'sending' AND claimed_by = ?"
    )
    affected, _ = await OutboundMessage._meta.db.execute_query(sql, [*values.values(), row_id, token])
    if not affected:
        log.warning("mensaje %s: la reserva ya no era de este envío; resultado no escrito", row_id)
    return bool(affected)


def _as_datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


async def _not_recorded(sids: list[str]) -> str | None:
    """The first of `sids` no row has recorded yet (one on another row is its message)."""
    if not sids:
        return None
    taken = set(await OutboundMessage.filter(provider_sid__in=sids).values_list("provider_sid", flat=True))
    return next((sid for sid in sids if sid not in taken), None)


async def _sent(message: Outgoing, token: str, sid: str, report: DispatchReport, *, reconciled=False) -> None:
    now = clock.now()
    if await _finish(message.id, token, {
        "status": MessageStatus.SENT.value, "provider_sid": sid, "sent_at": now, "status_changed_at": now,
        "last_error": None, "unsure_since": None,
    }):
        report.sent += 1
        report.reconciled += reconciled


async def _failed(message: Outgoing, row: dict, token: str, config: NotificationConfig, report: DispatchReport,
                  exc: Exception, *, retryable: bool, unsure: bool) -> None:
    now = clock.now()
    attempts = int(row["attempts"])
    # An unsure attempt keeps `unsure_since` (the next claim asks the provider first);
    # an answered one settles it: nothing was accepted since (the recheck found nothing).
    values: dict = {} if unsure else {"unsure_since": None}
    if retryable and attempts < config.max_attempts:
        values.update(status=MessageStatus.PENDING.value, next_attempt_at=now + backoff(
            attempts, config.backoff_base, config.backoff_cap), last_error=str(exc)[:500])
        report.retrying += 1
    else:
        values.update(status=MessageStatus.FAILED.value, status_changed_at=now, last_error=str(exc)[:500])
        report.failed += 1
        log.warning("mensaje %s no enviado: %s", message.id, exc)
    await _finish(message.id, token, values)
    report.errors.append(str(exc))


async def _send_one(gateway: Gateway, row: dict, token: str, config: NotificationConfig, report: DispatchReport):
    message = Outgoing(id=int(row["id"]), to=row["to"], channel=Channel(row["channel"]), body=row["body"])
    recheck = _as_datetime(row.get("recheck_from"))
    find_sent = getattr(gateway, "find_sent", None)
    try:
        if recheck is not None and find_sent is not None:
            # An earlier attempt may have gone out: ask the provider before sending again.
            async with asyncio.timeout(3 * (config.send_timeout + 2)):
                found = await _not_recorded(await find_sent(message, recheck_since(recheck)))
            if found is not None:
                log.info("mensaje %s ya enviado (%s): no se reenvía", message.id, found)
                await _sent(message, token, found, report, reconciled=True)
                return
        async with asyncio.timeout(config.send_timeout + 2):  # a guard over the gateway's own timeout
            sid = await gateway.send(message)
    except SendError as exc:
        await _failed(message, row, token, config, report, exc, retryable=exc.retryable, unsure=exc.unsure)
        return
    except TimeoutError as exc:
        await _failed(message, row, token, config, report, SendError(f"sin respuesta: {exc!r}", retryable=True),
                      retryable=True, unsure=True)
        return
    except Exception as exc:  # a bug or an unexpected library error: retry later, keep going
        log.exception("error inesperado al enviar el mensaje %s", message.id)
        await _failed(message, row, token, config, report, exc, retryable=True, unsure=True)
        return
    await _sent(message, token, sid, report)


async def dispatch_due(
    gateway: Gateway, config: NotificationConfig, *, max_batches: int = 50, poll: float = 0.25
) -> DispatchReport:
    """Send every due message (up to `max_batches` × `config.batch_size`), at most
    `config.concurrency` at once; returns when none is due and none in flight. While a
    send is in flight, rows that come due are claimed every `poll` seconds.
    Safe to run in several processes at once; each row is sent by one of them."""
    report = DispatchReport()
    report.expired = await _expire(clock.now())
    semaphore = asyncio.Semaphore(config.concurrency)
    tokens: dict[str, int] = {}  # claim token -> rows of it still in flight
    in_flight: set[asyncio.Task] = set()
    budget = max_batches * config.batch_size

    room = asyncio.Event()  # set when a send ends with fewer than `concurrency` left

    async def bounded(row: dict, token: str) -> None:
        try:
            async with semaphore:
                await _send_one(gateway, row, token, config, report)
        finally:
            tokens[token] -= 1
            if not tokens[token]:
                del tokens[token]
            if len(in_flight) - 1 < config.concurrency:  # (this task leaves the set when it ends)
                room.set()

    renewer = asyncio.create_task(_renew(tokens, config))
    try:
        while True:
            exhausted = True
            room.clear()  # (before the claim: a send ending during it is not missed)
            if len(in_flight) < config.concurrency and budget > 0:
                want = min(config.batch_size, budget)
                token = f"{_HOST}:{uuid.uuid4().hex[:12]}"
                rows = await _claim(token, clock.now(), config, want)
                budget -= len(rows)
                report.claimed += len(rows)
                if rows:
                    tokens[token] = len(rows)
                    for row in rows:
                        task = asyncio.create_task(bounded(row, token))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                exhausted = len(rows) < want
            if not in_flight:
                if exhausted or budget <= 0:
                    break
                continue
            # Wake when there is room to claim more or, while a send hangs, every `poll`
            # to claim what came due meanwhile.
            try:
                await asyncio.wait_for(room.wait(), poll)
            except TimeoutError:
                pass
            await asyncio.sleep(0)  # let the ended tasks leave `in_flight`
    finally:
        renewer.cancel()
        await asyncio.gather(renewer, return_exceptions=True)
        if in_flight:  # cancelled from outside: the leases lapse and the rows are rechecked
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
    return report
