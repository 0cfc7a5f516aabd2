"""Statistics across replications: confidence intervals, paired what-if differences, adequacy.

Every function takes tidy pandas tables handed over by the sweep engine and
returns a new tidy table; nothing reads files or runs the model.

- *summary* frame: one row per run (``run_id``, ``point_id``, ``scenario``,
  ``replicate``, ``param.<key>`` columns and scalar outcomes from
  ``summary.json``);
- *timeseries* frame: the per-run weekly table (docs/outputs.md) with the same
  run keys added.

Confidence intervals are two-sided Student-t intervals for a mean,
``mean +/- t_{1-(1-level)/2, n-1} * sd / sqrt(n)``, with the sample standard
deviation (``ddof=1``). They assume replications are independent draws (distinct
``replicate`` values give independent random streams) and rely on the central
limit theorem for non-normal outcomes; with few replications (n < 10) and
skewed outcomes (counts of banned stores, say) read them as rough.

What-if comparisons use common random numbers: replicate ``k`` has the same
seeds in every scenario (the design point never enters the seed), so
``outcome(scenario, k) - outcome(baseline, k)`` removes the noise the two runs
share and a paired t-interval is narrower than the unpaired one.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

#: Columns that identify a run in the engine's frames (kept by the derived-series helpers).
RUN_KEYS = ("run_id", "point_id", "scenario", "replicate")
#: Columns of a ``mean_ci`` table besides the group keys.
CI_COLUMNS = ("outcome", "n", "mean", "sd", "se", "ci_low", "ci_high", "half_width")
#: Columns of a ``paired_differences`` table besides the group keys.
PAIRED_COLUMNS = (
    "baseline",
    "outcome",
    "n_pairs",
    "mean_group",
    "mean_baseline",
    "mean_diff",
    "sd_diff",
    "se_diff",
    "ci_low",
    "ci_high",
    "half_width",
    "t_stat",
    "p_value",
    "welch_half_width",
    "ci_narrowing",
    "variance_reduction",
)
#: Default numbers of replications examined by ``replication_adequacy``.
DEFAULT_NS = (2, 3, 5, 10, 20, 30, 50, 100, 200, 500, 1000)


# ---------------------------------------------------------------------------
# helpers


def _as_list(cols: str | Sequence[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def _check_level(level: float) -> None:
    if not (0.0 < float(level) < 1.0):
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def _check_columns(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(
            f"{what}: column(s) {missing} not in the frame; available: {list(df.columns)}"
        )


def _numeric(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """``df[cols]`` as float64; None becomes NaN, text raises (never silently NaN)."""
    out = {}
    for c in cols:
        s = df[c]
        if s.dtype == bool or s.dtype == object or not pd.api.types.is_numeric_dtype(s):
            try:
                s = pd.to_numeric(s, errors="raise")
            except (ValueError, TypeError) as exc:
                raise TypeError(f"outcome column {c!r} is not numeric: {exc}") from None
        out[c] = s.astype("float64")
    return pd.DataFrame(out, index=df.index)


def _t_quantile(n: np.ndarray | pd.Series, level: float) -> np.ndarray:
    """Two-sided Student-t quantile ``t_{1-(1-level)/2, n-1}``; NaN where n < 2."""
    n = np.asarray(n, dtype="float64")
    q = np.full(n.shape, np.nan)
    ok = n >= 2
    if ok.any():
        q[ok] = sps.t.ppf(0.5 + level / 2.0, n[ok] - 1.0)
    return q


def _safe_div(num, den) -> np.ndarray:
    """``num / den`` elementwise, NaN where ``den`` is 0 or NaN (no warnings)."""
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    out = np.full(np.broadcast(num, den).shape, np.nan)
    ok = np.isfinite(den) & (den != 0)
    np.divide(num, den, out=out, where=ok)
    return out


def _ci_from_moments(n, mean, sd, level: float) -> dict[str, np.ndarray]:
    """se, ci_low, ci_high and half_width from n, mean and sd (NaN for n < 2)."""
    n = np.asarray(n, dtype="float64")
    sd = np.asarray(sd, dtype="float64")
    mean = np.asarray(mean, dtype="float64")
    se = np.full(n.shape, np.nan)
    ok = n >= 2
    se[ok] = sd[ok] / np.sqrt(n[ok])
    half = _t_quantile(n, level) * se
    return {"se": se, "ci_low": mean - half, "ci_high": mean + half, "half_width": half}


# ---------------------------------------------------------------------------
# confidence intervals


def mean_ci(
    df: pd.DataFrame,
    outcomes: str | Sequence[str],
    by: str | Sequence[str] | None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Mean and Student-t confidence interval of each outcome, per group of runs.

    Args:
        df: one row per run (a summary frame), or any tidy frame whose rows are
            independent replications within each group.
        outcomes: outcome column name(s); values numeric (None/NaN allowed).
        by: grouping column(s), e.g. ``"scenario"`` or ``["scenario",
            "param.policy.enforcement.amazon.audit_probability_per_week"]``;
            ``None`` or ``[]`` for one group over the whole frame.
        level: confidence level in (0, 1), default 0.95.

    Returns:
        Long table, one row per (group, outcome), sorted by the group keys and
        then by outcome in the order given: the ``by`` columns, ``outcome``,
        ``n`` (non-NaN values; NaN values are dropped per outcome), ``mean``,
        ``sd`` (sample standard deviation, ddof=1), ``se`` (= sd / sqrt(n)),
        ``ci_low``, ``ci_high`` and ``half_width`` (= t_{1-(1-level)/2, n-1} *
        se). All in the outcome's unit. Groups with n < 2 get NaN sd, se and
        CI (n = 0: NaN mean too); they are kept, not dropped.

    Raises:
        KeyError: a named column is missing. TypeError: an outcome is not numeric.
        ValueError: ``level`` outside (0, 1).
    """
    _check_level(level)
    outcomes = _as_list(outcomes)
    by = _as_list(by)
    if not outcomes:
        raise ValueError("mean_ci: no outcome given")
    _check_columns(df, [*by, *outcomes], "mean_ci")
    keys = by
    frame = pd.concat([df[by], _numeric(df, outcomes)], axis=1)
    if not by:
        keys = ["__all__"]
        frame["__all__"] = 0
    long = frame.melt(id_vars=keys, value_vars=outcomes, var_name="outcome", value_name="value")
    long["outcome"] = pd.Categorical(long["outcome"], categories=outcomes, ordered=True)
    g = long.groupby([*keys, "outcome"], observed=True, dropna=False, sort=True)["value"]
    out = g.agg(n="count", mean="mean", sd="std").reset_index()
    out["outcome"] = out["outcome"].astype(str)
    out["n"] = out["n"].astype("int64")
    out.loc[out["n"] < 2, "sd"] = np.nan
    out = out.assign(**_ci_from_moments(out["n"], out["mean"], out["sd"], level))
    if not by:
        out = out.drop(columns="__all__")
    out = out[[*by, *CI_COLUMNS]].reset_index(drop=True)
    out.attrs["by"] = by
    out.attrs["level"] = level
    return out


def time_series_ci(
    ts: pd.DataFrame,
    value: str | Sequence[str],
    by: Sequence[str] = ("scenario", "date", "platform", "origin"),
    level: float = 0.95,
) -> pd.DataFrame:
    """Mean and confidence band across replications at each time point.

    Args:
        ts: timeseries frame (one row per run, step, platform and origin) or a
            derived per-run series (``reach``, ``cn_share_of_platform``,
            ``grey_prevalence``); must carry ``run_id`` (or ``replicate``) so
            that each group holds one row per run.
        value: the column(s) to summarise.
        by: keys of a time point; every other dimension must already be
            aggregated away per run (e.g. drop ``origin`` from ``by`` only after
            summing over origins within each run).
        level: confidence level in (0, 1).

    Returns:
        The ``mean_ci`` table with ``by`` as the group keys: one row per time
        point and value, with ``n`` replications, ``mean``, ``sd``, ``se``,
        ``ci_low``, ``ci_high`` and ``half_width`` (units of ``value``). Use
        ``ci_low``/``ci_high`` for shaded bands.

    Raises:
        ValueError: a group holds more than one row of the same run (``by``
            misses a dimension of the table, e.g. ``origin``).
    """
    by = _as_list(by)
    _check_columns(ts, by, "time_series_ci")
    run_key = next((k for k in ("run_id", "replicate") if k in ts.columns), None)
    if run_key is not None and len(ts):
        dup = ts.duplicated([*by, run_key])
        if dup.any():
            example = ts.loc[dup, [*by, run_key]].iloc[0]
            same = (ts[[*by, run_key]] == example).all(axis=1)
            dims = ("origin", "platform", "date", "step", "point_id", "scenario")
            varying = [c for c in dims if c in ts.columns and c not in by]
            varying = [c for c in varying if ts.loc[same, c].nunique(dropna=False) > 1]
            raise ValueError(
                f"time_series_ci: several rows of the same run share the keys {by} "
                f"(e.g. {example.to_dict()}); they differ in {varying or 'other columns'}: "
                "aggregate that dimension per run first or add it to `by`"
            )
    return mean_ci(ts, value, by, level)


# ---------------------------------------------------------------------------
# paired (common random numbers) differences


def paired_differences(
    df: pd.DataFrame,
    outcome: str | Sequence[str],
    baseline: Hashable,
    by: str | Sequence[str] = "scenario",
    pair_on: str = "replicate",
    level: float = 0.95,
) -> pd.DataFrame:
    """Paired differences of an outcome between each group and a baseline group.

    For each group ``g`` other than the baseline and each replicate ``k``
    present in both with non-NaN values, ``d_k = y(g, k) - y(baseline, k)``.
    Common random numbers make ``y(g, k)`` and ``y(baseline, k)`` positively
    correlated, so ``var(d) = var_g + var_b - 2 cov`` is smaller than the
    ``var_g + var_b`` of independent runs.

    Args:
        df: one row per run (summary frame).
        outcome: outcome column name(s).
        baseline: the value of ``by`` that is the reference (a tuple when
            ``by`` names several columns), e.g. ``"none"``.
        by: column(s) naming the groups to compare (default ``"scenario"``).
        pair_on: column that pairs runs across groups (default ``"replicate"``:
            same replicate = same seeds).
        level: confidence level in (0, 1).

    Returns:
        One row per (non-baseline group, outcome): the ``by`` columns,
        ``baseline``, ``outcome``, ``n_pairs``, ``mean_group`` and
        ``mean_baseline`` (over the paired replicates), ``mean_diff`` (= mean of
        ``d``), ``sd_diff``, ``se_diff``, ``ci_low``/``ci_high``/``half_width``
        (paired t-interval, ``n_pairs - 1`` degrees of freedom), ``t_stat`` and
        ``p_value`` (two-sided paired t-test of mean difference 0; equals
        ``scipy.stats.ttest_rel``), ``welch_half_width`` (half-width of the
        unpaired Welch interval computed from the same paired runs, as if they
        were independent), ``ci_narrowing`` (= 1 - half_width /
        welch_half_width) and ``variance_reduction`` (= 1 - var(d) / (var_g +
        var_b), sample variances over the paired runs; > 0 when pairing helps,
        1 when the runs differ by a constant). Differences are in the
        outcome's unit. With fewer than 2 pairs the interval and test are NaN.
        When all differences are equal (sd 0): t is +/-inf and p 0, or t and p
        are NaN when the differences are all 0 (identical runs).

    Raises:
        KeyError: a column is missing. ValueError: the baseline is absent, or a
        group holds several runs with the same ``pair_on`` value (add the
        distinguishing column, e.g. ``point_id``, to ``by`` or filter first).
    """
    _check_level(level)
    outcomes = _as_list(outcome)
    by = _as_list(by)
    if not by:
        raise ValueError("paired_differences: `by` must name at least one column")
    _check_columns(df, [*by, pair_on, *outcomes], "paired_differences")
    if df.duplicated([*by, pair_on]).any():
        dup = df.loc[df.duplicated([*by, pair_on], keep=False), [*by, pair_on]]
        raise ValueError(
            f"paired_differences: several runs share {[*by, pair_on]} "
            f"(e.g. {dup.iloc[0].to_dict()}); pairing is ambiguous: add the column that "
            "tells them apart (e.g. 'point_id') to `by`, or filter the frame first"
        )
    base_key = baseline if len(by) > 1 else (baseline,)
    if not isinstance(base_key, tuple) or len(base_key) != len(by):
        raise ValueError(f"baseline must be a tuple of {len(by)} values for by={by}")
    groups = df[by].drop_duplicates()
    base_mask = np.logical_and.reduce(
        [groups[c].to_numpy() == v for c, v in zip(by, base_key, strict=True)]
    )
    if not base_mask.any():
        present = [tuple(r) if len(by) > 1 else r[0] for r in groups.itertuples(index=False)]
        raise ValueError(
            f"paired_differences: baseline {baseline!r} not found in {by}; present: {present}"
        )
    values = _numeric(df, outcomes)
    frame = pd.concat([df[[*by, pair_on]], values], axis=1)
    tables = []
    for name in outcomes:
        # rows: pair_on values; columns: groups (MultiIndex when by has several columns)
        wide = frame.set_index([*by, pair_on])[name].unstack(by)
        base_col = base_key if len(by) > 1 else base_key[0]
        b = wide[base_col]
        others = wide.drop(columns=[base_col])
        if others.shape[1] == 0:
            continue
        d = others.sub(b, axis=0)
        paired = d.notna()
        a = others.where(paired)
        bb = pd.DataFrame(
            np.repeat(b.to_numpy()[:, None], others.shape[1], axis=1),
            index=wide.index,
            columns=others.columns,
        ).where(paired)
        n = paired.sum().to_numpy(dtype="float64")
        mean_d = d.mean().to_numpy(dtype="float64", copy=True)
        sd_d = d.std(ddof=1).to_numpy(dtype="float64", copy=True)
        var_a = a.var(ddof=1).to_numpy(dtype="float64", copy=True)
        var_b = bb.var(ddof=1).to_numpy(dtype="float64", copy=True)
        sd_d[n < 2] = np.nan
        var_a[n < 2] = np.nan
        var_b[n < 2] = np.nan
        ci = _ci_from_moments(n, mean_d, sd_d, level)
        se = ci["se"]
        t_stat = np.full(n.shape, np.nan)
        pos = se > 0  # False where se is NaN (n < 2)
        t_stat[pos] = mean_d[pos] / se[pos]
        const = (se == 0) & (mean_d != 0)  # all differences equal and non-zero
        t_stat[const] = np.sign(mean_d[const]) * np.inf
        p = np.full(n.shape, np.nan)
        ok = ~np.isnan(t_stat)
        p[ok] = 2.0 * sps.t.sf(np.abs(t_stat[ok]), n[ok] - 1.0)
        # Welch interval from the same runs treated as independent samples of size n.
        va_n = _safe_div(var_a, n)
        vb_n = _safe_div(var_b, n)
        welch_var = va_n + vb_n
        df_welch = _safe_div(welch_var**2, _safe_div(va_n**2 + vb_n**2, n - 1.0))
        q_welch = np.full(n.shape, np.nan)
        okw = np.isfinite(df_welch) & (df_welch > 0)
        q_welch[okw] = sps.t.ppf(0.5 + level / 2.0, df_welch[okw])
        welch_half = q_welch * np.sqrt(welch_var)
        cols = others.columns
        keys = (
            pd.DataFrame(list(cols), columns=by)
            if len(by) > 1
            else pd.DataFrame({by[0]: list(cols)})
        )
        table = keys.assign(
            baseline=[baseline] * len(keys),
            outcome=name,
            n_pairs=n.astype("int64"),
            mean_group=a.mean().to_numpy(),
            mean_baseline=bb.mean().to_numpy(),
            mean_diff=mean_d,
            sd_diff=sd_d,
            se_diff=se,
            ci_low=ci["ci_low"],
            ci_high=ci["ci_high"],
            half_width=ci["half_width"],
            t_stat=t_stat,
            p_value=p,
            welch_half_width=welch_half,
            ci_narrowing=1.0 - _safe_div(ci["half_width"], welch_half),
            variance_reduction=1.0 - _safe_div(sd_d**2, var_a + var_b),
        )
        tables.append(table)
    if not tables:
        out = pd.DataFrame(columns=[*by, *PAIRED_COLUMNS])
    else:
        out = pd.concat(tables, ignore_index=True)[[*by, *PAIRED_COLUMNS]]
    out.attrs["by"] = by
    out.attrs["level"] = level
    return out


# ---------------------------------------------------------------------------
# how many replications


def _default_ns(n_max: int) -> list[int]:
    ns = [n for n in DEFAULT_NS if n <= n_max]
    if n_max >= 2 and (not ns or ns[-1] != n_max):
        ns.append(n_max)
    return ns


def replication_adequacy(
    df: pd.DataFrame,
    outcome: str | Sequence[str],
    by: str | Sequence[str] | None,
    ns: Sequence[int] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Confidence-interval half-width as a function of the number of replications.

    For each group and each ``n`` in ``ns``, the interval is computed from the
    group's first ``n`` replications in ``replicate`` order (rows with a NaN
    outcome skipped), i.e. what a study that had stopped at ``n`` would have
    reported. Half-widths shrink roughly as ``1/sqrt(n)``.

    Args:
        df: one row per run with a ``replicate`` column.
        outcome: outcome column name(s).
        by: grouping column(s) (``None`` for the whole frame).
        ns: numbers of replications to examine; default 2, 3, 5, 10, 20, 30,
            50, 100, ... up to the largest group size, plus that size itself.
            An ``n`` larger than a group's size is skipped for that group.
        level: confidence level in (0, 1).

    Returns:
        Long table: the ``by`` columns, ``outcome``, ``n``, ``mean``, ``sd``,
        ``se``, ``ci_low``, ``ci_high``, ``half_width`` (outcome units) and
        ``rel_half_width`` (= half_width / |mean|, NaN when mean is 0), sorted
        by group, outcome and ``n``.

    Raises:
        ValueError: a group holds two runs with the same replicate (add the
            distinguishing column, e.g. ``point_id``, to ``by``).
    """
    _check_level(level)
    outcomes = _as_list(outcome)
    by = _as_list(by)
    _check_columns(df, [*by, "replicate", *outcomes], "replication_adequacy")
    if df.duplicated([*by, "replicate"]).any():
        raise ValueError(
            f"replication_adequacy: several runs share {[*by, 'replicate']}; add the column "
            "that tells them apart (e.g. 'point_id') to `by`"
        )
    frame = pd.concat([df[[*by, "replicate"]], _numeric(df, outcomes)], axis=1)
    frame = frame.sort_values([*by, "replicate"], kind="stable")
    tables = []
    for name in outcomes:
        sub = frame.loc[frame[name].notna(), [*by, "replicate", name]]
        if by:
            rank = sub.groupby(by, dropna=False, sort=False).cumcount()
            size = sub.groupby(by, dropna=False, sort=False)[name].transform("size")
        else:
            rank = pd.Series(np.arange(len(sub)), index=sub.index)
            size = pd.Series(len(sub), index=sub.index)
        n_max = int(size.max()) if len(sub) else 0
        wanted = sorted({int(n) for n in ns}) if ns is not None else _default_ns(n_max)
        for n in wanted:
            if n < 1:
                raise ValueError(f"replication_adequacy: ns must be >= 1, got {n}")
            take = sub[(rank < n) & (size >= n)]
            if take.empty:
                continue
            tables.append(mean_ci(take, name, by, level))
    cols = [*by, *CI_COLUMNS, "rel_half_width"]
    if not tables:
        return pd.DataFrame(columns=cols)
    out = pd.concat(tables, ignore_index=True)
    out["rel_half_width"] = _safe_div(out["half_width"], out["mean"].abs())
    out = out.sort_values([*by, "outcome", "n"], kind="stable").reset_index(drop=True)
    out["outcome"] = out["outcome"].astype(str)
    out = out[cols]
    out.attrs["by"] = by
    out.attrs["level"] = level
    return out


def _n_needed(sd: np.ndarray, mean: np.ndarray, rel: float, level: float, max_n: int):
    """Smallest n >= 2 with t_{n-1} * sd / sqrt(n) <= rel * |mean| (vectorised bisection)."""
    target = rel * np.abs(mean)
    ok = np.isfinite(sd) & np.isfinite(target) & (target > 0)
    out = np.full(sd.shape, np.nan)
    if not ok.any():
        return out
    s, tgt = sd[ok], target[ok]
    c = (s / tgt) ** 2  # n >= c * t_{n-1}^2 is the condition

    def satisfied(n):
        return n >= c * sps.t.ppf(0.5 + level / 2.0, n - 1.0) ** 2

    z = sps.norm.ppf(0.5 + level / 2.0)
    # t_{n-1} > z, so every solution exceeds z^2 c: a lower bound; g(n) = c t^2 falls
    # with n, so ceil(g(lo)) satisfies the condition: an upper bound.
    lo = np.maximum(2.0, np.floor(z * z * c))
    hi = np.maximum(lo, np.ceil(c * sps.t.ppf(0.5 + level / 2.0, lo - 1.0) ** 2))
    hi = np.minimum(hi, float(max_n))
    done = satisfied(lo)
    hi = np.where(done, lo, hi)
    for _ in range(64):
        active = (hi - lo > 1) & ~done
        if not active.any():
            break
        mid = np.floor((lo + hi) / 2.0)
        sat = satisfied(mid)
        hi = np.where(active & sat, mid, hi)
        lo = np.where(active & ~sat, mid, lo)
    res = np.where(done, lo, hi)
    res = np.where(satisfied(res), res, np.nan)  # capped at max_n and still short
    out[ok] = res
    return out


def replications_needed(
    df: pd.DataFrame,
    outcome: str | Sequence[str],
    by: str | Sequence[str] | None,
    rel_precision: float = 0.05,
    level: float = 0.95,
    max_n: int = 1_000_000,
) -> pd.DataFrame:
    """Replications needed for a target relative precision of the mean.

    Using the mean ``m`` and standard deviation ``s`` of the replications at
    hand as pilot estimates, finds the smallest ``n >= 2`` with
    ``t_{1-(1-level)/2, n-1} * s / sqrt(n) <= rel_precision * |m|`` (the
    sequential "relative precision" rule of Law & Kelton, Simulation Modeling
    and Analysis, ch. 9, without their gamma/(1+gamma) correction). The
    estimate is only as good as the pilot ``s``; re-check after running more.

    Args:
        df: one row per run.
        outcome: outcome column name(s).
        by: grouping column(s) (``None`` for the whole frame).
        rel_precision: target half-width as a fraction of |mean|, > 0
            (0.05 = +/- 5 %).
        level: confidence level in (0, 1).
        max_n: search cap; groups needing more get NaN.

    Returns:
        One row per (group, outcome): the ``by`` columns, ``outcome``,
        ``n_available``, ``mean``, ``sd``, ``half_width`` (at ``n_available``),
        ``rel_half_width``, ``rel_precision``, ``n_needed`` (float; NaN when
        the mean is 0 or fewer than 2 replications are available; 2 when the
        sd is 0) and ``adequate`` (``n_available >= n_needed``).
    """
    if not rel_precision > 0:
        raise ValueError(f"rel_precision must be > 0, got {rel_precision!r}")
    base = mean_ci(df, outcome, by, level)
    by = _as_list(by)
    sd = base["sd"].to_numpy(dtype="float64")
    mean = base["mean"].to_numpy(dtype="float64")
    n_needed = _n_needed(sd, mean, float(rel_precision), level, int(max_n))
    out = base[[*by, "outcome"]].copy()
    out["n_available"] = base["n"]
    out["mean"] = mean
    out["sd"] = sd
    out["half_width"] = base["half_width"]
    out["rel_half_width"] = _safe_div(base["half_width"], np.abs(mean))
    out["rel_precision"] = float(rel_precision)
    out["n_needed"] = n_needed
    out["adequate"] = out["n_available"].to_numpy() >= np.nan_to_num(n_needed, nan=math.inf)
    out.attrs["by"] = by
    return out


# ---------------------------------------------------------------------------
# derived per-run series (compute per run, then aggregate with time_series_ci)


def _keys_present(ts: pd.DataFrame, extra: Sequence[str]) -> list[str]:
    return [k for k in (*RUN_KEYS, "step", "date", *extra) if k in ts.columns]


def reach(ts: pd.DataFrame) -> pd.DataFrame:
    """Share of an origin's live firms listed on each platform, per run and week.

    ``reach = listed_merchants / alive_merchants`` (fraction in [0, 1]; NaN
    when the origin has no live firm).

    Returns:
        The run keys present (``run_id``, ``point_id``, ``scenario``,
        ``replicate``), ``step``, ``date``, ``platform``, ``origin`` and
        ``reach``; one row per input row.
    """
    _check_columns(ts, ["platform", "origin", "listed_merchants", "alive_merchants"], "reach")
    out = ts[_keys_present(ts, ("platform", "origin"))].copy()
    out["reach"] = _safe_div(ts["listed_merchants"], ts["alive_merchants"])
    return out


def cn_share_of_platform(ts: pd.DataFrame, origin: str = "CN") -> pd.DataFrame:
    """An origin's share of each platform's listed firms, per run and week.

    ``share = listed_merchants(origin) / sum over origins of listed_merchants``
    (fraction; NaN when nobody is listed on the platform that week).

    Args:
        ts: timeseries frame.
        origin: the origin whose share is computed (default ``"CN"``).

    Returns:
        The run keys present, ``step``, ``date``, ``platform`` and ``cn_share``
        (named ``cn_share`` whatever ``origin`` is); one row per (run, week,
        platform).
    """
    _check_columns(ts, ["platform", "origin", "listed_merchants"], "cn_share_of_platform")
    keys = _keys_present(ts, ("platform",))
    listed = ts["listed_merchants"].astype("float64")
    frame = ts[keys].assign(
        _mine=listed.where(ts["origin"] == origin, 0.0),
        _all=listed,
    )
    g = frame.groupby(keys, sort=False, dropna=False)[["_mine", "_all"]].sum().reset_index()
    g["cn_share"] = _safe_div(g["_mine"], g["_all"])
    return g.drop(columns=["_mine", "_all"])


def grey_prevalence(ts: pd.DataFrame) -> pd.DataFrame:
    """Share of a platform's active stores that bought fake reviews, both origins together.

    ``prevalence = sum over origins grey_stores / sum over origins active_stores``
    per run, week and platform (fraction; NaN when the platform has no active
    store). Unlike averaging the per-origin ``grey_share``, this weights each
    origin by its stores.

    Returns:
        The run keys present, ``step``, ``date``, ``platform`` and
        ``grey_prevalence``.
    """
    _check_columns(ts, ["platform", "grey_stores", "active_stores"], "grey_prevalence")
    keys = _keys_present(ts, ("platform",))
    g = (
        ts.groupby(keys, sort=False, dropna=False)[["grey_stores", "active_stores"]]
        .sum()
        .reset_index()
    )
    g["grey_prevalence"] = _safe_div(g["grey_stores"], g["active_stores"])
    return g.drop(columns=["grey_stores", "active_stores"])


__all__ = [
    "cn_share_of_platform",
    "grey_prevalence",
    "mean_ci",
    "paired_differences",
    "reach",
    "replication_adequacy",
    "replications_needed",
    "time_series_ci",
]
