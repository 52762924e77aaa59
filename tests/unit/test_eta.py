"""The wait estimator on constructed histories and queues whose answer is known."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from turnero.queue import policy
from turnero.queue.eta import (
    DEFAULT_PRIOR_MINUTES,
    PRIOR_WEIGHT,
    ArrivalStream,
    DeskState,
    Observation,
    ServiceTimeModel,
    WaitingTicket,
    simulate,
)
from turnero.queue.policy import APPOINTMENT, PREFERENTIAL, REGULAR, PolicyConfig

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # 10:00 in La Paz
NO_LIMIT = PolicyConfig(preferential_ratio=2, regular_max_wait=timedelta(days=1))
A, B, C = 1, 2, 3


def flat(minutes: dict[int, float]) -> ServiceTimeModel:
    """Service times with no history: the priors, the same at every hour."""
    return ServiceTimeModel.fit([], minutes)


def t(tid: int, lane: str = REGULAR, minutes_ago: float = 0.0, service: int = A, **kw) -> WaitingTicket:
    return WaitingTicket(tid, lane, service, NOW - timedelta(minutes=minutes_ago), **kw)


def waits(prediction, ids) -> list[int | None]:
    return [prediction.wait_minutes(i) for i in ids]


# ---------------------------------------------------------------- service times


def test_no_history_gives_the_prior_and_eight_minutes_without_one():
    model = ServiceTimeModel.fit([], {A: 7.0})
    assert model.minutes(A, NOW) == 7.0
    assert model.minutes(B, NOW) == DEFAULT_PRIOR_MINUTES == 8.0


def test_many_observations_outweigh_the_prior():
    model = ServiceTimeModel.fit([Observation(A, 9, 1000, 10_000.0)], {A: 6.0})
    assert abs(model.minutes_at_hour(A, 9) - 10.0) < 0.05
    # An hour never observed falls back on the service's overall mean, not the prior.
    assert abs(model.minutes_at_hour(A, 15) - 10.0) < 0.1


def test_hours_of_the_day_keep_their_own_means():
    model = ServiceTimeModel.fit(
        [Observation(A, 8, 400, 400 * 6.0), Observation(A, 12, 400, 400 * 12.0)], {A: 8.0}
    )
    assert abs(model.minutes_at_hour(A, 8) - 6.0) < 0.2
    assert abs(model.minutes_at_hour(A, 12) - 12.0) < 0.2
    assert abs(model.minutes_at_hour(A, 15) - 9.0) < 0.2


def test_one_long_call_moves_the_estimate_only_a_little():
    model = ServiceTimeModel.fit([Observation(A, 10, 1, 60.0)], {A: 8.0})
    assert 8.0 < model.minutes_at_hour(A, 10) < 20.0


def test_a_slow_day_scales_every_hour_by_todays_ratio():
    history = [Observation(A, 9, 1000, 10_000.0), Observation(A, 11, 1000, 5_000.0)]
    today = [Observation(A, 9, 45, 45 * 15.0, today=True)]  # 1.5x the usual at 9
    model = ServiceTimeModel.fit(history + today, {A: 8.0})
    factor = (5 + 45 * 1.5) / (5 + 45)
    assert abs(model.minutes_at_hour(A, 9) - 10.0 * factor) < 0.1
    assert abs(model.minutes_at_hour(A, 11) - 5.0 * factor) < 0.1
    assert model.minutes_at_hour(B, 9) == 8.0  # other services untouched


def test_each_desk_keeps_its_own_pace_and_the_service_its_average():
    # Service A: 10 min on average, desk 1 takes 6, desk 2 takes 14 (200 calls each).
    history = [Observation(A, 9, 200, 200 * 6.0, desk_id=1), Observation(A, 9, 200, 200 * 14.0, desk_id=2)]
    model = ServiceTimeModel.fit(history, {A: 10.0})
    assert abs(model.minutes_at_hour(A, 9) - 10.0) < 0.01
    at_nine = NOW - timedelta(hours=1) + timedelta(hours=4)  # 09:00 in La Paz with the offset below
    model = ServiceTimeModel.fit(history, {A: 10.0}, utc_offset_hours=-4)
    assert abs(model.minutes(A, at_nine, desk_id=1) - 10.0 * (20 + 200 * 0.6) / 220) < 0.01
    assert abs(model.minutes(A, at_nine, desk_id=2) - 10.0 * (20 + 200 * 1.4) / 220) < 0.01
    assert model.minutes(A, at_nine, desk_id=3) == model.minutes(A, at_nine) == model.minutes_at_hour(A, 9)
    # A desk with a few calls is barely moved from the average.
    few = ServiceTimeModel.fit(history + [Observation(A, 9, 2, 2 * 30.0, desk_id=3)], {A: 10.0})
    assert 1.0 < few.pace(3) < 1.2


def test_todays_factor_compares_each_desk_with_its_own_pace():
    history = [Observation(A, 9, 200, 200 * 6.0, desk_id=1), Observation(A, 9, 200, 200 * 14.0, desk_id=2)]
    # Today only the slow desk has worked, at its usual pace: the day is not slow.
    today = [Observation(A, 9, 40, 40 * 14.0, today=True, desk_id=2)]
    model = ServiceTimeModel.fit(history + today, {A: 10.0})
    assert abs(model.today_factor[A] - 1.0) < 0.05


def _days(day_means: list[float], calls: int, today: float, seed: int = 7) -> list[Observation]:
    """Earlier days of service A at 09:00 whose calls scatter lognormally (s ~ 0.7)
    around each day's mean × 10 min, and today's `calls` calls at `today` × 10 min."""
    rng = random.Random(seed)
    out = []
    for i, mean in enumerate(day_means, start=1):
        minutes = [10.0 * mean * rng.lognormvariate(-0.2, 0.63) for _ in range(calls)]
        out.append(Observation(A, 9, calls, sum(minutes), day=date(2027, 3, i),
                               total_squares=sum(m * m for m in minutes)))
    out.append(Observation(A, 9, calls, calls * 10.0 * today, today=True))
    return out


def test_a_mornings_luck_does_not_stretch_the_day_when_days_never_differ():
    # Ten earlier days alike but for their calls' scatter: 150 calls today that ran 12 %
    # long (as likely as not, luck: s/√150 is 6 %) move the factor by a third of that at most.
    model = ServiceTimeModel.fit(_days([1.0] * 10, 150, today=1.12), {A: 10.0})
    assert model.day_weight[A] > 300
    assert 1.0 < model.today_factor[A] < 1.04


def test_days_that_really_differ_let_today_count_from_its_first_calls():
    # Earlier days from 0.7 to 1.3 of the usual: today's 40 calls at 1.3x are believed.
    model = ServiceTimeModel.fit(_days([0.7, 1.3, 0.8, 1.2, 1.0, 0.75, 1.25, 0.9, 1.1, 1.0], 150, today=1.3),
                                 {A: 10.0})
    assert model.day_weight[A] < 20
    assert model.today_factor[A] > 1.25


def test_without_days_kept_apart_or_enough_of_them_today_is_shrunk_by_the_prior_weight():
    history = [Observation(A, 9, 1000, 10_000.0)]
    model = ServiceTimeModel.fit(history + [Observation(A, 9, 45, 45 * 15.0, today=True)], {A: 8.0})
    assert model.day_weight[A] == PRIOR_WEIGHT
    three_days = ServiceTimeModel.fit(_days([1.0] * 3, 150, today=1.12), {A: 10.0})  # MIN_DAYS is 4
    assert three_days.day_weight[A] == PRIOR_WEIGHT
    four_days = ServiceTimeModel.fit(_days([1.0] * 4, 150, today=1.12), {A: 10.0})
    assert four_days.day_weight[A] > PRIOR_WEIGHT


def test_a_slow_desk_takes_longer_over_the_same_line():
    history = [Observation(A, 10, 400, 400 * 5.0, desk_id=1), Observation(A, 10, 400, 400 * 15.0, desk_id=2)]
    model = ServiceTimeModel.fit(history, {A: 10.0}, utc_offset_hours=-4)
    queue = [t(i, minutes_ago=10 - i) for i in range(1, 4)]
    fast = simulate(queue, [DeskState(1, {A: 1})], model, now=NOW, config=NO_LIMIT, ghosts=[(A, REGULAR)])
    slow = simulate(queue, [DeskState(2, {A: 1})], model, now=NOW, config=NO_LIMIT, ghosts=[(A, REGULAR)])
    fast_minutes, slow_minutes = 10.0 * (20 + 400 * 0.5) / 420, 10.0 * (20 + 400 * 1.5) / 420  # 5.2 and 14.8
    assert waits(fast, [1, 2, 3]) == [0, round(fast_minutes), round(2 * fast_minutes)] == [0, 5, 10]
    assert waits(slow, [1, 2, 3]) == [0, round(slow_minutes), round(2 * slow_minutes)] == [0, 15, 30]
    assert fast.walk_in_minutes(A) == 16 and slow.walk_in_minutes(A) == 44


def test_minutes_use_the_office_local_hour():
    model = ServiceTimeModel.fit(
        [Observation(A, 10, 1000, 12_000.0), Observation(A, 14, 1000, 4_000.0)], {A: 8.0}, utc_offset_hours=-4
    )
    assert abs(model.minutes(A, NOW) - 12.0) < 0.1  # 14:00 UTC is 10:00 in La Paz


# ---------------------------------------------------------------- the queue played forward


def test_one_desk_serves_in_turn_and_a_new_walk_in_goes_last():
    queue = [t(1, minutes_ago=3), t(2, minutes_ago=2), t(3, minutes_ago=1)]
    p = simulate(queue, [DeskState(1, {A: 1})], flat({A: 10}), now=NOW, config=NO_LIMIT, ghosts=[(A, REGULAR)])
    assert waits(p, [1, 2, 3]) == [0, 10, 20]
    assert p.walk_in_minutes(A) == 30


def test_desks_share_the_line():
    queue = [t(i, minutes_ago=10 - i) for i in range(1, 6)]
    desks = [DeskState(1, {A: 1}), DeskState(2, {A: 1})]
    p = simulate(queue, desks, flat({A: 10}), now=NOW, config=NO_LIMIT, ghosts=[(A, REGULAR)])
    assert waits(p, [1, 2, 3, 4, 5]) == [0, 0, 10, 10, 20]
    assert p.walk_in_minutes(A) == 20


def test_preferential_interleave_orders_the_waits():
    # As in test_queue_service: R1 R2 then S1 S2 S3 arrive; order S1 S2 R1 S3 R2.
    queue = [t(1, minutes_ago=5), t(2, minutes_ago=4)] + [t(10 + i, PREFERENTIAL, 3 - i) for i in range(3)]
    p = simulate(queue, [DeskState(1, {A: 1})], flat({A: 7}), now=NOW, config=NO_LIMIT)
    assert waits(p, [10, 11, 1, 12, 2]) == [0, 7, 14, 21, 28]


def test_the_desks_preferential_streak_carries_over():
    queue = [t(1, minutes_ago=5), t(10, PREFERENTIAL, 1)]
    p = simulate(queue, [DeskState(1, {A: 1}, preferential_streak=2)], flat({A: 5}), now=NOW, config=NO_LIMIT)
    assert waits(p, [1, 10]) == [0, 5]


def test_a_regular_past_the_limit_goes_first_and_others_reach_it_later():
    config = PolicyConfig(preferential_ratio=2, regular_max_wait=timedelta(minutes=60))
    queue = [t(1, minutes_ago=70)] + [t(10 + i, PREFERENTIAL, 5 - i) for i in range(4)] + [t(2, minutes_ago=45)]
    p = simulate(queue, [DeskState(1, {A: 1})], flat({A: 10}), now=NOW, config=config)
    # R1 (overdue) first; S10; at +20 R2 has waited 65 min, but S11 has waited 24 (72
    # weighed, ratio + 1 = 3): the preferential tickets, past their target too, go first.
    assert waits(p, [1, 10, 11, 12, 13, 2]) == [0, 10, 20, 30, 40, 50]
    p = simulate(queue, [DeskState(1, {A: 1})], flat({A: 10}), now=NOW, config=NO_LIMIT)
    assert waits(p, [10, 11, 1, 12, 13, 2]) == [0, 10, 20, 30, 40, 50]


def test_an_appointment_is_called_when_it_falls_due():
    queue = [t(i, minutes_ago=10 - i) for i in range(1, 4)] + [t(9, APPOINTMENT, 1, due_at=NOW + timedelta(minutes=15))]
    p = simulate(queue, [DeskState(1, {A: 1})], flat({A: 10}), now=NOW, config=NO_LIMIT)
    assert waits(p, [1, 2, 9, 3]) == [0, 10, 20, 30]


def test_a_busy_desk_is_free_when_its_call_should_end():
    busy = WaitingTicket(99, REGULAR, A, NOW - timedelta(minutes=20))
    desk = DeskState(1, {A: 1}, busy=busy, busy_since=NOW - timedelta(minutes=4))
    p = simulate([t(1)], [desk], flat({A: 10}), now=NOW, config=NO_LIMIT)
    assert p.wait_minutes(1) == 6
    # A call already longer than expected is given a share of a service more.
    late = DeskState(1, {A: 1}, busy=busy, busy_since=NOW - timedelta(minutes=30))
    assert simulate([t(1)], [late], flat({A: 10}), now=NOW, config=NO_LIMIT).wait_minutes(1) == 3


def test_a_planned_pause_is_taken_once_the_call_under_way_ends():
    # One desk, 10 minutes a call, lunch planned at +15 for 30 minutes: the call begun at
    # +10 ends at +20, then the desk goes; the third ticket waits until +50.
    lunch = ((NOW + timedelta(minutes=15), timedelta(minutes=30)),)
    p = simulate([t(1), t(2), t(3)], [DeskState(1, {A: 1}, pauses=lunch)], flat({A: 10}), now=NOW,
                 config=NO_LIMIT, ghosts=[(A, REGULAR)])
    assert waits(p, [1, 2, 3]) == [0, 10, 50]
    assert p.walk_in_minutes(A) == 60
    # The other desk, without a pause, takes the line alone from +20 to +50.
    both = [DeskState(1, {A: 1}, pauses=lunch), DeskState(2, {A: 1})]
    p = simulate([t(i) for i in range(1, 9)], both, flat({A: 10}), now=NOW, config=NO_LIMIT)
    assert waits(p, range(1, 9)) == [0, 0, 10, 10, 20, 30, 40, 50]


def test_an_idle_desk_takes_its_pause_at_its_start():
    # Nothing to call until an appointment falls due at +20: the desk, idle, went to its
    # pause at +5 and is back at +25, not 20 minutes after it found the appointment.
    pause = ((NOW + timedelta(minutes=5), timedelta(minutes=20)),)
    queue = [t(9, APPOINTMENT, 1, due_at=NOW + timedelta(minutes=20))]
    p = simulate(queue, [DeskState(1, {A: 1}, pauses=pause)], flat({A: 10}), now=NOW, config=NO_LIMIT)
    assert p.wait_minutes(9) == 25
    # A pause over before the desk is needed changes nothing.
    early = ((NOW + timedelta(minutes=1), timedelta(minutes=10)),)
    p = simulate(queue, [DeskState(1, {A: 1}, pauses=early)], flat({A: 10}), now=NOW, config=NO_LIMIT)
    assert p.wait_minutes(9) == 20


def test_a_fallback_service_waits_for_the_primary_line_to_empty():
    queue = [t(1, minutes_ago=1), t(2, minutes_ago=2), t(3, minutes_ago=30, service=B)]
    p = simulate(queue, [DeskState(1, {A: 1, B: 2})], flat({A: 10, B: 5}), now=NOW, config=NO_LIMIT,
                 ghosts=[(A, REGULAR), (B, REGULAR)])
    assert waits(p, [2, 1, 3]) == [0, 10, 20]
    assert p.walk_in_minutes(A) == 20 and p.walk_in_minutes(B) == 25


def test_a_later_step_reenters_with_its_arrival_time_and_goes_ahead():
    # Ticket 1 is at step A (3 min) then B; ticket 2 came to B later than 1 arrived.
    queue = [t(1, minutes_ago=20, next_steps=(B,)), t(2, minutes_ago=10, service=B), t(3, minutes_ago=5, service=B)]
    desks = [DeskState(1, {A: 1}), DeskState(2, {B: 1})]
    p = simulate(queue, desks, flat({A: 3, B: 6}), now=NOW, config=NO_LIMIT, ghosts=[(B, REGULAR)])
    # B desk: ticket 2 at 0; at 6 ticket 1's second step (arrived 20 min ago) beats 3.
    assert waits(p, [2, 3]) == [0, 12]
    assert p.walk_in_minutes(B) == 18


def test_a_service_without_desks_is_unknown_unless_one_is_assumed():
    queue = [t(1, service=C)]
    p = simulate(queue, [DeskState(1, {A: 1})], flat({C: 4}), now=NOW, config=NO_LIMIT, ghosts=[(C, REGULAR)])
    assert p.wait_minutes(1) is None and p.walk_in_minutes(C) is None
    p = simulate(queue, [DeskState(1, {A: 1})], flat({C: 4}), now=NOW, config=NO_LIMIT, ghosts=[(C, REGULAR)],
                 assume_desk_for=[C])
    assert p.wait_minutes(1) == 0 and p.walk_in_minutes(C) == 4


def test_preferential_walk_ins_expected_to_arrive_push_a_regular_back():
    queue = [t(i, minutes_ago=30 - i) for i in range(1, 7)]
    desks = [DeskState(1, {A: 1})]
    without = simulate(queue, desks, flat({A: 5}), now=NOW, config=NO_LIMIT)
    stream = ArrivalStream(A, PREFERENTIAL, per_minute=0.1)  # one every 10 minutes
    with_arrivals = simulate(queue, desks, flat({A: 5}), now=NOW, config=NO_LIMIT, arrivals=[stream])
    assert without.wait_minutes(6) == 25
    # Preferential arrivals at 5, 15, 25 …: each is served before the next regular, so
    # the desk alternates R P R P …: the sixth regular is the eleventh call.
    assert with_arrivals.wait_minutes(6) == 50
    assert with_arrivals.wait_minutes(2) == 10


def test_citas_booked_for_later_take_the_desk_at_their_time():
    queue = [t(i, minutes_ago=10 - i) for i in range(1, 4)]
    desks = [DeskState(1, {A: 1})]
    without = simulate(queue, desks, flat({A: 10}), now=NOW, config=NO_LIMIT)
    assert waits(without, [1, 2, 3]) == [0, 10, 20]
    # Not checked in yet: one due at 15 min (called then, before the third walk-in), one
    # due after everyone is called (it changes nobody's wait), neither predicted itself.
    due = [WaitingTicket(-1, APPOINTMENT, A, NOW + timedelta(minutes=15), NOW + timedelta(minutes=15)),
           WaitingTicket(-2, APPOINTMENT, A, NOW + timedelta(hours=2), NOW + timedelta(hours=2))]
    with_citas = simulate(queue, desks, flat({A: 10}), now=NOW, config=NO_LIMIT, coming=due)
    assert waits(with_citas, [1, 2, 3]) == [0, 10, 30]
    assert with_citas.wait_minutes(-1) is None
    # The replay ends once every waiting ticket is called: the 2-hour cita is never played.
    assert with_citas.desk_minutes == {A: 40.0}


lanes = st.sampled_from([REGULAR, PREFERENTIAL])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(lanes, st.integers(0, 120), st.sampled_from([A, B])), min_size=1, max_size=25),
    st.integers(1, 4),
    st.integers(0, 2),
)
def test_ghosts_never_change_real_predictions(rows, n_desks, streak):
    queue = [t(i, lane, ago, service=s) for i, (lane, ago, s) in enumerate(rows)]
    desks = [DeskState(d, {A: 1, B: 2} if d % 2 else {B: 1, A: 2}, preferential_streak=streak) for d in range(n_desks)]
    config = PolicyConfig(preferential_ratio=2, regular_max_wait=timedelta(minutes=60))
    times = flat({A: 7, B: 4})
    plain = simulate(queue, desks, times, now=NOW, config=config)
    ghosted = simulate(queue, desks, times, now=NOW, config=config,
                       ghosts=[(A, REGULAR), (B, REGULAR), (A, PREFERENTIAL), (B, PREFERENTIAL)])
    assert plain.calls == ghosted.calls
    assert all(v is not None for v in ghosted.walk_in.values())


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(lanes, st.integers(0, 50)), min_size=1, max_size=30), st.integers(0, 2))
def test_one_desk_calls_in_the_policys_own_order(rows, streak):
    """With one desk and equal service times the predicted call order is the order in
    which repeated policy.choose_next calls drain the queue."""
    queue = [t(i, lane, ago) for i, (lane, ago) in enumerate(rows)]
    p = simulate(queue, [DeskState(1, {A: 1}, preferential_streak=streak)], flat({A: 5}), now=NOW, config=NO_LIMIT)
    remaining = [policy.Candidate(q.ticket_id, q.lane, q.service_id, q.arrived_at) for q in queue]
    order = []
    while remaining:
        d = policy.choose_next(remaining, now=NOW, weights={A: 1}, preferential_streak=streak, config=NO_LIMIT)
        order.append(d.candidate.ticket_id)
        remaining.remove(d.candidate)
        streak = d.preferential_streak
    assert sorted(p.calls, key=lambda i: p.calls[i]) == order
    assert [p.wait_minutes(i) for i in order] == [5 * k for k in range(len(order))]
