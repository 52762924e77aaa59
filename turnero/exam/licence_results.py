"""The licence path's steps after the theory exam (issue 20): the practical driving test's
booking rule (a bookable kind of the scheduler) and the examiner's results of the medical
and psychological evaluation and of the practical test, each audited on its cita.

The rules themselves are pure functions in licence_path.py; this module reads what they
need (the theory passes of exam_attempt, the recorded results) and writes the result.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.errors import ApiError, conflict, forbidden, invalid, not_found
from turnero.core.models import Office, Service, ServiceKind
from turnero.exam import licence_path
from turnero.exam.licence_path import PathRules, PracticalResult
from turnero.exam.models import AttemptStatus, ExamAttempt, LicenceResult
from turnero.exam.policy import CATEGORIES
from turnero.scheduler import kinds
from turnero.scheduler import policy as appointment_rules
from turnero.scheduler.models import Appointment, AppointmentStatus
from turnero.scheduler.places import record_event

# ---------------------------------------------------------------- what the rules read


async def theory_passes(document: str, category: str) -> list[datetime]:
    return list(await ExamAttempt.filter(
        document=document, category=category, status=AttemptStatus.FINISHED, passed=True,
    ).values_list("finished_at", flat=True))


async def practical_results(document: str, category: str) -> list[PracticalResult]:
    rows = await LicenceResult.filter(
        document=document, category=category, step=licence_path.STEPS[licence_path.PRACTICAL],
    ).values_list("recorded_at", "passed")
    return [PracticalResult(at, bool(passed)) for at, passed in rows]


async def practical_verdict(document: str, category: str, at: datetime, now: datetime,
                            rules: PathRules) -> licence_path.Verdict:
    return licence_path.practical_verdict(
        await theory_passes(document, category), await practical_results(document, category),
        at, now, rules,
    )


# ---------------------------------------------------------------- booking (a bookable kind)


def _start(body: dict, tz: str) -> datetime:
    start = body["start"]
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    if start.tzinfo is None:
        start = start.replace(tzinfo=ZoneInfo(tz))
    return start.astimezone(timezone.utc)


async def check_practical_booking(office: Office, service: Service, body: dict, now: datetime,
                                  rules: PathRules) -> None:
    """Before a practical test's place is taken: the category, and a passed theory exam
    of the same document and category valid on the cita's day, and the retake rules
    (422 with the rule's code; nothing has been written yet)."""
    if body.get("party_size", 1) != 1:
        raise invalid("El examen práctico es individual (una persona por cita).", code="party_too_large")
    category = body.get("category")
    if category not in CATEGORIES:
        raise invalid("Indique la categoría de licencia (A, B, C, M, P o T).", code="category_required")
    verdict = await practical_verdict(body["document"]["number"], category, _start(body, office.timezone), now,
                                     rules)
    if not verdict.allowed:
        extra = {"not_before": clock.iso(verdict.not_before, office.timezone)} if verdict.not_before else {}
        raise ApiError(422, verdict.code, verdict.message, **extra)


class PracticalTest(kinds.BookableKind):
    """The practical test as a bookable kind, with the licence-path rules it was wired with."""

    def __init__(self, rules: PathRules) -> None:
        self.rules = rules

    async def check_booking(self, office, service, body, now):
        await check_practical_booking(office, service, body, now, self.rules)


def register_kind(rules: PathRules) -> None:
    """Plug the practical test into the booking engine (scheduler/kinds.py)."""
    kinds.register(ServiceKind.PRACTICAL, PracticalTest(rules))


# ---------------------------------------------------------------- results


async def record_result(reference: str | None, passed: bool, notes: str, actor: Principal,
                        ticket: str | None = None) -> dict:
    """The examiner records the result of a medical evaluation or a practical test taken
    on a cita (by its code, or by the id of the ticket its check-in gave): one result per
    cita, written with the cita's AppointmentEvent `licence_result` in one transaction."""
    if ticket is not None:
        appt = await Appointment.filter(ticket__public_id=ticket).select_related("service", "office").first()
    else:
        code = appointment_rules.normalise_code(reference or "")
        appt = (await Appointment.get_or_none(code=code).select_related("service", "office")
                if appointment_rules.looks_like_code(code) else None)
    if appt is None:
        raise not_found("appointment_not_found", "Ese ticket no corresponde a una cita." if ticket is not None
                        else "No existe una cita con ese código.")
    if not actor.can_act_on(appt.office_id):
        raise forbidden("Solo puede registrar resultados de citas de su propia oficina.")
    step = licence_path.STEPS.get(appt.service.code)
    if step is None:
        raise invalid("La cita no es de evaluación médica ni de examen práctico de conducción.",
                      code="not_a_licence_step")
    if appt.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
        raise conflict("appointment_not_active", "La cita fue cancelada o el postulante no se presentó.")
    now = clock.now()
    if appt.start > now:
        raise conflict("step_not_taken_yet", "La cita aún no llegó a su hora: no se puede registrar un resultado.")
    if step == "practical" and not appt.category:
        raise invalid("La cita del examen práctico no tiene categoría de licencia.", code="category_required")
    try:
        async with in_transaction() as conn:
            result = await LicenceResult.create(
                appointment_id=appt.id, office_id=appt.office_id, step=step, document=appt.document_number,
                category=appt.category, passed=passed, notes=notes, recorded_at=now, user_id=actor.user_id,
                using_db=conn,
            )
            # The step is done: its cita no longer holds "one active cita per document".
            await Appointment.filter(id=appt.id, status__in=[AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN]
                                     ).using_db(conn).update(status=AppointmentStatus.DONE)
            await record_event(conn, appt.id, "licence_result", now, actor, {
                "step": step, "passed": passed, "result": result.id, "notes": bool(notes),
            })
    except IntegrityError:
        raise conflict("result_exists", "Esa cita ya tiene su resultado registrado.") from None
    return result_view(result, appt)


def result_view(result: LicenceResult, appt) -> dict:
    return {
        "id": result.id, "appointment": appt.code, "service": appt.service.code, "step": result.step,
        "category": result.category, "passed": result.passed, "notes": result.notes,
        "recorded_at": clock.iso(result.recorded_at, appt.office.timezone),
    }
