"""What the notifications domain does when the others report an event (core/hooks.py).

Every reaction here runs IN the emitting transaction and only writes outbox rows
(service.py says which); the dispatcher sends them later. So a cita's confirmation,
a ticket's "es su turno" or an exam's result commits or rolls back with its change.

    AppointmentBooked       confirmation (with the fee) + reminders
    AppointmentRescheduled  pending messages cancelled, "reprogramada" + new reminders
    AppointmentCancelled    pending messages cancelled, "cancelada"
    TicketCalled     "es su turno: ventanilla N" (and no "faltan N turnos" after it)
    ExamScored       the result SMS

`register(config)` is idempotent and cheap (turnero/wiring.py calls it with the settings').
"""

from __future__ import annotations

from turnero.core import hooks
from turnero.notifications import service
from turnero.notifications.policy import NotificationConfig


def _appointment(event) -> service.AppointmentRef:
    return service.AppointmentRef(event.appointment_id, event.code, event.phone, event.start)


class Subscribers:
    """The reactions, with the notification settings they were wired with."""

    def __init__(self, config: NotificationConfig) -> None:
        self.config = config

    async def cita_booked(self, conn, event: hooks.AppointmentBooked) -> None:
        await service.appointment_booked(conn, self.config, _appointment(event), event.office, event.service_code,
                                         cost=event.cost)

    async def cita_rescheduled(self, conn, event: hooks.AppointmentRescheduled) -> None:
        await service.appointment_rescheduled(conn, self.config, _appointment(event), event.office, event.service_code)

    async def cita_cancelled(self, conn, event: hooks.AppointmentCancelled) -> None:
        await service.appointment_cancelled(conn, self.config, _appointment(event), event.office, event.service_code)

    async def ticket_called(self, conn, event: hooks.TicketCalled) -> None:
        if event.phone:
            await service.notify_called(
                conn, self.config, ticket_id=event.ticket_id, number=event.number, phone=event.phone,
                office=event.office, desk_name=event.desk_name, service_code=event.service_code,
            )

    async def exam_scored(self, conn, event: hooks.ExamScored) -> None:
        if event.phone:
            await service.exam_result(
                conn, self.config, result_key=event.attempt, phone=event.phone, office=event.office,
                category=event.category, passed=event.passed, correct=event.correct, total=event.total,
                service_code=event.service_code, appointment_id=event.appointment_id,
            )

    def subscriptions(self):
        return (
            (hooks.AppointmentBooked, self.cita_booked),
            (hooks.AppointmentRescheduled, self.cita_rescheduled),
            (hooks.AppointmentCancelled, self.cita_cancelled),
            (hooks.TicketCalled, self.ticket_called),
            (hooks.ExamScored, self.exam_scored),
        )


_wired: Subscribers | None = None


def register(config: NotificationConfig) -> None:
    """Subscribe the reactions with `config`; again replaces the earlier ones, so wiring
    twice (or with other settings) never writes a message twice."""
    global _wired
    if _wired is not None:
        for event_type, handler in _wired.subscriptions():
            hooks.unsubscribe(event_type, handler, phase=hooks.IN_TRANSACTION)
    _wired = Subscribers(config)
    for event_type, handler in _wired.subscriptions():
        hooks.subscribe(event_type, handler, phase=hooks.IN_TRANSACTION)
