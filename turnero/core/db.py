"""Database set-up: Tortoise configuration, start-up migrations, dialect helpers."""

from __future__ import annotations

import errno
import functools
import json
import logging
from datetime import date, datetime, timezone
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tortoise import Tortoise, connections, fields
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import ConfigurationError

from turnero.settings import Settings

log = logging.getLogger("turnero.db")

MODEL_MODULES = [
    "turnero.core.models",
    "turnero.core.audit",
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


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened; the message is one Spanish line for
    the person starting the service (the command line prints it instead of a traceback)."""


def printable_url(url: str) -> str:
    """The database URL without its password, fit for a message or a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _why_unreachable(exc: BaseException) -> str:
    # Tortoise wraps the driver's error (DBConnectionError from asyncpg's): the root says why.
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    name = type(exc).__name__
    if isinstance(exc, ConnectionRefusedError):
        return "conexión rechazada (¿está en marcha el servidor de base de datos, en ese puerto?)"
    if isinstance(exc, socket.gaierror):
        return "no se encuentra ese servidor"
    if isinstance(exc, TimeoutError):
        return "el servidor no responde"
    if name == "InvalidPasswordError":
        return "usuario o contraseña no válidos"
    if name == "InvalidCatalogNameError":
        return "esa base de datos no existe"
    if isinstance(exc, ConfigurationError) and "scheme" in str(exc):
        return "tipo de base de datos desconocido (use sqlite://archivo o postgres://usuario@servidor/base)"
    if isinstance(exc, OSError) and exc.filename:
        problem = {errno.ENOENT: "no existe", errno.EACCES: "sin permiso", errno.EPERM: "sin permiso",
                   errno.EROFS: "solo lectura"}.get(exc.errno, exc.strerror)
        return f"{exc.filename}: {problem}"
    detail = " ".join(str(exc).split()) or name
    return detail[:200]


async def _check_connection(url: str) -> None:
    """One trivial query, so an unreachable database is reported as such, before the
    migrations (whose own errors keep their traceback: they are bugs, not set-up)."""
    try:
        await next(iter(connections.all())).execute_query("SELECT 1")
    except Exception as exc:
        await Tortoise.close_connections()
        raise DatabaseUnavailable(
            f"No se puede abrir la base de datos {printable_url(url)}: {_why_unreachable(exc)}. "
            "Revise TURNERO_DATABASE_URL."
        ) from exc


_generation = 0  # counts init_db calls: caches of rows tell one database from the next


def database_generation() -> int:
    return _generation


async def init_db(settings: Settings, migrate: bool = True) -> None:
    global _generation
    _generation += 1
    try:
        config = tortoise_config(settings)
        # Global fallback: the lifespan task initialises, request tasks use it.
        await Tortoise.init(config=config, _enable_global_fallback=True)
    except (OSError, ConfigurationError) as exc:  # a malformed URL, a folder it cannot make
        raise DatabaseUnavailable(
            f"No se puede abrir la base de datos {printable_url(settings.database_url)}: "
            f"{_why_unreachable(exc)}. Revise TURNERO_DATABASE_URL."
        ) from exc
    global _dialect
    _dialect = next(iter(connections.all())).capabilities.dialect
    await _check_connection(settings.database_url)
    if migrate:
        await run_migrations(config)


async def run_migrations(config: dict) -> list[str]:
    """Apply the Aerich migrations kept in turnero/migrations that this database lacks."""
    from aerich import Command

    command = Command(tortoise_config=config, app="models", location=str(MIGRATIONS_DIR))
    await command.init()
    applied = await command.upgrade(run_in_transaction=True)
    if applied:
        # A new database gets every migration: their count and the last, not a screenful.
        log.info("migraciones aplicadas: %d (la última, %s)", len(applied), applied[-1])
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


def json_text(data) -> str:
    """A JSON column's text for raw SQL (an audit event's data, a stored answer):
    compact, keys sorted, so the same data always gives the same text (an idempotency
    key's request hash relies on it)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


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


async def with_db(settings, work, migrate: bool = True):
    """Run `await work()` with the database open (and migrated), then close it: what
    every command-line command does."""
    await init_db(settings, migrate=migrate)
    try:
        return await work()
    finally:
        await close_db()
