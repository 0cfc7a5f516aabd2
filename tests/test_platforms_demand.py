"""Platforms (fees, appeal, trust, demand split) and within-platform buyer choice."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import compose
from numpy.testing import assert_allclose, assert_array_equal

from sim.core.config import PlatformConfig
from sim.core.demand import allocate, store_weight
from sim.core.model import MarketModel
from sim.core.platforms import (
    launch_ramp,
    platform_appeal,
    referral_rate_at,
    split_demand,
    update_trust,
)
from sim.core.state import ACTIVE, WARNED
from sim.engine.runner import run

# ------------------------------------------------------------------- fees


def test_referral_rate_at_promotion_windows():
    cfg = PlatformConfig(name="tiktok_shop", referral_fee_rate=0.08)
    windows = [(10, 25, 0.0), (26, 38, 0.02), (39, 51, 0.06)]
    got = {t: referral_rate_at(cfg, windows, t) for t in (0, 9, 10, 25, 26, 38, 39, 51, 52, 400)}
    assert got == {
        0: 0.08,
        9: 0.08,
        10: 0.0,
        25: 0.0,
        26: 0.02,
        38: 0.02,
        39: 0.06,
        51: 0.06,
        52: 0.08,
        400: 0.08,
    }


def test_referral_rate_at_last_covering_window_wins():
    cfg = PlatformConfig(referral_fee_rate=0.15)
    assert referral_rate_at(cfg, [(0, 10, 0.01), (5, 15, 0.03)], 7) == 0.03
    assert referral_rate_at(cfg, [(0, 10, 0.01), (5, 15, 0.03)], 3) == 0.01
    assert referral_rate_at(cfg, [], 3) == 0.15


TIKTOK_RATES = {
    "2023-09-18": 0.0,  # first Monday on or after the 12 September 2023 launch
    "2023-12-25": 0.0,
    "2024-01-01": 0.02,
    "2024-03-25": 0.02,
    "2024-04-01": 0.06,
    "2024-06-24": 0.06,
    "2024-07-01": 0.08,
    "2025-06-02": 0.08,
}


def test_tiktok_shop_promotions_on_the_calendar():
    m = MarketModel(compose("merchants.count=10"))
    tt = m.platform_agents[m.platform_names.index("tiktok_shop")]
    assert tt.launch_step == m.calendar.first_step_on_or_after("2023-09-18")
    for date, rate in TIKTOK_RATES.items():
        step = m.calendar.first_step_on_or_after(date)
        assert m.calendar.date(step).isoformat() == date
        assert referral_rate_at(tt.cfg, tt.windows, step) == rate, date


def test_tiktok_shop_referral_rate_in_timeseries():
    ts = run(compose("merchants.count=30", "time.spinup_weeks=0")).timeseries
    tt = ts[(ts.platform == "tiktok_shop") & (ts.origin == "CN")].set_index("date")
    for date, rate in TIKTOK_RATES.items():
        assert tt.loc[pd.Timestamp(date), "referral_fee_rate"] == rate, date
    assert (tt.loc[tt.index < pd.Timestamp("2023-09-18"), "consumer_share"] == 0).all()
    assert tt.loc[tt.index >= pd.Timestamp("2023-09-18"), "consumer_share"].min() > 0


# ---------------------------------------------------------------- appeal


def test_launch_ramp():
    assert launch_ramp(5, 10, 4.0) == 0.0
    assert launch_ramp(10, 10, 4.0) == 0.25
    assert launch_ramp(11, 10, 4.0) == 0.5
    assert launch_ramp(13, 10, 4.0) == 1.0
    assert launch_ramp(100, 10, 4.0) == 1.0
    assert launch_ramp(10, 10, 0.0) == 1.0
    assert launch_ramp(9, 10, 0.0) == 0.0


def test_platform_appeal_hand_value():
    # 0.5 * 1.1^(52/52) * 0.5 * 4^0.5 * 0.8
    got = platform_appeal(0.5, 0.1, 52.0, 0.5, 4.0, 0.5, 0.8)
    assert got == pytest.approx(0.44)
    # growth counts from the later of launch and run start: no growth before
    assert platform_appeal(0.5, 0.1, -10.0, 1.0, 1.0, 0.3, 1.0) == pytest.approx(0.5)
    assert platform_appeal(0.5, 0.1, 104.0, 1.0, 1.0, 0.0, 1.0) == pytest.approx(0.5 * 1.21)


def test_platform_appeal_zero_before_launch_or_without_appeal():
    assert platform_appeal(0.5, 0.1, 10.0, 0.0, 1.0, 0.3, 1.0) == 0.0
    assert platform_appeal(0.0, 0.1, 10.0, 1.0, 1.0, 0.3, 1.0) == 0.0
    assert platform_appeal(0.5, 0.0, 10.0, 1.0, 1.0, 0.3, 0.0) == 0.0


def test_update_trust():
    assert update_trust(1.0, 0.2, 1.0, 0.1) == pytest.approx(0.98)
    assert update_trust(0.5, 2.0, 1.0, 1.0) == 0.0  # target clipped at 0
    assert update_trust(0.4, 0.0, 1.0, 1.0) == 1.0
    assert update_trust(0.9, 0.0, 1.0, 0.0) == 0.9  # rate 0: trust frozen
    # from full trust toward 1 - 0.3 * 0.5 = 0.85 at rate 0.5
    assert update_trust(1.0, 0.5, 0.3, 0.5) == pytest.approx(0.925)


def test_split_demand():
    ones = np.ones(4)
    assert_allclose(split_demand(1000.0, np.array([1.0, 3.0, 0.0, 0.0]), ones), [250, 750, 0, 0])
    noisy = split_demand(1000.0, np.array([1.0, 3.0]), np.array([1.1, 0.9]))
    assert_allclose(noisy, [275.0, 675.0])
    assert_array_equal(split_demand(1000.0, np.zeros(3), np.ones(3)), np.zeros(3))


# ------------------------------------------------------------ buyer choice


def test_store_weight_rating_lift_matches_he_et_al():
    """+0.16 stars gives exp(0.74 * 0.16) = 1.1257: the +12.5% sales of He et al. (2022)."""
    args = (0.74, 1.5, 0.3)  # beta_r, beta_p, theta
    base = store_weight(np.array([1.0]), np.array([1]), np.array([4.2]), np.array([20.0]), *args)
    lift = store_weight(np.array([1.0]), np.array([1]), np.array([4.36]), np.array([20.0]), *args)
    ratio = lift[0] / base[0]
    assert ratio == pytest.approx(math.exp(0.74 * 0.16), rel=1e-12)
    assert ratio == pytest.approx(1.125, abs=1e-3)


def test_store_weight_hand_values():
    got = store_weight(
        np.array([2.0, 2.0, 1.0]),  # size
        np.array([1, 4, 0]),  # active stores
        np.array([5.0, 5.0, 4.0]),  # displayed rating
        np.array([1.0, 1.0, 20.0]),  # price
        0.74,  # beta_r
        1.5,  # beta_p
        0.3,  # theta
    )
    expected = [2.0, 2.0 * 4**-0.7, math.exp(-0.74) * 20**-1.5]  # n = 0 counts as 1
    assert_allclose(got, expected, rtol=1e-12)
    # a firm's n stores together weigh size * n^theta
    assert 4 * got[1] == pytest.approx(2.0 * 4**0.3)


def test_allocate_sums_to_platform_demand_and_loses_demand_without_stores():
    demand = np.array([100.0, 50.0, 30.0, 70.0])
    platform = np.array([0, 0, 1, 2])
    weight = np.array([1.0, 3.0, 2.0, 0.0])
    gmv, totals = allocate(demand, platform, weight, 4)
    assert_allclose(gmv, [25.0, 75.0, 50.0, 0.0])
    assert_allclose(totals, [4.0, 2.0, 0.0, 0.0])
    per_platform = np.bincount(platform, weights=gmv, minlength=4)
    assert_allclose(per_platform[totals > 0], demand[totals > 0])
    # platform 2 has only a zero-weight store, platform 3 none: their demand is lost
    assert_allclose(per_platform[totals == 0], 0.0)


def test_allocate_with_no_store():
    gmv, totals = allocate(np.array([10.0, 5.0]), np.zeros(0, int), np.zeros(0), 2)
    assert gmv.shape == (0,)
    assert_array_equal(totals, [0.0, 0.0])


def test_model_books_each_platforms_demand_on_its_active_stores(small_cfg):
    m = MarketModel(small_cfg)
    booked_weeks = []
    phase = m._demand_and_accounts

    def checked_phase():
        phase()
        st = m.stores
        live = np.isin(st.status[: st.n], (ACTIVE, WARNED))
        assert (st.gmv[: st.n][~live] == 0).all()
        # each store's sales are those of one real firm; its model firm stands for omega_f
        omega = m.firms.weight[st.firm[: st.n][live]]
        booked = np.bincount(
            st.platform[: st.n][live], weights=omega * st.gmv[: st.n][live], minlength=m.P
        )
        demand = np.array([p.demand for p in m.platform_agents])
        has_weight = m.platform_weight_total > 0
        assert_allclose(booked[has_weight], demand[has_weight], rtol=1e-9)
        assert_allclose(booked[~has_weight], 0.0)
        # consumer shares sum to one and follow the platforms' appeal
        w = np.array([p.weight for p in m.platform_agents])
        assert m.consumer_share.sum() == pytest.approx(1.0)
        assert_allclose(m.consumer_share, w / w.sum())
        booked_weeks.append(booked.sum())

    m._demand_and_accounts = checked_phase
    for _ in range(6):
        m.step()
    assert len(booked_weeks) == 6 and min(booked_weeks) > 0
