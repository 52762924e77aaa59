"""Operations endpoints and the request middleware.

- `/healthz`: the process answers (for a liveness probe; touches nothing else).
- `/readyz`: the database answers and, when TURNERO_REDIS_URL is set, Redis too; 503
  with the failing check's detail otherwise (a load balancer stops sending traffic).
- `/metrics`: Prometheus text format (turnero/core/metrics.py).
- `/docs`: the OpenAPI document rendered by Swagger UI, served from the `swagger-ui-py`
  package's files (no CDN: offices may be offline).
- `OpsMiddleware`: request id, request latency by route template, JSON access lines.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import logging
import os
import re
import time
from pathlib import Path

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from tortoise import connections

from turnero.core import metrics
from turnero.core.db import connection_name
from turnero.core.logging_setup import request_id_var
from turnero.core.templating import templates
from turnero.settings import Settings

access_log = logging.getLogger("turnero.access")
CHECK_TIMEOUT_SECONDS = 3.0
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNMATCHED_ROUTE = "unmatched"


# ---------------------------------------------------------------- middleware


def _new_id_prefix() -> None:
    global _id_prefix, _id_numbers
    _id_prefix, _id_numbers = os.urandom(4).hex(), itertools.count(1)


_id_prefix, _id_numbers = "", itertools.count(1)
_new_id_prefix()
os.register_at_fork(after_in_child=_new_id_prefix)  # a forked worker makes its own


def new_request_id() -> str:
    """16 hex characters, unique per process (a random prefix, then a counter): as good
    as a random id to follow one request through the logs, at a fraction of the cost
    of uuid4 on every request."""
    return f"{_id_prefix}{next(_id_numbers):08x}"


class OpsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware: it would buffer and slow every request), and
    lean: it wraps every request, so each microsecond here is paid on all of them."""

    def __init__(self, app, json_access_log: bool = False):
        self.app = app
        self.json_access_log = json_access_log
        self._templates: dict | None = None  # endpoint -> [(path regex, path template)]
        self._observers: dict[tuple, object] = {}  # (method, route, status) -> histogram child's observe

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or new_request_id()
        token = request_id_var.set(request_id)
        status = 500  # if the app raises before answering
        started = time.perf_counter()

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = self.route_template(scope)
            key = (scope["method"], route, status)
            observe = self._observers.get(key)
            if observe is None:
                if len(self._observers) > 10_000:  # (bounded: methods × routes × statuses)
                    self._observers.clear()
                observe = self._observers[key] = metrics.http_request_duration.labels(
                    scope["method"], route, str(status)
                ).observe
            observe(elapsed)
            if self.json_access_log:
                access_log.info(
                    "%s %s %s", scope["method"], scope["path"], status,
                    extra={"method": scope["method"], "path": scope["path"], "route": route, "status": status,
                           "duration_ms": round(elapsed * 1000, 2),
                           "client": scope["client"][0] if scope.get("client") else None},
                )
            request_id_var.reset(token)

    def route_template(self, scope) -> str:
        """The matched route's path template (`/api/tickets/{ticket}`), never the raw
        path, so the metric has one series per route rather than one per ticket."""
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return UNMATCHED_ROUTE
        if self._templates is None:
            self._templates = _route_templates(scope["app"].routes) if "app" in scope else {}
        candidates = self._templates.get(endpoint, ())
        if len(candidates) == 1:
            return candidates[0][1]
        path = scope.get("path", "")
        for regex, template in candidates:
            if regex.match(path):
                return template
        return UNMATCHED_ROUTE


def _route_templates(routes) -> dict:
    found: dict = {}
    for route in routes:
        if isinstance(route, Mount):
            found.setdefault(route.app, []).append((re.compile("^" + re.escape(route.path) + "/"), route.path))
        elif hasattr(route, "endpoint"):
            found.setdefault(route.endpoint, []).append((route.path_regex, route.path))
    return found


def _incoming_request_id(scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_REQUEST_ID.match(text) else None
    return None


def middleware(settings: Settings) -> Middleware:
    return Middleware(OpsMiddleware, json_access_log=settings.log_format == "json" and settings.access_log)


# ---------------------------------------------------------------- probes


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def check_database(settings: Settings) -> dict:
    started = time.perf_counter()
    try:
        conn = connections.get(connection_name(settings.database_url))
        await asyncio.wait_for(conn.execute_query("SELECT 1"), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any fault means "not ready"; the detail says which
        return {"ok": False, "error": _describe(exc)}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


async def check_redis(url: str) -> dict:
    from redis import asyncio as aioredis

    started = time.perf_counter()
    client = aioredis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS)
    try:
        await asyncio.wait_for(client.ping(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return {"ok": False, "error": _describe(exc)}
    finally:
        try:
            await client.aclose()
        except Exception:  # closing a connection that never opened
            pass
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return f"sin respuesta en {CHECK_TIMEOUT_SECONDS:g} s"
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def readyz(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    checks = {"database": await check_database(settings)}
    if settings.redis_url:
        checks["redis"] = await check_redis(settings.redis_url)
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503)


async def metrics_endpoint(request: Request) -> Response:
    body, content_type = await metrics.exposition()
    return Response(body, headers={"Content-Type": content_type})


# ---------------------------------------------------------------- API docs page


def swagger_ui_dir() -> Path | None:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    directory = Path(next(iter(spec.submodule_search_locations))) / "static"
    return directory if (directory / "swagger-ui-bundle.js").exists() else None


async def api_docs(request: Request) -> Response:
    return templates.TemplateResponse(request, "admin/api_docs.html", {"has_swagger": swagger_ui_dir() is not None})


def routes() -> list:
    found = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/docs", api_docs, methods=["GET"]),
    ]
    assets = swagger_ui_dir()
    if assets is not None:
        found.append(Mount("/docs/assets", StaticFiles(directory=str(assets)), name="docs_assets"))
    return found
