"""Database set-up: Tortoise configuration, start-up migrations, dialect helpers."""

from __future__ import annotations

import functools
import logging
from datetime import date, datetime, timezone
from pathlib import Path

from tortoise import Tortoise, connections, fields
from tortoise.backends.base.config_generator import expand_db_url

from turnero.settings import Settings

log = logging.getLogger("turnero.db")

MODEL_MODULES = [
    "turnero.core.models",
    "turnero.queue.models",
    "turnero.scheduler.models",
    "turnero.notifications.models",
    "turnero.exam.models",
    "turnero.admin.models",
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
        # Opening a file in a folder that does not exist never returns (aiosqlite
        # waits forever); make the folder, as SQLite itself would make the file.
        path = credentials.get("file_path", "")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    elif connection["engine"] in ("tortoise.backends.asyncpg", "tortoise.backends.psycopg"):
        # (The engine is named after the driver: a test for "postgres" never matched,
        # and the pool stayed at Tortoise's default of 5 connections.)
        credentials = connection["credentials"]
        credentials.setdefault("maxsize", settings.db_pool_size)
        credentials.setdefault("minsize", 1)
        if connection["engine"] == "tortoise.backends.asyncpg":
            credentials.setdefault("reset", _release_without_session_reset)
    # Tortoise caches prepared statements per connection name; naming the connection
    # after its dialect keeps one process that opens both (the test suite) correct.
    name = connection_name(url)
    return {
        "connections": {name: connection},
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": name}},
        "use_tz": True,
        "timezone": "UTC",
    }


async def _release_without_session_reset(connection) -> None:
    """What the asyncpg pool runs when a connection comes back (instead of its default
    `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`).

    The pool has already rolled back any open transaction. Turnero keeps no session
    state on pooled connections (no SET, LISTEN, cursors or session advisory locks), so
    the reset query would be one more round trip per query outside a transaction — a
    large share of a request's cost. Code that ever needs session state must use a
    transaction-scoped form (SET LOCAL, pg_advisory_xact_lock) or its own connection."""
    return None


_generation = 0  # counts init_db calls: caches of rows tell one database from the next


def database_generation() -> int:
    return _generation


async def init_db(settings: Settings, migrate: bool = True) -> None:
    global _generation
    _generation += 1
    config = tortoise_config(settings)
    # Global fallback: the lifespan task initialises, request tasks use it.
    await Tortoise.init(config=config, _enable_global_fallback=True)
    global _dialect
    _dialect = next(iter(connections.all())).capabilities.dialect
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
    global _dialect
    _dialect = None
    await Tortoise.close_connections()


_dialect: str | None = None  # set by init_db: asked on every hot-path query


def dialect() -> str:
    return _dialect or next(iter(connections.all())).capabilities.dialect


def is_postgres() -> bool:
    return dialect() == "postgres"


def placeholders(sql: str) -> str:
    """Write raw SQL with `?` placeholders; PostgreSQL (asyncpg) wants $1, $2 …"""
    if not is_postgres():
        return sql
    return _numbered(sql)


@functools.lru_cache(maxsize=512)
def _numbered(sql: str) -> str:
    out, n = [], 0
    for ch in sql:
        if ch == "?":
            n += 1
            out.append(f"${n}")
        else:
            out.append(ch)
    return "".join(out)


# ---------------------------------------------------------------- raw rows as models
# Hot paths read with one hand-written statement (several tables joined) instead of the
# ORM's query builder, whose per-query cost is several times the database's; these
# helpers turn such rows back into the same model instances the ORM would return.


@functools.cache
def _columns(model) -> tuple[str, ...]:
    return tuple(model._meta.fields_db_projection.values())


def select_columns(model, alias: str) -> str:
    """`alias."col" AS "alias__col", …` for every column of `model` (to join tables)."""
    return ", ".join(f'{alias}."{c}" AS "{alias}__{c}"' for c in _columns(model))


@functools.cache
def _temporal_columns(model) -> tuple[tuple[str, type], ...]:
    meta = model._meta
    return tuple(
        (meta.fields_db_projection[name], datetime if isinstance(field, fields.DatetimeField) else date)
        for name, field in meta.fields_map.items()
        if isinstance(field, (fields.DatetimeField, fields.DateField)) and name in meta.fields_db_projection
    )


def model_from_row(model, row: dict, alias: str | None = None):
    """A `model` instance from a raw row (its columns prefixed `alias__` if given),
    with values converted as the ORM converts them (SQLite datetimes, enums, JSON)."""
    if alias is None:
        values = dict(row)
    else:
        prefix = alias + "__"
        values = {c: row[prefix + c] for c in _columns(model)}
    # SQLite hands dates and times back as ISO text; the standard library parses that
    # many times faster than the ORM's general-purpose parser (same result).
    for column, kind in _temporal_columns(model):
        if isinstance(values[column], str):
            values[column] = kind.fromisoformat(values[column])
    return model._init_from_db(**values)


def db_datetime(value) -> datetime | None:
    """A datetime read by raw SQL (SQLite: ISO text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value
