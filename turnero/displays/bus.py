"""The event bus: services publish small events on `office:{code}` after commit.

This is the in-process backend (the default). Subscribers get their own bounded
queue so a slow one never blocks a publisher; when its queue is full the oldest event
is dropped and the subscriber is told it missed events (it then re-reads a snapshot).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

log = logging.getLogger("turnero.bus")


def office_channel(office_code: str) -> str:
    return f"office:{office_code}"


class Subscription:
    def __init__(self, channel: str, maxsize: int):
        self.channel = channel
        self.queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=maxsize)
        self.missed = 0

    def offer(self, event: dict) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.missed += 1
        self.queue.put_nowait(event)

    async def get(self) -> dict:
        return await self.queue.get()


class MemoryBus:
    def __init__(self, subscriber_buffer: int = 256):
        self._subscribers: dict[str, set[Subscription]] = {}
        self._buffer = subscriber_buffer

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self._subscribers.clear()

    async def publish(self, channel: str, event: dict) -> None:
        for sub in list(self._subscribers.get(channel, ())):
            sub.offer(event)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        sub = Subscription(channel, self._buffer)
        self._subscribers.setdefault(channel, set()).add(sub)
        try:
            yield sub
        finally:
            subs = self._subscribers.get(channel)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[channel]


_bus: MemoryBus = MemoryBus()


def get_bus() -> MemoryBus:
    return _bus


def set_bus(bus: MemoryBus) -> None:
    global _bus
    _bus = bus


async def publish_office_event(office_code: str, event: dict) -> None:
    """Publish after commit; a bus fault is logged and never fails the request."""
    try:
        await _bus.publish(office_channel(office_code), event)
    except Exception:
        log.exception("no se pudo publicar el evento %s", event.get("type"))
