"""A Redis client for request paths: short timeouts, no client-side retries, and a
bounded pool that a burst waits on briefly instead of opening a connection per
request (sixty at once on a busy machine time out connecting, and Redis looks down)."""

from __future__ import annotations

MAX_CONNECTIONS = 32


def bounded_client(url: str, *, socket_timeout: float, wait: float = 1.0):
    """A `redis.asyncio.Redis` on a BlockingConnectionPool of MAX_CONNECTIONS: a command
    waits up to `wait` seconds for a pooled connection, then fails like an unreachable
    Redis (the callers' fallbacks take over)."""
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    pool = BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=wait, socket_connect_timeout=1.0,
        socket_timeout=socket_timeout, retry=Retry(NoBackoff(), 0), health_check_interval=0,
    )
    return Redis(connection_pool=pool)
