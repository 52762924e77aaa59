"""Retention of the outbox (admin/retention.py drives it): messages whose story is over
— sent, delivered, undelivered, finally failed or cancelled — and whose last attempt
was before a cutoff are deleted in batches. A message still pending or being sent is
never taken, however old. Replies received (inbound_message) are kept."""

from __future__ import annotations

from datetime import datetime, timezone

from turnero.core.db import is_postgres, placeholders
from turnero.notifications.models import MessageStatus, OutboundMessage

OVER = tuple(s.value for s in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED,
                               MessageStatus.FAILED, MessageStatus.CANCELLED))
ACTIVE = (MessageStatus.PENDING.value, MessageStatus.SENDING.value)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)  # constants of this module, never input


# next_attempt_at: the time of the last attempt (or when it was due), the outbox's
# indexed time; created_at too, so a message written long before it went out is kept.
_OLD = f"status IN ({_in(OVER)}) AND next_attempt_at < ? AND created_at < ?"


async def take_over_messages(before: datetime, limit: int) -> int:
    """Delete up to `limit` finished messages older than `before`; how many went."""
    before = before.astimezone(timezone.utc)
    # Rows a dispatcher holds are skipped, not waited for (though a finished row is
    # never claimed, a delivery callback may be updating it).
    lock = " FOR UPDATE SKIP LOCKED" if is_postgres() else ""
    db = OutboundMessage._meta.db  # the transaction's connection inside in_transaction()
    pick = f"SELECT id FROM outbound_message WHERE {_OLD} LIMIT ?{lock}"  # (any order: all go)
    ids = [r["id"] for r in await db.execute_query_dict(placeholders(pick), [before, before, limit])]
    return await OutboundMessage.filter(id__in=ids, status__in=OVER).delete() if ids else 0


async def count_old(before: datetime) -> dict:
    before = before.astimezone(timezone.utc)
    return {
        "messages": await OutboundMessage.filter(status__in=OVER, next_attempt_at__lt=before,
                                                 created_at__lt=before).count(),
        "kept_active_messages": await OutboundMessage.filter(status__in=ACTIVE, created_at__lt=before).count(),
    }
