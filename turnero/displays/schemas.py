"""The lobby board's shape (public: ticket numbers only, never names or documents)."""

from __future__ import annotations

from pydantic import BaseModel


class BoardCall(BaseModel):
    ticket: str
    service: str
    service_name: str
    desk: str | None
    called_at: str
    recall_count: int


class BoardDesk(BaseModel):
    name: str
    status: str
    serving: str | None


class BoardOut(BaseModel):
    office: str
    office_name: str
    services: dict[str, str]
    calls: list[BoardCall]
    # Every call of the last `recent_window_seconds`, newest first: what a screen that was
    # cut off (a Redis outage, a lost connection) compares with what it announced.
    recent_calls: list[BoardCall] = []
    recent_window_seconds: int = 0
    waiting: dict[str, int]
    desks: list[BoardDesk]
