"""Shared fixtures: a fresh database per test on every available backend, the app
in-process, and a real server process.

SQLite always runs. PostgreSQL runs too when TURNERO_TEST_POSTGRES_URL points at a
server whose user may create databases (each test gets its own database, dropped after).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
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

# Passwords hashed and verified with argon2's cheapest parameters: tests sign in hundreds
# of times (0.15–0.3 s each at the default cost). Server processes inherit it (their
# Settings.from_env); apps made in-process get it from tests.driver.app_settings.
os.environ.setdefault("TURNERO_ARGON2_PROFILE", "cheapest")

from tests.driver import app_settings  # noqa: E402
from turnero.core import auth, clock  # noqa: E402
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


async def _migrate_and_seed(url: str) -> None:
    from turnero.core.db import close_db, init_db
    from turnero.demo import seed_demo

    await init_db(app_settings(database_url=url, db_pool_size=2))
    try:
        await seed_demo()  # (its users' password hashed at the cheapest cost, above)
    finally:
        await close_db()


class SeededTemplates:
    """One migrated database with the demo data per backend, built once per run; tests
    get copies of it (a file copy, or PostgreSQL's CREATE DATABASE … TEMPLATE) instead
    of migrating and seeding their own — most of a test's set-up time otherwise."""

    def __init__(self):
        self._directory: Path | None = None
        self._sqlite: Path | None = None
        self._pg_name: str | None = None

    def sqlite_file(self) -> Path:
        if self._sqlite is None:
            import tempfile

            self._directory = Path(tempfile.mkdtemp(prefix="turnero-template-"))
            path = self._directory / "template.sqlite3"
            run_sync(_migrate_and_seed(f"sqlite://{path}"))
            self._sqlite = path
        return self._sqlite

    def pg_name(self) -> str:
        if self._pg_name is None:
            name = "turnero_tpl_" + secrets.token_hex(6)
            run_sync(_pg_admin(f'CREATE DATABASE "{name}"'))
            run_sync(_migrate_and_seed(_with_database(PG_URL, name)))
            self._pg_name = name
        return self._pg_name

    def drop(self) -> None:
        if self._pg_name:
            run_sync(_pg_admin(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)'))
        if self._directory:
            shutil.rmtree(self._directory, ignore_errors=True)


TEMPLATES = SeededTemplates()


def pytest_sessionfinish(session, exitstatus):
    TEMPLATES.drop()


class FreshDatabase:
    """A database no other test touches: a SQLite file in tmp, or a new PG database.
    `seeded`: already migrated and holding the demo data (a copy of the template)."""

    def __init__(self, backend: str, directory: Path, seeded: bool = False):
        self.backend = backend
        self.seeded = seeded
        directory.mkdir(parents=True, exist_ok=True)
        if backend == "sqlite":
            path = directory / "turnero.sqlite3"
            if seeded:
                shutil.copyfile(TEMPLATES.sqlite_file(), path)
            self.url = f"sqlite://{path}"
            self._pg_name = None
        else:
            self._pg_name = "turnero_t_" + secrets.token_hex(6)
            template = f' TEMPLATE "{TEMPLATES.pg_name()}"' if seeded else ""
            run_sync(_pg_admin(f'CREATE DATABASE "{self._pg_name}"{template}'))
            self.url = _with_database(PG_URL, self._pg_name)

    def drop(self) -> None:
        if self._pg_name:
            run_sync(_pg_admin(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database(backend: str, tmp_path: Path) -> Iterator[FreshDatabase]:
    """Migrated, with the demo offices, services, desks and users."""
    db = FreshDatabase(backend, tmp_path, seeded=True)
    yield db
    db.drop()


@pytest.fixture
def settings(database: FreshDatabase) -> Settings:
    return app_settings(database_url=database.url)


@pytest.fixture(autouse=True, scope="session")
def _wired():
    """The domains plugged into each other (the exam's kinds, the notifications'
    reactions), as turnero/app.py does at start-up, for the tests that run the services
    without the app."""
    from turnero.wiring import wire

    wire(app_settings())


@pytest.fixture(autouse=True)
def _reset_clock_and_caches():
    clock.reset()
    auth.clear_cache()
    yield
    clock.reset()
    auth.clear_cache()


@pytest.fixture
async def db(settings: Settings, database: FreshDatabase) -> AsyncIterator[Settings]:
    """Migrated and seeded with the demo offices, for service-level tests."""
    from turnero.core.db import close_db, init_db
    from turnero.demo import seed_demo

    await init_db(settings)
    if not database.seeded:
        await seed_demo()
    try:
        yield settings
    finally:
        await close_db()


@pytest.fixture
async def client(settings: Settings, database: FreshDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """The whole app in-process (lifespan run), seeded with the demo data."""
    from turnero.app import create_app
    from turnero.demo import seed_demo

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        if not database.seeded:
            await seed_demo()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def login(client: httpx.AsyncClient, username: str, password: str = "demo") -> dict:
    """Authorization headers for a demo user."""
    response = await client.post("/api/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The API's one error shape: `{"error": {"code": snake_case, "message": text}}`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert re.fullmatch(r"[a-z][a-z0-9_]*", error["code"])
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture
async def kiosk(client) -> dict:
    return await login(client, "kiosko")


@pytest.fixture
async def admin(client) -> dict:
    return await login(client, "admin")


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
            # Followed tickets get their place within a second (5 s in service).
            "TURNERO_FOLLOW_INTERVAL_SECONDS": "1",
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
    database = FreshDatabase(request.param, directory, seeded=True)
    server = LiveServer(database.url, directory / "server.log")
    server.backend = request.param  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        database.drop()
