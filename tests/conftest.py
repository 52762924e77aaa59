"""Shared fixtures: a fresh database per test on every available backend, the app
in-process, and a real server process.

SQLite always runs. PostgreSQL runs too when TURNERO_TEST_POSTGRES_URL points at a
server whose user may create databases (each test gets its own database, dropped after).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from turnero.core import auth, clock
from turnero.settings import Settings

PG_URL = os.environ.get("TURNERO_TEST_POSTGRES_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])
REPO = Path(__file__).resolve().parent.parent
OUTPUT_DIR = REPO / "test-output"


def run_sync(coro):
    """Run a coroutine to completion on a private loop (usable from sync fixtures even
    while pytest-asyncio's loop exists)."""
    result: dict = {}

    def target():
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class FreshDatabase:
    """A database no other test touches: a SQLite file in tmp, or a new PG database."""

    def __init__(self, backend: str, directory: Path):
        self.backend = backend
        if backend == "sqlite":
            self.url = f"sqlite://{directory / 'turnero.sqlite3'}"
            self._pg_name = None
        else:
            self._pg_name = "turnero_t_" + secrets.token_hex(6)
            run_sync(_pg_admin(f'CREATE DATABASE "{self._pg_name}"'))
            self.url = _with_database(PG_URL, self._pg_name)

    def drop(self) -> None:
        if self._pg_name:
            run_sync(_pg_admin(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database(backend: str, tmp_path: Path) -> Iterator[FreshDatabase]:
    db = FreshDatabase(backend, tmp_path)
    yield db
    db.drop()


@pytest.fixture
def settings(database: FreshDatabase) -> Settings:
    return Settings(database_url=database.url, run_jobs=False, db_pool_size=10)


@pytest.fixture(autouse=True)
def _reset_clock_and_caches():
    clock.reset()
    auth.clear_cache()
    yield
    clock.reset()
    auth.clear_cache()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Settings]:
    """Migrated and seeded with the demo offices, for service-level tests."""
    from turnero.core.db import close_db, init_db
    from turnero.demo import seed_demo

    await init_db(settings)
    await seed_demo()
    try:
        yield settings
    finally:
        await close_db()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The whole app in-process (lifespan run), seeded with the demo data."""
    from turnero.app import create_app
    from turnero.demo import seed_demo

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await seed_demo()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def login(client: httpx.AsyncClient, username: str, password: str = "demo") -> dict:
    """Authorization headers for a demo user."""
    response = await client.post("/api/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


# ---------------------------------------------------------------- real server process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`turnero demo` in its own process: migrates, seeds and serves over real HTTP."""

    def __init__(self, database_url: str, log_path: Path, extra_env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "TURNERO_DATABASE_URL": database_url,
            "TURNERO_RUN_JOBS": "0",
            **(extra_env or {}),
        }
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "turnero", "demo", "--port", str(self.port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=str(log_path.parent),
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(self.url + "/api/services", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not become ready in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(request, tmp_path_factory) -> Iterator[LiveServer]:
    """A real server process per test module and backend, with the demo data."""
    directory = tmp_path_factory.mktemp(f"server-{request.param}")
    database = FreshDatabase(request.param, directory)
    server = LiveServer(database.url, directory / "server.log")
    server.backend = request.param  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        database.drop()
