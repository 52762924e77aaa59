"""A citizen's page following its ticket (`/ws/offices/{office}/board?ticket=<id>`), with
real WebSocket clients against a real server process: the server pushes the ticket's
own place, wait and status as they change (`ticket.update`), equal to what
GET /api/tickets/{id} answers, so the page never re-reads it after a queue change."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect

from tests.conftest import BACKENDS
from tests.live.test_displays import OFFICE, Api, start_server, ws_url


FOLLOW_SECONDS = 0.5  # place and wait at most this often per page (status changes at once)


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory) -> Iterator:
    live, database = start_server(request.param, tmp_path_factory.mktemp(f"follow-{request.param}"),
                                  TURNERO_FOLLOW_INTERVAL_SECONDS=str(FOLLOW_SECONDS))
    try:
        yield live
    finally:
        live.stop()
        database.drop()


@pytest.fixture
async def api(server) -> Api:
    client = Api(server)
    yield client
    await client.close()


class Follower:
    def __init__(self, ws):
        self.ws = ws
        self.updates: list[dict] = []

    @classmethod
    async def open(cls, server, ticket: str) -> "Follower":
        return cls(await connect(ws_url(server) + f"?ticket={ticket}"))

    async def update(self, predicate=lambda t: True, timeout: float = 10.0) -> dict:
        """The next ticket.update whose ticket satisfies `predicate` (board events skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), max(0.01, deadline - time.monotonic())))
            if msg["type"] == "ticket.update":
                self.updates.append(msg["ticket"])
                if predicate(msg["ticket"]):
                    return msg["ticket"]

    async def quiet(self, seconds: float = 1.0) -> list[dict]:
        """ticket.update messages received within `seconds`."""
        got = []
        try:
            while True:
                msg = json.loads(await asyncio.wait_for(self.ws.recv(), seconds))
                if msg["type"] == "ticket.update":
                    got.append(msg["ticket"])
        except TimeoutError:
            return got


async def _drain(api: Api) -> None:
    """Call and finish everyone still waiting at the office (tests share the server)."""
    await api.open_desk("3")
    await api.open_desk("1")
    for desk in ("3", "1"):
        while True:
            r = await api.desk(desk, "call-next")
            if r.status_code == 204:
                break
            assert r.status_code == 200, r.text
            await api.ticket(r.json()["id"], "finish")
    for desk in ("3", "1"):
        await api.desk(desk, "close")


async def test_a_followed_ticket_gets_its_place_and_wait_pushed_as_the_line_moves(server, api):
    await _drain(api)
    tickets = [await api.issue("CI-RENOV") for _ in range(4)]
    mine = tickets[-1]
    follower = await Follower.open(server, mine["id"])
    try:
        first = await follower.update()
        read = (await api.http.get(f"/api/tickets/{mine['id']}")).json()
        assert first["id"] == mine["id"] and first["status"] == "waiting"
        assert (first["position"], first["estimated_wait_minutes"]) == (read["position"], read["estimated_wait_minutes"])
        assert first["position"] == 4
        await api.open_desk("3")  # CI-RENOV first
        for expected in (3, 2, 1):
            called = await api.call_next("3")
            await follower.update(lambda t, p=expected: t["position"] == p)
            await api.ticket(called["id"], "finish")
        # One figure: what the page is pushed is what the API answers (a desk that
        # finished changes the wait a moment later, when the estimate is refreshed).
        read = (await api.http.get(f"/api/tickets/{mine['id']}")).json()
        pushed = follower.updates[-1]
        if pushed["estimated_wait_minutes"] != read["estimated_wait_minutes"]:
            pushed = await follower.update(lambda t: t["estimated_wait_minutes"] == read["estimated_wait_minutes"])
        assert pushed["position"] == read["position"] == 1
        assert pushed["estimated_wait_minutes"] is not None and pushed["estimated_wait_minutes"] >= 0
        called = await api.call_next("3")
        assert called["id"] == mine["id"]
        at_desk = await follower.update(lambda t: t["status"] == "called")
        assert at_desk["desk"] == "3" and at_desk["position"] is None
        await api.ticket(mine["id"], "finish")
        assert (await follower.update(lambda t: t["status"] == "done"))["desk"] == "3"
    finally:
        await follower.ws.close()
        await api.desk("3", "close")


async def test_a_ticket_of_another_office_or_unknown_follows_nothing(server, api):
    other = (await api.http.post("/api/offices/LPZ-ZONA-SUR/tickets", json={"service": "CI-RENOV"},
                                 headers=await api.auth("admin"))).json()
    for ticket in ("no-existe", other["id"], "x" * 200):
        follower = await Follower.open(server, ticket)
        try:
            snapshot = json.loads(await asyncio.wait_for(follower.ws.recv(), 5))
            assert snapshot["type"] == "snapshot"  # still a plain board client
            await api.issue("CI-RENOV")
            assert await follower.quiet(1.0) == []
        finally:
            await follower.ws.close()


async def test_many_followers_each_get_their_own_place(server, api):
    await _drain(api)
    tickets = [await api.issue("CI-RENOV", priority="senior" if n % 3 == 0 else "regular") for n in range(9)]
    followers = [await Follower.open(server, t["id"]) for t in tickets]
    try:
        firsts = await asyncio.gather(*(f.update() for f in followers))
        reads = [(await api.http.get(f"/api/tickets/{t['id']}")).json() for t in tickets]
        assert [f["position"] for f in firsts] == [r["position"] for r in reads]
        assert sorted(f["position"] for f in firsts) == list(range(1, 10))  # no two share a place
        await api.open_desk("3")
        called = await api.call_next("3")
        reads = {t["id"]: (await api.http.get(f"/api/tickets/{t['id']}")).json() for t in tickets}
        # Each page is pushed what the API now answers for its ticket (the caller's: called).
        for follower, ticket in zip(followers, tickets):
            want = reads[ticket["id"]]
            got = await follower.update(lambda t, w=want: (t["status"], t["position"]) == (w["status"], w["position"]))
            assert got["id"] == ticket["id"]
        assert sorted(r["position"] for r in reads.values() if r["position"]) == list(range(1, 9))
        await api.ticket(called["id"], "finish")
    finally:
        for f in followers:
            await f.ws.close()
        await _drain(api)


@pytest.fixture(scope="module")
def slow_follow_server(tmp_path_factory) -> Iterator:
    live, database = start_server("sqlite", tmp_path_factory.mktemp("follow-slow"),
                                  TURNERO_FOLLOW_INTERVAL_SECONDS="60")
    try:
        yield live
    finally:
        live.stop()
        database.drop()


async def test_place_and_wait_are_pushed_at_most_once_per_interval_but_a_call_at_once(slow_follow_server):
    api = Api(slow_follow_server)
    try:
        await _drain(api)
        tickets = [await api.issue("CI-RENOV") for _ in range(5)]
        follower = await Follower.open(slow_follow_server, tickets[-1]["id"])
        try:
            assert (await follower.update())["position"] == 5
            await api.open_desk("3")
            for _ in range(3):  # the line moves three times within the interval: nothing pushed
                called = await api.call_next("3")
                await api.ticket(called["id"], "finish")
            assert await follower.quiet(1.5) == []
            await api.call_next("3")  # the fourth ahead is called
            assert await follower.quiet(1.0) == []
            await api.ticket(tickets[3]["id"], "finish")
            called = await api.call_next("3")
            assert called["id"] == tickets[-1]["id"]
            # Its own call is no change of place: it is pushed at once.
            assert (await follower.update(lambda t: t["status"] == "called", timeout=5))["desk"] == "3"
            await api.ticket(called["id"], "finish")
        finally:
            await follower.ws.close()
    finally:
        await api.desk("3", "close")
        await api.close()
