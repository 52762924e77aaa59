"""Request bodies of the queue endpoints (validated strictly at the HTTP edge)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from turnero.core.validation import normalise_bolivian_phone

PriorityName = Literal["regular", "senior", "disability", "pregnant", "child", "chronic", "custody"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class IssueTicket(_Body):
    service: str = Field(min_length=1, max_length=32)
    priority: PriorityName = "regular"
    party_size: int = Field(default=1, ge=1, le=10)
    phone: str | None = Field(default=None, max_length=20)

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
