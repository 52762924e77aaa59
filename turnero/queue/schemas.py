"""Request bodies of the queue endpoints (validated strictly at the HTTP edge)."""

from __future__ import annotations

import re
from datetime import date as Date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from turnero.core.validation import normalise_bolivian_phone

PriorityName = Literal["regular", "senior", "disability", "pregnant", "child", "chronic", "custody"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


MAX_MEMBERS = 6  # minors in one tutor's group (issue 20)
_DOCUMENT = re.compile(r"^[A-Z0-9]{1,20}$")


class GroupMemberIn(_Body):
    """A minor in a tutor's group: name, CI or birth-certificate number, age 0–17."""

    name: str = Field(max_length=120)
    document: str = Field(max_length=24)
    document_type: Literal["ci", "birth_certificate"] = "ci"
    age: int

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("escriba el nombre del menor")
        if any(ord(c) < 32 for c in value):
            raise ValueError("nombre inválido")
        return value

    @field_validator("document")
    @classmethod
    def _document(cls, value: str) -> str:
        value = re.sub(r"[\s.\-/]", "", value).upper()
        if not _DOCUMENT.match(value):
            raise ValueError("escriba el número de CI o de certificado de nacimiento del menor (letras y dígitos)")
        return value

    @field_validator("age")
    @classmethod
    def _age(cls, value: int) -> int:
        if not 0 <= value <= 17:
            raise ValueError("la edad de un menor va de 0 a 17 años")
        return value


def _member_list(members: list[GroupMemberIn]) -> list[GroupMemberIn]:
    if len(members) > MAX_MEMBERS:
        raise ValueError(f"como máximo {MAX_MEMBERS} menores por grupo")
    if len({(m.document_type, m.document) for m in members}) < len(members):
        raise ValueError("el mismo documento figura dos veces en el grupo")
    return members


# Minors with their tutor (issue 20): at most MAX_MEMBERS, each document once.
Members = Annotated[list[GroupMemberIn], AfterValidator(_member_list)]


def check_members(members: list[GroupMemberIn], party_size: int, fields_set: set[str]) -> int:
    """The group's places: 1 (the tutor) + its minors; ValueError (a 422) when an
    explicit party_size says otherwise."""
    if not members:
        return party_size
    places = 1 + len(members)
    if "party_size" in fields_set and party_size != places:
        raise ValueError(f"personas ({party_size}) no coincide con el tutor y sus {len(members)} menores ({places})")
    return places


class IssueTicket(_Body):
    service: str = Field(min_length=1, max_length=32)
    priority: PriorityName = "regular"
    party_size: int = Field(default=1, ge=1, le=10)
    phone: str | None = Field(default=None, max_length=20)
    # Minors with their tutor (issue 20): the ticket counts 1 + len(members) people.
    members: Members = Field(default_factory=list)

    @model_validator(mode="after")
    def _group(self) -> "IssueTicket":
        self.party_size = check_members(self.members, self.party_size, self.model_fields_set)
        return self

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return normalise_bolivian_phone(value)


class CallTicket(_Body):
    ticket: str = Field(min_length=1, max_length=40)


class Transfer(_Body):
    service: str = Field(min_length=1, max_length=32)


class RecordPayment(_Body):
    """The payment the citizen shows at descarte: the bank slip's number or the
    UNIMOVIL transaction's reference."""

    reference: str = Field(min_length=1, max_length=40)
    channel: Literal["banco_union", "unimovil"] = "banco_union"


class PaymentOut(BaseModel):
    reference: str
    channel: str
    ticket: str
    recorded_at: str


# ---- responses (documentation of the shapes the service functions return)


class TicketOut(BaseModel):
    id: str
    number: str
    office: str
    service: str
    service_name: str
    priority: PriorityName
    party_size: int
    status: Literal["waiting", "called", "serving", "done", "no_show", "cancelled", "transferred"]
    position: int | None
    estimated_wait_minutes: int | None
    # Where about 80 % of such waits fell (learnt from the estimate's own past errors).
    estimated_wait_low_minutes: int | None = None
    estimated_wait_high_minutes: int | None = None
    issued_at: str
    arrived_at: str
    called_at: str | None
    desk: str | None
    recall_count: int
    next: "TicketOut | None" = None
    transferred_from: str | None = None


class DeskOut(BaseModel):
    name: str
    status: Literal["open", "paused", "closed"]
    services: list[str]
    service_weights: dict[str, int]
    operator: str | None
    serving: str | None


PauseKind = Literal["refrigerio", "almuerzo", "otra"]


class PlannedPauseIn(_Body):
    """One pause of a day's plan: the desk, its local start (HH:MM) and minutes."""

    desk: str = Field(min_length=1, max_length=32)
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="hora local de inicio, HH:MM")
    minutes: StrictInt = Field(ge=1, le=180)
    kind: PauseKind = "refrigerio"


class PausePlanIn(_Body):
    """A day's whole plan of pauses (an empty list clears it)."""

    day: Date
    pauses: list[PlannedPauseIn] = Field(max_length=400)


class PausePlanRepeatIn(_Body):
    """Repeat one day's saved plan on other days (each day's plan replaced whole)."""

    from_: Date = Field(alias="from", description="el día cuyo plan guardado se repite (puede ser pasado)")
    days: list[Date] = Field(description="los días que reciben el plan: de 1 a 31, distintos, sin `from`")


class PlannedPauseOut(BaseModel):
    desk: str
    start: str
    ends: str
    minutes: int
    kind: PauseKind


class PausePlanOut(BaseModel):
    office: str
    day: str
    pauses: list[PlannedPauseOut]


class PausePlanRepeatOut(BaseModel):
    office: str
    from_: str = Field(alias="from")
    days: list[str]
    pauses: list[PlannedPauseOut] = Field(description="el plan que cada uno de esos días tiene ahora")
