"""What the benchmark scripts share: a fresh database for each run, and CPU time read
from /proc (a figure that stays meaningful when the machine is busy)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def pg_admin(admin_url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("postgres://", "postgresql://", 1), timeout=10)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


def fresh_database(backend: str, pg_url: str, workdir: Path, *, pg_name: str, sqlite_name: str) -> str:
    """A new empty database for one run (a SQLite file in `workdir`, or PostgreSQL
    database `pg_name` dropped and made again); returns its Tortoise URL."""
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (workdir / f"{sqlite_name}{suffix}").unlink(missing_ok=True)
        return f"sqlite://{workdir / sqlite_name}"
    if urlsplit(pg_url).hostname not in LOCAL_HOSTS:
        raise SystemExit("El benchmark solo habla con 127.0.0.1.")
    asyncio.run(pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)', f'CREATE DATABASE "{pg_name}"'))
    return with_database(pg_url, pg_name)


def drop_database(backend: str, pg_url: str, pg_name: str) -> None:
    if backend == "postgres":
        asyncio.run(pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (Linux /proc); 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0
