"""Request and response shapes of the catalogue and authentication endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    token: str
    role: Literal["admin", "supervisor", "operator", "kiosk", "display"]
    office: str | None
    expires_at: str


class ServiceOut(BaseModel):
    code: str
    name: str
    prefix: str
    walk_in: bool
    bookable: bool
    kind: Literal["counter", "exam", "practical"]
    requirements: list[str]
    steps: list[str]
    fee_bs: float | None = None  # 0: free; null: no published figure (fee_note says so)
    fee_note: str = ""
    cost_line: str = ""  # the fee as a citizen reads it ("Costo: Bs 548, pagado antes …", "Gratuito")
    exemptions: list[str] = []
    documents: list[str] = []  # identity documents it may be booked with; empty: any


class OfficeFields(BaseModel):
    """What every view of an office shows (public list, admin pages)."""

    code: str
    name: str
    institution: str
    department: str
    city: str
    address: str
    timezone: str
    opening_hours: dict[str, list[list[str]]]
    services: list[str]
    kind: str = "fixed"  # "brigade": itinerant, open on the dates of its stops (GET /api/brigades)


class BrigadeStopOut(BaseModel):
    """A brigade's stop as anyone may read it: the place, the days, the hours."""

    id: int
    office: str
    office_name: str
    institution: str
    municipality: str
    department: str
    address: str
    starts_on: str  # AAAA-MM-DD, first day
    ends_on: str  # last day, included
    hours: list[list[str]]  # [apertura, cierre] of each day, office time
    note: str
    closed: bool = False  # a closed session: only the people on the institution's list, by cita
    campaign: str = ""  # the institution of a closed session (a prison, a school)


class OfficeOut(OfficeFields):
    # With ?service=CODE: a regular walk-in's predicted wait there (null: no walk-ins
    # or no desk in sight) and how many wait in that line now.
    estimated_wait_minutes: int | None = None
    waiting: int | None = None
