"""A citizen's reply by SMS or WhatsApp (the inbound webhook): a cita command
(citas.py), a satisfaction score (queue/satisfaction.py) or nothing, and its record."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.db import placeholders
from turnero.notifications import citas, policy
from turnero.notifications.models import InboundMessage
from turnero.notifications.service import ReplyOutcome
from turnero.scheduler.config import SchedulerConfig
from turnero.queue.satisfaction import rate_by_phone, score_from_reply


async def handle_reply(
    *, provider_sid: str, from_address: str, body: str, config: policy.NotificationConfig,
    scheduler_config: SchedulerConfig,
) -> ReplyOutcome:
    """An SMS/WhatsApp reply. CANCELAR cancels the sender's next cita and SI confirms
    attendance, each answered by message; a lone digit 1–5 rates the sender's latest
    finished visit (queue/satisfaction.py; no answer); anything else is recorded only.
    A webhook the provider retries (same MessageSid) is handled once."""
    channel, phone = policy.split_address(from_address)
    if await InboundMessage.exists(provider_sid=provider_sid):
        return ReplyOutcome("duplicate")
    command = policy.parse_reply(body)
    score = score_from_reply(body)  # "1".."5": the answer to the satisfaction survey
    now = clock.now()
    try:
        async with in_transaction() as conn:
            outcome = ReplyOutcome("unknown_command")
            if score is not None:
                # Rated, or no finished unrated visit of this number in the last day;
                # either way no answer goes back (a thanks would cost a message).
                outcome = ReplyOutcome("rated" if await rate_by_phone(conn, phone, score) else "nothing_to_rate")
            elif command is not None:
                outcome = await citas.apply_reply(conn, command, phone, channel, provider_sid, config,
                                                  scheduler_config)
            if not await _record_inbound(conn, provider_sid, phone, channel, body, outcome, now):
                raise _DuplicateReply  # the same webhook, handled concurrently: undo this one
    except _DuplicateReply:
        return ReplyOutcome("duplicate")
    return outcome


class _DuplicateReply(Exception):
    pass


async def _record_inbound(conn, sid, phone, channel, body, outcome: ReplyOutcome, now) -> bool:
    rows = await conn.execute_query_dict(
        placeholders(
            "INSERT INTO inbound_message"
            " (provider_sid, from_number, channel, body, action, appointment_id, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (provider_sid) DO NOTHING RETURNING id"
        ),
        [sid, phone[:20], channel.value, body[:1600], outcome.action, outcome.appointment_id, now],
    )
    return bool(rows)
