"""Request and response shapes of the satisfaction and public-statistics endpoints
(validated strictly at the HTTP edge; the responses document what the service returns)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class RateVisit(_Body):
    """1 muy mal · 2 mal · 3 regular · 4 bien · 5 muy bien."""

    score: int = Field(ge=1, le=5)


class RateAtDesk(RateVisit):
    ticket: str = Field(min_length=1, max_length=40)  # the public id the desk's tablet was shown


class RatingOut(BaseModel):
    ticket: str
    number: str
    score: int
    label: str
    channel: Literal["page", "sms", "desk"]
    created_at: str


class DeskPrompt(BaseModel):
    ticket: str
    number: str
    service_name: str
    finished_at: str


class DeskPromptOut(BaseModel):
    """The ticket the desk's tablet asks the citizen about; null when there is none."""

    prompt: DeskPrompt | None


class RatingFigures(BaseModel):
    count: int
    average: float | None
    distribution: dict[str, int]  # "1".."5" -> how many


class SatisfactionReportOut(BaseModel):
    office: str
    office_name: str
    # (`from` is a Python keyword: the key is documented by its alias.)
    from_: str = Field(alias="from")
    to: str
    timezone: str
    service_names: dict[str, str]
    all: RatingFigures
    by_service: dict[str, RatingFigures]
    by_operator: dict[str, RatingFigures]  # operator's username -> figures (staff only)


class PublicSatisfaction(BaseModel):
    """The office's ratings of the last 30 days: average and count, nobody named."""

    from_: str = Field(alias="from")
    to: str
    count: int
    average: float | None


class HourFigures(BaseModel):
    hour: str
    visits_per_day: float
    wait_mean_minutes: int
    wait_median_minutes: int
    wait_p90_minutes: int


class StatisticsPeriod(BaseModel):
    from_: str = Field(alias="from")
    to: str
    days: int


class TodayLoad(BaseModel):
    date: str
    visits: int
    served: int
    waiting_now: int


class OfficeStatisticsOut(BaseModel):
    office: str
    office_name: str
    period: StatisticsPeriod
    by_hour: list[HourFigures]
    today: TodayLoad
    satisfaction: PublicSatisfaction
