"""The satisfaction survey SMS (issue 20): after a visit with a phone ends (its last
ticket `done`), one short message asks «¿Cómo le atendimos? Responda 1 a 5». The reply
comes back through the inbound webhook (replies.handle_reply -> queue.satisfaction).

A job writes them, off the finish path (the queue's finish is one statement on
PostgreSQL): each pass looks at the tickets each office finished in the last
`SWEEP_WINDOW` that have a phone and no survey yet — the office-and-day index bounds it
to today's tickets — and the unique event key `ticket:{id}:encuesta` keeps every
instance's passes from writing one twice. A visit already rated (on its page, at the
desk) gets none. TURNERO_SATISFACTION_SMS=0 turns the survey off."""

from __future__ import annotations

from datetime import timedelta

from turnero.core import clock
from turnero.core.db import placeholders
from turnero.core.models import Office
from turnero.notifications import outbox
from turnero.notifications.models import OutboundMessage
from turnero.notifications.policy import NotificationConfig
from turnero.queue.satisfaction import rated_ticket_ids

TEMPLATE = "encuesta_satisfaccion"
SWEEP_WINDOW = timedelta(minutes=30)  # a finish older than this gets no survey (a job was down)
SURVEY_TTL = timedelta(hours=2)  # not worth sending later than this after the visit


def survey_key(ticket_id: int) -> str:
    return f"ticket:{ticket_id}:encuesta"


async def queue_surveys(config: NotificationConfig, now=None) -> int:
    """One pass over the active offices; returns how many survey messages it wrote."""
    now = now or clock.now()
    written = 0
    for office in await Office.filter(active=True):
        today = clock.local_day(now, office.timezone)
        rows = await OutboundMessage._meta.db.execute_query_dict(
            placeholders(
                "SELECT t.id, t.number, t.phone, s.code AS service_code FROM ticket t"
                " JOIN service s ON s.id = t.service_id"
                " WHERE t.office_id = ? AND t.day >= ? AND t.status = 'done' AND t.phone IS NOT NULL"
                " AND t.finished_at >= ?"
                " AND NOT EXISTS (SELECT 1 FROM outbound_message m"
                "  WHERE m.dedupe_key = 'ticket:' || t.id || ':encuesta')"
            ),
            [office.id, today - timedelta(days=1), now - SWEEP_WINDOW],
        )
        rated = await rated_ticket_ids([row["id"] for row in rows])
        for row in rows:
            if row["id"] in rated:
                continue
            created = await outbox.enqueue(
                None, config, to=row["phone"], template=TEMPLATE, dedupe_key=survey_key(row["id"]),
                context={"institucion": office.institution, "numero": row["number"]},
                office=office, service_code=row["service_code"], ticket_id=row["id"],
                expires_at=now + SURVEY_TTL,
            )
            written += created is not None
    return written
