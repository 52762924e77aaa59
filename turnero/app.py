"""create_app(settings) -> the Starlette application; the lifespan wires DB, bus, jobs."""

from __future__ import annotations

import contextlib
import gc
import logging
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from turnero.admin import jobs as admin_jobs
from turnero.admin import pages as admin_pages
from turnero.admin import routes as admin_routes
from turnero.core import ops
from turnero.core import pages as core_pages
from turnero.core import routes as core_routes
from turnero.core.db import close_db, init_db
from turnero.core.auth import SESSION_COOKIE
from turnero.core.errors import EXCEPTION_HANDLERS
from turnero.core.http import CsrfMiddleware, SecurityHeadersMiddleware
from turnero.core.openapi import build_openapi
from turnero.core.ratelimit import RateLimiter
from turnero.core.templating import STATIC_DIR
from turnero.displays import pages as display_pages
from turnero.displays import routes as display_routes
from turnero.core.bus import bus_for, coalesced, set_bus
from turnero.displays.hub import BoardHub
from turnero.kiosk import pages as kiosk_pages
from turnero.notifications import jobs as notification_jobs
from turnero.notifications import routes as notification_routes
from turnero.notifications.policy import NotificationConfig
from turnero.queue import jobs as queue_jobs
from turnero.queue import pages as desk_pages
from turnero.queue import routes as queue_routes
from turnero.queue import satisfaction_pages, satisfaction_routes
from turnero.scheduler import jobs as scheduler_jobs
from turnero.scheduler import pages as scheduler_pages
from turnero.scheduler import places as scheduler_places
from turnero.scheduler import routes as scheduler_routes
from turnero.exam import jobs as exam_jobs
from turnero.exam import licence_routes
from turnero.exam import pages as exam_pages
from turnero.exam import routes as exam_routes
from turnero.exam.policy import ExamConfig
from turnero.queue import eta_service
from turnero.queue import following
from turnero.queue.config import QueueConfig
from turnero.settings import Settings
from turnero.wiring import wire

log = logging.getLogger("turnero")


def api_routes() -> list:
    return [
        *core_routes.routes,
        *display_routes.routes,
        *queue_routes.routes,
        *satisfaction_routes.routes,
        *scheduler_routes.routes,
        *notification_routes.routes,
        *exam_routes.routes,
        *licence_routes.routes,
        *admin_routes.routes,
    ]


# Each domain adds its own scheduled jobs (day close, slot materialising, reminders…).
JOB_REGISTRARS = (queue_jobs.register, scheduler_jobs.register, notification_jobs.register, exam_jobs.register,
                  admin_jobs.register)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    wire(settings)  # the exam's kinds into the citas engine, the notifications' reactions (wiring.py)
    api = api_routes()
    openapi_doc = build_openapi(api)

    async def openapi(request: Request):
        return JSONResponse(openapi_doc)

    async def favicon(request: Request):
        # Pages link /static/favicon.svg; browsers and bookmarks that still ask for
        # /favicon.ico get the same icon instead of a 404.
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await init_db(settings)
        places_listener = await scheduler_places.listen()  # freed places, from every instance (PostgreSQL)
        # The event bus: in-process, or Redis when several instances share the offices.
        bus = bus_for(settings.redis_url, settings.redis_prefix)
        set_bus(bus)
        coalesced.delay = settings.board_counts_delay_ms / 1000
        await bus.start()
        app.state.board_hub = BoardHub.from_settings(bus, settings)
        app.state.board_hub.start_following = partial(following.followed_ticket, config=app.state.queue_config)
        app.state.board_hub.refresh_followed = partial(following.refresh_followed, config=app.state.queue_config)
        eta_service.refresh_listeners.append(app.state.board_hub.estimate_refreshed)
        scheduler = None
        if settings.run_jobs:
            scheduler = AsyncIOScheduler(timezone="UTC")
            for register in JOB_REGISTRARS:
                register(scheduler, app)
            scheduler.start()
        if settings.freeze_gc:
            # What start-up made lives as long as the process: keep the collector's
            # full passes from re-scanning it (they stalled every request ~80 ms).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            await coalesced.flush()
            eta_service.refresh_listeners.remove(app.state.board_hub.estimate_refreshed)
            await app.state.board_hub.close()
            await bus.close()
            await scheduler_places.unlisten(places_listener)
            await close_db()

    app = Starlette(
        routes=[
            *api,
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
            *ops.routes(),
            *core_pages.routes,
            *display_routes.websocket_routes,
            *display_pages.routes,
            *kiosk_pages.routes,
            *satisfaction_pages.routes,
            *desk_pages.routes,
            *scheduler_pages.routes,
            *exam_pages.routes,
            *admin_pages.routes,
            Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
        ],
        exception_handlers={**EXCEPTION_HANDLERS, core_pages.PageRedirect: core_pages.page_redirect_handler},
        lifespan=lifespan,
        middleware=[
            ops.middleware(settings),
            # Security headers on every response, the CSRF refusals included (core/http.py).
            Middleware(SecurityHeadersMiddleware),
            Middleware(CsrfMiddleware, cookie_name=SESSION_COOKIE),
        ],
    )
    app.state.settings = settings
    # Each domain's configuration, from the one settings object (routes and jobs read them here).
    app.state.queue_config = QueueConfig.from_settings(settings)
    app.state.exam_config = ExamConfig.from_settings(settings)
    app.state.notification_config = NotificationConfig.from_settings(settings)
    app.state.rate_limiter = RateLimiter()
    return app
