"""The independent world simulator on a very short day (6 desks, 40 minutes, one
earlier day, one seed): the real engine on a real SQLite database with a simulated
clock; its report's structure and invariants, not its error figures."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from datetime import timedelta
from pathlib import Path

REPO = str(Path(__file__).resolve().parents[2])
if REPO not in sys.path:  # (`python -m pytest` has it; plain `pytest` may not) benchmarks/ is a folder of it
    sys.path.insert(0, REPO)

from benchmarks import world_day  # noqa: E402


def test_plan_is_the_worlds_own():
    world = dataclasses.replace(world_day.WORLD, desks=6)
    plan = world_day.plan_day(world, 3, world_day.DAY, 0, 0.9, 40)
    again = world_day.plan_day(world, 3, world_day.DAY, 0, 0.9, 40)
    assert [(v.issue, v.tramite, v.priority) for v in plan.visits] == [
        (v.issue, v.tramite, v.priority) for v in again.visits]  # a seed is a day
    assert len(plan.desks) == 6 and plan.visits
    assert all(v.issue >= v.arrival for v in plan.visits)
    assert all(v.issue <= plan.end + timedelta(minutes=30) for v in plan.visits)
    history = world_day.history_dates(world_day.DAY, 10)
    assert len(history) == 10 and all(d.weekday() < 5 and d < world_day.DAY for d in history)


async def test_short_world_accounts_for_every_ticket(tmp_path):
    world = dataclasses.replace(world_day.WORLD, desks=6, history_days=1)
    # A stuck run fails here within a bounded time instead of holding the suite.
    run = await asyncio.wait_for(world_day.run_world(world, 1, 0.9, minutes=40, directory=tmp_path), 240)
    rep = world_day.report([run], world, 40)
    json.dumps(rep)  # --json prints it
    (figures,) = rep["loads"]
    accounting = figures["accounting"]
    # Every visit got a ticket, every ticket was called, nobody is left.
    assert accounting["visits"] == accounting["tickets"] == accounting["called"] == len(run["records"]) > 0
    assert accounting["negative_waits"] == 0
    assert accounting["left_waiting"] == 0 and accounting["left_at_desk"] == 0
    assert sum(run["statuses"].values()) >= accounting["tickets"]  # later steps are tickets too
    assert all(r["wait"] >= 0 and r["naive"] >= 0 for r in run["records"])
    assert sum(w["n"] for w in figures["waits"].values()) == accounting["tickets"]
    assert sum(s["tickets"] for s in figures["by_hour"].values()) == accounting["tickets"]
    assert sum(s["tickets"] for s in figures["by_lane"].values()) == accounting["tickets"]
    assert figures["first_hour"]["tickets"] + figures["from_second_hour"]["tickets"] == accounting["tickets"]
    for part in ("all_day", "first_hour", *(f"by_lane.{lane}" for lane in world_day.LANES)):
        s = figures
        for key in part.split("."):
            s = s[key]
        assert s["shown"]["n"] + s["no_estimate"] == s["tickets"]
        if s["coverage"] is not None:  # the range fields, when the engine shows them
            assert 0.0 <= s["coverage"] <= 1.0 and s["ranged"] <= s["tickets"]
        for figure in ("shown", "naive"):
            if s[figure]["n"]:
                assert s[figure]["mae"] >= 0 and s[figure]["p90"] >= 0
    assert {g["goal"] for g in figures["goals"]} and all(g["pass"] in (True, False, None) for g in figures["goals"])
    text = world_day.markdown(rep)
    assert "| load |" in text and ("PASS" in text or "FAIL" in text)


def test_wait_with_usual_desks_converts_the_work_done():
    # 10 desks today against 20 usually: what took 30 minutes takes 15 at the usual rate;
    # with the same hours nothing changes; a ticket issued before the doors (minute -30
    # from opening) is converted over the hours as they were.
    today, usual = [10.0] * 300, [20.0] * 300
    assert world_day.wait_with_usual_desks(0.0, 30.0, today, usual) == 15.0
    assert world_day.wait_with_usual_desks(12.5, 7.25, usual, usual) == 7.25
    step = [0.0] * 60 + [10.0] * 240  # nobody until opening (minute 60 from an hour before)
    assert abs(world_day.wait_with_usual_desks(-30.0, 60.0, step, [10.0] * 300) - 30.0) < 1e-9
    assert world_day.wait_with_usual_desks(5.0, 0.0, today, usual) == 0.0


def test_desk_capacity_follows_the_plan():
    world = dataclasses.replace(world_day.WORLD, desks=6)
    plan = world_day.plan_day(world, 3, world_day.DAY, 0, 0.9, 240)
    tr = world_day.traits(world, 3)
    capacity = world_day.desk_capacity(world, plan, tr)
    assert capacity[0] == 0.0  # an hour before opening
    full = sum(1 / tr.speed[d.name] for d in plan.desks if d.opens is not None)
    assert abs(capacity[-1] - full) < 1e-9  # late in the day every staffed desk is back
    assert min(capacity[60 + 60: 60 + 240]) < full  # a break in the morning takes a desk away
    today, usual = world_day.usual_capacity(world, 3, 0.9, 240)
    assert today == capacity and len(usual) == len(capacity)


async def test_twins_replay_the_day_with_only_the_desk_minutes_drawn_anew(tmp_path):
    world = dataclasses.replace(world_day.WORLD, desks=6, history_days=1)
    plan = world_day.plan_day(world, 2, world_day.DAY, 0, 0.9, 40)
    twin = world_day.redraw(world, plan, 2, 1)
    assert twin.desks == plan.desks
    assert [(v.issue, v.tramite, v.priority, [(s.walk, s.gone) for s in v.steps]) for v in twin.visits] == [
        (v.issue, v.tramite, v.priority, [(s.walk, s.gone) for s in v.steps]) for v in plan.visits]
    assert [s.minutes for v in twin.visits for s in v.steps] != [s.minutes for v in plan.visits for s in v.steps]

    run = await asyncio.wait_for(world_day.run_world(world, 2, 0.9, minutes=40, directory=tmp_path, twins=2), 240)
    assert all(len(r["twin_waits"]) == 2 and None not in r["twin_waits"] for r in run["records"])
    assert any(r["twin_waits"][0] != r["wait"] for r in run["records"])  # other minutes, other waits
    floor = world_day.report([run], world, 40)["loads"][0]["all_day"]["clairvoyant"]
    assert floor["n"] == 3 * len(run["records"]) and floor["twins"] == 2 and floor["mae"] >= 0

    # A replay whose minutes are not drawn anew is the measured day again, to the second:
    # the calls do not depend on the estimates nor on the earlier day (so a twin played
    # without them, and without any figure at issue, differs from the day only by its
    # minutes); a branch keeps every call before it as it was.
    from benchmarks import sim_common
    from turnero.core import clock
    from turnero.queue import eta_service
    from turnero.queue.config import QueueConfig

    eta_service.clear_cache()
    try:
        async with sim_common.demo_office(tmp_path / "same") as sim:
            config = dataclasses.replace(QueueConfig.from_settings(sim.settings), predict_waits=False)
            with world_day.no_wait_figures():
                same = await world_day.play_day(sim, world, world_day.plan_day(world, 2, world_day.DAY, 0, 0.9, 40),
                                                world_day.traits(world, 2), config, seed=2, board=False)
            assert all(r["shown"] is None for r in same.records)
        async with sim_common.demo_office(tmp_path / "branch") as sim:
            since = sim_common.la_paz_at(plan.day, 7, 50)
            branch = world_day.Branch(twin, since, since + world_day.FLOOR_WINDOW)
            branched = await world_day.play_day(sim, world, plan, world_day.traits(world, 2), config, seed=2,
                                                board=False, branch=branch)
    finally:
        clock.reset()
    day = {r["n"]: r for r in run["records"]}
    assert {r["n"]: r["wait"] for r in same.records} == {n: r["wait"] for n, r in day.items()}
    before = [r for r in branched.records if r["called"] and r["called"] < "07:50"]
    assert before and all(r["wait"] == day[r["n"]]["wait"] for r in before)
    watched = [r for r in branched.records if r["issued"] < "08:05"]
    assert all(r["wait"] is not None for r in watched)  # played until all of them were called
    assert any(r["wait"] != day[r["n"]]["wait"] for r in watched)


def test_the_floor_is_the_spread_of_equally_likely_waits():
    # One twin: the two waits are equally likely, the error of their expected value is
    # |a - b| / √2 for each (normal noise); a ticket without twins does not count.
    floor = world_day.clairvoyant([{"wait": 10.0, "twin_waits": [20.0]}, {"wait": 30.0, "twin_waits": [30.0]},
                                   {"wait": 5.0}])
    assert floor["n"] == 4 and floor["twins"] == 1
    assert abs(floor["mae"] - (2 * 10 / 2 ** 0.5) / 4) < 1e-9
    assert world_day.clairvoyant([{"wait": 3.0}])["n"] == 0


async def test_the_world_enters_its_drawn_pauses_as_the_days_plan(tmp_path):
    from benchmarks import sim_common
    from turnero.core import clock
    from turnero.queue import pause_plan

    world = dataclasses.replace(world_day.WORLD, desks=6)
    plan = world_day.plan_day(world, 3, world_day.DAY, 0, 0.9, None)  # a whole day: a break and lunch each
    try:
        async with sim_common.demo_office(tmp_path) as sim:
            await world_day.enter_pause_plan(sim, world, plan)
            entered = (await pause_plan.plan_view(sim.office, plan.day))["pauses"]
    finally:
        clock.reset()
    drawn = sorted((d.name, clock.local(at + timedelta(seconds=30), "America/La_Paz").strftime("%H:%M"),
                    max(1, round(minutes))) for d in plan.desks for at, minutes in d.pauses)
    assert len(drawn) == 2 * len(plan.desks)
    assert sorted((p["desk"], p["start"], p["minutes"]) for p in entered) == drawn
    assert {p["kind"] for p in entered} == {"refrigerio", "almuerzo"}


def test_what_is_unknown_at_a_branch_is_drawn_anew_and_the_rest_kept():
    # The knowable floor's twin: at 09:45 (the window until 10:00) the day so far is kept
    # — the visits issued before the window ends, the citas booked, the desks opened, the
    # pauses begun — and what nobody knows then is drawn anew from the world's draws.
    from benchmarks import sim_common

    world = dataclasses.replace(world_day.WORLD, desks=8)
    plan = world_day.plan_day(world, 2, world_day.DAY, 0, 0.95, None)
    since = sim_common.la_paz_at(plan.day, 9, 45)
    until = since + world_day.FLOOR_WINDOW
    played, later = world_day.unknown_after(world, plan, 2, 0.95, since, until, 7)
    kept = [v for v in plan.visits if v.issue < until or v.cita is not None]
    new = [v for v in played.visits if v.n >= 10 ** 6]
    assert [v for v in played.visits if v.n < 10 ** 6] == sorted(kept, key=lambda v: v.issue)
    assert new and all(v.arrival >= until and v.issue >= v.arrival and v.cita is None for v in new)
    # about as many walk-ins to come as the day had (Poisson: within a few standard deviations)
    coming = sum(1 for v in plan.visits if v.arrival >= until and v.cita is None)
    assert abs(len(new) - coming) < 5 * coming ** 0.5
    window = [sim_common.la_paz_at(plan.day, *hm) for hm in ((9, 30), (11, 15))]
    tr = world_day.traits(world, 2)
    for before, after in zip(plan.desks, played.desks):
        assert after.opens == before.opens  # every desk is open (or absent) by 09:45
        assert [p for p in after.pauses if p[0] < since] == [p for p in before.pauses if p[0] < since]
        for start, minutes in (p for p in after.pauses if p[0] >= since):
            if start < window[1]:  # the break: anywhere in what is left of its window
                assert world.break_minutes[0] <= minutes <= world.break_minutes[1]
            else:  # lunch: what is left of its group's ten minutes
                group = world_day._minutes_of(world.lunch_starts[tr.lunch_group[before.name]])
                lo = sim_common.la_paz_at(plan.day, 0, group)
                assert lo <= start <= lo + timedelta(minutes=world.lunch_jitter)
                assert world.lunch_minutes[0] <= minutes <= world.lunch_minutes[1]
    moved = [(a.pauses, b.pauses) for a, b in zip(plan.desks, played.desks) if a.pauses != b.pauses]
    assert moved  # some pause not begun by 09:45 falls elsewhere
    assert [v.n for v in later.visits] == [v.n for v in played.visits]
    assert [s.minutes for v in later.visits for s in v.steps] != [s.minutes for v in played.visits for s in v.steps]
    # At 07:30 a desk not open yet opens at some time the world could draw.
    played, _ = world_day.unknown_after(world, plan, 2, 0.95, sim_common.la_paz_at(plan.day, 7, 40),
                                        sim_common.la_paz_at(plan.day, 7, 55), 1)
    opening = sim_common.la_paz_at(plan.day, 7, 30)
    for before, after in zip(plan.desks, played.desks):
        if before.opens is not None and before.opens >= sim_common.la_paz_at(plan.day, 7, 40):
            assert opening + timedelta(minutes=10) <= after.opens <= opening + timedelta(minutes=45)
        else:
            assert after.opens == before.opens


async def test_a_knowable_twin_keeps_the_day_before_its_branch(tmp_path):
    from benchmarks import sim_common
    from turnero.core import clock
    from turnero.queue import eta_service
    from turnero.queue.config import QueueConfig

    world = dataclasses.replace(world_day.WORLD, desks=6, history_days=1)
    plan = world_day.plan_day(world, 2, world_day.DAY, 0, 0.9, 60)
    since = sim_common.la_paz_at(plan.day, 8, 0)
    played, later = world_day.unknown_after(world, plan, 2, 0.9, since, since + world_day.FLOOR_WINDOW, 3)
    eta_service.clear_cache()
    try:
        async with sim_common.demo_office(tmp_path / "day") as sim:
            config = dataclasses.replace(QueueConfig.from_settings(sim.settings), predict_waits=False)
            day = await world_day.play_day(sim, world, plan, world_day.traits(world, 2), config, seed=2, board=False)
        async with sim_common.demo_office(tmp_path / "twin") as sim:
            twin = await world_day.play_day(sim, world, played, world_day.traits(world, 2), config, seed=2,
                                            board=False, branch=world_day.Branch(later, since,
                                                                                 since + world_day.FLOOR_WINDOW))
    finally:
        clock.reset()
    waits = {r["n"]: r["wait"] for r in day.records}
    before = [r for r in twin.records if r["called"] and r["called"] < "08:00"]
    assert before and all(r["wait"] == waits[r["n"]] for r in before)
    watched = [r for r in twin.records if "08:00" <= r["issued"] < "08:15"]
    assert watched and all(r["wait"] is not None for r in watched)
    assert any(r["wait"] != waits[r["n"]] for r in watched)
    floors = await world_day.play_twins(world, 2, 0.9, 60, tmp_path / "floors", 1, unknown=True)
    assert set(floors[0]) == set(waits) and None not in floors[0].values()


def test_the_knowable_floor_needs_a_saved_run(capsys):
    import pytest

    with pytest.raises(SystemExit) as stop:
        world_day.main(["--unknown", "1", "--quick"])
    assert stop.value.code == 2 and "--from" in capsys.readouterr().err
