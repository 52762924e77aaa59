"""Desks, tickets, their audit trail and the per-day number counters."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class DeskStatus(StrEnum):
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


class TicketStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"


# A ticket at a desk: called, or being served.
ACTIVE_AT_DESK = (TicketStatus.CALLED, TicketStatus.SERVING)


class Priority(StrEnum):
    REGULAR = "regular"
    SENIOR = "senior"
    DISABILITY = "disability"
    PREGNANT = "pregnant"
    CHILD = "child"
    # Beside Ley 369's and Ley 223's: chronic illness (AGETIC's digitisation guide names
    # it among vulnerable groups) and persons deprived of liberty brought by custody
    # (the seeds' «mesas operativas preferentes»).
    CHRONIC = "chronic"
    CUSTODY = "custody"


class Lane(StrEnum):
    """Which line of the call-next policy a ticket stands in."""

    APPOINTMENT = "appointment"
    PREFERENTIAL = "preferential"
    REGULAR = "regular"


class Desk(Model):
    id = fields.IntField(primary_key=True)
    office = fields.ForeignKeyField("models.Office", related_name="desks", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=32)
    status = fields.CharEnumField(DeskStatus, max_length=16, default=DeskStatus.CLOSED)
    operator = fields.ForeignKeyField(
        "models.User", related_name="desks", null=True, on_delete=fields.SET_NULL
    )
    # Preferential tickets called in a row; drives the preferential/regular interleave.
    preferential_streak = fields.IntField(default=0)
    status_changed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "desk"
        unique_together = (("office", "name"),)


class DeskService(Model):
    """A service a desk serves; weight 1 is primary, higher weights are fallbacks."""

    id = fields.IntField(primary_key=True)
    desk = fields.ForeignKeyField("models.Desk", related_name="services", on_delete=fields.CASCADE)
    service = fields.ForeignKeyField("models.Service", related_name="desks", on_delete=fields.CASCADE)
    weight = fields.IntField(default=1)

    class Meta:
        table = "desk_service"
        unique_together = (("desk", "service"),)


class Ticket(Model):
    """One turn in one queue. A transfer or the next step of a visit is a new row with
    the same number and visit, the same arrival time, and `hop` one higher."""

    id = fields.IntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)
    visit_id = fields.CharField(max_length=32, db_index=True)
    hop = fields.IntField(default=0)
    previous = fields.ForeignKeyField(
        "models.Ticket", related_name="next_hops", null=True, on_delete=fields.SET_NULL
    )
    office = fields.ForeignKeyField("models.Office", related_name="tickets", on_delete=fields.RESTRICT)
    service = fields.ForeignKeyField("models.Service", related_name="tickets", on_delete=fields.RESTRICT)
    # The trámite the visit is for, when this ticket is one step of a multi-step flow.
    flow_service = fields.ForeignKeyField(
        "models.Service", related_name="flow_tickets", null=True, on_delete=fields.RESTRICT
    )
    step_index = fields.IntField(default=0)
    day = fields.DateField()
    number = fields.CharField(max_length=16)
    priority = fields.CharEnumField(Priority, max_length=16, default=Priority.REGULAR)
    lane = fields.CharEnumField(Lane, max_length=16, default=Lane.REGULAR)
    party_size = fields.IntField(default=1)
    phone = fields.CharField(max_length=20, null=True)
    status = fields.CharEnumField(TicketStatus, max_length=16, default=TicketStatus.WAITING)
    arrived_at = fields.DatetimeField()
    # Appointment tickets become eligible at their time; walk-ins at once.
    due_at = fields.DatetimeField(null=True)
    issued_at = fields.DatetimeField()
    called_at = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    desk = fields.ForeignKeyField("models.Desk", related_name="tickets", null=True, on_delete=fields.SET_NULL)
    recall_count = fields.IntField(default=0)
    # The wait (minutes) a walk-in was told at issue: with the wait it had, the estimate's
    # own error, from which its range is learnt (eta_range.py).
    promised_wait = fields.IntField(null=True)

    class Meta:
        table = "ticket"
        # A number is minted once per office and day; later hops reuse it.
        unique_together = (("office", "day", "number", "hop"),)
        # The queue index: the head of one service's line (call-next reads one entry per
        # line, already in arrival order) and the counts behind a ticket's position.
        # The board's latest calls: the last entries of (office, day, called_at).
        indexes = (("office", "status", "lane", "service", "arrived_at", "id"), ("desk", "status"),
                   ("office", "day", "called_at"))


async def waiting_with_phone(office_id: int) -> list[int]:
    """The ids of an office's waiting tickets that have a phone (the near-turn
    messages' sweep): the queue index's (office, status) prefix finds them."""
    return await Ticket.filter(
        office_id=office_id, status=TicketStatus.WAITING, phone__isnull=False
    ).values_list("id", flat=True)


class TicketEvent(Model):
    """Audit trail: one row per state change, written in the same transaction."""

    id = fields.IntField(primary_key=True)
    ticket = fields.ForeignKeyField("models.Ticket", related_name="events", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=24)
    at = fields.DatetimeField()
    desk = fields.ForeignKeyField("models.Desk", related_name="events", null=True, on_delete=fields.SET_NULL)
    user = fields.ForeignKeyField("models.User", related_name="ticket_events", null=True, on_delete=fields.SET_NULL)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "ticket_event"


class TicketCounter(Model):
    """Last number issued per office, ticket prefix and office-local day."""

    id = fields.IntField(primary_key=True)
    office = fields.ForeignKeyField("models.Office", related_name="counters", on_delete=fields.CASCADE)
    prefix = fields.CharField(max_length=3)
    day = fields.DateField()
    value = fields.IntField(default=0)

    class Meta:
        table = "ticket_counter"
        unique_together = (("office", "prefix", "day"),)


class DeskEvent(Model):
    """Audit trail of desk status changes (open, pause, close), for productivity reports."""

    id = fields.IntField(primary_key=True)
    desk = fields.ForeignKeyField("models.Desk", related_name="status_events", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=16)
    at = fields.DatetimeField()
    user = fields.ForeignKeyField("models.User", related_name="desk_events", null=True, on_delete=fields.SET_NULL)

    class Meta:
        table = "desk_event"
        # Staffing history (staffing.py): an office's desks' changes of recent days.
        indexes = (("desk", "at"),)


class PlannedPause(Model):
    """A pause planned for a desk on a day — the office's roster of refrigerios and
    almuerzos (pause_plan.py): from `starts_at` for `minutes`. The wait estimate plays
    it (staffing.py), so the people waiting are told of the desk's absence beforehand."""

    id = fields.IntField(primary_key=True)
    desk = fields.ForeignKeyField("models.Desk", related_name="planned_pauses", on_delete=fields.CASCADE)
    day = fields.DateField()  # the office's local day
    starts_at = fields.DatetimeField()
    minutes = fields.IntField()
    kind = fields.CharField(max_length=16)  # refrigerio, almuerzo, otra

    class Meta:
        table = "planned_pause"
        indexes = (("day", "desk"),)


class PaymentRecord(Model):
    """A trámite's payment as the descarte desk saw it: the bank slip's or UNIMOVIL
    transaction's reference, recorded once (the unique reference is the rule: a slip
    shown for a second trámite is refused). Turnero takes no money."""

    id = fields.IntField(primary_key=True)
    reference = fields.CharField(max_length=24, unique=True)  # normalised: upper case, letters and digits
    channel = fields.CharField(max_length=16)  # "banco_union" or "unimovil"
    ticket = fields.ForeignKeyField("models.Ticket", related_name="payments", on_delete=fields.CASCADE)
    office = fields.ForeignKeyField("models.Office", related_name="payments", on_delete=fields.CASCADE)
    recorded_at = fields.DatetimeField()
    user = fields.ForeignKeyField("models.User", related_name="payments", null=True, on_delete=fields.SET_NULL)

    class Meta:
        table = "payment_record"


class RatingChannel(StrEnum):
    PAGE = "page"  # the citizen's ticket page
    SMS = "sms"  # a 1–5 reply to the survey message
    DESK = "desk"  # the tablet facing the citizen at the desk


class SatisfactionRating(Model):
    """How a citizen rated a finished visit, 1 (muy mal) to 5 (muy bien); once per
    ticket (queue/satisfaction.py). Office, service, desk and operator are copied from
    the ticket when it is rated, so reports group without joining the ticket."""

    id = fields.IntField(primary_key=True)
    ticket = fields.OneToOneField("models.Ticket", related_name="rating", on_delete=fields.CASCADE)
    office = fields.ForeignKeyField("models.Office", related_name="ratings", on_delete=fields.CASCADE)
    service = fields.ForeignKeyField("models.Service", related_name="ratings", on_delete=fields.CASCADE)
    desk = fields.ForeignKeyField("models.Desk", related_name="ratings", null=True, on_delete=fields.SET_NULL)
    operator = fields.ForeignKeyField("models.User", related_name="ratings", null=True, on_delete=fields.SET_NULL)
    score = fields.SmallIntField()
    channel = fields.CharEnumField(RatingChannel, max_length=8)
    created_at = fields.DatetimeField()

    class Meta:
        table = "satisfaction_rating"
        indexes = (("office", "created_at"),)


class GroupMember(Model):
    """A minor in a tutor's group (issue 20): on the tutor's cita and/or ticket (a
    check-in ticket carries its cita's members). Shown to staff only, never on public
    screens. `service` and `day` serve the anti-hoarding check (queue/groups.py)."""

    id = fields.IntField(primary_key=True)
    position = fields.IntField(default=0)
    name = fields.CharField(max_length=120)
    document = fields.CharField(max_length=20)
    document_type = fields.CharField(max_length=20)  # "ci" or "birth_certificate"
    age = fields.IntField()
    day = fields.DateField()
    service = fields.ForeignKeyField("models.Service", related_name=False, on_delete=fields.CASCADE)
    appointment = fields.ForeignKeyField("models.Appointment", related_name=False, null=True,
                                         on_delete=fields.CASCADE)
    ticket = fields.ForeignKeyField("models.Ticket", related_name=False, null=True, on_delete=fields.SET_NULL)

    class Meta:
        table = "group_member"
