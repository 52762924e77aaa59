"""The plan of pauses' pure rules on the estimate's terms: the console's reminder of a
desk's planned pauses (pause_plan.reminder: coming, due while the desk is still open, on
it, over its length) and how each was kept (pause_plan.kept / kept_text)."""

from __future__ import annotations

from datetime import datetime, timedelta

from zoneinfo import ZoneInfo

from turnero.queue.pause_plan import Planned, kept, kept_text, reminder

TZ = "America/La_Paz"
ZONE = ZoneInfo(TZ)


def at(hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2026, 12, 10, hour, minute, tzinfo=ZONE)


PLAN = [Planned(at("10:00"), 15, "refrigerio"), Planned(at("12:30"), 45, "almuerzo")]


def said(now: str, status: str = "open", paused: tuple[str, ...] = ()):
    return reminder(PLAN, status=status, paused_at=[at(p) for p in paused], now=at(now), tz=TZ)


def test_nothing_to_say_far_from_a_planned_pause():
    assert said("09:30") is None
    assert said("11:00") is None
    assert reminder([], status="open", paused_at=[], now=at("10:00"), tz=TZ) is None


def test_a_pause_coming_within_five_minutes_is_announced_with_the_minutes_left():
    r = said("09:56")
    assert r.kind == "soon"
    assert r.text == "Su refrigerio (10:00–10:15) empieza en 4 min."
    assert said("09:54") is None


def test_a_pause_due_is_reminded_until_the_estimate_stops_expecting_it():
    assert said("10:00").kind == "due"
    r = said("10:19")
    assert r.kind == "due" and "refrigerio (10:00–10:15)" in r.text and "ponga la ventanilla en pausa" in r.text
    assert said("10:21") is None  # 20 min past: skipped today, as staffing.expected_pauses does


def test_a_pause_taken_early_or_late_is_not_reminded_again():
    assert said("10:05", paused=("09:50",)) is None  # taken 10 min early, reopened
    assert said("10:10", paused=("08:00",)).kind == "due"  # a pause long before is another one
    assert said("12:31", paused=("09:50",)).kind == "due"  # the refrigerio taken says nothing of lunch


def test_one_pause_taken_does_not_stand_for_two_planned_close_together():
    # A short break at 10:00 and another at 10:30 (two shifts of a rota): the pause
    # begun at 10:12 was the first one, so the second is still due at 10:30.
    plan = [Planned(at("10:00"), 10, "refrigerio"), Planned(at("10:30"), 10, "pausa activa")]
    r = reminder(plan, status="open", paused_at=[at("10:12")], now=at("10:30"), tz=TZ)
    assert r is not None and r.kind == "due" and "pausa activa (10:30–10:40)" in r.text
    assert reminder(plan, status="open", paused_at=[at("10:12"), at("10:31")], now=at("10:35"), tz=TZ) is None


def test_a_desk_on_its_planned_pause_is_told_when_the_estimate_expects_it_back():
    r = said("10:10", status="paused", paused=("10:04",))
    assert r.kind == "away" and r.back == at("10:19")
    assert "vuelva a las 10:19" in r.text
    over = said("10:25", status="paused", paused=("10:04",))
    assert over.kind == "over" and "era de 15 min" in over.text
    lunch = said("12:40", status="paused", paused=("09:58", "12:35"))
    assert lunch.kind == "away" and lunch.back == at("13:20")


def test_a_pause_off_the_plan_or_a_closed_desk_gets_no_reminder():
    assert said("11:00", status="paused", paused=("11:00",)) is None
    assert said("10:05", status="closed") is None
    assert said("10:05", status="paused") is None  # paused with no pause on record today


# ---------------------------------------------------------------- how the plan was kept


def test_each_planned_pause_is_matched_to_the_pause_taken_nearest_its_start():
    taken = [(at("10:04"), at("10:22")), (at("12:20"), at("13:10")), (at("14:00"), None)]
    refrigerio, almuerzo = kept(PLAN, taken)
    assert (refrigerio.began, refrigerio.ended) == (at("10:04"), at("10:22"))
    assert (almuerzo.began, almuerzo.ended) == (at("12:20"), at("13:10"))
    now = at("14:05")
    assert kept_text(refrigerio, now, TZ) == "refrigerio 10:00–10:15: de 10:04 a 10:22 (4 min tarde; 18 de 15 min)"
    assert kept_text(almuerzo, now, TZ) == "almuerzo 12:30–13:15: de 12:20 a 13:10 (10 min antes; 50 de 45 min)"


def test_a_pause_not_taken_is_pending_until_the_estimate_gives_it_up_then_not_taken():
    nothing = kept(PLAN, [(at("11:00"), at("11:10"))])  # 60 min off: another pause
    assert [k.began for k in nothing] == [None, None]
    assert kept_text(nothing[0], at("10:20"), TZ) == "refrigerio 10:00–10:15: pendiente"
    assert kept_text(nothing[0], at("10:21"), TZ) == "refrigerio 10:00–10:15: no se tomó"
    on_it = kept(PLAN, [(at("10:00"), None)])[0]
    assert kept_text(on_it, at("10:05"), TZ) == "refrigerio 10:00–10:15: en curso desde 10:00"
    assert kept_text(kept(PLAN, [(at("10:00"), at("10:15"))])[0], at("11:00"), TZ).endswith("(a tiempo; 15 de 15 min)")


def test_one_pause_taken_counts_for_one_planned_pause_only():
    close = [Planned(at("10:00"), 15, "refrigerio"), Planned(at("10:20"), 10, "otra")]
    first, second = kept(close, [(at("10:05"), at("10:20"))])
    assert first.began == at("10:05") and second.began is None
