"""Behaviour of the default scenario under the 2021 crackdown (fixed seed, tolerant thresholds).

Paired runs (same seed and replicate, so the same initial population) of
policy=crackdown_2021 against policy=none, compared on summary outcomes from
sim/engine/runner.py ``summarize``.
"""

from __future__ import annotations

import numpy as np
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
    """A firm banned off Amazon can buy fake reviews on another platform afterwards.

    ODD 7.1 / issue 11 item 7: whether displacement happens is the model's answer;
    that it can happen is the requirement. In a world with a strong Amazon
    crackdown, some firm buys fake reviews on another marketplace in a week after
    the week one of its Amazon stores was first banned (campaigns run in phase 1,
    bans in phase 5, so the ban week itself does not count); and the summary's
    grey share off Amazon is the grey over the active stores of the other
    marketplaces, managed platforms left out.
    """
    from conftest import ENFORCED, step_all

    from sim.core.model import MarketModel

    m = MarketModel(compose(*ENFORCED))
    amazon = m.platform_names.index("amazon")
    first_ban: dict[int, int] = {}
    displaced = set()

    def watch(model):
        st, f = model.stores, model.firms
        n = st.n
        cheat = st.campaign[:n] & (st.platform[:n] != amazon)
        for firm in np.unique(st.firm[:n][cheat]).tolist():
            if firm in first_ban and first_ban[firm] < model.t:
                displaced.add(firm)
        banned = np.flatnonzero(f.ever_banned[: f.n, amazon])
        for firm in banned.tolist():
            first_ban.setdefault(firm, model.t)

    step_all(m, watch)
    assert first_ban, "the crackdown banned no firm"
    assert displaced, "no firm banned on Amazon bought fake reviews elsewhere later"
    res = run(compose(*ENFORCED))
    ts = res.timeseries
    last = ts[(ts["step"] == ts["step"].max()) & ~ts["platform"].isin(["amazon", "temu"])]
    want = last["grey_stores"].sum() / last["active_stores"].sum()
    assert res.summary["grey_share_off_amazon_end"] == pytest.approx(want, rel=1e-12)
    cn = last[last["origin"] == "CN"]
    want_cn = cn["grey_stores"].sum() / cn["active_stores"].sum()
    assert res.summary["grey_share_off_amazon_CN_end"] == pytest.approx(want_cn, rel=1e-12)
