"""The webhook bodies Twilio posts (form-encoded), validated after the signature check."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from turnero.notifications.policy import is_known_delivery_status


class _Form(BaseModel):
    # Twilio sends many more fields than these, and adds new ones over time.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class StatusCallback(_Form):
    MessageSid: str = Field(min_length=2, max_length=64)
    MessageStatus: str = Field(min_length=1, max_length=24)
    ErrorCode: str | None = Field(default=None, max_length=16)

    @field_validator("MessageStatus")
    @classmethod
    def _status(cls, value: str) -> str:
        value = value.lower()
        if not is_known_delivery_status(value):
            raise ValueError(f"estado de mensaje desconocido: {value!r}")
        return value


class InboundMessageForm(_Form):
    MessageSid: str = Field(min_length=2, max_length=64)
    From: str = Field(min_length=4, max_length=40)
    Body: str = Field(default="", max_length=1600)
