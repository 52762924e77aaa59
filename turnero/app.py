"""create_app(settings) -> the Starlette application; the lifespan wires DB, bus, jobs."""

from __future__ import annotations

import contextlib
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from turnero.core import pages as core_pages
from turnero.core import routes as core_routes
from turnero.core.db import close_db, init_db
from turnero.core.errors import EXCEPTION_HANDLERS
from turnero.core.openapi import build_openapi
from turnero.core.ratelimit import RateLimiter
from turnero.core.templating import STATIC_DIR
from turnero.displays import routes as display_routes
from turnero.displays.bus import get_bus
from turnero.kiosk import pages as kiosk_pages
from turnero.queue import jobs as queue_jobs
from turnero.queue import pages as desk_pages
from turnero.queue import routes as queue_routes
from turnero.queue.service import QueueConfig
from turnero.settings import Settings

log = logging.getLogger("turnero")


def api_routes() -> list:
    return [*core_routes.routes, *display_routes.routes, *queue_routes.routes]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    api = api_routes()
    openapi_doc = build_openapi(api)

    async def openapi(request: Request):
        return JSONResponse(openapi_doc)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await init_db(settings)
        bus = get_bus()
        await bus.start()
        scheduler = None
        if settings.run_jobs:
            scheduler = AsyncIOScheduler(timezone="UTC")
            queue_jobs.register(scheduler, app.state.queue_config)
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            await bus.close()
            await close_db()

    app = Starlette(
        routes=[
            *api,
            Route("/openapi.json", openapi, methods=["GET"]),
            *core_pages.routes,
            *kiosk_pages.routes,
            *desk_pages.routes,
            Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
        ],
        exception_handlers={**EXCEPTION_HANDLERS, core_pages.PageRedirect: core_pages.page_redirect_handler},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.queue_config = QueueConfig.from_settings(settings)
    app.state.rate_limiter = RateLimiter()
    return app
