"""What the benchmark scripts share: a fresh database for each run, and CPU time read
from /proc (a figure that stays meaningful when the machine is busy)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def asyncpg_dsn(url: str) -> str:
    """A Tortoise `postgres://` URL as asyncpg spells it."""
    return url.replace("postgres://", "postgresql://", 1)


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


async def pg_admin(admin_url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(admin_url), timeout=10)
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


def pg_backend_pids(database: str) -> list[int]:
    """PostgreSQL backend processes serving `database` (by process title, /proc)."""
    if not os.path.isdir("/proc"):
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f" {database} ".encode() in f.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


# ---------------------------------------------------------------- server process


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """`python -m turnero serve` in its own process group, on 127.0.0.1 only."""

    def __init__(self, database_url: str, workers: int, log_path: Path, env_extra: dict[str, str]):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.workers = workers
        self.log_path = log_path
        self._log = open(log_path, "wb")
        env = {
            **os.environ,
            "TURNERO_DATABASE_URL": database_url,
            "TURNERO_RUN_JOBS": "0",
            "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            **env_extra,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "turnero", "serve", "--host", HOST, "--port", str(self.port),
             "--workers", str(workers)],
            env=env, cwd=str(REPO), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (the uvicorn workers, or the server itself)."""
        if self.workers == 1:
            return [self.process.pid]
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def wait_ready(self, timeout: float = 60.0) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("el servidor terminó:\n" + self.log_path.read_text(errors="replace")[-3000:])
            started = self.log_path.read_text(errors="replace").count("Application startup complete")
            if started >= self.workers:
                try:
                    with urllib.request.urlopen(self.url + "/api/services", timeout=2) as r:
                        if r.status == 200:
                            return
                except OSError:
                    pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("el servidor no estuvo listo a tiempo")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


# ---------------------------------------------------------------- exact CPU time


def cpu_seconds_exact(pid: int) -> float:
    """CPU time of one process, all its threads, from the scheduler's own accounting
    (/proc/PID/task/*/schedstat, in nanoseconds): `cpu_seconds` counts 10 ms ticks,
    too coarse to charge one request of a few milliseconds. Threads that have ended
    are not counted. Falls back to `cpu_seconds` where schedstat is missing."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9 if total else cpu_seconds(pid)


# ---------------------------------------------------------------- reads


class _GetConnection(asyncio.Protocol):
    """One keep-alive connection of `HttpGet`: one request at a time, the response
    parsed by httptools as it arrives."""

    def __init__(self) -> None:
        import httptools

        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.chunks: list[bytes] = []
        self.answered = False  # some bytes of the current response have arrived

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # httptools.HttpParserError and friends
            self._fail(ValueError(f"respuesta HTTP ilegible: {exc}"))

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), b"".join(self.chunks),
                                    self.parser.should_keep_alive()))

    def connection_lost(self, exc) -> None:
        self.transport = None
        self._fail(ConnectionResetError("conexión cerrada"))

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def send(self, request: bytes) -> asyncio.Future:
        self.chunks, self.answered = [], False
        self.waiter = asyncio.get_running_loop().create_future()
        if self.transport is None:
            self._fail(ConnectionResetError("conexión cerrada"))
        else:
            self.transport.write(request)
        return self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class KeepAlive:
    """Requests over keep-alive HTTP/1.1 connections, opened as they are needed, with
    httptools' C parser (a uvicorn[standard] dependency): a load generator making
    hundreds of requests a second on the cores the server uses spends a fraction of
    aiohttp's CPU on each. At most `limit` requests at once (None: no bound)."""

    def __init__(self, base: str, timeout: float = 60.0, limit: int | None = None):
        parts = urlsplit(base)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self._idle: list[_GetConnection] = []
        self._slots = asyncio.Semaphore(limit) if limit else None

    async def send(self, request: bytes, *, retry: bool) -> tuple[int, bytes]:
        """(status, body). With `retry`, a kept-alive connection the server closed
        meanwhile is tried once more on a new one (only for requests safe to repeat)."""
        if self._slots is None:
            return await self._send(request, retry)
        async with self._slots:
            return await self._send(request, retry)

    async def _send(self, request: bytes, retry: bool) -> tuple[int, bytes]:
        for attempt in range(2):
            while self._idle and self._idle[-1].transport is None:  # closed by the server meanwhile
                self._idle.pop()
            reused = bool(self._idle) and attempt == 0
            if reused:
                conn = self._idle.pop()
            else:
                _t, conn = await asyncio.get_running_loop().create_connection(_GetConnection, self.host, self.port)
            try:
                async with asyncio.timeout(self.timeout):
                    status, body, keep = await conn.send(request)
            except ConnectionResetError:
                conn.close()
                if retry and reused and not conn.answered:
                    continue  # once more, on a new connection
                raise
            except BaseException:
                conn.close()
                raise
            if keep:
                self._idle.append(conn)
            else:
                conn.close()
            return status, body
        raise ConnectionResetError("sin respuesta")  # not reached: the second try raises

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


class HttpGet(KeepAlive):
    """GETs (safe to repeat: retried once on a connection the server had closed)."""

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{extra}\r\n".encode()
        return await self.send(request, retry=True)
