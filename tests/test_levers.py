"""No inert levers: every lever a study sweeps changes one of its outcomes beyond chaotic noise.

A swept parameter (or scenario) that does nothing is a silent bug: the
review-deletion lag of the first model version left every outcome bit-identical
(only the fake-review count moved). But "some outcome differs" is no test of a
lever: the model is chaotic, so any change of any parameter moves every outcome
a little, whether or not the lever acts in substance. This module asks for an
effect that stands out from that noise.

**Levers.** For each study of ``experiments.all`` at the quick profile:

- every design parameter, its lowest against its highest level, the other
  parameters at their first level, in the baseline scenario and, only if it
  does not act there, in the other scenarios in turn (hub-targeted audits need
  a network: they cannot act in the ``no_network`` baseline of the association
  study);
- every other scenario against the baseline scenario, at the first design point.

**Paired replicates (common random numbers).** Each side of a lever runs
replicates ``0 .. R-1`` (:data:`R`, or the study's entry in :data:`REPS`) with
the study's seed: replicate ``k`` on
both sides starts from the same population and random streams
(:func:`sim.engine.sweep.expand`), so the paired difference
``d_k = outcome(high) - outcome(low)`` removes most of what the replicates do
not share with the lever.

**Criterion.** Per declared study outcome, a two-sided paired t-test of
``mean(d) = 0`` (``R - 1`` degrees of freedom). A lever acts when Holm's
procedure at :data:`ALPHA` (family-wise) rejects at least one null; the family
is every (outcome, scenario) the lever may be judged in (outcomes x scenarios
for a design parameter, the outcomes for a scenario lever), so trying further
scenarios when the baseline shows nothing costs significance instead of
buying chances. "At least one rejection" is Holm's first step: the smallest
p-value is below ``ALPHA / family size`` (Bonferroni); scenarios are tried in a
fixed order and the search stops at a rejection, so a lever that is inert in
every scenario passes with probability at most ``ALPHA``. Outcomes that are
undefined (NaN) in a replicate are compared over the replicates where both
sides are defined; a difference that is the same in every replicate (zero
spread) is an effect if it is not zero.

**The criterion can fail.** :func:`test_a_placebo_lever_is_judged_inert` runs
a placebo: the same configuration on both sides, replicates ``0 .. R-1``
against ``R .. 2R-1`` (a different population and streams: pure chaotic
divergence, nothing systematic). Every outcome differs, so the old "any
difference" test would have called it a lever; this criterion must judge it
inert. A paired placebo, :func:`test_a_paired_placebo_lever_is_judged_inert`,
keeps the pairing (same replicates on both sides) and halves the split
resolution ``merchants.split_share``, which changes every trajectory after the
first split but nothing systematic: it must be judged inert too (measured:
smallest p 0.073 over the six outcomes of certainty_severity). The placebos'
verdicts are themselves tests at level ``ALPHA``: after a model
change it can reject by chance (1 in 20), so it is one fixed placebo, not a
search for a lucky one. Fast unit tests check the criterion on synthetic data
(pure noise: rejected in about ``ALPHA`` of trials; a shift: detected).

**Exceptions, named.** The review-deletion lag (certainty_severity's
scenarios ``lag_30d`` and ``lag_300d`` against ``lag_100d``) is a weak lever:
its effect builds slowly and needs about 20 paired replicates at 2,000 firms to
the end of 2023 (docs/validation.md), far beyond quick scale. It is listed in
:data:`EXEMPT` with the dedicated slow test that covers it,
:func:`test_a_shorter_deletion_lag_bans_more_and_leaves_less_grey_practice`;
here it is still run and reported, and must reach the model (some outcome
differs: the version 0.1 bug), a wiring check, not the criterion.

**Replicates.** ``R = 8`` for every study but the association network, whose
levers act on association members only (2,600 of 500,000 real firms, ~0.5%): it
is judged on the members' own Amazon outcomes (grey share and share ever
banned, at the end of 2021 and at the end of the run; docs/outputs.md), where
the effects are large but noisy, as few member model firms carry them. At 8
pairs the best were t = -3.3 for hub targeting (members' grey share at the end,
scale-free network; p = 0.014) and t = -3.5 for the random network (members'
grey share at the end of 2021; p = 0.010); the scale-free network passed
already (members ever banned by the end of 2021, t = -5.2, p = 0.0012).
Standardised effects ``d = t / sqrt(8)`` of 1.16 and 1.23 against Holm's first
thresholds (0.05/21 for hub targeting: 7 outcomes x 3 scenarios; 0.05/7 for a
network scenario) give a paired t-test power 0.23 and 0.47 at 8 pairs, 0.56 and
0.80 at 12, 0.81 and 0.95 at 16 (noncentral t), so :data:`REPS` gives that
study 16 pairs. Measured at 16: hub targeting p = 0.00045 (members' grey share
at the end, scale-free network; threshold 0.0024), scale-free network
p = 0.00008 (members ever banned by the end of 2021; threshold 0.0071), random
network p = 0.00016 (members' grey share at the end of 2021, -0.16; threshold
0.0071; the random network's effect is early and transient, at the end of the
run it is +0.06, p = 0.04).

:data:`KNOWN_INERT` lists levers this criterion finds inert at quick scale
that no other test covers, as open findings about the model or the study
design, not exemptions: each is still run, judged and reported in a
UserWarning on every run (also when it starts to act). Deleting an entry turns
it back into a failure. None at present. The own-store subsidy of
subsidy_race was one: at the preset eligibility (firms above the 0.98 size
quantile, about the Shenzhen programme's $300k of monthly sales) every
qualifying firm already runs an own web store when the subsidy window opens,
so its amount moved no one (best p = 0.09, R = 8); the study now pays it to
the upper quarter of firms by size (its yaml says why), where it acts. Since
Temu is managed and admits CN suppliers only, the 2023 Amazon fee hike moves
fewer sellers by the quick profile's end (Amazon's seller count -3.9 model
firms against -7.9 with Temu open to both origins, p = 0.1 over 8 pairs): the
study now also reports the platforms' net revenue (ODD 7.6), on which the hike
acts, and reads the seller moves at paper scale (to 2025).

**Cost.** About 25 design points x ``R`` runs (16 for the association network)
of 1-2 s at the quick profile (300 firms), run in one spawned process pool on
all cores: the slow tests of this module, the deletion-lag test included, took
5.5 minutes on 2 cores, 9.5 minutes with other jobs loading them (there: the
deletion-lag test 2.7 minutes, the association network 1.4, each other study
about 1), so they are slow-marked (the full Python 3.11 leg runs them). Every
lever outside :data:`EXEMPT` passes with its best p-value at most 0.0035
against Holm thresholds of 0.0024 to 0.01; the closest is the TikTok Shop
new-seller subsidy (p = 0.0035, threshold 0.005), then hub targeting (0.00045
against 0.0024). Fewer replicates were not tried: with 7 degrees of freedom the
t-test has little power to spare.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import warnings

import numpy as np
import pytest
from scipy import stats

from experiments.all import STUDIES
from sim.engine.compose import compose_sweep
from sim.engine.sweep import RunSpec, expand, simulate

#: Paired replicates per side of a lever.
R = 8
#: Studies that need more paired replicates than :data:`R` (power argument in
#: the module docstring, "Replicates").
REPS = {"association_network": 16}
#: Family-wise significance level of one lever's verdict.
ALPHA = 0.05
#: Levers judged elsewhere: (study, lever label) -> the test that covers them.
EXEMPT = {
    ("certainty_severity", "scenario lag_30d"): (
        "test_a_shorter_deletion_lag_bans_more_and_leaves_less_grey_practice"
    ),
    ("certainty_severity", "scenario lag_300d"): (
        "test_a_shorter_deletion_lag_bans_more_and_leaves_less_grey_practice"
    ),
}

#: Levers this test finds inert at quick scale that no other test covers: open
#: findings, not exemptions. They are run and judged like the others, and
#: reported either way in a UserWarning of the test summary (inert, or acting
#: now: then check at more replicates and remove the entry), with the numbers
#: measured (unadjusted p of the best outcome, paired replicates). None at present.
KNOWN_INERT: dict[tuple[str, str], str] = {}

_RUNS: dict[str, dict] = {}


# ------------------------------------------------------------------ criterion


def paired_p(a: list[float], b: list[float]) -> tuple[float, float, float, int]:
    """Two-sided paired t-test of ``mean(b - a) = 0``: (mean difference, t, p, pairs).

    Pairs with a NaN on either side are dropped; fewer than 3 pairs give
    ``p = 1``. Zero spread: ``p = 0`` for a nonzero constant difference
    (``t = ±inf``), ``p = 1`` for none.
    """
    d = np.asarray(b, float) - np.asarray(a, float)
    d = d[np.isfinite(d)]
    n = d.size
    if n < 3:
        return (float(d.mean()) if n else math.nan), math.nan, 1.0, n
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    if sd == 0.0 or sd <= 1e-12 * abs(mean):
        return mean, (math.copysign(math.inf, mean) if mean else 0.0), (0.0 if mean else 1.0), n
    t = mean / (sd / math.sqrt(n))
    return mean, t, float(2 * stats.t.sf(abs(t), n - 1)), n


def holm(pvalues: list[float], alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down procedure: which nulls are rejected at family-wise level ``alpha``."""
    m = len(pvalues)
    reject = [False] * m
    for rank, i in enumerate(sorted(range(m), key=lambda i: pvalues[i])):
        if pvalues[i] > alpha / (m - rank):
            break
        reject[i] = True
    return reject


def judge(tests: list[dict], family: int, alpha: float = ALPHA) -> list[dict]:
    """The tests Holm rejects, ``family`` being the number of nulls the lever may be judged on.

    ``tests`` are the ones run so far (dicts with a ``p``); the untested rest
    of the family count with ``p = 1``.
    """
    ps = [t["p"] for t in tests] + [1.0] * (family - len(tests))
    return [t for t, r in zip(tests, holm(ps, alpha), strict=False) if r]


# ---------------------------------------------------------------- the levers


_POOL: list = []  # one process pool for the module (spawning one costs seconds)


@pytest.fixture(scope="module", autouse=True)
def _close_pool():
    yield
    while _POOL:
        _POOL.pop().shutdown()


def _run_all(specs: list[RunSpec]) -> None:
    """Simulate the specs not yet cached, on all cores (spawned processes, as sweeps do)."""
    todo = list({s.run_id: s for s in specs if s.run_id not in _RUNS}.values())
    workers = min(2 * len(todo), os.cpu_count() or 1)
    if workers <= 1:
        for s in todo:
            _RUNS[s.run_id] = simulate(s)["summary"]
        return
    if not _POOL:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        _POOL.append(ProcessPoolExecutor(os.cpu_count(), mp_context=mp.get_context("spawn")))
    for s, out in zip(todo, _POOL[0].map(simulate, todo), strict=True):
        _RUNS[s.run_id] = out["summary"]


def _value(summary: dict, name: str) -> float:
    key, _, sub = name.partition(".")
    v = summary.get(key)
    if sub and isinstance(v, dict):
        v = v.get(sub)
    return math.nan if v is None else float(v)


def _compare(side_a: list[RunSpec], side_b: list[RunSpec], outcomes: list[str], where: str):
    """Paired tests of every outcome between two lists of runs (paired by position)."""
    _run_all([*side_a, *side_b])
    out = []
    for name in outcomes:
        a = [_value(_RUNS[s.run_id], name) for s in side_a]
        b = [_value(_RUNS[s.run_id], name) for s in side_b]
        mean, t, p, n = paired_p(a, b)
        differs = any(
            not (x == y or (math.isnan(x) and math.isnan(y))) for x, y in zip(a, b, strict=True)
        )
        out.append(
            {
                "outcome": name,
                "where": where,
                "mean": mean,
                "t": t,
                "p": p,
                "n": n,
                "differs": differs,
            }
        )
    return out


def study_levers(study: str, reps: int = R):
    """(outcomes, specs, levers) of a study at the quick profile, ``2 * reps`` replicates expanded.

    A lever is ``(label, comparisons)``: the comparisons it may be judged on,
    in order, each ``(where, (scenario, params) low, (scenario, params) high)``.
    """
    sweep = compose_sweep(study, ["profile=quick", f"profile.replications={2 * reps}"])
    exp = sweep.experiment
    points, specs = expand(sweep)
    names = sorted(exp.design.parameters)
    base_scn = exp.baseline_scenario or (points[0].scenario if points else "")
    scenarios = [base_scn, *(s for s in exp.scenarios if s != base_scn)]
    pts = [p.params for p in points if p.scenario == base_scn]
    first = {n: min(p[n] for p in pts) for n in names}
    levers = []
    for n in names:
        lo, hi = min(p[n] for p in pts), max(p[n] for p in pts)
        comparisons = [
            (scn or "-", (scn, {**first, n: lo}), (scn, {**first, n: hi})) for scn in scenarios
        ]
        levers.append((f"parameter {n}", comparisons))
    for scn in scenarios[1:]:
        levers.append((f"scenario {scn}", [(f"vs {base_scn}", (base_scn, first), (scn, first))]))
    return list(exp.outcomes), specs, levers


def _side(specs: list[RunSpec], at: tuple[str, dict], reps: range) -> list[RunSpec]:
    scenario, params = at
    by_rep = {s.replicate: s for s in specs if s.scenario == scenario and s.params == params}
    return [by_rep[r] for r in reps]


def judge_lever(outcomes, specs, comparisons, reps: int = R) -> tuple[list[dict], list[dict]]:
    """(rejected tests, all tests run) of one lever, trying its comparisons in order."""
    family = len(outcomes) * len(comparisons)
    tests: list[dict] = []
    for where, low, high in comparisons:
        tests += _compare(
            _side(specs, low, range(reps)), _side(specs, high, range(reps)), outcomes, where
        )
        rejected = judge(tests, family)
        if rejected:
            return rejected, tests
    return [], tests


def _fmt(t: dict) -> str:
    return (
        f"{t['outcome']} [{t['where']}]: mean diff {t['mean']:+.4g}, t = {t['t']:.2f}, "
        f"p = {t['p']:.2g} (n = {t['n']})"
    )


def _best(tests: list[dict]) -> dict:
    return min(tests, key=lambda t: t["p"])


# ---------------------------------------------------------------------- tests


@pytest.mark.slow
@pytest.mark.parametrize("study", STUDIES)
def test_every_swept_lever_acts_beyond_chaotic_noise(study):
    reps = REPS.get(study, R)
    outcomes, specs, levers = study_levers(study, reps)
    assert levers, f"{study} sweeps nothing"
    # every lever's first comparison in one batch (keeps all cores busy)
    _run_all(
        [s for _, comps in levers for at in comps[0][1:] for s in _side(specs, at, range(reps))]
    )
    inert, report = [], []
    for label, comparisons in levers:
        rejected, tests = judge_lever(outcomes, specs, comparisons, reps)
        shown = _best(rejected or tests)
        exempt = EXEMPT.get((study, label))
        known = KNOWN_INERT.get((study, label))
        verdict = "acts" if rejected else ("EXEMPT" if exempt else "INERT")
        report.append(f"{study} | {label} | {verdict} | {_fmt(shown)}")
        if exempt:
            # wiring check only (the criterion is the dedicated slow test's)
            assert any(t["differs"] for t in tests), f"{study}: {label} does not reach the model"
        elif known:
            now = (
                "ACTS NOW (check at more replicates, then remove the entry)"
                if rejected
                else "inert"
            )
            warnings.warn(
                f"{study}: {label} is listed in KNOWN_INERT ({known}); now {now}: {_fmt(shown)}",
                UserWarning,
                stacklevel=1,
            )
        elif not rejected:
            inert.append(f"{label} (best: {_fmt(shown)})")
    print("\n".join(report))
    assert not inert, (
        f"{study}: levers with no outcome of {outcomes} beyond noise "
        f"(paired t, Holm at {ALPHA}, R = {reps}): {inert}"
    )


def test_exemptions_name_slow_tests_and_real_levers():
    """Every EXEMPT entry names a slow test of this module; every listed lever exists."""
    for test in EXEMPT.values():
        fn = globals().get(test)
        assert fn is not None, test
        assert any(m.name == "slow" for m in getattr(fn, "pytestmark", [])), test
    assert not set(EXEMPT) & set(KNOWN_INERT)
    for study in {s for s, _ in [*EXEMPT, *KNOWN_INERT]}:
        assert study in STUDIES, study
        labels = {label for label, _ in study_levers(study, reps=1)[2]}
        for s, label in [*EXEMPT, *KNOWN_INERT]:
            assert s != study or label in labels, (study, label, labels)


@pytest.mark.slow
def test_a_placebo_lever_is_judged_inert():
    """Same configuration on both sides, replicates 0..R-1 against R..2R-1: pure chaos.

    Every outcome differs (the old "any difference" criterion calls it a
    lever), but no outcome's paired mean difference is beyond noise.
    """
    study = "certainty_severity"
    outcomes, specs, levers = study_levers(study)
    at = levers[0][1][0][1]  # the baseline point of the study
    tests = _compare(
        _side(specs, at, range(R)), _side(specs, at, range(R, 2 * R)), outcomes, "placebo"
    )
    assert all(t["differs"] for t in tests), [_fmt(t) for t in tests]
    print("\n".join(f"placebo | {_fmt(t)}" for t in tests))
    assert not judge(tests, len(outcomes)), [_fmt(t) for t in tests]


@pytest.mark.slow
def test_a_paired_placebo_lever_is_judged_inert():
    """Paired placebo: the same replicates on both sides, the split resolution halved.

    ``merchants.split_share`` 0.01 against 0.005 (ODD 7.8: a numerical
    resolution, not behaviour) changes which rows exist and so every trajectory
    after the first split, under common random numbers; nothing systematic may
    follow. Judged like a lever, it must be inert: the criterion does not call
    chaotic divergence under pairing an effect (and the split does not bias the
    study's outcomes at quick scale).
    """
    study = "certainty_severity"
    outcomes, specs, levers = study_levers(study)
    base = _side(specs, levers[0][1][0][1], range(R))
    finer = []
    for s in base:
        cfg = copy.deepcopy(s.config)
        cfg.merchants.split_share = 0.005
        finer.append(dataclasses.replace(s, run_id=f"{s.run_id}-split0.005", config=cfg))
    tests = _compare(base, finer, outcomes, "paired placebo")
    print("\n".join(f"paired placebo | {_fmt(t)}" for t in tests))
    assert any(t["differs"] for t in tests), [_fmt(t) for t in tests]
    assert not judge(tests, len(outcomes)), [_fmt(t) for t in tests]


def test_the_criterion_rejects_noise_at_its_level_and_detects_a_shift():
    """Synthetic paired data: noise alone is judged inert in about ALPHA of levers; a shift acts."""
    rng = np.random.default_rng(2024)
    m, trials = 5, 400
    false = 0
    for _ in range(trials):
        common = rng.normal(0, 1, (m, R))  # what the pair shares (the population)
        a = common + rng.normal(0, 3, (m, R))  # heavy chaotic divergence on each side
        b = common + rng.normal(0, 3, (m, R))
        tests = [
            dict(zip(("mean", "t", "p", "n"), paired_p(a[i], b[i]), strict=True)) for i in range(m)
        ]
        false += bool(judge(tests, m))
    # family-wise level ALPHA (Holm); binomial sd at 400 trials ~ 0.011
    assert false / trials < ALPHA + 0.03, false
    shifted = [paired_p(a[i], b[i] + (10.0 if i == 2 else 0.0)) for i in range(m)]
    tests = [dict(zip(("mean", "t", "p", "n"), s, strict=True)) for s in shifted]
    assert any(t is tests[2] for t in judge(tests, m))


def test_paired_p_edge_cases():
    assert paired_p([1, 2, 3], [1, 2, 3])[2] == 1.0
    mean, t, p, n = paired_p([1, 2, 3], [2, 3, 4])
    assert (mean, t, p, n) == (1.0, math.inf, 0.0, 3)
    assert paired_p([1, math.nan, 3, 4], [2, 5, math.nan, 4])[3] == 2
    assert paired_p([1, math.nan, 3, 4], [2, 5, math.nan, 4])[2] == 1.0
    assert holm([0.01, 0.04, 0.03]) == [True, False, False]
    assert holm([0.01, 0.02, 0.03]) == [True, True, True]


def _paired_t(a: list[float], b: list[float]) -> float:
    d = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(d) / len(d)
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1))
    return mean / (sd / math.sqrt(len(d))) if sd > 0 else math.copysign(math.inf, mean)


@pytest.mark.slow
def test_a_shorter_deletion_lag_bans_more_and_leaves_less_grey_practice():
    """The lever that was inert in version 0.1, beyond chaotic divergence.

    Paired replicates 0-19 (same seed and replicate: the same population) at
    2,000 firms under ``policy=crackdown_2021`` to the end of 2023, review
    deletion after 30 vs 300 days. A shorter lag points the platform's
    suspicion (risk-targeted audits) at stores sooner after they buy: less
    grey practice is left at the end of 2023 and more stores are banned (each a
    one-sided paired t-test at 5%, |t| > 1.80, above the 1.73 of 19 degrees of
    freedom). Measured at commit f7d55d7 over 12 pairs: grey share -0.024
    (t = -5.6), +4% stores banned (t = 2.9). Since Temu is managed and CN-only
    (commit 0830e41) the lever is weaker by the end of 2023: over 12 pairs
    -0.014 (t = -2.5) and +3.6% bans (t = 1.73, below the threshold), over the
    20 pairs used now -0.015 (t = -3.7) and +4.0% (t = 2.8). A weak lever,
    whose effect moves between versions of the model (docs/validation.md).
    """
    from sim import compose_config
    from sim.engine.runner import run

    keys = ("stores_banned", "grey_share_amazon_end_2023")
    got: dict[int, dict[str, list[float]]] = {}
    for lag in (30, 300):
        got[lag] = {k: [] for k in keys}
        for rep in range(20):
            cfg = compose_config(
                [
                    "merchants.count=2000",
                    f"replicate={rep}",
                    "policy=crackdown_2021",
                    "time.end_date=2023-12-31",
                    f"policy.enforcement.amazon.review_deletion_lag_days={lag}",
                ]
            )
            s = run(cfg).summary
            for k in keys:
                got[lag][k].append(float(s[k]))
    grey = "grey_share_amazon_end_2023"
    assert _paired_t(got[30][grey], got[300][grey]) < -1.80, got
    assert _paired_t(got[30]["stores_banned"], got[300]["stores_banned"]) > 1.80, got
