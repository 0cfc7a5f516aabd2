"""Determinism and common random numbers (architecture.md, "Randomness and seeds")."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL, compose, firm_arrays
from numpy.testing import assert_array_equal
from pandas.testing import assert_frame_equal

from sim.core.model import MarketModel
from sim.engine.runner import run

CRACKDOWN = pd.Timestamp("2021-04-26")
PAIRED = ("merchants.count=300", "time.spinup_weeks=20", "time.end_date=2021-09-27")


def _no_wall(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "wall_time_s"}


def test_same_config_seed_replicate_gives_identical_outputs():
    cfg = compose(*SMALL)
    a, b = run(cfg), run(compose(*SMALL))
    assert_frame_equal(a.timeseries, b.timeseries, check_exact=True)
    assert_frame_equal(a.flows, b.flows, check_exact=True)
    assert _no_wall(a.summary) == _no_wall(b.summary)
    assert len(a.flows) > 0


def test_different_replicate_or_seed_gives_different_outputs():
    base = run(compose(*SMALL)).timeseries
    for override in ("replicate=1", "seed=1", "seed=0"):
        other = run(compose(*SMALL, override)).timeseries
        assert not base["gmv"].equals(other["gmv"]), override
        assert not base["listed_merchants"].equals(other["listed_merchants"]), override


def test_seed_zero_is_used_not_skipped():
    a = MarketModel(compose(*SMALL, "seed=0"))
    b = MarketModel(compose(*SMALL, "seed=0"))
    c = MarketModel(compose(*SMALL))
    assert a.cfg.seed == 0
    assert_array_equal(a.firms.view("size"), b.firms.view("size"))
    assert not np.array_equal(a.firms.view("size"), c.firms.view("size"))


def test_rng_argument_replaces_the_config_seed():
    cfg = compose(*SMALL)
    by_arg = MarketModel(cfg, rng=7)
    by_cfg = MarketModel(dataclasses.replace(compose(*SMALL), seed=7))
    for name, arr in firm_arrays(by_arg).items():
        assert_array_equal(arr, firm_arrays(by_cfg)[name], err_msg=name)


def _same_population(a: MarketModel, b: MarketModel) -> None:
    fa, fb = firm_arrays(a), firm_arrays(b)
    assert fa.keys() == fb.keys()
    for name in fa:
        assert_array_equal(fa[name], fb[name], err_msg=name)
    for name in ("firm", "platform", "status", "opened"):
        assert_array_equal(a.stores.view(name), b.stores.view(name), err_msg=name)
    assert_array_equal(a.edges, b.edges)


@pytest.mark.parametrize("replicate", [0, 3])
def test_initial_population_is_shared_across_policies(replicate):
    """Common random numbers: the design point never enters the seed."""
    none = MarketModel(compose(*PAIRED, "policy=none", f"replicate={replicate}"))
    crack = MarketModel(compose(*PAIRED, "policy=crackdown_2021", f"replicate={replicate}"))
    _same_population(none, crack)
    # 300 sampled, plus the association members split out of them (ODD 5)
    assert none.n0 == 300 and none.firms.n == none.counts()["initial_merchants"] > 300


@pytest.mark.parametrize(
    "lever",
    [
        "platforms.amazon.referral_fee_rate=0.10",
        "incentives.own_store_subsidy_usd=0",
        "policy=coordinated",
        "behaviour.risk_salience=50",
    ],
)
def test_initial_population_does_not_depend_on_levers(lever):
    _same_population(MarketModel(compose(*PAIRED)), MarketModel(compose(*PAIRED, lever)))


def test_initial_population_differs_by_replicate():
    a = MarketModel(compose(*PAIRED))
    b = MarketModel(compose(*PAIRED, "replicate=1"))
    assert not np.array_equal(a.firms.view("size"), b.firms.view("size"))


@pytest.fixture(scope="module")
def paired_runs():
    none = run(compose(*PAIRED, "policy=none"))
    crack = run(compose(*PAIRED, "policy=crackdown_2021"))
    return none, crack


def _before(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["date"] < CRACKDOWN].reset_index(drop=True)


def test_paired_runs_identical_before_the_crackdown(paired_runs):
    none, crack = paired_runs
    assert_frame_equal(_before(none.timeseries), _before(crack.timeseries), check_exact=True)


def test_paired_runs_identical_before_the_crackdown_but_for_fake_review_stock(paired_runs):
    """Everything a merchant or buyer acts on is paired exactly up to the start week."""
    none, crack = paired_runs
    cols = [c for c in none.timeseries.columns if c != "fake_reviews_live"]
    a, b = _before(none.timeseries)[cols], _before(crack.timeseries)[cols]
    assert len(a) == len(b) > 0
    assert_frame_equal(a, b, check_exact=True)
    assert_frame_equal(_before(none.flows), _before(crack.flows), check_exact=True)
    for key, value in none.summary.items():
        if key.endswith("_before_crackdown"):
            assert crack.summary[key] == value, key


def test_paired_runs_diverge_from_the_crackdown_week(paired_runs):
    none, crack = paired_runs
    ts_n, ts_c = none.timeseries, crack.timeseries
    amazon = ts_n["platform"] == "amazon"
    start = pd.Timestamp(CRACKDOWN)
    before = (ts_n["date"] < start) & amazon
    ramp = (ts_n["date"] >= start) & (ts_n["date"] < start + pd.Timedelta(weeks=4)) & amazon
    assert (ts_n.loc[ramp, "audits"] == 0).all()
    assert (ts_c.loc[before, "audits"] == 0).all()
    # audits begin with the crackdown (in its 4-week ramp: rare in a small population)
    assert ts_c.loc[ramp, "audits"].sum() > 0
    after = ts_n["date"] >= CRACKDOWN
    assert not ts_n.loc[after, "listed_merchants"].equals(ts_c.loc[after, "listed_merchants"])
