"""What the notifications domain does when the others report an event (core/hooks.py).

Every reaction here runs IN the emitting transaction and only writes outbox rows
(service.py says which); the dispatcher sends them later. So a cita's confirmation,
a ticket's "es su turno" or an exam's result commits or rolls back with its change.

    CitaBooked       confirmation (with the fee) + reminders
    CitaRescheduled  pending messages cancelled, "reprogramada" + new reminders
    CitaCancelled    pending messages cancelled, "cancelada"
    TicketCalled     "es su turno: ventanilla N" (and no "faltan N turnos" after it)
    ExamScored       the result SMS

`register()` is idempotent and cheap: app.create_app and core.db.init_db both call it.
"""

from __future__ import annotations

from turnero.core import hooks
from turnero.notifications import service


def _cita(event) -> service.Cita:
    return service.Cita(event.appointment_id, event.code, event.phone, event.start)


async def cita_booked(conn, event: hooks.CitaBooked) -> None:
    await service.appointment_booked(conn, _cita(event), event.office, event.service_code, cost=event.cost)


async def cita_rescheduled(conn, event: hooks.CitaRescheduled) -> None:
    await service.appointment_rescheduled(conn, _cita(event), event.office, event.service_code)


async def cita_cancelled(conn, event: hooks.CitaCancelled) -> None:
    await service.appointment_cancelled(conn, _cita(event), event.office, event.service_code)


async def ticket_called(conn, event: hooks.TicketCalled) -> None:
    if event.phone:
        await service.notify_called(conn, ticket_id=event.ticket_id, number=event.number, phone=event.phone,
                                    office=event.office, desk_name=event.desk_name, service_code=event.service_code)


async def exam_scored(conn, event: hooks.ExamScored) -> None:
    if event.phone:
        await service.exam_result(
            conn, result_key=event.attempt, phone=event.phone, office=event.office, category=event.category,
            passed=event.passed, correct=event.correct, total=event.total, service_code=event.service_code,
            appointment_id=event.appointment_id,
        )


SUBSCRIPTIONS = (
    (hooks.CitaBooked, cita_booked),
    (hooks.CitaRescheduled, cita_rescheduled),
    (hooks.CitaCancelled, cita_cancelled),
    (hooks.TicketCalled, ticket_called),
    (hooks.ExamScored, exam_scored),
)


def register() -> None:
    for event_type, handler in SUBSCRIPTIONS:
        hooks.subscribe(event_type, handler, phase=hooks.IN_TRANSACTION)
