"""What a ticket change leaves behind: its audit row (`ticket_event`), written on the
change's own connection so it commits with it, and the bus events published after
commit (displays, the lines held in memory, the office's estimate)."""

from __future__ import annotations

from datetime import datetime

from turnero.core import metrics
from turnero.core.db import json_text, placeholders
from turnero.core.models import Office
from turnero.core.bus import coalesced, publish_office_event
from turnero.queue import waiting


async def _insert_event(conn, ticket_id: int, kind: str, at: datetime, desk_id: int | None,
                        user_id: int | None, data: dict | None = None) -> None:
    await conn.execute_query_dict(
        placeholders(
            "INSERT INTO ticket_event (ticket_id, kind, at, desk_id, user_id, data) VALUES (?, ?, ?, ?, ?, ?)"
        ),
        [ticket_id, kind, at, desk_id, user_id, json_text(data or {})],
    )


async def publish_queue_changed(office: Office) -> None:
    await _publish_queue_changed(office)


async def _publish_call(office: Office, kind: str, view: dict) -> None:
    if kind == "ticket.called":
        metrics.ticket_called(office.code)
    await publish_office_event(
        office.code,
        {
            "type": kind,
            "ticket": view["number"],
            "service": view["service"],
            "desk": view["desk"],
            "called_at": view["called_at"],
            "recall_count": view["recall_count"],
        },
    )
    if kind == "ticket.called":
        # The called ticket left the waiting line: boards refresh their counts.
        await _publish_queue_changed(office)


async def _publish_queue_changed(office: Office, *, issued: bool = False) -> None:
    if not issued:
        waiting.queue_changed(office.id)  # the office's estimate is refreshed soon
    waiting.changed()  # the lines in memory read this change before they answer again
    await coalesced.publish(office.code, "queue.changed")
