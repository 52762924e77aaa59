"""Tortoise models of the exam room: rooms and seats, the question bank, sessions,
attempts with their answers, and the audit trail.

Two rules live in the database, not in check-then-insert code (migration 5_…_exam):
an active attempt holds its seat alone within a session (partial unique index on
(session_id, seat_id)), and a candidate (document, and booking) has one active attempt
per session.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AttemptStatus(StrEnum):
    ASSIGNED = "assigned"  # checked in, seated, not started (or paused by a seat swap)
    IN_PROGRESS = "in_progress"
    FINISHED = "finished"  # scored
    CANCELLED = "cancelled"  # released its seat (wrong person, withdrew)


# Attempts that hold their seat for the whole session (a finished candidate's seat is
# not handed to someone else: late arrivals are refused anyway).
SEAT_HOLDING = (AttemptStatus.ASSIGNED, AttemptStatus.IN_PROGRESS, AttemptStatus.FINISHED)


class ExamRoom(Model):
    id = fields.IntField(primary_key=True)
    office = fields.ForeignKeyField("models.Office", related_name="exam_rooms", on_delete=fields.CASCADE)
    code = fields.CharField(max_length=32)  # short, in URLs: "SALA-1"
    name = fields.CharField(max_length=120)

    class Meta:
        table = "exam_room"
        unique_together = (("office", "code"),)


class Seat(Model):
    id = fields.IntField(primary_key=True)
    room = fields.ForeignKeyField("models.ExamRoom", related_name="seats", on_delete=fields.CASCADE)
    number = fields.IntField()
    in_service = fields.BooleanField(default=True)
    # The seat's own link (/exam/seat/{token}) shows the idle seat only; an exam is
    # reached through its attempt's seat_token, handed out by the proctor's board.
    token = fields.CharField(max_length=48, unique=True)

    class Meta:
        table = "exam_seat"
        unique_together = (("room", "number"),)


class Question(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)  # stable key for re-imports
    # "|B|P|": the categories whose exams draw it (a LIKE '%|B|%' finds them).
    categories = fields.CharField(max_length=16)
    text = fields.TextField()
    choices = fields.JSONField()  # 2 to 5 option texts
    correct = fields.IntField()  # index into choices
    explanation = fields.TextField(default="")
    active = fields.BooleanField(default=True)

    class Meta:
        table = "exam_question"


class ExamSession(Model):
    """A sitting in a room: the exam side of one scheduler slot of the office's exam
    service. The slot holds the places (capacity = seats in service) and the bookings
    (citas); this row holds what only the room needs (the room, the attempts)."""

    id = fields.IntField(primary_key=True)
    room = fields.ForeignKeyField("models.ExamRoom", related_name="sessions", on_delete=fields.CASCADE)
    slot = fields.OneToOneField("models.Slot", related_name="exam_session", on_delete=fields.CASCADE)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    # When the proctor started the sitting ahead of time (everyone expected is seated);
    # from then on, as from `starts_at`, seats may start and late arrivals are refused.
    opened_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "exam_session"
        unique_together = (("room", "starts_at"),)


class ExamAttempt(Model):
    id = fields.IntField(primary_key=True)
    public_id = fields.CharField(max_length=24, unique=True)
    session = fields.ForeignKeyField("models.ExamSession", related_name="attempts", on_delete=fields.RESTRICT)
    seat = fields.ForeignKeyField("models.Seat", related_name="attempts", null=True, on_delete=fields.RESTRICT)
    # The seat computer's link for this candidate (/exam/seat/{seat_token}): made at
    # check-in, made anew by a seat swap; unique (migration 12_…_seat_tokens).
    seat_token = fields.CharField(max_length=48, null=True)
    # The booking (cita) this attempt came from, and its code as the proctor saw it.
    appointment = fields.ForeignKeyField("models.Appointment", related_name="exam_attempts",
                                         on_delete=fields.RESTRICT)
    booking_ref = fields.CharField(max_length=32, default="")
    document = fields.CharField(max_length=20)
    name = fields.CharField(max_length=120)
    phone = fields.CharField(max_length=20, null=True)
    category = fields.CharField(max_length=1)
    status = fields.CharEnumField(AttemptStatus, max_length=16, default=AttemptStatus.ASSIGNED)
    seed = fields.BigIntField()
    question_ids = fields.JSONField(default=list)  # the draw, in order
    position = fields.IntField(default=0)  # question shown last (a reload returns there)
    checked_in_at = fields.DatetimeField()
    started_at = fields.DatetimeField(null=True)
    deadline = fields.DatetimeField(null=True)
    # Time left when a seat swap paused the attempt; the next start resumes with it.
    remaining_seconds = fields.IntField(null=True)
    finished_at = fields.DatetimeField(null=True)
    correct_count = fields.IntField(null=True)
    total = fields.IntField(null=True)
    score_percent = fields.FloatField(null=True)
    passed = fields.BooleanField(null=True)

    class Meta:
        table = "exam_attempt"
        indexes = (("document", "category", "status"),)


class ExamAnswer(Model):
    id = fields.IntField(primary_key=True)
    attempt = fields.ForeignKeyField("models.ExamAttempt", related_name="answers", on_delete=fields.CASCADE)
    question = fields.ForeignKeyField("models.Question", related_name="answers", on_delete=fields.RESTRICT)
    choice = fields.IntField()
    answered_at = fields.DatetimeField()

    class Meta:
        table = "exam_answer"
        unique_together = (("attempt", "question"),)


class ExamEvent(Model):
    """Audit trail: one row per attempt or seat state change, in the same transaction."""

    id = fields.IntField(primary_key=True)
    attempt = fields.ForeignKeyField("models.ExamAttempt", related_name="events", null=True, on_delete=fields.CASCADE)
    seat = fields.ForeignKeyField("models.Seat", related_name="events", null=True, on_delete=fields.SET_NULL)
    kind = fields.CharField(max_length=24)
    at = fields.DatetimeField()
    user = fields.ForeignKeyField("models.User", related_name="exam_events", null=True, on_delete=fields.SET_NULL)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "exam_event"


class LicenceResult(Model):
    """The examiner's result of a licence step taken on a cita (issue 20): the medical
    and psychological evaluation or the practical driving test (exam/licence_path.py).
    One result per cita; the cita's AppointmentEvent `licence_result` is written in the
    same transaction (migration 18_…_licence_results)."""

    id = fields.IntField(primary_key=True)
    appointment = fields.OneToOneField("models.Appointment", related_name="licence_result",
                                       on_delete=fields.RESTRICT)
    office = fields.ForeignKeyField("models.Office", related_name="licence_results", on_delete=fields.RESTRICT)
    step = fields.CharField(max_length=16)  # "medical" | "practical"
    document = fields.CharField(max_length=20)
    category = fields.CharField(max_length=2, null=True)
    passed = fields.BooleanField()
    notes = fields.TextField(default="")
    recorded_at = fields.DatetimeField()
    user = fields.ForeignKeyField("models.User", related_name="licence_results", null=True,
                                  on_delete=fields.SET_NULL)

    class Meta:
        table = "licence_result"
        indexes = (("document", "step", "category"),)
