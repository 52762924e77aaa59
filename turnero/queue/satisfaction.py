"""How citizens rated their visits (issue 20, satisfaction): 1 (muy mal) to 5 (muy bien).

A visit is rated once, when it is over: the rating goes on the visit's last ticket, which
must be `done` (409 `ticket_not_finished` otherwise), and a second rating of the same
ticket is refused (409 `already_rated`) — a rating cannot be changed. Three ways in:
the citizen's ticket page (`page`), a 1–5 reply to the survey SMS (`sms`, the sender's
latest finished unrated ticket of the last 24 h) and the tablet facing the citizen at the
desk (`desk`, a ticket that desk finished in the last few minutes). Each rating copies the
ticket's office, service, desk and operator (who finished it) and writes a `rated` audit
event in the same transaction.

`summarise` and `score_from_reply` are pure; reports group the ratings per service and
per operator (staff only), the public figures give the office's average and count only."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from datetime import date, timedelta

from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.db import db_datetime, placeholders
from turnero.core.errors import ApiError, conflict, invalid, not_found
from turnero.core.models import Office
from turnero.queue import actions
from turnero.queue.models import Desk, RatingChannel, SatisfactionRating, Ticket, TicketEvent, TicketStatus

SCORES = (1, 2, 3, 4, 5)
SCORE_LABELS = {1: "Muy mal", 2: "Mal", 3: "Regular", 4: "Bien", 5: "Muy bien"}
SMS_WINDOW = timedelta(hours=24)  # a reply rates a ticket finished at most this long ago
DESK_WINDOW = timedelta(minutes=5)  # the desk's tablet offers the buttons this long after a finish
REPORT_DAYS = 30  # the default report period, and the public average's
MAX_REPORT_DAYS = 366


# ---------------------------------------------------------------- pure


def score_from_reply(body: str) -> int | None:
    """The score in an SMS reply: one digit 1–5, alone but for spaces and punctuation
    ("4", " 5. ", "*3*"); None for anything else ("10", "4 o 5", "CANCELAR")."""
    digits = re.findall(r"[0-9]+", body or "")
    rest = re.sub(r"[0-9\s.,;:!¡?¿*#'\"()-]", "", body or "")
    if len(digits) != 1 or rest or len(digits[0]) != 1:
        return None
    score = int(digits[0])
    return score if score in SCORES else None


def summarise(scores: Iterable[int]) -> dict:
    """Count, average (two decimals, None without ratings) and how many gave each score."""
    distribution = {str(s): 0 for s in SCORES}
    total = count = 0
    for score in scores:
        distribution[str(score)] += 1
        total += score
        count += 1
    return {"count": count, "average": round(total / count, 2) if count else None, "distribution": distribution}


def report_figures(rows: Iterable[tuple[str, str | None, int]]) -> dict:
    """(service code, operator's name or None, score) rows -> the whole, per service and
    per operator (a rating of a ticket no operator finished counts in the whole only)."""
    rows = list(rows)
    by_service: dict[str, list[int]] = {}
    by_operator: dict[str, list[int]] = {}
    for code, operator, score in rows:
        by_service.setdefault(code, []).append(score)
        if operator:
            by_operator.setdefault(operator, []).append(score)
    return {
        "all": summarise(score for _, _, score in rows),
        "by_service": {code: summarise(scores) for code, scores in sorted(by_service.items())},
        "by_operator": {name: summarise(scores) for name, scores in sorted(by_operator.items())},
    }


# ---------------------------------------------------------------- rating


def _check_score(score: int) -> None:
    if not isinstance(score, int) or isinstance(score, bool) or score not in SCORES:
        raise invalid("Datos inválidos — puntuación (score): debe ser un número entero del 1 al 5")


async def _record(conn, ticket: Ticket, score: int, channel: RatingChannel, user_id: int | None) -> dict:
    """Write the rating and its audit event on `conn` (the caller's transaction)."""
    if ticket.status != TicketStatus.DONE:
        raise conflict("ticket_not_finished",
                       f"El turno {ticket.number} todavía no terminó: se valora al terminar la atención.")
    finished_by = await TicketEvent.filter(ticket_id=ticket.id, kind="finished").using_db(conn).order_by(
        "-at").values_list("user_id", flat=True)
    now = clock.now()
    rows = await conn.execute_query_dict(
        placeholders(
            "INSERT INTO satisfaction_rating (ticket_id, office_id, service_id, desk_id, operator_id, score,"
            " channel, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (ticket_id) DO NOTHING RETURNING id"
        ),
        [ticket.id, ticket.office_id, ticket.service_id, ticket.desk_id, finished_by[0] if finished_by else None,
         score, channel.value, now],
    )
    if not rows:
        raise conflict("already_rated", f"El turno {ticket.number} ya fue valorado. ¡Gracias!")
    await conn.execute_query(
        placeholders("INSERT INTO ticket_event (ticket_id, kind, at, desk_id, user_id, data) VALUES (?, ?, ?, ?, ?, ?)"),
        [ticket.id, "rated", now, ticket.desk_id, user_id,
         json.dumps({"score": score, "channel": channel.value}, separators=(",", ":"))],
    )
    return {"ticket": ticket.public_id, "number": ticket.number, "score": score, "channel": channel.value,
            "label": SCORE_LABELS[score], "created_at": clock.iso(now)}


async def visit_ticket(public: str) -> Ticket:
    """The ticket a public id rates: the visit's last ticket (a transferred one's latest hop)."""
    ticket = await actions.get_ticket(public)
    if ticket.status == TicketStatus.TRANSFERRED:
        latest = await Ticket.filter(visit_id=ticket.visit_id).order_by("-hop").first()
        if latest is not None:
            ticket = latest
    return ticket


async def rate_ticket(public: str, score: int, channel: RatingChannel = RatingChannel.PAGE) -> dict:
    """The citizen's rating from the ticket page (the unguessable public id is the key)."""
    _check_score(score)
    ticket = await visit_ticket(public)
    async with in_transaction() as conn:
        return await _record(conn, ticket, score, channel, None)


async def score_of(public: str) -> int | None:
    """The score a ticket (by public id) was given, None when not rated."""
    scores = await SatisfactionRating.filter(ticket__public_id=public).values_list("score", flat=True)
    return scores[0] if scores else None


async def is_rated(ticket_id: int) -> bool:
    return await SatisfactionRating.exists(ticket_id=ticket_id)


async def rated_ticket_ids(ticket_ids: list[int]) -> set[int]:
    if not ticket_ids:
        return set()
    return set(await SatisfactionRating.filter(ticket_id__in=ticket_ids).values_list("ticket_id", flat=True))


async def rate_by_phone(conn, phone: str, score: int) -> int | None:
    """A 1–5 SMS reply, on the caller's transaction: rates the sender's latest finished
    ticket of the last 24 h not rated yet. Returns its id; None when there is none."""
    rows = await conn.execute_query_dict(
        placeholders(
            "SELECT t.id FROM ticket t WHERE t.phone = ? AND t.finished_at >= ? AND t.status = ?"
            " AND NOT EXISTS (SELECT 1 FROM satisfaction_rating r WHERE r.ticket_id = t.id)"
            " ORDER BY t.finished_at DESC, t.id DESC LIMIT 1"
        ),
        [phone, clock.now() - SMS_WINDOW, TicketStatus.DONE.value],
    )
    if not rows:
        return None
    ticket = await Ticket.get(id=rows[0]["id"]).using_db(conn)
    try:
        await _record(conn, ticket, score, RatingChannel.SMS, None)
    except ApiError as exc:  # rated by another way at this very moment: nothing to add
        if exc.code == "already_rated":
            return None
        raise
    return ticket.id


# ---------------------------------------------------------------- the desk's tablet


async def _desk(office: Office, desk_name: str) -> Desk:
    desk = await Desk.get_or_none(office_id=office.id, name=desk_name)
    if desk is None:
        raise not_found("desk_not_found", f"No existe la ventanilla {desk_name!r} en {office.code}.")
    return desk


async def desk_prompt(office: Office, desk_name: str) -> dict | None:
    """What the tablet at the desk asks about: the ticket this desk finished last, if
    that was in the last few minutes and it is not rated yet; None otherwise. Reads only
    the office's tickets of today (the office-and-day index)."""
    desk = await _desk(office, desk_name)
    now = clock.now()
    ticket = await (
        Ticket.filter(office_id=office.id, day=clock.local_day(now, office.timezone), desk_id=desk.id,
                      status=TicketStatus.DONE, finished_at__gte=now - DESK_WINDOW)
        .order_by("-finished_at", "-id").select_related("service").first()
    )
    if ticket is None or await is_rated(ticket.id):
        return None
    return {"ticket": ticket.public_id, "number": ticket.number, "service_name": ticket.service.name,
            "finished_at": clock.iso(db_datetime(ticket.finished_at))}


async def rate_at_desk(office: Office, desk_name: str, public: str, score: int, user_id: int | None) -> dict:
    """The tablet's rating: a ticket this desk finished within the last few minutes."""
    _check_score(score)
    desk = await _desk(office, desk_name)
    ticket = await actions.get_ticket(public)
    if ticket.office_id != office.id or ticket.desk_id != desk.id:
        raise not_found("ticket_not_found", "Ese turno no fue atendido en esta ventanilla.")
    if ticket.status == TicketStatus.DONE and db_datetime(ticket.finished_at) < clock.now() - DESK_WINDOW:
        raise conflict("rating_closed", f"El turno {ticket.number} terminó hace más de "
                                        f"{int(DESK_WINDOW.total_seconds() // 60)} minutos.")
    async with in_transaction() as conn:
        return await _record(conn, ticket, score, RatingChannel.DESK, user_id)


# ---------------------------------------------------------------- reports


def parse_range(raw_from: str | None, raw_to: str | None, tz: str) -> tuple[date, date]:
    """`from`/`to` as YYYY-MM-DD, both included; by default the last 30 days to today."""
    today = clock.local_day(clock.now(), tz)
    try:
        end = date.fromisoformat(raw_to) if raw_to else today
        start = date.fromisoformat(raw_from) if raw_from else end - timedelta(days=REPORT_DAYS - 1)
    except ValueError:
        raise invalid("Las fechas from y to deben tener el formato AAAA-MM-DD.") from None
    if end < start:
        raise invalid("La fecha to no puede ser anterior a from.")
    if (end - start).days >= MAX_REPORT_DAYS:
        raise invalid(f"El periodo admite como máximo {MAX_REPORT_DAYS} días.")
    return start, end


async def office_report(office: Office, day_from: date, day_to: date) -> dict:
    """Staff report: ratings of the period per service and per operator."""
    start, end = clock.days_span(day_from, day_to, office.timezone)
    rows = await SatisfactionRating.filter(office_id=office.id, created_at__gte=start, created_at__lt=end).values_list(
        "service__code", "operator__username", "score")
    names = dict(await SatisfactionRating.filter(office_id=office.id, created_at__gte=start,
                                                 created_at__lt=end).distinct().values_list("service__code",
                                                                                            "service__name"))
    figures = report_figures(rows)
    return {"office": office.code, "office_name": office.name, "from": day_from.isoformat(),
            "to": day_to.isoformat(), "timezone": office.timezone, "service_names": names, **figures}


def report_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["grupo", "nombre", "valoraciones", "media", *(f"puntos_{s}" for s in SCORES)])

    def row(kind: str, name: str, figures: dict) -> None:
        average = "" if figures["average"] is None else figures["average"]
        writer.writerow([kind, name, figures["count"], average, *(figures["distribution"][str(s)] for s in SCORES)])

    row("oficina", report["office"], report["all"])
    for code, figures in report["by_service"].items():
        row("tramite", code, figures)
    for name, figures in report["by_operator"].items():
        row("operador", name, figures)
    return out.getvalue()


async def public_summary(office: Office) -> dict:
    """For anyone: the office's average and count over the last 30 days, nothing else."""
    today = clock.local_day(clock.now(), office.timezone)
    first = today - timedelta(days=REPORT_DAYS - 1)
    start, end = clock.days_span(first, today, office.timezone)
    scores = await SatisfactionRating.filter(office_id=office.id, created_at__gte=start,
                                             created_at__lt=end).values_list("score", flat=True)
    figures = summarise(scores)
    return {"from": first.isoformat(), "to": today.isoformat(), "count": figures["count"],
            "average": figures["average"]}
