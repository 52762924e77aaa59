"""Queue operations: issue, call, recall, start, finish, no-show, transfer, desks, day close.

Each operation is one database transaction that also writes its audit event; the bus
event goes out after commit. Routes call these and never hold the rules themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.db import is_postgres, placeholders
from turnero.core.errors import conflict, invalid, not_found
from turnero.core.ids import public_id
from turnero.core.models import Office, Service
from turnero.core.service import can_match, offered_service
from turnero.displays.bus import publish_office_event
from turnero.queue import policy
from turnero.queue.models import (
    Desk,
    DeskEvent,
    DeskService,
    DeskStatus,
    Lane,
    Priority,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from turnero.settings import Settings

ACTIVE_AT_DESK = (TicketStatus.CALLED, TicketStatus.SERVING)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class QueueConfig:
    policy: policy.PolicyConfig = policy.PolicyConfig()
    day_close_grace: timedelta = timedelta(minutes=60)

    @classmethod
    def from_settings(cls, settings: Settings) -> "QueueConfig":
        return cls(
            policy=policy.PolicyConfig(
                preferential_ratio=max(1, settings.preferential_ratio),
                regular_max_wait=timedelta(minutes=settings.regular_max_wait_minutes),
            ),
            day_close_grace=timedelta(minutes=settings.day_close_grace_minutes),
        )


def lane_for(priority: Priority, appointment: bool = False) -> Lane:
    if appointment:
        return Lane.APPOINTMENT
    return Lane.REGULAR if priority == Priority.REGULAR else Lane.PREFERENTIAL


def format_number(prefix: str, n: int) -> str:
    return f"{prefix}-{n:03d}"


def _iso(at: datetime | None, tz: str) -> str | None:
    return at.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds") if at else None


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


# ---------------------------------------------------------------- views


def _connection():
    """The connection queries run on now (the transaction's, inside in_transaction)."""
    return Ticket._meta.db


def _view(ticket: Ticket, office: Office, service_code: str, service_name: str, desk_name: str | None) -> dict:
    """The ticket as the API shows it, from values at hand (no query); position and
    wait estimate are filled in by ticket_view for a waiting ticket."""
    tz = office.timezone
    return {
        "id": ticket.public_id,
        "number": ticket.number,
        "office": office.code,
        "service": service_code,
        "service_name": service_name,
        "priority": str(ticket.priority),
        "party_size": ticket.party_size,
        "status": str(ticket.status),
        "position": None,
        "estimated_wait_minutes": None,
        "issued_at": _iso(ticket.issued_at, tz),
        "arrived_at": _iso(ticket.arrived_at, tz),
        "called_at": _iso(ticket.called_at, tz),
        "desk": desk_name,
        "recall_count": ticket.recall_count,
    }


async def ticket_view(ticket: Ticket, office: Office, config: QueueConfig) -> dict:
    # Relations already loaded (select_related, or set by the caller) cost no query.
    service = ticket.service if isinstance(ticket.service, Service) else await Service.get(id=ticket.service_id)
    desk_name = None
    if ticket.desk_id is not None:
        desk = ticket.desk if isinstance(ticket.desk, Desk) else await Desk.get(id=ticket.desk_id)
        desk_name = desk.name
    view = _view(ticket, office, service.code, service.name, desk_name)
    if ticket.status == TicketStatus.WAITING:
        position, open_desks = await _position_and_open_desks(ticket, config)
        view["position"] = position
        view["estimated_wait_minutes"] = policy.estimate_wait_minutes(
            position, open_desks, service.expected_service_minutes
        )
    return view


async def waiting_position(ticket: Ticket, config: QueueConfig) -> int:
    return (await _position_and_open_desks(ticket, config))[0]


async def _position_and_open_desks(ticket: Ticket, config: QueueConfig) -> tuple[int, int]:
    """A waiting ticket's place in its service's queue, and how many open desks serve
    that service — one statement (one pass over the service's waiting tickets)."""
    now = clock.now()
    appointment = ticket.lane == Lane.APPOINTMENT
    other = Lane.REGULAR if ticket.lane == Lane.PREFERENTIAL else Lane.PREFERENTIAL
    sql = placeholders(
        "SELECT"
        " SUM(CASE WHEN lane = ? AND due_at <= ? THEN 1 ELSE 0 END) AS due,"
        " SUM(CASE WHEN lane = ? AND due_at <= ? AND (due_at < ? OR (due_at = ? AND id < ?))"
        " THEN 1 ELSE 0 END) AS due_ahead,"
        " SUM(CASE WHEN lane = ? AND (arrived_at < ? OR (arrived_at = ? AND id < ?))"
        " THEN 1 ELSE 0 END) AS same_lane_ahead,"
        " SUM(CASE WHEN lane = ? THEN 1 ELSE 0 END) AS other_lane,"
        " (SELECT COUNT(*) FROM desk d JOIN desk_service ds ON ds.desk_id = d.id"
        "  WHERE d.office_id = ? AND d.status = ? AND ds.service_id = ?) AS open_desks"
        " FROM ticket WHERE office_id = ? AND service_id = ? AND status = ?"
    )
    row = (
        await _connection().execute_query_dict(
            sql,
            [
                Lane.APPOINTMENT.value, now,
                Lane.APPOINTMENT.value, now, ticket.due_at, ticket.due_at, ticket.id,
                str(ticket.lane), ticket.arrived_at, ticket.arrived_at, ticket.id,
                other.value,
                ticket.office_id, DeskStatus.OPEN.value, ticket.service_id,
                ticket.office_id, ticket.service_id, TicketStatus.WAITING.value,
            ],
        )
    )[0]
    ratio = config.policy.preferential_ratio
    if appointment:
        position = policy.queue_position(
            policy.APPOINTMENT, appointments_ahead=int(row["due_ahead"] or 0), same_lane_ahead=0,
            other_lane_waiting=0, ratio=ratio,
        )
    else:
        position = policy.queue_position(
            str(ticket.lane),
            appointments_ahead=int(row["due"] or 0),
            same_lane_ahead=int(row["same_lane_ahead"] or 0),
            other_lane_waiting=int(row["other_lane"] or 0),
            ratio=ratio,
        )
    return position, int(row["open_desks"] or 0)


async def desk_views(office: Office) -> list[dict]:
    desks = await Desk.filter(office_id=office.id).order_by("id").prefetch_related(
        "services__service", "operator"
    )
    serving = dict(
        await Ticket.filter(office_id=office.id, status__in=ACTIVE_AT_DESK, desk_id__isnull=False)
        .values_list("desk_id", "number")
    )
    return [_desk_view(d, serving.get(d.id)) for d in desks]


def _desk_view(desk: Desk, serving_number: str | None) -> dict:
    links = sorted(desk.services, key=lambda link: (link.weight, link.service.code))
    return {
        "name": desk.name,
        "status": str(desk.status),
        "services": [link.service.code for link in links],
        "service_weights": {link.service.code: link.weight for link in links},
        "operator": desk.operator.username if desk.operator else None,
        "serving": serving_number,
    }


# ---------------------------------------------------------------- issue


async def _step_services(office: Office, tramite: Service) -> list[Service]:
    return [await offered_service(office, code) for code in (tramite.steps or [])]


async def issue_ticket(
    office: Office,
    service_code: str,
    *,
    priority: str = "regular",
    party_size: int = 1,
    phone: str | None = None,
    actor: Principal | None,
    config: QueueConfig,
) -> dict:
    tramite = await offered_service(office, service_code)
    if not tramite.walk_in:
        raise invalid(
            f"El trámite {tramite.code} se atiende solo con cita.", code="walk_in_not_allowed"
        )
    steps = await _step_services(office, tramite)
    first = steps[0] if steps else tramite
    prio = Priority(priority)
    now = clock.now()
    day = clock.local_day(now, office.timezone)
    async with in_transaction() as conn:
        n = await next_number(conn, office.id, tramite.prefix, day)
        pid = public_id()
        ticket = await Ticket.create(
            public_id=pid,
            visit_id=pid,
            office_id=office.id,
            service=first,  # the instance, so the view below needs no query for it
            flow_service_id=tramite.id if steps else None,
            day=day,
            number=format_number(tramite.prefix, n),
            priority=prio,
            lane=lane_for(prio),
            party_size=party_size,
            phone=phone,
            status=TicketStatus.WAITING,
            arrived_at=now,
            issued_at=now,
        )
        await _insert_event(
            conn, ticket.id, "issued", now, None, _actor_id(actor),
            {"service": first.code, "tramite": tramite.code, "priority": prio.value},
        )
    await _publish_queue_changed(office)
    return await ticket_view(ticket, office, config)


# ---------------------------------------------------------------- desks


async def get_desk(office: Office, name: str) -> Desk:
    desk = await Desk.get_or_none(office_id=office.id, name=name) if can_match(Desk, "name", name) else None
    if desk is None:
        raise not_found("desk_not_found", f"No existe la ventanilla {name!r} en {office.code}.")
    return desk


async def set_desk_status(office: Office, desk_name: str, status: DeskStatus, actor: Principal) -> dict:
    desk = await get_desk(office, desk_name)
    now = clock.now()
    async with in_transaction():
        desk = await Desk.filter(id=desk.id).select_for_update().get()
        if status == DeskStatus.CLOSED and await Ticket.exists(desk_id=desk.id, status__in=ACTIVE_AT_DESK):
            raise conflict(
                "desk_busy", "La ventanilla tiene un turno en atención: finalícelo antes de cerrar."
            )
        if status == DeskStatus.PAUSED and desk.status == DeskStatus.CLOSED:
            raise conflict("desk_not_open", "No se puede pausar una ventanilla cerrada.")
        desk.status = status
        desk.status_changed_at = now
        if status == DeskStatus.OPEN:
            desk.operator_id = actor.user_id
        elif status == DeskStatus.CLOSED:
            desk.operator_id = None
            desk.preferential_streak = 0
        await desk.save(update_fields=["status", "status_changed_at", "operator_id", "preferential_streak"])
        await DeskEvent.create(desk=desk, kind=status.value, at=now, user_id=actor.user_id)
    await _publish_queue_changed(office)
    for view in await desk_views(office):
        if view["name"] == desk.name:
            return view
    raise not_found("desk_not_found", "La ventanilla ya no existe.")


async def _lock_open_desk(desk_id: int) -> Desk:
    desk = await Desk.filter(id=desk_id).select_for_update().get()
    if desk.status != DeskStatus.OPEN:
        raise conflict("desk_not_open", f"La ventanilla {desk.name} no está abierta.")
    if await Ticket.exists(desk_id=desk.id, status__in=ACTIVE_AT_DESK):
        raise conflict(
            "desk_busy",
            f"La ventanilla {desk.name} ya tiene un turno llamado o en atención: "
            "finalícelo, márquelo como ausente o transfiéralo antes de llamar otro.",
        )
    return desk


# Call-next is the hot path: it runs as a few raw statements on the transaction's
# connection (desk lock; busy check and line heads together; claim; audit event)
# instead of a dozen ORM queries.


def _for_update(clause: str) -> str:
    """A row-lock clause on PostgreSQL; nothing on SQLite, whose write transaction
    (BEGIN IMMEDIATE) already excludes every other writer."""
    return f" {clause}" if is_postgres() else ""


async def _lock_desk_for_call(conn, office: Office, desk_name: str) -> tuple[dict, dict[int, int]]:
    """The open desk, locked, and the services it serves ({service id: weight})."""
    rows = []
    if can_match(Desk, "name", desk_name):
        rows = await conn.execute_query_dict(
            placeholders(
                "SELECT d.id, d.name, d.status, d.preferential_streak, ds.service_id, ds.weight"
                " FROM desk d LEFT JOIN desk_service ds ON ds.desk_id = d.id"
                " WHERE d.office_id = ? AND d.name = ?" + _for_update("FOR UPDATE OF d")
            ),
            [office.id, desk_name],
        )
    if not rows:
        raise not_found("desk_not_found", f"No existe la ventanilla {desk_name!r} en {office.code}.")
    desk = rows[0]
    if desk["status"] != DeskStatus.OPEN.value:
        raise conflict("desk_not_open", f"La ventanilla {desk['name']} no está abierta.")
    return desk, {r["service_id"]: r["weight"] for r in rows if r["service_id"] is not None}


def _sql_text(value: str) -> str:
    """A SQL string literal for one of the code's own constants (enum values)."""
    assert value.isidentifier(), value
    return f"'{value}'"


async def _busy_and_heads(conn, office_id: int, desk: dict, weights: dict[int, int], now: datetime):
    """Whether the desk already has a ticket called or in service and, in the same
    statement, the head of each line it could serve — locked so that a concurrent desk
    skips it (PostgreSQL `FOR UPDATE SKIP LOCKED`). Runs after the desk lock, so it
    sees a call this desk just committed.

    Statuses and lanes are written into the SQL as literals, not parameters: the
    statement is then the same for every call of a desk, PostgreSQL plans it once per
    connection (a generic plan that still uses the queue index) instead of re-planning
    this union on every call."""
    columns = "t.id, t.lane, t.service_id, t.arrived_at, t.due_at"
    waiting = _sql_text(TicketStatus.WAITING.value)
    parts = [
        f"SELECT 1 AS busy, {columns} FROM ticket t WHERE t.desk_id = ?"
        f" AND t.status IN ({', '.join(_sql_text(s.value) for s in ACTIVE_AT_DESK)}) LIMIT 1"
    ]
    params: list = [desk["id"]]
    lock = _for_update("FOR UPDATE SKIP LOCKED")

    def head(lane: Lane, condition: str, service_ids: list[int], order: str, values: list) -> None:
        marks = ", ".join("?" * len(service_ids))
        parts.append(
            f"SELECT 0 AS busy, {columns} FROM ticket t"
            f" WHERE t.office_id = ? AND t.status = {waiting} AND t.lane = {_sql_text(lane.value)}{condition}"
            f" AND t.service_id IN ({marks}) ORDER BY {order}, t.id LIMIT 1{lock}"
        )
        params.extend([office_id, *values, *service_ids])

    if weights:
        head(Lane.APPOINTMENT, " AND t.due_at <= ?", list(weights), "t.due_at", [now])
        for tier in sorted(set(weights.values())):
            ids = [sid for sid, w in weights.items() if w == tier]
            for lane in (Lane.PREFERENTIAL, Lane.REGULAR):
                head(lane, "", ids, "t.arrived_at", [])
    union = " UNION ALL ".join(f"SELECT * FROM ({part}) AS h{i}" for i, part in enumerate(parts))
    sql = (
        "SELECT h.*, s.code AS service_code, s.name AS service_name"
        f" FROM ({union}) AS h JOIN service s ON s.id = h.service_id"
    )
    rows = await conn.execute_query_dict(placeholders(sql), params)
    busy = any(r["busy"] for r in rows)
    heads = {r["id"]: r for r in rows if not r["busy"]}
    return busy, heads


def _candidate(row: dict) -> policy.Candidate:
    return policy.Candidate(
        row["id"], row["lane"], row["service_id"], _db_datetime(row["arrived_at"]), _db_datetime(row["due_at"])
    )


def _db_datetime(value) -> datetime | None:
    """A datetime column read by raw SQL (SQLite returns text) as an aware datetime."""
    return Ticket._meta.fields_map["arrived_at"].to_python_value(value)


async def _insert_event(conn, ticket_id: int, kind: str, at: datetime, desk_id: int | None,
                        user_id: int | None, data: dict | None = None) -> None:
    await conn.execute_query_dict(
        placeholders(
            "INSERT INTO ticket_event (ticket_id, kind, at, desk_id, user_id, data) VALUES (?, ?, ?, ?, ?, ?)"
        ),
        [ticket_id, kind, at, desk_id, user_id, json.dumps(data or {}, separators=(",", ":"), ensure_ascii=False)],
    )


async def _mark_called(ticket: Ticket, desk: Desk, now: datetime, actor: Principal, kind: str) -> None:
    updated = await Ticket.filter(id=ticket.id, status=TicketStatus.WAITING).update(
        status=TicketStatus.CALLED, desk_id=desk.id, called_at=now
    )
    if updated != 1:  # cannot happen while the row is locked; never call a ticket twice
        raise conflict("ticket_not_callable", f"El turno {ticket.number} ya no está en espera.")
    ticket.status, ticket.desk_id, ticket.called_at = TicketStatus.CALLED, desk.id, now
    await TicketEvent.create(ticket_id=ticket.id, kind=kind, at=now, desk_id=desk.id, user_id=actor.user_id)


async def call_next(office: Office, desk_name: str, actor: Principal, config: QueueConfig) -> dict | None:
    """Call the next ticket for a desk; None when nobody it serves is waiting."""
    now = clock.now()
    async with in_transaction() as conn:
        desk, weights = await _lock_desk_for_call(conn, office, desk_name)
        busy, heads = await _busy_and_heads(conn, office.id, desk, weights, now)
        if busy:
            raise conflict(
                "desk_busy",
                f"La ventanilla {desk['name']} ya tiene un turno llamado o en atención: "
                "finalícelo, márquelo como ausente o transfiéralo antes de llamar otro.",
            )
        if not weights:
            return None
        decision = policy.choose_next(
            [_candidate(row) for row in heads.values()],
            now=now, weights=weights, preferential_streak=desk["preferential_streak"], config=config.policy,
        )
        if decision is None:
            return None
        head = heads[decision.candidate.ticket_id]
        rows = await conn.execute_query_dict(
            placeholders(
                "UPDATE ticket SET status = ?, desk_id = ?, called_at = ? WHERE id = ? AND status = ? RETURNING *"
            ),
            [TicketStatus.CALLED.value, desk["id"], now, head["id"], TicketStatus.WAITING.value],
        )
        if not rows:  # cannot happen while the row is locked; never call a ticket twice
            raise conflict("ticket_not_callable", "El turno ya no está en espera.")
        await _insert_event(conn, head["id"], "called", now, desk["id"], actor.user_id)
        if decision.preferential_streak != desk["preferential_streak"]:
            await conn.execute_query_dict(
                placeholders("UPDATE desk SET preferential_streak = ? WHERE id = ?"),
                [decision.preferential_streak, desk["id"]],
            )
    ticket = Ticket._init_from_db(**rows[0])
    view = _view(ticket, office, head["service_code"], head["service_name"], desk["name"])
    await _publish_call(office, "ticket.called", view)
    return view


async def find_waiting_ticket(office: Office, ref: str) -> Ticket:
    """A waiting ticket of this office by public id or by today's number (`C-023`)."""
    today = clock.local_day(clock.now(), office.timezone)
    ticket = None
    if can_match(Ticket, "public_id", ref):
        ticket = await Ticket.filter(office_id=office.id, public_id=ref).first()
    if ticket is None and can_match(Ticket, "number", ref.upper()):
        ticket = (
            await Ticket.filter(office_id=office.id, day=today, number=ref.upper())
            .order_by("-hop")
            .first()
        )
    if ticket is None:
        raise not_found("ticket_not_found", f"No existe el turno {ref!r} en {office.code}.")
    return ticket


async def call_ticket(office: Office, desk_name: str, ref: str, actor: Principal, config: QueueConfig) -> dict:
    """Call one particular waiting ticket out of order."""
    desk = await get_desk(office, desk_name)
    target = await find_waiting_ticket(office, ref)
    now = clock.now()
    async with in_transaction():
        desk = await _lock_open_desk(desk.id)
        ticket = await Ticket.filter(id=target.id).select_for_update().get()
        if ticket.status != TicketStatus.WAITING:
            raise conflict(
                "ticket_not_callable", f"El turno {ticket.number} no está en espera ({ticket.status.value})."
            )
        await _mark_called(ticket, desk, now, actor, "called_out_of_order")
    view = await ticket_view(ticket, office, config)
    await _publish_call(office, "ticket.called", view)
    return view


# ---------------------------------------------------------------- ticket actions


async def get_ticket(public: str) -> Ticket:
    ticket = (
        # Service and desk come along in the same query: the view needs them.
        await Ticket.get_or_none(public_id=public).select_related("office", "service", "desk")
        if can_match(Ticket, "public_id", public) else None
    )
    if ticket is None:
        raise not_found("ticket_not_found", "No existe ese turno.")
    return ticket


async def public_ticket_view(public: str, config: QueueConfig) -> dict:
    """The ticket as the citizen sees it; a transferred ticket shows where it went."""
    ticket = await get_ticket(public)
    current = ticket
    if ticket.status == TicketStatus.TRANSFERRED:
        latest = await Ticket.filter(visit_id=ticket.visit_id).order_by("-hop").first()
        if latest is not None:
            current = latest
    view = await ticket_view(current, ticket.office, config)
    if current.id != ticket.id:
        view["transferred_from"] = ticket.public_id
    return view


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


async def finish(ticket: Ticket, actor: Principal, config: QueueConfig) -> dict:
    """Finish the service; in a multi-step visit, the next step's queue gets the ticket."""
    office = ticket.office
    now = clock.now()
    next_service = None
    if ticket.flow_service_id is not None:
        flow = await Service.get(id=ticket.flow_service_id)
        steps = list(flow.steps or [])
        if ticket.step_index + 1 < len(steps):
            next_service = await offered_service(office, steps[ticket.step_index + 1])
    status = TicketStatus.TRANSFERRED if next_service else TicketStatus.DONE
    async with in_transaction() as conn:
        # One conditional UPDATE both checks and makes the transition (a concurrent
        # change waits for the row lock, then the condition is re-checked).
        rows = await conn.execute_query_dict(
            placeholders(
                "UPDATE ticket SET status = ?, started_at = COALESCE(started_at, called_at), finished_at = ?"
                f" WHERE id = ? AND status IN ({', '.join('?' * len(_TRANSITIONS['finish']))}) RETURNING *"
            ),
            [status.value, now, ticket.id, *(s.value for s in _TRANSITIONS["finish"])],
        )
        if not rows:
            _check_transition(await Ticket.get(id=ticket.id), "finish")
            raise conflict("invalid_transition", f"No se puede finalizar el turno {ticket.number}.")
        locked = Ticket._init_from_db(**rows[0])
        _carry_relations(ticket, locked)
        await _insert_event(conn, locked.id, "finished", now, locked.desk_id, actor.user_id)
        nxt = None
        if next_service is not None:
            nxt = await _enqueue_next_hop(
                locked, next_service, now, actor, reason="next_step",
                flow_service_id=locked.flow_service_id, step_index=locked.step_index + 1,
            )
    await _publish_queue_changed(office)
    view = await ticket_view(locked, office, config)
    view["next"] = await ticket_view(nxt, office, config) if nxt else None
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


# ---------------------------------------------------------------- day close


def closing_time(office: Office, day: date) -> time | None:
    """The office's last closing time on `day`, from its opening hours; None if closed."""
    spans = (office.opening_hours or {}).get(_WEEKDAYS[day.weekday()]) or []
    ends = [time.fromisoformat(end) for _start, end in spans]
    return max(ends) if ends else None


def day_is_over(office: Office, day: date, now: datetime, grace: timedelta) -> bool:
    """Whether tickets of `day` still waiting should be cancelled at `now`."""
    tz = ZoneInfo(office.timezone)
    local_now = now.astimezone(tz)
    if day < local_now.date():
        return True
    if day > local_now.date():
        return False
    close = closing_time(office, day)
    if close is None:
        return False  # a day with no hours (special opening): closed by the next day's sweep
    return local_now >= datetime.combine(day, close, tz) + grace


async def close_day(office: Office, config: QueueConfig, now: datetime | None = None) -> int:
    """Cancel the office's tickets still waiting after its day is over; returns how many."""
    now = now or clock.now()
    days = await Ticket.filter(office_id=office.id, status=TicketStatus.WAITING).distinct().values_list("day", flat=True)
    over = [d for d in days if day_is_over(office, d, now, config.day_close_grace)]
    if not over:
        return 0
    cancelled = 0
    async with in_transaction():
        stale = await Ticket.filter(
            office_id=office.id, status=TicketStatus.WAITING, day__in=over
        ).select_for_update()
        for ticket in stale:
            ticket.status, ticket.finished_at = TicketStatus.CANCELLED, now
            await ticket.save(update_fields=["status", "finished_at"])
            await TicketEvent.create(ticket=ticket, kind="cancelled", at=now, data={"reason": "day_closed"})
            cancelled += 1
    if cancelled:
        await _publish_queue_changed(office)
    return cancelled


async def close_all_days(config: QueueConfig, now: datetime | None = None) -> int:
    total = 0
    for office in await Office.filter(active=True):
        total += await close_day(office, config, now)
    return total


# ---------------------------------------------------------------- events


async def _publish_call(office: Office, kind: str, view: dict) -> None:
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


async def _publish_queue_changed(office: Office) -> None:
    await publish_office_event(office.code, {"type": "queue.changed"})

