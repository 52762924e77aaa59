"""What a desk does with the ticket it called: recall, start, finish (and the next
step of a multi-step visit), no-show, transfer; and reading a ticket by its public id.

Each action is one transaction that also writes its audit event; the bus event goes
out after commit."""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.db import is_postgres, model_from_row, placeholders, select_columns
from turnero.core.errors import conflict, invalid, not_found
from turnero.core.ids import public_id
from turnero.core.models import Office, Service
from turnero.core.service import can_match, offered_service
from turnero.queue.config import QueueConfig
from turnero.queue.events import _insert_event, _publish_call, _publish_queue_changed
from turnero.queue.issuing import _step_services, lane_for
from turnero.queue.models import Desk, Lane, Ticket, TicketEvent, TicketStatus
from turnero.queue.sql import _connection, _sql_text
from turnero.queue.views import TicketRow, _view, ticket_view


async def get_ticket(public: str) -> Ticket:
    """The ticket with its office, service and desk loaded — one joined statement
    (every ticket action and view starts here; the ORM's select_related costs several
    times more)."""
    rows = []
    if can_match(Ticket, "public_id", public):
        sql = placeholders(
            f"SELECT {select_columns(Ticket, 't')}, {select_columns(Office, 'o')},"
            f" {select_columns(Service, 's')}, {select_columns(Desk, 'd')}"
            " FROM ticket t JOIN office o ON o.id = t.office_id JOIN service s ON s.id = t.service_id"
            " LEFT JOIN desk d ON d.id = t.desk_id WHERE t.public_id = ?"
        )
        rows = await _connection().execute_query_dict(sql, [public])
    if not rows:
        raise not_found("ticket_not_found", "No existe ese turno.")
    row = rows[0]
    ticket = model_from_row(Ticket, row, "t")
    ticket.office = model_from_row(Office, row, "o")
    ticket.service = model_from_row(Service, row, "s")
    ticket.desk = model_from_row(Desk, row, "d") if row["d__id"] is not None else None
    return ticket


async def public_ticket_view(public: str, config: QueueConfig) -> dict:
    """The ticket as the citizen sees it; a transferred ticket shows where it went."""
    return (await public_ticket(public, config))[1]


async def public_ticket(public: str, config: QueueConfig) -> tuple[Ticket, dict]:
    """The visit's current ticket (a transferred one's latest hop) and its public view."""
    ticket = await get_ticket(public)
    current = ticket
    if ticket.status == TicketStatus.TRANSFERRED:
        latest = await Ticket.filter(visit_id=ticket.visit_id).order_by("-hop").first()
        if latest is not None:
            current = latest
    view = await ticket_view(current, ticket.office, config)
    if current.id != ticket.id:
        view["transferred_from"] = ticket.public_id
    return current, view


_TRANSITIONS = {
    "recall": (TicketStatus.CALLED,),
    "start": (TicketStatus.CALLED,),
    "finish": (TicketStatus.CALLED, TicketStatus.SERVING),
    "no_show": (TicketStatus.CALLED,),
    "transfer": (TicketStatus.CALLED, TicketStatus.SERVING),
}
_ACTION_ES = {
    "recall": "volver a llamar",
    "start": "iniciar la atención de",
    "finish": "finalizar",
    "no_show": "marcar como ausente",
    "transfer": "transferir",
}


def _check_transition(ticket: Ticket, action: str) -> None:
    if ticket.status not in _TRANSITIONS[action]:
        raise conflict(
            "invalid_transition",
            f"No se puede {_ACTION_ES[action]} el turno {ticket.number}: está «{ticket.status.value}».",
        )


def _carry_relations(source: Ticket, target: Ticket) -> None:
    """Give a re-read copy of a ticket the service and desk already loaded on the
    original, so that its view needs no query."""
    if isinstance(source.service, Service) and source.service_id == target.service_id:
        target.service = source.service
    if source.desk_id is not None and isinstance(source.desk, Desk) and source.desk_id == target.desk_id:
        target.desk = source.desk


async def _locked_ticket(ticket_id: int, action: str) -> Ticket:
    ticket = await Ticket.filter(id=ticket_id).select_for_update().get()
    _check_transition(ticket, action)
    return ticket


async def recall(ticket: Ticket, actor: Principal, config: QueueConfig) -> dict:
    now = clock.now()
    async with in_transaction():
        locked = await _locked_ticket(ticket.id, "recall")
        locked.recall_count += 1
        await locked.save(update_fields=["recall_count"])
        await TicketEvent.create(
            ticket=locked, kind="recalled", at=now, desk_id=locked.desk_id, user_id=actor.user_id,
            data={"recall_count": locked.recall_count},
        )
    view = await ticket_view(locked, ticket.office, config)
    await _publish_call(ticket.office, "ticket.recalled", view)
    return view


async def start(ticket: Ticket, actor: Principal, config: QueueConfig) -> dict:
    now = clock.now()
    async with in_transaction():
        locked = await _locked_ticket(ticket.id, "start")
        locked.status, locked.started_at = TicketStatus.SERVING, now
        await locked.save(update_fields=["status", "started_at"])
        await TicketEvent.create(ticket=locked, kind="started", at=now, desk_id=locked.desk_id, user_id=actor.user_id)
    return await ticket_view(locked, ticket.office, config)


async def no_show(ticket: Ticket, actor: Principal, config: QueueConfig) -> dict:
    now = clock.now()
    async with in_transaction():
        locked = await _locked_ticket(ticket.id, "no_show")
        locked.status, locked.finished_at = TicketStatus.NO_SHOW, now
        await locked.save(update_fields=["status", "finished_at"])
        await TicketEvent.create(ticket=locked, kind="no_show", at=now, desk_id=locked.desk_id, user_id=actor.user_id)
    await _publish_queue_changed(ticket.office)
    return await ticket_view(locked, ticket.office, config)


async def _enqueue_next_hop(
    previous: Ticket, service: Service, now: datetime, actor: Principal, *, reason: str,
    flow_service_id: int | None, step_index: int,
) -> Ticket:
    """The visit goes on in another queue: same number, same arrival time (so it keeps
    its place in order), a new row one hop further."""
    nxt = await Ticket.create(
        public_id=public_id(),
        visit_id=previous.visit_id,
        hop=previous.hop + 1,
        previous_id=previous.id,
        office_id=previous.office_id,
        service_id=service.id,
        flow_service_id=flow_service_id,
        step_index=step_index,
        day=previous.day,
        number=previous.number,
        priority=previous.priority,
        lane=previous.lane if previous.lane != Lane.APPOINTMENT else lane_for(previous.priority),
        party_size=previous.party_size,
        phone=previous.phone,
        status=TicketStatus.WAITING,
        arrived_at=previous.arrived_at,
        issued_at=now,
    )
    await TicketEvent.create(
        ticket=nxt, kind="enqueued", at=now, user_id=actor.user_id,
        data={"from": previous.public_id, "reason": reason, "service": service.code},
    )
    return nxt


async def _finish_with_event(conn, ticket: Ticket, status: TicketStatus, now: datetime, actor: Principal) -> Ticket:
    """Move a called or served ticket to `status` and write its `finished` event,
    atomically; 409 if the ticket is in another state. One conditional UPDATE both
    checks and makes the transition (a concurrent change waits for the row lock, then
    the condition is re-checked); on PostgreSQL the event goes in the same statement."""
    allowed = "(" + ", ".join(_sql_text(s.value) for s in _TRANSITIONS["finish"]) + ")"
    update = (
        "UPDATE ticket SET status = ?, started_at = COALESCE(started_at, called_at), finished_at = ?"
        f" WHERE id = ? AND status IN {allowed} RETURNING *"
    )
    params = [status.value, now, ticket.id]
    if is_postgres():
        rows = await conn.execute_query_dict(
            placeholders(
                f"WITH t AS ({update}), e AS (INSERT INTO ticket_event (ticket_id, kind, at, desk_id, user_id, data)"
                " SELECT id, 'finished', ?::timestamptz, desk_id, ?::int, '{}'::jsonb FROM t) SELECT * FROM t"
            ),
            [*params, now, actor.user_id],
        )
    else:
        rows = await conn.execute_query_dict(update, params)
        if rows:
            await _insert_event(conn, ticket.id, "finished", now, rows[0]["desk_id"], actor.user_id)
    if not rows:
        _check_transition(await Ticket.get(id=ticket.id), "finish")
        raise conflict("invalid_transition", f"No se puede finalizar el turno {ticket.number}.")
    locked = model_from_row(Ticket, rows[0])
    _carry_relations(ticket, locked)
    return locked


async def finish(ticket: Ticket, actor: Principal, config: QueueConfig) -> dict:
    """Finish the service; in a multi-step visit, the next step's queue gets the ticket.
    (finish_single_step does the common case in one statement: keep the two in step.)"""
    office = ticket.office
    now = clock.now()
    next_service = None
    if ticket.flow_service_id is not None:
        flow = await Service.get(id=ticket.flow_service_id)
        steps = list(flow.steps or [])
        if ticket.step_index + 1 < len(steps):
            next_service = await offered_service(office, steps[ticket.step_index + 1])
    status = TicketStatus.TRANSFERRED if next_service else TicketStatus.DONE
    nxt = None
    if next_service is None and is_postgres():
        # The finish and its event are one statement, which is its own transaction:
        # no BEGIN/COMMIT round trips on the busiest action after call-next.
        locked = await _finish_with_event(_connection(), ticket, status, now, actor)
    else:
        async with in_transaction() as conn:
            locked = await _finish_with_event(conn, ticket, status, now, actor)
            if next_service is not None:
                nxt = await _enqueue_next_hop(
                    locked, next_service, now, actor, reason="next_step",
                    flow_service_id=locked.flow_service_id, step_index=locked.step_index + 1,
                )
    await _publish_queue_changed(office)
    view = await ticket_view(locked, office, config)
    view["next"] = await ticket_view(nxt, office, config) if nxt else None
    return view


_FINISH_FAST_SQL: str | None = None


async def finish_single_step(public: str, actor: Principal, config: QueueConfig) -> dict | None:
    """finish() for the common case, by public id, in one statement on PostgreSQL:
    a called or served ticket that is no step of a multi-step visit, of an office the
    actor may act on. None when that does not apply (any other backend, or the ticket
    is unknown, of another office, in another state, or has a next step): the caller
    then takes the general path, which answers each of those cases."""
    global _FINISH_FAST_SQL
    if not is_postgres() or not can_match(Ticket, "public_id", public):
        return None
    if not actor.is_admin and actor.office_id is None:
        return None  # (NULL below means "any office": for admins only)
    if _FINISH_FAST_SQL is None:
        allowed = "(" + ", ".join(_sql_text(s.value) for s in _TRANSITIONS["finish"]) + ")"
        _FINISH_FAST_SQL = (
            "WITH t AS (UPDATE ticket SET status = 'done', started_at = COALESCE(started_at, called_at),"
            f"  finished_at = $2 WHERE public_id = $1 AND status IN {allowed} AND flow_service_id IS NULL"
            "  AND ($3::int IS NULL OR office_id = $3) RETURNING *),"
            " e AS (INSERT INTO ticket_event (ticket_id, kind, at, desk_id, user_id, data)"
            "  SELECT id, 'finished', $2::timestamptz, desk_id, $4::int, '{}'::jsonb FROM t)"
            f" SELECT t.*, {select_columns(Office, 'o')}, s.code AS q_service_code, s.name AS q_service_name,"
            "  dk.name AS q_desk_name"
            " FROM t JOIN office o ON o.id = t.office_id JOIN service s ON s.id = t.service_id"
            " LEFT JOIN desk dk ON dk.id = t.desk_id"
        )
    now = clock.now()
    rows = await _connection().execute_query_dict(
        _FINISH_FAST_SQL, [public, now, None if actor.is_admin else actor.office_id, actor.user_id]
    )
    if not rows:
        return None
    row = rows[0]
    office = model_from_row(Office, row, "o")
    ticket = TicketRow(row)
    await _publish_queue_changed(office)
    view = _view(ticket, office, row["q_service_code"], row["q_service_name"], row["q_desk_name"])
    view["next"] = None
    return view




async def transfer(ticket: Ticket, service_code: str, actor: Principal, config: QueueConfig) -> dict:
    """Move a called or served ticket to another service's queue; returns the new ticket."""
    office = ticket.office
    target = await offered_service(office, service_code)
    # A multi-step trámite starts at its first step, as when it is issued.
    steps = await _step_services(office, target)
    queue_at = steps[0] if steps else target
    if target.id == ticket.service_id or queue_at.id == ticket.service_id:
        raise invalid("El turno ya está en ese trámite.", code="same_service")
    now = clock.now()
    async with in_transaction():
        locked = await _locked_ticket(ticket.id, "transfer")
        locked.status, locked.finished_at = TicketStatus.TRANSFERRED, now
        locked.started_at = locked.started_at or locked.called_at
        await locked.save(update_fields=["status", "started_at", "finished_at"])
        await TicketEvent.create(
            ticket=locked, kind="transferred", at=now, desk_id=locked.desk_id, user_id=actor.user_id,
            data={"to": target.code},
        )
        nxt = await _enqueue_next_hop(
            locked, queue_at, now, actor, reason="transfer",
            flow_service_id=target.id if steps else None, step_index=0,
        )
    await _publish_queue_changed(office)
    return await ticket_view(nxt, office, config)
