"""Walk-ins the replay expects in the next hour, from the office's usual day."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnero.queue import arrivals

PREF = ("CI", "preferential", None, None)
REG = ("CI", "regular", None, None)
Q = arrivals.QUARTER


def q(hh: int, mm: int) -> int:
    return (hh * 60 + mm) // Q


def test_nothing_without_history():
    assert arrivals.expected({PREF: {q(7, 0): 40}}, 0, 10, 7 * 60) == {}


def test_the_crowd_still_at_the_kiosks_is_expected_before_any_ticket_is_issued():
    # Ten days, each with 12 preferential walk-ins between 07:00 and 07:30 and 4 more by
    # 08:00; at 07:00 today nothing is issued yet: 16 are expected in the coming hour
    # (scaled by today so far against the usual so far: both 0 → 1).
    usual = {PREF: {q(7, 0): 60, q(7, 15): 60, q(7, 30): 20, q(7, 45): 20, q(9, 0): 50}}
    got = arrivals.expected(usual, 10, 0, 7 * 60)
    assert got == {PREF: pytest.approx(16.0)}
    # Half way through the first quarter: 3 of the usual 16 are behind, 13 ahead; nobody
    # came in the last hour where 3 usually have, so today looks a little quieter: 13 × 20 / 23.
    w = arrivals.SCALE_WEIGHT
    assert arrivals.expected(usual, 10, 0, 7 * 60 + 7.5)[PREF] == pytest.approx(13.0 * w / (3.0 + w))


def test_a_busier_hour_than_usual_expects_more():
    usual = {REG: {q(7, 0): 100, q(7, 15): 100, q(7, 30): 100, q(7, 45): 100, q(8, 0): 100, q(8, 15): 100}}
    usual_by_0730 = 20.0  # per day, in the hour before 07:30
    quiet = arrivals.expected(usual, 10, 10, 7 * 60 + 30)[REG]
    usual_day = arrivals.expected(usual, 10, round(usual_by_0730), 7 * 60 + 30)[REG]
    busy = arrivals.expected(usual, 10, 40, 7 * 60 + 30)[REG]
    assert quiet < usual_day < busy
    assert usual_day == pytest.approx(40.0)  # 4 quarters × 10 a day, today as usual
    assert busy == pytest.approx(40.0 * (40 + arrivals.SCALE_WEIGHT) / (20 + arrivals.SCALE_WEIGHT))
    # Only the last hour compares: at 08:15 the usual hour before holds 40 a day.
    assert arrivals.expected(usual, 10, 40, 8 * 60 + 15)[REG] == pytest.approx(10.0)  # 08:15–08:30 only


def test_a_big_morning_crowd_does_not_make_the_afternoon_busy():
    usual = {REG: {q(7, 0): 1000, q(13, 0): 100, q(13, 15): 100, q(13, 30): 100, q(13, 45): 100}}
    # At 12:45 the last hour is as usual (nothing): the 40 usual walk-ins of 13:00–13:45.
    assert arrivals.expected(usual, 10, 0, 12 * 60 + 45)[REG] == pytest.approx(30.0)


def test_past_the_usual_last_walk_in_nothing_more_is_expected():
    usual = {REG: {q(8, 0): 30}, PREF: {q(8, 15): 5}}
    assert arrivals.expected(usual, 3, 35, 9 * 60) == {}


@given(st.dictionaries(st.integers(0, arrivals.QUARTERS_PER_DAY - 1), st.integers(0, 500), max_size=30),
       st.integers(1, 14), st.integers(0, 2000), st.floats(0, 24 * 60 - 61))
def test_never_negative_and_within_the_window(by_quarter, days, today, minute):
    got = arrivals.expected({REG: by_quarter}, days, today, minute)
    window = sum(n * arrivals._overlap(k, minute, minute + 60) for k, n in by_quarter.items()) / days
    if window == 0:
        assert got == {}
    else:
        assert got[REG] > 0
        scale = (today + arrivals.SCALE_WEIGHT) / (
            sum(n * arrivals._overlap(k, minute - 60, minute) for k, n in by_quarter.items()) / days
            + arrivals.SCALE_WEIGHT)
        assert got[REG] == pytest.approx(window * scale)


def test_booked_citas_come_as_the_earlier_days_say_shrunk_to_most():
    assert arrivals.show_share(0, 0) == pytest.approx(arrivals.SHOW_PRIOR)  # a new office: most come
    assert arrivals.show_share(5, 10) == pytest.approx(0.7)
    assert arrivals.show_share(990, 1000) == pytest.approx(0.99, abs=0.001)


def test_the_citas_played_are_as_many_as_expected_and_spread_over_the_day():
    assert arrivals.citas_to_play(3, 1.0) == [0, 1, 2]
    assert arrivals.citas_to_play(6, 0.7) == [1, 2, 4, 5]
    assert len(arrivals.citas_to_play(10, 0.7)) == 7  # not 6 for 6.999…
    assert arrivals.citas_to_play(4, 0.0) == []


@given(st.integers(0, 300), st.floats(0.0, 1.0))
def test_the_citas_played_are_the_expected_count_rounded_down(booked, share):
    played = arrivals.citas_to_play(booked, share)
    assert len(played) == int(booked * share + 1e-9) and played == sorted(set(played))
    assert all(0 <= i < booked for i in played)
