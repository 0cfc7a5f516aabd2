"""Scale invariance of the population design: do results depend on ``merchants.count``?

A model firm stands for a weighted number of real firms (ODD 5, population
design), so the headline outcomes in real units must not depend on how many
model firms represent the market beyond sampling noise. This script runs the
default scenario at several resolutions, ``--replications`` each, and for
every headline outcome compares each size with the largest by Welch's t-test:

- CN share of Amazon's sellers before the crackdown, at end-2021 and end-2023;
- multi-homing of CN firms at end-2023; Amazon's grey share at end-2021;
- stores banned (real units);
- the top 1,000 and top 10,000 real sellers' share of Amazon's GMV at end-2021.

Two criteria, both reported:

- *no detectable difference*: the difference of the means lies within the 95%
  interval of that difference, ``|m_a - m_b| <= t_{0.975, df} se`` (Welch),
  with a Bonferroni correction over the outcomes x sizes compared (so a
  family-wise 5%). Noisier runs pass this more easily, so it is not enough;
- *equivalent* (two one-sided tests, each at 5%): the 90% Welch interval of
  the difference lies inside a stated margin, ``|diff| + t_{0.95, df} se <=
  margin``, with margin 0.02 for shares and 10% of the largest size's mean
  for counts (``MARGINS``); for effects, 25% of the largest size's effect (at
  least 0.005) and 10% for counts (``EFFECT_MARGINS``). This one fails when the
  runs are too noisy to tell;
- *trend*: the least-squares slope of the outcome on ``log10(count)`` over all
  runs, per tenfold increase of model firms, with its 95% interval: a steady
  drift with the resolution that the size-by-size tests can miss.

It also reports, per size, the largest share of a platform's
weekly GMV held by one model firm (and by one super-individual, a model firm
of two or more real firms, which splits on joining a sparse platform; by one
real firm, a model firm's share over its real firms; and in weeks in which at
least 1% of the alive firms sell on the platform), the largest weekly join flow
onto a platform as a share of the alive firms, and the rows split off joiners.

    .venv/bin/python -m benchmarks.scale_invariance                  # 2k, 5k, 20k x 10
    .venv/bin/python -m benchmarks.scale_invariance --sizes 2000 5000 --replications 6
    .venv/bin/python -m benchmarks.scale_invariance --report-only    # table from stored runs
    .venv/bin/python -m benchmarks.scale_invariance --effects-against none  # and the effects

With ``--effects-against none`` every (size, replicate) is also run under
``policy=none`` and the *effects* (run minus its paired baseline: same seed and
replicate) are compared across sizes in the same way, so that not only the
levels but the policy's effects are shown not to depend on the resolution.

Writes JSON (``--out``) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy import stats

OUTCOMES = {
    "cn_share_of_amazon_sellers_before_crackdown": "CN share of Amazon sellers, before",
    "cn_share_of_amazon_sellers_end_2021": "CN share of Amazon sellers, end-2021",
    "cn_share_of_amazon_sellers_end_2023": "CN share of Amazon sellers, end-2023",
    "multihoming_share_CN_end_2023": "CN multi-homing share, end-2023",
    "grey_share_amazon_end_2021": "Amazon grey share, end-2021",
    "stores_banned_real": "stores banned (real)",
    "amazon_top_1000_gmv_share_end_2021": "top 1,000 sellers' share of Amazon GMV",
    "amazon_top_10000_gmv_share_end_2021": "top 10,000 sellers' share of Amazon GMV",
}


#: Equivalence margins for levels: absolute for shares, relative (to the largest size's
#: mean) for counts.
MARGINS = {
    o: ("relative", 0.10, 0.0) if o == "stores_banned_real" else ("absolute", 0.02, 0.0)
    for o in OUTCOMES
}
#: Equivalence margins for effects (run minus paired baseline): a quarter of the largest
#: size's effect, so that a size "agrees" only if it gets the effect right to 25%; at
#: least 0.005 for shares (an effect near 0 has no scale of its own) and 10% for counts.
EFFECT_MARGINS = {
    o: ("relative", 0.10, 0.0) if o == "stores_banned_real" else ("relative", 0.25, 0.005)
    for o in OUTCOMES
}


def one_run(args: tuple) -> dict:
    """One run at ``count`` model firms, replicate ``rep``: outcomes and diagnostics.

    ``args`` is ``(count, rep, overrides)`` or ``(count, rep, overrides, arm)``;
    ``arm`` labels the run ("run", or "baseline" for the paired effect runs).
    """
    count, rep, extra = args[:3]
    arm = args[3] if len(args) > 3 else "run"
    from sim import compose_config
    from sim.core.model import MarketModel, release_model
    from sim.engine.runner import flows_frame, summarize, timeseries_frame
    from sim.validation.measures import instance_measures

    cfg = compose_config([f"merchants.count={count}", f"replicate={rep}", *extra])
    t0 = time.perf_counter()
    m = MarketModel(cfg)
    end21 = m.calendar.last_step_on_or_before("2021-12-31")
    P = m.P
    top_any = np.zeros(P)
    top_super = np.zeros(P)
    top_real = np.zeros(P)  # one real firm: a model firm's share / its real firms (>= 1)
    top_any_est = np.zeros(P)  # weeks in which 1% or more of the alive firms sell there
    first_sale = np.full(P, -1)  # first recorded week with sales
    last_over = np.full(P, -1)  # last recorded week in which one model firm held > 5%
    measures = {}
    while m.running:
        m.step()
        if m.t == end21:
            measures = instance_measures(m)
        if m.t < m.spinup:
            continue
        st, f = m.stores, m.firms
        n = st.n
        live = (st.status[:n] == 1) | (st.status[:n] == 2)
        firm = st.firm[:n][live]
        plat = st.platform[:n][live]
        g = st.gmv[:n][live] * f.weight[firm]
        for p in range(P):
            on = plat == p
            if not on.any():
                continue
            per = np.bincount(firm[on], weights=g[on], minlength=f.n)
            tot = per.sum()
            if tot <= 0:
                continue
            share = per / tot
            top_any[p] = max(top_any[p], share.max())
            if first_sale[p] < 0:
                first_sale[p] = m.t
            if share.max() > 0.05:
                last_over[p] = m.t
            real = f.weight[: f.n] * m.scale
            sup = real >= 2.0 - 1e-9
            if sup.any():
                top_super[p] = max(top_super[p], share[sup].max())
            top_real[p] = max(top_real[p], (share / np.maximum(real, 1.0)).max())
            sellers = f.weight[: f.n][per > 0].sum()
            if sellers >= 0.01 * f.weight[: f.n][f.alive[: f.n]].sum():
                top_any_est[p] = max(top_any_est[p], share.max())
    R = m.recorder.data
    alive = R["alive_merchants"][:, 0, :].sum(axis=1)
    joins = R["joins"].sum(axis=2)
    weekly = joins[m.spinup + 1 :] / np.maximum(alive[m.spinup : -1, None], 1e-12)
    ts, fl = timeseries_frame(m), flows_frame(m)
    summary = summarize(m, ts, fl, time.perf_counter() - t0)
    out = {k: summary.get(k) for k in OUTCOMES if k in summary}
    out.update({k: v for k, v in measures.items() if k in OUTCOMES})
    out.update(
        count=count,
        replicate=rep,
        arm=arm,
        wall_s=time.perf_counter() - t0,
        platforms=m.platform_names,
        top_firm_gmv_share=top_any.tolist(),
        top_super_individual_gmv_share=top_super.tolist(),
        top_real_firm_gmv_share=top_real.tolist(),
        split_merchants=int(m.counts()["split_merchants"]),
        top_firm_gmv_share_established=top_any_est.tolist(),
        max_weekly_join_share=weekly.max(axis=0).tolist(),
        # weeks from a platform's first sales to the last week a model firm held > 5% of them
        weeks_until_no_firm_over_5pct=[
            int(lo - fs + 1) if lo >= 0 else 0 for fs, lo in zip(first_sale, last_over, strict=True)
        ],
        association_members_real_start=summary["association_members_real_start"],
    )
    release_model(m)
    return out


def compare(runs: list[dict], sizes: list[int], margins: dict | None = None) -> dict:
    """Welch comparisons of every size with the largest, Bonferroni over the family."""
    ref = max(sizes)
    tests = [(o, n) for o in OUTCOMES for n in sizes if n != ref]
    alpha = 0.05 / max(len(tests), 1)
    table = {}
    for o in OUTCOMES:
        row = {}
        for n in sizes:
            x = np.array([r[o] for r in runs if r["count"] == n and r.get(o) is not None], float)
            x = x[np.isfinite(x)]
            row[n] = {
                "mean": float(x.mean()) if x.size else math.nan,
                "sd": float(x.std(ddof=1)) if x.size > 1 else math.nan,
                "n": int(x.size),
                "values": x.tolist(),
            }
        for n in sizes:
            if n == ref:
                continue
            a, b = np.array(row[n]["values"]), np.array(row[ref]["values"])
            if a.size < 2 or b.size < 2:
                continue
            res = stats.ttest_ind(a, b, equal_var=False)
            va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
            se = math.sqrt(va + vb)
            df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if se > 0 else 1
            half = stats.t.ppf(1 - alpha / 2, df) * se if se > 0 else 0.0
            diff = float(a.mean() - b.mean())
            kind, m, floor = (margins or MARGINS)[o]
            margin = max(m * abs(float(b.mean())) if kind == "relative" else m, floor)
            reach = abs(diff) + (stats.t.ppf(0.95, df) * se if se > 0 else 0.0)
            row[n]["vs_largest"] = {
                "diff": diff,
                "tolerance": float(half),
                "p": float(res.pvalue) if se > 0 else 1.0,
                "agree": bool(abs(diff) <= half) if se > 0 else diff == 0,
                "margin": float(margin),
                "ci90_reach": float(reach),
                "equivalent": bool(reach <= margin),
            }
        table[o] = row
        table[o]["trend"] = size_trend(runs, o)
    return {"reference_size": ref, "alpha_per_test": alpha, "outcomes": table}


def size_trend(runs: list[dict], outcome: str) -> dict | None:
    """Least-squares slope of ``outcome`` on ``log10(count)`` over every run, per tenfold
    increase of model firms, with its 95% interval: a drift with the resolution that
    size-by-size tests can miss. None with fewer than two sizes or three runs."""
    pts = [
        (math.log10(r["count"]), float(r[outcome]))
        for r in runs
        if r.get(outcome) is not None and math.isfinite(float(r[outcome]))
    ]
    if len({x for x, _ in pts}) < 2 or len(pts) < 3:
        return None
    x, y = np.array(pts).T
    res = stats.linregress(x, y)
    half = stats.t.ppf(0.975, len(x) - 2) * res.stderr
    return {
        "slope_per_decade": float(res.slope),
        "ci95": [float(res.slope - half), float(res.slope + half)],
        "p": float(res.pvalue) if res.stderr > 0 else 1.0,
    }


def paired_effects(runs: list[dict]) -> list[dict]:
    """Per (size, replicate): run minus its baseline (same seed and replicate), per outcome."""
    base = {(r["count"], r["replicate"]): r for r in runs if r.get("arm") == "baseline"}
    out = []
    for r in runs:
        b = base.get((r["count"], r["replicate"]))
        if r.get("arm", "run") != "run" or b is None:
            continue
        d = {"count": r["count"], "replicate": r["replicate"]}
        for o in OUTCOMES:
            if r.get(o) is not None and b.get(o) is not None:
                d[o] = float(r[o]) - float(b[o])
        out.append(d)
    return out


def markdown(result: dict) -> str:
    lines = outcome_table(result["comparison"], result["sizes"])
    if result.get("effect_comparison"):
        lines += [
            "",
            f"Effects: the run minus its paired `{result['effects_against']}` run (same "
            "seed and replicate), compared across sizes in the same way:",
            "",
            *outcome_table(result["effect_comparison"], result["sizes"]),
        ]
    return "\n".join([*lines, "", *diagnostics_table(result)])


def outcome_table(comparison: dict, sizes: list[int]) -> list[str]:
    ref = max(sizes)
    lines = [
        "| outcome | "
        + " | ".join(f"{n:,} firms (mean ± sd)" for n in sizes)
        + " | no detectable difference from "
        + f"{ref:,}"
        + " | equivalent to "
        + f"{ref:,} (margin)"
        + " | trend per 10x firms [95% CI] |",
        "|---|" + "---:|" * len(sizes) + "---|---|---|",
    ]
    for o, label in OUTCOMES.items():
        row = comparison["outcomes"][o]
        cells = []
        for n in sizes:
            c = row[n]
            big = abs(c["mean"]) >= 100
            fmt = "{:,.0f} ± {:,.0f}" if big else "{:.3f} ± {:.3f}"
            cells.append(fmt.format(c["mean"], c["sd"]))
        verdicts, equiv = [], []
        for n in sizes:
            v = row[n].get("vs_largest")
            if v:
                verdicts.append(f"{n:,}: {'yes' if v['agree'] else 'NO'} (p={v['p']:.2f})")
                fmt = "{:,.0f}" if abs(v["margin"]) >= 100 else "{:.3f}"
                equiv.append(
                    f"{n:,}: {'yes' if v['equivalent'] else 'NO'} "
                    f"({fmt.format(v['ci90_reach'])} vs {fmt.format(v['margin'])})"
                )
        tr = row.get("trend")
        if tr:
            fmt = "{:+,.0f}" if abs(row[ref]["mean"]) >= 100 else "{:+.4f}"
            lo, hi = (fmt.format(v) for v in tr["ci95"])
            trend = f"{fmt.format(tr['slope_per_decade'])} [{lo}, {hi}]"
        else:
            trend = ""
        lines.append(
            f"| {label} | "
            + " | ".join(cells)
            + " | "
            + "; ".join(verdicts)
            + " | "
            + "; ".join(equiv)
            + f" | {trend} |"
        )
    return lines


def diagnostics_table(result: dict) -> list[str]:
    sizes = result["sizes"]
    lines = []
    plats = result["runs"][0]["platforms"]
    lines.append(
        "| firms | largest weekly GMV share of one model firm (any week) | ... of one "
        "super-individual (2+ real firms) | ... of one real firm | ... in weeks with 1%+ of "
        "the firms selling there | largest weekly joins / alive firms | weeks from first sales "
        "until no model firm holds > 5% (max over replications) | rows split off joiners "
        "(mean) |"
    )
    lines.append("|---:|---|---|---|---|---|---|---|")
    for n in sizes:
        rs = [r for r in result["runs"] if r["count"] == n and r.get("arm", "run") == "run"]

        def weeks(rs=rs):
            v = np.max([r["weeks_until_no_firm_over_5pct"] for r in rs], axis=0)
            return ", ".join(f"{p} {int(x)}" for p, x in zip(plats, v, strict=True))

        def worst(key, rs=rs):
            v = np.max([r[key] for r in rs], axis=0)
            return ", ".join(f"{p} {x:.3f}" for p, x in zip(plats, v, strict=True))

        lines.append(
            f"| {n:,} | {worst('top_firm_gmv_share')} | {worst('top_super_individual_gmv_share')}"
            f" | {worst('top_real_firm_gmv_share')}"
            f" | {worst('top_firm_gmv_share_established')} | {worst('max_weekly_join_share')} |"
            f" {weeks(rs)} | {np.mean([r.get('split_merchants', 0) for r in rs]):.0f} |"
        )
    return lines


def analyse(result: dict) -> dict:
    """Level comparison of the runs, and of the paired effects when there are baselines."""
    runs = [r for r in result["runs"] if r.get("arm", "run") == "run"]
    result["comparison"] = compare(runs, result["sizes"])
    effects = paired_effects(result["runs"])
    result["effect_comparison"] = (
        compare(effects, result["sizes"], EFFECT_MARGINS) if effects else None
    )
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000, 20000])
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="results/benchmarks/scale_invariance.json")
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="recompute the comparison and table from the runs stored in --out",
    )
    ap.add_argument(
        "--effects-against",
        metavar="POLICY",
        help="also run every (size, replicate) under this policy preset and compare the "
        "paired effects (run minus baseline) across sizes, not only the levels",
    )
    ap.add_argument("overrides", nargs="*", help="extra config overrides (key=value)")
    ns = ap.parse_args(argv)
    if ns.report_only:
        result = analyse(json.loads(Path(ns.out).read_text()))
        Path(ns.out).write_text(json.dumps(result, indent=1))
        print(markdown(result))
        return 0
    jobs = [
        (n, r, tuple(ns.overrides))
        for n in sorted(ns.sizes, reverse=True)
        for r in range(ns.replications)
    ]
    if ns.effects_against:
        base = (*ns.overrides, f"policy={ns.effects_against}")
        jobs += [(n, r, base, "baseline") for n, r, _ in jobs]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=ns.workers) as ex:
        runs = list(ex.map(one_run, jobs))
    result = {
        "sizes": sorted(ns.sizes),
        "replications": ns.replications,
        "overrides": ns.overrides,
        "effects_against": ns.effects_against,
        "wall_s": time.perf_counter() - t0,
        "runs": runs,
    }
    analyse(result)
    out = Path(ns.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(markdown(result))
    print(f"\n{len(runs)} runs in {result['wall_s']:.0f} s; written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
