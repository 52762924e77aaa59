"""The waiting lines in memory (queue/lines.py) against a full recount: on random queues
with random arrivals, leavers and moves, every ticket's place equals what counting the
whole line under the policy's rules gives (the SQL the engine used before)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from turnero.queue import lines, policy

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def recount(tickets: dict[int, tuple[int, str, datetime, datetime | None]], ticket_id: int, now: datetime,
            ratio: int) -> int:
    """policy.queue_position from counts over every waiting ticket (no index)."""
    service_id, lane, arrived, due = tickets[ticket_id]
    same = [(i, *t) for i, t in tickets.items() if t[0] == service_id]
    due_now = [(d, i) for i, s, ln, a, d in same if ln == policy.APPOINTMENT and d <= now]
    if lane == policy.APPOINTMENT:
        ahead = sum(1 for key in due_now if key < (due, ticket_id))
        return policy.queue_position(lane, appointments_ahead=ahead, same_lane_ahead=0, other_lane_waiting=0,
                                     other_lane_older=0, ratio=ratio)
    other = policy.REGULAR if lane == policy.PREFERENTIAL else policy.PREFERENTIAL
    return policy.queue_position(
        lane, appointments_ahead=len(due_now),
        same_lane_ahead=sum(1 for i, s, ln, a, d in same if ln == lane and (a, i) < (arrived, ticket_id)),
        other_lane_waiting=sum(1 for i, s, ln, a, d in same if ln == other), ratio=ratio,
        other_lane_older=sum(1 for i, s, ln, a, d in same if ln == other and (a, i) < (arrived, ticket_id)),
    )


minutes = st.integers(min_value=-120, max_value=120)
operation = st.one_of(
    st.tuples(st.just("add"), st.integers(1, 3), st.sampled_from(policy.LANES), minutes, minutes),
    st.tuples(st.just("remove"), st.integers(0, 10_000)),
    st.tuples(st.just("move"), st.integers(0, 10_000), st.integers(1, 3), st.sampled_from(policy.LANES)),
)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(operation, max_size=80), ratio=st.integers(1, 4), now_offset=minutes)
def test_every_place_equals_a_full_recount(ops, ratio, now_offset):
    office = lines.OfficeLines()
    tickets: dict[int, tuple[int, str, datetime, datetime | None]] = {}
    next_id = 1
    for op in ops:
        if op[0] == "add":
            _, service_id, lane, arrived_min, due_min = op
            # Equal arrival times on purpose (the id breaks the tie, as in the index).
            arrived = T0 + timedelta(minutes=arrived_min // 10 * 10)
            due = T0 + timedelta(minutes=due_min) if lane == policy.APPOINTMENT else None
            tickets[next_id] = (service_id, lane, arrived, due)
            office.put(lines.entry(next_id, service_id, lane, arrived, due))
            next_id += 1
        elif tickets:
            ticket_id = sorted(tickets)[op[1] % len(tickets)]
            if op[0] == "remove":
                del tickets[ticket_id]
                office.discard(ticket_id)
            else:  # a transfer keeps the arrival time in another line
                _, _, service_id, lane = op
                _, _, arrived, due = tickets[ticket_id]
                due = due or (arrived if lane == policy.APPOINTMENT else None)
                tickets[ticket_id] = (service_id, lane, arrived, due if lane == policy.APPOINTMENT else None)
                office.put(lines.entry(ticket_id, service_id, lane, arrived, tickets[ticket_id][3]))
    now = T0 + timedelta(minutes=now_offset)
    assert len(office) == len(tickets)
    for ticket_id in tickets:
        assert office.position(ticket_id, now, ratio) == recount(tickets, ticket_id, now, ratio), ticket_id
    for service_id in (1, 2, 3):
        assert office.waiting(service_id) == sum(1 for t in tickets.values() if t[0] == service_id)
    assert office.position(next_id + 1, now, ratio) is None


def test_a_change_that_moves_nobody_keeps_the_version():
    office = lines.OfficeLines()
    e = lines.entry(1, 1, policy.REGULAR, T0, None)
    office.put(e)
    version = office.version
    office.put(e)
    office.discard(99)
    assert office.version == version
    office.discard(1)
    assert office.version == version + 1 and len(office) == 0
