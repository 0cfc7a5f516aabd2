"""Behaviour of the default scenario under the 2021 crackdown (fixed seed, tolerant thresholds).

Paired runs (same seed and replicate, so the same initial population) of
policy=crackdown_2021 against policy=none, compared on summary outcomes from
sim/engine/runner.py ``summarize``.
"""

from __future__ import annotations

import pytest
from conftest import compose

from sim.engine.runner import run

SCENARIO = ("merchants.count=1500", "seed=20210425", "replicate=0")


@pytest.fixture(scope="module")
def paired():
    none = run(compose(*SCENARIO, "policy=none")).summary
    crack = run(compose(*SCENARIO, "policy=crackdown_2021")).summary
    return none, crack


@pytest.mark.slow
def test_same_world_before_the_crackdown(paired):
    none, crack = paired
    for key in (
        "cn_merchants_on_amazon_before_crackdown",
        "grey_share_amazon_before_crackdown",
        "multihoming_share_CN_before_crackdown",
    ):
        assert crack[key] == none[key], key
    assert none["cn_merchants_on_amazon_before_crackdown"] > 100
    assert none["grey_share_amazon_before_crackdown"] > 0.05


@pytest.mark.slow
def test_crackdown_reduces_cn_merchants_on_amazon(paired):
    none, crack = paired
    key = "cn_merchants_on_amazon_end_2021"
    assert crack[key] < 0.85 * none[key], (crack[key], none[key])
    assert (
        crack["cn_share_of_amazon_sellers_end_2021"] < none["cn_share_of_amazon_sellers_end_2021"]
    )


@pytest.mark.slow
def test_crackdown_bans_stores(paired):
    none, crack = paired
    assert none["stores_banned"] == 0
    assert crack["stores_banned"] >= 30
    assert crack["stores_suspended"] > 0
    assert crack["firms_lost_amazon_to_bans"] > 0
    assert crack["cn_firms_lost_amazon_to_bans"] > 0


@pytest.mark.slow
def test_crackdown_lowers_grey_share_on_amazon(paired):
    """Deterrence: under the crackdown Amazon's grey share falls against the paired
    no-crackdown run, slowly at first and then for good.

    Model v2 part 1 (evidence must accumulate before a store is detected, and
    firms learn the risk from pooled per-store-week rates): 0.40 vs 0.45 at
    end-2021 (-11%), 0.18 vs 0.48 at end-2023 and 0.06 vs 0.48 at the end of
    2025 here. Under v0.1 the
    end-2021 fall was about a third; the shallower 2021 response is the
    documented miss of ``cn_share_amazon_end_2021`` (docs/validation.md),
    left to the recalibration of "Evidence v2".
    """
    none, crack = paired
    assert crack["grey_share_amazon_end_2021"] < 0.95 * none["grey_share_amazon_end_2021"]
    assert crack["grey_share_amazon_end_2023"] < 0.6 * none["grey_share_amazon_end_2023"]
    assert crack["grey_share_amazon_end"] < 0.3 * none["grey_share_amazon_end"]


def test_displacement_is_possible():
    """A firm banned off Amazon keeps its grey propensity and can cheat where it moves.

    ODD 7.1 / issue 11 item 7: whether displacement happens is the model's answer;
    that it can happen is the requirement. In a world with a strong Amazon
    crackdown, some firm that had a store banned on Amazon later buys fake
    reviews on another platform, its propensity unchanged by the ban, and the
    summary reports grey practice off Amazon.
    """
    from conftest import ENFORCED, step_all

    from sim.core.model import MarketModel

    m = MarketModel(compose(*ENFORCED))
    amazon = m.platform_names.index("amazon")
    start = m.firms.view("propensity").copy()
    displaced = set()

    def watch(model):
        st, f = model.stores, model.firms
        n = st.n
        cheat = st.campaign[:n] & (st.platform[:n] != amazon)
        firms = st.firm[:n][cheat]
        displaced.update(firms[f.ever_banned[firms, amazon]].tolist())

    step_all(m, watch)
    assert displaced, "no firm banned on Amazon bought fake reviews elsewhere"
    rows = [r for r in sorted(displaced) if r < start.size]  # firms of the initial population
    assert rows
    assert (m.firms.propensity[rows] == start[rows]).all()
    res = run(compose(*ENFORCED))
    assert res.summary["grey_share_off_amazon_end"] > 0
    assert res.summary["grey_share_off_amazon_CN_end"] > 0
