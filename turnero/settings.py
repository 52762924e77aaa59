"""Typed settings read from TURNERO_* environment variables, with safe defaults.

The defaults need nothing installed beyond `pip install`: a SQLite file, the
in-process event bus and the console message gateway.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default).strip() or default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} debe ser un número entero, no {raw!r}") from None


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name} debe ser un número, no {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"{name} debe ser mayor que cero")
    return value


def _env_days(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise SystemExit(f"{name} debe ser un número de días, no {raw!r}")
    return int(raw)


def _env_seconds(name: str, default: float) -> float:
    """A duration in seconds where 0 is allowed (it turns the thing off)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise SystemExit(f"{name} debe ser un número, no {raw!r}") from None


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "si", "sí", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite://turnero.sqlite3"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # Base of links printed in QR codes; empty means "the host the request came to".
    public_url: str = ""
    default_timezone: str = "America/La_Paz"
    token_ttl_hours: int = 12
    # Call-next policy: preferential tickets served per regular one when both wait,
    # and the wait after which a regular ticket goes first regardless.
    preferential_ratio: int = 2
    regular_max_wait_minutes: int = 60
    # Minutes after an office's closing time before waiting tickets are cancelled.
    day_close_grace_minutes: int = 60
    # Ticket waits from the queue played forward (queue/eta_service.py); 0: position-based.
    predict_waits: bool = True
    run_jobs: bool = True
    # Freeze what start-up allocated out of the garbage collector's reach (gc.freeze):
    # on for the served process (from the environment); off for apps made in-process
    # many times over, as the tests do, where freezing would pin their garbage.
    freeze_gc: bool = False
    db_pool_size: int = 20
    # uvicorn's line per request; off behind a proxy that logs requests itself.
    access_log: bool = True
    secure_cookies: bool = False
    # Prefix of the bus's Redis keys and channels (several deployments may share a Redis).
    redis_prefix: str = "turnero:"
    # Live board WebSockets: keep-alive message interval, how long one send may block
    # before the (stuck) client is dropped, and how many events may queue per client
    # before it is sent a fresh snapshot instead.
    ws_ping_seconds: float = 20.0
    ws_send_timeout_seconds: float = 10.0
    ws_client_buffer: int = 64
    # A page following its ticket gets its place and wait at most this often (a change
    # of status at once): at a peak every call moves everyone, a person needs no more.
    follow_interval_seconds: float = 5.0
    # permessage-deflate on WebSockets: board messages are small and compressing each
    # one for each screen costs more CPU than the bandwidth it saves.
    ws_compression: bool = False
    # Waiting counts and desks reach the screens at most once per this many ms per
    # office (all changes within it in one `queue.changed`); 0: one message per change.
    board_counts_delay_ms: int = 250
    # Logs: "text" lines or "json" lines (one object per line, with the request id).
    log_format: str = "text"
    log_level: str = "INFO"
    # Seconds uvicorn lets in-flight requests finish after SIGTERM before closing them.
    shutdown_timeout: int = 20
    # Notifications (turnero/notifications): "console" logs messages, "twilio" sends them;
    # "auto" is twilio when an account sid and token are set. README: "Notificaciones".
    notify_gateway: str = "auto"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_whatsapp_from: str = ""
    twilio_api_base_url: str = ""  # empty: Twilio's own; set for a proxy or a test fake
    # Channel per office/service: "LPZ-PRINCIPAL=whatsapp,*/LIC-EXAM=sms,EAL/CI-RENOV=sms".
    notify_channel: str = "sms"
    notify_channels: str = ""
    reminder_hours: str = "24,2"  # hours before a cita that reminders go out
    near_turn_position: int = 3
    near_turn_minutes: int = 10
    notify_interval_seconds: int = 5
    notify_max_attempts: int = 6
    # Provider requests are cut after this; a claim's lease outlives it and is renewed.
    notify_send_timeout_seconds: float = 10.0
    notify_lease_seconds: float = 120.0
    notify_concurrency: int = 20  # messages in flight at once per dispatcher
    # After a visit with a phone ends, an SMS asks for a 1–5 rating (issue 20; README).
    satisfaction_sms: bool = True
    # Citas (turnero/scheduler): booking attempts per client address (`limits` syntax),
    # the holiday table ("" turns holidays off), the check-in window around a cita's
    # start, what happens to a late arrival ("refuse" or "walk_in") and when an
    # unclaimed cita becomes a no-show. README: "Citas".
    booking_rate_limit: str = "20/minute"
    holidays_country: str = "BO"
    departmental_holidays: bool = True
    checkin_before_minutes: int = 30
    checkin_after_minutes: int = 15
    late_checkin: str = "refuse"
    no_show_grace_minutes: int = 15
    # Retention (turnero/admin/retention.py): finished detail older than this many days
    # (tickets, citas, past slots, their events, sent messages) is rolled up into daily
    # report figures and deleted; 0 (or set empty) turns it off, at least 31. Batches of
    # this many rows, each its own transaction, this many ms apart; daily at this hour (UTC).
    retention_days: int = 400
    retention_batch: int = 500
    retention_pause_ms: int = 200
    retention_hour_utc: int = 7
    # The theory exam (turnero/exam; README: «Examen teórico») and the licence path.
    exam_questions: int = 20
    exam_minutes: int = 30
    exam_pass_percent: float = 80.0
    exam_retake_wait_days: int = 7
    exam_max_attempts: int = 3
    exam_late_grace_minutes: int = 0
    exam_checkin_opens_minutes: int = 60
    licence_theory_valid_days: int = 90
    licence_retake_wait_days: int = 7
    licence_max_practical_attempts: int = 3
    # How long a process trusts the database's answer about a slot's places when nothing
    # said it changed (turnero/scheduler/places.py; 0: every attempt asks the database).
    places_fresh_seconds: float = 1.0
    # Password hashing cost (core/auth.py ARGON2_PROFILES): "low-memory", "high-memory"
    # or "cheapest" (the test suite only).
    argon2_profile: str = "low-memory"
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=_env("TURNERO_DATABASE_URL", cls.database_url),
            redis_url=os.environ.get("TURNERO_REDIS_URL", "").strip() or None,
            host=_env("TURNERO_HOST", cls.host),
            port=_env_int("TURNERO_PORT", cls.port),
            public_url=_env("TURNERO_PUBLIC_URL", "").rstrip("/"),
            default_timezone=_env("TURNERO_TIMEZONE", cls.default_timezone),
            token_ttl_hours=_env_int("TURNERO_TOKEN_TTL_HOURS", cls.token_ttl_hours),
            preferential_ratio=_env_int("TURNERO_PREFERENTIAL_RATIO", cls.preferential_ratio),
            regular_max_wait_minutes=_env_int(
                "TURNERO_REGULAR_MAX_WAIT_MINUTES", cls.regular_max_wait_minutes
            ),
            day_close_grace_minutes=_env_int(
                "TURNERO_DAY_CLOSE_GRACE_MINUTES", cls.day_close_grace_minutes
            ),
            predict_waits=_env_bool("TURNERO_PREDICT_WAITS", cls.predict_waits),
            run_jobs=_env_bool("TURNERO_RUN_JOBS", cls.run_jobs),
            freeze_gc=_env_bool("TURNERO_GC_FREEZE", True),
            db_pool_size=_env_int("TURNERO_DB_POOL_SIZE", cls.db_pool_size),
            access_log=_env_bool("TURNERO_ACCESS_LOG", cls.access_log),
            secure_cookies=_env_bool("TURNERO_SECURE_COOKIES", cls.secure_cookies),
            redis_prefix=_env("TURNERO_REDIS_PREFIX", cls.redis_prefix),
            ws_ping_seconds=_env_float("TURNERO_WS_PING_SECONDS", cls.ws_ping_seconds),
            ws_send_timeout_seconds=_env_float("TURNERO_WS_SEND_TIMEOUT_SECONDS", cls.ws_send_timeout_seconds),
            ws_client_buffer=_env_int("TURNERO_WS_CLIENT_BUFFER", cls.ws_client_buffer),
            follow_interval_seconds=_env_float("TURNERO_FOLLOW_INTERVAL_SECONDS", cls.follow_interval_seconds),
            ws_compression=_env_bool("TURNERO_WS_COMPRESSION", cls.ws_compression),
            board_counts_delay_ms=_env_int("TURNERO_BOARD_COUNTS_DELAY_MS", cls.board_counts_delay_ms),
            log_format=_env("TURNERO_LOG_FORMAT", cls.log_format).lower(),
            log_level=_env("TURNERO_LOG_LEVEL", cls.log_level).upper(),
            shutdown_timeout=_env_int("TURNERO_SHUTDOWN_TIMEOUT", cls.shutdown_timeout),
            notify_gateway=_env("TURNERO_NOTIFY_GATEWAY", cls.notify_gateway).lower(),
            twilio_account_sid=_env("TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=_env("TWILIO_AUTH_TOKEN", ""),
            twilio_from=_env("TWILIO_FROM", ""),
            twilio_messaging_service_sid=_env("TWILIO_MESSAGING_SERVICE_SID", ""),
            twilio_whatsapp_from=_env("TWILIO_WHATSAPP_FROM", ""),
            twilio_api_base_url=_env("TWILIO_API_BASE_URL", "").rstrip("/"),
            notify_channel=_env("TURNERO_NOTIFY_CHANNEL", cls.notify_channel).lower(),
            notify_channels=_env("TURNERO_NOTIFY_CHANNELS", ""),
            reminder_hours=_env("TURNERO_REMINDER_HOURS", cls.reminder_hours),
            near_turn_position=_env_int("TURNERO_NEAR_TURN_POSITION", cls.near_turn_position),
            near_turn_minutes=_env_int("TURNERO_NEAR_TURN_MINUTES", cls.near_turn_minutes),
            notify_interval_seconds=_env_int("TURNERO_NOTIFY_INTERVAL_SECONDS", cls.notify_interval_seconds),
            notify_max_attempts=_env_int("TURNERO_NOTIFY_MAX_ATTEMPTS", cls.notify_max_attempts),
            notify_send_timeout_seconds=_env_float("TURNERO_NOTIFY_SEND_TIMEOUT_SECONDS",
                                                   cls.notify_send_timeout_seconds),
            notify_lease_seconds=_env_float("TURNERO_NOTIFY_LEASE_SECONDS", cls.notify_lease_seconds),
            notify_concurrency=_env_int("TURNERO_NOTIFY_CONCURRENCY", cls.notify_concurrency),
            satisfaction_sms=_env_bool("TURNERO_SATISFACTION_SMS", cls.satisfaction_sms),
            booking_rate_limit=_env("TURNERO_BOOKING_RATE_LIMIT", cls.booking_rate_limit),
            holidays_country=os.environ.get("TURNERO_HOLIDAYS_COUNTRY", cls.holidays_country).strip().upper(),
            departmental_holidays=_env_bool("TURNERO_DEPARTMENTAL_HOLIDAYS", cls.departmental_holidays),
            checkin_before_minutes=_env_int("TURNERO_CHECKIN_BEFORE_MINUTES", cls.checkin_before_minutes),
            checkin_after_minutes=_env_int("TURNERO_CHECKIN_AFTER_MINUTES", cls.checkin_after_minutes),
            late_checkin=_env("TURNERO_LATE_CHECKIN", cls.late_checkin).lower(),
            no_show_grace_minutes=_env_int("TURNERO_NO_SHOW_GRACE_MINUTES", cls.no_show_grace_minutes),
            retention_days=_env_int("TURNERO_RETENTION_DAYS", cls.retention_days)
            if os.environ.get("TURNERO_RETENTION_DAYS", "unset").strip() else 0,
            retention_batch=_env_int("TURNERO_RETENTION_BATCH", cls.retention_batch),
            retention_pause_ms=_env_int("TURNERO_RETENTION_PAUSE_MS", cls.retention_pause_ms),
            retention_hour_utc=_env_int("TURNERO_RETENTION_HOUR_UTC", cls.retention_hour_utc) % 24,
            exam_questions=_env_int("TURNERO_EXAM_QUESTIONS", cls.exam_questions),
            exam_minutes=_env_int("TURNERO_EXAM_MINUTES", cls.exam_minutes),
            exam_pass_percent=_env_float("TURNERO_EXAM_PASS_PERCENT", cls.exam_pass_percent),
            exam_retake_wait_days=_env_int("TURNERO_EXAM_RETAKE_WAIT_DAYS", cls.exam_retake_wait_days),
            exam_max_attempts=_env_int("TURNERO_EXAM_MAX_ATTEMPTS", cls.exam_max_attempts),
            exam_late_grace_minutes=_env_int("TURNERO_EXAM_LATE_GRACE_MINUTES", cls.exam_late_grace_minutes),
            exam_checkin_opens_minutes=_env_int("TURNERO_EXAM_CHECKIN_OPENS_MINUTES",
                                                cls.exam_checkin_opens_minutes),
            licence_theory_valid_days=_env_days("TURNERO_LICENCE_THEORY_VALID_DAYS", cls.licence_theory_valid_days),
            licence_retake_wait_days=_env_days("TURNERO_LICENCE_RETAKE_WAIT_DAYS", cls.licence_retake_wait_days),
            licence_max_practical_attempts=_env_days("TURNERO_LICENCE_MAX_PRACTICAL_ATTEMPTS",
                                                     cls.licence_max_practical_attempts),
            places_fresh_seconds=_env_seconds("TURNERO_PLACES_FRESH_SECONDS", cls.places_fresh_seconds),
            argon2_profile=_env("TURNERO_ARGON2_PROFILE", cls.argon2_profile).lower(),
        )

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)
