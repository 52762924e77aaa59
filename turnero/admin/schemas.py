"""Request and response shapes of the administration API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from turnero.admin import policy
from turnero.core.schemas import OfficeFields, ServiceOut

RoleName = Literal["admin", "supervisor", "operator", "kiosk", "display"]
Code = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(policy.code)]
ServiceCode = Annotated[str, Field(min_length=1, max_length=40),
                        AfterValidator(lambda v: policy.code(v, "El código de trámite"))]
Hours = Annotated[dict[str, list[list[str]]], AfterValidator(policy.opening_hours)]
Timezone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(policy.timezone)]
Text = Annotated[str, Field(min_length=1, max_length=120)]
Requirement = Annotated[str, Field(min_length=1, max_length=300)]
Weights = Annotated[dict[str, int], Field(max_length=50), AfterValidator(policy.desk_weights)]
DeskName = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(policy.desk_name)]
Username = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(policy.username)]
Password = Annotated[str, Field(min_length=8, max_length=256)]


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


class OfficeUpdate(_In):
    name: Text | None = None
    institution: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    department: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    city: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    address: Annotated[str, Field(max_length=200)] | None = None
    timezone: Timezone | None = None
    opening_hours: Hours | None = None
    services: Annotated[list[ServiceCode], Field(max_length=100)] | None = None
    active: bool | None = None


class OfficeAdminOut(OfficeFields):
    active: bool


# ---------------------------------------------------------------- services


class ServiceCreate(_In):
    code: ServiceCode
    name: Text
    prefix: Annotated[str, Field(min_length=1, max_length=3), AfterValidator(policy.prefix)]
    walk_in: bool = True
    bookable: bool = False
    kind: Literal["counter", "exam"] = "counter"
    requirements: Annotated[list[Requirement], Field(max_length=30)] = Field(default_factory=list)
    steps: Annotated[list[ServiceCode], Field(max_length=10)] = Field(default_factory=list)
    expected_service_minutes: Annotated[float, Field(ge=0.5, le=240)] = 8.0
    active: bool = True


class ServiceUpdate(_In):
    name: Text | None = None
    prefix: Annotated[str, Field(min_length=1, max_length=3), AfterValidator(policy.prefix)] | None = None
    walk_in: bool | None = None
    bookable: bool | None = None
    kind: Literal["counter", "exam"] | None = None
    requirements: Annotated[list[Requirement], Field(max_length=30)] | None = None
    steps: Annotated[list[ServiceCode], Field(max_length=10)] | None = None
    expected_service_minutes: Annotated[float, Field(ge=0.5, le=240)] | None = None
    active: bool | None = None


class ServiceAdminOut(ServiceOut):
    expected_service_minutes: float
    active: bool


# ---------------------------------------------------------------- desks


class DeskCreate(_In):
    name: DeskName
    services: Weights = Field(default_factory=dict)


class DeskUpdate(_In):
    name: DeskName | None = None
    services: Weights | None = None


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
    role: RoleName | None = None
    office: Code | None = None
    full_name: Annotated[str, Field(max_length=120)] | None = None
    active: bool | None = None
    password: Password | None = None


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
