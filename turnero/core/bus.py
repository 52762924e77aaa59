"""The event bus: services publish small events per office after their transaction commits.

Two backends behind one interface:
- `MemoryBus` (the default): one process; `seq` comes from an in-process counter.
- `RedisBus` (`TURNERO_REDIS_URL`): several instances; `seq` comes from a Redis counter
  per office, taken and published in one Lua script so that every subscriber on every
  instance sees the events of an office in `seq` order.

Each event an office's subscribers receive carries `seq`, increasing by one per event of
that office. A subscriber that may have lost events (its queue overflowed, or Redis was
away) receives the `RESYNC` marker instead and re-reads a snapshot.

A bus fault never fails a request: publishing is best effort after commit. While Redis
is unreachable an instance still delivers its own events to its own subscribers, numbered
on from the last seq it knew (a local sequence); when Redis is back the office's Redis
counter is first raised past every local seq, then every subscriber resnapshots, so no
page ever takes a Redis event numbered below a local one it already applied.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from turnero.core.redis_pool import bounded_client

log = logging.getLogger("turnero.bus")

# Not an event: "you may have missed events; read a new snapshot".
RESYNC: dict = {"type": "bus.resync"}
# Published (with a seq) when events of an office were dropped during a Redis outage:
# every instance's displays of that office then resnapshot.
STALE = "board.stale"


def office_channel(office_code: str) -> str:
    return f"office:{office_code}"


def encode(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


class Subscription:
    """One subscriber's bounded queue; a full queue is emptied and replaced by RESYNC,
    so a slow subscriber never blocks the publisher nor grows without bound."""

    def __init__(self, office: str, maxsize: int):
        self.office = office
        self.queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=maxsize)
        self.missed = 0

    def offer(self, event: dict) -> None:
        if self.queue.full():
            self.missed += self.queue.qsize()
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)
            return
        self.queue.put_nowait(event)

    async def get(self) -> dict:
        return await self.queue.get()

    def get_nowait(self) -> dict | None:
        try:
            return self.queue.get_nowait()
        except asyncio.QueueEmpty:
            return None


class EventBus:
    """The interface, and the local fan-out both backends share."""

    name = "base"

    def __init__(self, subscriber_buffer: int = 1024):
        self._subscribers: dict[str, set[Subscription]] = {}
        self._buffer = subscriber_buffer

    @property
    def healthy(self) -> bool:
        return True

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self._subscribers.clear()

    async def publish(self, office: str, event: dict) -> int | None:
        """Publish `event` for `office`; returns its seq, or None if it was dropped."""
        raise NotImplementedError

    async def current_seq(self, office: str) -> int:
        """The seq of the office's latest published event (0 before the first)."""
        raise NotImplementedError

    async def ready(self) -> None:
        """Return once events published from now on reach this instance's subscribers."""

    @asynccontextmanager
    async def subscribe(self, office: str) -> AsyncIterator[Subscription]:
        sub = Subscription(office, self._buffer)
        self._subscribers.setdefault(office, set()).add(sub)
        try:
            yield sub
        finally:
            subs = self._subscribers.get(office)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[office]

    def _deliver(self, office: str, event: dict) -> None:
        for sub in list(self._subscribers.get(office, ())):
            sub.offer(event)

    def _resync_all(self) -> None:
        for subs in list(self._subscribers.values()):
            for sub in list(subs):
                sub.offer(RESYNC)


class MemoryBus(EventBus):
    """One process: events go straight to the subscribers' queues."""

    name = "memory"

    def __init__(self, subscriber_buffer: int = 1024):
        super().__init__(subscriber_buffer)
        self._seq: dict[str, int] = {}

    async def publish(self, office: str, event: dict) -> int:
        # No await between taking the seq and delivering: events arrive in seq order.
        seq = self._seq.get(office, 0) + 1
        self._seq[office] = seq
        self._deliver(office, {**event, "seq": seq})
        return seq

    async def current_seq(self, office: str) -> int:
        return self._seq.get(office, 0)


# INCR and PUBLISH in one script: Redis runs scripts one at a time, so the order in
# which subscribers receive an office's events is the order of their seq, whichever
# instance published them. The event (a JSON object) gets "seq" as its first field.
_PUBLISH_LUA = """
local seq = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', KEYS[2], '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2))
return seq
"""


# Raise an office's counter to at least ARGV[1] (never lower it).
_RAISE_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return current
"""


class RedisBus(EventBus):
    """Redis pub/sub across instances (redis.asyncio).

    One pattern subscription per instance (`{prefix}office:*`) feeds the local
    subscribers; a background task keeps it connected and reconnects with backoff.
    While Redis is away, publishing returns at once (no request waits on it) and the
    event goes to this instance's own subscribers with a local seq (the last seq seen
    for the office, plus one); the offices concerned are remembered, and when Redis is
    back their Redis counters are raised to at least the local seqs, local subscribers
    resnapshot, and each office gets a STALE event so every instance's displays do too.
    """

    name = "redis"
    IDLE_PING_SECONDS = 5.0
    DEAD_AFTER_SECONDS = 12.0
    FIRST_BACKOFF_SECONDS = 0.5
    MAX_BACKOFF_SECONDS = 10.0
    START_WAIT_SECONDS = 3.0  # how long start() waits for a first connection

    def __init__(self, url: str, prefix: str = "turnero:", subscriber_buffer: int = 1024):
        super().__init__(subscriber_buffer)
        self.url = url
        self.prefix = prefix
        self._redis = None
        self._script = None
        self._task: asyncio.Task | None = None
        self._up = asyncio.Event()
        self._healthy = False
        self._down_since: float | None = None
        self._failures = 0
        self._dropped_offices: set[str] = set()
        # Per office: the highest seq this instance has seen or given (Redis or local),
        # and the highest local seq given while Redis was away.
        self._seen: dict[str, int] = {}
        self._local_max: dict[str, int] = {}
        self.local_events = 0  # events delivered locally during outages (metrics, tests)
        self._kick = asyncio.Event()  # a publish failed: reconnect now
        self._closing = False

    # -- keys
    def _seq_key(self, office: str) -> str:
        return f"{self.prefix}seq:{office_channel(office)}"

    def _channel(self, office: str) -> str:
        return self.prefix + office_channel(office)

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def start(self) -> None:
        # A request publishing after its commit must never hang on an unreachable Redis;
        # a burst of publishes waits (briefly) for a pooled connection rather than failing.
        self._redis = bounded_client(self.url, socket_timeout=2.0)
        self._script = self._redis.register_script(_PUBLISH_LUA)
        self._task = asyncio.create_task(self._run(), name="turnero-redis-bus")
        # Wait briefly for the first connection, but start anyway: the service works
        # without Redis and the task keeps trying.
        try:
            await asyncio.wait_for(self._up.wait(), timeout=self.START_WAIT_SECONDS)
        except TimeoutError:
            log.error("Redis (%s) no responde al iniciar; se seguirá intentando", _redacted(self.url))

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._redis is not None:
            await self._redis.aclose(close_connection_pool=True)
        await super().close()

    async def ready(self) -> None:
        await self._up.wait()

    async def publish(self, office: str, event: dict) -> int | None:
        if not self._healthy:
            return self._publish_local(office, event)
        try:
            seq = int(await self._script(keys=[self._seq_key(office), self._channel(office)], args=[encode(event)]))
        except Exception as exc:  # any Redis or socket fault: deliver here, remember, reconnect
            self._mark_down(exc)
            self._kick.set()
            return self._publish_local(office, event)
        self._saw(office, seq)
        return seq

    def _publish_local(self, office: str, event: dict) -> int:
        """Redis is away: this instance's own subscribers still get the event, with the
        next seq after the last one seen here (no await: delivered in seq order)."""
        self._dropped_offices.add(office)
        seq = self._seen.get(office, 0) + 1
        self._seen[office] = self._local_max[office] = seq
        self.local_events += 1
        self._deliver(office, {**event, "seq": seq})
        return seq

    def _saw(self, office: str, seq) -> None:
        if isinstance(seq, int) and seq > self._seen.get(office, 0):
            self._seen[office] = seq

    async def current_seq(self, office: str) -> int:
        if not self._healthy:
            return self._seen.get(office, 0)
        value = await self._redis.get(self._seq_key(office))
        seq = int(value or 0)
        self._saw(office, seq)
        return seq

    # -- connection state, logged once per outage (no log flood while it lasts)
    def _mark_down(self, exc: BaseException) -> None:
        self._failures += 1
        if self._healthy or self._down_since is None:
            self._down_since = time.monotonic()
            log.error("bus Redis no disponible (%s: %s); la atención sigue, las pantallas se"
                      " resincronizan al volver", type(exc).__name__, exc)
        else:
            log.debug("Redis sigue sin responder (%s)", exc)
        self._healthy = False
        self._up.clear()

    async def _mark_up(self) -> None:
        was_down = self._down_since is not None
        # First raise the Redis counters past the local seqs given during the outage
        # (before anything is published through Redis again): a screen that applied
        # local event N never receives a Redis event numbered N or below. Every office
        # seen is raised to its last seq, so a Redis restarted empty (no persistence)
        # does not number an office's events from 1 again either.
        if was_down:
            for office, seen in list(self._seen.items()):
                await self._redis.eval(_RAISE_LUA, 1, self._seq_key(office), seen)
        while self._local_max:  # (a local publish may land during an await here)
            office, local = next(iter(self._local_max.items()))
            await self._redis.eval(_RAISE_LUA, 1, self._seq_key(office), local)
            if self._local_max.get(office) == local:
                del self._local_max[office]
        self._healthy = True
        self._up.set()
        if was_down:
            log.warning("bus Redis reconectado tras %.1f s", time.monotonic() - self._down_since)
        self._down_since = None
        self._failures = 0
        # Events may have been lost both ways: local subscribers resnapshot, and the
        # offices whose events this instance dropped are announced to every instance.
        self._resync_all()
        dropped, self._dropped_offices = self._dropped_offices, set()
        for office in sorted(dropped):
            await self.publish(office, {"type": STALE})

    async def _run(self) -> None:
        backoff = self.FIRST_BACKOFF_SECONDS
        pattern = self._channel("*")
        prefix = self._channel("")
        while not self._closing:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(pattern)
                await self._confirm_subscription(pubsub)
                if self._down_since is not None:
                    # Idle pooled connections predate the outage and are dead: drop
                    # them, so the first publish after it does not fail on one.
                    await self._redis.connection_pool.disconnect(inuse_connections=False)
                self._kick.clear()
                await self._mark_up()
                backoff = self.FIRST_BACKOFF_SECONDS
                last_heard = time.monotonic()
                pinged = False
                while not self._kick.is_set():
                    message = await pubsub.get_message(timeout=1.0)
                    now = time.monotonic()
                    if message is None:
                        if now - last_heard > self.DEAD_AFTER_SECONDS:
                            raise ConnectionError("sin respuesta de Redis")
                        if not pinged and now - last_heard > self.IDLE_PING_SECONDS:
                            await pubsub.ping()
                            pinged = True
                        continue
                    last_heard, pinged = now, False
                    if message["type"] != "pmessage":
                        continue
                    channel = _text(message["channel"])
                    try:
                        event = json.loads(message["data"])
                    except ValueError:
                        log.warning("evento ilegible en %s", channel)
                        continue
                    office = channel[len(prefix):]
                    self._saw(office, event.get("seq"))
                    self._deliver(office, event)
                raise ConnectionError("falló una publicación")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._mark_down(exc)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:
                    pass
            if self._closing:
                return
            # Exponential backoff with jitter, so instances do not reconnect in step.
            await asyncio.sleep(backoff * random.uniform(0.7, 1.3))
            backoff = min(backoff * 2, self.MAX_BACKOFF_SECONDS)

    async def _confirm_subscription(self, pubsub) -> None:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            message = await pubsub.get_message(timeout=0.5)
            if message is not None and message["type"] == "psubscribe":
                return
        raise ConnectionError("Redis no confirmó la suscripción")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _redacted(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def bus_for(redis_url: str | None, prefix: str = "turnero:") -> EventBus:
    return RedisBus(redis_url, prefix) if redis_url else MemoryBus()


_bus: EventBus = MemoryBus()


def get_bus() -> EventBus:
    return _bus


def set_bus(bus: EventBus) -> None:
    global _bus
    _bus = bus


async def publish_office_event(office_code: str, event: dict) -> None:
    """Publish after commit; a bus fault is logged and never fails the request."""
    try:
        await _bus.publish(office_code, event)
    except Exception:
        log.exception("no se pudo publicar el evento %s", event.get("type"))


class CoalescedEvents:
    """Events that only say "read the current state" (`queue.changed`: the hub fills in
    the counts and desks when it forwards it) go out at most once per `delay` per office
    and type: the first change schedules one event `delay` later, and every change until
    it is published rides on it. A busy office (a kiosk issuing, ten desks calling) then
    costs its screens a few messages a second, not one per change, and the call itself
    (`ticket.called`, never delayed) reaches the screens ahead of the counts."""

    def __init__(self, delay: float = 0.25):
        self.delay = delay
        self._pending: dict[tuple[str, str], asyncio.Task] = {}

    async def publish(self, office_code: str, kind: str) -> None:
        if self.delay <= 0:
            await publish_office_event(office_code, {"type": kind})
            return
        key = (office_code, kind)
        task = self._pending.get(key)
        loop = asyncio.get_running_loop()
        if task is not None and not task.done() and task.get_loop() is loop:
            return  # one is on its way: it reads the state when it is forwarded
        self._pending[key] = loop.create_task(self._later(key), name=f"coalesced-{kind}-{office_code}")

    async def _later(self, key: tuple[str, str]) -> None:
        await asyncio.sleep(self.delay)
        # Out of `_pending` before publishing: a change from now on schedules the next one.
        self._pending.pop(key, None)
        await publish_office_event(key[0], {"type": key[1]})

    async def flush(self) -> None:
        """Publish what is pending now (at shutdown: no change is left unannounced)."""
        pending, self._pending = list(self._pending.items()), {}
        for (office_code, kind), task in pending:
            if task.done() or task.get_loop() is not asyncio.get_running_loop():
                continue
            task.cancel()
            await publish_office_event(office_code, {"type": kind})


coalesced = CoalescedEvents()
