"""Pure rules of the notifications domain (no I/O): which channel, when to retry,
when reminders go out, when a walk-in is "near", what a reply means."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from turnero.notifications.models import Channel
from turnero.settings import Settings


# ---------------------------------------------------------------- configuration


def parse_channel_rules(raw: str) -> dict[tuple[str, str], Channel]:
    """`LPZ-PRINCIPAL=whatsapp,*/EXAM-TEORICO=sms,LPZ-SEGELIC/LIC-NUEVA=whatsapp` ->
    {(office or "*", service or "*"): channel}. ValueError on a malformed entry."""
    rules: dict[tuple[str, str], Channel] = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, value = entry.partition("=")
        if not sep:
            raise ValueError(f"regla de canal sin '=': {entry!r}")
        try:
            channel = Channel(value.strip().lower())
        except ValueError:
            raise ValueError(f"canal desconocido {value.strip()!r} (sms o whatsapp)") from None
        office, _, service = key.strip().partition("/")
        rules[(office.strip().upper() or "*", service.strip().upper() or "*")] = channel
    return rules


def choose_channel(
    rules: dict[tuple[str, str], Channel], default: Channel, office: str | None, service: str | None
) -> Channel:
    """The most specific rule wins: office+service, then service, then office, then default."""
    office, service = (office or "*").upper(), (service or "*").upper()
    for key in ((office, service), ("*", service), (office, "*")):
        if key in rules:
            return rules[key]
    return default


def _parse_hours(raw: str) -> tuple[float, ...]:
    hours = sorted({float(part) for part in raw.replace(" ", "").split(",") if part}, reverse=True)
    if any(h <= 0 for h in hours):
        raise ValueError("TURNERO_REMINDER_HOURS: las horas deben ser positivas")
    return tuple(hours)


@dataclass(frozen=True)
class NotificationConfig:
    """What the notifications domain needs from Settings, parsed once."""

    default_channel: Channel = Channel.SMS
    channel_rules: dict = field(default_factory=dict)
    reminder_hours: tuple[float, ...] = (24.0, 2.0)
    near_turn_position: int = 3
    near_turn_minutes: int = 10
    max_attempts: int = 6
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=2)  # a `sending` row's claim, renewed while it is sent
    send_timeout: float = 10.0  # seconds a provider request may take before it is cut
    batch_size: int = 200
    concurrency: int = 20  # messages in flight at once per dispatcher
    # Walk-in messages are useless late: a "near" or "your turn" after this is not sent.
    walk_in_ttl: timedelta = timedelta(minutes=30)
    public_url: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> "NotificationConfig":
        return cls(
            default_channel=Channel(settings.notify_channel),
            channel_rules=parse_channel_rules(settings.notify_channels),
            reminder_hours=_parse_hours(settings.reminder_hours),
            near_turn_position=settings.near_turn_position,
            near_turn_minutes=settings.near_turn_minutes,
            max_attempts=max(1, settings.notify_max_attempts),
            send_timeout=settings.notify_send_timeout_seconds,
            lease=lease_for(settings.notify_send_timeout_seconds, settings.notify_lease_seconds),
            concurrency=max(1, settings.notify_concurrency),
            public_url=settings.public_url.rstrip("/"),
        )

    def channel_for(self, office: str | None, service: str | None) -> Channel:
        return choose_channel(self.channel_rules, self.default_channel, office, service)


# ---------------------------------------------------------------- retries


def backoff(attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """Wait before the next attempt after `attempts` failed ones: base, 2·base, 4·base … ≤ cap."""
    return min(cap, base * (2 ** max(0, attempts - 1)))


def lease_for(send_timeout: float, lease_seconds: float) -> timedelta:
    """A claim's lease: at least three send timeouts, so a send in flight (cut at its
    timeout) always ends, or renews the lease, before another dispatcher may take the row."""
    if send_timeout <= 0:
        raise ValueError("TURNERO_NOTIFY_SEND_TIMEOUT_SECONDS debe ser positivo")
    return timedelta(seconds=max(lease_seconds, 3 * send_timeout))


def renew_every(lease: timedelta) -> float:
    """Seconds between renewals of the leases a dispatcher holds: three chances per lease."""
    return max(0.05, lease.total_seconds() / 3)


# The provider's clock and ours may differ; its "date sent" is asked from this much earlier.
CLOCK_SKEW = timedelta(minutes=2)


def recheck_since(unsure_since: datetime) -> datetime:
    return unsure_since - CLOCK_SKEW


def find_ours(listed: list[dict], *, to: str, body: str, message_id: int) -> list[str]:
    """Sids of the provider's records that may be our message, among `listed` ({sid, to,
    body, status_callback?}): same recipient and text, and where the provider shows the
    status callback URL it carries our id (`?id=N`). The caller drops sids already
    recorded on another row."""
    found = []
    for item in listed:
        if item.get("to") != to or item.get("body") != body or not item.get("sid"):
            continue
        callback = item.get("status_callback")
        if callback and not re.search(rf"[?&]id={message_id}(?:&|$)", callback):
            continue
        found.append(item["sid"])
    return found


# ---------------------------------------------------------------- citas


def reminder_times(start: datetime, now: datetime, hours: tuple[float, ...]) -> list[tuple[float, datetime]]:
    """(hours before, send time) of each reminder still ahead at `now`; one whose time
    has already passed is skipped (a cita booked 5 h ahead gets only the 2 h reminder)."""
    plan = []
    for h in hours:
        at = start - timedelta(hours=h)
        if at > now:
            plan.append((h, at))
    return plan


def hours_label(hours: float) -> str:
    return f"{hours:g}h"


# ---------------------------------------------------------------- walk-ins


def is_near(position: int, estimated_wait_minutes: int | None, max_position: int, max_minutes: int) -> bool:
    """A waiting ticket is "near" at position ≤ max_position or an estimate ≤ max_minutes."""
    if position <= max_position:
        return True
    return estimated_wait_minutes is not None and estimated_wait_minutes <= max_minutes


# ---------------------------------------------------------------- replies

CANCEL, CONFIRM = "cancel", "confirm"
_COMMANDS = {"CANCELAR": CANCEL, "CANCELA": CANCEL, "ANULAR": CANCEL, "SI": CONFIRM, "CONFIRMAR": CONFIRM,
             "CONFIRMO": CONFIRM}


def parse_reply(body: str) -> str | None:
    """CANCEL, CONFIRM or None for a citizen's reply: the first word, any case, with or
    without accents or punctuation ("Sí.", "cancelar por favor")."""
    plain = "".join(c for c in unicodedata.normalize("NFD", body) if not unicodedata.combining(c))
    words = re.findall(r"[A-Za-z]+", plain.upper())
    return _COMMANDS.get(words[0]) if words else None


def split_address(address: str) -> tuple[Channel, str]:
    """Twilio's `whatsapp:+591…` or `+591…` -> (channel, E.164 number)."""
    address = address.strip()
    if address.lower().startswith("whatsapp:"):
        return Channel.WHATSAPP, address.split(":", 1)[1].strip()
    return Channel.SMS, address


# Twilio's message statuses in the order they happen; a callback that arrives late
# (`sent` after `delivered`) never moves a message back.
_DELIVERY_RANK = {
    "accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3, "receiving": 3, "received": 3,
    "delivered": 4, "undelivered": 4, "failed": 4, "read": 5, "canceled": 4,
}


def delivery_rank(status: str | None) -> int:
    return -1 if status is None else _DELIVERY_RANK.get(status, -1)


def is_known_delivery_status(status: str) -> bool:
    return status in _DELIVERY_RANK
