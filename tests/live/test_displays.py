"""The live board channel `/ws/offices/{office}/board` with real WebSocket clients
(`websockets`) against a real server process: snapshot first, then every event in seq
order; resnapshots (on request, and for a client that fell behind); keep-alive; a
stuck client neither delays the others nor stays connected. Plus the display page."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from tests.conftest import BACKENDS, FreshDatabase, LiveServer

OFFICE = "LPZ-PRINCIPAL"
PHONE = "+59171234567"
SEND_TIMEOUT = 2.0
CLIENT_BUFFER = 32


def start_server(backend: str, directory, **env: str) -> tuple[LiveServer, FreshDatabase]:
    database = FreshDatabase(backend, directory)
    live = LiveServer(database.url, directory / "server.log", extra_env={
        "TURNERO_WS_PING_SECONDS": "1",
        "TURNERO_WS_SEND_TIMEOUT_SECONDS": str(SEND_TIMEOUT),
        "TURNERO_WS_CLIENT_BUFFER": str(CLIENT_BUFFER),
        "TURNERO_ACCESS_LOG": "0", "TURNERO_SHUTDOWN_TIMEOUT": "2", **env,
    })
    return live, database


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory) -> Iterator[LiveServer]:
    live, database = start_server(request.param, tmp_path_factory.mktemp(f"displays-{request.param}"))
    try:
        yield live
    finally:
        live.stop()
        database.drop()


# One message per change of the line instead of coalesced counts: the flood of events
# the slow-client tests need (the hub's bounds must hold whatever the event rate; SQLite:
# this is about the hub, not the database).
UNCOALESCED = {"TURNERO_BOARD_COUNTS_DELAY_MS": "0"}


@pytest.fixture(scope="module")
def flood_server(tmp_path_factory) -> Iterator[LiveServer]:
    live, database = start_server("sqlite", tmp_path_factory.mktemp("displays-flood"), **UNCOALESCED)
    try:
        yield live
    finally:
        live.stop()


# ---------------------------------------------------------------- helpers


def ws_url(server: LiveServer, office: str = OFFICE) -> str:
    return server.url.replace("http://", "ws://") + f"/ws/offices/{office}/board"


class Board:
    """A display client: the snapshot, then events; pings are counted, not returned."""

    def __init__(self, ws):
        self.ws = ws
        self.snapshot: dict | None = None
        self.seq: int | None = None
        self.pings: list[dict] = []
        self.raw: list[str] = []

    @classmethod
    async def open(cls, server: LiveServer, **kw) -> "Board":
        board = cls(await connect(ws_url(server), **kw))
        first = await board.message()
        assert first["type"] == "snapshot", first
        board.take_snapshot(first)
        return board

    def take_snapshot(self, snapshot: dict) -> None:
        self.snapshot, self.seq = snapshot, snapshot["seq"]

    async def message(self, timeout: float = 5.0) -> dict:
        text = await asyncio.wait_for(self.ws.recv(), timeout)
        self.raw.append(text)
        return json.loads(text)

    async def event(self, timeout: float = 5.0) -> dict:
        """The next event; asserts it is exactly the one after the last seq held."""
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.message(max(0.01, deadline - time.monotonic()))
            if msg["type"] == "ping":
                self.pings.append(msg)
                continue
            assert msg["type"] != "snapshot", "unexpected snapshot"
            assert msg["seq"] == self.seq + 1, (msg, self.seq)
            self.seq = msg["seq"]
            return msg

    async def until(self, predicate, timeout: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            event = await self.event(max(0.01, deadline - time.monotonic()))
            if predicate(event):
                return event

    async def expect(self, done, allowed=lambda event: False, timeout: float = 10.0) -> dict:
        """The first event for which `done(event)` holds; every event before it (each
        still exactly the next seq) must satisfy `allowed`. With coalesced counts a
        `queue.changed` announced before an action may reach the screen after it, showing
        the line as it was: a test names which such events it tolerates and waits for
        the state it expects, instead of counting messages in a window of time."""
        deadline = time.monotonic() + timeout
        while True:
            event = await self.event(max(0.01, deadline - time.monotonic()))
            if done(event):
                return event
            assert allowed(event), ("unexpected event", event)

    async def next_ping(self, timeout: float = 3.0) -> dict:
        """The next keep-alive message; events before it are taken in order."""
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.message(max(0.01, deadline - time.monotonic()))
            if msg["type"] == "ping":
                return msg
            assert msg["seq"] == self.seq + 1, (msg, self.seq)
            self.seq = msg["seq"]

    async def settle(self, quiet: float = 1.0) -> list[dict]:
        """Every event until none has come for `quiet` seconds (counts are published a
        moment after their changes, TURNERO_BOARD_COUNTS_DELAY_MS)."""
        events = []
        while True:
            try:
                events.append(await self.event(quiet))
            except TimeoutError:
                return events

    async def close(self) -> None:
        await self.ws.close()


class Api:
    def __init__(self, server: LiveServer):
        self.http = httpx.AsyncClient(base_url=server.url, timeout=20.0)
        self.tokens: dict[str, dict] = {}
        self._login = asyncio.Lock()  # one sign-in per user, not one per concurrent request

    async def auth(self, username: str) -> dict:
        async with self._login:
            return await self._auth(username)

    async def _auth(self, username: str) -> dict:
        if username not in self.tokens:
            r = await self.http.post("/api/auth/token", json={"username": username, "password": "demo"})
            assert r.status_code == 200, r.text
            self.tokens[username] = {"Authorization": f"Bearer {r.json()['token']}"}
        return self.tokens[username]

    async def issue(self, service: str = "CI-RENOV", **fields) -> dict:
        r = await self.http.post(f"/api/offices/{OFFICE}/tickets", json={"service": service, **fields},
                                 headers=await self.auth("kiosko"))
        assert r.status_code == 201, r.text
        return r.json()

    async def desk(self, desk: str, action: str) -> httpx.Response:
        return await self.http.post(f"/api/offices/{OFFICE}/desks/{desk}/{action}", headers=await self.auth("admin"))

    async def open_desk(self, desk: str) -> None:
        r = await self.desk(desk, "open")
        assert r.status_code == 200, r.text

    async def call_next(self, desk: str) -> dict:
        r = await self.desk(desk, "call-next")
        assert r.status_code == 200, r.text
        return r.json()

    async def ticket(self, ticket_id: str, action: str) -> dict:
        r = await self.http.post(f"/api/tickets/{ticket_id}/{action}", headers=await self.auth("admin"))
        assert r.status_code == 200, r.text
        return r.json()

    async def waiting(self) -> dict[str, int]:
        return (await self.http.get(f"/api/offices/{OFFICE}/board")).json()["waiting"]

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def api(server) -> Api:
    client = Api(server)
    yield client
    await client.close()


async def drain_desk(api: Api, desk: str, current: dict | None = None) -> None:
    """Finish the desk's `current` ticket, then call and finish until nothing it
    serves is waiting (the tests of a module share one server)."""
    if current is not None:
        await api.ticket(current["id"], "finish")
    while True:
        r = await api.desk(desk, "call-next")
        if r.status_code == 204:
            return
        assert r.status_code == 200, r.text
        await api.ticket(r.json()["id"], "finish")


# ---------------------------------------------------------------- snapshot and order


async def test_snapshot_first_then_every_event_in_seq_order(server, api):
    await api.open_desk("11")
    await drain_desk(api, "11")
    board = await Board.open(server)
    snap = board.snapshot
    assert isinstance(snap["seq"], int) and snap["office"] == OFFICE
    assert {"calls", "waiting", "desks", "services"} <= set(snap)
    assert snap["services"]["CI-RENOV"] and "CI-RENOV" in snap["waiting"]
    before = snap["waiting"]["CI-RENOV"]

    def counts(event: dict, *waiting: int) -> bool:
        """A queue.changed whose (absolute) count of CI-RENOV is one of `waiting`."""
        return event["type"] == "queue.changed" and event["waiting"]["CI-RENOV"] in waiting

    def serving(event: dict) -> str | None:
        return next(d for d in event["desks"] if d["name"] == "11")["serving"]

    # Each action, then its events. Counts are read when an event is forwarded and
    # coalesced (TURNERO_BOARD_COUNTS_DELAY_MS): one scheduled by an earlier change (this
    # test's drain, or the previous action) may still go out before the action commits
    # and show the line as it was — tolerated, but nothing else is, and the expected
    # count must come.
    tickets = []
    for n in range(1, 4):
        tickets.append(await api.issue(phone=PHONE))
        await board.expect(lambda e: counts(e, before + n), allowed=lambda e: counts(e, before + n - 1))

    called = [await api.call_next("11")]
    event = await board.expect(lambda e: e["type"] == "ticket.called",
                               allowed=lambda e: counts(e, before + 3, before + 2))
    assert (event["ticket"], event["desk"], event["service"]) == (tickets[0]["number"], "11", "CI-RENOV")
    assert event["called_at"] == called[0]["called_at"] and event["service_name"]
    after_call = await board.event()  # the call took the ticket out of the line
    assert after_call["type"] == "queue.changed" and after_call["waiting"]["CI-RENOV"] == before + 2
    assert serving(after_call) == tickets[0]["number"]

    await api.ticket(called[0]["id"], "finish")
    finished = await board.expect(lambda e: counts(e, before + 2) and serving(e) is None,
                                  allowed=lambda e: counts(e, before + 2) and serving(e) == tickets[0]["number"])
    assert finished["type"] == "queue.changed"
    called.append(await api.call_next("11"))
    second = await board.expect(lambda e: e["type"] == "ticket.called",
                                allowed=lambda e: counts(e, before + 2) and serving(e) is None)
    assert (second["type"], second["ticket"]) == ("ticket.called", tickets[1]["number"])
    assert (await board.event())["waiting"]["CI-RENOV"] == before + 1

    await api.ticket(called[1]["id"], "recall")
    recalled = await board.expect(lambda e: e["type"] == "ticket.recalled", allowed=lambda e: counts(e, before + 1))
    assert (recalled["type"], recalled["ticket"], recalled["recall_count"]) == ("ticket.recalled", tickets[1]["number"], 1)

    # Public channel: ticket numbers only, never the phone (nor any other personal data).
    assert not any("71234567" in text for text in board.raw)
    assert not any(t["id"] in text for t in tickets for text in board.raw)
    await board.close()
    await drain_desk(api, "11", called[1])


async def test_every_client_sees_the_same_sequence(server, api):
    await api.open_desk("12")
    probe = await Board.open(server)
    await probe.settle()  # the desk's own (delayed) counts are out before the boards join
    await probe.close()
    boards = [await Board.open(server) for _ in range(5)]
    starts = [b.seq for b in boards]
    await asyncio.gather(*(api.issue() for _ in range(10)))
    for _ in range(4):
        await api.ticket((await api.call_next("12"))["id"], "finish")
    seen = []
    for b in boards:
        events = await b.settle()
        seen.append([(e["seq"], e["type"], e.get("ticket"), e.get("waiting")) for e in events])
        await b.close()
    for start, events in zip(starts, seen):  # from its snapshot on: no hole, nothing twice
        assert [s for s, *_ in events] == list(range(start + 1, events[-1][0] + 1))
    # The same sequence for all, from the latest snapshot on (a late count may fall
    # between two clients' snapshots on a busy machine).
    common = [[e for e in events if e[0] > max(starts)] for events in seen]
    assert all(c == common[0] for c in common)
    assert [kind for _, kind, *_ in common[0] if kind != "queue.changed"] == ["ticket.called"] * 4
    # The line's changes come coalesced (test_bus); the last message tells how it ended.
    changes = [waiting for _, kind, _, waiting in common[0] if kind == "queue.changed"]
    assert changes and changes[-1] == await api.waiting()
    await drain_desk(api, "12")


async def test_a_client_joining_mid_stream_gets_a_consistent_start(server, api):
    """Join while events are being published: the snapshot seq and the events after it
    leave no hole and repeat nothing, whatever the timing."""
    await api.open_desk("13")
    issuing = asyncio.gather(*(api.issue() for _ in range(25)))
    boards = []
    for _ in range(6):
        boards.append(await Board.open(server))
        await asyncio.sleep(0.02)
    await issuing
    final = (await Board.open(server)).seq
    for b in boards:
        while b.seq < final:
            await b.event()  # asserts seq continuity
        await b.close()
    await drain_desk(api, "13")


# ---------------------------------------------------------------- resnapshots


async def test_resync_request_gets_a_fresh_snapshot_then_continues(server, api):
    await api.open_desk("14")
    board = await Board.open(server)
    await api.issue()
    await board.event()
    await board.ws.send(json.dumps({"type": "resync"}))
    msg = await board.message()
    while msg["type"] == "ping":
        msg = await board.message()
    assert msg["type"] == "snapshot" and msg["seq"] == board.seq
    board.take_snapshot(msg)
    ticket = await api.issue()
    event = await board.event()
    assert event["type"] == "queue.changed"
    called = await api.call_next("14")
    assert called["number"] in {ticket["number"]} or called["status"] == "called"
    assert (await board.event())["type"] == "ticket.called"
    await board.close()
    await drain_desk(api, "14", called)


def small_receive_buffer_socket(server: LiveServer) -> socket.socket:
    """A client socket with a tiny receive window, so a client that stops reading
    pushes back on the server after a few KB instead of megabytes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect(("127.0.0.1", server.port))
    sock.setblocking(False)
    return sock


async def pile_up(api: "Api", count: int) -> None:
    """Issue `count` tickets of a trámite no test desk drains: one event each."""
    for start in range(0, count, 25):
        await asyncio.gather(*(api.issue(service="SANEAMIENTO") for _ in range(min(25, count - start))))


# Enough events to fill a non-reading client's socket (the hub bounds the kernel's send
# buffer per board socket) and then its per-client buffer.
PILE = 300


@pytest.fixture(scope="module")
def patient_server(tmp_path_factory) -> Iterator[LiveServer]:
    """A server that waits long on a slow client before dropping it (SQLite: this is
    about the hub, not the database)."""
    directory = tmp_path_factory.mktemp("displays-patient")
    database = FreshDatabase("sqlite", directory)
    live = LiveServer(database.url, directory / "server.log", extra_env={
        "TURNERO_WS_SEND_TIMEOUT_SECONDS": "60", "TURNERO_WS_CLIENT_BUFFER": str(CLIENT_BUFFER),
        "TURNERO_ACCESS_LOG": "0", "TURNERO_SHUTDOWN_TIMEOUT": "2", **UNCOALESCED,
    })
    try:
        yield live
    finally:
        live.stop()


async def test_a_client_that_falls_behind_gets_snapshots_and_never_a_hole(patient_server):
    """The client stops reading: its socket fills, events keep coming, its per-client
    buffer overflows and the backlog is replaced by a fresh snapshot. What it then reads
    is still a consistent history: contiguous seq, or a snapshot restarting it, up to
    the latest event — never a hole. A client that keeps reading meanwhile follows every
    event (this server is this test's alone: the pile is all that happens on it)."""
    server = patient_server
    api = Api(server)
    reference = await Board.open(server)
    slow = await connect(ws_url(server), sock=small_receive_buffer_socket(server), max_queue=1,
                         compression=None)
    follower = None
    try:
        first = json.loads(await slow.recv())
        assert first["type"] == "snapshot"
        start = reference.seq
        assert first["seq"] == start

        async def follow() -> None:  # the reference reads while the pile is issued
            while True:
                await reference.event(timeout=60)

        follower = asyncio.create_task(follow())
        await pile_up(api, PILE)
        final = start + PILE
        deadline = time.monotonic() + 10
        while reference.seq < final and time.monotonic() < deadline and not follower.done():
            await asyncio.sleep(0.02)
        assert reference.seq == final, (reference.seq, final, follower.done() and follower.exception())

        seq, snapshots = first["seq"], 0
        while seq < final:
            msg = json.loads(await asyncio.wait_for(slow.recv(), 5))
            if msg["type"] == "ping":
                continue
            if msg["type"] == "snapshot":
                snapshots += 1
                assert msg["seq"] >= seq
                seq = msg["seq"]
                continue
            assert msg["seq"] == seq + 1, (msg["seq"], seq)
            seq = msg["seq"]
        assert seq == final and snapshots >= 1
    finally:
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(BaseException):
                await follower
        slow.transport.abort()
        await reference.close()
        await api.close()


def test_an_overflowing_client_buffer_is_replaced_by_a_snapshot():
    """The per-client buffer's rule, alone: past the limit the backlog is dropped and
    a snapshot is due; pings never displace events."""
    from turnero.displays.hub import BoardClient

    client = BoardClient(ws=None, limit=3)
    client.need_snapshot = False
    for seq in (1, 2, 3):
        client.push(seq, f"e{seq}")
    assert [s for s, _ in client.buffer] == [1, 2, 3] and not client.need_snapshot
    client.push(4, "e4")
    assert client.need_snapshot and not client.buffer and client.overflows == 1
    client.push(None, "ping")  # a snapshot is due: the ping is not queued
    client.push(5, "e5")       # events after the overflow are kept (the snapshot may predate them)
    assert [s for s, _ in client.buffer] == [5]


# ---------------------------------------------------------------- stuck clients, keep-alive


async def test_a_stuck_client_does_not_delay_the_others_and_is_dropped(flood_server):
    server = flood_server
    api = Api(server)
    await api.open_desk("16")
    await drain_desk(api, "16")
    stuck = await connect(ws_url(server), sock=small_receive_buffer_socket(server), max_queue=1,
                         compression=None)
    board = await Board.open(server)

    async def pile() -> None:  # the stuck client's socket fills up
        await pile_up(api, PILE)
        await asyncio.gather(*(api.issue() for _ in range(30)))

    # The good board reads as the pile comes (every event, in order), then the calls.
    piling = asyncio.create_task(pile())
    await board.until(lambda e: e["type"] == "queue.changed" and e["waiting"]["CI-RENOV"] >= 30, timeout=20)
    await piling
    delays = []
    for _ in range(20):
        called = await api.call_next("16")
        answered = time.monotonic()
        event = await board.until(lambda e: e["type"] == "ticket.called")
        delays.append(time.monotonic() - answered)
        assert event["ticket"] == called["number"]
        await api.ticket(called["id"], "finish")
    assert max(delays) < 1.0, delays
    # The server cut the stuck client off (its sends stayed blocked past the timeout):
    # what it writes now fails on the reset connection.
    with pytest.raises(websockets.ConnectionClosed):
        deadline = time.monotonic() + SEND_TIMEOUT + 15
        while time.monotonic() < deadline:
            await stuck.send('{"type": "ping"}')
            await asyncio.sleep(0.2)
    # The others were never held up: the board still follows, at once.
    called = await api.call_next("16")
    answered = time.monotonic()
    await board.until(lambda e: e["type"] == "ticket.called" and e["ticket"] == called["number"])
    assert time.monotonic() - answered < 1.0
    await api.ticket(called["id"], "finish")
    await board.close()
    await api.close()


async def test_keep_alive_pings_and_pongs(server):
    board = await Board.open(server)
    ping = await board.next_ping()
    assert ping["type"] == "ping" and ping["last_seq"] == board.seq and ping["time"].endswith("+00:00")
    await board.ws.send(json.dumps({"type": "ping"}))
    msg = await board.message()
    while msg["type"] != "pong":  # keep-alives and counts may come first
        msg = await board.message()
    assert msg == {"type": "pong"}
    # The protocol-level ping is answered too (what a load balancer or browser relies on).
    latency = await asyncio.wait_for(await board.ws.ping(), 3)
    assert latency is None or latency < 3
    # Garbage is ignored; the connection stays up.
    await board.ws.send("not json")
    await board.ws.send(b"\x00\x01")
    assert (await board.next_ping())["type"] == "ping"
    await board.close()


async def test_unknown_office_is_refused_with_a_spanish_error(server):
    async with connect(ws_url(server, "NO-EXISTE")) as ws:
        msg = json.loads(await ws.recv())
        assert msg["type"] == "error" and msg["error"]["code"] == "office_not_found"
        assert "oficina" in msg["error"]["message"]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd.code == 4404


# ---------------------------------------------------------------- the display page


async def test_display_page_is_public_and_rendered_with_the_board(server, api):
    await api.open_desk("17")
    ticket = await api.issue()
    called = await api.call_next("17")
    assert called["number"] == ticket["number"] or called["status"] == "called"
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get(f"/display/{OFFICE}")  # no login: a TV must come back on its own
        assert page.status_code == 200
        html = page.text
        assert '<html lang="es-BO">' in html and "SEGIP La Paz" in html
        assert called["number"] in html and "Últimos llamados" in html and "En espera" in html
        assert "/static/js/display.js" in html and "/static/js/live.js" in html
        assert page.headers["cache-control"] == "no-store"
        missing = await http.get("/display/NO-EXISTE")
        assert missing.status_code == 404 and "oficina" in missing.text
        for asset in ("/static/js/display.js", "/static/js/live.js", "/static/css/display.css"):
            assert (await http.get(asset)).status_code == 200
    await drain_desk(api, "17", called)
