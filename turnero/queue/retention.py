"""Retention of the queue's detail (admin/retention.py drives it): finished tickets
issued before a cutoff are taken in batches — read as report facts, then deleted with
their events, inside the caller's transaction — and the number counters of past days go.
A ticket still waiting, called or being served is never taken, however old."""

from __future__ import annotations

from datetime import date, datetime, timezone

from turnero.core.db import db_datetime, is_postgres, placeholders
from turnero.queue.models import GroupMember, Ticket, TicketCounter, TicketEvent, TicketStatus

FINISHED = tuple(s.value for s in (TicketStatus.DONE, TicketStatus.NO_SHOW, TicketStatus.CANCELLED,
                                   TicketStatus.TRANSFERRED))
ACTIVE = tuple(s.value for s in (TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING))
# The events that say who closed a ticket: the operator its outcome counts for.
CLOSING_EVENTS = ("finished", "no_show")


def _utc(at: datetime) -> datetime:
    return at.astimezone(timezone.utc)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)  # constants of this module, never input


async def take_finished(office_id: int, before: datetime, limit: int) -> tuple[list[dict], int]:
    """Delete up to `limit` finished tickets of the office issued before `before`, oldest
    first, and their events. Returns the tickets as they were (id, status, issued_at, hop,
    called_at, started_at, finished_at, service, desk, operator) and the events deleted.
    Call it inside a transaction: the rows are locked (PostgreSQL) or the database is
    (SQLite's immediate transactions) from the pick to the delete."""
    pick = (
        f"SELECT id FROM ticket WHERE office_id = ? AND issued_at < ? AND status IN ({_in(FINISHED)})"
        " ORDER BY issued_at LIMIT ?" + (" FOR UPDATE" if is_postgres() else "")
    )
    db = Ticket._meta.db  # the transaction's connection inside in_transaction()
    ids = [r["id"] for r in await db.execute_query_dict(placeholders(pick), [office_id, _utc(before), limit])]
    if not ids:
        return [], 0
    rows = await Ticket.filter(id__in=ids).order_by("id").values(
        "id", "status", "issued_at", "hop", "called_at", "started_at", "finished_at", "service__code", "desk__name")
    closers = dict(await TicketEvent.filter(ticket_id__in=ids, kind__in=CLOSING_EVENTS).order_by("id")
                   .values_list("ticket_id", "user__username"))
    events = await TicketEvent.filter(ticket_id__in=ids).delete()
    await GroupMember.filter(ticket_id__in=ids).delete()  # the minors' names go with the ticket
    # (The count SQLite reports would include the next hops unlinked: not used.)
    await Ticket.filter(id__in=ids, status__in=FINISHED).delete()
    tickets = [
        {"id": r["id"], "status": str(r["status"]), "issued_at": db_datetime(r["issued_at"]), "hop": r["hop"],
         "called_at": db_datetime(r["called_at"]), "started_at": db_datetime(r["started_at"]),
         "finished_at": db_datetime(r["finished_at"]), "service": r["service__code"], "desk": r["desk__name"],
         "operator": closers.get(r["id"])}
        for r in rows
    ]
    return tickets, events


async def take_counters(office_id: int, before: date, limit: int) -> int:
    """Delete up to `limit` number counters of the office's days before `before` (a day's
    counter is only read while that day lasts)."""
    ids = await TicketCounter.filter(office_id=office_id, day__lt=before).limit(limit).values_list("id", flat=True)
    return await TicketCounter.filter(id__in=list(ids)).delete() if ids else 0


async def count_old(office_id: int, before: datetime, before_day: date) -> dict:
    """What take_finished and take_counters would delete, and the old tickets kept
    because they are still active (for dry runs and the audit)."""
    old = Ticket.filter(office_id=office_id, issued_at__lt=_utc(before))
    return {
        "tickets": await old.filter(status__in=FINISHED).count(),
        "ticket_events": await TicketEvent.filter(
            ticket__office_id=office_id, ticket__issued_at__lt=_utc(before), ticket__status__in=FINISHED).count(),
        "ticket_counters": await TicketCounter.filter(office_id=office_id, day__lt=before_day).count(),
        "kept_active_tickets": await old.filter(status__in=ACTIVE).count(),
    }
