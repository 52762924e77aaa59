"""The outbox of outgoing SMS/WhatsApp messages, and the replies citizens send back."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"


class MessageStatus(StrEnum):
    PENDING = "pending"  # waiting for its due time (or its next attempt)
    SENDING = "sending"  # claimed by one dispatcher until `claimed_until`
    SENT = "sent"  # the provider accepted it (it has a provider_sid)
    FAILED = "failed"  # not accepted after the last attempt, or refused for good
    CANCELLED = "cancelled"  # no longer wanted (cita cancelled, ticket already called, expired)
    DELIVERED = "delivered"  # the provider's status callback said so
    UNDELIVERED = "undelivered"  # accepted, but the carrier could not deliver it


class OutboundMessage(Model):
    """One message to one phone, written in the same transaction as the state change
    that causes it; the dispatcher job sends it when due (never from a request)."""

    id = fields.BigIntField(primary_key=True)
    # The event it comes from ("cita:42:recordatorio:24h:2026-11-24T14:00"): unique, so
    # one event never produces two messages, whoever writes it and however often.
    dedupe_key = fields.CharField(max_length=160, unique=True)
    template = fields.CharField(max_length=40)
    to = fields.CharField(max_length=20)  # E.164
    channel = fields.CharEnumField(Channel, max_length=16)
    body = fields.TextField()
    status = fields.CharEnumField(MessageStatus, max_length=16, default=MessageStatus.PENDING)
    send_at = fields.DatetimeField()  # when it is due
    # Not worth sending after this (a "your turn is near" an hour late; a reminder after the cita).
    expires_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    claimed_by = fields.CharField(max_length=64, null=True)
    claimed_until = fields.DatetimeField(null=True)  # a dispatcher's lease on a `sending` row
    # The first attempt whose outcome is unknown (crash, timeout): the provider is asked
    # about messages since then before the next send. `recheck_from` hands it to a claim.
    unsure_since = fields.DatetimeField(null=True)
    recheck_from = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    provider_sid = fields.CharField(max_length=64, null=True, unique=True)  # Twilio MessageSid
    delivery_status = fields.CharField(max_length=24, null=True)  # Twilio's MessageStatus
    office = fields.ForeignKeyField(
        "models.Office", related_name="outbound_messages", null=True, on_delete=fields.SET_NULL
    )
    ticket = fields.ForeignKeyField(
        "models.Ticket", related_name="outbound_messages", null=True, on_delete=fields.SET_NULL
    )
    # Plain id, not a foreign key: the scheduler's tables come from a sibling migration.
    appointment_id = fields.IntField(null=True, db_index=True)
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)
    status_changed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbound_message"
        # The dispatcher's scan: due rows in order of due time.
        indexes = (("status", "next_attempt_at"),)


class InboundMessage(Model):
    """A reply received through the provider's webhook, and what Turnero did with it."""

    id = fields.BigIntField(primary_key=True)
    provider_sid = fields.CharField(max_length=64, unique=True)  # a webhook retried is handled once
    from_number = fields.CharField(max_length=20, db_index=True)  # E.164
    channel = fields.CharEnumField(Channel, max_length=16)
    body = fields.TextField()
    # "cancelled", "too_late", "confirmed", "no_appointment", "unknown_command", …
    action = fields.CharField(max_length=24)
    appointment_id = fields.IntField(null=True)
    received_at = fields.DatetimeField()

    class Meta:
        table = "inbound_message"
