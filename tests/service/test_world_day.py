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
