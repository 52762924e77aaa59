"""The office-local day's bounds every report, cut-off and replay reads."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from turnero.core import clock


def test_a_la_paz_day_starts_at_four_utc():
    start = clock.day_start(date(2026, 12, 7), "America/La_Paz")
    assert start == datetime(2026, 12, 7, 4, 0, tzinfo=timezone.utc)
    assert start.utcoffset() == timedelta(0)
    assert clock.day_start(date(2026, 12, 7), ZoneInfo("America/La_Paz")) == start


def test_the_span_of_days_includes_the_last_day_whole():
    start, end = clock.days_span(date(2026, 12, 1), date(2026, 12, 7), "America/La_Paz")
    assert (start, end) == (datetime(2026, 12, 1, 4, tzinfo=timezone.utc), datetime(2026, 12, 8, 4, tzinfo=timezone.utc))
    late_on_the_last_day = datetime(2026, 12, 8, 3, 59, tzinfo=timezone.utc)  # 23:59 in La Paz
    assert start <= late_on_the_last_day < end


def test_a_day_that_changes_the_clocks_is_as_long_as_it_is():
    # Madrid moved to summer time on 2026-03-29: that local day lasts 23 hours.
    start, end = clock.days_span(date(2026, 3, 29), date(2026, 3, 29), "Europe/Madrid")
    assert end - start == timedelta(hours=23)


def test_the_local_day_of_a_time_and_its_start_agree():
    at = datetime(2026, 12, 8, 3, 30, tzinfo=timezone.utc)  # still the 7th in La Paz
    day = clock.local_day(at, "America/La_Paz")
    assert day == date(2026, 12, 7)
    assert clock.day_start(day, "America/La_Paz") <= at < clock.day_start(day + timedelta(days=1), "America/La_Paz")
