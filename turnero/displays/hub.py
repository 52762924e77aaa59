"""The WebSocket hub: lobby boards, citizen pages and consoles follow an office live.

Per office and instance, one `OfficeFeed` holds the single bus subscription and fans
each event out to the office's clients. Each client has a bounded buffer and its own
writer task, so a slow or stuck client never delays the others:

- a client whose buffer overflows is sent a fresh snapshot instead of the lost events;
- a client whose socket has not taken a message for `send_timeout` seconds is dropped.

Ordering: a client first gets `{"type": "snapshot", "seq": S, ...}` and then exactly the
events with seq S+1, S+2, … The feed is subscribed before S is read, S is the seq of the
last event the feed has taken, and a snapshot is built from the database after its
events were committed; later events are forwarded. Events are idempotent to apply
(calls are keyed by ticket and time, counts are absolute), so an event whose effect the
snapshot already shows does no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections import deque
from datetime import UTC, datetime

from starlette.websockets import WebSocket, WebSocketState
from websockets.protocol import State as WsState

from turnero.core import metrics
from turnero.core.models import Office
from turnero.core.bus import RESYNC, STALE, EventBus, encode
from turnero.displays.service import board_desks, board_snapshot, service_names, waiting_counts
from turnero.queue import waiting

log = logging.getLogger("turnero.displays")

# Events whose payload the feed completes with the office's current counts and desks.
_COUNTS_EVENTS = {"queue.changed"}
_CALL_EVENTS = {"ticket.called", "ticket.recalled"}
# A cached snapshot is rebuilt after this long even without events (e.g. at midnight).
_SNAPSHOT_TTL_SECONDS = 30.0
_PONG = encode({"type": "pong"})
# A client asking for snapshots faster than this gets them at this pace (a broken or
# hostile page must not make the server build and send snapshots in a loop).
RESYNC_COOLDOWN_SECONDS = 1.0


class BoardClient:
    """One WebSocket connection of an office's board channel.

    Thousands of these sit idle between calls, so an idle one holds little: no buffer
    and no writer task until something cannot be written straight into its socket."""

    __slots__ = ("ws", "feed", "buffer", "limit", "need_snapshot", "last_sent", "sending_since",
                 "overflows", "writer", "dropped", "last_resync", "resync_due", "proto", "followed", "last_update", "last_update_at")

    def __init__(self, ws: WebSocket, limit: int, proto=None, feed: "OfficeFeed | None" = None):
        self.ws = ws
        self.feed = feed  # starts the writer task when there is work (see wake)
        # The server's WebSocket protocol when it can be written to directly (see write_now).
        self.proto = proto
        self.buffer: deque[tuple[int | None, str]] | None = None
        self.limit = limit
        self.need_snapshot = True
        self.last_sent = -1
        self.sending_since = 0.0
        self.overflows = 0
        self.writer: asyncio.Task | None = None  # runs while there is something to send
        self.dropped = False
        self.last_resync = 0.0
        self.resync_due = False
        # A citizen's page following its ticket: what it follows, and the last update sent.
        self.followed = None
        self.last_update: str | None = None
        self.last_update_at = 0.0  # monotonic

    @property
    def idle(self) -> bool:
        """Nothing is being built or sent for this client."""
        return self.writer is None

    def wake(self) -> None:
        if self.writer is None and self.feed is not None and not self.dropped:
            self.writer = asyncio.get_running_loop().create_task(self.feed.write_loop(self))

    def push(self, seq: int | None, text: str) -> None:
        """Queue a message (seq None: not an event, e.g. a ping); never blocks."""
        if self.need_snapshot and seq is None:
            self.wake()
            return
        if self.buffer is None:
            self.buffer = deque()
        if len(self.buffer) >= self.limit:
            # Too far behind: forget the backlog, a snapshot replaces it.
            self.buffer = None
            self.need_snapshot = True
            self.overflows += 1
        else:
            self.buffer.append((seq, text))
        self.wake()

    def write_now(self, seq: int | None, data: bytes, frame: bytes) -> bool:
        """Write a message straight into the socket, from the feed, when nothing is
        queued or being sent ahead of it and the socket is taking data: a broadcast to
        thousands of screens then costs one frame write each, not one task switch and a
        stack of ASGI calls each. Otherwise (a busy, slow or stuck client) False: the
        message goes through the client's buffer and writer, which bound and drop it."""
        p = self.proto
        if (p is None or not self.idle or self.need_snapshot or self.buffer or self.dropped
                or not p.writable.is_set() or p.disconnected or p.close_sent or not p.handshake_complete
                or (seq is not None and seq <= self.last_sent)):
            return False
        try:
            conn = p.conn
            if conn.extensions or conn.state is not WsState.OPEN or conn.expect_continuation_frame:
                conn.send_text(data)  # compressed (per connection), or refused if not open
                p.transport.write(b"".join(conn.data_to_send()))
            else:
                # Uncompressed server frames are unmasked: the same bytes for every screen.
                p.transport.write(frame)
        except Exception:  # closing under us: the writer's path finds out and drops it
            return False
        if seq is not None:
            self.last_sent = seq
        return True

    def request_resync(self, now: float) -> None:
        """The client asked for a snapshot: now, or when its cooldown is over."""
        if now - self.last_resync >= RESYNC_COOLDOWN_SECONDS:
            self.last_resync, self.resync_due = now, False
            if not self.need_snapshot:
                self.resnapshot()
        else:
            self.resync_due = True

    def resnapshot(self) -> None:
        self.buffer = None
        self.need_snapshot = True
        self.wake()

    async def send(self, text: str) -> None:
        self.sending_since = time.monotonic()
        await self.ws.send_text(text)
        self.sending_since = 0.0


class OfficeFeed:
    """One office's bus subscription on this instance, fanned out to its clients."""

    def __init__(self, hub: "BoardHub", office: Office):
        self.hub = hub
        self.office = office
        self.clients: set[BoardClient] = set()
        self.last_seq = 0
        self.ready = asyncio.Event()
        self._snapshot: tuple[int, float, str] | None = None
        self._building: tuple[int, asyncio.Future] | None = None
        self._service_names: dict[str, str] = {}
        self._tasks: list[asyncio.Task] = []
        self.followers: set[BoardClient] = set()
        self._followers_due = False
        self._followers_task: asyncio.Task | None = None
        self._followers_later: asyncio.TimerHandle | None = None

    def start(self) -> None:
        code = self.office.code
        self._tasks = [
            asyncio.create_task(self._run(), name=f"board-feed-{code}"),
            asyncio.create_task(self._tick(), name=f"board-tick-{code}"),
        ]

    async def stop(self) -> None:
        if self._followers_later is not None:
            self._followers_later.cancel()
        if self._followers_task is not None:
            self._tasks.append(self._followers_task)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ------------------------------------------------------------ bus side

    async def _run(self) -> None:
        bus = self.hub.bus
        try:
            async with bus.subscribe(self.office.code) as sub:
                await self._read_seq()
                self.ready.set()
                while True:
                    batch = [await sub.get()]
                    while (more := sub.get_nowait()) is not None:
                        batch.append(more)
                    await self._take(batch)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Never leave clients hanging on a dead feed: drop them, they reconnect.
            log.exception("la transmisión de %s falló", self.office.code)
            for client in list(self.clients):
                self.hub.drop(client, "error interno")

    async def _read_seq(self) -> None:
        try:
            self.last_seq = await self.hub.bus.current_seq(self.office.code)
        except Exception as exc:  # Redis away: keep the last seq, a RESYNC follows its return
            log.warning("no se pudo leer el seq de %s: %s", self.office.code, exc)

    async def _take(self, batch: list[dict]) -> None:
        waiting.changed()  # a change somewhere (maybe another instance): the lines re-read it
        pending: list[dict] = []
        for event in batch:
            seq = event.get("seq")
            tail = pending[-1]["seq"] if pending else self.last_seq
            if event is RESYNC or event.get("type") == STALE or (isinstance(seq, int) and seq > tail + 1):
                # Events may be lost (or were, elsewhere): everyone gets a new snapshot.
                await self._forward(pending)
                pending = []
                await self._resync_all()
                continue
            if not isinstance(seq, int) or seq <= tail:
                continue  # already covered by what clients have or will get
            pending.append(event)
        await self._forward(pending)

    async def _resync_all(self) -> None:
        await self._read_seq()
        self._snapshot = None
        for client in self.clients:
            client.resnapshot()
        self.follow_soon()

    async def _forward(self, events: list[dict]) -> None:
        if not events:
            return
        extra = None
        for event in events:
            kind = event.get("type")
            if kind in _COUNTS_EVENTS:
                if extra is None:
                    # Read once per batch, however many changes it holds, and only when
                    # its first change is due: a call ahead of it goes out without waiting.
                    extra = await self._counts()
                event = {**event, **extra}
            elif kind in _CALL_EVENTS and "service_name" not in event:
                event = {**event, "service_name": await self._service_name(event.get("service"))}
            self.last_seq = event["seq"]
            self._broadcast(event["seq"], encode(event))
        if self.followers:
            self.follow_soon()

    async def _counts(self) -> dict:
        try:
            return {"waiting": await waiting_counts(self.office), "desks": await board_desks(self.office)}
        except Exception as exc:
            log.warning("no se pudo leer la espera de %s: %s", self.office.code, exc)
            return {}

    async def _service_name(self, code: str | None) -> str | None:
        if code not in self._service_names:
            with contextlib.suppress(Exception):
                self._service_names = await service_names(self.office)
        return self._service_names.get(code)

    def _broadcast(self, seq: int | None, text: str) -> None:
        data = text.encode()
        frame = text_frame(data)
        for client in self.clients:
            if not client.write_now(seq, data, frame):
                client.push(seq, text)

    # ------------------------------------------------------------ followed tickets

    def follow_soon(self) -> None:
        """Send the pages following a ticket their new place and wait (once per batch of
        changes, in a task of its own so that calls never wait behind it)."""
        self._followers_due = True
        if self._followers_task is None or self._followers_task.done():
            self._followers_task = asyncio.get_running_loop().create_task(self._update_followers())

    async def _update_followers(self) -> None:
        """Each page gets its ticket's new place and wait at most every follow_interval
        (a ticket that left the line — called, transferred, cancelled — at once); pages
        passed over for that are looked at again when their interval is over."""
        refresh, interval = self.hub.refresh_followed, self.hub.follow_interval
        while self._followers_due and refresh is not None:
            self._followers_due = False
            now, passed_over = time.monotonic(), False
            for client in list(self.followers):
                if client.dropped or client.need_snapshot:
                    continue  # after its snapshot it asks again (write_loop)
                due = now - client.last_update_at >= interval
                try:
                    followed = await refresh(client.followed, self.office, due=due)
                except Exception as exc:  # noqa: BLE001 — the page's own reads still work
                    log.debug("no se pudo actualizar el turno seguido en %s: %s", self.office.code, exc)
                    continue
                if followed is client.followed and not due:
                    passed_over = True
                    continue
                client.followed = followed
                text = encode({"type": "ticket.update", "ticket": followed.view})
                if text != client.last_update:
                    client.last_update, client.last_update_at = text, now
                    data = text.encode()
                    if not client.write_now(None, data, text_frame(data)):
                        client.push(None, text)
            if passed_over and self._followers_later is None:
                self._followers_later = asyncio.get_running_loop().call_later(interval, self._follow_again)

    def _follow_again(self) -> None:
        self._followers_later = None
        if self.followers:
            self.follow_soon()

    async def _tick(self) -> None:
        """Keep-alive messages, and the watchdog that drops stuck clients."""
        hub = self.hub
        step = min(1.0, hub.ping_seconds, hub.send_timeout / 2)
        next_ping = time.monotonic() + hub.ping_seconds
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            for client in list(self.clients):
                if client.sending_since and now - client.sending_since > hub.send_timeout:
                    hub.drop(client, "cliente demasiado lento")
                elif client.resync_due:
                    client.request_resync(now)
            if now >= next_ping and self.ready.is_set():
                next_ping = now + hub.ping_seconds
                ping = {"type": "ping", "last_seq": self.last_seq,
                        "time": datetime.now(UTC).isoformat(timespec="milliseconds")}
                if not hub.bus.healthy:
                    # Only this instance's events reach this channel now: pages also
                    # read the board over HTTP until the bus is back (live.js).
                    ping["bus"] = "down"
                self._broadcast(None, encode(ping))

    # ------------------------------------------------------------ client side

    async def snapshot(self) -> tuple[int, str]:
        """(seq, message) of a snapshot at least as new as event `seq`; concurrent
        callers at the same seq share one database read."""
        seq = self.last_seq
        cached = self._snapshot
        if cached and cached[0] == seq and time.monotonic() - cached[1] < _SNAPSHOT_TTL_SECONDS:
            return cached[0], cached[2]
        if self._building is None or self._building[0] != seq or self._building[1].done():
            self._building = (seq, asyncio.ensure_future(self._build(seq)))
        return await asyncio.shield(self._building[1])

    async def _build(self, seq: int) -> tuple[int, str]:
        board = await board_snapshot(self.office)
        self._service_names = board["services"]
        text = encode({"type": "snapshot", "seq": seq, **board})
        self._snapshot = (seq, time.monotonic(), text)
        return seq, text

    async def write_loop(self, client: BoardClient) -> None:
        """Send the client its snapshot, then what its buffer holds, in order; runs
        while there is something to send (a connection's first moments, or a client
        that fell behind) and ends when there is not."""
        try:
            await self.ready.wait()
            while True:
                if client.need_snapshot:
                    client.need_snapshot = False
                    if client.followed is not None:
                        # Its ticket is due again after a snapshot. Reset before the snapshot
                        # is read, not after: a batch of followers may queue the ticket during
                        # that await, and forgetting it would leave the page due, so its next
                        # moves would be pushed at once instead of once per interval.
                        client.last_update, client.last_update_at = None, 0.0
                    seq, text = await self.snapshot()
                    await client.send(text)
                    client.last_sent = seq
                    if client.followed is not None:
                        self.follow_soon()
                elif client.buffer:
                    seq, text = client.buffer.popleft()
                    if seq is None or seq > client.last_sent:
                        await client.send(text)
                        if seq is not None:
                            client.last_sent = seq
                else:
                    client.buffer = None
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket went away, or the snapshot failed
            if not client.dropped:
                log.debug("cliente de %s terminó: %s", self.office.code, exc)
                self.hub.drop(client, "error al enviar")
        finally:
            if client.writer is asyncio.current_task():
                client.writer = None  # no await since the last check: the next push starts a new one


class BoardHub:
    def __init__(self, bus: EventBus, *, ping_seconds: float = 20.0, send_timeout: float = 10.0,
                 client_buffer: int = 64, direct_writes: bool = True):
        self.bus = bus
        self.ping_seconds = ping_seconds
        self.send_timeout = send_timeout
        self.client_buffer = client_buffer
        self.feeds: dict[str, OfficeFeed] = {}
        self.dropped = 0
        # The kernel's send buffer per board socket. Linux grows it to megabytes for a
        # peer that stops reading; board messages are a few KB, so a bounded buffer
        # costs nothing, caps memory per connection, and lets a stuck client be
        # noticed (and dropped) after kilobytes instead of megabytes.
        self.socket_send_buffer = 64 * 1024
        # Write events straight into idle sockets (uvicorn's websockets-sansio protocol);
        # off: every message goes through the ASGI send of each client's writer task.
        self.direct_writes = direct_writes
        # Pages following a ticket (set by the app): `start_following(public id)` gives
        # what a page follows, `refresh_followed(followed, office)` its state now.
        self.start_following = None
        self.refresh_followed = None
        self.follow_interval = 5.0

    @classmethod
    def from_settings(cls, bus: EventBus, settings) -> "BoardHub":
        hub = cls(bus, ping_seconds=settings.ws_ping_seconds, send_timeout=settings.ws_send_timeout_seconds,
                  client_buffer=settings.ws_client_buffer)
        hub.follow_interval = settings.follow_interval_seconds
        return hub

    def feed_for(self, office: Office) -> "OfficeFeed":
        """The office's feed on this instance, started with its first client."""
        feed = self.feeds.get(office.code)
        if feed is None:
            feed = self.feeds[office.code] = OfficeFeed(self, office)
            feed.start()
        return feed

    def estimate_refreshed(self, office: Office) -> None:
        """A new wait estimate for the office: its followed tickets may have a new wait."""
        feed = self.feeds.get(office.code)
        if feed is not None and feed.followers:
            feed.follow_soon()

    async def following(self, office: Office, public_id: str | None):
        """What a page asking to follow `public_id` follows, if that ticket is this office's."""
        if not public_id or self.start_following is None or len(public_id) > 64:
            return None
        try:
            followed = await self.start_following(public_id)
        except Exception:  # noqa: BLE001 — unknown ticket: a plain board client
            return None
        return followed if followed.office_id == office.id else None

    async def serve(self, ws: WebSocket, feed: "OfficeFeed", followed=None) -> None:
        """The whole life of one accepted connection (call right after `feed_for`, with
        no await in between: the feed ends when its last client leaves)."""
        _bound_send_buffer(ws, self.socket_send_buffer)
        client = BoardClient(ws, self.client_buffer, _direct_protocol(ws) if self.direct_writes else None, feed)
        feed.clients.add(client)  # before any await: events from now on are buffered
        if followed is not None:
            client.followed = followed
            feed.followers.add(client)
        client.wake()  # its snapshot
        office = feed.office
        metrics.websocket_connected()
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                self._on_message(client, message.get("text"))
        except Exception as exc:  # a broken socket ends the connection, nothing more
            log.debug("conexión de %s cerrada: %s", office.code, exc)
        finally:
            metrics.websocket_disconnected()
            feed.clients.discard(client)
            feed.followers.discard(client)
            client.dropped = True  # no new writer from now on
            if client.writer is not None:
                client.writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await client.writer
            if not feed.clients and self.feeds.get(office.code) is feed:
                del self.feeds[office.code]
                await feed.stop()

    def _on_message(self, client: BoardClient, text: str | None) -> None:
        try:
            kind = json.loads(text).get("type") if text else None
        except (ValueError, AttributeError):
            return  # not JSON: ignored, the channel is one-way
        if kind == "resync":
            client.request_resync(time.monotonic())
        elif kind == "ping":
            client.push(None, _PONG)

    def drop(self, client: BoardClient, reason: str) -> None:
        """Close a client's connection without waiting on it."""
        if client.dropped:
            return
        client.dropped = True
        self.dropped += 1
        for feed in self.feeds.values():  # it gets nothing more from now on
            feed.clients.discard(client)
            feed.followers.discard(client)
        if client.writer is not None and client.writer is not asyncio.current_task():
            client.writer.cancel()
        log.info("pantalla desconectada: %s", reason)
        _abort(client.ws)

    async def close(self) -> None:
        feeds, self.feeds = list(self.feeds.values()), {}
        for feed in feeds:
            await feed.stop()


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final, uncompressed WebSocket text frame (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 1 << 16:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + payload


def _abort(ws: WebSocket) -> None:
    """Close at once. A stuck peer never reads a close frame, and the server's closing
    handshake would then hold the socket (and its buffered megabytes) for tens of
    seconds; so where the server's transport can be reached (uvicorn's protocol,
    behind Starlette's send wrapper) it is aborted. Otherwise a close is attempted in
    the background and the server aborts it after its close timeout."""
    transport = _server_transport(ws)
    if transport is not None:
        transport.abort()
        return
    if ws.application_state == WebSocketState.CONNECTED:
        task = asyncio.ensure_future(ws.close(code=1008))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())


def _bound_send_buffer(ws: WebSocket, size: int) -> None:
    transport = _server_transport(ws)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def _server_transport(ws: WebSocket):
    """The asyncio transport under the ASGI `send` callable, if reachable."""
    proto = _server_protocol(ws)
    return proto.transport if proto is not None else None


def _direct_protocol(ws: WebSocket):
    """The server's protocol if it is uvicorn's websockets-sansio one (a `websockets`
    sans-I/O connection `conn`, a `writable` event cleared while the transport's buffer
    is above its high-water mark), which `BoardClient.write_now` can write to; else None."""
    proto = _server_protocol(ws)
    conn = getattr(proto, "conn", None)
    if (callable(getattr(conn, "send_text", None)) and callable(getattr(conn, "data_to_send", None))
            and isinstance(getattr(proto, "writable", None), asyncio.Event)
            and all(hasattr(proto, name) for name in ("disconnected", "close_sent", "handshake_complete"))):
        return proto
    return None


def _server_protocol(ws: WebSocket):
    """The server's protocol object behind the ASGI `send` callable, if reachable: the
    bound method's owner, possibly wrapped in closures by middleware."""
    pending, seen = [getattr(ws, "_send", None)], 0
    while pending and seen < 8:
        fn = pending.pop()
        seen += 1
        owner = getattr(fn, "__self__", None)
        transport = getattr(owner, "transport", None)
        if callable(getattr(transport, "abort", None)) and callable(getattr(transport, "get_extra_info", None)):
            return owner  # its transport: asyncio's or uvloop's (not an asyncio.BaseTransport subclass)
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if callable(value):
                pending.append(value)
    return None
