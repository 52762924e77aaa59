"""The call-next policy and queue position: pure functions, property-tested."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from turnero.queue.policy import (
    APPOINTMENT,
    PREFERENTIAL,
    REGULAR,
    Candidate,
    PolicyConfig,
    choose_next,
    estimate_wait_minutes,
    queue_position,
)

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)
NO_LIMIT = PolicyConfig(preferential_ratio=2, regular_max_wait=timedelta(days=1))


def ticket(tid: int, lane: str, minutes_ago: float, service: int = 1, due_in: float | None = None) -> Candidate:
    due = NOW + timedelta(minutes=due_in) if due_in is not None else None
    return Candidate(tid, lane, service, NOW - timedelta(minutes=minutes_ago), due)


def drain(candidates, weights, config, streak=0):
    """Call until nobody eligible is left; the order tickets were called in."""
    remaining, order = list(candidates), []
    while True:
        decision = choose_next(remaining, now=NOW, weights=weights, preferential_streak=streak, config=config)
        if decision is None:
            return order, remaining
        order.append(decision.candidate)
        remaining.remove(decision.candidate)
        streak = decision.preferential_streak


# ---------------------------------------------------------------- examples


def test_two_preferential_then_one_regular():
    queue = [ticket(i, REGULAR, 60 - i) for i in range(1, 4)] + [ticket(i, PREFERENTIAL, 60 - i) for i in range(11, 16)]
    order, _ = drain(queue, {1: 1}, NO_LIMIT)
    assert [c.lane[0] for c in order] == list("pprpprpr")
    assert [c.ticket_id for c in order] == [11, 12, 1, 13, 14, 2, 15, 3]


def test_ratio_is_configurable():
    queue = [ticket(i, REGULAR, 60 - i) for i in range(1, 3)] + [ticket(i, PREFERENTIAL, 60 - i) for i in range(11, 15)]
    order, _ = drain(queue, {1: 1}, PolicyConfig(preferential_ratio=1, regular_max_wait=timedelta(days=1)))
    assert [c.lane[0] for c in order] == list("prprpp")


def test_regular_waiting_past_the_limit_goes_first():
    config = PolicyConfig(preferential_ratio=2, regular_max_wait=timedelta(minutes=45))
    queue = [ticket(1, PREFERENTIAL, 50), ticket(2, REGULAR, 46), ticket(3, APPOINTMENT, 5, due_in=-1)]
    decision = choose_next(queue, now=NOW, weights={1: 1}, preferential_streak=0, config=config)
    assert decision.candidate.ticket_id == 2
    assert decision.preferential_streak == 0


def test_due_appointment_before_walk_ins_and_future_one_not_eligible():
    queue = [
        ticket(1, PREFERENTIAL, 30),
        ticket(2, APPOINTMENT, 10, due_in=5),  # checked in early: waits for its time
        ticket(3, APPOINTMENT, 2, due_in=-3),
    ]
    decision = choose_next(queue, now=NOW, weights={1: 1}, preferential_streak=0, config=NO_LIMIT)
    assert decision.candidate.ticket_id == 3
    order, left = drain(queue, {1: 1}, NO_LIMIT)
    assert [c.ticket_id for c in order] == [3, 1]
    assert [c.ticket_id for c in left] == [2]


def test_primary_service_before_secondary():
    queue = [ticket(1, REGULAR, 90, service=2), ticket(2, REGULAR, 5, service=1)]
    decision = choose_next(queue, now=NOW, weights={1: 1, 2: 2}, preferential_streak=0, config=NO_LIMIT)
    assert decision.candidate.ticket_id == 2
    # With the primary queue empty, the desk helps the secondary one.
    decision = choose_next(queue[:1], now=NOW, weights={1: 1, 2: 2}, preferential_streak=0, config=NO_LIMIT)
    assert decision.candidate.ticket_id == 1


def test_services_the_desk_does_not_serve_are_ignored():
    assert choose_next([ticket(1, REGULAR, 10, service=9)], now=NOW, weights={1: 1},
                       preferential_streak=0, config=NO_LIMIT) is None


def test_position_examples():
    # Regular with 1 regular ahead and 5 preferential waiting: P P R P P [me]
    assert queue_position(REGULAR, appointments_ahead=0, same_lane_ahead=1, other_lane_waiting=5, ratio=2) == 6
    # Preferential with 4 ahead and 3 regulars: P P R P P R [me]
    assert queue_position(PREFERENTIAL, appointments_ahead=0, same_lane_ahead=4, other_lane_waiting=3, ratio=2) == 7
    assert queue_position(APPOINTMENT, appointments_ahead=2, same_lane_ahead=0, other_lane_waiting=0, ratio=2) == 3


def test_wait_estimate():
    assert estimate_wait_minutes(1, 1, 8) == 4  # half a service: the one being served now
    assert estimate_wait_minutes(10, 2, 8) == 38
    assert estimate_wait_minutes(10, 0, 8) == estimate_wait_minutes(10, 1, 8)  # no desk open yet


# ---------------------------------------------------------------- properties

lanes = st.sampled_from([REGULAR, PREFERENTIAL, APPOINTMENT])


@st.composite
def queues(draw, max_size=30):
    n = draw(st.integers(0, max_size))
    out = []
    for tid in range(1, n + 1):
        lane = draw(lanes)
        due = draw(st.floats(-60, 60)) if lane == APPOINTMENT else None
        out.append(ticket(tid, lane, draw(st.floats(0, 180)), service=draw(st.integers(1, 3)), due_in=due))
    return out


weight_maps = st.dictionaries(st.integers(1, 3), st.integers(1, 2), min_size=1, max_size=3)
configs = st.builds(
    PolicyConfig,
    preferential_ratio=st.integers(1, 4),
    regular_max_wait=st.sampled_from([timedelta(minutes=30), timedelta(minutes=90), timedelta(days=1)]),
)


def eligible(c: Candidate, weights) -> bool:
    return c.service_id in weights and (c.lane != APPOINTMENT or c.due_at <= NOW)


@settings(max_examples=300, deadline=None)
@given(queues(), weight_maps, configs, st.integers(0, 5))
def test_choice_is_eligible_and_follows_the_rule_order(queue, weights, config, streak):
    decision = choose_next(queue, now=NOW, weights=weights, preferential_streak=streak, config=config)
    pool = [c for c in queue if eligible(c, weights)]
    if not pool:
        assert decision is None
        return
    chosen = decision.candidate
    assert chosen in pool
    overdue = [c for c in pool if c.lane == REGULAR and NOW - c.arrived_at >= config.regular_max_wait]
    due = [c for c in pool if c.lane == APPOINTMENT]
    if overdue:
        assert chosen.lane == REGULAR and chosen.arrived_at == min(c.arrived_at for c in overdue)
    elif due:
        assert chosen.lane == APPOINTMENT and chosen.due_at == min(c.due_at for c in due)
    else:
        assert weights[chosen.service_id] == min(weights[c.service_id] for c in pool)


@settings(max_examples=300, deadline=None)
@given(queues(), weight_maps, st.integers(1, 4))
def test_drain_calls_everyone_eligible_once_in_arrival_order_per_line(queue, weights, ratio):
    config = PolicyConfig(preferential_ratio=ratio, regular_max_wait=timedelta(days=1))
    order, left = drain(queue, weights, config)
    assert len({c.ticket_id for c in order}) == len(order)
    assert all(not eligible(c, weights) for c in left)
    assert len(order) == sum(eligible(c, weights) for c in queue)
    for lane in (PREFERENTIAL, REGULAR):
        for tier in set(weights.values()):
            line = [c for c in order if c.lane == lane and weights[c.service_id] == tier]
            assert line == sorted(line, key=lambda c: (c.arrived_at, c.ticket_id))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 20), st.integers(0, 20), st.integers(1, 4))
def test_interleave_never_exceeds_ratio_and_never_skips_preferential(n_pref, n_reg, ratio):
    queue = [ticket(i, PREFERENTIAL, 100 - i) for i in range(n_pref)]
    queue += [ticket(100 + i, REGULAR, 100 - i) for i in range(n_reg)]
    config = PolicyConfig(preferential_ratio=ratio, regular_max_wait=timedelta(days=1))
    order, _ = drain(queue, {1: 1}, config)
    prefs_left, regs_left, streak = n_pref, n_reg, 0
    for c in order:
        if c.lane == PREFERENTIAL:
            if regs_left:
                assert streak < ratio, "a regular ticket waited longer than the ratio allows"
            streak, prefs_left = streak + 1, prefs_left - 1
        else:
            if prefs_left:
                assert streak >= ratio, "a regular was called while preferential ones still had their turn"
            streak, regs_left = 0, regs_left - 1


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 15), st.integers(0, 15), st.integers(1, 4))
def test_queue_position_matches_the_order_the_policy_calls(n_pref, n_reg, ratio):
    queue = [ticket(i, PREFERENTIAL, 100 - i) for i in range(n_pref)]
    queue += [ticket(100 + i, REGULAR, 100 - i) for i in range(n_reg)]
    config = PolicyConfig(preferential_ratio=ratio, regular_max_wait=timedelta(days=1))
    order, _ = drain(queue, {1: 1}, config)
    for index, c in enumerate(order):
        same_lane_ahead = sum(1 for o in queue if o.lane == c.lane and o.arrived_at < c.arrived_at)
        other = n_reg if c.lane == PREFERENTIAL else n_pref
        predicted = queue_position(
            c.lane, appointments_ahead=0, same_lane_ahead=same_lane_ahead, other_lane_waiting=other, ratio=ratio
        )
        assert predicted == index + 1


@given(st.integers(1, 500), st.integers(0, 30), st.floats(1, 30))
def test_wait_estimate_grows_with_position_and_shrinks_with_desks(position, desks, minutes):
    base = estimate_wait_minutes(position, desks, minutes)
    assert base >= 0
    assert estimate_wait_minutes(position + 1, desks, minutes) >= base
    assert estimate_wait_minutes(position, desks + 1, minutes) <= base
