"""Request and response bodies of the exam API (validated strictly at the HTTP edge)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from turnero.scheduler.schemas import DocumentIn


Category = Literal["A", "B", "C", "M", "P", "T"]
_DOCUMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{3,19}")


def _document(value: str) -> str:
    value = value.strip().upper()
    if not _DOCUMENT.fullmatch(value):
        raise ValueError("número de documento inválido (letras, números y guion; de 4 a 20)")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class CreateSession(_Body):
    starts_at: str = Field(min_length=10, max_length=40, description="ISO 8601 con zona, p. ej. 2026-11-24T08:00:00-04:00")
    minutes: int = Field(default=45, ge=10, le=480, description="duración de la sesión")

    @field_validator("starts_at")
    @classmethod
    def _when(cls, value: str) -> str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("fecha y hora ISO 8601 inválida") from None
        if parsed.tzinfo is None:
            raise ValueError("debe incluir la zona horaria (p. ej. -04:00)")
        return value


class ExamCheckIn(_Body):
    """The candidate's cita (its code or QR link; without it, the session's booking made
    with the presented document) and the document they present in person: they must
    match the booking."""

    booking: str | None = Field(default=None, min_length=1, max_length=200,
                                description="código de la cita (o su enlace QR)")
    presented_document: str = Field(min_length=1, max_length=20, description="documento que presenta el postulante")
    seat: int | None = Field(default=None, ge=1, le=999, description="computadora elegida; si falta, la libre más baja")

    @field_validator("presented_document")
    @classmethod
    def _documents(cls, value: str) -> str:
        return _document(value)


class Swap(_Body):
    seat: int | None = Field(default=None, ge=1, le=999)
    reason: str = Field(default="", max_length=200)


class Cancel(_Body):
    reason: str = Field(default="", max_length=200)


class AttemptRef(_Body):
    attempt: str = Field(min_length=1, max_length=24)


class Answer(AttemptRef):
    question: int = Field(ge=1, le=2**31 - 1)
    choice: int = Field(ge=0, le=9)
    position: int | None = Field(default=None, ge=0, le=999)


# ---------------------------------------------------------------- responses


class SeatOut(BaseModel):
    number: int
    in_service: bool


class SeatChangeOut(SeatOut):
    places: int = Field(description="plazas de cada sesión futura: computadoras en servicio")
    moved: int = Field(description="reservas movidas a la siguiente sesión con lugar (con aviso)")
    cancelled: int = Field(description="reservas canceladas por falta de lugar (con aviso)")


class RoomOut(BaseModel):
    code: str
    name: str
    seats: list[SeatOut]


class SessionOut(BaseModel):
    id: int
    room: str
    starts_at: str
    ends_at: str
    slot_id: int


class AttemptOut(BaseModel):
    id: str
    session: int
    seat: int | None
    booking: str
    document: str
    name: str
    category: Category
    status: Literal["assigned", "in_progress", "finished", "cancelled"]
    checked_in_at: str | None
    started_at: str | None
    deadline: str | None
    finished_at: str | None
    correct: int | None
    total: int | None
    percent: float | None
    passed: bool | None


class BoardSeatAttempt(BaseModel):
    id: str
    name: str
    document: str
    category: Category
    booking: str
    answered: int
    total: int
    seconds_left: int | None
    passed: bool | None
    percent: float | None


class BoardSeat(BaseModel):
    number: int
    state: Literal["free", "assigned", "in_progress", "finished", "out_of_service"]
    in_service: bool
    token: str = Field(description="enlace de la computadora: /exam/seat/{token}")
    attempt: BoardSeatAttempt | None


class BoardStats(BaseModel):
    seats: int
    seats_in_service: int
    booked: int
    expected: int
    no_shows: int
    checked_in: int
    in_progress: int
    finished: int
    passed: int
    failed: int
    pass_rate: float | None
    attendance_rate: float | None


class ExpectedCandidate(BaseModel):
    code: str
    name: str
    document: str
    category: str | None


class ExamBoardOut(BaseModel):
    session: int
    room: str
    room_name: str
    office: str
    starts_at: str
    ends_at: str
    slot_id: int
    checkin_open: bool
    started: bool
    opened_at: str | None
    places: int
    seats: list[BoardSeat]
    expected: list[ExpectedCandidate]
    stats: BoardStats


class SeatQuestion(BaseModel):
    id: int
    text: str
    choices: list[str]


class SeatResult(BaseModel):
    correct: int
    total: int
    percent: float
    passed: bool
    required: int


class SeatAttempt(BaseModel):
    id: str
    name: str
    category: Category
    category_name: str
    status: Literal["assigned", "in_progress", "finished"]
    session_starts_at: str
    duration_seconds: int
    remaining_seconds: int | None
    resumed: bool
    total: int
    pass_percent: int
    deadline: str | None = None
    seconds_left: int | None = None
    position: int | None = None
    questions: list[SeatQuestion] | None = None
    answers: dict[str, int] | None = None
    result: SeatResult | None = None


class SeatStateOut(BaseModel):
    seat: int
    room: str
    room_name: str
    office: str
    in_service: bool
    attempt: SeatAttempt | None


class EligibilityOut(BaseModel):
    allowed: bool
    code: str
    message: str
    not_before: str | None



# ---------------------------------------------------------------- the licence path's results (issue 20)


class LicenceResultIn(_Body):
    # Exactly one of the two, as the validator below requires.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"oneOf": [
        {"required": ["appointment"]}, {"required": ["ticket"]},
    ]})
    appointment: str | None = Field(default=None, min_length=4, max_length=32,
                                    description="código de la cita (evaluación médica o examen práctico)")
    ticket: str | None = Field(default=None, min_length=4, max_length=32,
                               description="id del ticket con que se registró la llegada de esa cita")
    passed: bool = Field(description="true: aprobado; false: reprobado")
    notes: str = Field(default="", max_length=500, description="observaciones del examinador")

    @model_validator(mode="after")
    def _one_reference(self) -> "LicenceResultIn":
        if (self.appointment is None) == (self.ticket is None):
            raise ValueError("indique la cita (appointment) o el ticket (ticket), uno de los dos")
        return self


class LicenceResultOut(BaseModel):
    id: int
    appointment: str
    service: str
    step: Literal["medical", "practical"]
    category: str | None
    passed: bool
    notes: str
    recorded_at: str


class GroupCandidate(_Body):
    name: str = Field(min_length=1, max_length=120)
    document: DocumentIn  # the citas' document, checked the same way

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value or any(ord(c) < 32 for c in value):
            raise ValueError("nombre inválido")
        return value


class GroupBookingIn(_Body):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    institution: str = Field(min_length=2, max_length=120, description="institución que inscribe la lista")
    category: Category
    candidates: list[GroupCandidate] = Field(min_length=1, max_length=200)


class GroupSeat(BaseModel):
    name: str
    document: str
    appointment: str


class GroupRefusal(BaseModel):
    name: str
    document: str
    code: str
    message: str


class GroupBookingOut(BaseModel):
    session: int
    institution: str
    category: str
    starts_at: str
    booked: list[GroupSeat]
    refused: list[GroupRefusal]
    places_left: int
