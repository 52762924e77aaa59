"""Which desks an office expects to have calling, and from when (queue/staffing.py):
the rules by hand, a property over random histories, and the history read back from
the database."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from turnero.queue import staffing
from turnero.queue.staffing import DeskNow, StatusChange, expected_start

TZ = "America/La_Paz"
ZONE = ZoneInfo(TZ)
MONDAY = date(2026, 12, 7)
SATURDAY = date(2026, 12, 12)
HOURS = [(time(8), time(16))]
SPLIT = [(time(8), time(12)), (time(14), time(18))]


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=ZONE)


def closed(*ids: int, services=None) -> list[DeskNow]:
    return [DeskNow(i, "closed", {1: 1} if services is None else services) for i in ids]


def weekdays_before(day: date, n: int = 14) -> list[date]:
    days = [day - timedelta(days=k) for k in range(1, n + 1)]
    return [d for d in days if d.weekday() < 5]


def shift(desk_id: int, day: date, opens: tuple[int, int], closes: tuple[int, int] = (16, 0)) -> list[StatusChange]:
    return [StatusChange(desk_id, "open", at(day, *opens)), StatusChange(desk_id, "closed", at(day, *closes))]


def history(day: date, plan: dict[int, tuple[int, int]], *, days=None) -> list[StatusChange]:
    out = []
    for d in days if days is not None else weekdays_before(day):
        for desk_id, opens in plan.items():
            out += shift(desk_id, d, opens)
    return out


# ---------------------------------------------------------------- no history


def test_without_history_every_desk_with_services_is_expected_at_the_opening():
    desks = closed(1, 2) + [DeskNow(3, "closed", {}), DeskNow(4, "open", {1: 1})]
    got = expected_start(desks, [], spans=HOURS, now=at(MONDAY, 7, 10), tz=TZ)
    assert got == {1: at(MONDAY, 8), 2: at(MONDAY, 8)}  # desk 3 serves nothing, desk 4 is open


def test_without_history_once_open_a_closed_desk_is_not_expected_never_now():
    got = expected_start(closed(1, 2), [], spans=HOURS, now=at(MONDAY, 8, 0, 1), tz=TZ)
    assert got == {1: None, 2: None}


def test_without_history_between_two_spans_the_afternoon_opening():
    got = expected_start(closed(1), [], spans=SPLIT, now=at(MONDAY, 12, 30), tz=TZ)
    assert got == {1: at(MONDAY, 14)}


def test_a_day_without_hours_and_without_history_expects_nothing():
    assert expected_start(closed(1), [], spans=[], now=at(MONDAY, 7), tz=TZ) == {1: None}


# ---------------------------------------------------------------- with history


def test_with_history_each_desk_at_its_usual_time():
    events = history(MONDAY, {1: (7, 55), 2: (8, 15)})
    got = expected_start(closed(1, 2), events, spans=HOURS, now=at(MONDAY, 7, 0), tz=TZ)
    assert got == {1: at(MONDAY, 7, 55), 2: at(MONDAY, 8, 15)}


def test_the_usual_time_is_the_median_and_the_answer_is_in_the_office_zone():
    days = weekdays_before(MONDAY)
    events = []
    for n, d in enumerate(days):
        events += shift(1, d, (8, [0, 5, 10, 40, 2][n % 5]))
    got = expected_start(closed(1), events, spans=HOURS, now=at(MONDAY, 6), tz=TZ)
    assert got[1] == at(MONDAY, 8, 5)
    assert got[1].utcoffset() == timedelta(hours=-4)


def test_a_desk_that_opened_on_fewer_than_half_of_the_days_is_not_expected():
    days = weekdays_before(MONDAY)  # 10 weekdays
    events = history(MONDAY, {1: (8, 0)}) + history(MONDAY, {2: (8, 0)}, days=days[:4]) \
        + history(MONDAY, {3: (8, 0)}, days=days[:5])
    got = expected_start(closed(1, 2, 3), events, spans=HOURS, now=at(MONDAY, 7), tz=TZ)
    assert got == {1: at(MONDAY, 8), 2: None, 3: at(MONDAY, 8)}


def test_a_desk_without_history_in_an_office_with_history_is_not_expected():
    events = history(MONDAY, {1: (8, 0)})
    got = expected_start(closed(1, 9), events, spans=HOURS, now=at(MONDAY, 7), tz=TZ)
    assert got == {1: at(MONDAY, 8), 9: None}


def test_days_the_office_did_not_work_do_not_count():
    # Two of the ten weekdays were holidays: nobody opened. Desk 1 opened on the other 8.
    days = weekdays_before(MONDAY)
    events = history(MONDAY, {1: (8, 0)}, days=days[2:])
    got = expected_start(closed(1), events, spans=HOURS, now=at(MONDAY, 7), tz=TZ)
    assert got == {1: at(MONDAY, 8)}


def test_a_desk_left_open_overnight_counts_as_opened_at_the_opening():
    days = sorted(weekdays_before(MONDAY))
    events = [StatusChange(1, "open", at(days[0] - timedelta(days=1), 8, 30))]  # never closed since
    events += history(MONDAY, {2: (8, 20)})
    got = expected_start(closed(1, 2), events, spans=HOURS, now=at(MONDAY, 7), tz=TZ)
    assert got == {1: at(MONDAY, 8), 2: at(MONDAY, 8, 20)}


def test_a_late_desk_is_expected_a_little_later_then_no_longer():
    days = weekdays_before(MONDAY)
    events = []
    for n, d in enumerate(days):
        events += shift(1, d, (8, [0, 0, 10, 20, 0][n % 5]))  # median 08:00, upper quartile 08:10
    now = at(MONDAY, 8, 2)
    assert expected_start(closed(1), events, spans=HOURS, now=now, tz=TZ) == {1: now + timedelta(minutes=10)}
    now = at(MONDAY, 8, 50)
    assert expected_start(closed(1), events, spans=HOURS, now=now, tz=TZ) == {1: now + timedelta(minutes=10)}
    now = at(MONDAY, 9, 1)
    assert expected_start(closed(1), events, spans=HOURS, now=now, tz=TZ) == {1: None}


def test_a_late_desk_with_a_steady_history_waits_at_least_min_late():
    events = history(MONDAY, {1: (8, 0)})
    now = at(MONDAY, 8, 0, 30)
    assert expected_start(closed(1), events, spans=HOURS, now=now, tz=TZ) == {1: now + staffing.MIN_LATE}


def test_weekdays_and_weekends_are_told_apart():
    week = history(SATURDAY, {1: (8, 0), 2: (8, 30)})
    saturdays = [SATURDAY - timedelta(days=7), SATURDAY - timedelta(days=14)]
    weekend = history(SATURDAY, {2: (9, 0)}, days=saturdays)
    events = week + weekend
    saturday_hours = [(time(8, 30), time(12))]
    got = expected_start(closed(1, 2), events, spans=saturday_hours, now=at(SATURDAY, 7), tz=TZ)
    assert got == {1: None, 2: at(SATURDAY, 9)}  # desk 1 works weekdays only
    got = expected_start(closed(1, 2), events, spans=HOURS, now=at(SATURDAY + timedelta(days=2), 7), tz=TZ)
    assert got == {1: at(MONDAY + timedelta(days=7), 8), 2: at(MONDAY + timedelta(days=7), 8, 30)}


def test_the_first_saturday_falls_back_to_the_opening_time():
    events = history(SATURDAY, {1: (8, 0)})  # weekdays only
    got = expected_start(closed(1), events, spans=[(time(8, 30), time(12))], now=at(SATURDAY, 7), tz=TZ)
    assert got == {1: at(SATURDAY, 8, 30)}


def test_the_afternoon_span_uses_the_afternoon_openings():
    events = []
    for d in weekdays_before(MONDAY):
        events += [StatusChange(1, "open", at(d, 8)), StatusChange(1, "closed", at(d, 12)),
                   StatusChange(1, "open", at(d, 14, 10)), StatusChange(1, "closed", at(d, 18))]
    got = expected_start(closed(1), events, spans=SPLIT, now=at(MONDAY, 12, 30), tz=TZ)
    assert got == {1: at(MONDAY, 14, 10)}


def test_a_desk_that_opened_today_and_closed_is_not_expected_again_in_that_span():
    events = history(MONDAY, {1: (8, 0)}) + shift(1, MONDAY, (8, 0), (10, 0))
    assert expected_start(closed(1), events, spans=HOURS, now=at(MONDAY, 10, 30), tz=TZ) == {1: None}
    # …but after lunch it is expected again.
    events = []
    for d in weekdays_before(MONDAY) + [MONDAY]:
        events += shift(1, d, (8, 0), (12, 0))
        if d != MONDAY:
            events += shift(1, d, (14, 0), (18, 0))
    assert expected_start(closed(1), events, spans=SPLIT, now=at(MONDAY, 12, 30), tz=TZ) == {1: at(MONDAY, 14)}


# ---------------------------------------------------------------- pauses


def test_a_paused_desk_is_expected_back_after_the_default_pause():
    events = [StatusChange(1, "open", at(MONDAY, 8)), StatusChange(1, "paused", at(MONDAY, 10))]
    got = expected_start([DeskNow(1, "paused", {1: 1})], events, spans=HOURS, now=at(MONDAY, 10, 5), tz=TZ)
    assert got == {1: at(MONDAY, 10, 15)}


def test_a_paused_desk_is_expected_back_after_its_usual_pause():
    events = []
    for d in weekdays_before(MONDAY):
        events += [StatusChange(1, "open", at(d, 8)), StatusChange(1, "paused", at(d, 10)),
                   StatusChange(1, "open", at(d, 10, 30)), StatusChange(1, "closed", at(d, 16))]
    events += [StatusChange(1, "open", at(MONDAY, 8)), StatusChange(1, "paused", at(MONDAY, 11))]
    paused = [DeskNow(1, "paused", {1: 1})]
    assert expected_start(paused, events, spans=HOURS, now=at(MONDAY, 11, 10), tz=TZ) == {1: at(MONDAY, 11, 30)}
    now = at(MONDAY, 11, 45)  # overdue: a little later
    assert expected_start(paused, events, spans=HOURS, now=now, tz=TZ) == {1: now + staffing.MIN_LATE}
    now = at(MONDAY, 12, 31)  # more than an hour overdue
    assert expected_start(paused, events, spans=HOURS, now=now, tz=TZ) == {1: None}


def test_other_desks_pauses_stand_in_for_a_desk_with_few_of_its_own():
    events = []
    for d in weekdays_before(MONDAY):
        events += [StatusChange(2, "open", at(d, 8)), StatusChange(2, "paused", at(d, 10)),
                   StatusChange(2, "open", at(d, 10, 40))]
    events += [StatusChange(1, "open", at(MONDAY, 8)), StatusChange(1, "paused", at(MONDAY, 9))]
    got = expected_start([DeskNow(1, "paused", {1: 1})], events, spans=HOURS, now=at(MONDAY, 9, 1), tz=TZ)
    assert got == {1: at(MONDAY, 9, 40)}


def test_a_paused_desk_without_its_pause_on_record_is_not_expected():
    got = expected_start([DeskNow(1, "paused", {1: 1})], [], spans=HOURS, now=at(MONDAY, 9), tz=TZ)
    assert got == {1: None}


# ---------------------------------------------------------------- closing, now


def test_after_closing_nothing_is_expected():
    events = history(MONDAY, {1: (8, 0)}) + [StatusChange(2, "paused", at(MONDAY, 15, 55))]
    desks = closed(1) + [DeskNow(2, "paused", {1: 1})]
    assert expected_start(desks, events, spans=HOURS, now=at(MONDAY, 16), tz=TZ) == {1: None, 2: None}
    # Nor a desk that would come back only after the closing time.
    assert expected_start(desks, events, spans=HOURS, now=at(MONDAY, 15, 56), tz=TZ)[2] is None


def test_a_day_without_hours_is_one_window_the_whole_day():
    events = history(MONDAY, {1: (8, 0)})
    assert expected_start(closed(1), events, spans=[], now=at(MONDAY, 7), tz=TZ) == {1: at(MONDAY, 8)}
    # (No hours: the whole day is the window; the office does set hours on working days.)
    sunday = MONDAY - timedelta(days=1)
    assert expected_start(closed(1), events, spans=[], now=at(sunday, 7), tz=TZ) == {1: None}


def test_changes_after_now_are_ignored():
    events = [StatusChange(1, "open", at(MONDAY, 9))]  # recorded in the future (a clock skew)
    got = expected_start(closed(1), events, spans=HOURS, now=at(MONDAY, 7), tz=TZ)
    assert got == {1: at(MONDAY, 8)}


@settings(max_examples=300, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.integers(1, 4), st.integers(-16 * 24 * 60, 0), st.sampled_from(["open", "paused", "closed"])),
        max_size=60,
    ),
    statuses=st.lists(st.sampled_from(["open", "paused", "closed"]), min_size=4, max_size=4),
    serving=st.lists(st.booleans(), min_size=4, max_size=4),
    spans=st.sampled_from([HOURS, SPLIT, [], [(time(7, 30), time(19))], [(time(0), time(23, 59))]]),
    minute=st.integers(0, 24 * 60 - 1),
    day=st.dates(date(2026, 1, 1), date(2027, 12, 31)),
)
def test_every_expected_time_is_at_or_after_now_and_before_the_closing(plan, statuses, serving, spans, minute, day):
    now = at(day, 0) + timedelta(minutes=minute)
    events = [StatusChange(desk, kind, now + timedelta(minutes=m)) for desk, m, kind in plan]
    desks = [DeskNow(i + 1, statuses[i], {7: 1} if serving[i] else {}) for i in range(4)]
    got = expected_start(desks, events, spans=spans, now=now.astimezone(timezone.utc), tz=TZ)
    assert set(got) == {d.desk_id for d in desks if d.status != "open" and d.weights}
    closing = max((end for _s, end in spans), default=None)
    for value in got.values():
        if value is None:
            continue
        assert value >= now
        assert value.tzinfo is not None
        if closing is not None:
            assert value < at(day, closing.hour, closing.minute)
    if closing is not None and now >= at(day, closing.hour, closing.minute):
        assert all(v is None for v in got.values())
    # What desk_plan does: the past learnt once (cached), today's changes apart.
    usual = staffing.usual_staffing(events, spans=spans, now=now, tz=TZ)
    today = [e for e in events if e.at >= at(day, 0)]
    assert expected_start(desks, today, spans=spans, now=now, tz=TZ, usual=usual) == got
    # Expected pauses: from now on, before the closing, earliest first, of a known length.
    pauses = staffing.expected_pauses([1, 2, 3, 4], today, spans=spans, now=now, tz=TZ, usual=usual)
    for planned in pauses.values():
        assert planned and [start for start, _ in planned] == sorted(start for start, _ in planned)
        for start, length in planned:
            assert start >= now and length > timedelta(0)
            if closing is not None:
                assert start < at(day, closing.hour, closing.minute)


# ---------------------------------------------------------------- pauses a desk is expected to take


def lunches(day: date, starts: dict[int, list[tuple[int, int, int]]]) -> list[StatusChange]:
    """Every weekday before `day`: each desk open 08:00–16:00 with its pauses; `starts`
    desk -> [(hh, mm, minutes)], the n-th weekday shifted by (n % 5) - 2 minutes."""
    out = []
    for n, d in enumerate(weekdays_before(day)):
        for desk_id, pauses in starts.items():
            out += shift(desk_id, d, (8, 0))
            for hh, mm, minutes in pauses:
                begin = at(d, hh, mm) + timedelta(minutes=n % 5 - 2)
                out += [StatusChange(desk_id, "paused", begin), StatusChange(desk_id, "open", begin + timedelta(minutes=minutes))]
    return sorted(out, key=lambda c: c.at)


def pauses_at(now: datetime, events, today=(), desks=(1, 2)) -> dict:
    usual = staffing.usual_staffing(events, spans=HOURS, now=now, tz=TZ)
    return staffing.expected_pauses(desks, list(today), spans=HOURS, now=now, tz=TZ, usual=usual)


def test_a_desk_that_lunches_at_the_same_time_is_expected_to_lunch_today():
    events = lunches(MONDAY, {1: [(12, 40, 40)], 2: [(13, 30, 30)]})
    got = pauses_at(at(MONDAY, 9), events)
    assert got == {1: ((at(MONDAY, 12, 40), timedelta(minutes=40)),),
                   2: ((at(MONDAY, 13, 30), timedelta(minutes=30)),)}
    # Two habits of one desk, earliest first.
    events = lunches(MONDAY, {1: [(13, 0, 45), (10, 0, 15)]})
    assert pauses_at(at(MONDAY, 8), events, desks=[1])[1] == (
        (at(MONDAY, 10), timedelta(minutes=15)), (at(MONDAY, 13), timedelta(minutes=45)))


def test_breaks_at_any_time_of_a_long_morning_make_no_habit():
    events = []
    for n, d in enumerate(weekdays_before(MONDAY)):
        events += shift(1, d, (8, 0))
        begin = at(d, 9, 30) + timedelta(minutes=(n * 37) % 105)  # 09:30–11:15, scattered
        events += [StatusChange(1, "paused", begin), StatusChange(1, "open", begin + timedelta(minutes=20))]
    events.sort(key=lambda c: c.at)
    assert staffing.usual_staffing(events, spans=HOURS, now=at(MONDAY, 8), tz=TZ).habits == {}
    assert pauses_at(at(MONDAY, 8), events) == {}


def test_a_pause_on_fewer_than_half_of_the_days_is_no_habit():
    days = weekdays_before(MONDAY)
    events = history(MONDAY, {1: (8, 0)})
    for d in days[: len(days) // 2 - 1]:
        events += [StatusChange(1, "paused", at(d, 12)), StatusChange(1, "open", at(d, 12, 30))]
    events.sort(key=lambda c: c.at)
    assert pauses_at(at(MONDAY, 9), events) == {}


def test_a_habit_of_some_days_counts_for_its_share_of_them():
    # Lunch at 12:40 on 6 of the 10 weekdays: expected for 0.6 of its 40 minutes.
    days = weekdays_before(MONDAY)
    events = history(MONDAY, {1: (8, 0)})
    for d in days[:6]:
        events += [StatusChange(1, "paused", at(d, 12, 40)), StatusChange(1, "open", at(d, 13, 20))]
    events.sort(key=lambda c: c.at)
    assert pauses_at(at(MONDAY, 9), events, desks=[1]) == {1: ((at(MONDAY, 12, 40), timedelta(minutes=24)),)}
    # A stop of a minute and a half on half of the days is worth 45 s: not played in.
    events = history(MONDAY, {1: (8, 0)})
    for d in days[:5]:
        events += [StatusChange(1, "paused", at(d, 12, 40)), StatusChange(1, "open", at(d, 12, 41, 30))]
    events.sort(key=lambda c: c.at)
    assert staffing.usual_staffing(events, spans=HOURS, now=at(MONDAY, 9), tz=TZ).habits[1][0].share == 0.5
    assert pauses_at(at(MONDAY, 9), events, desks=[1]) == {}


def test_a_habit_taken_today_or_long_past_is_not_expected_and_a_late_one_is_expected_now():
    events = lunches(MONDAY, {1: [(12, 40, 40)]})
    taken = [StatusChange(1, "open", at(MONDAY, 8)), StatusChange(1, "paused", at(MONDAY, 12, 31)),
             StatusChange(1, "open", at(MONDAY, 13, 10))]
    assert pauses_at(at(MONDAY, 13, 15), events, taken) == {}
    assert pauses_at(at(MONDAY, 12, 35), events, taken[:2]) == {}  # under way
    # Not gone yet at 12:50: expected now; at 13:40 it is skipped today.
    assert pauses_at(at(MONDAY, 12, 50), events, taken[:1]) == {1: ((at(MONDAY, 12, 50), timedelta(minutes=40)),)}
    assert pauses_at(at(MONDAY, 13, 40), events, taken[:1]) == {}
    # A pause this morning at another time does not stand for the lunch.
    coffee = [*taken[:1], StatusChange(1, "paused", at(MONDAY, 10)), StatusChange(1, "open", at(MONDAY, 10, 15))]
    assert pauses_at(at(MONDAY, 11), events, coffee)[1] == ((at(MONDAY, 12, 40), timedelta(minutes=40)),)


def test_pauses_of_the_other_kind_of_day_or_after_closing_do_not_count():
    saturdays = []
    for k in range(1, 3):
        d = SATURDAY - timedelta(days=7 * k)
        saturdays += shift(1, d, (8, 0)) + [StatusChange(1, "paused", at(d, 12)), StatusChange(1, "open", at(d, 12, 30))]
    saturdays.sort(key=lambda c: c.at)
    assert pauses_at(at(MONDAY, 9), saturdays) == {}
    events = lunches(MONDAY, {1: [(15, 30, 20)]})
    assert pauses_at(at(MONDAY, 9), events) == {1: ((at(MONDAY, 15, 30), timedelta(minutes=20)),)}
    assert pauses_at(at(MONDAY, 16, 5), events) == {}


def test_planned_pauses_are_expected_in_full_and_stand_for_the_desks_habits():
    events = lunches(MONDAY, {1: [(12, 40, 40), (15, 0, 10)], 2: [(13, 30, 30)]})
    usual = staffing.usual_staffing(events, spans=HOURS, now=at(MONDAY, 8), tz=TZ)
    # Desk 1's roster: a refrigerio at 10:15 and lunch at 12:30 (not its habitual 12:40,
    # nor its 15:00 stop: the plan is its day); desk 2 has no plan and keeps its habit.
    planned = {1: [(at(MONDAY, 10, 15), 20.0), (at(MONDAY, 12, 30), 45.0)]}
    got = staffing.expected_pauses([1, 2], [], spans=HOURS, now=at(MONDAY, 8), tz=TZ, usual=usual, planned=planned)
    assert got == {1: ((at(MONDAY, 10, 15), timedelta(minutes=20)), (at(MONDAY, 12, 30), timedelta(minutes=45))),
                   2: ((at(MONDAY, 13, 30), timedelta(minutes=30)),)}
    # Without any history at all the plan is still played.
    empty = staffing.usual_staffing([], spans=HOURS, now=at(MONDAY, 8), tz=TZ)
    got = staffing.expected_pauses([1], [], spans=HOURS, now=at(MONDAY, 8), tz=TZ, usual=empty, planned=planned)
    assert got[1][0] == (at(MONDAY, 10, 15), timedelta(minutes=20))


def test_a_planned_pause_taken_is_not_expected_again_and_one_overdue_is_expected_now():
    empty = staffing.usual_staffing([], spans=HOURS, now=at(MONDAY, 8), tz=TZ)
    planned = {1: [(at(MONDAY, 10, 15), 20.0)]}
    opened = [StatusChange(1, "open", at(MONDAY, 8))]
    went = [*opened, StatusChange(1, "paused", at(MONDAY, 10, 18))]

    def expected(now, today):
        return staffing.expected_pauses([1], today, spans=HOURS, now=now, tz=TZ, usual=empty, planned=planned)

    assert expected(at(MONDAY, 10, 20), went) == {}  # under way
    assert expected(at(MONDAY, 10, 25), opened) == {1: ((at(MONDAY, 10, 25), timedelta(minutes=20)),)}  # a call ran long
    assert expected(at(MONDAY, 10, 40), opened) == {}  # long past its time: skipped today


def test_a_desk_paused_for_its_planned_pause_is_expected_back_when_the_plan_says():
    events = []
    for d in weekdays_before(MONDAY):  # its usual pause: 15 minutes
        events += [StatusChange(1, "open", at(d, 8)), StatusChange(1, "paused", at(d, 10)),
                   StatusChange(1, "open", at(d, 10, 15)), StatusChange(1, "closed", at(d, 16))]
    events += [StatusChange(1, "open", at(MONDAY, 8)), StatusChange(1, "paused", at(MONDAY, 12, 33))]
    paused = [DeskNow(1, "paused", {1: 1})]
    lunch = {1: [(at(MONDAY, 10), 15.0), (at(MONDAY, 12, 30), 45.0)]}
    now = at(MONDAY, 12, 40)
    assert expected_start(paused, events, spans=HOURS, now=now, tz=TZ, planned=lunch) == {1: at(MONDAY, 13, 18)}
    # A pause far from any planned one lasts its usual time.
    assert expected_start(paused, events, spans=HOURS, now=now, tz=TZ, planned={1: [(at(MONDAY, 10), 15.0)]}) == {
        1: at(MONDAY, 12, 48)}


# ---------------------------------------------------------------- from the database


async def test_desk_plan_reads_the_history_of_past_days_and_today(db):
    from turnero.core.models import Office
    from turnero.queue import eta
    from turnero.queue.models import Desk, DeskEvent, DeskService

    office = await Office.get(code="LPZ-PRINCIPAL")  # Monday to Friday 07:30–16:00
    desks = {d.name: d for d in await Desk.filter(office_id=office.id)}
    early, paused = desks["1"], desks["2"]
    for d in weekdays_before(MONDAY):
        await DeskEvent.create(desk_id=early.id, kind="open", at=at(d, 7, 40))
        await DeskEvent.create(desk_id=early.id, kind="closed", at=at(d, 16))
        await DeskEvent.create(desk_id=paused.id, kind="open", at=at(d, 7, 30))
        await DeskEvent.create(desk_id=paused.id, kind="paused", at=at(d, 10))
        await DeskEvent.create(desk_id=paused.id, kind="open", at=at(d, 10, 20))
    await DeskEvent.create(desk_id=paused.id, kind="open", at=at(MONDAY, 7, 31))
    await DeskEvent.create(desk_id=paused.id, kind="paused", at=at(MONDAY, 7, 35))
    rows = []
    for desk in desks.values():
        weights = {s.service_id: s.weight for s in await DeskService.filter(desk_id=desk.id)}
        rows.append({"id": desk.id, "name": desk.name, "status": "paused" if desk is paused else "closed",
                     "streak": 0, "weights": weights})
    staffing.clear_cache()
    # Sunday 23:00 in La Paz is Monday 03:00 UTC: a day apart, whatever the zone of `now`.
    await DeskEvent.create(desk_id=desks["3"].id, kind="open", at=at(MONDAY - timedelta(days=1), 23))
    now = at(MONDAY, 7, 36)  # (in the office's zone: the statements must bind UTC all the same)
    plan = await staffing.desk_plan(office, now, rows)
    got = plan.coming
    # Desk 1 at its usual 07:40; desk 2, paused at 07:35 today, back after its usual 20 min,
    # and its pause of every day at 10:00 still to come.
    assert [(d.desk_id, d.available_at) for d in got] == [(early.id, at(MONDAY, 7, 40)), (paused.id, at(MONDAY, 7, 55))]
    assert plan.pauses == {paused.id: ((at(MONDAY, 10), timedelta(minutes=20)),)}
    assert got[1].pauses == plan.pauses[paused.id] and got[0].pauses == ()
    assert all(isinstance(d, eta.DeskState) and d.weights for d in got)
    assert {d.desk_id: dict(d.weights) for d in got}[early.id] == next(r["weights"] for r in rows if r["id"] == early.id)

    # Past days come from the cache (one statement fewer); today's rows are read fresh.
    await DeskEvent.create(desk_id=early.id, kind="open", at=at(MONDAY, 7, 38))
    await DeskEvent.create(desk_id=early.id, kind="closed", at=at(MONDAY, 7, 39))
    later = at(MONDAY, 7, 39, 30).astimezone(timezone.utc)
    got = (await staffing.desk_plan(office, later, rows)).coming
    assert [d.desk_id for d in got] == [paused.id]  # desk 1 came and went today

    # After closing, nothing (and nothing is read).
    assert await staffing.desk_plan(office, at(MONDAY, 16, 1), rows) == staffing.DeskPlan([], {})


async def test_desk_plan_plays_the_pauses_planned_for_today_of_open_desks_too(db):
    from turnero.core import clock
    from turnero.core.auth import Principal
    from turnero.core.models import Office, Role
    from turnero.queue import pause_plan
    from turnero.queue.models import Desk, DeskService

    office = await Office.get(code="LPZ-PRINCIPAL")
    desks = {d.name: d for d in await Desk.filter(office_id=office.id)}
    clock.freeze(at(MONDAY, 6))
    supervisor = Principal(None, "supervisor", Role.SUPERVISOR, office.id, office.code, 0.0)
    await pause_plan.replace_plan(office, MONDAY, [pause_plan.Pause("1", time(10, 15), 20),
                                                   pause_plan.Pause("1", time(12, 30), 45, "almuerzo")], supervisor)
    await pause_plan.replace_plan(office, MONDAY + timedelta(days=1), [pause_plan.Pause("2", time(10), 30)], supervisor)
    rows = [{"id": d.id, "name": d.name, "status": "open", "streak": 0,
             "weights": {s.service_id: s.weight for s in await DeskService.filter(desk_id=d.id)}}
            for d in desks.values()]
    staffing.clear_cache()
    # Every desk open, none with a habit: only today's plan is played (tomorrow's is not).
    plan = await staffing.desk_plan(office, at(MONDAY, 9), rows)
    assert plan == staffing.DeskPlan([], {desks["1"].id: ((at(MONDAY, 10, 15), timedelta(minutes=20)),
                                                          (at(MONDAY, 12, 30), timedelta(minutes=45)))})


def test_a_pause_is_taking_the_planned_pause_due_nearest_it_within_the_habits_spread():
    """pause_taken: the rule the estimate (a paused desk's return) and the desk console's
    reminder share."""
    day = datetime(2026, 12, 10, tzinfo=ZoneInfo("America/La_Paz"))
    starts = [day.replace(hour=10), day.replace(hour=10, minute=30), day.replace(hour=12, minute=30)]
    assert staffing.pause_taken(starts, day.replace(hour=10, minute=12)) == 0
    assert staffing.pause_taken(starts, day.replace(hour=10, minute=18)) == 1  # nearer 10:30
    assert staffing.pause_taken(starts, day.replace(hour=12, minute=10)) == 2  # 20 min early: still it
    assert staffing.pause_taken(starts, day.replace(hour=11, minute=30)) is None  # no planned pause near
    assert staffing.pause_taken([], day.replace(hour=10)) is None
