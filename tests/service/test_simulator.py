"""The day simulator on a short day: the real engine on a real SQLite database with a
simulated clock; its figures show the policy, the estimator and balancing at work."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import pytest

from turnero.queue import policy

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "simulate_day.py"


@pytest.fixture(scope="module")
def sim():
    spec = importlib.util.spec_from_file_location("simulate_day", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


async def scenario(sim, tmp_path, **kw) -> dict:
    plan, desks = sim.plan_day(7, short=True)
    # A stuck run fails here within a bounded time instead of holding the suite.
    result = await asyncio.wait_for(sim.run_scenario(plan, desks, directory=tmp_path, quiet=True, **kw), 120)
    return sim.summarise(result, 60, desks, sim.la_paz(7, 30))


async def test_short_day_with_the_policy_and_without_it(sim, tmp_path):
    plan, _desks = sim.plan_day(7, short=True)
    with_policy = await scenario(sim, tmp_path / "p", fcfs=False, balancing=False)
    fcfs = await scenario(sim, tmp_path / "f", fcfs=True, balancing=False)
    assert policy.choose_next is not sim.fcfs_choose_next  # restored after the FCFS run
    for figures in (with_policy, fcfs):
        # Every visit was issued and called (run_scenario also checks nobody is left waiting).
        assert figures["tickets"] == len(plan)
        assert sum(w["n"] for w in figures["waits"].values()) == len(plan)
        assert figures["eta_estimated"] == len(plan)
        assert figures["eta_mae"] <= 5.0  # the target, here on a short day
        assert 0.3 < figures["utilisation"] <= 1.0
    # The policy serves citas at their time and preferential tickets first: under
    # first-come-first-served both wait longer.
    assert with_policy["waits"]["appointment"]["mean"] < fcfs["waits"]["appointment"]["mean"]
    assert with_policy["waits"]["preferential"]["mean"] < fcfs["waits"]["preferential"]["mean"]
    assert with_policy["regular_over_limit"] == 0


async def test_short_day_with_balancing_moves_desks_through_the_engine(sim, tmp_path):
    figures = await scenario(sim, tmp_path, fcfs=False, balancing=True, threshold=5)
    assert figures["moves"] > 0
    assert figures["tickets"] == sum(w["n"] for w in figures["waits"].values())
