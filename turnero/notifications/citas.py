"""What a citizen's reply does to their citas. The scheduler domain owns the citas:
this module finds the sender's next one and asks the scheduler to act on it."""

from __future__ import annotations

from turnero.core import clock
from turnero.core.errors import ApiError
from turnero.notifications import policy, service
from turnero.notifications.models import Channel
from turnero.notifications.policy import NotificationConfig
from turnero.scheduler.changes import cancel
from turnero.scheduler.config import SchedulerConfig
from turnero.scheduler.models import Appointment, AppointmentEvent, AppointmentStatus


async def next_appointment(conn, phone: str):
    """The sender's next cita still booked and ahead (None if there is none)."""
    return (
        await Appointment.filter(phone=phone, status=AppointmentStatus.BOOKED, start__gt=clock.now())
        .order_by("start", "id")
        .using_db(conn)
        .select_related("office", "service")
        .first()
    )


async def apply_reply(conn, command: str, phone: str, channel: Channel, provider_sid: str,
                      config: NotificationConfig, scheduler_config: SchedulerConfig):
    """CANCEL or CONFIRM on the sender's next cita, inside the caller's transaction."""
    appointment = await next_appointment(conn, phone)
    if appointment is None:
        await service.reply_no_appointment(conn, config, phone, channel, provider_sid)
        return service.ReplyOutcome("no_appointment")
    office, code = appointment.office, appointment.service.code
    if command == policy.CANCEL:
        try:
            # The scheduler's own cancel (cut-off, places freed, its event, and its
            # notifications hook writes the "cancelada" answer); nested in this
            # transaction, so the reply's record and the cancel commit together.
            await cancel(
                appointment.public_id, None, scheduler_config,
                reason=f"{channel.value}_reply",
            )
        except ApiError as exc:  # nothing changed (its savepoint was rolled back)
            if exc.code == "cutoff_passed":
                await service.appointment_not_cancellable(conn, config, appointment, office, provider_sid, code)
                return service.ReplyOutcome("too_late", appointment.id)
            return service.ReplyOutcome(exc.code[:24], appointment.id)  # e.g. cancelled meanwhile
        return service.ReplyOutcome("cancelled", appointment.id)
    await AppointmentEvent.create(
        appointment_id=appointment.id, kind="attendance_confirmed", at=clock.now(),
        data={"via": channel.value}, using_db=conn,
    )
    await service.appointment_attendance_confirmed(conn, config, appointment, office, code)
    return service.ReplyOutcome("confirmed", appointment.id)
