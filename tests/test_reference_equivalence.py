"""The engine against the per-agent reference model (benchmarks/reference.py).

The reference writes every rule the plain Mesa way (one object per merchant and
per store, each with its own ``step``) and draws its own random numbers in its
own order, so the two agree in distribution, not draw for draw. The test: for
each outcome, a two-sided Mann-Whitney U test of engine vs reference over
``REPLICATES`` independent replicates each (different seeds), at a
family-wise alpha of 0.01 with a Bonferroni correction over the outcomes.
A control run shows that the same test does see a real difference (a policy
that bans nothing vs one that bans), so a pass is not for lack of power.

The CI version uses a small world (``SMALL_WORLD``, ~5 min on one core); the
slow-marked version repeats it at a larger one, in its own file
(``test_reference_equivalence_larger.py``) so that pytest-xdist runs the two
on different workers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import compose
from scipy import stats

from benchmarks.reference import ReferenceModel
from sim.engine.runner import run

OUTCOMES = (
    "cn_share_of_amazon_sellers_end_2021",
    "grey_share_amazon_end_2021",
    "multihoming_share_CN_end_2021",
    "stores_banned",
)
REPLICATES = 30
FAMILY_ALPHA = 0.01
ALPHA = FAMILY_ALPHA / len(OUTCOMES)  # Bonferroni
# One recorded year (2021) and a crackdown on Amazon from its second month, so
# that bans and grey practice are frequent enough to compare in a small world.
STRONG = (
    "time.start_date=2021-01-04",
    "time.end_date=2021-12-27",
    "policy.enforcement.amazon.start_date=2021-02-01",
    "policy.enforcement.amazon.audit_probability_per_week=0.08",
)
SMALL_WORLD = ("merchants.count=100", "time.spinup_weeks=8", *STRONG)
# 300 sampled firms, about 400 rows with the association members split out
LARGER_WORLD = ("merchants.count=300", "time.spinup_weeks=26", *STRONG)


def _engine(overrides, seeds) -> dict[str, np.ndarray]:
    out = {k: [] for k in OUTCOMES}
    for s in seeds:
        summary = run(compose(*overrides, f"seed={s}")).summary
        for k in OUTCOMES:
            out[k].append(summary[k] if summary[k] is not None else math.nan)
    return {k: np.array(v, dtype=float) for k, v in out.items()}


def _reference(overrides, seeds) -> dict[str, np.ndarray]:
    out = {k: [] for k in OUTCOMES}
    for s in seeds:
        summary = ReferenceModel(compose(*overrides, f"seed={s}")).run().summary()
        for k in OUTCOMES:
            out[k].append(summary[k])
    return {k: np.array(v, dtype=float) for k, v in out.items()}


def _p_values(a: dict, b: dict) -> dict[str, float]:
    p = {}
    for k in OUTCOMES:
        x, y = a[k][np.isfinite(a[k])], b[k][np.isfinite(b[k])]
        assert x.size >= REPLICATES - 2 and y.size >= REPLICATES - 2, k
        if np.ptp(np.concatenate([x, y])) == 0:
            p[k] = 1.0  # identical constants
        else:
            p[k] = float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)
    return p


def _check(world, engine=None) -> None:
    engine = engine if engine is not None else _engine(world, range(REPLICATES))
    reference = _reference(world, range(1000, 1000 + REPLICATES))
    p = _p_values(engine, reference)
    report = {k: (round(engine[k].mean(), 4), round(np.nanmean(reference[k]), 4), p[k]) for k in p}
    assert all(v >= ALPHA for v in p.values()), f"(engine mean, reference mean, p): {report}"
    # the outcomes are not degenerate: something happens in this world
    assert engine["stores_banned"].mean() > 1
    assert np.nanmean(reference["stores_banned"]) > 1


@pytest.fixture(scope="module")
def engine_small() -> dict[str, np.ndarray]:
    return _engine(SMALL_WORLD, range(REPLICATES))


def test_engine_and_reference_agree_in_distribution(engine_small):
    _check(SMALL_WORLD, engine_small)


def test_the_test_sees_a_real_difference(engine_small):
    """Control: the same test separates a crackdown from no enforcement."""
    a = engine_small
    b = _engine((*SMALL_WORLD, "policy=none"), range(REPLICATES))
    p = stats.mannwhitneyu(a["stores_banned"], b["stores_banned"]).pvalue
    assert p < ALPHA
