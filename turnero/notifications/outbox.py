"""The outbox: the small API other domains call inside their own transactions.

    await outbox.enqueue(conn, to="+59171234567", template="cita_confirmada",
                         context={...}, dedupe_key=f"cita:{id}:confirmada",
                         send_at=..., office=office, service_code="CI-RENOV", appointment_id=id)
    await outbox.cancel_pending(conn, appointment_id=id, templates=("cita_recordatorio",))

`conn` is the caller's transaction connection (what `in_transaction()` yields), so the
message row commits or rolls back with the state change that caused it. Nothing here
talks to a provider: the dispatcher (dispatcher.py) sends due rows later.
"""

from __future__ import annotations

from datetime import datetime

from turnero.core import clock, metrics
from turnero.core.db import placeholders
from turnero.core.models import Office
from turnero.notifications.messages import render
from turnero.notifications.models import Channel, MessageStatus, OutboundMessage
from turnero.notifications.policy import NotificationConfig

def _connection(conn):
    # Inside in_transaction() the model's connection is the transaction's.
    return conn if conn is not None else OutboundMessage._meta.db


_INSERT = (
    'INSERT INTO outbound_message (dedupe_key, template, "to", channel, body, status, send_at, expires_at,'
    " attempts, next_attempt_at, office_id, ticket_id, appointment_id, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)"
    " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
)


async def enqueue(
    conn,
    config: NotificationConfig,
    *,
    to: str,
    template: str,
    context: dict,
    dedupe_key: str,
    send_at: datetime | None = None,
    expires_at: datetime | None = None,
    channel: Channel | None = None,
    office: Office | None = None,
    service_code: str | None = None,
    ticket_id: int | None = None,
    appointment_id: int | None = None,
) -> int | None:
    """Write one message to send at `send_at` (now by default) to `to` (E.164).

    The channel is `channel`, else `config`'s for the office and service. The
    body is rendered now (SMS in GSM-7). Returns the row id, or None when a message
    with this `dedupe_key` already exists (the event was already handled)."""
    now = clock.now()
    if channel is None:
        channel = config.channel_for(office.code if office else None, service_code)
    body = render(template, context, sms=channel == Channel.SMS)
    due = send_at or now
    rows = await _connection(conn).execute_query_dict(
        placeholders(_INSERT),
        [
            dedupe_key, template, to, channel.value, body, MessageStatus.PENDING.value, due, expires_at,
            due, office.id if office else None, ticket_id, appointment_id, now,
        ],
    )
    return int(rows[0]["id"]) if rows else None


async def cancel_pending(
    conn,
    *,
    appointment_id: int | None = None,
    ticket_id: int | None = None,
    templates: tuple[str, ...] | None = None,
    reason: str = "cancelado",
) -> int:
    """Cancel the messages of a cita or ticket not yet sent (optionally only some
    templates); returns how many. A message a dispatcher is sending at this instant
    is not stopped."""
    if (appointment_id is None) == (ticket_id is None):
        raise ValueError("cancel_pending needs exactly one of appointment_id, ticket_id")
    column, value = ("appointment_id", appointment_id) if appointment_id is not None else ("ticket_id", ticket_id)
    sql = (
        "UPDATE outbound_message SET status = ?, status_changed_at = ?, last_error = ?"
        f" WHERE {column} = ? AND status = ?"
    )
    params: list = [MessageStatus.CANCELLED.value, clock.now(), reason, value, MessageStatus.PENDING.value]
    if templates:
        sql += f" AND template IN ({', '.join('?' * len(templates))})"
        params.extend(templates)
    _rows, affected = await _execute_with_count(_connection(conn), placeholders(sql), params)
    return affected


async def void(
    conn, dedupe_key: str, *, template: str, to: str, reason: str, ticket_id: int | None = None,
    appointment_id: int | None = None,
) -> None:
    """Make sure the event's message is never sent: cancelled if pending, and written
    as cancelled if not written yet, so that a writer racing with this one finds the
    key taken (on PostgreSQL the unique index makes the later writer wait and then
    do nothing)."""
    now = clock.now()
    await _connection(conn).execute_query(
        placeholders(
            'INSERT INTO outbound_message (dedupe_key, template, "to", channel, body, status, send_at,'
            " attempts, next_attempt_at, ticket_id, appointment_id, created_at, status_changed_at, last_error)"
            " VALUES (?, ?, ?, ?, '', ?, ?, 0, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (dedupe_key) DO UPDATE SET status = excluded.status,"
            " status_changed_at = excluded.status_changed_at, last_error = excluded.last_error"
            " WHERE outbound_message.status = ?"
        ),
        [
            dedupe_key, template, to, Channel.SMS.value, MessageStatus.CANCELLED.value, now, now, ticket_id,
            appointment_id, now, now, reason, MessageStatus.PENDING.value,
        ],
    )


async def _execute_with_count(conn, sql: str, params: list) -> tuple[list, int]:
    affected, rows = await conn.execute_query(sql, params)
    return rows, int(affected or 0)


async def backlog(now: datetime | None = None) -> int:
    """Messages due and not sent yet: pending ones whose (next) attempt time has come
    and ones a dispatcher holds. A reminder due tomorrow is not backlog."""
    now = now or clock.now()
    rows = await OutboundMessage._meta.db.execute_query_dict(
        placeholders(
            "SELECT COUNT(*) AS n FROM outbound_message"
            " WHERE status IN (?, ?) AND next_attempt_at <= ?"
        ),
        [MessageStatus.PENDING.value, MessageStatus.SENDING.value, now],
    )
    return int(rows[0]["n"])


async def refresh_backlog_metric() -> None:
    """The `turnero_outbox_backlog` gauge, read from the database at each scrape."""
    metrics.outbox_backlog.set(await backlog())


# Every process that serves /metrics reports it (not only those running the jobs).
metrics.on_scrape(refresh_backlog_metric)
