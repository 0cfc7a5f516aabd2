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
replicates ``0 .. R-1`` (:data:`R`) with the study's seed: replicate ``k`` on
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
its effect builds slowly and needs about 12 paired replicates at 2,000 firms to
the end of 2023 (docs/validation.md), far beyond quick scale. It is listed in
:data:`EXEMPT` with the dedicated slow test that covers it,
:func:`test_a_shorter_deletion_lag_bans_more_and_leaves_less_grey_practice`;
here it is still run and reported, and must reach the model (some outcome
differs: the version 0.1 bug), a wiring check, not the criterion.

:data:`KNOWN_INERT` lists the levers this criterion finds inert at quick scale
that no other test covers (the own-store subsidy of subsidy_race, whose
qualifying firms all hold an own web store already; the random peer network of
association_network, whose effect on members fades by the end of the run). They
are open findings about the model or the study design, not exemptions: each is
still run, judged and reported in a UserWarning on every run (also when it
starts to act). Deleting an entry turns it back into a failure. Hub-targeted
audits and the scale-free network act on association members only (2,600 of
500,000 real firms): they are judged on the members' own Amazon outcomes
(``grey_share_amazon_members_end``, ``banned_share_amazon_members_end``), as no
market-wide share can show them; there they move by -0.12 and -0.08 (p = 0.014
and 0.015 at R = 8), short of Holm's thresholds at quick scale, so they are
listed too: the association study needs a scale where its network exists.

**Cost.** About 25 design points x ``R`` runs of 1-2 s at the quick profile
(300 firms), run in one spawned process pool on all cores: 3.5 to 5 minutes
on 2 cores for the five studies and the placebo, so these tests are
slow-marked (the full Python 3.11 leg runs them). At ``R = 8`` every lever
outside :data:`KNOWN_INERT` passes with its best p-value at most 0.002 against
Holm thresholds of 0.0028 to 0.017 (hub targeting: p = 0.0015, members' grey
share with a random network, threshold 0.0033; scale-free: p = 0.002, members
ever banned, threshold 0.01); the closest, the Amazon fee hike
(threshold 0.01), gave p = 0.0042 at 12 replicates as well. Fewer replicates
were not tried: with 7 degrees of freedom the t-test has little power to spare.
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
#: now: then check at more replicates and remove the entry). Measured at
#: R = 8 and again at 12 paired replicates (unadjusted p, best outcome).
KNOWN_INERT = {
    ("subsidy_race", "parameter incentives.own_store_subsidy_usd"): (
        "0 vs 1m USD per own web store: inert in substance at the preset eligibility "
        "(CN firms above the 0.98 size quantile): every qualifying firm already runs an "
        "own web store before the subsidy window opens (100% at 300 firms, 94% at 2,000), "
        "so it pays the few that re-join and moves no one; best outcome Amazon sellers "
        "(fee-hike scenario), p = 0.11 (R = 8), Holm needs 0.005. Broader eligibility (0.75) "
        "acts (CN own web stores +23%, p = 0.0006 vs no subsidy) but sweeping eligibility "
        "at 310k instead gave p = 0.016 at quick scale and left the fee hike inert"
    ),
    ("association_network", "parameter policy.enforcement.amazon.hub_targeting"): (
        "hub-targeted audits act on association members only (~0.5% of real firms): "
        "members' Amazon grey share at the end -0.12 with a scale-free network (t = -3.3, "
        "p = 0.014, R = 8; Holm needs 0.0033); p = 0.0015 before split firms inherited "
        "their ties and drew from their own stream (commit f7d55d7): a real but weak lever "
        "at quick scale (300 firms), to be judged at a scale where the network exists"
    ),
    ("association_network", "scenario scale_free"): (
        "scale-free vs no peer network: members ever banned on Amazon -0.079 (t = -3.2, "
        "p = 0.015, R = 8; Holm needs 0.01); p = 0.002 before commit f7d55d7: weak at "
        "quick scale, as above"
    ),
    ("association_network", "scenario random"): (
        "random vs no peer network: acts on members early and transiently (members' Amazon "
        "grey share end-2021 -0.21, p = 0.0009; at the end of the run +0.055, p = 0.09); "
        "the summary has members' outcomes at the end only (an end-2021 one needs "
        "per-member records in the model); best declared outcome market-wide grey share "
        "end-2021 +0.017, p = 0.035"
    ),
}

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
    outcomes, specs, levers = study_levers(study)
    assert levers, f"{study} sweeps nothing"
    # every lever's first comparison in one batch (keeps all cores busy)
    _run_all([s for _, comps in levers for at in comps[0][1:] for s in _side(specs, at, range(R))])
    inert, report = [], []
    for label, comparisons in levers:
        rejected, tests = judge_lever(outcomes, specs, comparisons)
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
        f"(paired t, Holm at {ALPHA}, R = {R}): {inert}"
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

    Paired replicates 0-11 (same seed and replicate: the same population) at
    2,000 firms under ``policy=crackdown_2021`` to the end of 2023, review
    deletion after 30 vs 300 days. A shorter lag points the platform's
    suspicion (risk-targeted audits) at stores sooner after they buy: less
    grey practice is left at the end of 2023 and more stores are banned (each a
    one-sided paired t-test at 5%: |t| > 1.80 with 11 degrees of freedom).
    Measured at commit f7d55d7: grey share -0.024 (t = -5.6), +4% stores banned
    (t = 2.9); a weak lever, and its effect on bans moved between versions of
    the model (docs/validation.md).
    """
    from sim import compose_config
    from sim.engine.runner import run

    keys = ("stores_banned", "grey_share_amazon_end_2023")
    got: dict[int, dict[str, list[float]]] = {}
    for lag in (30, 300):
        got[lag] = {k: [] for k in keys}
        for rep in range(12):
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
