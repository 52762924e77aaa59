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
    run_jobs: bool = True
    db_pool_size: int = 20
    # uvicorn's line per request; off behind a proxy that logs requests itself.
    access_log: bool = True
    secure_cookies: bool = False
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
            run_jobs=_env_bool("TURNERO_RUN_JOBS", cls.run_jobs),
            db_pool_size=_env_int("TURNERO_DB_POOL_SIZE", cls.db_pool_size),
            access_log=_env_bool("TURNERO_ACCESS_LOG", cls.access_log),
            secure_cookies=_env_bool("TURNERO_SECURE_COOKIES", cls.secure_cookies),
        )

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)
