"""Figures from stored (or in-memory) tidy tables.

Plot functions return figures; ``save`` writes them.

Plot functions never run the model: they take the ``timeseries`` and
``flows`` tables of one or more runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

PLATFORM_COLORS = {
    "amazon": "#ff9900",
    "ebay": "#0064d2",
    "aliexpress": "#e62e04",
    "shopify": "#5e8e3e",
    "temu": "#8c4bd6",
    "tiktok_shop": "#222222",
}
STYLES = ("-", "--", ":", "-.")
# line-style key of the runs: a light grey no platform uses (black read as TikTok Shop's)
RUN_KEY_COLOR = "#aaaaaa"


def _color(p: str) -> str:
    return PLATFORM_COLORS.get(p, "#777777")


def _crackdown_line(ax, date: str | None) -> None:
    if date:
        ax.axvline(pd.Timestamp(date), color="#b00", lw=0.8, ls=":", zorder=0)


def reach_by_origin(ts: pd.DataFrame) -> pd.DataFrame:
    """Share of each origin's live firms listed on each platform, per week."""
    df = ts[["date", "platform", "origin", "listed_merchants", "alive_merchants"]].copy()
    df["reach"] = df["listed_merchants"] / df["alive_merchants"].where(df["alive_merchants"] > 0)
    return df


def cn_share(ts: pd.DataFrame) -> pd.DataFrame:
    """CN firms' share of each platform's listed sellers, per week."""
    wide = ts.pivot_table(index=["date", "platform"], columns="origin", values="listed_merchants")
    share = wide["CN"] / wide.sum(axis=1).where(wide.sum(axis=1) > 0)
    return share.rename("cn_share").reset_index()


def plot_platform_shares(
    runs: Mapping[str, pd.DataFrame], crackdown_date: str | None = "2021-04-26"
) -> plt.Figure:
    """Platform seller shares over time by origin, one line style per run.

    Panels: share of CN firms listed on each platform; the same for other
    firms; CN share of each platform's sellers; multi-homing (share of a
    platform's sellers also on another platform) for CN firms.
    """
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True, constrained_layout=True)
    for k, ts in enumerate(runs.values()):
        ls = STYLES[k % len(STYLES)]
        reach = reach_by_origin(ts)
        share = cn_share(ts)
        for p in ts["platform"].unique():
            c = _color(p)
            for ax, origin in ((axes[0, 0], "CN"), (axes[0, 1], "other")):
                r = reach[(reach["platform"] == p) & (reach["origin"] == origin)]
                ax.plot(
                    r["date"], r["reach"], ls=ls, color=c, lw=1.4, label=f"{p}" if k == 0 else None
                )
            s = share[share["platform"] == p]
            axes[1, 0].plot(s["date"], s["cn_share"], ls=ls, color=c, lw=1.4)
            m = ts[(ts["platform"] == p) & (ts["origin"] == "CN")]
            mh = m["multihomed_merchants"] / m["listed_merchants"].where(m["listed_merchants"] > 0)
            axes[1, 1].plot(m["date"], mh, ls=ls, color=c, lw=1.4)
    titles = (
        "CN firms listed on platform (share of CN firms)",
        "Other firms listed on platform (share of other firms)",
        "CN share of the platform's sellers",
        "CN sellers also on another platform (multi-homing)",
    )
    for ax, title in zip(axes.flat, titles, strict=True):
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        _crackdown_line(ax, crackdown_date)
    # legends below the panels, off the data
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, ncol=len(labels), loc="outside lower center")
    if len(runs) > 1:
        runs_handles = [
            plt.Line2D([], [], color=RUN_KEY_COLOR, lw=2, ls=STYLES[k % len(STYLES)], label=label)
            for k, label in enumerate(runs)
        ]
        fig.legend(
            handles=runs_handles, fontsize=8, ncol=len(runs), loc="outside upper right", title="run"
        )
    fig.suptitle("Platform seller shares by origin (dotted red line: crackdown start)")
    return fig


def flow_matrix(
    flows: pd.DataFrame, origin: str | None = "CN", since=None, until=None
) -> pd.DataFrame:
    """Firms moving from platform to platform (rows: from, columns: to), summed over a window."""
    f = flows
    if origin is not None:
        f = f[f["origin"] == origin]
    if since is not None:
        f = f[f["date"] >= pd.Timestamp(since)]
    if until is not None:
        f = f[f["date"] <= pd.Timestamp(until)]
    return f.pivot_table(
        index="from_platform",
        columns="to_platform",
        values="merchants",
        aggfunc="sum",
        fill_value=0.0,
    )


def plot_migration(
    flows: pd.DataFrame, since: str | None = "2021-04-26", until: str | None = "2022-12-31"
) -> plt.Figure:
    """Migration flows of CN firms between platforms in a window, and monthly flows out of Amazon.

    Left: from-to matrix ("none" = entering or leaving the market, or joining
    or leaving without a move). Right: monthly firms leaving Amazon by cause.
    """
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(13, 5.2), constrained_layout=True)
    mat = flow_matrix(flows, "CN", since, until)
    order = [p for p in (*PLATFORM_COLORS, "none") if p in set(mat.index) | set(mat.columns)]
    mat = mat.reindex(index=order, columns=order, fill_value=0.0)
    if mat.size:
        im = ax0.imshow(mat.to_numpy(), cmap="Oranges")
        ax0.set_xticks(range(len(order)), order, rotation=40, ha="right")
        ax0.set_yticks(range(len(order)), order)
        vmax = mat.to_numpy().max()
        for i in range(len(order)):
            for j in range(len(order)):
                v = mat.iat[i, j]
                if v > 0:
                    ax0.text(
                        j,
                        i,
                        f"{v:.0f}",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if v > 0.6 * vmax else "black",
                    )
        fig.colorbar(im, ax=ax0, shrink=0.8, label="model firms")
    else:  # e.g. a run that ends before the window: an empty image would warn
        ax0.text(0.5, 0.5, "no moves in this window", ha="center", va="center")
        ax0.set_xticks([])
        ax0.set_yticks([])
    ax0.set_xlabel("to")
    ax0.set_ylabel("from")
    ax0.set_title(f"CN firms' moves, {since or 'start'} to {until or 'end'}", fontsize=10)
    out = flows[(flows["from_platform"] == "amazon")].copy()
    if len(out):
        out["month"] = out["date"].dt.to_period("M").dt.to_timestamp()
        by = out.pivot_table(
            index="month", columns="cause", values="merchants", aggfunc="sum", fill_value=0.0
        )
        by.plot.area(ax=ax1, lw=0, alpha=0.8)
    ax1.set_title("Firms leaving Amazon per month, by cause", fontsize=10)
    ax1.set_ylabel("model firms")
    ax1.grid(alpha=0.3)
    _crackdown_line(ax1, since)
    return fig


def save(
    fig: plt.Figure,
    path: str | Path,
    provenance: Mapping | None = None,
    formats: tuple[str, ...] = ("png",),
) -> list[Path]:
    """Save ``fig`` as each format with provenance in the file metadata; close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    desc = json.dumps(dict(provenance or {}), sort_keys=True, default=str)
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        tool = "sim (cross-border platform migration ABM)"
        if fmt == "png":
            meta = {"Software": tool, "Description": desc}
        elif fmt == "pdf":
            meta = {"Creator": tool, "Subject": desc}
        else:
            meta = {}
        fig.savefig(target, dpi=150, metadata=meta)
        written.append(target)
    plt.close(fig)
    return written


def load_run(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read a run directory's timeseries, flows and summary."""
    d = Path(run_dir)
    ts = pd.read_parquet(d / "timeseries.parquet")
    fl = pd.read_parquet(d / "flows.parquet")
    summary = json.loads((d / "summary.json").read_text())
    return ts, fl, summary


__all__ = [
    "cn_share",
    "flow_matrix",
    "load_run",
    "plot_migration",
    "plot_platform_shares",
    "reach_by_origin",
    "save",
]
