"""Issuing tickets: the day's numbers per office and prefix, a walk-in ticket from the
kiosk or the counter, and the ticket of a cita checked in.

Each issue is one transaction (one statement on PostgreSQL) that also writes the
`issued` audit event; the bus event goes out after commit."""

from __future__ import annotations

from datetime import date, datetime

from tortoise.transactions import in_transaction

from turnero.core import brigades, clock, metrics
from turnero.core.auth import Principal
from turnero.core.db import is_postgres, json_text, model_from_row, placeholders
from turnero.core.errors import invalid
from turnero.core.ids import public_id
from turnero.core.models import Office, Service
from turnero.core.service import offered_service
from turnero.queue import eta_service, groups
from turnero.queue.config import QueueConfig
from turnero.queue.events import _insert_event, _publish_queue_changed
from turnero.queue.models import Lane, Priority, Ticket, TicketStatus
from turnero.queue.schemas import GroupMemberIn
from turnero.queue.sql import _connection
from turnero.queue.views import ticket_view


def lane_for(priority: Priority, appointment: bool = False) -> Lane:
    if appointment:
        return Lane.APPOINTMENT
    return Lane.REGULAR if priority == Priority.REGULAR else Lane.PREFERENTIAL


def format_number(prefix: str, n: int) -> str:
    return f"{prefix}-{n:03d}"


def _actor_id(actor: Principal | None) -> int | None:
    return actor.user_id if actor else None


# ---------------------------------------------------------------- numbers


async def next_number(conn, office_id: int, prefix: str, day: date) -> int:
    """Atomically take the next number of an office's prefix for a day (one statement:
    concurrent issuers can never read the same value)."""
    sql = placeholders(
        "INSERT INTO ticket_counter (office_id, prefix, day, value) VALUES (?, ?, ?, 1) "
        "ON CONFLICT (office_id, prefix, day) DO UPDATE SET value = ticket_counter.value + 1 "
        "RETURNING value"
    )
    rows = await conn.execute_query_dict(sql, [office_id, prefix, day])
    return int(rows[0]["value"])


# ---------------------------------------------------------------- issue


async def _step_services(office: Office, tramite: Service) -> list[Service]:
    return [await offered_service(office, code) for code in (tramite.steps or [])]


async def _insert_ticket(values: dict, prefix: str, event: dict, user_id: int | None) -> dict:
    """Take the next number of the office's `prefix` for the day, insert the ticket
    with it and write the `issued` event, atomically; returns the ticket row.

    On PostgreSQL this is one statement (data-modifying CTEs), its own transaction:
    one round trip instead of five."""
    columns = ", ".join(values)
    if is_postgres():
        n = len(values)
        marks = ", ".join(f"${i}" for i in range(1, n + 1))
        # (f"{prefix}-{n:03d}", as format_number writes it)
        number = (
            f"(SELECT ${n + 1} || '-' || CASE WHEN c.value < 1000 THEN lpad(c.value::text, 3, '0')"
            " ELSE c.value::text END FROM c)"
        )
        rows = await _connection().execute_query_dict(
            f"WITH c AS (INSERT INTO ticket_counter (office_id, prefix, day, value) VALUES (${n + 2}, ${n + 1}, ${n + 3}, 1)"
            " ON CONFLICT (office_id, prefix, day) DO UPDATE SET value = ticket_counter.value + 1 RETURNING value),"
            f" t AS (INSERT INTO ticket ({columns}, number) VALUES ({marks}, {number}) RETURNING *),"
            " e AS (INSERT INTO ticket_event (ticket_id, kind, at, desk_id, user_id, data)"
            f" SELECT id, 'issued', issued_at, NULL, ${n + 4}::int, ${n + 5}::jsonb FROM t)"
            " SELECT * FROM t",
            [*values.values(), prefix, values["office_id"], values["day"], user_id, json_text(event)],
        )
        return rows[0]
    async with in_transaction() as conn:
        number = format_number(prefix, await next_number(conn, values["office_id"], prefix, values["day"]))
        rows = await conn.execute_query_dict(
            f"INSERT INTO ticket ({columns}, number) VALUES ({', '.join('?' * len(values))}, ?) RETURNING *",
            [*values.values(), number],
        )
        await _insert_event(conn, rows[0]["id"], "issued", values["issued_at"], None, user_id, event)
    return rows[0]


async def issue_ticket(
    office: Office,
    service_code: str,
    *,
    priority: str = "regular",
    party_size: int = 1,
    phone: str | None = None,
    actor: Principal | None,
    config: QueueConfig,
    members: list[GroupMemberIn] | None = None,
) -> dict:
    tramite = await offered_service(office, service_code)
    if not tramite.walk_in:
        raise invalid(
            f"El trámite {tramite.code} se atiende solo con cita.", code="walk_in_not_allowed"
        )
    # A brigade takes walk-ins only on its stops' days, and none at a closed session.
    await brigades.walk_in_refusal(office, clock.local_day(clock.now(), office.timezone))
    steps = await _step_services(office, tramite)
    first = steps[0] if steps else tramite
    prio = Priority(priority)
    now = clock.now()
    day = clock.local_day(now, office.timezone)
    pid = public_id()
    values = {
        "public_id": pid, "visit_id": pid, "hop": 0, "step_index": 0, "day": day,
        "priority": prio.value, "lane": lane_for(prio).value, "party_size": party_size, "phone": phone,
        "status": TicketStatus.WAITING.value, "arrived_at": now, "due_at": None, "issued_at": now,
        "recall_count": 0, "office_id": office.id, "service_id": first.id,
        "flow_service_id": tramite.id if steps else None,
    }
    if config.predict_waits:  # what it is told now, kept: the estimate learns its error from it
        values["promised_wait"] = await eta_service.walk_in_promise(office, first.id, values["lane"], config.policy)
    event = {"service": first.code, "tramite": tramite.code, "priority": prio.value}
    if members:  # a tutor with minors (queue/groups.py): the ticket and its group in one transaction
        values["party_size"] = 1 + len(members)
        event["members"] = len(members)
        async with in_transaction() as conn:
            row = await _insert_ticket(values, tramite.prefix, event, _actor_id(actor))
            await groups.add(conn, members, service_id=tramite.id, day=day, ticket_id=row["id"])
    else:
        row = await _insert_ticket(values, tramite.prefix, event, _actor_id(actor))
    ticket = model_from_row(Ticket, row)
    ticket.service = first  # so the view below needs no query for it
    metrics.ticket_issued(office.code, tramite.code)
    await _publish_queue_changed(office, issued=True)
    return await ticket_view(ticket, office, config)


async def issue_checkin_ticket(
    office: Office, tramite: Service, *, due_at: datetime | None, party_size: int = 1,
    phone: str | None = None, actor: Principal | None, data: dict | None = None,
) -> Ticket:
    """The ticket of a cita checked in at the kiosk (turnero.scheduler). With `due_at`
    it stands in the appointment lane, which call-next serves at or after that time
    ahead of walk-ins; without it (a late arrival let in as walk-in) in the regular
    lane. Runs in the caller's transaction, which publishes queue.changed after commit.
    Citas may be for services that take no walk-ins, so that check is not made here."""
    steps = await _step_services(office, tramite)
    first = steps[0] if steps else tramite
    now = clock.now()
    pid = public_id()
    values = {
        "public_id": pid, "visit_id": pid, "hop": 0, "step_index": 0, "day": clock.local_day(now, office.timezone),
        "priority": Priority.REGULAR.value, "lane": lane_for(Priority.REGULAR, appointment=due_at is not None).value,
        "party_size": party_size, "phone": phone, "status": TicketStatus.WAITING.value, "arrived_at": now,
        "due_at": due_at, "issued_at": now, "recall_count": 0, "office_id": office.id, "service_id": first.id,
        "flow_service_id": tramite.id if steps else None,
    }
    event = {"service": first.code, "tramite": tramite.code, "priority": Priority.REGULAR.value, **(data or {})}
    ticket = model_from_row(Ticket, await _insert_ticket(values, tramite.prefix, event, _actor_id(actor)))
    ticket.service = first
    return ticket
