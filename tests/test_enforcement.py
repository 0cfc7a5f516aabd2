"""Enforcement: exact tests of the rules, then the store life cycle in small worlds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ENFORCED, compose, no_compaction, step_all
from numpy.testing import assert_allclose, assert_array_equal

from sim.core.config import EnforcementConfig
from sim.core.enforcement import (
    audit_probabilities,
    decay_factor,
    detect,
    detection_probability,
    expected_forfeit_share,
    false_link_chance,
    hold_amount,
    intensity,
    is_guilty,
    payout_balance,
    penalty_for_strike,
    response_multiplier,
)
from sim.core.merchants import Merchant
from sim.core.model import MarketModel
from sim.core.state import ACTIVE, BANNED, CLOSED, STATUS_NAMES, SUSPENDED, WARNED
from sim.engine.runner import run

# ------------------------------------------------------------------ intensity


def test_intensity_before_start_is_baseline():
    assert intensity(0, 10, 0.2, 4.0, 0.5) == 0.2
    assert intensity(9, 10, 0.0, 4.0, 0.5) == 0.0


def test_intensity_ramps_linearly_from_baseline():
    got = [intensity(t, 10, 0.2, 4.0, 0.0) for t in range(10, 16)]
    assert_allclose(got, [0.4, 0.6, 0.8, 1.0, 1.0, 1.0])


def test_intensity_without_ramp_is_full_at_once():
    assert intensity(10, 10, 0.0, 0.0, 0.0) == 1.0
    assert intensity(60, 10, 0.3, 0.0, 0.0) == 1.0


def test_intensity_escalates_after_the_ramp():
    # full at t = 13 (ramp ends); 52 weeks later x (1 + e)
    assert intensity(13, 10, 0.0, 4.0, 0.5) == pytest.approx(1.0)
    assert intensity(14, 10, 0.0, 4.0, 0.5) == pytest.approx(1.5 ** (1 / 52))
    assert intensity(13 + 52, 10, 0.0, 4.0, 0.5) == pytest.approx(1.5)
    assert intensity(13 + 104, 10, 0.0, 4.0, 0.5) == pytest.approx(2.25)


# --------------------------------------------------------------------- audits


def test_audit_probabilities_random_targeting_is_uniform():
    ev = np.array([True, False, False, False])
    got = audit_probabilities(0.1, 0.5, ev, np.zeros(4), "random", 4.0, 0.0)
    assert_allclose(got, [0.05] * 4)


def test_audit_probabilities_risk_targeting_hand_values():
    ev = np.array([True, False, False, False])
    got = audit_probabilities(0.1, 1.0, ev, np.zeros(4), "risk", 4.0, 0.0)
    # weights (5, 1, 1, 1), mean 2
    assert_allclose(got, [0.25, 0.05, 0.05, 0.05])


def test_audit_probabilities_hub_targeting_hand_values():
    got = audit_probabilities(
        0.1, 1.0, np.zeros(2, dtype=bool), np.array([0.0, 2.0]), "random", 4.0, 1.0
    )
    # weights (1, 3), mean 2
    assert_allclose(got, [0.05, 0.15])


@pytest.mark.parametrize("targeting", ["random", "risk"])
@pytest.mark.parametrize("hub", [0.0, 2.0])
def test_audit_budget_is_preserved_without_clipping(targeting, hub):
    rng = np.random.default_rng(0)
    ev = rng.random(1000) < 0.2
    degree = rng.exponential(1.0, 1000)
    base, level = 0.01, 0.7
    got = audit_probabilities(base, level, ev, degree, targeting, 4.0, hub)
    assert got.max() < 1.0
    assert got.mean() == pytest.approx(base * level, rel=1e-12)
    if targeting == "risk":
        # evidence weighs (1 + k) = 5 times more, network degree equal
        assert got[ev].mean() > 3.0 * got[~ev].mean()


def test_audit_probabilities_are_clipped_to_one():
    got = audit_probabilities(0.9, 2.0, np.array([True, False]), np.zeros(2), "risk", 4.0, 0.0)
    # weights (5, 1), mean 3: 1.8 * 5/3 = 3 -> 1, and 1.8 / 3 = 0.6
    assert_allclose(got, [1.0, 0.6])


def test_audit_probabilities_of_no_store():
    got = audit_probabilities(0.1, 1.0, np.zeros(0, dtype=bool), np.zeros(0), "risk", 4.0, 1.0)
    assert got.shape == (0,)


def test_detection_probability_rises_with_evidence_from_fpr_to_tpr():
    ev = np.array([0.0, 25.0, 75.0, 1e9])
    got = detection_probability(ev, 0.8, 0.01, 25.0)
    # no evidence: false-positive rate; E = E_half: half way; E = 3 E_half: 3/4 of the way
    assert_allclose(got, [0.01, 0.01 + 0.79 / 2, 0.01 + 0.79 * 0.75, 0.8], rtol=1e-7)


def test_detect_compares_draws_with_the_detection_probability():
    audited = np.array([True, True, True, False])
    prob = np.array([0.8, 0.8, 0.01, 0.8])
    u = np.array([0.5, 0.9, 0.005, 0.0])
    assert_array_equal(detect(audited, u, prob), [True, False, True, False])


def test_audit_budget_is_a_mean_over_real_stores():
    """A model store standing for 3 real stores counts 3 times in the budget's mean."""
    susp = np.array([True, False])
    got = audit_probabilities(0.1, 1.0, susp, np.zeros(2), "risk", 4.0, 0.0, np.array([1.0, 3.0]))
    # weights (5, 1), mean over real stores (5 + 3) / 4 = 2
    assert_allclose(got, [0.25, 0.05])
    real_audits = (got * np.array([1.0, 3.0])).sum()
    assert real_audits == pytest.approx(0.1 * 4)


def test_false_link_chance_hand_values():
    # 0.05 false links per real ban, 40 real bans among 1,000 real selling stores
    assert false_link_chance(0.05, 40.0, 1000.0) == pytest.approx(0.002)
    # expected real victims p_link x B, capped at the whole pool
    assert false_link_chance(0.5, 30.0, 10.0) == 1.0
    assert false_link_chance(0.0, 30.0, 10.0) == 0.0
    # the compiled rule (engine) and its Python body (reference) agree exactly
    args = (0.05, 123.456, 7891.0)
    assert false_link_chance(*args) == false_link_chance.py_func(*args)


def test_payout_and_hold_on_the_payout_balance():
    # sales 1000, gross margin 0.55, fees 300: net of cost of goods 250, payout 700
    payout = payout_balance(1000.0, 0.55 * 1000.0 - 300.0, 0.55)
    assert payout == pytest.approx(700.0)
    assert hold_amount(2.0, payout) == pytest.approx(1400.0)
    assert hold_amount(2.0, -5.0) == 0.0


@pytest.mark.parametrize(
    ("ladder", "expected"),
    [(["warning", "suspension", "ban"], 0.0), (["suspension", "ban"], 0.7 * 0.5), (["ban"], 0.5)],
)
def test_expected_forfeit_share_follows_the_first_rung(ladder, expected):
    cfg = EnforcementConfig(
        penalty_ladder=ladder, reinstatement_probability=0.3, forfeit_on_ban_probability=0.5
    )
    assert expected_forfeit_share(cfg) == pytest.approx(expected)


def test_penalty_for_strike_ladder_and_repeat_of_last_step():
    strikes = np.array([1, 2, 3, 4, 7], dtype=np.int16)
    assert_array_equal(
        penalty_for_strike(strikes, ["warning", "suspension", "ban"]),
        [WARNED, SUSPENDED, BANNED, BANNED, BANNED],
    )
    assert_array_equal(
        penalty_for_strike(strikes[:3], ["suspension", "ban"]), [SUSPENDED, BANNED, BANNED]
    )
    assert_array_equal(penalty_for_strike(strikes, ["suspension"]), [SUSPENDED] * 5)
    assert_array_equal(
        penalty_for_strike(strikes[:3], ["warning", "warning", "suspension"]),
        [WARNED, WARNED, SUSPENDED],
    )


# -------------------------------------------------- the policy in a small world


def test_policy_agent_converts_days_to_weeks_on_the_calendar():
    m = MarketModel(compose("merchants.count=10", "time.spinup_weeks=52"))
    amazon = m.enforcers[m.platform_names.index("amazon")]
    assert amazon.lag_weeks == 14  # 100 days
    assert amazon.hold_weeks == 13  # 90 days
    # 2021-04-26 is 68 weeks after 2020-01-06, plus 52 weeks of spin-up
    assert amazon.start_step == 52 + 68
    assert m.calendar.date(amazon.start_step).isoformat() == "2021-04-26"
    ebay = m.enforcers[m.platform_names.index("ebay")]
    assert ebay.cfg.audit_probability_per_week == 0.0  # not named in crackdown_2021


def test_crackdown_intensity_series_in_timeseries():
    cfg = compose("merchants.count=200", "time.spinup_weeks=2", "time.end_date=2021-06-28")
    ts = run(cfg).timeseries
    amz = ts[(ts.platform == "amazon") & (ts.origin == "CN")].set_index("date")
    level = amz["enforcement_intensity"]
    start = pd.Timestamp("2021-04-26")
    assert (level[level.index < start] == 0.0).all()
    weeks = [start + pd.Timedelta(weeks=k) for k in range(5)]
    assert_allclose(level.loc[weeks].to_numpy(), [0.25, 0.5, 0.75, 1.0, 1.0])
    # platforms without enforcement in crackdown_2021 never audit
    others = ts[ts.platform != "amazon"]
    assert (others["enforcement_intensity"] == 0).all()
    assert (others["audits"] == 0).all()
    assert ts.loc[ts.platform == "amazon", "audits"].sum() > 0


class StatusLog:
    """Follow every store's status over the weeks (store compaction turned off)."""

    def __init__(self, model: MarketModel) -> None:
        self.prev_status: np.ndarray | None = None
        self.prev_until: np.ndarray | None = None
        self.prev_strikes: np.ndarray | None = None
        self.seen = {"reinstated": 0, "banned_at_end": 0, "suspended": 0, "banned": 0}
        no_compaction(model)

    def __call__(self, m: MarketModel) -> None:
        st, t = m.stores, m.t
        n = st.n
        status = st.status[:n].copy()
        until = st.suspended_until[:n].copy()
        strikes = st.strikes[:n].copy()
        susp_w = m.cfg.policy.enforcement["amazon"].suspension_weeks
        assert np.isin(status, range(len(STATUS_NAMES))).all()
        # a suspension always lies ahead and never longer than configured
        s = status == SUSPENDED
        assert (until[s] > t).all()
        assert (until[s] <= t + max(1, round(susp_w))).all()
        self.seen["suspended"] += int(s.sum())
        self.seen["banned"] += int((status == BANNED).sum())
        if self.prev_status is not None:
            k = self.prev_status.size
            now = status[:k]
            # a ban is final
            assert (now[self.prev_status == BANNED] == BANNED).all()
            # a running suspension is not lifted early (it may turn into a ban by a
            # related-account sweep, or close when the firm leaves)
            running = (self.prev_status == SUSPENDED) & (self.prev_until > t)
            assert np.isin(now[running], (SUSPENDED, BANNED, CLOSED)).all()
            assert (
                until[:k][running & (now == SUSPENDED)]
                == self.prev_until[running & (now == SUSPENDED)]
            ).all()
            # an ending suspension: reinstated (and maybe caught again the same week,
            # which adds a strike) or banned
            ending = (self.prev_status == SUSPENDED) & (self.prev_until <= t)
            again = ending & (now == SUSPENDED)
            assert (until[:k][again] > t).all()
            recaught = strikes[:k] > self.prev_strikes
            banned_at_end = ending & (now == BANNED) & ~recaught
            self.seen["reinstated"] += int((ending & ~banned_at_end).sum())
            self.seen["banned_at_end"] += int(banned_at_end.sum())
        self.prev_status, self.prev_until, self.prev_strikes = status, until, strikes


@pytest.mark.parametrize("reinstatement", [0.0, 0.5, 1.0])
def test_suspension_and_ban_life_cycle(reinstatement):
    cfg = compose(
        *ENFORCED,
        "policy.enforcement.amazon.suspension_weeks=3",
        f"policy.enforcement.amazon.reinstatement_probability={reinstatement}",
        # no sweeps: a ban of an ending suspension then comes from its end alone
        "policy.enforcement.amazon.related_account_sweep_probability=0",
    )
    m = MarketModel(cfg)
    log = StatusLog(m)
    step_all(m, log)
    seen = log.seen
    assert seen["suspended"] > 0 and seen["banned"] > 0
    if reinstatement == 0.0:
        assert seen["reinstated"] == 0 and seen["banned_at_end"] > 0
    elif reinstatement == 1.0:
        assert seen["banned_at_end"] == 0 and seen["reinstated"] > 0
    else:
        assert seen["banned_at_end"] > 0 and seen["reinstated"] > 0


def test_listed_matches_store_table_and_dead_firms_hold_nothing(enforced_cfg):
    m = MarketModel(enforced_cfg)

    def check(m):
        st, f = m.stores, m.firms
        n = f.n
        live = np.isin(st.status[: st.n], (ACTIVE, WARNED, SUSPENDED))
        count = np.zeros((n, m.P), dtype=int)
        np.add.at(count, (st.firm[: st.n][live], st.platform[: st.n][live]), 1)
        assert_array_equal(m.listed[:n], count > 0)
        assert not m.listed[:n][~f.alive[:n]].any()
        # listed counts are weighted by the real firms each model firm stands for
        assert_allclose(m.listed_count, ((count > 0) * f.weight[:n, None]).sum(axis=0))

    step_all(m, check)
    # the Mesa view agrees with the columns
    for agent in list(m.agents_by_type[Merchant]):
        assert set(agent.platforms) == {
            s["platform"]
            for s in agent.stores()
            if s["status"] in ("active", "warned", "suspended")
        }


class SweepCheck:
    """Wrap the Amazon enforcer: after its step no newly banned firm keeps a live store there."""

    def __init__(self, m: MarketModel) -> None:
        no_compaction(m)
        self.m = m
        self.enforcer = m.enforcers[m.platform_names.index("amazon")]
        self._step = self.enforcer.step
        self.enforcer.step = self
        self.bans = 0
        self.left: list[tuple[int, int]] = []

    def __call__(self) -> None:
        st, p = self.m.stores, self.enforcer.platform_index
        n0 = st.n
        before = st.status[:n0].copy()
        self._step()
        after = st.status[: st.n]
        new = np.flatnonzero((after[:n0] == BANNED) & (before != BANNED) & (st.platform[:n0] == p))
        firms = np.unique(st.firm[new])
        left = (
            np.isin(after, (ACTIVE, WARNED, SUSPENDED))
            & (st.platform[: st.n] == p)
            & np.isin(st.firm[: st.n], firms)
        )
        self.bans += new.size
        self.left += [(self.m.t, int(i)) for i in np.flatnonzero(left)]


def _sweep_world(*extra: str) -> SweepCheck:
    cfg = compose(
        "merchants.count=300",
        "time.spinup_weeks=0",
        "time.end_date=2020-12-28",
        "merchants.origins.CN.stores_per_platform_mean=3",
        "policy.enforcement.amazon.start_date=2020-01-06",
        "policy.enforcement.amazon.audit_probability_per_week=0.2",
        "policy.enforcement.amazon.related_account_sweep_probability=1",
        "policy.enforcement.amazon.false_link_probability=0",
        *extra,
    )
    m = MarketModel(cfg)
    check = SweepCheck(m)
    step_all(m)
    return check


def test_related_account_sweep_takes_all_other_stores_after_an_audit_ban():
    check = _sweep_world("policy.enforcement.amazon.penalty_ladder=[ban]")
    assert check.bans > 20
    assert check.left == []


def test_no_sweep_when_probability_zero_leaves_other_stores():
    check = _sweep_world(
        "policy.enforcement.amazon.penalty_ladder=[ban]",
        "policy.enforcement.amazon.related_account_sweep_probability=0",
    )
    assert check.bans > 0
    assert len(check.left) > 0  # multi-store firms keep their other stores


def test_related_account_sweep_after_a_suspension_turns_into_a_ban():
    check = _sweep_world(
        "policy.enforcement.amazon.penalty_ladder=[suspension]",
        "policy.enforcement.amazon.reinstatement_probability=0",
    )
    assert check.bans > 20
    assert check.left == []


# --------------------------------------------------------------- frozen funds


class ReleaseCheck:
    """Wrap the model's fund release and check its accounting against a snapshot."""

    def __init__(self, m: MarketModel) -> None:
        no_compaction(m)
        self.m = m
        self._release = m._release_funds
        m._release_funds = self
        self.released = 0.0
        self.forfeited = 0.0

    def __call__(self) -> None:
        m, st, f, t = self.m, self.m.stores, self.m.firms, self.m.t
        n = st.n
        frozen = st.frozen[:n].copy()
        due = (frozen > 0) & (st.release[:n] <= t)
        back = due & ~st.forfeit[:n] & f.alive[st.firm[:n]]
        lost = due & ~back
        omega = f.weight[st.firm[:n]]  # recorded sums weigh each store by its firm
        cash = f.cash[: f.n].copy()
        rel0 = m.recorder.data["released_usd"][t].sum()
        forf0 = m.recorder.data["forfeited_usd"][t].sum()
        self._release()
        assert (st.frozen[:n][due] == 0).all()
        assert_array_equal(st.frozen[:n][~due], frozen[~due])
        expected_cash = cash.copy()
        np.add.at(expected_cash, st.firm[:n][back], frozen[back])
        assert_allclose(f.cash[: f.n], expected_cash, rtol=1e-12)
        rec_rel = m.recorder.data["released_usd"][t].sum() - rel0
        rec_forf = m.recorder.data["forfeited_usd"][t].sum() - forf0
        assert rec_rel == pytest.approx((omega * frozen)[back].sum(), rel=1e-9, abs=1e-6)
        assert rec_forf == pytest.approx((omega * frozen)[lost].sum(), rel=1e-9, abs=1e-6)
        self.released += (omega * frozen)[back].sum()
        self.forfeited += (omega * frozen)[lost].sum()


@pytest.mark.parametrize("forfeit", [0.0, 1.0])
def test_frozen_funds_released_after_hold_unless_forfeited(forfeit):
    cfg = compose(
        *ENFORCED,
        "policy.enforcement.amazon.fund_hold_days=28",  # 4 weeks
        f"policy.enforcement.amazon.forfeit_on_ban_probability={forfeit}",
        "policy.enforcement.amazon.penalty_ladder=[ban]",
    )
    m = MarketModel(cfg)
    check = ReleaseCheck(m)

    def held_at_most_four_weeks(m):
        st = m.stores
        held = st.frozen[: st.n] > 0
        assert (st.release[: st.n][held] > m.t).all()
        assert (st.release[: st.n][held] <= m.t + 4).all()
        if forfeit == 0.0:
            assert not st.forfeit[: st.n].any()

    step_all(m, held_at_most_four_weeks)
    R = m.recorder.data
    assert check.released > 0
    # every dollar frozen is released, forfeited or still held
    st = m.stores
    still = (m.firms.weight[st.firm[: st.n]] * st.frozen[: st.n]).sum()
    assert R["frozen_new_usd"].sum() == pytest.approx(
        R["released_usd"].sum() + R["forfeited_usd"].sum() + still, rel=1e-9
    )
    assert R["new_bans"].sum() > 0
    if forfeit == 1.0:
        assert check.forfeited > 0.1 * check.released


def test_enforcement_cost_is_audits_times_cost_every_week_even_when_tables_grow():
    from sim import compose_config, run

    cfg = compose_config(["merchants.count=300", "time.spinup_weeks=2"])  # tables grow ~5 times
    ts = run(cfg).timeseries
    amazon = ts[ts["platform"] == "amazon"]
    audits = amazon.groupby("step")["audits"].sum()
    cost = amazon.groupby("step")["enforcement_cost_usd"].first()  # platform-level column
    per_audit = cfg.policy.enforcement["amazon"].cost_per_audit_usd
    assert audits.sum() > 0
    # audits are counted in real stores (each model store weighs omega_f): sums in another order
    assert_allclose(cost.to_numpy(), audits.to_numpy() * per_audit, rtol=1e-9)


def test_firms_banned_off_count_firms_that_reopen_in_the_ban_week():
    """A firm whose last store is banned counts as banned off the platform even when it
    opens a new account the same week (no flow then: it is listed before and after)."""
    cfg = compose(
        *ENFORCED,
        "policy.enforcement.amazon.penalty_ladder=[ban]",
        "policy.enforcement.amazon.related_account_sweep_probability=1.0",
        "policy.enforcement.amazon.new_account_detection_probability=0.0",
        "behaviour.new_account_attempt_probability=1.0",
        "behaviour.new_account_cost_usd=0.0",
    )
    res = run(cfg)
    ts, fl = res.timeseries, res.flows
    amazon = ts[ts["platform"] == "amazon"]
    by_flows = fl[(fl["from_platform"] == "amazon") & fl["cause"].isin(["ban", "related_account"])]
    lost = amazon["firms_lost_to_bans"].sum()
    reopened = amazon["new_accounts"].sum()
    assert reopened > 0
    assert lost > by_flows["merchants"].sum() + 0.5 * reopened
    assert res.summary["firms_lost_amazon_to_bans"] == pytest.approx(lost)


def test_a_store_that_stops_buying_grows_less_detectable():
    """Evidence fades every week a store buys nothing; deletion does not erase it.

    Checked on stores an audit can still reach (active, warned, suspended);
    closed and banned stores are never audited again and keep their last stock.
    A quiet store's evidence is exactly last week's aged one week, or 0 once
    the store is caught; deletion takes reviews off the page (``fake_live``)
    into the platform's record (``suspicion``), never more than is on the page.
    """
    cfg = compose(
        *ENFORCED,
        "policy.enforcement.amazon.review_deletion_lag_days=21",
        "policy.enforcement.amazon.review_deletion_rate=0.9",
    )
    m = no_compaction(MarketModel(cfg))
    amazon = m.platform_names.index("amazon")
    keep = m.enforcers[amazon].evidence_keep
    skeep = m.enforcers[amazon].suspicion_keep
    prev = None
    seen_decay = seen_deleted = 0
    while m.running:
        m.step()
        st = m.stores
        n = st.n
        now = {
            "ev": st.evidence[:n].copy(),
            "fake": st.fake_live[:n].copy(),
            "sus": st.suspicion[:n].copy(),
        }
        assert (now["fake"] >= 0).all()
        if prev is not None:
            k = min(prev["ev"].size, n)
            auditable = np.isin(st.status[:k], (ACTIVE, WARNED, SUSPENDED))
            quiet = ~st.campaign[:k] & (prev["ev"][:k] > 0) & auditable
            ev, aged = now["ev"][:k][quiet], keep * prev["ev"][:k][quiet]
            assert ((ev == 0) | np.isclose(ev, aged, rtol=1e-12, atol=0)).all()
            seen_decay += int((ev > 0).sum())
            # deletion: the page loses what the record gains (quiet stores, not caught)
            on_amazon = st.platform[:k] == amazon
            kept = quiet & on_amazon & (now["ev"][:k] > 0)
            fell = prev["fake"][:k] - now["fake"][:k]
            rose = now["sus"][:k] - skeep * prev["sus"][:k]
            assert_allclose(fell[kept], rose[kept], rtol=1e-9, atol=1e-9)
            seen_deleted += int((kept & (fell > 0)).sum())
        prev = now
    assert seen_decay > 100 and seen_deleted > 10
    # the detection probability falls with the evidence
    p = detection_probability(np.array([200.0, 50.0, 5.0, 0.0]), 0.8, 0.01, 25.0)
    assert (np.diff(p) < 0).all()


#: What review deletion itself changes: the fake reviews left on the page and the count deleted.
DELETION_ONLY = {"reviews_deleted", "fake_reviews_live"}


def _lag_runs(*targeting: str):
    """Two runs of an enforced small world, review deletion after 3 vs 30 weeks."""
    base = (*ENFORCED, "policy.enforcement.amazon.review_deletion_rate=0.9", *targeting)
    return [
        run(compose(*base, f"policy.enforcement.amazon.review_deletion_lag_days={days}"))
        for days in (21, 210)
    ]


def _differing(a, b) -> tuple[set[str], set[str], set[str]]:
    """Timeseries columns, flows columns and summary keys (timing aside) that differ."""
    ts = {c for c in a.timeseries.columns if not a.timeseries[c].equals(b.timeseries[c])}
    fl = set() if a.flows.equals(b.flows) else {"flows"}
    keys = {k for k in a.summary if not k.startswith("wall_time")}
    summ = {k for k in keys if not pd.Series([a.summary[k]]).equals(pd.Series([b.summary[k]]))}
    return ts, fl, summ


def test_the_deletion_lag_acts_through_risk_targeted_audits_only():
    """Deleting fake reviews feeds the platform's suspicion record, which only risk
    targeting reads (ODD 7.2): under risk targeting the lag changes audits, bans
    and grey practice; under random audits (``targeting=random``, or ``risk`` at
    ``targeting_strength=0``) it changes nothing but the reviews deleted and left
    on the page. A change that gives deletion another channel fails this test:
    update ODD 7.2 and ``sweep.inert_deletion_message`` with it.
    """
    ts, fl, summ = _differing(*_lag_runs())  # the preset: risk targeting, strength 4
    assert {"detections", "banned_stores", "grey_share"} <= ts
    assert {"stores_banned", "grey_share_amazon_end"} <= summ
    for targeting in (
        ("policy.enforcement.amazon.targeting=random",),
        ("policy.enforcement.amazon.targeting_strength=0",),
    ):
        ts, fl, summ = _differing(*_lag_runs(*targeting))
        assert ts == DELETION_ONLY and not fl and not summ, (targeting, ts, fl, summ)


def test_a_store_counts_as_cheating_only_while_its_evidence_lasts():
    """True and false positives are labelled by the evidence (``is_guilty``: E >= 1).

    With a short evidence half-life (2 weeks), stores that stopped buying keep a
    few undeleted fake reviews on their page but no evidence: caught, they are
    false positives. Under the old label (``fake_live > 0``) a store that ever
    campaigned stayed guilty for good.
    """
    cfg = compose(
        *ENFORCED,
        "policy.enforcement.amazon.evidence_half_life_weeks=2",
        "policy.enforcement.amazon.false_positive_rate=0.05",
    )
    m = MarketModel(cfg)
    st = m.stores
    seen = {"detections": [], "false_positives": [], "swept_honest": []}
    record = m.rec_stores

    def spy(name, platform, idx, amount=None):
        if name in seen and len(idx):
            seen[name].append((st.evidence[idx].copy(), st.fake_live[idx].copy()))
        record(name, platform, idx, amount)

    m.rec_stores = spy
    step_all(m)
    det = np.concatenate([e for e, _ in seen["detections"]])
    fp_e = np.concatenate([e for e, _ in seen["false_positives"]])
    fp_f = np.concatenate([f for _, f in seen["false_positives"]])
    assert det.size > 20 and fp_e.size > 20
    assert (det >= 1).all() and (fp_e < 1).all()
    assert is_guilty(np.array([0.0, 0.99, 1.0, 40.0])).tolist() == [False, False, True, True]
    # stale reviews on the page do not make a store guilty
    assert ((fp_f > 0) & (fp_e < 1)).sum() > 0
    for e, _ in seen["swept_honest"]:
        assert (e < 1).all()


def test_stores_closed_counts_each_store_once_at_its_first_closure():
    """``stores_closed`` is the number of distinct stores ever suspended or banned: a store
    suspended twice, or suspended and later banned, counts once. An independent oracle
    follows every status change (``set_status`` to SUSPENDED or BANNED, whatever path:
    ladder, sweeps, new accounts caught at opening); with the store table kept in place
    and no splitting (firm weights constant), the recorded total equals the weighted
    count of the distinct stores the oracle saw, and it is below ``new_bans +
    new_suspensions``, which counts such stores at each closure (the count the
    stores-per-banned-firm target used before)."""
    cfg = compose(
        *ENFORCED,
        "policy.enforcement.amazon.suspension_weeks=2",
        "policy.enforcement.amazon.reinstatement_probability=1.0",
        # every new account is caught, so both new-account paths close stores
        "policy.enforcement.amazon.new_account_detection_probability=1.0",
        "behaviour.new_account_attempt_probability=1.0",
        "behaviour.new_account_cost_usd=0.0",
        "merchants.split_share=1.0",
    )
    m = no_compaction(MarketModel(cfg))
    seen: set[int] = set()
    set_status = m.set_status

    def watched(idx, code):
        if code in (SUSPENDED, BANNED):
            seen.update(np.atleast_1d(np.asarray(idx)).tolist())
        set_status(idx, code)

    m.set_status = watched
    step_all(m)
    st, f, data = m.stores, m.firms, m.recorder.data
    n = st.n
    assert data["new_accounts_caught"].sum() > 0  # the new-account paths ran
    assert data["firms_lost_to_bans"].sum() > 0
    closed = np.isin(np.arange(n), sorted(seen))
    for p in range(m.P):
        on = closed & (st.platform[:n] == p)
        oracle = float(f.weight[st.firm[:n][on]].sum())
        assert data["stores_closed"][:, p, :].sum() == pytest.approx(oracle, rel=1e-9, abs=1e-12)
    total = data["stores_closed"].sum()
    events = (data["new_bans"] + data["new_suspensions"]).sum()
    assert 0 < total < events


# --------------------------------------------------------- responsive enforcement


def test_response_multiplier_hand_values():
    # at the tolerated prevalence the target multiplier is 1: half-way from 2 to 1
    assert response_multiplier(2.0, 0.05, 0.05, 1.0, 0.25, 4.0, 0.5) == pytest.approx(1.5)
    # twice the tolerated prevalence, elasticity 1: target 2
    assert response_multiplier(1.0, 0.10, 0.05, 1.0, 0.25, 4.0, 0.1) == pytest.approx(1.1)
    # bounded: no prevalence -> the lowest; a flood -> the highest
    assert response_multiplier(1.0, 0.0, 0.05, 1.0, 0.25, 4.0, 1.0) == pytest.approx(0.25)
    assert response_multiplier(1.0, 0.9, 0.05, 1.0, 0.25, 4.0, 1.0) == pytest.approx(4.0)
    # rate 0 never moves; elasticity 0 aims at 1 whatever the prevalence
    assert response_multiplier(1.7, 0.9, 0.05, 1.0, 0.25, 4.0, 0.0) == 1.7
    assert response_multiplier(2.0, 0.0, 0.05, 0.0, 0.25, 4.0, 1.0) == pytest.approx(1.0)


RESPONSIVE = (
    "merchants.count=300",
    "time.spinup_weeks=4",
    "time.end_date=2022-06-27",
    "policy.enforcement.amazon.response=prevalence",
)


def test_responsive_enforcement_follows_prevalence_after_the_start_only():
    """Paired with the fixed schedule until the crackdown starts; then the level is
    the schedule times a multiplier that rises while Amazon's prevalence is above the
    tolerated level and falls below it; the lever changes the outcomes."""
    fixed = MarketModel(compose(*RESPONSIVE[:-1]))
    resp = MarketModel(compose(*RESPONSIVE))
    amazon = fixed.platform_names.index("amazon")
    start = fixed.enforcers[amazon].start_step
    target = resp.cfg.policy.enforcement["amazon"].response_target_prevalence
    rows = []
    while fixed.running:
        fixed.step()
        resp.step()
        ef, er = fixed.enforcers[amazon], resp.enforcers[amazon]
        phi = resp.platform_agents[amazon].prevalence
        rows.append((resp.t, ef.level, er.level, er.multiplier, phi))
        if resp.t < start:
            assert er.multiplier == 1.0 and er.level == ef.level == 0.0
            assert_array_equal(
                resp.stores.status[: resp.stores.n], fixed.stores.status[: fixed.stores.n]
            )
    rows = np.array(rows)
    after = rows[rows[:, 0] >= start]
    assert (after[:, 2] != after[:, 1]).any()
    # week by week the rule on the prevalence the platform saw that week (phase 3
    # sets it, enforcement in phase 5 reads it), and the level is schedule x M
    c = resp.cfg.policy.enforcement["amazon"]
    prev_m = np.concatenate([[1.0], after[:-1, 3]])
    want = response_multiplier(
        prev_m,
        after[:, 4],
        target,
        c.response_elasticity,
        c.response_min_multiplier,
        c.response_max_multiplier,
        c.response_adjustment_rate,
    )
    assert_allclose(after[:, 3], want, rtol=1e-12)
    assert_allclose(after[:, 2], after[:, 1] * after[:, 3], rtol=1e-12)
    assert after[:, 3].max() > 1.2 and np.ptp(after[:, 3]) > 0.1  # it did respond
    a, b = run(compose(*RESPONSIVE[:-1])).summary, run(compose(*RESPONSIVE)).summary
    assert a["stores_banned"] != b["stores_banned"]


def test_decay_factor_hand_values():
    assert decay_factor(9, 10, 26.0, 0.3) == 1.0
    assert decay_factor(10, 10, 26.0, 0.3) == 1.0
    assert decay_factor(36, 10, 26.0, 0.3) == pytest.approx(0.3 + 0.7 * 0.5)
    assert decay_factor(10 + 52 * 20, 10, 26.0, 0.3) == pytest.approx(0.3, abs=1e-6)


def test_enforcement_winds_down_from_its_decay_date():
    base = ("merchants.count=200", "time.spinup_weeks=4", "time.end_date=2022-12-26")
    decay = (
        "policy.enforcement.amazon.decay_start_date=2022-01-03",
        "policy.enforcement.amazon.decay_half_life_weeks=13",
        "policy.enforcement.amazon.decay_floor=0.2",
    )
    a, b = MarketModel(compose(*base)), MarketModel(compose(*base, *decay))
    amazon = a.platform_names.index("amazon")
    d = b.enforcers[amazon].decay_step
    while a.running:
        a.step()
        b.step()
        la, lb = a.enforcers[amazon].level, b.enforcers[amazon].level
        if b.t < d:
            assert la == lb
        else:
            assert lb == pytest.approx(la * (0.2 + 0.8 * 0.5 ** ((b.t - d) / 13)), rel=1e-12)
    assert lb < 0.5 * la
