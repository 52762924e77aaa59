"""Database set-up: Tortoise configuration, start-up migrations, dialect helpers."""

from __future__ import annotations

import logging
from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url

from turnero.settings import Settings

log = logging.getLogger("turnero.db")

MODEL_MODULES = [
    "turnero.core.models",
    "turnero.queue.models",
    "aerich.models",
]
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def connection_name(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


def tortoise_config(settings: Settings) -> dict:
    url = settings.database_url
    connection = expand_db_url(url)
    if connection["engine"] == "tortoise.backends.sqlite":
        connection["engine"] = "turnero.core.sqlite_backend"
        credentials = connection["credentials"]
        # Wait for another process's write instead of failing at once.
        credentials.setdefault("busy_timeout", 10000)
        credentials.setdefault("synchronous", "NORMAL")
    elif "postgres" in connection["engine"]:
        credentials = connection["credentials"]
        credentials.setdefault("maxsize", settings.db_pool_size)
        credentials.setdefault("minsize", 1)
    # Tortoise caches prepared statements per connection name; naming the connection
    # after its dialect keeps one process that opens both (the test suite) correct.
    name = connection_name(url)
    return {
        "connections": {name: connection},
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": name}},
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(settings: Settings, migrate: bool = True) -> None:
    config = tortoise_config(settings)
    # Global fallback: the lifespan task initialises, request tasks use it.
    await Tortoise.init(config=config, _enable_global_fallback=True)
    if migrate:
        await run_migrations(config)


async def run_migrations(config: dict) -> list[str]:
    """Apply the Aerich migrations kept in turnero/migrations that this database lacks."""
    from aerich import Command

    command = Command(tortoise_config=config, app="models", location=str(MIGRATIONS_DIR))
    await command.init()
    applied = await command.upgrade(run_in_transaction=True)
    if applied:
        log.info("migraciones aplicadas: %s", ", ".join(applied))
    return applied


async def close_db() -> None:
    await Tortoise.close_connections()


def dialect() -> str:
    return next(iter(connections.all())).capabilities.dialect


def is_postgres() -> bool:
    return dialect() == "postgres"


def placeholders(sql: str) -> str:
    """Write raw SQL with `?` placeholders; PostgreSQL (asyncpg) wants $1, $2 …"""
    if not is_postgres():
        return sql
    out, n = [], 0
    for ch in sql:
        if ch == "?":
            n += 1
            out.append(f"${n}")
        else:
            out.append(ch)
    return "".join(out)
