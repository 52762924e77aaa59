"""Request and response shapes of the citas API (pydantic v2, strict at the edge)."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from turnero.core.validation import normalise_bolivian_phone
from turnero.queue.schemas import Members, check_members
from turnero.scheduler import policy

Code = Field(min_length=1, max_length=32)


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["ci", "cie", "passport"] = "ci"
    number: str = Field(min_length=1, max_length=20)
    complement: str | None = Field(default=None, max_length=4)
    issued_in: str | None = Field(default=None, max_length=4, json_schema_extra=lambda s: s.update(
        anyOf=[{"type": "string", "enum": list(policy.DEPARTMENTS)}, {"type": "null"}]))

    @model_validator(mode="after")
    def _valid(self) -> "DocumentIn":
        doc = policy.parse_document(self.number, self.complement, self.issued_in, self.type)
        self.number, self.complement, self.issued_in = doc.number, doc.complement, doc.issued_in
        return self

    def document(self) -> policy.Document:
        return policy.Document(self.type, self.number, self.complement, self.issued_in)


class BookAppointment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    office: str = Code
    service: str = Code
    # ISO 8601 with offset; without one it is read in the office's time zone.
    start: datetime
    document: DocumentIn
    name: str = Field(min_length=1, max_length=120)
    phone: str | None = Field(default=None, max_length=32)
    party_size: int = Field(default=1, ge=1, le=10)
    category: Literal["A", "B", "C", "M", "P", "T"] | None = None
    # Minors with their tutor (issue 20): the group takes 1 + len(members) places.
    members: Members = Field(default_factory=list)

    @model_validator(mode="after")
    def _group(self) -> "BookAppointment":
        self.party_size = check_members(self.members, self.party_size, self.model_fields_set)
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value or any(ord(c) < 32 for c in value):
            raise ValueError("nombre inválido")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_bolivian_phone(value) if value else None


class DocumentRef(BaseModel):
    """A document as the citizen types it to prove a cita is theirs: `1234567`,
    `1234567-1B`, or the same object as when booking."""

    model_config = ConfigDict(extra="ignore")
    document: str | DocumentIn

    @field_validator("document")
    @classmethod
    def _not_blank(cls, value):
        if isinstance(value, str) and not (0 < len(value.strip()) <= 24):
            raise ValueError("documento inválido")
        return value

    def number(self) -> str:
        doc = self.document
        if isinstance(doc, DocumentIn):
            return f"{doc.number}-{doc.complement}" if doc.complement else doc.number
        return doc


class CancelAppointment(DocumentRef):
    pass


class RescheduleAppointment(DocumentRef):
    start: datetime


class CheckIn(BaseModel):
    """By the cita's code (or the id in its QR code), or by the citizen's document."""

    # Exactly one of the two, as the validator below requires.
    model_config = ConfigDict(extra="ignore", json_schema_extra={"oneOf": [
        {"required": ["code"], "properties": {"code": {"type": "string"}}},
        {"required": ["document"], "properties": {"document": {"type": "string"}}},
    ]})
    code: str | None = Field(default=None, min_length=1, max_length=200)
    document: str | None = Field(default=None, min_length=1, max_length=24)

    @model_validator(mode="after")
    def _one(self) -> "CheckIn":
        if (self.code is None) == (self.document is None):
            raise ValueError("indique el código de la cita o el número de documento (uno de los dos)")
        return self


class BookingRuleIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    service: str = Code
    slot_minutes: int = Field(default=15, ge=5, le=240)
    capacity: int | None = Field(default=None, ge=0, le=500)
    window_days: int = Field(default=30, ge=1, le=120)
    min_notice_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    release_time: str | None = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    cancel_cutoff_minutes: int = Field(default=120, ge=0, le=7 * 24 * 60)
    hours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[tuple[str, str]]] | None = None
    active: bool = True

    @field_validator("hours")
    @classmethod
    def _hours(cls, value):
        if value is None:
            return None
        for spans in value.values():
            for start, end in spans:
                for text in (start, end):
                    if not (len(text) == 5 and text[2] == ":" and text[:2].isdigit() and text[3:].isdigit()
                            and int(text[:2]) < 24 and int(text[3:]) < 60):
                        raise ValueError("horas en formato HH:MM")
                if start >= end:
                    raise ValueError("cada franja debe terminar después de empezar")
        return value


class ClosureIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    date: Date
    reason: str = Field(default="", max_length=120)

    @field_validator("date")
    @classmethod
    def _date(cls, value: Date) -> Date:
        # A typo like 0226 or 20226 would close a day nobody will ever book.
        if not (2000 <= value.year < 2100) or value > Date.today() + timedelta(days=3660):
            raise ValueError("fecha fuera de rango")
        return value


# ---------------------------------------------------------------- responses


class SlotOut(BaseModel):
    start: str
    end: str
    capacity: int
    available: int


class DocumentOut(BaseModel):
    type: str
    number: str  # masked: the last three characters only
    issued_in: str | None


class AppointmentLinks(BaseModel):
    ics: str
    qr: str
    page: str


class GroupMemberOut(BaseModel):
    name: str
    document: str
    document_type: Literal["ci", "birth_certificate"]
    age: int


class AppointmentOut(BaseModel):
    id: str
    code: str
    office: str
    office_name: str
    office_address: str
    service: str
    service_name: str
    kind: Literal["counter", "exam", "practical"]
    start: str
    end: str
    timezone: str
    status: Literal["booked", "checked_in", "done", "cancelled", "no_show"]
    name: str
    document: DocumentOut
    phone: str | None
    party_size: int
    category: str | None
    requirements: list[str]
    can_cancel: bool
    cancel_until: str
    checkin_from: str
    checkin_until: str
    ticket: str | None
    links: AppointmentLinks
    # Only in the booking's answer: the minors with their tutor (issue 20; docs/api.md «Groups»).
    members: list[GroupMemberOut] | None = None


class NextFree(BaseModel):
    start: str
    end: str
    available: int


class ServiceOfficeOut(BaseModel):
    code: str
    name: str
    institution: str
    department: str
    city: str
    address: str
    timezone: str
    next_free: NextFree | None


class RuleOut(BaseModel):
    service: str
    service_name: str
    slot_minutes: int
    capacity: int
    # True when the rule sets no places of its own: one per desk serving the trámite
    # as its main one (`capacity` is that count, and follows the desks).
    capacity_from_desks: bool = False
    window_days: int
    min_notice_minutes: int
    release_time: str | None
    cancel_cutoff_minutes: int
    hours: dict[str, list[list[str]]]
    active: bool


class ClosedDayOut(BaseModel):
    date: str
    reason: str


class CalendarOut(BaseModel):
    office: str
    timezone: str
    opening_hours: dict[str, list[list[str]]]
    rules: list[RuleOut]
    closed_days: list[ClosedDayOut]


class CheckInOut(BaseModel):
    """The queue ticket (same shape as POST /api/offices/{office}/tickets) plus the cita."""

    model_config = ConfigDict(extra="allow")
    id: str
    number: str
    service: str
    status: str
    appointment: str
    late: bool
