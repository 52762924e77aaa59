"""Pure booking rules, without a database: slot generation, the window and its daily
release, notice, cut-off, check-in window, no-shows, documents, holidays."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnero.scheduler import policy
from turnero.scheduler.holidays import holiday_names

LPZ = "America/La_Paz"
ZONE = ZoneInfo(LPZ)
HOURS = {"mon": [["07:30", "16:00"]], "tue": [["07:30", "12:00"], ["14:00", "16:00"]], "sat": [["08:00", "12:00"]]}


def local(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZONE)


# ---------------------------------------------------------------- slots


def test_slots_cut_each_opening_span_and_never_run_past_closing():
    monday = date(2026, 11, 30)
    slots = policy.slot_times(monday, HOURS, 20, LPZ)
    assert slots[0] == (local(2026, 11, 30, 7, 30), local(2026, 11, 30, 7, 50))
    # 07:30–16:00 is 510 minutes: 25 whole 20-minute slots, the last ending 15:50.
    assert len(slots) == 25 and slots[-1][1] == local(2026, 11, 30, 15, 50)
    tuesday = policy.slot_times(date(2026, 12, 1), HOURS, 30, LPZ)
    starts = [s.strftime("%H:%M") for s, _ in tuesday]
    assert starts[:9] == ["07:30", "08:00", "08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    assert "12:00" not in starts and starts[9:] == ["14:00", "14:30", "15:00", "15:30"]


def test_a_day_without_hours_has_no_slots():
    assert policy.slot_times(date(2026, 12, 6), HOURS, 15, LPZ) == []  # Sunday
    assert policy.slot_times(date(2026, 12, 2), HOURS, 15, LPZ) == []  # Wednesday not listed


def test_slot_times_are_in_la_paz_time_utc_minus_4():
    start, _ = policy.slot_times(date(2026, 11, 30), HOURS, 15, LPZ)[0]
    assert start.astimezone(timezone.utc) == datetime(2026, 11, 30, 11, 30, tzinfo=timezone.utc)


@given(st.integers(min_value=5, max_value=240), st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)))
def test_slots_never_overlap_and_stay_inside_opening_hours(minutes, day):
    slots = policy.slot_times(day, HOURS, minutes, LPZ)
    spans = policy.hours_for(day, HOURS)
    for (start, end), nxt in zip(slots, slots[1:] + [None]):
        assert end - start == timedelta(minutes=minutes)
        assert any(datetime.combine(day, a, ZONE) <= start and end <= datetime.combine(day, b, ZONE) for a, b in spans)
        if nxt is not None:
            assert nxt[0] >= end


# ---------------------------------------------------------------- window and release

RULES = policy.Rules(slot_minutes=15, window_days=30, min_notice=timedelta(hours=1), release_time=time(7, 0))


def test_the_last_day_opens_at_the_release_time():
    before = local(2026, 11, 30, 6, 59)
    at = local(2026, 11, 30, 7, 0)
    assert policy.last_open_day(before, RULES, LPZ) == date(2026, 12, 29)
    assert policy.last_open_day(at, RULES, LPZ) == date(2026, 12, 30)
    no_release = policy.Rules(window_days=30, release_time=None)
    assert policy.last_open_day(before, no_release, LPZ) == date(2026, 12, 30)


def test_release_moment_is_window_days_before_at_release_time():
    assert policy.release_moment(date(2026, 12, 30), RULES, LPZ) == local(2026, 11, 30, 7, 0)


def test_booking_refusals():
    now = local(2026, 11, 30, 10, 0)
    assert policy.booking_refusal(local(2026, 11, 30, 9, 0), now, RULES, LPZ) == policy.Refusal.PAST
    assert policy.booking_refusal(local(2026, 11, 30, 10, 30), now, RULES, LPZ) == policy.Refusal.TOO_SOON
    assert policy.booking_refusal(local(2026, 11, 30, 11, 0), now, RULES, LPZ) is None  # exactly the notice
    assert policy.booking_refusal(local(2026, 12, 30, 8, 0), now, RULES, LPZ) is None
    assert policy.booking_refusal(local(2026, 12, 31, 8, 0), now, RULES, LPZ) == policy.Refusal.NOT_RELEASED
    closed = frozenset({date(2026, 12, 25)})
    assert policy.booking_refusal(local(2026, 12, 25, 8, 0), now, RULES, LPZ, closed) == policy.Refusal.CLOSED


def test_bookable_range_matches_the_refusals():
    now = local(2026, 11, 30, 6, 0)
    low, high = policy.bookable_range(now, RULES, LPZ)
    assert low == now + timedelta(hours=1)
    assert high == local(2026, 12, 30)  # the 29th is the last open day before 07:00
    assert policy.booking_refusal(high - timedelta(minutes=15), now, RULES, LPZ) is None
    assert policy.booking_refusal(high, now, RULES, LPZ) == policy.Refusal.NOT_RELEASED


def test_cancel_cutoff():
    start = local(2026, 12, 2, 9, 0)
    assert policy.can_cancel(start, local(2026, 12, 2, 7, 0), RULES)  # exactly two hours before
    assert not policy.can_cancel(start, local(2026, 12, 2, 7, 1), RULES)
    assert policy.cancel_deadline(start, RULES) == local(2026, 12, 2, 7, 0)


# ---------------------------------------------------------------- check-in and no-show

CHECKIN = policy.CheckinRules(before=timedelta(minutes=30), after=timedelta(minutes=15))


@pytest.mark.parametrize(
    "offset, expected",
    [(-31, "early"), (-30, "on_time"), (0, "on_time"), (15, "on_time"), (16, "late")],
)
def test_checkin_window_edges(offset, expected):
    start = local(2026, 12, 2, 9, 0)
    assert policy.arrival(start, start + timedelta(minutes=offset), CHECKIN) == expected


def test_no_show_cutoff_never_precedes_the_end_of_the_checkin_window():
    now = local(2026, 12, 2, 12, 0)
    assert policy.no_show_cutoff(now, CHECKIN) == now - timedelta(minutes=15)
    short = policy.CheckinRules(after=timedelta(minutes=15), no_show_grace=timedelta(minutes=5))
    assert policy.no_show_cutoff(now, short) == now - timedelta(minutes=15)
    long = policy.CheckinRules(after=timedelta(minutes=15), no_show_grace=timedelta(minutes=90))
    assert policy.no_show_cutoff(now, long) == now - timedelta(minutes=90)


# ---------------------------------------------------------------- documents


@pytest.mark.parametrize(
    "number, complement, issued_in, kind, expected",
    [
        ("1234567", None, "LP", "ci", ("1234567", None, "LP")),
        ("12345", None, None, "ci", ("12345", None, None)),
        ("1234567890", None, None, "ci", ("1234567890", None, None)),
        ("1234567-1B", None, "cb", "ci", ("1234567", "1B", "CB")),
        ("1234567", "1b", "SC", "ci", ("1234567", "1B", "SC")),
        (" 1.234.567 ", None, None, "ci", ("1234567", None, None)),
        ("E-1234567", None, None, "cie", ("1234567", None, None)),
        ("ab123456", None, None, "passport", ("AB123456", None, None)),
    ],
)
def test_valid_documents(number, complement, issued_in, kind, expected):
    doc = policy.parse_document(number, complement, issued_in, kind)
    assert (doc.number, doc.complement, doc.issued_in) == expected


@pytest.mark.parametrize(
    "number, complement, issued_in, kind",
    [
        ("1234", None, None, "ci"),  # too short
        ("12345678901", None, None, "ci"),  # too long
        ("12a4567", None, None, "ci"),
        ("1234567", "B1", None, "ci"),  # complement is digit then letter
        ("1234567", "123", None, "ci"),
        ("1234567-1B", "2C", None, "ci"),  # two different complements
        ("1234567", None, "XX", "ci"),  # unknown department
        ("1234567", None, "BO", "ci"),
        ("ABC", None, None, "passport"),
        ("1234567", "1B", None, "cie"),
        ("1234567", None, None, "dni"),
        ("", None, None, "ci"),
    ],
)
def test_invalid_documents(number, complement, issued_in, kind):
    with pytest.raises(ValueError):
        policy.parse_document(number, complement, issued_in, kind)


def test_document_key_holds_the_complemento_but_not_the_department():
    # The complemento tells apart two people sharing a number; the department is
    # optional when booking, so keying on it could be dodged by leaving it out.
    a = policy.parse_document("1234567", "1B", "LP")
    assert a.key == policy.parse_document("1234567", "1b", "CB").key == "ci:1234567-1B"
    assert policy.parse_document("1234567", None, "CB").key == "ci:1234567" != a.key
    assert policy.parse_document("1234567", "1A", "LP").key != a.key
    assert policy.parse_document("1234567", type="cie").key != "ci:1234567"


def test_document_matches_what_a_citizen_types():
    assert policy.document_matches("1234567", "1B", "1234567")
    assert policy.document_matches("1234567", "1B", "1234567-1B")
    assert policy.document_matches("1234567", "1B", "1234567 1b".replace(" ", "-"))
    assert not policy.document_matches("1234567", "1B", "1234567-2C")
    assert not policy.document_matches("1234567", None, "7654321")
    assert not policy.document_matches("1234567", None, "")
    assert policy.document_matches("AB123456", None, "ab123456")


def test_codes_use_an_unambiguous_alphabet():
    assert not set("0O1IL5S2Z8B") & set(policy.CODE_ALPHABET)
    assert policy.looks_like_code(policy.normalise_code("a473-dxkw"))
    assert not policy.looks_like_code("A473DXK0")


# ---------------------------------------------------------------- holidays


def test_bolivian_national_holidays_fixed_and_movable():
    days = holiday_names(date(2027, 1, 1), date(2027, 12, 31), "BO", None, False)
    for fixed in [(1, 1), (1, 22), (5, 1), (6, 21), (8, 6), (11, 2), (12, 25)]:
        assert date(2027, *fixed) in days
    # Movable, from Easter (28 March 2027): Carnaval Monday and Tuesday, Good Friday, Corpus Christi.
    for movable in [date(2027, 2, 8), date(2027, 2, 9), date(2027, 3, 26), date(2027, 5, 27)]:
        assert movable in days
    assert date(2027, 7, 16) not in days  # La Paz's own day is departmental


def test_departmental_holidays_and_switching_off():
    la_paz = holiday_names(date(2027, 7, 1), date(2027, 7, 31), "BO", "LP", True)
    assert date(2027, 7, 16) in la_paz
    assert holiday_names(date(2027, 1, 1), date(2027, 12, 31), "", "LP", True) == {}
