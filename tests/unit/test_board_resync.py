"""A board page asks for a snapshot again at every ping while it has none (live.js), so
the server must answer at most one such request per RESYNC_COOLDOWN_SECONDS: the
rest wait for the cooldown (the channel's tick serves them), none is lost."""

from __future__ import annotations

from turnero.displays.hub import RESYNC_COOLDOWN_SECONDS, BoardClient


def test_resync_requests_are_served_once_per_cooldown_and_none_is_lost():
    client = BoardClient(ws=None, limit=10)  # no feed: nothing is written, only the state moves
    client.need_snapshot = False
    client.request_resync(100.0)
    assert client.need_snapshot and not client.resync_due  # served now

    client.need_snapshot = False  # the snapshot went out
    client.request_resync(100.0 + RESYNC_COOLDOWN_SECONDS / 2)  # a second ask, too soon
    assert not client.need_snapshot and client.resync_due  # kept for later, not served

    client.request_resync(100.0 + RESYNC_COOLDOWN_SECONDS)  # the tick, once the cooldown is over
    assert client.need_snapshot and not client.resync_due


def test_a_resync_asked_while_a_snapshot_is_pending_adds_nothing():
    client = BoardClient(ws=None, limit=10)
    assert client.need_snapshot  # a new socket: its first snapshot is on the way
    client.request_resync(50.0)
    assert client.need_snapshot and not client.resync_due and client.buffer is None
