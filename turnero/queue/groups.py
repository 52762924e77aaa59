"""Groups (issue 20): the minors a tutor brings, on the tutor's cita and/or ticket.

A group takes 1 + len(members) places through the ordinary place-taking code (the
cita's `party_size`), so it can never overbook a slot. Members are written in the
caller's transaction, next to the cita or ticket and its audit event (which records
how many, never names). Only staff see them (the desk's current ticket); public views
never do.

Anti-hoarding: a minor's document counts like a cita of their own on the same service
and day — one minor cannot be in two active citas' groups for the same trámite on the
same day (409 `member_already_booked`). The check runs after the group's rows are
written, in the same transaction: on SQLite the transaction holds the write lock by
then; on PostgreSQL a transaction-scoped advisory lock per document serialises two
bookings naming the same minor."""

from __future__ import annotations

from datetime import date

from turnero.core.db import is_postgres, placeholders
from turnero.core.errors import conflict
from turnero.queue.schemas import GroupMemberIn

_ACTIVE_CITA = "('booked', 'checked_in')"  # scheduler's active statuses (its partial unique index)


def _key(service_id: int, day: date, document_type: str, document: str) -> str:
    return f"group:{service_id}:{day.isoformat()}:{document_type}:{document}"


async def add(conn, members: list[GroupMemberIn], *, service_id: int, day: date,
              appointment_id: int | None = None, ticket_id: int | None = None) -> None:
    """Write the group's rows (in the caller's transaction); with an appointment, the
    anti-hoarding check of its minors."""
    if not members:
        return
    if appointment_id is not None:
        await _lock(conn, service_id, day, [(m.document_type, m.document) for m in members])
    rows = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(members))
    values: list = []
    for i, m in enumerate(members):
        values += [i, m.name, m.document, m.document_type, m.age, day, service_id, appointment_id, ticket_id]
    await conn.execute_query(placeholders(
        'INSERT INTO group_member ("position", "name", "document", "document_type", "age", "day", "service_id",'
        f' "appointment_id", "ticket_id") VALUES {rows}'), values)
    if appointment_id is not None:
        await _check(conn, service_id, day, [m.document for m in members], appointment_id)


async def move(conn, appointment_id: int, service_id: int, day: date) -> None:
    """A rescheduled cita's minors go with it to its new day, checked there again."""
    rows = await conn.execute_query_dict(placeholders(
        'UPDATE group_member SET "day" = ? WHERE appointment_id = ? RETURNING "document", "document_type"'),
        [day, appointment_id])
    if rows:
        await _lock(conn, service_id, day, [(r["document_type"], r["document"]) for r in rows])
        await _check(conn, service_id, day, [r["document"] for r in rows], appointment_id)


async def _lock(conn, service_id: int, day: date, documents: list[tuple[str, str]]) -> None:
    if is_postgres():  # SQLite: the writing transaction already excludes every other writer
        for key in sorted(_key(service_id, day, *doc) for doc in documents):
            await conn.execute_query("SELECT pg_advisory_xact_lock(hashtext($1))", [key])


async def _check(conn, service_id: int, day: date, documents: list[str], appointment_id: int) -> None:
    marks = ", ".join(["?"] * len(documents))
    taken = await conn.execute_query_dict(placeholders(
        "SELECT g.document FROM group_member g JOIN appointment a ON a.id = g.appointment_id"
        f" WHERE g.service_id = ? AND g.day = ? AND g.document IN ({marks}) AND g.appointment_id <> ?"
        f" AND a.status IN {_ACTIVE_CITA} LIMIT 1"), [service_id, day, *documents, appointment_id])
    if taken:
        raise conflict(
            "member_already_booked",
            f"El menor con documento {taken[0]['document']} ya está en el grupo de otra cita para este trámite "
            "ese día.")


async def link_ticket(conn, appointment_id: int, ticket_id: int) -> int:
    """The check-in ticket carries its cita's members; returns how many."""
    rows = await conn.execute_query_dict(
        placeholders("UPDATE group_member SET ticket_id = ? WHERE appointment_id = ? RETURNING id"),
        [ticket_id, appointment_id])
    return len(rows)


def _view(rows: list[dict]) -> list[dict]:
    return [{"name": r["name"], "document": r["document"], "document_type": r["document_type"], "age": r["age"]}
            for r in rows]


async def of_visit(conn, visit_id: str) -> list[dict]:
    """The members of a visit (any hop of its tickets: a transfer keeps the group), for staff."""
    return _view(await conn.execute_query_dict(placeholders(
        'SELECT g."name", g."document", g."document_type", g."age" FROM group_member g'
        ' JOIN ticket t ON t.id = g.ticket_id WHERE t.visit_id = ? ORDER BY g.id'), [visit_id]))


async def of_appointment(conn, appointment_id: int) -> list[dict]:
    return _view(await conn.execute_query_dict(placeholders(
        'SELECT "name", "document", "document_type", "age" FROM group_member WHERE appointment_id = ?'
        ' ORDER BY id'), [appointment_id]))
