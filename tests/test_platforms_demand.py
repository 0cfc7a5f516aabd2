"""Platforms (fees, appeal, trust, demand split) and within-platform buyer choice."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL, compose, step_all
from numpy.testing import assert_allclose, assert_array_equal

from sim.core.config import ConfigError, PlatformConfig, validate
from sim.core.demand import (
    allocate,
    experienced_value,
    harm_per_order,
    store_weight,
    true_weight_factor,
    utils_to_usd,
)
from sim.core.model import MarketModel
from sim.core.platforms import (
    launch_ramp,
    platform_appeal,
    referral_rate_at,
    responsive_subsidy,
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


# ------------------------------------------------------- consumers: welfare and harm


def test_harm_per_order_hand_values():
    beta = 0.74
    # two stores with order shares 0.6 / 0.4, the first inflated by 0.2 stars
    pi = np.array([0.6, 0.4])
    infl = np.array([0.2, 0.0])
    ratio = float((pi * true_weight_factor(infl, beta)).sum())
    mean = float((pi * infl).sum())
    want = math.log(0.6 * math.exp(-beta * 0.2) + 0.4) + beta * 0.12
    assert harm_per_order(ratio, mean, beta) == pytest.approx(want, rel=1e-12)
    assert want > 0
    # no inflation, no harm; a platform without sales has none
    assert harm_per_order(1.0, 0.0, beta) == 0.0
    assert harm_per_order(0.0, 0.0, beta) == 0.0
    # equal inflation everywhere misleads nobody about the ranking: no mis-choice
    r = float(true_weight_factor(0.3, beta))
    assert harm_per_order(r, 0.3, beta) == pytest.approx(0.0, abs=1e-15)


def test_harm_is_the_welfare_gap_of_choosing_on_displayed_ratings():
    """``h`` equals informed minus misinformed expected experienced utility, by brute force.

    Gumbel taste shocks: buyers pick the store maximising decision utility
    ``v_d + e``, then experience ``v_t + e``; the mean over many buyers minus the
    informed choice's mean is the harm (Leggett 2002).
    """
    rng = np.random.default_rng(3)
    beta = 0.74
    v_t = np.array([0.0, -0.3, 0.4, 0.1])
    infl = np.array([0.0, 1.5, 0.0, 0.8])
    v_d = v_t + beta * infl
    e = rng.gumbel(size=(400_000, v_t.size))
    pick_d = np.argmax(v_d + e, axis=1)
    pick_t = np.argmax(v_t + e, axis=1)
    rows = np.arange(e.shape[0])
    mis = (v_t[pick_d] + e[rows, pick_d]).mean()
    informed = (v_t[pick_t] + e[rows, pick_t]).mean()
    w = np.exp(v_d)
    pi = w / w.sum()
    h = harm_per_order((pi * true_weight_factor(infl, beta)).sum(), (pi * infl).sum(), beta)
    assert informed - mis == pytest.approx(h, abs=0.004)
    assert h > 0.05  # big enough for the comparison to mean something
    # and V = ln W - beta Ibar is the misinformed buyers' mean experienced utility
    # (Gumbel mean: Euler's constant; unpaired, so the Monte Carlo error is ~0.002)
    v = experienced_value(w.sum(), (pi * infl).sum(), beta)
    assert mis - np.euler_gamma == pytest.approx(v, abs=0.01)


def test_utils_to_usd():
    # a loss of 0.01 utils at beta_p = 1.5: the share 1 - exp(-0.01 / 1.5) of spending
    assert utils_to_usd(0.01, 3000.0, 1.5) == pytest.approx(3000.0 * (1 - math.exp(-0.01 / 1.5)))
    assert utils_to_usd(0.01, 3000.0, 1.5) == pytest.approx(20.0, rel=0.004)  # ~ G h / beta_p
    assert math.isnan(utils_to_usd(0.01, 3000.0, 0.0))
    assert experienced_value(0.0, 0.0, 0.74) == 0.0  # no store: 0, as other shares


def _harm_oracle(m):
    """Per-platform harm, value and money from the store table after a week's sales.

    Order shares from the booked sales (``omega_f G_s``, proportional to the
    logit weights), the value from the store weights recomputed with
    ``demand.store_weight``: a path independent of the compiled kernel's sums.
    """
    b = m.cfg.behaviour
    st, f = m.stores, m.firms
    live = np.flatnonzero(np.isin(st.status[: st.n], (ACTIVE, WARNED)))
    firm, plat = st.firm[live], st.platform[live]
    infl = st.inflation[live]
    g = f.weight[firm] * st.gmv[live]
    n_act = m.firms.n_act[plat, firm]
    w = f.weight[firm] * store_weight(
        f.size[firm], n_act, f.quality[firm] + infl, f.price[firm],
        b.rating_sensitivity_per_star, b.price_sensitivity, b.store_count_exponent,
    )  # fmt: skip
    out = []
    for p in range(m.P):
        on = plat == p
        if g[on].sum() <= 0:
            out.append((0.0, math.nan, 0.0))
            continue
        pi = g[on] / g[on].sum()
        ib = (pi * infl[on]).sum()
        beta = b.rating_sensitivity_per_star
        h = math.log((pi * np.exp(-beta * infl[on])).sum()) + beta * ib
        v = math.log(m.scale * w[on].sum()) - beta * ib
        out.append((h, v, g[on].sum() * (1.0 - math.exp(-h / b.price_sensitivity))))
    return np.array(out)


def test_model_records_the_consumer_harm_of_its_stores(small_cfg):
    m = MarketModel(small_cfg)
    phase = m._demand_and_accounts
    seen = []

    def checked_phase():
        phase()
        want = _harm_oracle(m)  # the store table as the week's sales left it
        got = np.stack([m.harm_per_order, m.consumer_value, m.harm_usd], axis=1)
        has = ~np.isnan(want[:, 1])
        assert_allclose(got[has, :2], want[has, :2], rtol=1e-9, atol=1e-12)
        money = 1e-9 * max(np.abs(want[has, 2]).max(), 1.0)
        assert_allclose(got[has, 2], want[has, 2], rtol=1e-9, atol=money)
        assert (got[~has] == 0).all()
        seen.append(got[has, 0].max())

    def recorded(model):
        # a platform column: what the phase computed, the same on both origin rows
        R, t = model.recorder.data, model.t
        for key, arr in (
            ("consumer_harm_per_order", model.harm_per_order),
            ("consumer_value", model.consumer_value),
            ("consumer_harm_usd", model.harm_usd),
        ):
            assert_array_equal(R[key][t, :, 0], arr)
            assert_array_equal(R[key][t, :, 1], arr)

    m._demand_and_accounts = checked_phase
    step_all(m, recorded)
    assert len(seen) == m.n_steps
    assert max(seen) > 0  # some fake reviews: some harm, so the check compared non-zeros


def test_no_fake_reviews_no_consumer_harm():
    cfg = compose(
        *SMALL,
        "merchants.origins.CN.grey_propensity_mean=0",
        "merchants.origins.other.grey_propensity_mean=0",
        "behaviour.reputation_weakness_slope=0",
    )
    res = run(cfg)
    ts = res.timeseries
    assert (ts["consumer_harm_usd"] == 0).all() and (ts["consumer_harm_per_order"] == 0).all()
    assert res.summary["consumer_harm_usd_real"] == 0.0
    default = run(compose(*SMALL))
    assert default.summary["consumer_harm_usd_real"] > 0
    # summary = the platform column counted once per week (one origin row) x scale
    ts, scale = default.timeseries, default.config.merchants.scale
    one = ts[ts["origin"] == "CN"]
    for p, rows in one.groupby("platform"):
        for col in ("consumer_harm_usd", "platform_net_revenue_usd"):
            got = default.summary[f"{col}_real_{p}"]
            assert got == pytest.approx(rows[col].sum() * scale, rel=1e-12), (col, p)
    assert default.summary["consumer_harm_usd_real"] == pytest.approx(
        one["consumer_harm_usd"].sum() * scale, rel=1e-12
    )
    # buyers ignoring price: no money value, said as null
    free = run(compose(*SMALL, "behaviour.price_sensitivity=0"))
    assert free.summary["consumer_harm_usd_real"] is None


# ------------------------------------------------------- managed platforms (Temu)

#: a small world that runs past Temu's launch (Sept 2022) into 2024
MANAGED_WORLD = ("merchants.count=400", "time.spinup_weeks=4", "time.end_date=2024-12-30")


def _temu_watch(cfg):
    """Run ``cfg``; per week, Temu's campaigning stores and listed firms by origin."""
    m = MarketModel(cfg)
    temu = m.platform_names.index("temu")
    weeks = []

    def watch(model):
        st, f = model.stores, model.firms
        n = st.n
        on = (st.platform[:n] == temu) & np.isin(st.status[:n], (ACTIVE, WARNED))
        origin = f.origin[st.firm[:n][on]]
        weeks.append(
            (
                model.t,
                int(st.campaign[:n][on].sum()),
                int((origin == 0).sum()),
                int((origin == 1).sum()),
            )
        )

    step_all(m, watch)
    return m, np.array(weeks)


def test_temu_is_managed_by_default():
    cfg = compose(*MANAGED_WORLD)
    assert cfg.platforms["temu"].business_model == "managed"
    assert cfg.platforms["temu"].admitted_origins == ["CN"]
    _, w = _temu_watch(cfg)
    assert w[:, 2].max() > 0  # CN suppliers do sell on Temu
    assert w[:, 1].sum() == 0  # ... but never buy reviews there
    assert w[:, 3].sum() == 0  # and no other-origin seller is admitted
    ts = run(cfg).timeseries
    temu = ts[ts["platform"] == "temu"]
    assert (temu["grey_stores"] == 0).all() and (temu["consumer_harm_usd"] == 0).all()
    assert (temu.loc[temu["origin"] == "other", "listed_merchants"] == 0).all()


def test_managed_levers_change_who_sells_and_cheats_on_temu():
    # semi-managed mode: other origins admitted from its date, not before
    cfg = compose(*MANAGED_WORLD, "platforms.temu.semi_managed_date=2023-06-05")
    m, w = _temu_watch(cfg)
    start = m.calendar.first_step_on_or_after("2023-06-05")
    assert w[w[:, 0] < start, 3].sum() == 0
    assert w[w[:, 0] >= start, 3].max() > 0
    assert w[:, 1].sum() == 0  # listings and reviews stay the platform's
    # as a marketplace, Temu's sellers of both origins come, and some buy reviews
    _, w = _temu_watch(compose(*MANAGED_WORLD, "platforms.temu.business_model=marketplace"))
    assert w[:, 1].sum() > 0 and w[:, 3].max() > 0


def test_policy_may_not_audit_a_managed_platform():
    with pytest.raises(ConfigError, match="temu is a managed platform"):
        validate(compose("policy.enforcement.temu.audit_probability_per_week=0.01"))
    validate(
        compose(
            "policy.enforcement.temu.audit_probability_per_week=0.01",
            "platforms.temu.business_model=marketplace",
        )
    )
    with pytest.raises(ConfigError, match="choose one of marketplace, managed"):
        validate(compose("platforms.temu.business_model=franchise"))
    with pytest.raises(ConfigError, match="admitted_origins"):
        validate(compose("platforms.temu.admitted_origins=[US]"))


# --------------------------------------------------- responsive subsidies, net revenue


def test_responsive_subsidy_hand_values():
    # 60% of the leader's sellers, aiming to match it: base + 0.4 x 2,000
    assert responsive_subsidy(500.0, 2000.0, 1.0, 0.6, 10000.0) == pytest.approx(1300.0)
    # aiming at half the leader: 0.4 / 0.5 = 20% short
    assert responsive_subsidy(500.0, 2000.0, 0.5, 0.4, 10000.0) == pytest.approx(900.0)
    assert responsive_subsidy(500.0, 2000.0, 1.0, 1.3, 10000.0) == 500.0  # ahead
    assert responsive_subsidy(0.0, 50000.0, 1.0, 0.0, 10000.0) == 10000.0  # capped
    assert responsive_subsidy(700.0, 2000.0, 1.0, 0.1, 100.0) == 700.0  # never below base


RACE = (
    "merchants.count=400",
    "time.spinup_weeks=4",
    "time.end_date=2024-06-24",
    "platforms.ebay.subsidy_response=seller_share",
    "platforms.aliexpress.subsidy_response=seller_share",
)


def test_subsidy_race_and_platform_net_revenue():
    """Responding platforms pay more the further their seller count falls behind
    their largest rival's; the subsidy in force is what joiners receive and what the
    platform's net revenue subtracts."""
    m = MarketModel(compose(*RACE))
    ebay = m.platform_names.index("ebay")
    start = m.platform_agents[ebay].subsidy_step
    seen = []

    def watch(model):
        p = model.platform_agents[ebay]
        if model.t > start:  # set_fees read last week's shares
            R = model.recorder.data
            last = R["listed_merchants"][model.t - 1].sum(axis=1)
            ratio = last[ebay] / np.delete(last, ebay).max()
            c = p.cfg
            want = responsive_subsidy(
                c.new_seller_subsidy_usd, c.subsidy_response_usd, c.subsidy_target_ratio,
                ratio, c.subsidy_max_usd,
            )  # fmt: skip
            assert p.subsidy == pytest.approx(want, rel=1e-12)
        seen.append(p.subsidy)

    step_all(m, watch)
    assert max(seen) > 0
    R = m.recorder.data
    # recorded: the subsidy in force; net revenue = fees - enforcement cost - subsidies
    assert_array_equal(R["new_seller_subsidy_usd"][:, ebay, 0], seen)
    net = (
        R["fee_revenue"].sum(axis=2)
        - R["enforcement_cost_usd"][:, :, 0]
        - R["new_seller_subsidy_usd"][:, :, 0] * R["joins"].sum(axis=2)
    )
    assert_allclose(R["platform_net_revenue_usd"][:, :, 0], net, rtol=1e-12, atol=1e-9)
    assert_array_equal(
        R["platform_net_revenue_usd"][:, :, 0], R["platform_net_revenue_usd"][:, :, 1]
    )
    # paid as recorded: the platform part of subsidy_usd (no public subsidy on eBay)
    assert_allclose(
        R["subsidy_usd"][:, ebay].sum(axis=1),
        R["new_seller_subsidy_usd"][:, ebay, 0] * R["joins"][:, ebay].sum(axis=1),
        rtol=1e-12,
        atol=1e-9,
    )
    fixed = run(compose(*RACE[:3])).summary  # no response
    assert (
        fixed["platform_seller_counts_end"]
        != run(compose(*RACE)).summary["platform_seller_counts_end"]
    )
