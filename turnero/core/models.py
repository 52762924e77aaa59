"""Shared-kernel models: offices, the service catalogue, users and their tokens."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    ADMIN = "admin"  # everything, every office
    SUPERVISOR = "supervisor"  # one office
    OPERATOR = "operator"  # desks of one office
    KIOSK = "kiosk"  # issue tickets and check-ins at one office
    DISPLAY = "display"  # read-only board


class ServiceKind(StrEnum):
    COUNTER = "counter"
    EXAM = "exam"
    PRACTICAL = "practical"  # the practical driving test: a passed theory exam first (exam/licence_path.py)


class OfficeKind(StrEnum):
    FIXED = "fixed"  # a building with weekly opening hours
    BRIGADE = "brigade"  # itinerant: open only on the dates of its stops (BrigadeStop)


class Office(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=120)
    institution = fields.CharField(max_length=32, default="SEGIP")
    department = fields.CharField(max_length=40)
    city = fields.CharField(max_length=80)
    address = fields.CharField(max_length=200, default="")
    timezone = fields.CharField(max_length=64, default="America/La_Paz")
    # {"mon": [["07:30", "16:00"]], ..., "sat": [["08:00", "12:00"]]}; a missing day is closed.
    opening_hours = fields.JSONField(default=dict)
    active = fields.BooleanField(default=True)
    # "brigade": a mobile brigade or rotating office; its hours on a date are those of
    # its stop on that date (core/brigades.py), closed on dates with no stop.
    kind = fields.CharEnumField(OfficeKind, max_length=16, default=OfficeKind.FIXED)
    # Desk balancing on its own: above this predicted wait (minutes) the server moves a
    # desk (queue/jobs.py); None: it only suggests, a supervisor applies.
    auto_balance_minutes = fields.IntField(null=True)

    class Meta:
        table = "office"


class Service(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=120)
    prefix = fields.CharField(max_length=3)
    walk_in = fields.BooleanField(default=True)
    bookable = fields.BooleanField(default=False)
    kind = fields.CharEnumField(ServiceKind, max_length=16, default=ServiceKind.COUNTER)
    requirements = fields.JSONField(default=list)
    # Codes of the services a visit goes through in order (descarte -> captura -> entrega);
    # empty means this service is served in a single step.
    steps = fields.JSONField(default=list)
    # Prior for the wait estimate until observed service times exist.
    expected_service_minutes = fields.FloatField(default=8.0)
    active = fields.BooleanField(default=True)
    # What it costs in bolivianos: 0 when free, None when no figure is published (then
    # fee_note says so); fee_note also says how to pay (Turnero takes no money).
    fee_bs = fields.FloatField(null=True)
    fee_note = fields.CharField(max_length=300, default="")
    # Who pays nothing, and what proves it.
    exemptions = fields.JSONField(default=list)
    # The identity documents it may be booked with ("ci", "cie", "passport"); empty: any.
    documents = fields.JSONField(default=list)

    class Meta:
        table = "service"


class BrigadeStop(Model):
    """One dated stop of a brigade office: where it serves, from which day to which day
    (both included) and its hours on each of those days."""

    id = fields.IntField(primary_key=True)
    office = fields.ForeignKeyField("models.Office", related_name="stops", on_delete=fields.CASCADE)
    municipality = fields.CharField(max_length=80)
    department = fields.CharField(max_length=40, default="")
    address = fields.CharField(max_length=200, default="")
    starts_on = fields.DateField()
    ends_on = fields.DateField()
    # The hours of each day of the stop: [["08:00", "16:00"]] (HH:MM, office time zone).
    hours = fields.JSONField(default=list)
    note = fields.CharField(max_length=200, default="")
    # An institutional campaign (a prison, a school): a closed session that only the
    # people on the institution's list (BrigadeInvitee) may book; no walk-ins.
    closed = fields.BooleanField(default=False)
    institution = fields.CharField(max_length=120, default="")

    class Meta:
        table = "brigade_stop"
        indexes = (("office", "ends_on"),)


class BrigadeInvitee(Model):
    """One person on an institution's list for a closed stop: a name and the document's
    key (type, number and complemento, as a cita's `document_key`). Personal data: read
    by admins only, deleted with its stop."""

    id = fields.IntField(primary_key=True)
    stop = fields.ForeignKeyField("models.BrigadeStop", related_name="invitees", on_delete=fields.CASCADE)
    full_name = fields.CharField(max_length=120)
    document_key = fields.CharField(max_length=40)

    class Meta:
        table = "brigade_invitee"
        unique_together = (("stop", "document_key"),)


class OfficeService(Model):
    """The per-office catalogue: which trámites an office offers."""

    id = fields.IntField(primary_key=True)
    office = fields.ForeignKeyField("models.Office", related_name="catalogue", on_delete=fields.CASCADE)
    service = fields.ForeignKeyField("models.Service", related_name="offices", on_delete=fields.CASCADE)

    class Meta:
        table = "office_service"
        unique_together = (("office", "service"),)


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    full_name = fields.CharField(max_length=120, default="")
    password_hash = fields.CharField(max_length=255)
    role = fields.CharEnumField(Role, max_length=16)
    office = fields.ForeignKeyField(
        "models.Office", related_name="users", null=True, on_delete=fields.RESTRICT
    )
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "app_user"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    digest = fields.CharField(max_length=64, unique=True)
    user = fields.ForeignKeyField("models.User", related_name="tokens", on_delete=fields.CASCADE)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "api_token"


class JobLease(Model):
    """Which process runs a job that must run on one instance at a time, and until when:
    a lease taken with a conditional UPDATE and renewed while the job runs, so a holder
    that dies blocks nobody for longer than its lease (turnero/core/leases.py)."""

    name = fields.CharField(max_length=64, primary_key=True)
    holder = fields.CharField(max_length=96, null=True)
    until = fields.DatetimeField(null=True)

    class Meta:
        table = "job_lease"
