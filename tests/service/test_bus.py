"""The event bus, both backends: seq per office in publish order, bounded subscriber
queues, and (Redis) order across publishers, reconnection after an outage, and the
resynchronisation it triggers. Redis tests run where Redis answers
(TURNERO_TEST_REDIS_URL, or 127.0.0.1:6379) and go through a TCP proxy the test
controls, so an outage is simulated without touching the shared server."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
from urllib.parse import urlsplit

import pytest

from turnero.core import bus as bus_module
from turnero.core.bus import RESYNC, STALE, CoalescedEvents, MemoryBus, RedisBus, bus_for

REDIS_URL = os.environ.get("TURNERO_TEST_REDIS_URL", "").strip() or "redis://127.0.0.1:6379/0"


def redis_available() -> bool:
    parts = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not redis_available(), reason=f"Redis not reachable at {REDIS_URL}")


class TcpProxy:
    """A TCP relay in front of Redis, in a thread of its own: `cut()` closes every
    connection and refuses new ones (an outage), `restore()` accepts again."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self.up = True
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @classmethod
    def for_url(cls, url: str) -> "TcpProxy":
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 6379)

    def url(self, original: str) -> str:
        parts = urlsplit(original)
        netloc = f"{parts.username or ''}{':' + parts.password if parts.password else ''}"
        netloc = (netloc + "@" if netloc else "") + f"127.0.0.1:{self.port}"
        return parts._replace(netloc=netloc).geturl()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)  # idle connections (pub/sub) must stay open
            with self._lock:
                if not self.up:  # cut while this one was connecting
                    client.close()
                    upstream.close()
                    continue
                self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        with self._lock:
            self.up = False
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


async def next_event(sub, timeout: float = 5.0) -> dict:
    return await asyncio.wait_for(sub.get(), timeout)


# ---------------------------------------------------------------- in-process


async def test_memory_bus_numbers_each_office_separately_in_publish_order():
    bus = MemoryBus()
    async with bus.subscribe("A") as a, bus.subscribe("B") as b:
        for n in range(5):
            await bus.publish("A", {"type": "queue.changed", "n": n})
        await bus.publish("B", {"type": "queue.changed"})
        got = [await next_event(a) for _ in range(5)]
        assert [e["seq"] for e in got] == [1, 2, 3, 4, 5] and [e["n"] for e in got] == list(range(5))
        assert (await next_event(b))["seq"] == 1
        assert await bus.current_seq("A") == 5 and await bus.current_seq("C") == 0
        assert a.get_nowait() is None


@pytest.fixture
def memory_bus():
    """A MemoryBus as the process's bus (what `publish_office_event` publishes to)."""
    previous, bus = bus_module.get_bus(), MemoryBus()
    bus_module.set_bus(bus)
    yield bus
    bus_module.set_bus(previous)


def drained(sub) -> list[dict]:
    events = []
    while (item := sub.get_nowait()) is not None:
        events.append(item)
    return events


async def test_coalesced_changes_go_out_once_per_delay_per_office_and_type(memory_bus):
    coalesced = CoalescedEvents(delay=0.2)
    async with memory_bus.subscribe("A") as a, memory_bus.subscribe("B") as b:
        started = asyncio.get_running_loop().time()
        for _ in range(20):  # a burst of changes: one message, a moment later
            await coalesced.publish("A", "queue.changed")
        await coalesced.publish("A", "exam.seat_changed")
        await coalesced.publish("B", "queue.changed")
        await asyncio.sleep(0.1)
        assert drained(a) == [] and drained(b) == []  # not yet: later changes may ride on it
        first = await next_event(a)
        assert asyncio.get_running_loop().time() - started >= 0.19
        assert {first["type"], (await next_event(a))["type"]} == {"queue.changed", "exam.seat_changed"}
        assert (await next_event(b))["type"] == "queue.changed"
        await asyncio.sleep(0.3)
        assert drained(a) == []  # nothing more for the burst

        await coalesced.publish("A", "queue.changed")  # a change after it: a new message
        assert (await next_event(a))["seq"] == 3
        assert drained(a) == []


async def test_without_a_delay_every_change_is_its_own_message(memory_bus):
    coalesced = CoalescedEvents(delay=0)
    async with memory_bus.subscribe("A") as a:
        for _ in range(3):
            await coalesced.publish("A", "queue.changed")
        assert [e["seq"] for e in drained(a)] == [1, 2, 3]


async def test_flush_publishes_what_is_pending_at_once(memory_bus):
    coalesced = CoalescedEvents(delay=30)
    async with memory_bus.subscribe("A") as a:
        await coalesced.publish("A", "queue.changed")
        await coalesced.publish("A", "queue.changed")
        await coalesced.flush()  # at shutdown: no change left unannounced
        assert [(e["type"], e["seq"]) for e in drained(a)] == [("queue.changed", 1)]
        await coalesced.publish("A", "queue.changed")  # and it schedules again afterwards
        await coalesced.flush()
        assert [e["seq"] for e in drained(a)] == [2]


async def test_a_full_subscriber_queue_becomes_a_resync_marker_and_never_blocks():
    bus = MemoryBus(subscriber_buffer=4)
    async with bus.subscribe("A") as slow, bus.subscribe("A") as fast:
        for n in range(10):
            await bus.publish("A", {"type": "queue.changed"})
            assert (await next_event(fast))["seq"] == n + 1
        queued = []
        while (item := slow.get_nowait()) is not None:
            queued.append(item)
        # Overflowed after 4: the backlog was replaced by RESYNC, then newer events follow.
        assert RESYNC in queued and len(queued) <= 4
        after = queued[queued.index(RESYNC) + 1:]
        assert [e["seq"] for e in after] == list(range(11 - len(after), 11))
        assert slow.missed > 0


async def test_unsubscribing_removes_the_subscriber():
    bus = MemoryBus()
    async with bus.subscribe("A"):
        assert bus._subscribers["A"]
    assert "A" not in bus._subscribers
    assert await bus.publish("A", {"type": "x"}) == 1  # nobody listening: fine


def test_bus_for_picks_the_backend():
    assert isinstance(bus_for(None), MemoryBus)
    assert isinstance(bus_for("redis://127.0.0.1:1/0"), RedisBus)


# ---------------------------------------------------------------- Redis


def redis_bus(url: str, prefix: str) -> RedisBus:
    """A bus with short waits, so outages play out in a fraction of a second."""
    bus = RedisBus(url, prefix=prefix)
    bus.FIRST_BACKOFF_SECONDS, bus.MAX_BACKOFF_SECONDS, bus.START_WAIT_SECONDS = 0.02, 0.1, 0.3
    return bus


async def eventually(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.fixture
def prefix() -> str:
    """Keys and channels of this test only (other test runs may share the Redis)."""
    return f"turnero-test-{secrets.token_hex(4)}:"


@needs_redis
async def test_redis_bus_delivers_across_instances_in_one_seq_order(prefix):
    one, two = redis_bus(REDIS_URL, prefix), redis_bus(REDIS_URL, prefix)
    await one.start()
    await two.start()
    try:
        async with one.subscribe("LPZ") as sub_one, two.subscribe("LPZ") as sub_two:
            # Two "instances" publish concurrently for the same office.
            results = await asyncio.gather(
                *(bus.publish("LPZ", {"type": "queue.changed", "by": name, "n": n})
                  for n in range(100) for name, bus in (("one", one), ("two", two)))
            )
            assert sorted(results) == list(range(1, 201))  # every event got a distinct seq
            for sub in (sub_one, sub_two):
                got = [await next_event(sub) for _ in range(200)]
                assert [e["seq"] for e in got] == list(range(1, 201))  # delivered in seq order
            assert await one.current_seq("LPZ") == 200 and await two.current_seq("OTRA") == 0
    finally:
        await one.close()
        await two.close()


@needs_redis
async def test_redis_outage_delivers_locally_then_reconnects_and_resyncs(prefix, caplog):
    proxy = TcpProxy.for_url(REDIS_URL)
    proxied = redis_bus(proxy.url(REDIS_URL), prefix)
    other = redis_bus(REDIS_URL, prefix)  # another instance whose Redis link stays up
    await proxied.start()
    await other.start()
    try:
        async with proxied.subscribe("LPZ") as sub, other.subscribe("LPZ") as other_sub:
            assert await proxied.publish("LPZ", {"type": "queue.changed"}) == 1
            assert (await next_event(sub))["seq"] == 1 and (await next_event(other_sub))["seq"] == 1

            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="turnero.bus"):
                proxy.cut()
                # Publishing while Redis is away never hangs and never raises, and this
                # instance's own subscribers still get its events, numbered on locally.
                for n in range(20):
                    started = asyncio.get_running_loop().time()
                    assert await proxied.publish("LPZ", {"type": "ticket.called", "n": n}) == 2 + n
                    assert asyncio.get_running_loop().time() - started < 2.5
                assert not proxied.healthy
                local = [await next_event(sub) for _ in range(20)]
                assert [(e["seq"], e["n"]) for e in local] == [(2 + n, n) for n in range(20)]
                assert await proxied.current_seq("LPZ") == 21  # what a new feed starts from
                assert other_sub.get_nowait() is None  # (the other instance never saw them)
                # It keeps trying to reconnect (many failed attempts) …
                await eventually(lambda: proxied._failures >= 8)
                # … and the outage is logged once, not once per attempt.
                errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
                assert len(errors) == 1, [r.getMessage() for r in errors]  # once per outage, no flood

                proxy.restore()
                await asyncio.wait_for(proxied.ready(), 20)
            assert proxied.healthy
            # This instance's subscribers resnapshot (events may have been lost) …
            assert await next_event(sub, 5) is RESYNC
            # … and every instance hears that this office's events were dropped; the Redis
            # counter was first raised past the local seqs (21), so no screen that took
            # local event 21 is ever handed a Redis event numbered 21 or below.
            stale = await next_event(other_sub, 5)
            assert stale["type"] == STALE and stale["seq"] == 22
            assert (await next_event(sub, 5))["type"] == STALE
            # Events flow again, numbered after the STALE marker.
            assert await proxied.publish("LPZ", {"type": "queue.changed"}) == 23
            assert (await next_event(other_sub))["seq"] == 23 and (await next_event(sub))["seq"] == 23
            assert any("reconectado" in r.getMessage() for r in caplog.records)
    finally:
        await proxied.close()
        await other.close()
        proxy.close()


@needs_redis
async def test_redis_bus_starts_without_redis_and_connects_later(prefix):
    proxy = TcpProxy.for_url(REDIS_URL)
    proxy.cut()
    bus = redis_bus(proxy.url(REDIS_URL), prefix)
    try:
        await bus.start()  # does not fail: the service runs without Redis
        assert not bus.healthy
        assert await bus.publish("LPZ", {"type": "queue.changed"}) == 1  # local: no subscriber here
        proxy.restore()
        await asyncio.wait_for(bus.ready(), 20)
        async with bus.subscribe("LPZ") as sub:
            seq = await bus.publish("LPZ", {"type": "queue.changed"})
            assert seq is not None
            event = await next_event(sub)
            while event.get("type") == STALE:  # the dropped office was announced first
                event = await next_event(sub)
            assert event["seq"] == seq
    finally:
        await bus.close()
        proxy.close()
