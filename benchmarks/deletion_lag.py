"""Review-deletion lag table of docs/validation.md: what the lag changes, paired.

Runs ``policy=crackdown_2021`` at ``--firms`` model firms to ``--end-date``
with Amazon's ``review_deletion_lag_days`` set to each of ``--lags``, for
replicates ``0 .. --reps - 1`` (the same seed and replicate under every lag:
the same population, so the lags are compared pairwise), and prints per lag
the means of the run summary's

- ``grey_share_amazon_end_2021``, ``grey_share_amazon_end_2023``: share of
  Amazon's active stores (both origins) that bought fake reviews in the last
  week of 2021 / 2023;
- ``cn_share_of_amazon_sellers_end_2021``: CN firms' share of the firms listed
  on Amazon at the end of 2021;
- ``stores_banned_real``: stores banned over the run, all platforms and
  origins, in real stores (model stores x ``merchants.scale``)

(definitions: docs/outputs.md), then the paired differences with their paired
t statistic (mean difference over its standard error, ``reps - 1`` degrees of
freedom): each lag minus ``--against`` (default the 100-day default lag), and
the shortest minus the longest lag (the contrast in docs/validation.md and in
``tests/test_levers.py``). An outcome that ``--end-date`` does not reach is
shown as ``nan``.

    .venv/bin/python -m benchmarks.deletion_lag            # the docs' table: 2,000 firms x 12 reps
    .venv/bin/python -m benchmarks.deletion_lag --firms 300 --reps 3   # smoke run, ~1 min

The full table is 36 runs to end-2023 at 2,000 firms (about 15 minutes of CPU;
``--workers`` runs in parallel). Writes the runs as JSON to ``--out`` too.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

OUTCOMES = {
    "grey_share_amazon_end_2021": "grey share end-2021",
    "grey_share_amazon_end_2023": "grey share end-2023",
    "cn_share_of_amazon_sellers_end_2021": "CN share end-2021",
    "stores_banned_real": "stores banned (real)",
}
LAG_KEY = "policy.enforcement.amazon.review_deletion_lag_days"


def one_run(args: tuple) -> dict:
    """One run: ``(firms, replicate, lag, end_date, extra overrides)`` -> its outcomes."""
    firms, rep, lag, end_date, extra = args
    from sim import compose_config
    from sim.engine.runner import run

    cfg = compose_config(
        [
            f"merchants.count={firms}",
            f"replicate={rep}",
            "policy=crackdown_2021",
            f"time.end_date={end_date}",
            f"{LAG_KEY}={lag}",
            *extra,
        ]
    )
    s = run(cfg).summary
    out = {k: float(s[k]) if s.get(k) is not None else math.nan for k in OUTCOMES}
    out.update(firms=firms, replicate=rep, lag=lag)
    return out


def paired_t(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of ``a - b`` over pairs and its paired t (``mean / (sd / sqrt(n))``).

    Pairs with a NaN are dropped; t is NaN with fewer than two pairs, and
    +-inf when every difference is the same non-zero value (0 when all are 0).
    """
    d = np.asarray(a, float) - np.asarray(b, float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return math.nan, math.nan
    mean = float(d.mean())
    if d.size < 2:
        return mean, math.nan
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return mean, 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    return mean, mean / (sd / math.sqrt(d.size))


def _mean(values: list[float]) -> float:
    """Mean over the finite values; NaN when there is none (an outcome the runs do not reach)."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def _fmt(key: str, value: float, signed: bool = False) -> str:
    if not math.isfinite(value):
        return "nan"
    if key == "stores_banned_real":
        step = 100.0  # real counts to the nearest hundred, as in the docs
        v = round(value / step) * step
        return f"{v:+,.0f}" if signed else f"{v:,.0f}"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def table(runs: list[dict], lags: list[int], against: int) -> str:
    """Markdown table: mean per lag, then paired differences with their t."""
    by_lag = {
        lag: sorted((r for r in runs if r["lag"] == lag), key=lambda r: r["replicate"])
        for lag in lags
    }
    lines = [
        "| deletion lag | " + " | ".join(OUTCOMES.values()) + " |",
        "|---|" + "---:|" * len(OUTCOMES),
    ]
    for lag in lags:
        name = f"{lag} days" + (" (reference)" if lag == against else "")
        cells = [_fmt(k, _mean([r[k] for r in by_lag[lag]])) for k in OUTCOMES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    contrasts = [(lag, against) for lag in lags if lag != against]
    lo, hi = min(lags), max(lags)
    if lo != hi and (lo, hi) not in contrasts:
        contrasts.append((lo, hi))
    for a, b in contrasts:
        cells = []
        for k in OUTCOMES:
            mean, t = paired_t([r[k] for r in by_lag[a]], [r[k] for r in by_lag[b]])
            tt = f"{t:.1f}" if math.isfinite(t) else ("nan" if math.isnan(t) else f"{t}")
            cells.append(f"{_fmt(k, mean, signed=True)} (t = {tt})")
        lines.append(f"| {a} - {b}, paired t | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=2000, help="merchants.count (default 2000)")
    ap.add_argument("--reps", type=int, default=12, help="paired replicates 0..reps-1")
    ap.add_argument("--lags", type=int, nargs="+", default=[30, 100, 300], help="days")
    ap.add_argument("--against", type=int, default=100, help="reference lag of the paired t")
    ap.add_argument("--end-date", default="2023-12-31", help="time.end_date")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="results/benchmarks/deletion_lag.json")
    ap.add_argument("overrides", nargs="*", help="extra config overrides (key=value)")
    ns = ap.parse_args(argv)
    lags = sorted(set(ns.lags))
    if ns.reps < 2:
        ap.error("--reps must be at least 2 for a paired t")
    if ns.against not in lags:
        ap.error(f"--against {ns.against} is not one of --lags {lags}")
    jobs = [
        (ns.firms, rep, lag, ns.end_date, tuple(ns.overrides))
        for lag in lags
        for rep in range(ns.reps)
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=ns.workers) as ex:
        runs = list(ex.map(one_run, jobs))
    wall = time.perf_counter() - t0
    out = Path(ns.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "firms": ns.firms,
        "reps": ns.reps,
        "lags": lags,
        "against": ns.against,
        "end_date": ns.end_date,
        "overrides": ns.overrides,
        "wall_s": wall,
        "runs": runs,
    }
    out.write_text(json.dumps(result, indent=1))
    print(
        f"policy=crackdown_2021, {ns.firms:,} firms, replicates 0-{ns.reps - 1} paired, "
        f"to {ns.end_date}; {len(runs)} runs in {wall:.0f} s"
    )
    print()
    print(table(runs, lags, ns.against))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
