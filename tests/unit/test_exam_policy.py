"""Pure exam rules: the seeded draw, scoring against the pass mark, the timer,
eligibility (waiting period after a failure, attempt limit), late arrival, seats."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from turnero.exam import policy
from turnero.exam.policy import ExamConfig, PastAttempt

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
CONFIG = ExamConfig(questions_per_exam=20, pass_mark=0.8, retake_wait=timedelta(days=7), max_attempts=3)


# ---------------------------------------------------------------- draw


def test_the_same_seed_draws_the_same_questions_in_the_same_order():
    bank = list(range(1, 101))
    first = policy.draw_questions(bank, 20, seed=12345)
    assert policy.draw_questions(list(reversed(bank)), 20, seed=12345) == first  # bank order does not matter
    assert len(first) == len(set(first)) == 20 and set(first) <= set(bank)


def test_different_seeds_draw_different_exams():
    bank = list(range(1, 101))
    draws = {tuple(policy.draw_questions(bank, 20, seed)) for seed in range(50)}
    assert len(draws) == 50


def test_draw_is_spread_over_the_bank():
    bank = list(range(1, 41))
    seen = set()
    for seed in range(200):
        seen.update(policy.draw_questions(bank, 10, seed))
    assert seen == set(bank)


def test_a_small_bank_gives_all_its_questions():
    assert sorted(policy.draw_questions([3, 1, 2], 20, seed=1)) == [1, 2, 3]


# ---------------------------------------------------------------- scoring


@pytest.mark.parametrize(("total", "mark", "needed"), [(20, 0.8, 16), (19, 0.8, 16), (10, 0.8, 8), (30, 0.7, 21), (3, 1.0, 3)])
def test_required_correct_rounds_up(total, mark, needed):
    assert policy.required_correct(total, mark) == needed


def _exam(n=20):
    drawn = list(range(1, n + 1))
    correct = {q: q % 4 for q in drawn}
    return drawn, correct


def test_score_counts_right_answers_and_applies_the_pass_mark():
    drawn, correct = _exam()
    answers = {q: correct[q] for q in drawn[:16]}  # 16 right, 4 unanswered
    result = policy.score(drawn, correct, answers, 0.8)
    assert (result.correct, result.total, result.percent, result.passed) == (16, 20, 80.0, True)

    answers[drawn[0]] = (correct[drawn[0]] + 1) % 4  # one wrong: 15/20
    result = policy.score(drawn, correct, answers, 0.8)
    assert (result.correct, result.passed, result.percent) == (15, False, 75.0)


def test_score_ignores_answers_to_questions_not_drawn():
    drawn, correct = _exam(5)
    answers = {99: 0, 100: 1, **{q: correct[q] for q in drawn[:3]}}
    result = policy.score(drawn, {**correct, 99: 0, 100: 1}, answers, 0.6)
    assert (result.correct, result.total, result.passed) == (3, 5, True)


def test_score_of_nothing_answered_fails():
    drawn, correct = _exam()
    assert policy.score(drawn, correct, {}, 0.8) == policy.Score(0, 20, 0.0, False)


def test_a_higher_pass_mark_fails_the_same_answers():
    drawn, correct = _exam()
    answers = {q: correct[q] for q in drawn[:17]}
    assert policy.score(drawn, correct, answers, 0.8).passed
    assert not policy.score(drawn, correct, answers, 0.9).passed


# ---------------------------------------------------------------- timer


def test_deadline_uses_the_full_duration_or_the_time_left():
    assert policy.deadline(T0, timedelta(minutes=30)) == T0 + timedelta(minutes=30)
    assert policy.deadline(T0, timedelta(minutes=30), timedelta(seconds=437)) == T0 + timedelta(seconds=437)


def test_seconds_left_rounds_up_and_never_goes_negative():
    end = T0 + timedelta(seconds=10)
    assert policy.seconds_left(end, T0 + timedelta(seconds=9.2)) == 1
    assert policy.seconds_left(end, end) == 0
    assert policy.seconds_left(end, end + timedelta(minutes=5)) == 0


# ---------------------------------------------------------------- eligibility


def test_first_attempt_is_allowed():
    assert policy.eligibility([], T0, CONFIG).allowed


def test_after_a_failure_the_waiting_period_applies():
    past = [PastAttempt(T0, passed=False)]
    verdict = policy.eligibility(past, T0 + timedelta(days=6, hours=23), CONFIG)
    assert not verdict.allowed and verdict.code == "retake_too_soon"
    assert verdict.not_before == T0 + timedelta(days=7)
    assert "7 días" in verdict.message
    assert policy.eligibility(past, T0 + timedelta(days=7), CONFIG).allowed


def test_the_waiting_period_counts_from_the_latest_failure():
    past = [PastAttempt(T0 + timedelta(days=10), False), PastAttempt(T0, False)]
    verdict = policy.eligibility(past, T0 + timedelta(days=15), CONFIG)
    assert verdict.code == "retake_too_soon" and verdict.not_before == T0 + timedelta(days=17)


def test_the_attempt_limit_refuses_even_after_the_wait():
    past = [PastAttempt(T0 + timedelta(days=10 * i), False) for i in range(3)]
    verdict = policy.eligibility(past, T0 + timedelta(days=365), CONFIG)
    assert not verdict.allowed and verdict.code == "attempts_exhausted" and "3 intentos" in verdict.message
    two = policy.eligibility(past[:2], T0 + timedelta(days=365), CONFIG)
    assert two.allowed


def test_the_limits_are_configurable():
    past = [PastAttempt(T0, False)]
    quick = ExamConfig(retake_wait=timedelta(hours=12), max_attempts=2)
    assert policy.eligibility(past, T0 + timedelta(hours=12), quick).allowed
    assert policy.eligibility(past * 2, T0 + timedelta(days=30), quick).code == "attempts_exhausted"


def test_a_candidate_who_passed_may_not_sit_again():
    past = [PastAttempt(T0, False), PastAttempt(T0 + timedelta(days=8), True)]
    assert policy.eligibility(past, T0 + timedelta(days=60), CONFIG).code == "already_passed"


# ---------------------------------------------------------------- arrival and seats


def test_check_in_window_closes_when_the_session_starts():
    start = T0
    assert policy.checkin_refusal(start - timedelta(minutes=30), start, CONFIG) is None
    assert policy.checkin_refusal(start, start, CONFIG) is None
    assert policy.checkin_refusal(start + timedelta(seconds=1), start, CONFIG)[0] == "late_arrival"
    assert policy.checkin_refusal(start - timedelta(minutes=61), start, CONFIG)[0] == "checkin_too_early"
    graceful = ExamConfig(late_grace=timedelta(minutes=10))
    assert policy.checkin_refusal(start + timedelta(minutes=9), start, graceful) is None
    assert policy.checkin_refusal(start + timedelta(minutes=11), start, graceful)[0] == "late_arrival"


def test_lowest_free_seat_skips_taken_and_out_of_service_seats():
    seats = [(10, 3, True), (11, 1, False), (12, 2, True), (13, 4, True)]  # (id, number, in_service)
    assert policy.lowest_free_seat(seats, []) == 12
    assert policy.lowest_free_seat(seats, [12]) == 10
    assert policy.lowest_free_seat(seats, [12, 10, 13]) is None


# ---------------------------------------------------------------- identity at the door


@pytest.mark.parametrize("presented, ok", [
    ("4800001-1B", True), ("4800001 1b", True), ("48000011B", True),
    ("4800001", False),  # the booking has a complement: the card shown must too
    ("4800001-2B", False), ("4800002-1B", False), ("", False), ("E-4800001", False),
])
def test_the_presented_document_must_be_the_booked_one_complement_included(presented, ok):
    from types import SimpleNamespace

    from turnero.exam.booking import identity_matches

    assert identity_matches(SimpleNamespace(document_number="4800001", document_complement="1B"), presented) is ok


def test_a_booking_without_complement_matches_the_number():
    from types import SimpleNamespace

    from turnero.exam.booking import identity_matches

    booked = SimpleNamespace(document_number="4800001", document_complement=None)
    assert identity_matches(booked, "4800001") and identity_matches(booked, " 4800001 ")
    assert not identity_matches(booked, "4800001-1B")  # another person sharing the number
    assert not identity_matches(booked, "4800002")
