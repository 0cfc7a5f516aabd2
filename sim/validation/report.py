"""The validation report: table (Markdown + CSV) and "model vs observed" figure.

Reads only stored results (``sim.analysis.load``); never reruns the model.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .targets import TargetSet, fit_distance, measure_runs, validation_table

STATUS_COLORS = {"pass": "#1a9850", "fail": "#d73027", "not measured": "#999999"}


def fmt(v: float | None) -> str:
    """A number with 3 significant digits (thousands separated), '-' for None/NaN."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        if isinstance(v, float) and math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return "-"
    v = float(v)
    if v != 0 and abs(v) >= 1000:
        return f"{round(v, -math.floor(math.log10(abs(v))) + 2):,.0f}"
    return f"{v:.3g}"


def _band(lo: float | None, hi: float | None) -> str:
    lo_s = "-inf" if lo is None or (isinstance(lo, float) and math.isinf(lo)) else fmt(lo)
    hi_s = "inf" if hi is None or (isinstance(hi, float) and math.isinf(hi)) else fmt(hi)
    return f"[{lo_s}, {hi_s}]"


def markdown_table(table: pd.DataFrame) -> str:
    """The validation table as Markdown (one row per target)."""
    lines = [
        "| target | pattern | use | observed (range) | accepted | model mean [95% CI] | n "
        "| result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table.to_dict("records"):
        obs = fmt(r["observed"]) if r["observed"] is not None else "-"
        obs_lo = None if pd.isna(r["observed_low"]) else r["observed_low"]
        obs_hi = None if pd.isna(r["observed_high"]) else r["observed_high"]
        lines.append(
            f"| `{r['id']}` | {r['pattern']} | {r['use']} | {obs} "
            f"{_band(obs_lo, obs_hi)} | {_band(r['accept_low'], r['accept_high'])} | "
            f"{fmt(r['mean'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}] | {r['n']} | "
            f"**{r['status']}** |"
        )
    counts = table["status"].value_counts()
    lines.append("")
    lines.append(
        f"{counts.get('pass', 0)} pass, {counts.get('fail', 0)} fail, "
        f"{counts.get('not measured', 0)} not measured of {len(table)} targets "
        f"(holdout: {int(((table['use'] == 'holdout') & (table['status'] == 'pass')).sum())} "
        f"of {int((table['use'] == 'holdout').sum())} pass). Distance to the observed "
        f"ranges (RMS of normalised gaps, 0 = all inside, <= 1 = all pass): fit targets "
        f"{fit_distance(table, 'fit'):.2f}, holdout targets {fit_distance(table, 'holdout'):.2f}."
    )
    return "\n".join(lines) + "\n"


def plot_model_vs_observed(table: pd.DataFrame, ncols: int = 4) -> plt.Figure:
    """One small panel per target: observed range, accepted band, model mean with 95% CI."""
    n = len(table)
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.4 * ncols, 1.35 * nrows + 0.6), constrained_layout=True
    )
    axes = np.atleast_1d(axes).ravel()
    for ax, r in zip(axes, table.to_dict("records"), strict=False):
        vals = [
            v
            for v in (
                r["observed"],
                r["observed_low"],
                r["observed_high"],
                r["accept_low"],
                r["accept_high"],
                r["mean"],
                r["ci_low"],
                r["ci_high"],
            )
            if v is not None and np.isfinite(v)
        ]
        lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
        pad = 0.15 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.5
        xlo, xhi = lo - pad, hi + pad
        alo = r["accept_low"] if np.isfinite(r["accept_low"]) else xlo
        ahi = r["accept_high"] if np.isfinite(r["accept_high"]) else xhi
        ax.axvspan(alo, ahi, color="#dddddd", zorder=0, label="accepted")
        olo = r["observed_low"] if pd.notna(r["observed_low"]) else alo
        ohi = r["observed_high"] if pd.notna(r["observed_high"]) else ahi
        ax.axvspan(olo, ohi, color="#9ecae1", zorder=1, label="observed range")
        if r["observed"] is not None and pd.notna(r["observed"]):
            ax.plot([r["observed"]], [0], "kD", ms=5, zorder=3, label="observed")
        color = STATUS_COLORS[r["status"]]
        if np.isfinite(r["mean"]):
            err = None
            if np.isfinite(r["ci_low"]):
                err = [[r["mean"] - r["ci_low"]], [r["ci_high"] - r["mean"]]]
            ax.errorbar(
                [r["mean"]],
                [0],
                xerr=err,
                fmt="o",
                color=color,
                capsize=3,
                zorder=4,
                label="model mean, 95% CI",
            )
        ax.set_xlim(xlo, xhi)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(
            f"{r['id']}\n{r['pattern']}, {r['use']}: {r['status']}", fontsize=7.5, color=color
        )
    for ax in axes[n:]:
        ax.axis("off")
    handles, labels = axes[0].get_legend_handles_labels()
    if n < len(axes):  # the legend goes into the first empty panel
        axes[n].legend(handles, labels, loc="center", fontsize=8, frameon=False)
    else:
        fig.legend(handles, labels, loc="lower right", fontsize=7, ncol=4, frameon=False)
    fig.suptitle("Model vs observed patterns (mean over replications, 95% CI)", fontsize=10)
    return fig


def write_report(root: Path, targets: TargetSet, sweep=None) -> list[Path]:
    """Measure the stored runs under ``root`` and write the table and figure there."""
    from sim.analysis.figures import save
    from sim.analysis.load import load_flows, load_summary, load_timeseries
    from sim.engine.provenance import figure_provenance

    summary = load_summary(root)
    if summary.empty:
        return []
    values = measure_runs(targets, summary, load_timeseries(root), load_flows(root))
    table = validation_table(targets, values)
    root = Path(root)
    out = []
    for name, frame in (("validation_runs.csv", values), ("validation_table.csv", table)):
        frame.to_csv(root / name, index=False)
        out.append(root / name)
    md = root / "validation_table.md"
    profile = sweep.profile.name if sweep is not None else "?"
    sampled = f"{sweep.profile.merchants} model firms sampled, " if sweep is not None else ""
    head = (
        f"Validation of the default preset: profile `{profile}`, {len(summary)} replications "
        f"({sampled}{int(summary['initial_merchants'].iloc[0])} with the association members "
        "split out).\n\n"
    )
    md.write_text(head + markdown_table(table))
    out.append(md)
    prov = figure_provenance(root, "validation", profile)
    out += save(
        plot_model_vs_observed(table), root / "figures" / "model_vs_observed", prov, ("png", "pdf")
    )
    return out
