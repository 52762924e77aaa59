"""Operations: /healthz, /readyz (database and Redis outages through a TCP proxy we
control), /metrics after real requests, request ids, JSON logs, the /docs page, and a
graceful shutdown that finishes an in-flight request."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PG_URL, FreshDatabase, LiveServer, free_port, login
from tests.driver import app_settings
from turnero.settings import Settings

REDIS_URL = os.environ.get("TURNERO_TEST_REDIS_URL", "").strip()
OFFICE = "LPZ-PRINCIPAL"


# ---------------------------------------------------------------- a TCP proxy we can cut


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; `cut()` drops every connection and stops
    listening (the service looks dead), `resume()` listens on the same port again."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.resume()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers |= {client_writer, upstream_writer}
        await asyncio.gather(self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer))

    async def _start(self):
        if self._server is not None:  # already listening
            return
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _stop(self):
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    def resume(self):
        self._call(self._start())

    def cut(self):
        self._call(self._stop())

    def close(self):
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=(auth + "@" if auth else "") + f"127.0.0.1:{port}"))


async def _app_client(settings: Settings):
    from turnero.app import create_app
    from turnero.demo import seed_demo

    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    await seed_demo()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    return app, lifespan, client


async def _wait_status(client, path: str, status: int, timeout: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.2)


# ---------------------------------------------------------------- probes


async def test_healthz_answers_without_touching_anything(client):
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_reports_the_database(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True and "redis" not in body["checks"]


async def test_readyz_is_503_when_the_database_cannot_be_reached():
    """An app instance whose database URL points at nothing (it never started)."""
    from turnero.app import create_app

    dead = f"postgres://turnero:x@127.0.0.1:{free_port()}/nada"
    app = create_app(app_settings(database_url=dead))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] is False and body["checks"]["database"]["error"]
    assert "x@" not in json.dumps(body)  # never the password


@pytest.mark.skipif(not PG_URL, reason="needs TURNERO_TEST_POSTGRES_URL")
async def test_readyz_follows_a_postgres_outage_and_recovery(tmp_path):
    database = FreshDatabase("postgres", tmp_path)
    parts = urlsplit(database.url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    app, lifespan, client = await _app_client(
        app_settings(database_url=_via(database.url, proxy.port), run_jobs=False, db_pool_size=3)
    )
    try:
        assert (await client.get("/readyz")).status_code == 200
        proxy.cut()
        response = await _wait_status(client, "/readyz", 503)
        assert response.status_code == 503, response.text
        assert response.json()["checks"]["database"]["ok"] is False
        assert (await client.get("/healthz")).status_code == 200  # the process itself is fine
        proxy.resume()
        response = await _wait_status(client, "/readyz", 200)
        assert response.status_code == 200, response.text
    finally:
        proxy.resume()
        await client.aclose()
        await lifespan.__aexit__(None, None, None)
        proxy.close()
        database.drop()


@pytest.mark.skipif(not REDIS_URL, reason="needs TURNERO_TEST_REDIS_URL")
async def test_readyz_is_503_while_a_configured_redis_is_unreachable(settings):
    parts = urlsplit(REDIS_URL)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    redis_url = _via(REDIS_URL, proxy.port)
    app, lifespan, client = await _app_client(settings.with_(redis_url=redis_url))
    try:
        body = (await client.get("/readyz")).json()
        assert body["status"] == "ready" and body["checks"]["redis"]["ok"] is True
        proxy.cut()
        response = await client.get("/readyz")
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"]["ok"] is True
        assert checks["redis"]["ok"] is False and checks["redis"]["error"]
        proxy.resume()
        assert (await _wait_status(client, "/readyz", 200)).status_code == 200
    finally:
        proxy.resume()
        await client.aclose()
        await lifespan.__aexit__(None, None, None)
        proxy.close()


# ---------------------------------------------------------------- metrics


def _samples(text: str) -> dict:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_metrics_count_requests_tickets_and_calls(client):
    kiosk, op = await login(client, "kiosko"), await login(client, "operador3")
    before = _samples((await client.get("/metrics")).text)
    for _ in range(3):
        response = await client.post(f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV"}, headers=kiosk)
        assert response.status_code == 201
    assert (await client.post(f"/api/offices/{OFFICE}/desks/3/open", headers=op)).status_code == 200
    assert (await client.post(f"/api/offices/{OFFICE}/desks/3/call-next", headers=op)).status_code == 200
    await client.get("/api/tickets/no-existe")

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = _samples(response.text)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("turnero_tickets_issued_total", office=OFFICE, service="CI-RENOV") == 3
    assert delta("turnero_tickets_called_total", office=OFFICE) == 1
    issue = dict(method="POST", route="/api/offices/{office}/tickets", status="201")
    assert delta("turnero_http_request_duration_seconds_count", **issue) == 3
    assert delta("turnero_http_request_duration_seconds_bucket", le="+Inf", **issue) == 3
    assert delta("turnero_http_request_duration_seconds_count", method="GET", route="/api/tickets/{ticket}",
                 status="404") == 1
    # Route templates, never raw paths: no series names a ticket id.
    assert "no-existe" not in response.text
    assert "turnero_websocket_clients" in response.text and "turnero_outbox_backlog" in response.text


async def test_scrape_hooks_refresh_gauges_and_a_failing_hook_does_not_break_the_scrape(client):
    from turnero.core import metrics

    async def broken():
        raise RuntimeError("boom")

    async def backlog():
        metrics.outbox_backlog.set(7)

    metrics.on_scrape(broken)
    metrics.on_scrape(backlog)
    try:
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert _samples(response.text)[("turnero_outbox_backlog", ())] == 7
    finally:
        metrics._scrape_hooks.remove(broken)
        metrics._scrape_hooks.remove(backlog)


async def test_bookings_are_counted_and_the_outbox_backlog_is_read_at_each_scrape(client):
    """turnero_bookings counts citas booked (not refused ones); turnero_outbox_backlog
    is the number of messages due and not sent, read from the database when scraped
    (the notifications domain's hook): a reminder due later is not backlog yet."""
    from datetime import datetime, timedelta, timezone

    from turnero.core import clock
    from turnero.notifications.dispatcher import dispatch_due
    from turnero.notifications.gateways import ConsoleGateway
    from turnero.notifications.policy import NotificationConfig

    clock.freeze(datetime(2026, 11, 30, 14, 0, tzinfo=timezone.utc))  # Monday 10:00 in La Paz
    key = ("turnero_bookings_total", (("office", "LPZ-ZONA-SUR"), ("service", "CI-RENOV")))
    backlog = ("turnero_outbox_backlog", ())
    before = _samples((await client.get("/metrics")).text)
    body = {"office": "LPZ-ZONA-SUR", "service": "CI-RENOV", "start": "2026-12-02T09:00:00-04:00",
            "document": {"number": "1234567", "issued_in": "LP"}, "name": "Juana Mamani", "phone": "71234567"}
    assert (await client.post("/api/appointments", json=body)).status_code == 201
    refused = await client.post("/api/appointments", json=body)  # same document again: not a booking
    assert refused.status_code == 409, refused.text
    after = _samples((await client.get("/metrics")).text)
    assert after[key] - before.get(key, 0) == 1
    assert after[backlog] - before[backlog] == 1  # the confirmation; two reminders are for later

    clock.freeze(datetime(2026, 12, 1, 13, 30, tzinfo=timezone.utc))  # past the 24 h reminder's time
    due = _samples((await client.get("/metrics")).text)[backlog]
    assert due - before[backlog] == 2
    sent = (await dispatch_due(ConsoleGateway(), NotificationConfig())).sent
    assert sent == due
    assert _samples((await client.get("/metrics")).text)[backlog] == 0


# ---------------------------------------------------------------- request id, docs


async def test_request_id_is_echoed_when_sane_and_made_up_otherwise(client):
    response = await client.get("/healthz", headers={"X-Request-ID": "lb-1234.abc"})
    assert response.headers["x-request-id"] == "lb-1234.abc"
    response = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces" * 10})
    made_up = response.headers["x-request-id"]
    assert made_up and " " not in made_up and len(made_up) <= 64
    assert (await client.get("/healthz")).headers["x-request-id"] != made_up


async def test_docs_page_renders_the_openapi_document_from_local_files(client):
    page = await client.get("/docs")
    assert page.status_code == 200 and '<html lang="es-BO">' in page.text
    assert 'data-openapi-url="/openapi.json"' in page.text and "/static/js/swagger-init.js" in page.text
    assert "https://" not in page.text  # no CDN: offices may be offline
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        assert asset in page.text
        response = await client.get(asset)
        assert response.status_code == 200 and len(response.content) > 10_000


# ---------------------------------------------------------------- a real process: JSON logs, SIGTERM


def _send_partial_request(port: int) -> tuple[socket.socket, bytes]:
    """A login request whose body is still arriving: in flight when SIGTERM comes."""
    body = json.dumps({"username": "admin", "password": "demo"}).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(
        b"POST /api/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Request-ID: in-flight-1\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:5]
    )
    return sock, body[5:]


def test_json_logs_and_graceful_shutdown_of_a_real_server(tmp_path: Path):
    database = FreshDatabase("sqlite", tmp_path)
    server = LiveServer(database.url, tmp_path / "server.log", {"TURNERO_LOG_FORMAT": "json", "TURNERO_ACCESS_LOG": "1"})
    try:
        response = httpx.get(server.url + "/api/services", headers={"X-Request-ID": "trace-42"})
        assert response.status_code == 200 and response.headers["x-request-id"] == "trace-42"

        sock, rest = _send_partial_request(server.port)
        time.sleep(0.5)  # the server has read the headers and waits for the body
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert server.process.poll() is None, "the server quit with a request in flight"
        sock.sendall(rest)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        sock.close()
        assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
        assert b'"token"' in reply
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        server.stop()

    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    assert lines, "no JSON log lines"
    access = [line for line in lines if line.get("logger") == "turnero.access"]
    traced = next(line for line in access if line["request_id"] == "trace-42")
    assert traced["route"] == "/api/services" and traced["status"] == 200 and traced["duration_ms"] >= 0
    assert {"time", "level", "message"} <= set(traced)
    assert any(line["request_id"] == "in-flight-1" and line["status"] == 200 for line in access)
    assert not any(line.get("logger") == "uvicorn.access" for line in lines)  # replaced, not doubled
    assert any("Finished server process" in line["message"] for line in lines)  # a clean exit, not a kill


def test_metrics_add_up_every_worker_with_prometheus_multiproc_dir(tmp_path: Path):
    """`turnero serve --workers 2` with PROMETHEUS_MULTIPROC_DIR: whichever worker answers
    the scrape, it reports the requests that every worker served."""
    import subprocess
    import sys

    database = FreshDatabase("sqlite", tmp_path)
    seed = ("import asyncio\nfrom turnero.cli import _with_db\nfrom turnero.demo import seed_demo\n"
            "from turnero.settings import Settings\n"
            f"asyncio.run(_with_db(Settings(database_url={database.url!r}), seed_demo))\n")
    subprocess.run([sys.executable, "-c", seed], check=True, cwd=str(tmp_path), timeout=120)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    env = {**os.environ, "TURNERO_DATABASE_URL": database.url, "TURNERO_RUN_JOBS": "0",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    log = open(tmp_path / "server.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "turnero", "serve", "--workers", "2", "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp_path))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        for _ in range(40):  # a new connection each: the kernel hands them to either worker
            assert httpx.get(url + "/healthz", headers={"Connection": "close"}).status_code == 200
        key = ("turnero_http_request_duration_seconds_count", (("method", "GET"), ("route", "/healthz"), ("status", "200")))
        for _ in range(6):
            samples = _samples(httpx.get(url + "/metrics", headers={"Connection": "close"}).text)
            assert samples[key] == 40
            assert samples[("turnero_outbox_backlog", ())] == 0  # read from the database by the worker asked
        assert len(list(metrics_dir.glob("*.db"))) >= 2  # both workers wrote their values
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


async def test_the_served_app_freezes_its_start_up_objects(settings, monkeypatch):
    import gc

    from turnero.app import create_app

    monkeypatch.setenv("TURNERO_GC_FREEZE", "0")
    assert Settings.from_env().freeze_gc is False
    monkeypatch.delenv("TURNERO_GC_FREEZE")
    assert Settings.from_env().freeze_gc is True  # `turnero serve` / `demo` read the environment
    assert settings.freeze_gc is False  # apps made in-process (tests) keep the collector as is

    gc.unfreeze()
    app = create_app(settings.with_(freeze_gc=True))
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
