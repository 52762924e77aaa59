"""The waiting lines of one office as ordered sets: pure, no I/O.

One sorted set per (service, lane), in the order call-next takes that line's head:
appointments by their time (then id), walk-ins by arrival (then id) — the same keys as
the queue index and the SQL of `service._position_and_open_desks`. A ticket's place,
the counts per service and the length of a line then cost O(log n) however long the
line is (`sortedcontainers.SortedList` keeps its order statistics).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sortedcontainers import SortedList

from turnero.queue import policy

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(at: datetime) -> int:
    """A UTC datetime as whole microseconds: exact, so equal times compare equal."""
    return (at - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class Entry:
    ticket_id: int
    service_id: int
    lane: str
    key: tuple[int, int]  # (microseconds of arrival, or of due time for appointments; id)


def entry(ticket_id: int, service_id: int, lane: str, arrived_at: datetime, due_at: datetime | None) -> Entry:
    at = due_at if lane == policy.APPOINTMENT and due_at is not None else arrived_at
    return Entry(ticket_id, service_id, lane, (micros(at), ticket_id))


class OfficeLines:
    """Waiting tickets of one office, per (service id, lane), in line order."""

    def __init__(self) -> None:
        self._lines: dict[tuple[int, str], SortedList] = {}
        self._entries: dict[int, Entry] = {}
        self.version = 0  # bumped by every change that moves somebody

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, ticket_id: int) -> bool:
        return ticket_id in self._entries

    def get(self, ticket_id: int) -> Entry | None:
        return self._entries.get(ticket_id)

    def put(self, e: Entry) -> None:
        """Add a waiting ticket (or move it, if its line or key changed)."""
        old = self._entries.get(e.ticket_id)
        if old == e:
            return
        if old is not None:
            self._line(old).remove(old.key)
        self._entries[e.ticket_id] = e
        self._line(e).add(e.key)
        self.version += 1

    def discard(self, ticket_id: int) -> None:
        """The ticket no longer waits (called, cancelled, transferred…)."""
        old = self._entries.pop(ticket_id, None)
        if old is not None:
            self._line(old).remove(old.key)
            self.version += 1

    def _line(self, e: Entry) -> SortedList:
        line = self._lines.get((e.service_id, e.lane))
        if line is None:
            line = self._lines[(e.service_id, e.lane)] = SortedList()
        return line

    def length(self, service_id: int, lane: str) -> int:
        line = self._lines.get((service_id, lane))
        return len(line) if line is not None else 0

    def waiting(self, service_id: int) -> int:
        return sum(self.length(service_id, lane) for lane in policy.LANES)

    def line_sizes(self) -> dict[tuple[int, str], int]:
        """Waiting tickets per (service id, lane), lines with nobody left out."""
        return {key: len(line) for key, line in self._lines.items() if line}

    def counts(self) -> dict[int, int]:
        """Waiting tickets per service id (services with nobody waiting left out)."""
        out: dict[int, int] = {}
        for (service_id, _lane), line in self._lines.items():
            if line:
                out[service_id] = out.get(service_id, 0) + len(line)
        return out

    def ahead(self, e: Entry) -> int:
        """Tickets of its own line before it."""
        line = self._lines.get((e.service_id, e.lane))
        return line.bisect_left(e.key) if line is not None else 0

    def due(self, service_id: int, now: datetime) -> int:
        """Appointments of the service whose time has come."""
        line = self._lines.get((service_id, policy.APPOINTMENT))
        return line.bisect_right((micros(now), 1 << 62)) if line is not None else 0

    def position(self, ticket_id: int, now: datetime, ratio: int) -> int | None:
        """1-based place in its service's queue (policy.queue_position), None when not waiting."""
        e = self._entries.get(ticket_id)
        if e is None:
            return None
        if e.lane == policy.APPOINTMENT:
            # Both counts are prefixes of the same ordered line: those before it that are due.
            ahead = min(self.ahead(e), self.due(e.service_id, now))
            return policy.queue_position(policy.APPOINTMENT, appointments_ahead=ahead, same_lane_ahead=0,
                                         other_lane_waiting=0, other_lane_older=0, ratio=ratio)
        other = policy.REGULAR if e.lane == policy.PREFERENTIAL else policy.PREFERENTIAL
        other_line = self._lines.get((e.service_id, other))
        return policy.queue_position(
            e.lane, appointments_ahead=self.due(e.service_id, now), same_lane_ahead=self.ahead(e),
            other_lane_waiting=self.length(e.service_id, other), ratio=ratio,
            other_lane_older=other_line.bisect_left(e.key) if other_line is not None else 0,
        )

    def first(self, service_id: int, lane: str, n: int) -> Iterator[tuple[int, int]]:
        """The keys of the first `n` tickets of a line, in order."""
        line = self._lines.get((service_id, lane))
        if line is not None:
            yield from line.islice(0, n)
