"""Queue operations: issue, call, recall, start, finish, no-show, transfer, desks, day close.

Each operation is one database transaction that also writes its audit event; the bus
event goes out after commit. Routes call these and never hold the rules themselves.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from turnero.core import clock, metrics
from turnero.core.auth import Principal
from turnero.core.db import db_datetime, is_postgres, model_from_row, placeholders, select_columns
from turnero.core.errors import conflict, invalid, not_found
from turnero.core.ids import public_id
from turnero.core.models import Office, Role, Service, User
from turnero.core.service import can_match, offered_service
from turnero.displays.bus import coalesced, publish_office_event
from turnero.queue import eta, eta_service, policy, waiting
from turnero.queue.models import (
    ACTIVE_AT_DESK,
    Desk,
    DeskEvent,
    DeskStatus,
    Lane,
    Priority,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from turnero.settings import Settings

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class QueueConfig:
    policy: policy.PolicyConfig = policy.PolicyConfig()
    day_close_grace: timedelta = timedelta(minutes=60)
    # Waits of waiting tickets from the queue played forward (eta_service) instead of
    # the position-based figure; the running service turns it on.
    predict_waits: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "QueueConfig":
        return cls(
            policy=policy.PolicyConfig(
                preferential_ratio=max(1, settings.preferential_ratio),
                regular_max_wait=timedelta(minutes=settings.regular_max_wait_minutes),
            ),
            day_close_grace=timedelta(minutes=settings.day_close_grace_minutes),
            predict_waits=settings.predict_waits,
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


class TicketRow(dict):
    """A ticket row read by raw SQL on PostgreSQL (values already typed), readable by
    attribute like the model, for _view on the hot paths: building the model instance
    costs more than the view itself."""

    __getattr__ = dict.__getitem__


def _view(
    ticket: Ticket | TicketRow, office: Office, service_code: str, service_name: str, desk_name: str | None
) -> dict:
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
        "estimated_wait_low_minutes": None,
        "estimated_wait_high_minutes": None,
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
        await fill_wait(view, ticket, office, config)
    return view


async def fill_wait(view: dict, ticket: Ticket | TicketRow, office: Office, config: QueueConfig) -> dict:
    """A waiting ticket's place in its service's queue and its estimated wait, from the
    office's lines held in memory (waiting.py): no scan of the line."""
    office_lines = await waiting.office_lines(office.id)
    view["position"] = office_lines.position(ticket.id, clock.now(), config.policy.preferential_ratio)
    if config.predict_waits:
        minutes, span = await eta_service.wait_for_view(ticket, office, config.policy)
        view["estimated_wait_minutes"] = minutes
        if span is not None:
            view["estimated_wait_low_minutes"], view["estimated_wait_high_minutes"] = span
    elif view["position"] is not None:
        # The position-based figure: the line shared among the open desks — or, with none
        # open, among the desks expected, counted from when the first is expected.
        estimate = await eta_service.current_estimate(office, config.policy)
        open_desks = estimate.open_desks.get(ticket.service_id, 0)
        view["estimated_wait_minutes"] = policy.estimate_wait_minutes(
            view["position"], open_desks, estimate.minutes.get(ticket.service_id, eta.DEFAULT_PRIOR_MINUTES))
        opens_at = estimate.opens_at.get(ticket.service_id)
        if not open_desks and opens_at is not None:
            view["estimated_wait_minutes"] += max(0, math.ceil((opens_at - clock.now()).total_seconds() / 60))
    return view


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
            [*values.values(), prefix, values["office_id"], values["day"], user_id, _json(event)],
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


async def publish_queue_changed(office: Office) -> None:
    await _publish_queue_changed(office)


# ---------------------------------------------------------------- desks


async def get_desk(office: Office, name: str) -> Desk:
    desk = await Desk.get_or_none(office_id=office.id, name=name) if can_match(Desk, "name", name) else None
    if desk is None:
        raise not_found("desk_not_found", f"No existe la ventanilla {name!r} en {office.code}.")
    return desk


async def _check_desk_holder(desk: Desk, actor: Principal, take_over: bool) -> bool:
    """Opening `desk`: a desk held by another login (open or paused) is refused with 409
    `desk_in_use`, unless a supervisor or admin takes it over explicitly (True: to be
    audited); an operator holds one desk at a time (409 `already_at_desk`, naming it).
    Runs under the desk's row lock, and the operator's user row lock (PostgreSQL)."""
    taken_over = False
    if desk.status != DeskStatus.CLOSED and desk.operator_id is not None and desk.operator_id != actor.user_id:
        if not (take_over and actor.role in (Role.SUPERVISOR, Role.ADMIN)):
            holder = await User.filter(id=desk.operator_id).values_list("username", flat=True)
            who = f" por {holder[0]}" if holder else ""
            raise conflict(
                "desk_in_use",
                f"La ventanilla {desk.name} está en uso{who}. Debe cerrarla quien la atiende, "
                "o un supervisor puede tomarla.",
            )
        taken_over = True
    if actor.role == Role.OPERATOR:
        other = await (
            Desk.filter(operator_id=actor.user_id, status__not=DeskStatus.CLOSED).exclude(id=desk.id)
            .values_list("name", flat=True)
        )
        if other:
            raise conflict(
                "already_at_desk",
                f"Usted ya atiende la ventanilla {other[0]}: ciérrela antes de abrir otra.",
            )
    return taken_over


async def set_desk_status(office: Office, desk_name: str, status: DeskStatus, actor: Principal,
                          take_over: bool = False) -> dict:
    desk = await get_desk(office, desk_name)
    now = clock.now()
    async with in_transaction():
        if status == DeskStatus.OPEN and actor.role == Role.OPERATOR:
            # One desk per operator: concurrent opens by one login queue up on its row.
            await User.filter(id=actor.user_id).select_for_update().first()
        desk = await Desk.filter(id=desk.id).select_for_update().get()
        if status == DeskStatus.OPEN and await _check_desk_holder(desk, actor, take_over):
            await DeskEvent.create(desk=desk, kind="taken_over", at=now, user_id=actor.user_id)
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
    waiting.desks_changed(office.id)
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


# Call-next is the hot path. On PostgreSQL it is one statement (_call_next_statement)
# in a short transaction that also writes the called ticket's "es su turno" outbox row
# when it has a phone: row locks held for a round trip or two. On SQLite, where BEGIN
# IMMEDIATE already excludes every other writer and no row lock exists, the same steps
# run as plain statements in one write transaction (_desk_for_call, _heads, then
# policy.choose_next and _claim).


async def _desk_for_call(conn, office: Office, desk_name: str) -> tuple[dict, dict[int, int]]:
    """SQLite: the open desk and the services it serves ({service id: weight})."""
    rows = []
    if can_match(Desk, "name", desk_name):
        rows = await conn.execute_query_dict(
            placeholders(
                "SELECT d.id, d.name, d.status, d.preferential_streak, ds.service_id, ds.weight"
                " FROM desk d LEFT JOIN desk_service ds ON ds.desk_id = d.id"
                " WHERE d.office_id = ? AND d.name = ?"
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


async def _heads(conn, office_id: int, weights: dict[int, int], now: datetime) -> dict[int, dict]:
    """SQLite: the head of each line the desk could serve ({ticket id: row}), in one
    statement (no lock needed: the write transaction is exclusive)."""
    if not weights:
        return {}
    columns = "t.id, t.lane, t.service_id, t.arrived_at, t.due_at"
    waiting = _sql_text(TicketStatus.WAITING.value)
    parts: list[str] = []
    params: list = []

    def head(lane: Lane, service_id: int, condition: str = "", order: str = "t.arrived_at", values=()) -> None:
        parts.append(
            f"SELECT {columns} FROM ticket t"
            f" WHERE t.office_id = ? AND t.status = {waiting} AND t.lane = {_sql_text(lane.value)}"
            f" AND t.service_id = ?{condition} ORDER BY {order}, t.id LIMIT 1"
        )
        params.extend([office_id, service_id, *values])

    for service_id in sorted(weights):
        head(Lane.APPOINTMENT, service_id, " AND t.due_at <= ?", "t.due_at", [now])
        for lane in (Lane.PREFERENTIAL, Lane.REGULAR):
            head(lane, service_id)
    union = " UNION ALL ".join(f"SELECT * FROM ({part}) AS h{i}" for i, part in enumerate(parts))
    sql = (
        "SELECT h.*, s.code AS service_code, s.name AS service_name"
        f" FROM ({union}) AS h JOIN service s ON s.id = h.service_id"
    )
    return {r["id"]: r for r in await conn.execute_query_dict(placeholders(sql), params)}


_ACTIVE_SQL = "(" + ", ".join(_sql_text(s.value) for s in ACTIVE_AT_DESK) + ")"


def _desk_busy_error(desk_name: str):
    return conflict(
        "desk_busy",
        f"La ventanilla {desk_name} ya tiene un turno llamado o en atención: "
        "finalícelo, márquelo como ausente o transfiéralo antes de llamar otro.",
    )


async def _check_desk_free(conn, desk: dict) -> None:
    rows = await conn.execute_query_dict(
        placeholders(f"SELECT 1 AS busy FROM ticket WHERE desk_id = ? AND status IN {_ACTIVE_SQL} LIMIT 1"),
        [desk["id"]],
    )
    if rows:
        raise _desk_busy_error(desk["name"])


async def _claim(conn, desk: dict, ticket_id: int, streak: int, now: datetime, user_id: int) -> dict:
    """SQLite: call the ticket at the desk — the claim, its audit event and the desk's
    new preferential streak — unless the desk already has a ticket called or in
    service (desk_busy). The write transaction is exclusive, so the busy check can ride
    along with the claim. Returns the updated ticket row."""
    rows = await conn.execute_query_dict(
        "UPDATE ticket SET status = ?, desk_id = ?, called_at = ? WHERE id = ? AND status = ?"
        f" AND NOT EXISTS (SELECT 1 FROM ticket WHERE desk_id = ? AND status IN {_ACTIVE_SQL}) RETURNING *",
        [TicketStatus.CALLED.value, desk["id"], now, ticket_id, TicketStatus.WAITING.value, desk["id"]],
    )
    if not rows:
        await _check_desk_free(conn, desk)
        raise conflict("ticket_not_callable", "El turno ya no está en espera.")
    await _insert_event(conn, ticket_id, "called", now, desk["id"], user_id)
    if streak != desk["preferential_streak"]:
        await conn.execute_query_dict(
            "UPDATE desk SET preferential_streak = ? WHERE id = ?", [streak, desk["id"]]
        )
    return rows[0]


def _policy_order_sql(h: str, streak: str, cutoff: str, ratio: str, now: str, *,
                      sqlite: bool = False) -> tuple[str, str]:
    """policy.choose_next as SQL over candidate rows `h` (id, lane, arrived_at, due_at,
    weight): the ORDER BY whose first row is the ticket to call, and the desk's streak
    after calling it. Same rule order: due appointments by time; then walk-ins past
    their target (weighed wait ≥ now - `cutoff`), the longest weighed wait first, a
    preferential one on a tie; then the best tier, where preferential goes before
    regular while the streak is below `ratio` and after it otherwise, each by arrival.
    PostgreSQL (the engine's) in exact intervals; `sqlite` in milliseconds of SQLite's
    date functions (for the test that holds both equal to the policy on SQLite too).
    tests/test_call_next_sql.py checks they agree."""
    weight = f"(CASE WHEN {h}.lane = 'preferential' THEN {ratio} + 1 ELSE 1 END)"
    if sqlite:
        def elapsed(since: str) -> str:  # milliseconds from `since` to now
            return f"CAST(ROUND((julianday({now}) - julianday({since})) * 86400000) AS INTEGER)"
    else:
        def elapsed(since: str) -> str:
            return f"({now} - {since})"
    weighed = f"{elapsed(f'{h}.arrived_at')} * {weight}"
    appointment = f"{h}.lane = 'appointment'"
    overdue = f"(NOT {appointment} AND {weighed} >= {elapsed(cutoff)})"
    walk_in = f"NOT ({appointment} OR {overdue})"
    order = (
        f"CASE WHEN {appointment} THEN 0 WHEN {overdue} THEN 1 ELSE 2 END,"
        f" CASE WHEN {appointment} THEN {h}.due_at END,"
        f" CASE WHEN {overdue} THEN {weighed} END DESC,"
        f" CASE WHEN {overdue} AND {h}.lane = 'preferential' THEN 0 ELSE 1 END,"
        f" CASE WHEN {walk_in} THEN {h}.weight ELSE 0 END,"
        f" CASE WHEN {walk_in} AND ({h}.lane = 'preferential') <> ({streak} < {ratio}) THEN 1 ELSE 0 END,"
        f" {h}.arrived_at, {h}.id"
    )
    new_streak = (
        f"CASE WHEN {appointment} THEN {streak}"
        f" WHEN {h}.lane = 'preferential' THEN {streak} + 1 ELSE 0 END"
    )
    return order, new_streak


def _call_next_statement() -> str:
    """PostgreSQL: call-next in one statement. Parameters: $1 office id, $2 desk name,
    $3 now, $4 the overdue cutoff (now - regular_max_wait), $5 preferential ratio,
    $6 user id, $7 whether a ticket with a phone may be called (the statement runs in
    a transaction that will also write its "es su turno" outbox row).

    d: the desk, locked, but only in the version this statement's snapshot sees (its
    xmin): every call at a desk rewrites the desk row (u here, and call_ticket), so a
    concurrent call at the same desk that committed after the snapshot makes d empty
    and the caller runs the statement again with a fresh snapshot — the busy check
    below can then trust the snapshot. h: the head of each of the desk's lines (per
    service and lane), locked with SKIP LOCKED so concurrent desks take the next ones;
    FOR UPDATE re-checks each head's latest version, so one called meanwhile is
    skipped. pick: the policy's choice among them; t, e, u: the claim, its audit event
    and the desk's new streak. Without $7 a picked ticket with a phone is not claimed
    (nothing is written; q_pick_id tells the caller to call again in a transaction).
    Statuses and lanes are literals, so the statement's text never changes and
    PostgreSQL keeps one plan for it."""
    order, new_streak = _policy_order_sql("h", "d.preferential_streak", "$4::timestamptz", "$5", "$3::timestamptz")

    def head(lane: Lane, condition: str = "", order_by: str = "t.arrived_at") -> str:
        return (
            "SELECT * FROM (SELECT t.id, t.lane, t.service_id, t.arrived_at, t.due_at FROM ticket t"
            f" WHERE t.office_id = $1 AND t.status = 'waiting' AND t.lane = {_sql_text(lane.value)}"
            f" AND t.service_id = ds.service_id{condition}"
            f" ORDER BY {order_by}, t.id LIMIT 1 FOR UPDATE SKIP LOCKED) AS {lane.value}"
        )

    lines = " UNION ALL ".join(
        [head(Lane.APPOINTMENT, " AND t.due_at <= $3", "t.due_at"), head(Lane.PREFERENTIAL), head(Lane.REGULAR)]
    )
    return (
        "WITH d0 AS MATERIALIZED (SELECT id, xmin AS version FROM desk WHERE office_id = $1 AND name = $2),"
        " d AS MATERIALIZED (SELECT desk.id, desk.name, desk.status, desk.preferential_streak FROM desk"
        "  WHERE desk.id = (SELECT id FROM d0) AND desk.xmin = (SELECT version FROM d0) FOR UPDATE),"
        " busy AS MATERIALIZED (SELECT EXISTS (SELECT 1 FROM ticket"
        f"  WHERE desk_id = (SELECT id FROM d) AND status IN {_ACTIVE_SQL}) AS busy),"
        " h AS MATERIALIZED (SELECT h.*, ds.weight FROM d JOIN desk_service ds ON ds.desk_id = d.id"
        f"  CROSS JOIN LATERAL ({lines}) AS h"
        "  WHERE d.status = 'open' AND NOT (SELECT busy FROM busy)),"
        f" pick AS MATERIALIZED (SELECT h.id, {new_streak} AS streak FROM h CROSS JOIN d ORDER BY {order} LIMIT 1),"
        " t AS (UPDATE ticket SET status = 'called', desk_id = (SELECT id FROM d), called_at = $3 FROM pick"
        "  WHERE ticket.id = pick.id AND ticket.status = 'waiting' AND ($7::boolean OR ticket.phone IS NULL)"
        "  RETURNING ticket.*),"
        " e AS (INSERT INTO ticket_event (ticket_id, kind, at, desk_id, user_id, data)"
        "  SELECT id, 'called', $3::timestamptz, desk_id, $6::int, '{}'::jsonb FROM t),"
        " u AS (UPDATE desk SET preferential_streak = pick.streak FROM pick"
        "  WHERE desk.id = (SELECT id FROM d) AND EXISTS (SELECT 1 FROM t))"
        " SELECT (SELECT id FROM d0) AS q_desk_id, d.name AS q_desk_name, d.status AS q_desk_status,"
        "  (SELECT busy FROM busy) AS q_desk_busy, (SELECT id FROM pick) AS q_pick_id,"
        "  s.code AS q_service_code, s.name AS q_service_name, t.*"
        " FROM (SELECT 1) AS one LEFT JOIN d ON TRUE LEFT JOIN t ON TRUE LEFT JOIN service s ON s.id = t.service_id"
    )


_CALL_NEXT_SQL: str | None = None
_CALL_NEXT_ATTEMPTS = 20  # each retry follows a change at this very desk: a few at most
# Per office id: whether the last ticket called here had a phone (call_next then starts
# in a transaction, where its outbox row can be written).
_phones_at: dict[int, bool] = {}


_NEEDS_TRANSACTION = object()  # _call_next_postgres: the ticket to call has a phone


async def _call_next_postgres(office: Office, desk_name: str, actor: Principal, config: QueueConfig,
                              now: datetime, with_phone: bool) -> tuple[dict, str, str] | None | object:
    """PostgreSQL: (ticket row, service code, service name) of the ticket called, or
    None when nobody the desk serves is waiting. Without `with_phone`, a ticket with a
    phone is not called: _NEEDS_TRANSACTION then says to call again in a transaction
    that also writes its outbox row."""
    global _CALL_NEXT_SQL
    if _CALL_NEXT_SQL is None:
        _CALL_NEXT_SQL = _call_next_statement()
    if not can_match(Desk, "name", desk_name):
        raise not_found("desk_not_found", f"No existe la ventanilla {desk_name!r} en {office.code}.")
    params = [office.id, desk_name, now, now - config.policy.regular_max_wait,
              max(1, config.policy.preferential_ratio), actor.user_id, with_phone]
    for _attempt in range(_CALL_NEXT_ATTEMPTS):
        row = (await _connection().execute_query_dict(_CALL_NEXT_SQL, params))[0]
        if row["q_desk_id"] is None:
            raise not_found("desk_not_found", f"No existe la ventanilla {desk_name!r} en {office.code}.")
        if row["q_desk_name"] is not None:
            break
        # The desk changed after this statement's snapshot was taken: read it afresh.
    else:
        raise conflict("desk_busy", f"La ventanilla {desk_name} está ocupada en otra operación; reintente.")
    if row["q_desk_status"] != DeskStatus.OPEN.value:
        raise conflict("desk_not_open", f"La ventanilla {row['q_desk_name']} no está abierta.")
    if row["q_desk_busy"]:
        raise _desk_busy_error(row["q_desk_name"])
    if row["id"] is None:
        return _NEEDS_TRANSACTION if row["q_pick_id"] is not None and not with_phone else None
    return row, row.pop("q_service_code"), row.pop("q_service_name")


def _candidate(row: dict) -> policy.Candidate:
    return policy.Candidate(
        row["id"], row["lane"], row["service_id"], db_datetime(row["arrived_at"]), db_datetime(row["due_at"])
    )


async def _insert_event(conn, ticket_id: int, kind: str, at: datetime, desk_id: int | None,
                        user_id: int | None, data: dict | None = None) -> None:
    await conn.execute_query_dict(
        placeholders(
            "INSERT INTO ticket_event (ticket_id, kind, at, desk_id, user_id, data) VALUES (?, ?, ?, ?, ?, ?)"
        ),
        [ticket_id, kind, at, desk_id, user_id, _json(data or {})],
    )


def _json(data: dict) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


async def _mark_called(ticket: Ticket, desk: Desk, now: datetime, actor: Principal, kind: str) -> None:
    updated = await Ticket.filter(id=ticket.id, status=TicketStatus.WAITING).update(
        status=TicketStatus.CALLED, desk_id=desk.id, called_at=now
    )
    if updated != 1:  # cannot happen while the row is locked; never call a ticket twice
        raise conflict("ticket_not_callable", f"El turno {ticket.number} ya no está en espera.")
    ticket.status, ticket.desk_id, ticket.called_at = TicketStatus.CALLED, desk.id, now
    # A new version of the desk row: a one-statement call-next at this desk that took
    # its snapshot before this commit then re-reads (see _call_next_statement).
    await Desk.filter(id=desk.id).update(preferential_streak=desk.preferential_streak)
    await TicketEvent.create(ticket_id=ticket.id, kind=kind, at=now, desk_id=desk.id, user_id=actor.user_id)


async def _notify_called(conn, row, office: Office, desk_name: str, service_code: str | None) -> None:
    """"es su turno: ventanilla N" for a ticket with a phone: an outbox row written on
    `conn`, the call's own transaction (notifications sends it later)."""
    if row["phone"]:
        from turnero.notifications.service import notify_called

        await notify_called(conn, ticket_id=row["id"], number=row["number"], phone=row["phone"], office=office,
                            desk_name=desk_name, service_code=service_code)


async def call_next(office: Office, desk_name: str, actor: Principal, config: QueueConfig) -> dict | None:
    """Call the next ticket for a desk; None when nobody it serves is waiting."""
    now = clock.now()
    if is_postgres():
        # The one statement is atomic on its own: without a phone (no outbox row) it
        # runs alone, no BEGIN/COMMIT round trips. A ticket with a phone is called in a
        # transaction that also writes its "es su turno" message, so both commit
        # together (docs/architecture.md): straight away where the last call here had a phone,
        # else after the lone statement found one (and claimed nothing).
        called = _NEEDS_TRANSACTION
        if not _phones_at.get(office.id):
            called = await _call_next_postgres(office, desk_name, actor, config, now, with_phone=False)
        if called is _NEEDS_TRANSACTION:
            async with in_transaction() as conn:
                called = await _call_next_postgres(office, desk_name, actor, config, now, with_phone=True)
                if called is not None:
                    await _notify_called(conn, called[0], office, called[0]["q_desk_name"], called[1])
        if called is None:
            return None
        row, service_code, service_name = called
        _phones_at[office.id] = bool(row["phone"])
        desk_name = row.pop("q_desk_name")
        for key in ("q_desk_id", "q_desk_status", "q_desk_busy", "q_pick_id"):
            row.pop(key)
    else:
        async with in_transaction() as conn:
            desk, weights = await _desk_for_call(conn, office, desk_name)
            heads = await _heads(conn, office.id, weights, now)
            decision = policy.choose_next(
                [_candidate(row) for row in heads.values()],
                now=now, weights=weights, preferential_streak=desk["preferential_streak"], config=config.policy,
            )
            if decision is None:
                await _check_desk_free(conn, desk)  # a busy desk is told so, not "nobody waiting"
                return None
            head = heads[decision.candidate.ticket_id]
            row = await _claim(conn, desk, head["id"], decision.preferential_streak, now, actor.user_id)
            service_code, service_name, desk_name = head["service_code"], head["service_name"], desk["name"]
            await _notify_called(conn, row, office, desk_name, service_code)
    ticket = TicketRow(row) if is_postgres() else model_from_row(Ticket, row)
    view = _view(ticket, office, service_code, service_name, desk_name)
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
    async with in_transaction() as conn:
        desk = await _lock_open_desk(desk.id)
        ticket = await Ticket.filter(id=target.id).select_for_update().get()
        if ticket.status != TicketStatus.WAITING:
            raise conflict(
                "ticket_not_callable", f"El turno {ticket.number} no está en espera ({ticket.status.value})."
            )
        await _mark_called(ticket, desk, now, actor, "called_out_of_order")
        if ticket.phone:
            service_code = await Service.filter(id=ticket.service_id).first().values_list("code", flat=True)
            await _notify_called(conn, {"id": ticket.id, "number": ticket.number, "phone": ticket.phone},
                                 office, desk.name, service_code)
    view = await ticket_view(ticket, office, config)
    await _publish_call(office, "ticket.called", view)
    return view


# ---------------------------------------------------------------- ticket actions


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

