"""Tortoise models of the scheduler domain: booking rules, closures, slots, citas.

A slot is one bookable start time of one service at one office, with `capacity` places
and `booked` of them taken; booking is a conditional UPDATE of `booked` (never
overbooks). An exam session (issue 7) is the same row: its capacity is the number of
seats in service.

One concept, two names: the product and the scheduler's docstrings say *cita*; the model
and its tables say `Appointment` (`appointment`, `appointment_event`), as do the API's
paths (/api/appointments). A function "about a cita" takes or returns an `Appointment`.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    DONE = "done"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


# Statuses that hold a place and count for "one active cita per document and service"
# (the partial unique index in the migration lists the same values).
ACTIVE_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN)


class DocumentType(StrEnum):
    CI = "ci"  # cédula de identidad (Bolivians)
    CIE = "cie"  # cédula de identidad de extranjero
    PASSPORT = "passport"


class BookingRule(Model):
    """How citas of one service are booked at one office (times in the office's zone)."""

    id = fields.IntField(primary_key=True)
    office = fields.ForeignKeyField("models.Office", related_name="booking_rules", on_delete=fields.CASCADE)
    service = fields.ForeignKeyField("models.Service", related_name="booking_rules", on_delete=fields.CASCADE)
    slot_minutes = fields.IntField(default=15)
    # Places per slot; None: the number of desks serving the service (or its first step).
    capacity = fields.IntField(null=True)
    window_days = fields.IntField(default=30)
    min_notice_minutes = fields.IntField(default=60)
    # "07:00": each day at this local time the day `window_days` ahead opens for booking;
    # None: the whole window is always open.
    release_time = fields.CharField(max_length=5, null=True, default="07:00")
    cancel_cutoff_minutes = fields.IntField(default=120)
    # Booking hours when they differ from the office's opening hours (same shape).
    hours = fields.JSONField(null=True)
    active = fields.BooleanField(default=True)
    # The office-local day the whole window was last materialised (slots are made
    # ahead by a job, and on demand when a request finds this day is not today).
    materialised_on = fields.DateField(null=True)

    class Meta:
        table = "booking_rule"
        unique_together = (("office", "service"),)


class OfficeClosure(Model):
    """A day an office (or every office, when `office` is null) does not open, beyond
    the national holidays computed by the `holidays` library."""

    id = fields.IntField(primary_key=True)
    office = fields.ForeignKeyField("models.Office", related_name="closures", null=True, on_delete=fields.CASCADE)
    day = fields.DateField()
    reason = fields.CharField(max_length=120, default="")

    class Meta:
        table = "office_closure"
        unique_together = (("office", "day"),)


class Slot(Model):
    id = fields.IntField(primary_key=True)
    office = fields.ForeignKeyField("models.Office", related_name="slots", on_delete=fields.CASCADE)
    service = fields.ForeignKeyField("models.Service", related_name="slots", on_delete=fields.CASCADE)
    start = fields.DatetimeField()
    end = fields.DatetimeField()
    day = fields.DateField()  # office-local day of `start`
    capacity = fields.IntField()
    booked = fields.IntField(default=0)

    class Meta:
        table = "slot"
        # Materialising is idempotent on this key; availability reads a range of it.
        unique_together = (("office", "service", "start"),)


class Appointment(Model):
    id = fields.IntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)  # unguessable, for links and QR
    code = fields.CharField(max_length=12, unique=True)  # short, for people to type and say
    office = fields.ForeignKeyField("models.Office", related_name="appointments", on_delete=fields.RESTRICT)
    service = fields.ForeignKeyField("models.Service", related_name="appointments", on_delete=fields.RESTRICT)
    slot = fields.ForeignKeyField("models.Slot", related_name="appointments", on_delete=fields.RESTRICT)
    start = fields.DatetimeField()
    end = fields.DatetimeField()
    status = fields.CharEnumField(AppointmentStatus, max_length=16, default=AppointmentStatus.BOOKED)
    document_type = fields.CharEnumField(DocumentType, max_length=16, default=DocumentType.CI)
    document_number = fields.CharField(max_length=20)
    document_complement = fields.CharField(max_length=2, null=True)
    document_issued_in = fields.CharField(max_length=2, null=True)
    # type:number[-complement]; with service, unique among active citas (partial index).
    document_key = fields.CharField(max_length=40)
    name = fields.CharField(max_length=120)
    phone = fields.CharField(max_length=20, null=True)  # E.164
    party_size = fields.IntField(default=1)
    category = fields.CharField(max_length=2, null=True)  # licence category (exams)
    created_at = fields.DatetimeField()
    checked_in_at = fields.DatetimeField(null=True)
    cancelled_at = fields.DatetimeField(null=True)
    ticket = fields.ForeignKeyField("models.Ticket", related_name="appointments", null=True, on_delete=fields.SET_NULL)
    reschedule_count = fields.IntField(default=0)

    class Meta:
        table = "appointment"
        indexes = (("office", "status", "start"), ("status", "start"), ("document_number", "status"))


class AppointmentEvent(Model):
    """Audit trail: one row per state change, written in the same transaction."""

    id = fields.IntField(primary_key=True)
    appointment = fields.ForeignKeyField("models.Appointment", related_name="events", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=24)
    at = fields.DatetimeField()
    user = fields.ForeignKeyField("models.User", related_name="appointment_events", null=True, on_delete=fields.SET_NULL)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "appointment_event"


class IdempotencyKey(Model):
    """The first result of a booking made with an `Idempotency-Key` header."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=128, unique=True)
    fingerprint = fields.CharField(max_length=64)  # SHA-256 of the canonical request body
    status_code = fields.IntField()
    response = fields.JSONField()
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_key"
