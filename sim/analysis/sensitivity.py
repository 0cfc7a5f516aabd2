"""Global sensitivity analysis of stored sweeps: Morris screening and Sobol indices (SALib).

Works on a sweep store whose design is ``morris`` or ``sobol``
(``configs/experiment/sensitivity_*.yaml``); never reruns the model.

- Outcomes are averaged over the replications of each design point (every
  point runs on the same seeds, so the average removes most noise that is not
  due to the parameters) and ordered by ``point_id``, which is SALib's sample
  order.
- The design's unit-cube sample is rebuilt from ``design.json`` with
  :func:`sim.engine.design.unit_sample` and checked against the stored
  parameter values mapped back with :func:`sim.engine.design.to_unit`, so the
  analysis can never pair outputs with the wrong inputs. SALib analyses run on
  the unit cube: Morris ``mu*`` is in outcome units per full parameter range.
- Confidence intervals of the indices are SALib's bootstrap intervals
  (``num_resamples`` resamples, 95%).
- Sample adequacy (Sobol): an index whose upper confidence bound is below zero
  is *significantly negative*, a symptom of too few base samples; the check
  fails if any occurs, or if an interval is wider than ``wide`` (+-0.25), which
  would make the first test vacuous.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.engine.design import DesignConfig, ParameterSpec, to_unit, unit_sample
from sim.engine.store import Store

MORRIS_COLUMNS = ("outcome", "parameter", "mu", "mu_star", "mu_star_conf", "sigma", "rank")
SOBOL_COLUMNS = (
    "outcome",
    "parameter",
    "S1",
    "S1_conf",
    "ST",
    "ST_conf",
    "S1_significantly_negative",
    "ST_significantly_negative",
    "rank",
)


def stored_design(root: str | Path) -> DesignConfig:
    """The design a sweep store was run with (profile sample size applied)."""
    doc = Store(root).read_json("design.json")
    if doc is None:
        raise FileNotFoundError(f"{root}: no design.json (run the sweep first)")
    d = dict(doc["experiment"]["design"])
    d["parameters"] = {k: ParameterSpec(**v) for k, v in d["parameters"].items()}
    design = DesignConfig(**d)
    prof = doc.get("profile") or {}
    if prof.get("samples") is not None:
        design.samples = prof["samples"]
    return design


def point_means(summary: pd.DataFrame, outcomes: list[str], n_points: int) -> pd.DataFrame:
    """Mean of each outcome over replications, one row per point id ``0..n_points-1``.

    Raises:
        ValueError: a design point has no successful run (rerun the sweep to retry it).
    """
    cols = [o for o in outcomes if o in summary]
    vals = summary[cols].apply(pd.to_numeric, errors="coerce")
    means = vals.groupby(summary["point_id"]).mean().reindex(range(n_points))
    missing = means.index[means.isna().all(axis=1)].tolist() if cols else []
    if missing:
        raise ValueError(
            f"design points without a successful run: {missing[:10]} (rerun the sweep)"
        )
    return means


def unit_matrix(root: str | Path, summary: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Parameter names (design order) and the unit-cube sample, checked against the store."""
    design = stored_design(root)
    names = sorted(design.parameters)
    x = unit_sample(design, names)
    params = summary.groupby("point_id")[[f"param.{n}" for n in names]].first()
    params = params.reindex(range(x.shape[0]))
    back = np.column_stack(
        [to_unit(design, n, params[f"param.{n}"].to_numpy(dtype=float)) for n in names]
    )
    ok = np.isnan(back) | np.isclose(back, x, atol=1e-6)
    if not ok.all():
        raise ValueError(f"{root}: stored parameter values do not match the design's sample")
    return names, x


def _problem(names: list[str]) -> dict:
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def morris_indices(
    root: str | Path,
    summary: pd.DataFrame,
    outcomes: list[str],
    num_resamples: int = 1000,
    seed: int = 1,
) -> pd.DataFrame:
    """Morris ``mu``, ``mu*`` (with bootstrap 95% CI) and ``sigma`` per outcome and parameter."""
    from SALib.analyze import morris

    design = stored_design(root)
    names, x = unit_matrix(root, summary)
    means = point_means(summary, outcomes, x.shape[0])
    rows = []
    for o in means.columns:
        y = means[o].to_numpy(dtype=float)
        if not np.isfinite(y).all():
            continue  # an outcome undefined at some point (e.g. an empty denominator)
        res = morris.analyze(
            _problem(names),
            x,
            y,
            num_resamples=num_resamples,
            conf_level=0.95,
            num_levels=design.morris_levels,
            seed=seed,
        )
        order = np.argsort(-np.asarray(res["mu_star"]))
        rank = np.empty(len(names), dtype=int)
        rank[order] = np.arange(1, len(names) + 1)
        for j, n in enumerate(names):
            rows.append(
                {
                    "outcome": o,
                    "parameter": n,
                    "mu": float(res["mu"][j]),
                    "mu_star": float(res["mu_star"][j]),
                    "mu_star_conf": float(res["mu_star_conf"][j]),
                    "sigma": float(res["sigma"][j]),
                    "rank": int(rank[j]),
                }
            )
    return pd.DataFrame(rows, columns=list(MORRIS_COLUMNS))


def sobol_indices(
    root: str | Path,
    summary: pd.DataFrame,
    outcomes: list[str],
    num_resamples: int = 1000,
    seed: int = 1,
) -> pd.DataFrame:
    """First-order ``S1`` and total ``ST`` Sobol indices with bootstrap 95% CIs."""
    from SALib.analyze import sobol

    names, x = unit_matrix(root, summary)
    means = point_means(summary, outcomes, x.shape[0])
    rows = []
    for o in means.columns:
        y = means[o].to_numpy(dtype=float)
        if not np.isfinite(y).all() or np.ptp(y) == 0:
            continue
        res = sobol.analyze(
            _problem(names),
            y,
            calc_second_order=False,
            num_resamples=num_resamples,
            conf_level=0.95,
            seed=seed,
        )
        order = np.argsort(-np.asarray(res["ST"]))
        rank = np.empty(len(names), dtype=int)
        rank[order] = np.arange(1, len(names) + 1)
        for j, n in enumerate(names):
            s1, s1c = float(res["S1"][j]), float(res["S1_conf"][j])
            st, stc = float(res["ST"][j]), float(res["ST_conf"][j])
            rows.append(
                {
                    "outcome": o,
                    "parameter": n,
                    "S1": s1,
                    "S1_conf": s1c,
                    "ST": st,
                    "ST_conf": stc,
                    "S1_significantly_negative": bool(s1 + s1c < 0),
                    "ST_significantly_negative": bool(st + stc < 0),
                    "rank": int(rank[j]),
                }
            )
    return pd.DataFrame(rows, columns=list(SOBOL_COLUMNS))


def sample_adequacy(indices: pd.DataFrame, wide: float = 0.25) -> pd.DataFrame:
    """Per outcome: significantly negative indices, widest CI half-width, adequate or not.

    ``adequate`` is False when any index is significantly negative (its upper
    95% bound below 0: the base sample is too small for the variance
    decomposition to be trusted) or when an interval is so wide (half-width
    above ``wide``) that no index is resolved, which with a very small sample
    hides negative estimates. ``wide_intervals`` counts the wide intervals.
    First-order indices cannot sum to more than 1; ``sum_S1_above_one`` is True
    when the sum exceeds 1 by more than its 95% half-width (the indices' half-widths
    combined in quadrature), which also makes the sample inadequate.
    """
    rows = []
    for o, g in indices.groupby("outcome", sort=False):
        neg = int(g["S1_significantly_negative"].sum() + g["ST_significantly_negative"].sum())
        half = float(max(g["S1_conf"].max(), g["ST_conf"].max()))
        total = float(g["S1"].sum())
        above = bool(total - float(np.sqrt((g["S1_conf"] ** 2).sum())) > 1.0)
        rows.append(
            {
                "outcome": o,
                "significantly_negative": neg,
                "max_conf_half_width": half,
                "wide_intervals": int((g["S1_conf"] > wide).sum() + (g["ST_conf"] > wide).sum()),
                "sum_S1": total,
                "sum_S1_above_one": above,
                "adequate": bool(neg == 0 and half <= wide and not above),
            }
        )
    return pd.DataFrame(rows)


def ranking(indices: pd.DataFrame, value: str) -> pd.DataFrame:
    """Parameters ranked by their mean rank over outcomes (``value`` breaks no ties)."""
    g = indices.groupby("parameter")
    out = pd.DataFrame({"mean_rank": g["rank"].mean(), f"max_{value}": g[value].max()})
    return out.sort_values(["mean_rank", f"max_{value}"], ascending=[True, False]).reset_index()


def _short(name: str) -> str:
    return (
        name.replace("policy.enforcement.", "")
        .replace("behaviour.", "")
        .replace("merchants.origins.", "")
    )


def plot_morris(indices: pd.DataFrame, top: int = 8) -> plt.Figure:
    """``mu*`` against ``sigma`` per outcome; the ``top`` parameters labelled."""
    outcomes = list(dict.fromkeys(indices["outcome"]))
    n = max(1, len(outcomes))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.2), constrained_layout=True, squeeze=False)
    for ax, o in zip(axes[0], outcomes, strict=False):
        g = indices[indices["outcome"] == o]
        ax.errorbar(
            g["mu_star"],
            g["sigma"],
            xerr=g["mu_star_conf"],
            fmt="o",
            ms=4,
            color="#3182bd",
            ecolor="#9ecae1",
            lw=0.8,
        )
        lim = max(g["mu_star"].max(), g["sigma"].max()) * 1.1 or 1.0
        ax.plot([0, lim], [0, lim], ls=":", color="#999", lw=0.8)
        for r in g.nsmallest(top, "rank").to_dict("records"):
            ax.annotate(
                _short(r["parameter"]),
                (r["mu_star"], r["sigma"]),
                fontsize=6.5,
                xytext=(3, 2),
                textcoords="offset points",
            )
        ax.set_xlabel("mu* (outcome units per parameter range), 95% CI")
        ax.set_ylabel("sigma (non-linearity, interactions)")
        ax.set_title(o, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle("Morris screening (dotted: sigma = mu*)", fontsize=10)
    return fig


def plot_sobol(indices: pd.DataFrame) -> plt.Figure:
    """First-order and total Sobol indices with bootstrap 95% CIs, one panel per outcome."""
    outcomes = list(dict.fromkeys(indices["outcome"]))
    n = max(1, len(outcomes))
    k = indices["parameter"].nunique()
    fig, axes = plt.subplots(
        1,
        n,
        figsize=(3.6 * n + 1.5, 0.32 * k + 1.6),
        constrained_layout=True,
        squeeze=False,
        sharey=True,
    )
    order = ranking(indices, "ST")["parameter"].tolist()[::-1]
    y = np.arange(len(order))
    for ax, o in zip(axes[0], outcomes, strict=False):
        g = indices[indices["outcome"] == o].set_index("parameter").reindex(order)
        ax.barh(
            y + 0.2,
            g["ST"],
            height=0.38,
            xerr=g["ST_conf"],
            color="#fc9272",
            error_kw={"lw": 0.8},
            label="total ST",
        )
        ax.barh(
            y - 0.2,
            g["S1"],
            height=0.38,
            xerr=g["S1_conf"],
            color="#3182bd",
            error_kw={"lw": 0.8},
            label="first-order S1",
        )
        ax.axvline(0, color="k", lw=0.6)
        ax.set_title(o, fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    axes[0][0].set_yticks(y, [_short(p) for p in order], fontsize=7)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Sobol indices (bootstrap 95% CI), parameters by mean rank of ST", fontsize=10)
    return fig
