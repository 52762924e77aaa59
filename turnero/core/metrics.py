"""Prometheus metrics: what every domain counts, and the /metrics exposition.

Domains call the small functions below (`ticket_issued(...)`, `booking_made(...)`,
`websocket_connected()` …) and never touch prometheus_client themselves.

Several worker processes (`turnero serve --workers N`): each process keeps its own
values, so a scrape would see one worker at random. Set PROMETHEUS_MULTIPROC_DIR to an
empty, writable directory (cleared at each start) before starting the server: every
worker then writes its values there and /metrics adds them up (prometheus_client's
multiprocess mode). With one worker per instance nothing needs setting.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger("turnero.metrics")

# Seconds; tuned for an API whose requests take milliseconds to a few hundred ms.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

http_request_duration = Histogram(
    "turnero_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template (not the raw path).",
    ("method", "route", "status"),
    buckets=_LATENCY_BUCKETS,
)
tickets_issued = Counter(
    "turnero_tickets_issued", "Walk-in and check-in tickets issued.", ("office", "service")
)
tickets_called = Counter("turnero_tickets_called", "Tickets called to a desk.", ("office",))
bookings = Counter("turnero_bookings", "Citas booked.", ("office", "service"))
outbox_backlog = Gauge(
    "turnero_outbox_backlog", "Outgoing messages waiting to be sent (read at scrape time).",
    # Read from the database by whichever worker answers the scrape: the latest reading
    # counts ("max" would keep an old, higher reading of another worker forever).
    multiprocess_mode="mostrecent",
)
websocket_clients = Gauge(
    "turnero_websocket_clients", "WebSocket clients connected to this process.", multiprocess_mode="livesum"
)


def ticket_issued(office: str, service: str) -> None:
    tickets_issued.labels(office, service).inc()


def ticket_called(office: str) -> None:
    tickets_called.labels(office).inc()


def booking_made(office: str, service: str) -> None:
    bookings.labels(office, service).inc()


def websocket_connected() -> None:
    websocket_clients.inc()


def websocket_disconnected() -> None:
    websocket_clients.dec()


# Values that live in the database (the outbox backlog) are read when Prometheus
# scrapes, not kept up to date on every write: a domain registers an async function
# that sets its gauge, e.g. `metrics.on_scrape(refresh_outbox_backlog)`.
_scrape_hooks: list[Callable[[], Awaitable[None]]] = []


def on_scrape(hook: Callable[[], Awaitable[None]]) -> None:
    if hook not in _scrape_hooks:
        _scrape_hooks.append(hook)


async def run_scrape_hooks() -> None:
    for hook in list(_scrape_hooks):
        try:
            await hook()
        except Exception:  # a broken gauge must not take the whole scrape down
            log.exception("metrics scrape hook %r failed", hook)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


async def exposition() -> tuple[bytes, str]:
    """The text format body and its content type."""
    await run_scrape_hooks()
    return generate_latest(_registry()), CONTENT_TYPE_LATEST
