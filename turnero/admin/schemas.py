"""Request and response shapes of the administration API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from turnero.admin import policy
from turnero.core.schemas import OfficeFields, ServiceOut
from turnero.scheduler.schemas import DocumentIn

RoleName = Literal["admin", "supervisor", "operator", "kiosk", "display"]
# The `pattern`s below only document what the policy validators accept (the validators
# keep the Spanish messages), so that a client following /openapi.json is not refused.
Code = Annotated[str, Field(min_length=1, max_length=40, json_schema_extra={"pattern": policy._CODE.pattern}),
                 AfterValidator(policy.code)]
ServiceCode = Annotated[str, Field(min_length=1, max_length=40, json_schema_extra={"pattern": policy._CODE.pattern}),
                        AfterValidator(lambda v: policy.code(v, "El código de trámite"))]
Hours = Annotated[dict[str, list[list[str]]], Field(json_schema_extra={
    "description": "[apertura, cierre] por día, HH:MM; la apertura antes del cierre, sin superponerse",
    "propertyNames": {"enum": list(policy.WEEKDAYS)},
    "additionalProperties": {"type": "array", "items": {
        "type": "array", "minItems": 2, "maxItems": 2,
        "items": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}}}}),
    AfterValidator(policy.opening_hours)]
Timezone = Annotated[str, Field(min_length=1, max_length=64,
                                json_schema_extra=lambda s: s.update(enum=sorted(policy._zones()))),
                     AfterValidator(policy.timezone)]
Text = Annotated[str, Field(min_length=1, max_length=120)]
Requirement = Annotated[str, Field(min_length=1, max_length=300)]
Weights = Annotated[dict[str, int], Field(max_length=50, json_schema_extra={
    "propertyNames": {"pattern": policy._CODE.pattern},
    "additionalProperties": {"type": "integer", "minimum": 1, "maximum": policy.MAX_DESK_WEIGHT}}),
    AfterValidator(policy.desk_weights)]
DeskName = Annotated[str, Field(min_length=1, max_length=40, json_schema_extra={"pattern": policy._DESK.pattern}),
                     AfterValidator(policy.desk_name)]
Username = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra={"pattern": policy._USERNAME.pattern}),
                     AfterValidator(policy.username)]
Prefix = Annotated[str, Field(min_length=1, max_length=3, json_schema_extra={"pattern": policy._PREFIX.pattern}),
                   AfterValidator(policy.prefix)]
Password = Annotated[str, Field(min_length=8, max_length=256)]
Fee = Annotated[float, Field(ge=0, le=100_000)]  # bolivianos; 0: free
FeeNote = Annotated[str, Field(max_length=300)]
DocumentType = Literal["ci", "cie", "passport"]
OfficeKindName = Literal["fixed", "brigade"]
DaySpans = Annotated[list[list[str]], Field(min_length=1, max_length=6, json_schema_extra={
    "description": "[apertura, cierre] de cada día de la parada, HH:MM, sin superponerse",
    "items": {"type": "array", "minItems": 2, "maxItems": 2,
              "items": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}}}),
    AfterValidator(policy.day_spans)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- offices


class OfficeCreate(_In):
    code: Code
    name: Text
    institution: Annotated[str, Field(min_length=1, max_length=32)] = "SEGIP"
    department: Annotated[str, Field(min_length=1, max_length=40)]
    city: Annotated[str, Field(min_length=1, max_length=80)]
    address: Annotated[str, Field(max_length=200)] = ""
    timezone: Timezone = "America/La_Paz"
    opening_hours: Hours = Field(default_factory=dict)
    services: Annotated[list[ServiceCode], Field(max_length=100)] = Field(default_factory=list)
    active: bool = True
    kind: OfficeKindName = "fixed"  # "brigade": open only on the dates of its stops


class OfficeUpdate(_In):
    name: Text = None  # type: ignore[assignment]
    institution: Annotated[str, Field(min_length=1, max_length=32)] = None  # type: ignore[assignment]
    department: Annotated[str, Field(min_length=1, max_length=40)] = None  # type: ignore[assignment]
    city: Annotated[str, Field(min_length=1, max_length=80)] = None  # type: ignore[assignment]
    address: Annotated[str, Field(max_length=200)] = None  # type: ignore[assignment]
    timezone: Timezone = None  # type: ignore[assignment]
    opening_hours: Hours = None  # type: ignore[assignment]
    services: Annotated[list[ServiceCode], Field(max_length=100)] = None  # type: ignore[assignment]
    active: bool = None  # type: ignore[assignment]
    kind: OfficeKindName = None  # type: ignore[assignment]


class OfficeAdminOut(OfficeFields):
    active: bool


# ---------------------------------------------------------------- services


class ServiceCreate(_In):
    code: ServiceCode
    name: Text
    prefix: Prefix
    walk_in: bool = True
    bookable: bool = False
    kind: Literal["counter", "exam", "practical"] = "counter"
    requirements: Annotated[list[Requirement], Field(max_length=30)] = Field(default_factory=list)
    steps: Annotated[list[ServiceCode], Field(max_length=10)] = Field(default_factory=list)
    expected_service_minutes: Annotated[float, Field(ge=0.5, le=240)] = 8.0
    active: bool = True
    fee_bs: Fee | None = None
    fee_note: FeeNote = ""
    exemptions: Annotated[list[Requirement], Field(max_length=10)] = Field(default_factory=list)
    documents: Annotated[list[DocumentType], Field(max_length=3)] = Field(default_factory=list)


class ServiceUpdate(_In):
    name: Text = None  # type: ignore[assignment]
    prefix: Prefix = None  # type: ignore[assignment]
    walk_in: bool = None  # type: ignore[assignment]
    bookable: bool = None  # type: ignore[assignment]
    kind: Literal["counter", "exam", "practical"] = None  # type: ignore[assignment]
    requirements: Annotated[list[Requirement], Field(max_length=30)] = None  # type: ignore[assignment]
    steps: Annotated[list[ServiceCode], Field(max_length=10)] = None  # type: ignore[assignment]
    expected_service_minutes: Annotated[float, Field(ge=0.5, le=240)] = None  # type: ignore[assignment]
    active: bool = None  # type: ignore[assignment]
    fee_bs: Fee | None = None  # null: no published figure (0: free)
    fee_note: FeeNote = None  # type: ignore[assignment]
    exemptions: Annotated[list[Requirement], Field(max_length=10)] = None  # type: ignore[assignment]
    documents: Annotated[list[DocumentType], Field(max_length=3)] = None  # type: ignore[assignment]


class ServiceAdminOut(ServiceOut):
    expected_service_minutes: float
    active: bool


# ---------------------------------------------------------------- desks


class DeskCreate(_In):
    name: DeskName
    services: Weights = Field(default_factory=dict)


class DeskUpdate(_In):
    name: DeskName = None  # type: ignore[assignment]
    services: Weights = None  # type: ignore[assignment]


class DeskAdminOut(BaseModel):
    name: str
    status: Literal["open", "paused", "closed"]
    services: dict[str, int]


# ---------------------------------------------------------------- users and devices


class UserCreate(_In):
    username: Username
    password: Password
    role: RoleName
    office: Code | None = None
    full_name: Annotated[str, Field(max_length=120)] = ""


class UserUpdate(_In):
    role: RoleName = None  # type: ignore[assignment]
    office: Code | None = None
    full_name: Annotated[str, Field(max_length=120)] = None  # type: ignore[assignment]
    active: bool = None  # type: ignore[assignment]
    password: Password = None  # type: ignore[assignment]


class UserAdminOut(BaseModel):
    username: str
    full_name: str
    role: RoleName
    office: str | None
    active: bool


class AuditOut(BaseModel):
    at: str
    username: str
    office: str | None
    action: str
    target: str
    before: dict | None
    after: dict | None


# ---------------------------------------------------------------- configuration file


class DeskConfig(DeskCreate):
    pass


class OfficeConfig(OfficeCreate):
    desks: Annotated[list[DeskConfig], Field(max_length=500)] = Field(default_factory=list)


class UserConfig(_In):
    username: Username
    role: RoleName
    office: Code | None = None
    full_name: Annotated[str, Field(max_length=120)] = ""
    active: bool = True


class ConfigFile(_In):
    """What `turnero config export` writes and `turnero config import` reads (no passwords)."""

    version: Literal[1] = 1
    services: list[ServiceCreate] = Field(default_factory=list)
    offices: list[OfficeConfig] = Field(default_factory=list)
    users: list[UserConfig] = Field(default_factory=list)


# ---------------------------------------------------------------- brigades


class StopIn(_In):
    """A brigade's stop: where, from which day to which day (both included), its hours."""

    municipality: Annotated[str, Field(min_length=1, max_length=80)]
    department: Annotated[str, Field(max_length=40)] = ""
    address: Annotated[str, Field(max_length=200)] = ""
    starts_on: date
    ends_on: date
    hours: DaySpans
    note: Annotated[str, Field(max_length=200)] = ""
    # A campaign's closed session: only the people on `institution`'s list (PUT …/invitees).
    closed: bool = False
    institution: Annotated[str, Field(max_length=120)] = ""

    @model_validator(mode="after")
    def _dates_in_order(self):
        if self.ends_on < self.starts_on:
            raise ValueError("el último día (ends_on) no puede ser anterior al primero (starts_on)")
        if (self.ends_on - self.starts_on).days > 366:
            raise ValueError("una parada dura a lo sumo un año")
        if self.closed and not self.institution.strip():
            raise ValueError("una sesión cerrada nombra la institución que entrega la lista (institution)")
        return self


class Invitee(_In):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    document: DocumentIn


class InviteeList(_In):
    """The people an institution submits for a closed session (replaces the list)."""

    # No item limit of its own: a request body is at most 64 KB (413 above), about 700 people.
    people: list[Invitee]


# ---------------------------------------------------------------- reports


class ReportOut(BaseModel):
    office: str
    office_name: str
    timezone: str
    # The period, both days included, in the office's time zone.
    from_: str = Field(alias="from")
    to: str
    visits: int
    tickets: int
    by_service_and_hour: dict[str, dict[str, int]]
    wait: dict
    service_time: dict
    outcomes: dict
    operators: dict[str, dict]
    desks: dict[str, dict]
    citas: dict
    exam: dict
