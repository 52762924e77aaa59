"""Calling tickets to a desk: call-next by the policy (the hot path) and a call out of
order. Each call claims the ticket, writes its audit event and, for a ticket with a
phone, its "es su turno" outbox row, in one transaction; the bus event goes out after
commit."""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from turnero.core import clock, hooks
from turnero.core.auth import Principal
from turnero.core.db import db_datetime, is_postgres, model_from_row, placeholders
from turnero.core.errors import conflict, not_found
from turnero.core.models import Office, Service
from turnero.core.service import can_match
from turnero.queue import policy
from turnero.queue.config import QueueConfig
from turnero.queue.desks import _lock_open_desk, get_desk
from turnero.queue.events import _insert_event, _publish_call
from turnero.queue.models import (
    ACTIVE_AT_DESK,
    Desk,
    DeskStatus,
    Lane,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from turnero.queue.sql import _connection, _sql_text
from turnero.queue.views import TicketRow, _view, ticket_view

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
    regular while the streak is below `ratio`, and after it the earliest arrival of
    either lane (each by arrival).
    PostgreSQL (the engine's) in exact intervals; `sqlite` in milliseconds of SQLite's
    date functions (for the test that holds both equal to the policy on SQLite too).
    tests/api/test_call_next_sql.py checks they agree."""
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
        f" CASE WHEN {walk_in} AND {h}.lane = 'preferential' AND {streak} < {ratio} THEN 0 ELSE 1 END,"
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
    """TicketCalled for a ticket with a phone, on `conn`, the call's own transaction: its
    reactions ("es su turno: ventanilla N", an outbox row) commit with the call."""
    if row["phone"]:
        await hooks.emit(conn, hooks.TicketCalled(row["id"], row["number"], row["phone"], office, desk_name,
                                                  service_code))


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
