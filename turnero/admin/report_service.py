"""Loading a report's facts from the database (the figures are in reports.py)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from turnero.admin import report_days, reports
from turnero.admin.service import _require_office, office_by_code
from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.db import db_datetime
from turnero.core.errors import invalid
from turnero.exam.models import ExamAttempt, ExamSession
from turnero.queue.models import Desk, DeskEvent, Ticket, TicketEvent
from turnero.scheduler.models import Appointment, Slot

MAX_DAYS = 93


def parse_period(raw_from: str | None, raw_to: str | None, tz: str) -> tuple[date, date]:
    """`from`/`to` as YYYY-MM-DD (both included); today in the office's zone by default."""
    today = clock.local_day(clock.now(), tz)
    try:
        start = date.fromisoformat(raw_from) if raw_from else today
        end = date.fromisoformat(raw_to) if raw_to else start
    except ValueError:
        raise invalid("Las fechas from y to deben tener el formato AAAA-MM-DD.") from None
    if end < start:
        raise invalid("La fecha to no puede ser anterior a from.")
    if (end - start).days >= MAX_DAYS:
        raise invalid(f"El periodo admite como máximo {MAX_DAYS} días.")
    return start, end


async def office_report(actor: Principal, office_code: str, raw_from: str | None, raw_to: str | None) -> dict:
    office = await office_by_code(office_code)
    _require_office(actor, office)
    day_from, day_to = parse_period(raw_from, raw_to, office.timezone)
    # Detail that retention deleted is in daily roll-ups; a batch moves rows from the
    # detail into them in one transaction, so the roll-ups are read before and after
    # the detail, and all is read again if a batch came in between.
    for _attempt in range(5):
        days, seen = await report_days.for_period(office.id, day_from, day_to)
        report = await _report(office, day_from, day_to, days)
        if await report_days.version(office.id, day_from, day_to) == seen:
            break
    return report


async def _report(office, day_from: date, day_to: date, days: list[reports.ServiceDay]) -> dict:
    start, end = clock.days_span(day_from, day_to, office.timezone)
    in_period = {"office_id": office.id, "issued_at__gte": start, "issued_at__lt": end}
    rows = await Ticket.filter(**in_period).values(
        "id", "status", "issued_at", "hop", "called_at", "started_at", "finished_at", "service__code", "desk__name")
    # Who closed each ticket (finished or no-show): the operator it counts for.
    closers = dict(await TicketEvent.filter(
        kind__in=["finished", "no_show"], **{f"ticket__{k}": v for k, v in in_period.items()}
    ).values_list("ticket_id", "user__username"))
    tickets = [
        reports.TicketFact(
            service=r["service__code"], status=str(r["status"]), issued_at=db_datetime(r["issued_at"]), hop=r["hop"],
            called_at=db_datetime(r["called_at"]), started_at=db_datetime(r["started_at"]),
            finished_at=db_datetime(r["finished_at"]), desk=r["desk__name"], operator=closers.get(r["id"]),
        )
        for r in rows
    ]
    changes = [
        reports.DeskChange(desk=name, status=kind, at=db_datetime(at))
        for name, kind, at in await DeskEvent.filter(desk__office_id=office.id, at__gte=start, at__lt=end)
        .order_by("at", "id").values_list("desk__name", "kind", "at")
    ]
    initial = {}
    for desk in await Desk.filter(office_id=office.id):
        last = await DeskEvent.filter(desk_id=desk.id, at__lt=start).order_by("-at", "-id").first()
        if last is not None:
            initial[desk.name] = last.kind
    citas, exam = await _appointments_and_exam(office.id, start, end, days)
    report = reports.build_report(tickets, changes, tz=office.timezone, start=start,
                                  end=min(end, max(start, clock.now())), initial_desk_status=initial, days=days)
    return {"office": office.code, "office_name": office.name, "timezone": office.timezone,
            "from": day_from.isoformat(), "to": day_to.isoformat(), **report, "citas": citas, "exam": exam}


async def _appointments_and_exam(office_id: int, start: datetime, end: datetime,
                          days: list[reports.ServiceDay]) -> tuple[dict, dict]:
    """Citas and theory-exam figures, from the scheduler's and the exam's tables."""
    slots = [reports.SlotFact(code, capacity, booked) for code, capacity, booked in await Slot.filter(
        office_id=office_id, start__gte=start, start__lt=end).values_list("service__code", "capacity", "booked")]
    statuses = [str(s) for s in await Appointment.filter(office_id=office_id, start__gte=start, start__lt=end)
                .values_list("status", flat=True)]
    sessions = await ExamSession.filter(room__office_id=office_id, starts_at__gte=start, starts_at__lt=end) \
        .values_list("id", "slot_id")
    slot_ids = [slot_id for _id, slot_id in sessions if slot_id is not None]
    booked = sum(await Slot.filter(id__in=slot_ids).values_list("booked", flat=True)) if slot_ids else 0
    attempts = [(str(status), passed) for status, passed in await ExamAttempt.filter(
        session_id__in=[session_id for session_id, _slot in sessions]).values_list("status", "passed")] \
        if sessions else []
    return reports.citas_fill(slots, statuses, days), reports.exam_results(booked, attempts)


def report_csv(report: dict, table: str) -> str:
    if table not in reports.TABLES:
        raise invalid(f"Tabla desconocida; use una de: {', '.join(reports.TABLES)}.")
    out = io.StringIO()
    csv.writer(out).writerows(reports.table_rows(report, table))
    return out.getvalue()
