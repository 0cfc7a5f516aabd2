"""Exact tests of the merchant rules in sim/core/merchants.py on hand-built inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from sim.core import kernels as kn
from sim.core import merchants as mr
from sim.core import network as net
from sim.core.config import KNOWN_PLATFORMS, OriginConfig
from sim.core.population import Design, expected_size

# ------------------------------------------------------------- grey practice


def test_effective_propensity_raises_weak_reputation_and_clips():
    prop = np.array([0.2, 0.9, 0.5, 0.0])
    quality = np.array([4.4, 3.0, 5.0, 4.0])
    got = mr.effective_propensity(prop, quality, reference=4.4, slope=0.5)
    # 0.2 at the reference; 0.9 + 0.5 * 1.4 clipped to 1; no bonus above it; 0 + 0.5 * 0.4
    assert_allclose(got, [0.2, 1.0, 0.5, 0.2], rtol=0, atol=1e-12)


def test_effective_propensity_never_negative():
    got = mr.effective_propensity(np.array([0.0]), np.array([5.0]), reference=4.4, slope=3.0)
    assert_array_equal(got, [0.0])


def test_campaign_reviews_has_a_minimum():
    got = mr.campaign_reviews(
        np.array([1000.0, 10000.0, 0.0]),  # last week's sales
        np.array([20.0, 25.0, 10.0]),  # price
        0.03,  # reviews per order
        5.0,  # minimum
    )
    # 0.03 * 1000 / 20 = 1.5 -> 5; 0.03 * 10000 / 25 = 12; nothing sold -> 5
    assert_allclose(got, [5.0, 12.0, 5.0])


def _decide(p_hat, review_cost=50.0, contribution=1000.0):
    return mr.campaign_decision(
        np.array([0.5]),  # effective propensity
        np.array([contribution]),
        np.array([review_cost]),
        np.array([p_hat]),
        0.16,  # lift
        2.0,  # horizon, weeks
        26.0,  # sanction, weeks
    )[0]


def test_campaign_decision_both_sides_of_the_threshold():
    # gain 0.5 * 0.16 * 2 * 1000 = 160, cost 50 -> buys while 26 * 1000 * p < 110
    threshold = 110.0 / 26_000.0
    assert _decide(threshold - 1e-6)
    assert not _decide(threshold + 1e-6)
    assert _decide(0.0)
    # a review bill above the gain is never worth it, even with no risk
    assert not _decide(0.0, review_cost=161.0)


def test_campaign_decision_equality_is_not_enough_and_detection_caps_at_one():
    exact = mr.campaign_decision(
        np.array([1.0, 1.0]),
        np.array([100.0, 100.0]),
        np.array([0.0, 0.0]),
        np.array([0.5, 7.0]),
        0.5,  # lift
        2.0,  # horizon
        2.0,  # sanction
    )
    # gain 100 == penalty 0.5 * 2 * 100 -> no; p_hat 7 counts as 1 -> penalty 200 -> no
    assert_array_equal(exact, [False, False])
    capped = mr.campaign_decision(
        np.array([1.0]),
        np.array([100.0]),
        np.array([0.0]),
        np.array([7.0]),
        0.5,  # lift
        5.0,  # horizon
        2.0,  # sanction
    )
    # gain 250 > 1 * 2 * 100: with an uncapped p_hat (1400) the answer would be no
    assert_array_equal(capped, [True])


def test_update_inflation_one_step():
    got = mr.update_inflation(np.array([0.0, 0.1, 0.2]), np.array([True, False, True]), 0.2, 0.5)
    assert_allclose(got, [0.1, 0.05, 0.2])


def test_update_inflation_steady_state_is_the_gain():
    infl = np.zeros(1)
    for _ in range(40):
        infl = mr.update_inflation(infl, np.array([True]), 0.16, 0.5)
    assert infl[0] == pytest.approx(0.16, rel=1e-9)


def test_update_inflation_halves_weekly_after_a_campaign():
    """rho = 0.5: I_k = 0.5^k * Delta after k weeks without a campaign (He et al. 2022)."""
    gain = 0.2
    infl = np.array([gain])  # steady state of a long campaign
    seen = []
    for _ in range(6):
        infl = mr.update_inflation(infl, np.array([False]), gain, 0.5)
        seen.append(infl[0] / gain)
    assert_allclose(seen, [0.5**k for k in range(1, 7)], rtol=1e-12)
    # "gone within about 4 weeks": 6.25% left after 4 weeks, under 5% from week 5 on
    assert seen[3] == pytest.approx(0.0625)
    assert seen[4] < 0.05


# ------------------------------------------------------------- risk learning


def _hand_adjacency() -> sp.csr_matrix:
    # ties 0-1, 0-2, 1-2, 2-3; firm 4 isolated
    dense = np.zeros((5, 5))
    for a, b in [(0, 1), (0, 2), (1, 2), (2, 3)]:
        dense[a, b] = dense[b, a] = 1.0
    return sp.csr_matrix(dense)


# stores penalised (hits) and exposed (live as enforcement began) per firm and platform
HITS = np.array([[0, 0], [1, 0], [2, 1], [0, 0], [0, 0]], dtype=np.int16)
EXPOSED = np.array([[2, 1], [1, 0], [2, 3], [0, 4], [1, 1]], dtype=np.int32)


def _learn(adj, member, rate=1.0, peer_weight=1.0, risk0=0.5, hits=HITS, exposed=EXPOSED):
    """Run the compiled learning pass on a hand-made world; return risk (firms x platforms)."""
    n, P = hits.shape
    risk = np.full((P, n), risk0)
    kn.learn_risk(
        np.arange(n), adj.indptr, adj.indices, hits, np.ascontiguousarray(exposed.T),
        member, risk, rate, peer_weight,
    )  # fmt: skip
    return risk.T


def test_pooled_penalty_rate_hand_values():
    # own 1 of 2 stores, peers 2 of 6 store-weeks at weight 0.5: (1 + 1) / (2 + 3)
    assert mr.pooled_penalty_rate(1.0, 2.0, 2.0, 6.0, 0.5) == pytest.approx(0.4)
    # no peer weight: the firm's own rate per store-week
    assert mr.pooled_penalty_rate(1.0, 4.0, 3.0, 3.0, 0.0) == pytest.approx(0.25)
    # nothing observed: -1 (no update)
    assert mr.pooled_penalty_rate(0.0, 0.0, 0.0, 0.0, 0.8) == -1.0
    assert mr.pooled_penalty_rate(0.0, 0.0, 1.0, 2.0, 0.0) == -1.0


def test_risk_learning_pools_store_weeks_over_the_hand_made_graph():
    adj = _hand_adjacency()
    got = _learn(adj, np.ones(5, dtype=bool))
    by_hand = np.zeros((5, 2))
    A = adj.toarray()
    for f in range(5):
        by_hand[f] = (HITS[f] + A[f] @ HITS) / (EXPOSED[f] + A[f] @ EXPOSED)
    assert_allclose(got, by_hand, rtol=1e-12)
    # firm 0 (ties to 1 and 2): p0 (0 + 1 + 2) / (2 + 1 + 2); p1 (0 + 0 + 1) / (1 + 0 + 3)
    assert_allclose(got[0], [3 / 5, 1 / 4], rtol=1e-12)
    # isolated firm 4: its own 0 of 1 stores on each platform
    assert_allclose(got[4], [0.0, 0.0])


def test_a_member_without_exposed_peers_learns_as_a_non_member():
    """Membership never slows learning from one's own penalties (no (1 - w) discount).

    Firm 0 is a member with two ties (firms 1 and 2) and 1 of its 2 stores on
    platform 0 penalised; its peers have stores only on platform 1, none exposed
    on platform 0. It must learn its own rate 1/2 there, as a non-member does.
    The old rule ``x = (1 - w) own + w peer`` (peer share 0 when no peer is
    seen) gave ``x = 0.13 * 0.5 = 0.065`` and ``r = 0.5 + 0.3 (0.065 - 0.5) =
    0.3695`` instead of 0.5, so this test fails on it (checked below).
    """
    dense = np.zeros((3, 3))
    for a, b in [(0, 1), (0, 2)]:
        dense[a, b] = dense[b, a] = 1.0
    adj = sp.csr_matrix(dense)
    hits = np.array([[1, 0], [0, 1], [0, 0]], dtype=np.int16)
    exposed = np.array([[2, 0], [0, 3], [0, 2]], dtype=np.int32)
    w, rate, risk0 = 0.87, 0.3, 0.5
    kw = dict(rate=rate, peer_weight=w, risk0=risk0, hits=hits, exposed=exposed)
    member = _learn(adj, np.ones(3, dtype=bool), **kw)
    other = _learn(adj, np.zeros(3, dtype=bool), **kw)
    own_rate = 1 / 2
    assert other[0, 0] == pytest.approx(risk0 + rate * (own_rate - risk0))
    assert member[0, 0] == pytest.approx(other[0, 0])
    # the old (1 - w) own rule would have given 0.3695 here, not 0.5
    old = risk0 + rate * ((1.0 - w) * own_rate - risk0)
    assert old == pytest.approx(0.3695)
    assert member[0, 0] != pytest.approx(old)
    # an isolated member (the hand-made world's firm 4) also learns as a non-member
    adj5 = _hand_adjacency()
    m5 = _learn(adj5, np.ones(5, dtype=bool), rate=rate, peer_weight=w)
    o5 = _learn(adj5, np.zeros(5, dtype=bool), rate=rate, peer_weight=w)
    assert_allclose(m5[4], o5[4])
    # a non-member learns its own per-store rate: firm 2 on p0, 2 of 2 stores penalised
    assert o5[2, 0] == pytest.approx(0.5 + 0.3 * (1.0 - 0.5))
    # a platform with no exposure at all leaves the belief unchanged (firm 1 on p1, non-member)
    assert o5[1, 1] == pytest.approx(0.5)


def test_adjacency_from_edge_list_matches_hand_graph():
    # duplicates and both directions collapse to one 0/1 tie
    edges = np.array([[0, 1], [1, 0], [0, 2], [1, 2], [2, 3], [2, 3]])
    adj = net.adjacency(edges, 5)
    assert_array_equal(adj.toarray(), _hand_adjacency().toarray())
    assert_allclose(
        _learn(adj, np.ones(5, dtype=bool)), _learn(_hand_adjacency(), np.ones(5, dtype=bool))
    )


def test_update_risk_smooths_and_ignores_weeks_without_observation():
    assert mr.update_risk(0.1, 0.5, 0.5) == pytest.approx(0.3)
    assert mr.update_risk(0.1, 0.0, 1.0) == pytest.approx(0.0)
    assert mr.update_risk(0.1, -1.0, 0.5) == pytest.approx(0.1)


def test_age_evidence_decays_geometrically_and_adds_purchases():
    keep = 0.5 ** (1 / 26)
    e = np.array([100.0])
    for _ in range(26):
        e = mr.age_evidence(e, 0.0, keep)
    assert e[0] == pytest.approx(50.0)
    assert mr.age_evidence(10.0, 5.0, 0.9) == pytest.approx(14.0)


def test_perceived_detection_scales_and_caps():
    got = mr.perceived_detection(np.array([0.01, 0.3, 0.0]), 5.0)
    assert_allclose(got, [0.05, 1.0, 0.0])


# ----------------------------------------------------------- portfolio choice

LISTED3 = np.array([[True, False, True], [False, False, False], [True, True, True]])
COST3 = np.array([100.0, 50.0, 10.0])


def test_channel_costs_grow_with_number_of_channels():
    assert_allclose(
        mr.channel_costs(LISTED3, COST3, exponent=1.0),
        [[200.0, 0.0, 20.0], [0.0, 0.0, 0.0], [300.0, 150.0, 30.0]],
    )
    r2 = math.sqrt(2.0)
    assert_allclose(
        mr.channel_costs(LISTED3[:1], COST3, exponent=0.5), [[100.0 * r2, 0.0, 10.0 * r2]]
    )
    # gamma = 0: no diseconomy of multi-homing
    assert_allclose(mr.channel_costs(LISTED3, COST3, exponent=0.0), np.where(LISTED3, COST3, 0))


def test_marginal_channel_costs_hand_values():
    got = mr.marginal_channel_costs(LISTED3, COST3, exponent=1.0)
    # row 0 adds channel 1 as its third: 50 * 3 + (100 + 10) * (3 - 2) = 260
    assert_allclose(got, [[200.0, 260.0, 20.0], [100.0, 50.0, 10.0], [300.0, 150.0, 30.0]])


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0, 1.7])
def test_marginal_cost_of_unlisted_channel_is_total_cost_difference(exponent):
    rng = np.random.default_rng(3)
    listed = rng.random((40, 4)) < 0.5
    cost = np.array([100.0, 80.0, 150.0, 50.0])
    marginal = mr.marginal_channel_costs(listed, cost, exponent)
    total = mr.channel_costs(listed, cost, exponent).sum(axis=1)
    for q in range(4):
        plus = listed.copy()
        plus[:, q] = True
        diff = mr.channel_costs(plus, cost, exponent).sum(axis=1) - total
        unl = ~listed[:, q]
        assert_allclose(marginal[unl, q], diff[unl], rtol=1e-12)


def test_expected_weekly_profit_hand_values():
    # positional (compiled rule): G, price, n, m_p, F_p, o_p, C_p
    got = mr.expected_weekly_profit(
        np.array([[1000.0, 0.0], [500.0, 2000.0]]),
        np.array([20.0, 25.0])[:, None],
        np.array([[2, 1], [1, 3]]),
        np.array([0.2, 0.3]),
        np.array([10.0, 0.0]),
        np.array([0.0, 0.3]),
        np.array([[50.0, 40.0], [50.0, 40.0]]),
    )
    # 200 - 2*10 - 50; 0 - 40; 100 - 10 - 50; 600 - 0.3 * 2000/25 - 40
    assert_allclose(got, [[130.0, -40.0], [40.0, 536.0]])


def test_penalty_hazard_hand_values():
    got = mr.penalty_hazard(np.array([[0.1, 0.5], [0.4, 0.9]]), np.array([0.5, 2.0])[:, None])
    assert_allclose(got, [[0.05, 0.25], [0.8, 1.0]])


def test_penalty_loss_hand_values():
    # positional: profit, expected weekly payout, stores, S, held weeks, forfeited share,
    # onboarding
    got = mr.penalty_loss(
        np.array([[100.0, -50.0]]),
        np.array([[1000.0, 400.0]]),
        np.array([[2, 1]]),
        26.0,
        np.array([2.0, 1.0]),
        np.array([0.5, 0.0]),
        np.array([6000.0, 3000.0]),
    )
    # 26 * 100 + 0.5 * 2 * 1000 + 6000 * 2; a loss-making channel loses no profit, and a
    # hold that is always released costs nothing
    assert_allclose(got, [[15600.0, 3000.0]])


def test_expected_payout_is_sales_minus_platform_charges():
    got = mr.expected_payout(
        np.array([[1000.0, 500.0]]),
        np.array([[20.0]]),
        np.array([[2, 1]]),
        np.array([0.15, 0.0]),
        np.array([0.2, 0.1]),
        np.array([0.0, 0.5]),
        np.array([10.0, 0.0]),
    )
    # 1000 - (150 + 200 + 0 + 2 * 10); 500 - (0 + 50 + 0.5 * 25 + 0)
    assert_allclose(got, [[630.0, 437.5]])


def test_risk_adjusted_value_hand_values():
    got = mr.risk_adjusted_value(
        np.array([[100.0, -50.0]]), np.array([[0.01, 0.1]]), np.array([[16600.0, 3400.0]])
    )
    assert_allclose(got, [[-66.0, -390.0]])


def test_insurance_value_hand_values():
    at_risk = mr.expected_enforcement_loss(
        np.array([[0.01, 0.02, 0.5], [0.01, 0.02, 0.5]]),
        np.array([[1000.0, 2000.0, 100.0], [1000.0, 2000.0, 100.0]]),
        np.array([[True, False, False], [False, False, False]]),
    )
    got = mr.insurance_value(
        np.array([[100.0, 300.0, -20.0], [100.0, 300.0, -20.0]]), at_risk[:, None], 2.0
    )
    # row 0 is exposed 0.01 * 1000 = 10 a week on its one channel; row 1 has nothing to insure
    assert_allclose(got, [[20.0, 20.0, 0.0], [0.0, 0.0, 0.0]])


def test_join_value_hand_values():
    # positional: V, B, H, omega_o, one-off cost, one-off gain
    got = mr.join_value(
        np.array([[10.0, -5.0]]),
        np.array([[2.0, 3.0]]),
        52.0,
        np.array([1.5])[:, None],
        np.array([[6000.0, 3000.0]]),
        np.array([[0.0, 500.0]]),
    )
    # 52 * (15 + 2) - 6000; 52 * (-7.5 + 3) - 3000 + 500
    assert_allclose(got, [[-5116.0, -2734.0]])


def _terms(one_off_cost: np.ndarray) -> np.ndarray:
    """``JOIN_TERMS`` rows for which ``join_value_at(G) = G - one_off_cost``."""
    cols = dict.fromkeys(mr.JOIN_TERMS, 0.0)
    cols.update(price=20.0, n_stores=1.0, margin_rate=1.0, horizon_weeks=1.0, willingness=1.0)
    rows = np.array([[cols[k] for k in mr.JOIN_TERMS]] * one_off_cost.size)
    rows[:, mr.JOIN_TERMS.index("one_off_cost")] = one_off_cost
    return rows


def test_join_value_at_composes_the_rules():
    t = _terms(np.array([30.0]))[0]
    assert mr.join_value_at(50.0, *t) == pytest.approx(20.0)
    # the rules one by one, on a profitable risky channel with a fee holiday
    args = dict(zip(mr.JOIN_TERMS, t, strict=True))
    args.update(hazard=0.01, sanction_weeks=26.0, referral_rate=0.15, holiday_weeks=4.0)
    args.update(exposure_loss=5.0, aversion=0.5, cash_in=100.0, onboarding=200.0)
    g = 50.0
    profit = g * 1.0 - 0.0 - 0.0 - 0.0
    payout = g - 0.15 * g
    loss = 26.0 * profit + 0.0 * payout + 200.0 * 1.0
    value = profit - 0.01 * loss
    gain = 100.0 + 4.0 * 0.15 * g
    want = 1.0 * (1.0 * value + 0.5 * min(profit, 5.0)) - 30.0 + gain
    assert mr.join_value_at(g, *[args[k] for k in mr.JOIN_TERMS]) == pytest.approx(want)


def test_anticipated_base_hand_example():
    """Five candidates of mass 10 on platform 0 (base 100, demand 1,000).

    At an anticipated base ``W`` a candidate's others weigh ``W - 10`` and its
    own stores 10, so its expected sales are ``1000 / W``: it joins while they
    exceed its one-off cost, i.e. while ``W`` is below its cutoff 105, 115, 125,
    135 or 200. At ``W`` in [115, 125) 30 join (100 + 30 > W); at 125 only the
    last two do (100 + 20 <= 125): the anticipated base is 125. Platform 1 has
    a candidate that never joins: its base stays.
    """
    cutoffs = np.array([105.0, 115.0, 125.0, 135.0, 200.0, 1.0])
    cost = 1000.0 / cutoffs
    platform = np.array([0, 0, 0, 0, 0, 1])
    n = platform.size
    base = np.array([100.0, 50.0])
    mass = np.full(n, 10.0)
    got = mr.anticipated_base(
        base, platform, mass, np.full(n, 1000.0), np.ones(n), np.full(n, 10.0),
        _terms(cost), 60, 1e-9,
    )  # fmt: skip
    assert got[0] == pytest.approx(125.0, rel=1e-8)
    assert got[0] >= 125.0  # the smallest base at which the joiners fit, from above
    assert got[1] == 50.0
    # nobody wants to join: nothing to anticipate
    none = mr.anticipated_base(
        base, platform, mass, np.full(n, 1.0), np.ones(n), np.full(n, 10.0),
        _terms(cost), 60, 1e-9,
    )  # fmt: skip
    assert_array_equal(none, base)


def test_choice_probability_hand_values_and_best_only():
    cand = np.array([[True, True, False, True], [False, False, False, False]])
    value = np.array([[5.0, 9.0, 1.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
    vetting = np.array([0.5, 0.2, 0.9, 0.4])
    got = mr.choice_probability(cand, value, vetting)
    # best first: q1 passes 0.2; q0 when q1 fails 0.8 * 0.5; q3 when both fail
    assert_allclose(got, [[0.4, 0.2, 0.0, 0.16], [0.0, 0.0, 0.0, 0.0]])
    # the same as vetting draws followed by best_only, in frequency
    rng = np.random.default_rng(3)
    u = rng.random((200_000, 4))
    joined = mr.best_only(cand[[0] * u.shape[0]] & (u < vetting), value[[0] * u.shape[0]])
    assert_allclose(joined.mean(axis=0), got[0], atol=0.004)
    # ties: the lower platform index ranks first, as in best_only
    tie = mr.choice_probability(np.array([[True, True]]), np.array([[3.0, 3.0]]), vetting[:2])
    assert_allclose(tie, [[0.5, 0.2 * 0.5]])
    assert mr.best_only(np.array([[True, True]]), np.array([[3.0, 3.0]])).tolist() == [
        [True, False]
    ]


# -------------------------------------------------------------- attributes

N_KNOWN = len(KNOWN_PLATFORMS)


def _draw(oc: OriginConfig, n: int = 20001, seed: int = 11, initial: bool = False):
    design = Design.solve(n * 100.0, n, oc.size_pareto_alpha, oc.size_max, 0.05)
    return mr.draw_attributes(oc, n, np.random.default_rng(seed), N_KNOWN, design, initial)


def _real_mean(a: dict, key: str) -> float:
    """Mean over the real firms the model firms stand for (weights)."""
    return float((a["weight"] * a[key]).sum() / a["weight"].sum())


def test_draw_attributes_ranges_and_shapes():
    oc = OriginConfig()
    a = _draw(oc)
    n = 20001
    assert set(a) == {
        "size",
        "weight",
        "quality",
        "price",
        "propensity",
        "extra_stores",
        "u_member",
        "u_listing",
    }
    assert all(v.shape[0] == n for v in a.values())
    assert a["u_listing"].shape == (n, N_KNOWN)
    # Pareto with median 1 (over real firms), bounded by size_max
    order = np.argsort(a["size"])
    cum = np.cumsum(a["weight"][order]) / a["weight"].sum()
    assert a["size"][order][np.searchsorted(cum, 0.5)] == pytest.approx(1.0, rel=0.03)
    assert a["size"].min() >= 2.0 ** (-1.0 / oc.size_pareto_alpha)
    assert a["size"].max() <= oc.size_max
    assert ((a["quality"] >= 1.0) & (a["quality"] <= 5.0)).all()
    assert ((a["propensity"] >= 0.0) & (a["propensity"] <= 1.0)).all()
    assert a["propensity"].mean() == pytest.approx(oc.grey_propensity_mean, abs=0.01)
    assert a["price"].mean() == pytest.approx(oc.price_mean_usd, rel=0.02)
    assert a["extra_stores"].dtype == np.int16
    assert (a["extra_stores"] >= 0).all()
    # entrants are a Poisson sample: weights average N / n
    assert a["weight"].mean() == pytest.approx(100.0, rel=0.05)


def test_draw_attributes_quality_is_clipped_to_stars():
    oc = OriginConfig(quality_mean=4.5, quality_sd=2.0)
    q = _draw(oc)["quality"]
    assert q.min() == 1.0
    assert q.max() == 5.0
    assert (q == 5.0).mean() > 0.3  # N(4.5, 2) is above 5 in 40% of draws


@pytest.mark.parametrize("mean", [0.0, 1.0])
def test_draw_attributes_degenerate_propensity(mean):
    got = _draw(OriginConfig(grey_propensity_mean=mean), n=50)["propensity"]
    assert_array_equal(got, np.full(50, mean))


def test_draw_attributes_same_generator_same_output():
    a = _draw(OriginConfig(), n=500, seed=5)
    b = _draw(OriginConfig(), n=500, seed=5)
    c = _draw(OriginConfig(), n=500, seed=6)
    for key in a:
        assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["size"], c["size"])


def test_draw_attributes_common_random_numbers_across_parameters():
    """A parameter change moves attributes monotonically: the base draws are shared."""
    lo = _draw(OriginConfig(size_pareto_alpha=1.1, grey_propensity_mean=0.2), n=2000)
    hi = _draw(OriginConfig(size_pareto_alpha=2.0, grey_propensity_mean=0.6), n=2000)
    assert_array_equal(np.argsort(lo["size"]), np.argsort(hi["size"]))
    assert_array_equal(lo["quality"], hi["quality"])
    assert_array_equal(lo["u_member"], hi["u_member"])
    assert_array_equal(lo["u_listing"], hi["u_listing"])
    assert (hi["propensity"] >= lo["propensity"]).all()


def test_expected_size_matches_the_truncated_pareto_mean():
    alpha = 2.5
    assert expected_size(alpha) == pytest.approx(alpha * 2 ** (-1 / alpha) / (alpha - 1))
    assert expected_size(alpha, 1e12) == pytest.approx(expected_size(alpha), rel=1e-9)
    oc = OriginConfig(size_pareto_alpha=1.16, size_max=4000.0)
    for initial in (True, False):  # stratified sample and Poisson sample
        a = _draw(oc, n=200_001, initial=initial)
        assert _real_mean(a, "size") == pytest.approx(expected_size(1.16, 4000.0), rel=0.03)


def test_exit_leave_and_new_account_rules_hand_values():
    # exposure: g + (1 - g) c
    assert_allclose(mr.risk_exposure(np.array([0.0, 0.5, 1.0]), 0.2), [0.2, 0.6, 1.0])
    # new account: H pi - c_new > 0 and cash > c_new
    got = mr.new_account_worth_it(
        np.array([100.0, 10.0, 100.0]), 52.0, 1000.0, np.array([2000.0, 2000.0, 900.0])
    )
    assert got.tolist() == [True, False, False]
    # leave: listed, V < 0, and (L >= threshold or pi > 0)
    got = mr.leave_decision(
        np.array([True, True, True, False]),
        np.array([-1.0, -1.0, -1.0, -1.0]),
        np.array([8, 2, 2, 8], dtype=np.int16),
        8,
        np.array([-5.0, -5.0, 5.0, 5.0]),
    )
    assert got.tolist() == [True, False, True, False]
    # bankruptcy: cash < -B C
    got = mr.bankrupt(np.array([-100.0, -99.0]), 2.0, np.array([50.0, 50.0]))
    assert got.tolist() == [False, False]  # exactly -B C is not yet bankrupt
    assert mr.bankrupt(np.array([-100.1]), 2.0, np.array([50.0])).tolist() == [True]
