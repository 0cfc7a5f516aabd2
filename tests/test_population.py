"""The population design: super-individuals that never weigh more than a real firm can.

Exact properties of the sampling design (sim/core/population.py) on its own,
then the model-level properties the design exists for (issue "Model v2, part
1", item 2): no model firm owns a platform, membership in real units, and joins
onto new platforms that follow their buyers instead of rushing in at launch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import ENFORCED, compose
from numpy.testing import assert_allclose

from sim.core.model import MarketModel
from sim.core.population import (
    Design,
    expected_size,
    mass_below,
    member_coefficient,
    member_probability,
    size_at,
    split_members,
    split_pieces,
    weighted_quantile,
)
from sim.engine.runner import run

ALPHA, XMAX = 1.16, 4000.0


@pytest.mark.parametrize(("n", "N"), [(740, 185_000.0), (3150, 315_000.0), (20_000, 185_000.0)])
def test_stratified_design_weights_sum_to_the_real_firms(n, N):
    d = Design.solve(N, n, ALPHA, XMAX, 0.05)
    v, w = d.stratified(np.random.default_rng(1).random(n))
    assert w.sum() == pytest.approx(N, rel=1e-9)
    assert (np.diff(v) >= 0).all()  # stratum i is the i-th largest
    # no model firm stands for less than one real firm; the largest are single firms
    assert w.min() >= 1.0 - 1e-9
    assert w[0] == pytest.approx(1.0, abs=1e-6)
    # body: equal weights N / a
    body = v > d.tail
    assert_allclose(w[body][1:-1], N / d.body_density, rtol=1e-6)
    # the real size mass of a super-individual is capped by the body's edge (the
    # stratum straddling the certainty boundary holds a single firm, weight about 1)
    x = size_at(v, ALPHA, XMAX)
    supers = w > 1.5
    cap = N / d.body_density * d.x_star
    assert (w[supers] * x[supers] <= cap * 1.05).all()
    assert (w[~supers] < 1.5).all() and (w * x).max() <= max(cap * 1.05, XMAX * 1.5)
    # the sample's real mean size is the law's
    assert (w * x).sum() / N == pytest.approx(expected_size(ALPHA, XMAX), rel=0.01)


def test_no_tail_design_is_equal_weights():
    d = Design.solve(100_000.0, 1000, ALPHA, XMAX, 0.0)
    _, w = d.stratified(np.random.default_rng(2).random(1000))
    assert_allclose(w, 100.0)


def test_poisson_sample_of_entrants_is_unbiased():
    d = Design.solve(185_000.0, 1850, ALPHA, XMAX, 0.05)
    v, w = d.poisson(np.random.default_rng(3).random(400_000))
    assert w.mean() == pytest.approx(100.0, rel=0.02)  # E[w] = N / n
    x = size_at(v, ALPHA, XMAX)
    assert (w * x).sum() / w.sum() == pytest.approx(expected_size(ALPHA, XMAX), rel=0.03)


def test_truncated_pareto_law():
    assert size_at(0.0, ALPHA, XMAX) == pytest.approx(XMAX)
    assert size_at(0.5, ALPHA, XMAX) == pytest.approx(1.0, rel=1e-3)  # median about 1
    assert mass_below(1.0, ALPHA, XMAX) == pytest.approx(expected_size(ALPHA, XMAX))
    u = np.linspace(1e-9, 1, 2_000_001)
    assert np.trapezoid(size_at(u, ALPHA, XMAX), u) == pytest.approx(
        expected_size(ALPHA, XMAX), rel=1e-3
    )
    # untruncated mean alpha x_m / (alpha - 1)
    assert expected_size(2.5) == pytest.approx(2.5 * 2 ** (-1 / 2.5) / 1.5)


def test_member_coefficient_matches_the_target_in_real_firms():
    rng = np.random.default_rng(4)
    d = Design.solve(185_000.0, 1850, ALPHA, XMAX, 0.05)
    v, w = d.stratified(rng.random(1850))
    x = size_at(v, ALPHA, XMAX)
    c = member_coefficient(x, w, 2600.0)
    assert (w * member_probability(x, c)).sum() == pytest.approx(2600.0, rel=1e-9)
    assert member_coefficient(x, w, 0.0) == 0.0
    assert math.isinf(member_coefficient(x, w, 1e9))
    assert (member_probability(x, math.inf) == 1).all()


def test_weighted_quantile_counts_real_firms():
    values = np.array([1.0, 2.0, 3.0])
    assert weighted_quantile(values, np.array([1.0, 1.0, 98.0]), 0.5) == 3.0
    assert weighted_quantile(values, np.array([98.0, 1.0, 1.0]), 0.5) == 1.0
    assert weighted_quantile(np.zeros(0), np.zeros(0), 0.5) == math.inf


# --------------------------------------------------------------- model level

WORLD = ("merchants.count=2000",)


def _platform_shares(m: MarketModel, out: dict) -> None:
    """Per platform and recorded week: ``(t, largest share of its GMV held by one model
    firm, largest held by a row of 2+ real firms, [(share, real firms) of every row
    holding 5% or more]``)."""
    if m.t < m.spinup:
        return
    st, f = m.stores, m.firms
    n = st.n
    live = (st.status[:n] == 1) | (st.status[:n] == 2)
    firm, plat = st.firm[:n][live], st.platform[:n][live]
    g = st.gmv[:n][live] * f.weight[firm]
    for p in range(m.P):
        on = plat == p
        per = np.bincount(firm[on], weights=g[on], minlength=f.n)
        if per.sum() <= 0:
            continue
        share = per / per.sum()
        name = m.platform_names[p]
        super_ = f.weight[: f.n] * m.scale >= 2.0 - 1e-9  # stands for 2+ real firms
        big = np.flatnonzero(share >= 0.05)
        real = f.weight[big] * m.scale
        out.setdefault(name, []).append(
            (
                m.t,
                float(share.max()),
                float(share[super_].max()) if super_.any() else 0.0,
                [(float(x), float(r)) for x, r in zip(share[big], real, strict=True)],
            )
        )


@pytest.fixture(scope="module")
def default_2000():
    m = MarketModel(compose(*WORLD))
    shares: dict = {}
    while m.running:
        m.step()
        _platform_shares(m, shares)
    return m, shares


#: Launch-week exemption of the 5% cap: a row may hold more only if it stands for
#: fewer than 2 real firms, in the first LAUNCH_WEEKS weeks after its platform's
#: launch (first week with buyers), and at most LAUNCH_CAP of the platform's GMV.
LAUNCH_WEEKS, LAUNCH_CAP = 12, 0.30


def test_no_model_firm_owns_a_platform(default_2000):
    """At 2,000 model firms no model firm holds more than 5% of a platform's GMV,
    except, bounded, in the first weeks of a new platform.

    Every week of every platform, with one exemption: in the first 12 weeks after
    a platform's launch (Temu and TikTok Shop) a few dozen sellers share a tiny
    demand, the largest firms join first, and one of them can hold more if it is
    a single real firm or a row of fewer than two (weight x merchants.scale < 2),
    and then at most 30% (docs/ODD.md, known limitations; the scale-invariance
    benchmark reports these weeks; at full resolution, one real firm per model
    firm, the same happens). Rows that stand for two real firms or more never
    hold 5% (next test).

    Measured (default scenario, Temu managed and CN-only, the commit that made
    it so): this run (2,000 firms, replicate 0) at most 0.175 (Temu), rows of at
    most 1.62 real firms, up to the 11th week after launch. Over replicates 0-9
    at 2,000 firms and 0-4 at 5,000: at most 0.256 (5,000 firms, replicate 3,
    Temu), rows of at most 1.90 real firms, all within 11 weeks of launch; only
    on Temu and TikTok Shop. Before Temu admitted only CN suppliers the bounds
    were 8 weeks and 25% (a thinner CN-only launch lasts longer). The bounds are
    those of the default world, not of every size: the scale-invariance runs in
    docs/validation.md reach 0.28 and 13 weeks, always rows of fewer than two
    real firms.
    """
    m, shares = default_2000
    buyers = m.recorder.data["consumer_share"][:, :, 0]
    for name, weeks in shares.items():
        launch = int(np.flatnonzero(buyers[:, m.platform_names.index(name)] > 0)[0])
        for t, _, _, big in weeks:
            for share, real in big:
                where = (name, t, t - launch, share, real)
                assert real < 2.0 - 1e-9, where  # one real firm or fewer than two
                assert t - launch < LAUNCH_WEEKS, where  # only in the launch weeks
                assert share <= LAUNCH_CAP, where  # and bounded
    assert max(s for _, s, _, _ in shares["amazon"]) < 0.05


def test_super_individuals_never_dominate_a_platform_even_at_launch(default_2000):
    """A model firm that stands for two or more real firms never holds 5% of a
    platform's GMV, in any week, launch weeks included: joining a platform where
    it would hold more than ``merchants.split_share`` (1%) of the anticipated
    sales weight, it splits into equal rows (``population.split_pieces``).
    Without the split one such row held up to 21% of TikTok Shop's first weeks
    at 2,000 firms."""
    m, shares = default_2000
    for name, weeks in shares.items():
        assert max(s for _, _, s, _ in weeks) < 0.05, name
    assert m.counts()["split_merchants"] > 0


def _weekly_join_shares(m: MarketModel) -> np.ndarray:
    """Joins onto each platform in a recorded week over the firms alive the week before
    (weeks x platforms, both in real units)."""
    R = m.recorder.data
    alive = R["alive_merchants"][:, 0, :].sum(axis=1)
    joins = R["joins"].sum(axis=2)
    return joins[m.spinup + 1 :] / alive[m.spinup : -1, None]


def test_joins_follow_buyers_and_never_rush(default_2000):
    """No platform gains more than 2.5% of the alive firms in one week at 2,000 firms;
    new platforms' seller bases grow with their buyer shares (no launch-week rush).

    The issue's criterion, at most 2% in any week, is for the default scenario
    (5,000 firms): the slow test below. At 2,000 firms it holds in most but not
    all replicates: largest weekly join share over replicates 0-9 (commit
    5c74220) Temu 0.0204 (replicate 4), TikTok Shop 0.0195, Amazon 0.0083,
    AliExpress 0.0076, eBay 0.0065, Shopify 0.0047; this run (replicate 0):
    Temu 0.0149, TikTok Shop 0.0137.

    The share of the alive firms listed on Temu or TikTok Shop, over its share
    of the buyers, stays in its first half-year within 2.5 times its median in
    the second year after launch. Measured at 2,000 firms, replicates 0-2:
    at most 1.1 (Temu) and 1.6 (TikTok Shop) times; version 0.1: 26-40 times
    (10-12% of the firms listed in the launch week, at 0.1% of the buyers).
    """
    m, _ = default_2000
    R = m.recorder.data
    alive = R["alive_merchants"][:, 0, :].sum(axis=1)
    weekly = _weekly_join_shares(m)
    assert weekly.max() < 0.025, dict(zip(m.platform_names, weekly.max(axis=0), strict=True))
    for name in ("temu", "tiktok_shop"):
        p = m.platform_names.index(name)
        listed = R["listed_merchants"][:, p, :].sum(axis=1) / alive
        buyers = R["consumer_share"][:, p, 0]
        first = int(np.flatnonzero(buyers > 0)[0])
        launch = listed[first : first + 26] / buyers[first : first + 26]
        settled = np.median(listed[first + 52 : first + 104] / buyers[first + 52 : first + 104])
        assert settled > 0.5, (name, settled)  # sellers do come, in proportion to buyers
        assert launch.max() <= 2.5 * settled, (name, launch.max(), settled)


@pytest.mark.slow
@pytest.mark.parametrize("rep", range(5))
def test_no_platform_gains_more_than_2pct_of_the_firms_in_a_week_in_the_default_scenario(rep):
    """Issue "Model v2, part 1", item 3: in the default scenario (5,000 model firms,
    ``policy=crackdown_2021``) no platform gains more than 2% of the alive firms in any
    single week; replicates 0-4, the whole horizon (about 7 s each).

    Measured at commit 5c74220, largest weekly join share per platform over
    replicates 0-4: Amazon 0.0059, eBay 0.0041, AliExpress 0.0054, Shopify
    0.0037, Temu 0.0166 (replicate 0), TikTok Shop 0.0167 (replicate 2); the
    peaks come during the new platforms' buyer ramp (Temu 70-80 weeks after its
    launch, TikTok Shop about 50), not in their launch weeks.
    """
    m = MarketModel(compose(f"replicate={rep}"))
    assert m.cfg.merchants.count == 5000  # the default scenario
    while m.running:
        m.step()
    weekly = _weekly_join_shares(m)
    assert weekly.max() < 0.02, dict(zip(m.platform_names, weekly.max(axis=0), strict=True))


def test_split_pieces_hand_examples():
    """k = min(floor(W), ceil(m / (s max(A, m)))): whole real firms, shares below s."""
    w = np.array([1.0, 1.9, 2.0, 50.0, 50.0, 50.0, 1000.0, 3.0])
    m = np.array([0.5, 0.5, 0.5, 0.5, 0.001, 0.02, 0.5, 0.0])
    got = split_pieces(w, m, 1.0, 0.01)
    # one real firm or fewer than two: never split; 2 real firms: at most 2 pieces;
    # 50% of the base at 1%: 50 pieces, capped by the 50 real firms; 0.1%: none;
    # 2%: 2 pieces; 1,000 firms at 50%: 50 pieces; a zero mass never splits
    assert got.tolist() == [1, 1, 2, 50, 1, 2, 50, 1]
    # an empty platform (anticipated base 0): the firm's own mass is the base
    assert split_pieces(np.array([500.0]), np.array([0.3]), 0.0, 0.01).tolist() == [100]
    # share 1 never splits
    assert split_pieces(w, m, 1.0, 1.0).tolist() == [1] * w.size


def test_splitting_a_firm_changes_no_weighted_total():
    """``MarketModel._split`` copies a firm with its stores: every real-unit total stays.

    A busy enforced world near its end (suspended, banned and closed stores with
    held funds): the firm with most stores is split into 3; listed firms per
    platform, live stores, held funds, GMV and cash, all weighted by the firms'
    weights, are unchanged; the pieces are alive Mesa agents with the parent's
    platforms.
    """
    m = MarketModel(compose(*ENFORCED, "policy.enforcement.amazon.fund_hold_days=60"))
    for _ in range(m.n_steps - 2):
        m.step()
    f, st = m.firms, m.stores

    def totals():
        n = st.n
        w = f.weight[st.firm[:n]]
        live = (st.status[:n] >= 1) & (st.status[:n] <= 3)
        alive = np.flatnonzero(f.alive[: f.n])
        return np.array(
            [
                *(f.n_live[:, alive] > 0).astype(float) @ f.weight[alive],
                (w * live).sum(),
                (w * st.frozen[:n]).sum(),
                (w * st.gmv[:n] * live).sum(),
                (f.weight[alive] * f.cash[alive]).sum(),
                ((st.status[:n] == 3) * w).sum(),
            ]
        )

    # every firm of 3+ real firms with a store suspended, banned or holding funds
    n = st.n
    odd = (st.status[:n] >= 3) | (st.frozen[:n] > 0)
    parents = np.unique(st.firm[:n][odd])
    parents = parents[f.alive[parents] & (f.weight[parents] * m.scale >= 3)]
    held = st.frozen[:n] > 0
    assert ((st.status[:n] == 0) & held & np.isin(st.firm[:n], parents)).any()  # closed, held
    assert (np.isin(st.firm[:n], parents) & (st.status[:n] == 3)).any()  # suspended
    before, w = totals(), f.weight[parents].copy()
    kids = m._split(parents, np.full(parents.size, 3))
    assert [k.size for k in kids] == [2] * parents.size
    assert_allclose(totals(), before, rtol=1e-12)
    assert_allclose(f.weight[parents], w / 3, rtol=1e-15)
    adj = m.adj.tocsr()
    tied = 0
    for parent, pair in zip(parents, kids, strict=True):
        assert (f.weight[pair] == f.weight[parent]).all()
        peers = set(adj[parent].indices.tolist())
        for k in pair:  # each piece inherits the firm's ties, with the firm's degree
            assert set(adj[k].indices.tolist()) == peers
            assert m.degree_ratio[k] == m.degree_ratio[parent]
        tied += len(peers) > 0
        assert (f.n_live[:, pair] == f.n_live[:, [parent]]).all()
        assert all(m.agent_of_row[int(k)].row == k for k in pair)
    susp = np.bincount(st.platform[: st.n][st.status[: st.n] == 3], minlength=m.P)
    assert (m.n_susp == susp).all()
    assert tied > 0
    m.step()  # the model runs on with the pieces


def test_split_members_hand_example():
    """Four firms: all members, split (e >= 1), single member drawn, none drawn; a
    weight-1 firm drawn is the member itself."""
    attrs = {
        "size": np.array([9.0, 2.0, 1.0, 1.0, 3.0]),
        "weight": np.array([2.0, 10.0, 5.0, 5.0, 1.0]),
        "quality": np.array([4.0, 4.1, 4.2, 4.3, 4.4]),
        "u_member": np.array([0.9, 0.9, 0.1, 0.9, 0.2]),
        "u_listing": np.arange(10.0).reshape(5, 2),
    }
    prob = np.array([1.0, 0.3, 0.1, 0.1, 0.5])  # e = 2, 3, 0.5, 0.5, 0.5
    out = split_members(attrs, prob)
    assert "u_member" not in out
    assert_allclose(out["weight"], [2.0, 7.0, 4.0, 5.0, 1.0, 3.0, 1.0])
    assert out["member"].tolist() == [True, False, False, False, True, True, True]
    # the split firms copy their parents (rows 1 and 2)
    assert_allclose(out["quality"][5:], [4.1, 4.2])
    assert_allclose(out["u_listing"][5:], attrs["u_listing"][[1, 2]])
    assert out["weight"].sum() == pytest.approx(attrs["weight"].sum())
    # a row of less than one real firm is a member with chance pi, not w pi
    tiny = {k: np.repeat(v[4:5], 20_000, axis=0) for k, v in attrs.items()}
    tiny["weight"] = np.full(20_000, 0.5)
    tiny["u_member"] = np.random.default_rng(1).random(20_000)
    got = split_members(tiny, np.full(20_000, 0.5))
    assert got["weight"].size == 20_000  # nothing split
    assert got["member"].mean() == pytest.approx(0.5, abs=0.02)
    # in expectation the members are sum w pi
    rng = np.random.default_rng(0)
    n = 20_000
    many = {k: np.repeat(v[2:4], n, axis=0) for k, v in attrs.items()}
    many["u_member"] = rng.random(2 * n)
    got = split_members(many, np.repeat(prob[2:4], n))
    real = (got["weight"] * got["member"]).sum()
    assert real == pytest.approx(0.5 * 2 * n, rel=0.03)


def test_split_members_with_a_row_cap_draws_members_as_single_firms():
    """``max_row = 1`` (``merchants.member_row_max_firms``): the same firms as in the
    hand example, but no member row stands for more than one real firm: the whole
    member of 2 real firms becomes two rows of 1, the split part of 3 becomes three
    rows of 1; members in real firms and the market are unchanged."""
    attrs = {
        "size": np.array([9.0, 2.0, 1.0, 1.0, 3.0]),
        "weight": np.array([2.0, 10.0, 5.0, 5.0, 1.0]),
        "quality": np.array([4.0, 4.1, 4.2, 4.3, 4.4]),
        "u_member": np.array([0.9, 0.9, 0.1, 0.9, 0.2]),
    }
    prob = np.array([1.0, 0.3, 0.1, 0.1, 0.5])  # e = 2, 3, 0.5, 0.5, 0.5
    out = split_members(dict(attrs), prob, max_row=1.0)
    assert_allclose(out["weight"], [1.0, 7.0, 4.0, 5.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert out["member"].tolist() == [True, False, False, False, True] + [True] * 5
    assert_allclose(out["quality"][5:], [4.0, 4.1, 4.1, 4.1, 4.2])  # copies, parent order
    base = split_members(dict(attrs), prob)
    member_real = (out["weight"] * out["member"]).sum()
    assert member_real == pytest.approx((base["weight"] * base["member"]).sum())
    assert out["weight"].sum() == pytest.approx(attrs["weight"].sum())
    # a part that is not a whole number of firms: 2.5 -> three rows of 5/6
    half = split_members(
        {"size": np.array([1.0]), "weight": np.array([10.0]), "u_member": np.array([0.9])},
        np.array([0.25]),
        max_row=1.0,
    )
    assert_allclose(half["weight"], [7.5, 2.5 / 3, 2.5 / 3, 2.5 / 3])
    assert half["member"].tolist() == [False, True, True, True]


def test_association_members_in_real_firms():
    """The Shenzhen association's 2,600+ member firms, in real units, at any resolution."""
    got = []
    for count in (2000, 5000):
        for rep in range(3):
            m = MarketModel(compose(f"merchants.count={count}", f"replicate={rep}"))
            got.append(m.members_real_start)
    # members are split out of the model firms (population.split_members): only the
    # single real members drawn by chance vary (measured 2,576-2,643 at 300-20,000
    # firms; before the split 621-4,406)
    for g in got:
        assert g == pytest.approx(2600.0, rel=0.05)


def test_real_market_does_not_depend_on_the_resolution():
    for count in (300, 3000):
        cfg = compose(f"merchants.count={count}", "time.spinup_weeks=0", "time.end_date=2020-01-06")
        m = MarketModel(cfg)
        real = m.firms.weight[: m.firms.n].sum() * m.scale
        assert real == pytest.approx(cfg.merchants.real_firms, rel=1e-9)
        assert cfg.merchants.scale == pytest.approx(cfg.merchants.real_firms / count)


def test_outputs_count_model_firm_equivalents():
    res = run(compose("merchants.count=400", "time.spinup_weeks=2", "time.end_date=2020-03-30"))
    ts = res.timeseries
    first = ts[ts.step == 0]
    # alive firms in model-firm equivalents: about merchants.count (real firms / scale)
    assert first.groupby("origin")["alive_merchants"].first().sum() == pytest.approx(400, rel=0.05)


# --------------------------------------------------------------- entry windows


def test_entry_multiplier_last_covering_window_wins():
    from sim.core.merchants import entry_multiplier

    windows = [(10, 20, 3.0), (15, 30, 0.0)]
    got = {t: entry_multiplier(windows, t) for t in (9, 10, 14, 15, 30, 31)}
    assert got == {9: 1.0, 10: 3.0, 14: 3.0, 15: 0.0, 30: 0.0, 31: 1.0}
    assert entry_multiplier([], 5) == 1.0


def test_entry_windows_scale_an_origins_entry():
    """A window with multiplier 0 stops the origin's entry inside it (the other origin
    enters as before); a large one raises it."""
    base = ("merchants.count=300", "time.spinup_weeks=4", "time.end_date=2021-12-27")
    key = "merchants.origins.CN.entry_windows"
    stop = f'{key}=[{{start_date: "2021-01-04", end_date: "2021-06-28", multiplier: 0.0}}]'
    surge = f'{key}=[{{start_date: "2021-01-04", end_date: "2021-12-27", multiplier: 5.0}}]'
    ts = run(compose(*base, stop)).timeseries
    cn = ts[ts["origin"] == "CN"].groupby("date")["entries"].sum()
    inside = (cn.index >= "2021-01-04") & (cn.index <= "2021-06-28")
    assert cn[inside].sum() == 0 and cn[~inside].sum() > 0
    other = ts[ts["origin"] == "other"].groupby("date")["entries"].sum()
    assert other[inside].sum() > 0
    ref = run(compose(*base)).timeseries
    up = run(compose(*base, surge)).timeseries

    def cn_2021(t):
        x = t[(t["origin"] == "CN") & (t["date"] >= "2021-01-04")]
        return x["entries"].sum()

    assert cn_2021(up) > 2.5 * cn_2021(ref) > 0


# ------------------------------------------------------- re-entry as a new entity


def test_banned_firms_come_back_as_new_legal_entities():
    """With ``reentry_probability`` a firm that exits after a ban re-enters
    ``reentry_delay_weeks`` later as a copy (fresh cash, no membership) that keeps
    its perceived risk and ban flags; off by default (no draw, nothing changes)."""
    base = ("merchants.count=300", "time.spinup_weeks=4", "time.end_date=2021-12-27")
    enforced = (
        *base,
        "policy.enforcement.amazon.start_date=2020-02-03",
        "policy.enforcement.amazon.audit_probability_per_week=0.3",
        "policy.enforcement.amazon.penalty_ladder=[ban]",
    )
    off = MarketModel(compose(*enforced))
    while off.running:
        off.step()
    assert off.counts()["reentered_merchants"] == 0
    m = MarketModel(
        compose(*enforced, "behaviour.reentry_probability=1", "behaviour.reentry_delay_weeks=4")
    )
    seen = []
    enter = m._enter

    def watched(origin, attrs, predecessors=None):
        first = m.firms.n
        enter(origin, attrs, predecessors)
        if predecessors is not None:
            new = np.arange(first, first + predecessors.size)
            f = m.firms
            assert (f.ever_banned[new] == f.ever_banned[predecessors]).all()
            assert (f.ever_banned[predecessors].any(axis=1)).all()  # they had a ban
            assert (f.size[new] == f.size[predecessors]).all()
            assert (f.propensity[new] == f.propensity[predecessors]).all()
            assert not f.member[new].any()
            assert (f.born[new] == m.t).all()
            seen.append(predecessors.size)

    m._enter = watched
    while m.running:
        m.step()
    assert sum(seen) > 0 and m.counts()["reentered_merchants"] > 0
    assert m.counts()["reentered_merchants"] <= m.counts()["entered_merchants"]


def test_entrant_members_are_wired_into_the_network():
    """Association members among the entrants get ties in the week they enter when
    it is a rewiring week (ODD 7.10: the rewiring follows the entry phase). Guards
    the schedule: a change once cut the rewiring off the end of the entry phase, so
    entrants waited a whole rewiring period for their ties, and no test noticed."""
    m = MarketModel(compose("merchants.count=1000", "time.end_date=2021-12-27"))
    every = m.cfg.network.rewire_every_weeks
    wired, total = 0, 0
    while m.running:
        m.step()
        if m.t % every:
            continue
        f = m.firms
        n = f.n
        new = np.flatnonzero(f.member[:n] & (f.born[:n] == m.t) & f.alive[:n])
        new = new[~f.piece[new]]  # pieces inherit their parent's ties
        ends = np.concatenate([m.edges[:, 0], m.edges[:, 1]])
        wired += int(np.isin(new, ends).sum())
        total += new.size
    assert total >= 5
    # each entrant member brings mean_degree / 2 edges (its end drawn with replacement)
    assert wired / total > 0.5, (wired, total)
