"""Model quantities that validation targets map to.

Two kinds, both named in ``targets.yaml``:

- *instance measures*, taken on a live model by the validation run function
  (:func:`instance_measures`, stored in the run's summary as ``validation.<name>``):
  concentration of Amazon's GMV over its top sellers and the fake-review micro
  pattern, computed with the model's own rule functions;
- *stored measures*, functions of one run's stored ``timeseries``, ``flows`` and
  ``summary`` (:data:`MEASURES`), computed when the report is made, so a target
  can be added or changed without rerunning the model.

Unit conversion. Counts in the outputs are model-firm equivalents (each model
firm weighs ``omega_f``, the real firms it stands for over ``merchants.scale``);
real firms and stores are those counts times ``merchants.scale`` (the
summary's ``scale_real_firms_per_model_firm``, ``real_firms / count``). The
real market (``merchants.real_firms``) does not depend on ``merchants.count``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.core import demand as demand_rules
from sim.core import merchants as merchant_rules

#: Length of the fake-review campaign in He, Hollenbeck & Proserpio (2022), days.
CAMPAIGN_DAYS = 23
#: Weeks after the campaign at which its effect should be gone (He et al. 2022).
AFTER_WEEKS = 4
#: Stores sharing the platform in the micro experiment (the campaign's own
#: weight gain takes a little demand from them, as in the model).
MICRO_RIVALS = 200


@dataclass
class RunTables:
    """One stored run: its summary row, weekly table and flows, and its unit factor."""

    summary: dict[str, Any]
    timeseries: pd.DataFrame
    flows: pd.DataFrame
    real_factor: float


# ------------------------------------------------------------ instance measures


def top_k_share(values: np.ndarray, k: float, weights: np.ndarray | float) -> float:
    """Share of the total held by the top ``k`` real firms.

    ``values[i]`` is the value of one real firm of model firm ``i`` and
    ``weights[i]`` the real firms it stands for (a scalar: all equal). Firms
    are sorted by value, largest first, and counted in real firms until ``k``;
    the last model firm counts fractionally. Returns NaN when the total is 0.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64), v.shape)
    order = np.argsort(-v, kind="stable")
    v, w = v[order], w[order]
    total = float((v * w).sum())
    if total <= 0.0 or k <= 0:
        return float("nan") if total <= 0.0 else 0.0
    cum = np.cumsum(w)
    whole = int(np.searchsorted(cum, k, side="right"))
    share = float((v[:whole] * w[:whole]).sum())
    if whole < v.size:
        share += (k - (float(cum[whole - 1]) if whole else 0.0)) * float(v[whole])
    return min(1.0, share / total)


def platform_firm_gmv(model, platform: str) -> tuple[np.ndarray, np.ndarray]:
    """This week's GMV of one real firm of each model firm selling on ``platform``, and
    the real firms each model firm stands for."""
    st = model.stores
    n = st.n
    p = model.platform_names.index(platform)
    sel = (st.platform[:n] == p) & np.isin(st.status[:n], (1, 2))
    gmv = np.bincount(st.firm[:n][sel], weights=st.gmv[:n][sel], minlength=model.firms.n)
    on = gmv > 0
    real = model.firms.weight[: model.firms.n] * model.scale
    return gmv[on], real[on]


def campaign_effect(cfg) -> dict[str, float]:
    """The fake-review micro pattern under ``cfg``'s rules (ODD 7.2, 7.5).

    One store among ``MICRO_RIVALS`` identical ones runs a campaign for
    ``round(23 / 7)`` weeks; its displayed rating follows
    ``merchants.update_inflation`` and its sales ``demand.allocate`` over
    ``demand.store_weight``. Returns the mean rating gain and sales lift over
    the campaign weeks, the lift ``AFTER_WEEKS`` weeks after it as a share of
    the campaign lift, and Amazon's simulated deletion lag in days.
    """
    b = cfg.behaviour
    weeks = max(1, round(CAMPAIGN_DAYS / 7))
    n = MICRO_RIVALS + 1
    ones = np.ones(n)
    platform = np.zeros(n, dtype=np.int64)
    quality = np.full(n, 4.4)

    def sales(infl: float) -> float:
        rating = quality.copy()
        rating[0] += infl
        w = demand_rules.store_weight(
            ones,
            ones,
            rating,
            np.full(n, 25.0),
            b.rating_sensitivity_per_star,
            b.price_sensitivity,
            b.store_count_exponent,
        )
        gmv, _ = demand_rules.allocate(np.array([1.0]), platform, w, 1)
        return float(gmv[0])

    base = sales(0.0)
    infl = np.zeros(1)
    gains, lifts = [], []
    for _ in range(weeks):
        infl = merchant_rules.update_inflation(
            infl, np.ones(1), b.fake_rating_gain_stars, b.fake_inflation_persistence
        )
        gains.append(float(infl[0]))
        lifts.append(sales(float(infl[0])) / base - 1.0)
    for _ in range(AFTER_WEEKS):
        infl = merchant_rules.update_inflation(
            infl, np.zeros(1), b.fake_rating_gain_stars, b.fake_inflation_persistence
        )
    after = sales(float(infl[0])) / base - 1.0
    lift = float(np.mean(lifts))
    amazon = cfg.policy.enforcement.get("amazon")
    lag_days = 7.0 * round(amazon.review_deletion_lag_days / 7) if amazon else float("nan")
    return {
        "campaign_rating_gain_stars": float(np.mean(gains)),
        "campaign_sales_lift": lift,
        "campaign_lift_residual_4_weeks": after / lift if lift > 0 else float("nan"),
        "review_deletion_lag_days": lag_days,
    }


def instance_measures(model, tops=(1000, 10000)) -> dict[str, float]:
    """Measures taken on the live model at end-2021 (call it after that week's step)."""
    cfg = model.cfg
    out: dict[str, float] = {}
    if "amazon" in model.platform_names:
        gmv, real = platform_firm_gmv(model, "amazon")
        for k in tops:
            out[f"amazon_top_{k}_gmv_share_end_2021"] = top_k_share(gmv, k, real)
    out.update(campaign_effect(cfg))
    return out


# -------------------------------------------------------------- stored measures


def _window(df: pd.DataFrame, run: RunTables, since: str, until: str | None) -> pd.DataFrame:
    start = run.summary.get("crackdown_start") if since == "crackdown" else since
    out = df[df["date"] >= pd.Timestamp(start)]
    if until is not None:
        out = out[out["date"] <= pd.Timestamp(until)]
    return out


def _covers(run: RunTables, until: str | None) -> bool:
    """True when the run's recorded weeks reach ``until`` (else the measure is NaN)."""
    if until is None or run.timeseries.empty:
        return not run.timeseries.empty
    return run.timeseries["date"].max() >= pd.Timestamp(until) - pd.Timedelta(days=6)


def summary_difference(run: RunTables, a: str, b: str) -> float:
    """``summary[a] - summary[b]`` (NaN when either is missing)."""
    x, y = run.summary.get(a), run.summary.get(b)
    if x is None or y is None or pd.isna(x) or pd.isna(y):
        return float("nan")
    return float(x) - float(y)


def stores_closed_real(
    run: RunTables, platform: str, origin: str, since: str, until: str | None = None
) -> float:
    """Distinct real stores banned or suspended on ``platform`` by ``origin``'s firms in a
    window (``stores_closed``: each store counted once, at its first closure)."""
    if not _covers(run, until):
        return float("nan")
    ts = run.timeseries
    ts = ts[(ts["platform"] == platform) & (ts["origin"] == origin)]
    ts = _window(ts, run, since, until)
    return float(ts["stores_closed"].sum()) * run.real_factor


def firms_banned_off_real(
    run: RunTables, platform: str, origin: str, since: str, until: str | None = None
) -> float:
    """Real firms of ``origin`` that lost ``platform`` entirely to a ban in a window.

    Counted when the ban leaves the firm no live store there (``firms_lost_to_bans``),
    whether or not it opens a new account the same week.
    """
    if not _covers(run, until):
        return float("nan")
    ts = run.timeseries
    ts = ts[(ts["platform"] == platform) & (ts["origin"] == origin)]
    ts = _window(ts, run, since, until)
    return float(ts["firms_lost_to_bans"].sum()) * run.real_factor


def stores_per_firm_banned(
    run: RunTables, platform: str, origin: str, since: str, until: str | None = None
) -> float:
    """Stores closed per firm banned off the platform (NaN when no firm was banned)."""
    firms = firms_banned_off_real(run, platform, origin, since, until)
    stores = stores_closed_real(run, platform, origin, since, until)
    return stores / firms if firms > 0 else float("nan")


def _week(ts: pd.DataFrame, date: str) -> pd.DataFrame:
    """Rows of the last recorded week starting on or before ``date`` (empty if none)."""
    d = ts.loc[ts["date"] <= pd.Timestamp(date), "date"]
    if d.empty or ts["date"].max() < pd.Timestamp(date) - pd.Timedelta(days=6):
        return ts.iloc[0:0]
    return ts[ts["date"] == d.max()]


def platform_multihoming(run: RunTables, platform: str, origin: str, date: str) -> float:
    """Share of ``origin``'s firms listed on ``platform`` that are listed elsewhere too."""
    w = _week(run.timeseries, date)
    w = w[(w["platform"] == platform) & (w["origin"] == origin)]
    if w.empty or float(w["listed_merchants"].sum()) <= 0:
        return float("nan")
    return float(w["multihomed_merchants"].sum() / w["listed_merchants"].sum())


def seller_growth(run: RunTables, platform: str, since: str) -> float:
    """Relative growth of the platform's listed firms from ``since`` to the last week."""
    ts = run.timeseries[run.timeseries["platform"] == platform]
    by_week = ts.groupby("date")["listed_merchants"].sum()
    first = by_week[by_week.index >= pd.Timestamp(since)]
    if len(first) < 2 or first.iloc[0] <= 0:
        return float("nan")
    return float(first.iloc[-1] / first.iloc[0] - 1.0)


def seller_share_change(run: RunTables, platform: str) -> float:
    """Change of the platform's share of platform memberships, first to last week."""
    ts = run.timeseries
    tot = ts.groupby("date")["listed_merchants"].sum()
    mine = ts[ts["platform"] == platform].groupby("date")["listed_merchants"].sum()
    share = (mine / tot.where(tot > 0)).dropna()
    if len(share) < 2:
        return float("nan")
    return float(share.iloc[-1] - share.iloc[0])


def consumer_share_at(run: RunTables, platform: str, date: str) -> float:
    """The platform's buyer share (``consumer_share``) in the week of ``date``."""
    w = _week(run.timeseries, date)
    w = w[w["platform"] == platform]
    return float(w["consumer_share"].iloc[0]) if len(w) else float("nan")


#: Stored measures by the name ``targets.yaml`` uses after ``measure:``.
MEASURES: dict[str, Callable[..., float]] = {
    "summary_difference": summary_difference,
    "stores_closed_real": stores_closed_real,
    "firms_banned_off_real": firms_banned_off_real,
    "stores_per_firm_banned": stores_per_firm_banned,
    "platform_multihoming": platform_multihoming,
    "seller_growth": seller_growth,
    "seller_share_change": seller_share_change,
    "consumer_share_at": consumer_share_at,
}
