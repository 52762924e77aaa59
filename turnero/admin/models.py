"""Administration records: report figures rolled up from deleted detail (the audit log
itself is shared by every domain: turnero/core/audit.py)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ReportDay(Model):
    """Report figures of one office, service and office-local day, rolled up from detail
    (tickets, citas, slots) that retention deleted: reports read these for the part of a
    period whose detail is gone (admin/report_days.py, admin/retention.py). A row grows
    batch by batch, in the transaction that deletes the detail it adds up."""

    id = fields.IntField(primary_key=True)
    office = fields.ForeignKeyField("models.Office", related_name="report_days", on_delete=fields.RESTRICT)
    service = fields.ForeignKeyField("models.Service", related_name="report_days", on_delete=fields.RESTRICT)
    day = fields.DateField()
    # Tickets (each counted on the local day it was issued).
    visits = fields.IntField(default=0)  # first steps
    tickets = fields.IntField(default=0)
    done = fields.IntField(default=0)
    no_show = fields.IntField(default=0)
    cancelled = fields.IntField(default=0)
    transferred = fields.IntField(default=0)
    # The day's own wait and service-time figures (minutes), for reading with plain SQL;
    # figures over periods are computed from the full lists in `detail`.
    wait_count = fields.IntField(default=0)
    wait_mean = fields.FloatField(null=True)
    wait_p50 = fields.FloatField(null=True)
    wait_p90 = fields.FloatField(null=True)
    service_count = fields.IntField(default=0)
    service_mean = fields.FloatField(null=True)
    service_p50 = fields.FloatField(null=True)
    service_p90 = fields.FloatField(null=True)
    # Citas (slots and citas counted on the local day they start).
    slots = fields.IntField(default=0)
    slot_capacity = fields.IntField(default=0)
    slot_booked = fields.IntField(default=0)
    citas_done = fields.IntField(default=0)
    citas_no_show = fields.IntField(default=0)
    citas_cancelled = fields.IntField(default=0)
    # {"hours": {hour: first steps}, "wait_us": [...], "service_us": [...] (sorted, µs),
    #  "operators": {name: [served, no-shows, service µs]}, "desks": {name: [µs in day, after]}}
    detail = fields.JSONField(default=dict)
    revision = fields.IntField(default=1)  # +1 per batch merged in: readers notice a change
    updated_at = fields.DatetimeField()

    class Meta:
        table = "report_day"
        unique_together = (("office", "day", "service"),)
