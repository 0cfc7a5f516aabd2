"""Paired before the shock: every policy preset equals ``policy=none`` until its own start.

Composes *every* preset on disk (a future preset cannot escape the check) and
compares it with ``policy=none`` at the same seed and replicate: every row of
the weekly table and of the flows dated before the preset's earliest
enforcement start must be identical, and so must every summary value taken
before the crackdown. A preset that audits or deletes reviews before its start
(e.g. a rival platform with ``baseline_intensity > 0``) fails here.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from sim import run
from sim.core.config import EnforcementConfig
from sim.engine.compose import compose_config, group_options
from sim.engine.sweep import RunSpec, simulate

# small world, recorded from 2020-01-06 until a quarter past the 2021 crackdown
PAIRING = ("merchants.count=600", "time.spinup_weeks=8", "time.end_date=2021-08-02")


def preset_start(policy: str) -> dt.date:
    """Earliest start date of the preset's enforcement entries that do anything."""
    cfg = compose_config([f"policy={policy}", *PAIRING])
    inert = EnforcementConfig()
    starts = [
        dt.date.fromisoformat(e.start_date)
        for e in cfg.policy.enforcement.values()
        if e != inert and (e.audit_probability_per_week > 0 or e.review_deletion_rate > 0)
    ]
    assert starts, f"policy={policy} enforces nothing"
    return min(starts)


@pytest.fixture(scope="module")
def none_run():
    return run(compose_config(["policy=none", *PAIRING]))


ENFORCING = [p for p in group_options("policy") if p != "none"]


@functools.lru_cache(maxsize=16)
def simulated(policy: str, snapshots: tuple[str, ...]) -> dict:
    """A run as a study stores it (with the portfolio table between two snapshots)."""
    cfg = compose_config([f"policy={policy}", *PAIRING])
    spec = RunSpec(f"pair-{policy}", 0, policy, 0, {}, cfg, list(snapshots))
    return simulate(spec)


@pytest.mark.parametrize("policy", ENFORCING)
def test_every_policy_preset_is_none_before_its_own_start(policy):
    """Every stored table before the start: weekly rows, flows, summary values taken
    before the crackdown, and firms' platform portfolios between two snapshots
    (the study table of transitions) dated before the start."""
    start = pd.Timestamp(preset_start(policy))
    snaps = ("2020-06-29", (start - pd.Timedelta(weeks=1)).date().isoformat())
    base, res = simulated("none", snaps), simulated(policy, snaps)
    for table in ("timeseries", "flows"):
        a, b = base[table], res[table]
        a = a[a["date"] < start].reset_index(drop=True)
        b = b[b["date"] < start].reset_index(drop=True)
        assert len(a) > 0
        assert_frame_equal(a, b, check_exact=True)
    a, b = base["portfolios"], res["portfolios"]
    assert a is not None and len(a) > 0 and (a["date_to"] < start).all()
    assert (a["portfolio_from"] != a["portfolio_to"]).any()  # firms did move
    assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)
    for key, value in base["summary"].items():
        if key.endswith("_before_crackdown"):
            assert res["summary"][key] == value, key
    # ... and the preset does act after its start (otherwise the check is empty)
    after_a = base["timeseries"][base["timeseries"]["date"] >= start]
    after_b = res["timeseries"][res["timeseries"]["date"] >= start]
    assert after_b["audits"].sum() > 0
    assert not after_a.reset_index(drop=True).equals(after_b.reset_index(drop=True))


def test_pairing_check_catches_enforcement_before_the_start(none_run):
    """The check is not empty: background audits on a rival before the start break it."""
    res = run(
        compose_config(
            [
                "policy=coordinated",
                "policy.enforcement.ebay.baseline_intensity=0.2",
                *PAIRING,
            ]
        )
    )
    start = pd.Timestamp(preset_start("coordinated"))
    a = none_run.timeseries[none_run.timeseries["date"] < start].reset_index(drop=True)
    b = res.timeseries[res.timeseries["date"] < start].reset_index(drop=True)
    assert b["audits"].sum() > 0
    assert not a.equals(b)


def test_entrants_stay_paired_after_the_shock_when_firms_split():
    """Common random numbers after the shock: the entrant candidates (size, quality,
    price, propensity, week) are the same under ``none`` and ``crackdown_2021``
    although the two scenarios split different firms on joining (the split rows
    draw from their own stream, ``MarketModel._row_uniforms``). With the split
    rows' draws taken from the entry stream, the cohorts diverge from the first
    scenario-dependent split on."""
    from sim.core.model import MarketModel

    def cohorts(policy):
        m = MarketModel(
            compose_config([f"policy={policy}", "merchants.count=300", "time.spinup_weeks=4",
                            "time.end_date=2023-06-26"])
        )  # fmt: skip
        m.run()
        f = m.firms
        rows = f.born[: f.n] >= 0
        rows &= ~f.piece[: f.n]
        cols = (f.born, f.size, f.quality, f.price, f.propensity)
        return m.counts()["split_merchants"], [c[: f.n][rows] for c in cols]

    split_a, a = cohorts("none")
    split_b, b = cohorts("crackdown_2021")
    assert split_a > 0 and split_b > 0 and split_a != split_b
    assert a[0].size > 100
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
