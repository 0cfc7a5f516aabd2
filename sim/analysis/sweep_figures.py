"""Figures across replications and design points of a sweep.

Plot functions take the tidy tables handed over by the sweep engine (summary,
timeseries, portfolios) or the tables of ``sim.analysis.stats`` and return a
matplotlib figure; they never read files or run the model. Write them with
``sim.analysis.figures.save(fig, path, provenance, formats=("png", "pdf"))``.

Conventions: platforms keep the colours of ``figures.PLATFORM_COLORS`` and get a
marker each, scenarios a line style each (so neither depends on colour vision
alone); shaded bands are confidence intervals of the mean across replications
(Student t, ``level`` 0.95 by default); counts are model firms (one model firm
stands for ``merchants.scale`` real firms).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MPath
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, ScalarFormatter

from sim.analysis import stats
from sim.analysis.figures import PLATFORM_COLORS, STYLES

PLATFORM_LABELS = {
    "amazon": "Amazon",
    "ebay": "eBay",
    "aliexpress": "AliExpress",
    "shopify": "own web stores",
    "temu": "Temu",
    "tiktok_shop": "TikTok Shop",
}
PLATFORM_MARKERS = {
    "amazon": "o",
    "ebay": "s",
    "aliexpress": "^",
    "shopify": "D",
    "temu": "v",
    "tiktok_shop": "P",
}
#: Short platform names for portfolio labels.
PLATFORM_ABBREV = {
    "amazon": "AMZ",
    "ebay": "eBay",
    "aliexpress": "AliEx",
    "shopify": "Web",
    "temu": "Temu",
    "tiktok_shop": "TikTok",
}
#: Okabe & Ito (2008) colour-blind-safe qualitative palette (black moved last).
OKABE_ITO = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#F0E442",
    "#000000",
)
MAX_SCENARIO_STYLES = len(STYLES)
CRACKDOWN_COLOR = "#8b0000"
SPECIAL_PORTFOLIOS = ("other portfolios", "none", "entered", "exited")

_RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
}


def _styled(func):
    """Run a plot function under the module's rc settings (fonts, grid, spines)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with plt.rc_context(_RC):
            return func(*args, **kwargs)

    return wrapper


# ---------------------------------------------------------------------------
# small helpers


def _color(p: str) -> str:
    return PLATFORM_COLORS.get(p, "#777777")


def _platform_label(p: str) -> str:
    return PLATFORM_LABELS.get(p, p)


def _platform_order(values) -> list[str]:
    present = set(values)
    known = [p for p in PLATFORM_COLORS if p in present]
    return known + sorted(present - set(known))


def _level_label(v) -> str:
    return "(all runs)" if v == "" else str(v)


def _levels(frame: pd.DataFrame, col: str, chosen: Sequence | None) -> list:
    if col not in frame.columns:
        raise KeyError(f"column {col!r} not in the frame; available: {list(frame.columns)}")
    present = list(pd.unique(frame[col]))
    if chosen is None:
        return present
    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
    missing = [c for c in chosen if c not in present]
    if missing:
        raise ValueError(f"{col} value(s) {missing} not in the data; present: {present}")
    return chosen


def _param_label(name: str) -> str:
    """Axis label for a design column: drop ``param.``; long keys on two lines."""
    key = name.removeprefix("param.")
    if len(key) <= 40 or "." not in key:
        return key
    head, leaf = key.rsplit(".", 1)
    return f"{leaf}\n({head})"


def _num(v: float) -> str:
    if not np.isfinite(v):
        return "-"
    if v != 0 and abs(v) < 1e-3:
        return f"{v:.2e}"
    if 1e3 <= abs(v) < 1e6:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks at 1, 2, 5 x 10^k covering [lo, hi] (1..9 x 10^k when that gives fewer than 3)."""
    k0, k1 = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    for mantissas in ((1, 2, 5), tuple(range(1, 10))):
        ticks = [m * 10.0**k for k in range(k0, k1 + 1) for m in mantissas]
        inside = [t for t in ticks if lo / 1.05 <= t <= hi * 1.05]
        if len(inside) >= 3:
            return inside
    return inside or [lo, hi]


def _date_axis(ax) -> None:
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))


def _crackdown(ax, date: str | None, label: bool = True) -> None:
    if not date:
        return
    x = pd.Timestamp(date)
    ax.axvline(x, color=CRACKDOWN_COLOR, lw=0.9, alpha=0.7, zorder=1)
    if label:
        ax.annotate(
            "crackdown",
            xy=(x, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=7,
            color=CRACKDOWN_COLOR,
        )


def _markevery(n_points: int, k: int, n_lines: int) -> tuple[int, int]:
    """About eight markers per line, staggered so that lines do not share positions."""
    step = max(1, n_points // 8)
    return ((k * step) // max(1, n_lines) % step, step)


def _band(
    ax,
    t: pd.DataFrame,
    color: str,
    ls,
    marker: str | None,
    k: int,
    n_lines: int,
    alpha: float = 0.16,
):
    """Mean line with a shaded CI band (``gid='ci_band'``) where the CI is defined."""
    t = t.sort_values("date")
    if np.isfinite(t["ci_low"].to_numpy(dtype=float)).any():
        band = ax.fill_between(
            t["date"].to_numpy(),
            t["ci_low"].to_numpy(dtype=float),
            t["ci_high"].to_numpy(dtype=float),
            color=color,
            alpha=alpha,
            lw=0,
            zorder=2,
        )
        band.set_gid("ci_band")
    (line,) = ax.plot(
        t["date"].to_numpy(),
        t["mean"].to_numpy(dtype=float),
        color=color,
        ls=ls,
        lw=1.5,
        marker=marker,
        markersize=3.5,
        markevery=_markevery(len(t), k, n_lines) if marker else None,
        zorder=3,
    )
    line.set_gid("mean_line")
    return line


def _platform_handles(platforms: Sequence[str]) -> list[Line2D]:
    return [
        Line2D(
            [],
            [],
            color=_color(p),
            marker=PLATFORM_MARKERS.get(p),
            markersize=4,
            lw=1.5,
            label=_platform_label(p),
        )
        for p in platforms
    ]


def _scenario_handles(levels: Sequence) -> list[Line2D]:
    return [
        Line2D([], [], color="#333333", ls=STYLES[k], lw=1.5, label=_level_label(v))
        for k, v in enumerate(levels)
    ]


def _ci_level_text(level: float) -> str:
    return f"{level:.0%} CI"


def _group_columns(table: pd.DataFrame, known: Sequence[str], by) -> list[str]:
    if by is not None:
        return [by] if isinstance(by, str) else list(by)
    if "by" in table.attrs:
        return list(table.attrs["by"])
    return [c for c in table.columns if c not in known and c != "rel_half_width"]


def _group_labels(table: pd.DataFrame, by: Sequence[str]) -> list[str]:
    if not by:
        return ["all runs"] * len(table)
    parts = [table[c].map(_level_label) for c in by]
    labels = parts[0].astype(str)
    for p in parts[1:]:
        labels = labels + " / " + p.astype(str)
    return labels.tolist()


# ---------------------------------------------------------------------------
# shares over time


@_styled
def plot_shares_ci(
    ts: pd.DataFrame,
    scenarios: Sequence | None = None,
    origin: str = "CN",
    crackdown_date: str | None = "2021-04-26",
    *,
    origins: Sequence[str] = ("CN", "other"),
    by: str = "scenario",
    platforms: Sequence[str] | None = None,
    level: float = 0.95,
) -> plt.Figure:
    """Platform seller shares over time by origin, mean and CI band across replications.

    Top row, one panel per origin in ``origins``: reach of each platform, the
    share of the origin's live firms listed on it (``listed_merchants /
    alive_merchants``). Bottom panel: ``origin``'s share of each platform's
    listed firms. Colour and marker: platform; line style: scenario (at most
    four); shaded band: confidence interval of the mean across replications.

    Args:
        ts: timeseries frame of a sweep (run keys ``run_id``, ``scenario``,
            ``replicate`` plus the docs/outputs.md columns).
        scenarios: values of ``by`` to draw, in this order (default: all, in
            order of appearance; at most four).
        origin: origin whose share of each platform's sellers is drawn.
        crackdown_date: vertical line (``None`` for none).
        origins: origins of the reach panels.
        by: column that names the scenarios (``"point_id"`` for a design
            without named scenarios).
        platforms: platforms to draw (default: all in the table).
        level: confidence level of the bands.

    Returns:
        The figure (``len(origins) + 1`` axes).
    """
    levels = _levels(ts, by, scenarios)
    if len(levels) > MAX_SCENARIO_STYLES:
        raise ValueError(
            f"plot_shares_ci draws at most {MAX_SCENARIO_STYLES} scenarios (line styles); "
            f"got {len(levels)}: pass scenarios=[...] to choose"
        )
    plats = list(platforms) if platforms is not None else _platform_order(ts["platform"])
    sub = ts[ts[by].isin(levels) & ts["platform"].isin(plats)]
    reach_ci = stats.time_series_ci(
        stats.reach(sub), "reach", (by, "date", "platform", "origin"), level
    )
    share_ci = stats.time_series_ci(
        stats.cn_share_of_platform(sub, origin), "cn_share", (by, "date", "platform"), level
    )
    origins = list(origins)
    mosaic = [list(origins), ["share"] * len(origins)]
    fig, axd = plt.subplot_mosaic(
        mosaic,
        figsize=(5.2 * len(origins) + 2.2, 7.6),
        sharex=True,
        layout="constrained",
    )
    n_lines = len(plats) * len(levels)
    alpha = 0.18 / len(levels) ** 0.6  # overlapping bands of several scenarios stay readable
    for k_s, lev in enumerate(levels):
        ls = STYLES[k_s]
        for k_p, p in enumerate(plats):
            idx = k_s * len(plats) + k_p
            for o in origins:
                t = reach_ci[
                    (reach_ci[by] == lev) & (reach_ci["platform"] == p) & (reach_ci["origin"] == o)
                ]
                if len(t):
                    _band(axd[o], t, _color(p), ls, PLATFORM_MARKERS.get(p), idx, n_lines, alpha)
            t = share_ci[(share_ci[by] == lev) & (share_ci["platform"] == p)]
            if len(t):
                _band(axd["share"], t, _color(p), ls, PLATFORM_MARKERS.get(p), idx, n_lines, alpha)
    for o in origins:
        ax = axd[o]
        ax.set_title(f"{o} firms listed on each platform (reach)")
        ax.set_ylabel(f"share of live {o} firms")
        ax.set_ylim(0, 1)
    ax = axd["share"]
    ax.set_title(f"{origin} firms' share of each platform's listed sellers")
    ax.set_ylabel(f"{origin} share of sellers")
    ax.set_ylim(0, 1)
    ax.set_xlabel("date (weeks)")
    for name, ax in axd.items():
        _date_axis(ax)
        ax.xaxis.set_tick_params(labelbottom=True)  # the top panels are narrower: keep dates
        _crackdown(ax, crackdown_date, label=name in (origins[0], "share"))
    fig.legend(
        handles=_platform_handles(plats),
        title="platform",
        loc="outside right upper",
        frameon=False,
    )
    n_rep = int(reach_ci["n"].max()) if len(reach_ci) else 0
    fig.legend(
        handles=_scenario_handles(levels),
        title=f"{by}\n(bands: {_ci_level_text(level)},\nn = {n_rep} replications)",
        loc="outside right lower",
        frameon=False,
    )
    fig.suptitle("Platform seller shares by origin: mean across replications")
    return fig


@_styled
def plot_grey_prevalence(
    ts: pd.DataFrame,
    scenarios: Sequence | None = None,
    crackdown_date: str | None = "2021-04-26",
    *,
    by: str = "scenario",
    platforms: Sequence[str] | None = None,
    level: float = 0.95,
    ncols: int = 2,
) -> plt.Figure:
    """Grey-practice prevalence by platform over time, one panel per scenario.

    Prevalence is the share of a platform's active stores (both origins) that
    bought fake reviews that week, ``sum grey_stores / sum active_stores``,
    computed per run and then averaged across replications with a CI band.
    Read across platforms within a panel for displacement: does grey practice
    fall on the platform that cracks down and rise on the others?

    Args:
        ts: timeseries frame of a sweep.
        scenarios: values of ``by`` to draw (default: all), one panel each.
        crackdown_date: vertical line (``None`` for none).
        by: column that names the scenarios.
        platforms: platforms to draw (default: all).
        level: confidence level of the bands.
        ncols: panels per row.

    Returns:
        The figure (one axes per scenario; spare grid cells removed).
    """
    levels = _levels(ts, by, scenarios)
    plats = list(platforms) if platforms is not None else _platform_order(ts["platform"])
    sub = ts[ts[by].isin(levels) & ts["platform"].isin(plats)]
    prev = stats.time_series_ci(
        stats.grey_prevalence(sub), "grey_prevalence", (by, "date", "platform"), level
    )
    ncols = max(1, min(ncols, len(levels)))
    nrows = -(-len(levels) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(5.0 * ncols + 1.8, 3.4 * nrows + 0.6),
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    top = float(np.nanmax(prev[["mean", "ci_high"]].to_numpy(dtype=float), initial=0.0))
    for k, lev in enumerate(levels):
        ax = axes.flat[k]
        for k_p, p in enumerate(plats):
            t = prev[(prev[by] == lev) & (prev["platform"] == p)]
            if len(t):
                _band(ax, t, _color(p), "-", PLATFORM_MARKERS.get(p), k_p, len(plats))
        ax.set_title(f"{by}: {_level_label(lev)}")
        _date_axis(ax)
        _crackdown(ax, crackdown_date, label=True)
        ax.set_ylim(0, max(0.05, 1.08 * top))
        if k % ncols == 0:
            ax.set_ylabel("share of active stores\nbuying fake reviews")
        if k // ncols == nrows - 1 or k + ncols >= len(levels):
            ax.set_xlabel("date (weeks)")
            ax.xaxis.set_tick_params(labelbottom=True)
    for ax in axes.flat[len(levels) :]:
        ax.remove()
    n_rep = int(prev["n"].max()) if len(prev) else 0
    fig.legend(
        handles=_platform_handles(plats),
        title=f"platform\n(bands: {_ci_level_text(level)},\nn = {n_rep} replications)",
        loc="outside right upper",
        frameon=False,
    )
    fig.suptitle("Grey-practice prevalence by platform (both origins)")
    return fig


# ---------------------------------------------------------------------------
# alluvial diagram of platform portfolios


def _abbrev_portfolio(name: str) -> str:
    if name in SPECIAL_PORTFOLIOS:
        return name
    return "+".join(PLATFORM_ABBREV.get(p, p) for p in name.split("+"))


def _spread(y: np.ndarray, sep: float, lo: float, hi: float) -> np.ndarray:
    """Move label positions (sorted top to bottom) apart by at least ``sep`` within [lo, hi]."""
    y = np.asarray(y, dtype=float).copy()
    for i in range(1, len(y)):
        y[i] = min(y[i], y[i - 1] - sep)
    if len(y) and y[-1] < lo:
        y[-1] = lo
        for i in range(len(y) - 2, -1, -1):
            y[i] = max(y[i], y[i + 1] + sep)
    if len(y) and y[0] > hi:
        y -= y[0] - hi
    return y


def _ribbon(x0: float, x1: float, top0: float, bot0: float, top1: float, bot1: float) -> MPath:
    """Closed path of a ribbon: cubic Bezier edges from [bot0, top0] at x0 to [bot1, top1] at x1."""
    xm = (x0 + x1) / 2.0
    verts = [
        (x0, top0),
        (xm, top0),
        (xm, top1),
        (x1, top1),
        (x1, bot1),
        (xm, bot1),
        (xm, bot0),
        (x0, bot0),
        (x0, top0),
    ]
    codes = [
        MPath.MOVETO,
        MPath.CURVE4,
        MPath.CURVE4,
        MPath.CURVE4,
        MPath.LINETO,
        MPath.CURVE4,
        MPath.CURVE4,
        MPath.CURVE4,
        MPath.CLOSEPOLY,
    ]
    return MPath(verts, codes)


def portfolio_flows(
    portfolios: pd.DataFrame,
    origin: str | None = "CN",
    top: int = 8,
    scenario: Hashable | None = None,
) -> pd.DataFrame:
    """Mean firms per (portfolio_from, portfolio_to) across replicates, small portfolios lumped.

    A pair missing from a replicate counts as 0 firms there (the mean is over
    all runs in the frame). Portfolios other than the ``top`` largest (by firms
    at either snapshot) become ``"other portfolios"``; ``none``, ``entered``
    and ``exited`` are always kept.

    Returns:
        Columns ``portfolio_from``, ``portfolio_to``, ``merchants`` (mean model
        firms), non-zero rows only; ``attrs["n_runs"]`` holds the number of runs.
    """
    need = ["portfolio_from", "portfolio_to", "merchants"]
    if origin is not None:
        need.append("origin")
    missing = [c for c in need if c not in portfolios.columns]
    if missing:
        raise KeyError(f"portfolios frame lacks column(s) {missing}")
    df = portfolios
    if "scenario" in df.columns:
        present = list(pd.unique(df["scenario"]))
        if scenario is None and len(present) > 1:
            raise ValueError(
                f"portfolios hold several scenarios {present}: pass scenario=... to pick one"
            )
        if scenario is not None:
            if scenario not in present:
                raise ValueError(f"scenario {scenario!r} not in the data; present: {present}")
            df = df[df["scenario"] == scenario]
    run_key = next((k for k in ("run_id", "replicate") if k in df.columns), None)
    n_runs = int(df[run_key].nunique()) if run_key else 1
    if origin is not None:
        df = df[df["origin"] == origin]
    flows = df.groupby(["portfolio_from", "portfolio_to"], sort=False)["merchants"].sum() / max(
        n_runs, 1
    )
    flows = flows[flows > 0].reset_index()
    ordinary_from = flows.loc[~flows["portfolio_from"].isin(SPECIAL_PORTFOLIOS)]
    ordinary_to = flows.loc[~flows["portfolio_to"].isin(SPECIAL_PORTFOLIOS)]
    size = (
        ordinary_from.groupby("portfolio_from")["merchants"]
        .sum()
        .add(ordinary_to.groupby("portfolio_to")["merchants"].sum(), fill_value=0.0)
        .sort_values(ascending=False, kind="stable")
    )
    keep = set(size.index[: max(0, int(top))])

    def lump(s: pd.Series) -> pd.Series:
        return s.where(s.isin(keep) | s.isin(SPECIAL_PORTFOLIOS), "other portfolios")

    flows = (
        flows.assign(portfolio_from=lump(flows["portfolio_from"]), to=lump(flows["portfolio_to"]))
        .drop(columns="portfolio_to")
        .rename(columns={"to": "portfolio_to"})
        .groupby(["portfolio_from", "portfolio_to"], sort=False)["merchants"]
        .sum()
        .reset_index()
    )
    order = {name: k for k, name in enumerate(size.index)}
    for k, name in enumerate(SPECIAL_PORTFOLIOS):
        order[name] = len(size) + k
    flows["_a"] = flows["portfolio_from"].map(order)
    flows["_b"] = flows["portfolio_to"].map(order)
    flows = flows.sort_values(["_a", "_b"]).drop(columns=["_a", "_b"]).reset_index(drop=True)
    flows.attrs["n_runs"] = n_runs
    flows.attrs["order"] = [n for n in order if n in keep or n in SPECIAL_PORTFOLIOS]
    return flows


@_styled
def plot_alluvial(
    portfolios: pd.DataFrame,
    origin: str | None = "CN",
    top: int = 8,
    title: str | None = None,
    *,
    scenario: Hashable | None = None,
    labels: tuple[str, str] | None = None,
    abbreviate: bool = True,
) -> plt.Figure:
    """Two-column alluvial diagram: firms by platform portfolio at two snapshots.

    Left bars: portfolios at the first snapshot (``entered`` = firms that
    entered the market in between); right bars: portfolios at the second
    (``exited`` = firms that left the market). A ribbon's height is the mean
    number of firms (across replicates) that moved from its left portfolio to
    its right one; flat ribbons between same-named bars are firms that kept
    their portfolio. Bars are labelled with their mean firm counts.

    Args:
        portfolios: portfolios frame (``run_id``, ``scenario``, ``replicate``,
            ``origin``, ``portfolio_from``, ``portfolio_to``, ``merchants``);
            optional ``date_from``/``date_to`` columns label the two columns.
        origin: origin to draw (``None``: both together).
        top: number of largest portfolios kept; the rest are lumped as
            "other portfolios".
        title: figure title (default says origin and number of replicates).
        scenario: scenario to draw when the frame holds several.
        labels: headings of the two columns (default: the snapshot dates if
            the frame has them, else "first snapshot"/"second snapshot").
        abbreviate: short platform names in portfolio labels (explained in a
            footnote).

    Returns:
        The figure; ribbons are ``PathPatch`` artists with ``gid='ribbon'``,
        bars ``Rectangle`` artists with ``gid='node'``.
    """
    flows = portfolio_flows(portfolios, origin, top, scenario)
    n_runs = flows.attrs["n_runs"]
    order = flows.attrs["order"]
    left_tot = flows.groupby("portfolio_from")["merchants"].sum()
    right_tot = flows.groupby("portfolio_to")["merchants"].sum()
    left = [n for n in order if n in left_tot.index]
    right = [n for n in order if n in right_tot.index]
    total = float(flows["merchants"].sum())
    ordinary = [n for n in order if n not in SPECIAL_PORTFOLIOS]
    palette = {n: OKABE_ITO[k % len(OKABE_ITO)] for k, n in enumerate(ordinary)}
    palette.update(
        {
            "other portfolios": "#999999",
            "none": "#c8c8c8",
            "entered": "#dddddd",
            "exited": "#dddddd",
        }
    )

    fig, ax = plt.subplots(figsize=(9.5, 6.4), layout="constrained")
    ax.set_axis_off()
    bar_w = 0.06
    gap = 0.025 * total if total > 0 else 1.0

    def stack(names, totals):
        height = float(sum(totals[n] for n in names)) + gap * max(0, len(names) - 1)
        pos, y = {}, height
        for n in names:
            pos[n] = (y - totals[n], y)
            y -= totals[n] + gap
        return pos, height

    lpos, lh = stack(left, left_tot)
    rpos, rh = stack(right, right_tot)
    h = max(lh, rh, 1e-9)
    shift_l, shift_r = (h - lh) / 2.0, (h - rh) / 2.0
    lpos = {n: (a + shift_l, b + shift_l) for n, (a, b) in lpos.items()}
    rpos = {n: (a + shift_r, b + shift_r) for n, (a, b) in rpos.items()}

    for names, pos, x in ((left, lpos, 0.0), (right, rpos, 1.0 - bar_w)):
        for n in names:
            lo, hi = pos[n]
            rect = Rectangle((x, lo), bar_w, hi - lo, color=palette[n], ec="#333333", lw=0.5)
            rect.set_gid("node")
            ax.add_patch(rect)

    l_cursor = {n: lpos[n][1] for n in left}
    r_cursor = {n: rpos[n][1] for n in right}
    # left nodes send ribbons in right-node order, right nodes receive them in left-node order
    for _, row in flows.sort_values(
        "portfolio_from", key=lambda s: s.map(left.index), kind="stable"
    ).iterrows():
        a, b, v = row["portfolio_from"], row["portfolio_to"], float(row["merchants"])
        top0 = l_cursor[a]
        l_cursor[a] -= v
        top1 = r_cursor[b]
        r_cursor[b] -= v
        patch = PathPatch(
            _ribbon(bar_w, 1.0 - bar_w, top0, top0 - v, top1, top1 - v),
            fc=palette[a],
            ec="none",
            alpha=0.45,
            lw=0,
        )
        patch.set_gid("ribbon")
        ax.add_patch(patch)

    ax.set_xlim(-0.55, 1.55)
    ax.set_ylim(-0.02 * h, 1.02 * h)
    fig.canvas.draw()  # the axes size is needed to keep labels apart
    ax_h_in = ax.get_window_extent().height / fig.dpi
    sep = h * (8 * 1.35 / 72.0) / max(ax_h_in, 1e-6)

    def fmt(v: float) -> str:
        return f"{v:,.0f}" if v >= 10 else f"{v:.1f}"

    def name_of(n: str) -> str:
        return _abbrev_portfolio(n) if abbreviate else n

    for names, pos, totals, x_edge, x_text, ha in (
        (left, lpos, left_tot, 0.0, -0.02, "right"),
        (right, rpos, right_tot, 1.0, 1.02, "left"),
    ):
        centres = np.array([(pos[n][0] + pos[n][1]) / 2.0 for n in names])
        ys = _spread(centres, sep, 0.0, h)
        for n, yc, yl in zip(names, centres, ys, strict=True):
            ax.text(x_text, yl, f"{name_of(n)}  ({fmt(float(totals[n]))})", ha=ha, va="center")
            if abs(yl - yc) > 1e-9 * max(h, 1):
                ax.plot([x_edge, x_text], [yc, yl], color="#777777", lw=0.5)

    if labels is None:
        if {"date_from", "date_to"} <= set(portfolios.columns) and len(portfolios):
            labels = (
                str(pd.Timestamp(portfolios["date_from"].iloc[0]).date()),
                str(pd.Timestamp(portfolios["date_to"].iloc[0]).date()),
            )
        else:
            labels = ("first snapshot", "second snapshot")
    ax.text(bar_w / 2, 1.02 * h, labels[0], ha="center", va="bottom", fontweight="bold")
    ax.text(1.0 - bar_w / 2, 1.02 * h, labels[1], ha="center", va="bottom", fontweight="bold")
    who = f"{origin} firms" if origin is not None else "Firms"
    ax.set_title(
        title
        or f"{who} by platform portfolio: mean of {n_runs} replicate"
        f"{'s' if n_runs != 1 else ''} (model firms)",
        pad=18,
    )
    if abbreviate:
        note = ", ".join(
            f"{v} = {PLATFORM_LABELS[k]}"
            for k, v in PLATFORM_ABBREV.items()
            if v != PLATFORM_LABELS[k]
        )
        fig.supxlabel(note, fontsize=7, color="#444444")  # placed by the layout engine
    return fig


# ---------------------------------------------------------------------------
# outcome over two levers


def _grid_axis(values: pd.Series, bins) -> tuple[pd.Series, list, list[str]]:
    """Categorise ``values`` on distinct levels (``bins=None``) or on ``pandas.cut`` bins."""
    if bins is None:
        levels = sorted(pd.unique(values.dropna()))
        return values, levels, [_num(float(v)) for v in levels]
    if np.ndim(bins) == 0:  # equal-width edges from the sample range (pandas pads the lowest)
        lo, hi = float(values.min()), float(values.max())
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, int(bins) + 1)
    cut = pd.cut(values, bins, include_lowest=True)
    cats = list(cut.cat.categories)
    edges = [float(bins[0]), *(float(c.right) for c in cats)]
    labels = [f"{_num(edges[k])}–{_num(edges[k + 1])}" for k in range(len(cats))]
    return cut, cats, labels


@_styled
def plot_heatmap(
    summary: pd.DataFrame,
    x: str,
    y: str,
    outcome: str,
    agg: str = "mean",
    annotate: bool = True,
    *,
    bins: int | Sequence | tuple | None = None,
    cmap: str = "viridis",
    max_levels: int = 30,
    title: str | None = None,
) -> plt.Figure:
    """An outcome over two swept levers: one cell per (x, y) level, coloured by the aggregate.

    Args:
        summary: summary frame (one row per run).
        x, y: design columns (``param.<key>``) on the horizontal and vertical
            axis.
        outcome: outcome column.
        agg: aggregation over the runs of a cell (replicates, and points in a
            bin): any pandas groupby aggregation name, default ``"mean"``.
        annotate: write the aggregate in each cell.
        bins: ``None`` for a grid design (one cell per distinct value);
            for continuous samples (Latin hypercube, Sobol) the ``bins``
            argument of ``pandas.cut`` for both axes (an int or edges), or a
            pair ``(bins_x, bins_y)``.
        cmap: matplotlib colour map.
        max_levels: refuse more distinct levels than this without ``bins``.
        title: axes title (default names the outcome and the aggregation).

    Returns:
        The figure; its image has shape (levels of y, levels of x), empty
        cells are blank.
    """
    for c in (x, y, outcome):
        if c not in summary.columns:
            raise KeyError(f"column {c!r} not in the summary frame")
    bx, by_ = bins if isinstance(bins, tuple) and len(bins) == 2 else (bins, bins)
    for name, b in ((x, bx), (y, by_)):
        if b is None and summary[name].nunique() > max_levels:
            raise ValueError(
                f"{name} has {summary[name].nunique()} distinct values; pass bins=... "
                "(continuous samples such as a Latin hypercube need binning)"
            )
    xs, x_levels, x_labels = _grid_axis(summary[x], bx)
    ys, y_levels, y_labels = _grid_axis(summary[y], by_)
    values = stats._numeric(summary, [outcome])[outcome]
    frame = pd.DataFrame({"x": xs, "y": ys, "v": values})
    grid = frame.groupby(["y", "x"], observed=True)["v"].agg(agg).unstack("x")
    grid = grid.reindex(index=y_levels, columns=x_levels)
    arr = grid.to_numpy(dtype=float)

    fig, ax = plt.subplots(
        figsize=(max(5.0, 0.75 * len(x_levels) + 3.2), max(3.8, 0.5 * len(y_levels) + 2.4)),
        layout="constrained",
    )
    masked = np.ma.masked_invalid(arr)
    im = ax.imshow(masked, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest")
    ax.grid(False)
    crowded = sum(len(s) + 2 for s in x_labels) > 60
    ax.set_xticks(
        range(len(x_levels)),
        x_labels,
        rotation=30 if crowded else 0,
        ha="right" if crowded else "center",
    )
    ax.set_yticks(range(len(y_levels)), y_labels)
    ax.set_xlabel(_param_label(x))
    ax.set_ylabel(_param_label(y))
    cbar = fig.colorbar(im, ax=ax, shrink=0.9)
    cbar.set_label(outcome if agg == "mean" else f"{outcome} ({agg})")
    if annotate:
        cm = plt.get_cmap(cmap)
        for i in range(arr.shape[0]):
            for j in range(arr.shape[1]):
                v = arr[i, j]
                if not np.isfinite(v):
                    continue
                r, g, b, _ = cm(im.norm(v))
                lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
                txt = ax.text(
                    j,
                    i,
                    _num(v),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="black" if lum > 0.5 else "white",
                )
                txt.set_gid("cell_label")
    ax.set_title(title or f"{outcome}: {agg} over runs per cell")
    return fig


# ---------------------------------------------------------------------------
# scenario comparisons


@_styled
def plot_outcome_bars(
    ci_table: pd.DataFrame,
    outcome: str,
    by: str | Sequence[str] | None = None,
) -> plt.Figure:
    """Bar chart of group means with confidence-interval error bars.

    Args:
        ci_table: a ``stats.mean_ci`` table.
        outcome: the outcome to draw (a value of its ``outcome`` column).
        by: its group column(s) (default: those ``mean_ci`` was called with).

    Returns:
        The figure; one bar per group, labelled with its mean and ``n``.
    """
    t = ci_table[ci_table["outcome"] == outcome].reset_index(drop=True)
    if t.empty:
        raise ValueError(
            f"outcome {outcome!r} not in the table; present: {list(pd.unique(ci_table['outcome']))}"
        )
    by = _group_columns(ci_table, stats.CI_COLUMNS, by)
    labels = _group_labels(t, by)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(t) + 2.0), 4.2), layout="constrained")
    mean = t["mean"].to_numpy(dtype=float)
    lo = np.nan_to_num(mean - t["ci_low"].to_numpy(dtype=float), nan=0.0)
    hi = np.nan_to_num(t["ci_high"].to_numpy(dtype=float) - mean, nan=0.0)
    pos = np.arange(len(t))
    ax.bar(pos, mean, width=0.6, color="#9ab8d8", edgecolor="#333333", lw=0.6, zorder=2)
    ax.errorbar(pos, mean, yerr=[lo, hi], fmt="none", ecolor="black", capsize=4, lw=1, zorder=3)
    for k in range(len(t)):
        top = mean[k] + hi[k] if mean[k] >= 0 else mean[k] - lo[k]
        ax.annotate(
            _num(mean[k]),
            (pos[k], top),
            xytext=(0, 3 if mean[k] >= 0 else -3),
            textcoords="offset points",
            ha="center",
            va="bottom" if mean[k] >= 0 else "top",
            fontsize=8,
        )
    ticks = [f"{lab}\n(n = {n})" for lab, n in zip(labels, t["n"], strict=True)]
    long = max(len(s) for s in labels) > 12
    ax.set_xticks(pos, ticks, rotation=30 if long else 0, ha="right" if long else "center")
    ax.grid(axis="x", visible=False)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel(outcome)
    ax.set_xlabel(" / ".join(by) if by else "")
    level = ci_table.attrs.get("level", 0.95)
    ax.set_title(f"{outcome}\nmean across replications, error bars: {_ci_level_text(level)}")
    ax.margins(y=0.12)
    return fig


@_styled
def plot_paired_differences(
    paired_table: pd.DataFrame,
    outcomes: Sequence[str] | None = None,
) -> plt.Figure:
    """Forest plot of paired (common-random-numbers) differences from the baseline.

    One panel per outcome, one row per compared group: the mean paired
    difference with its CI (black), behind it the unpaired Welch CI from the
    same runs (grey) to show what pairing saves, and on the right the numbers
    (mean difference, CI, p-value, pairs).

    Args:
        paired_table: a ``stats.paired_differences`` table.
        outcomes: outcomes to draw (default: all in the table).

    Returns:
        The figure (one axes per outcome).
    """
    outs = list(pd.unique(paired_table["outcome"])) if outcomes is None else list(outcomes)
    if not outs:
        raise ValueError("paired table is empty")
    by = _group_columns(paired_table, stats.PAIRED_COLUMNS, None)
    rows = [paired_table[paired_table["outcome"] == o].reset_index(drop=True) for o in outs]
    heights = [max(1, len(r)) * 0.55 + 0.9 for r in rows]
    fig, axes = plt.subplots(
        len(outs),
        1,
        figsize=(9.0, sum(heights) + 0.6),
        squeeze=False,
        height_ratios=heights,
        layout="constrained",
    )
    level = paired_table.attrs.get("level", 0.95)
    for ax, o, t in zip(axes[:, 0], outs, rows, strict=True):
        ypos = np.arange(len(t))[::-1]
        groups = _group_labels(t, by)
        labels = [f"{g} − {_level_label(b)}" for g, b in zip(groups, t["baseline"], strict=True)]
        m = t["mean_diff"].to_numpy(dtype=float)
        wh = t["welch_half_width"].to_numpy(dtype=float)
        ph = t["half_width"].to_numpy(dtype=float)
        ok_w = np.isfinite(wh)
        ax.hlines(
            ypos[ok_w], (m - wh)[ok_w], (m + wh)[ok_w], color="#bbbbbb", lw=6, zorder=1
        ).set_gid("welch_ci")
        ok_p = np.isfinite(ph)
        ax.hlines(ypos[ok_p], (m - ph)[ok_p], (m + ph)[ok_p], color="black", lw=1.6, zorder=2)
        ax.plot(m, ypos, "o", color="black", ms=5, zorder=3)
        ax.axvline(0, color=CRACKDOWN_COLOR, lw=0.8, ls="--", zorder=0)
        ax.set_yticks(ypos, labels)
        ax.set_ylim(-0.7, len(t) - 0.3)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(f"difference in {o} (group − baseline)")
        for y, row in zip(ypos, t.itertuples(index=False), strict=True):
            p = row.p_value
            ptxt = "p -" if not np.isfinite(p) else ("p < 0.001" if p < 0.001 else f"p = {p:.3f}")
            ax.annotate(
                f"{_num(row.mean_diff)} [{_num(row.ci_low)}, {_num(row.ci_high)}]"
                f"   {ptxt}   pairs {row.n_pairs}",
                xy=(1.0, y),
                xycoords=("axes fraction", "data"),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                ha="left",
                fontsize=8,
            )
        ax.set_title(o, loc="left")
    handles = [
        Line2D([], [], color="black", marker="o", lw=1.6, label=f"paired {_ci_level_text(level)}"),
        Line2D([], [], color="#bbbbbb", lw=6, label="unpaired (Welch) CI, same runs"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
    fig.suptitle("Paired differences from the baseline (common random numbers)")
    return fig


# ---------------------------------------------------------------------------
# replication adequacy


@_styled
def plot_replication_adequacy(
    adequacy_table: pd.DataFrame,
    relative: bool = False,
) -> plt.Figure:
    """CI half-width against the number of replications (log-log), one line per group.

    Args:
        adequacy_table: a ``stats.replication_adequacy`` table.
        relative: plot ``rel_half_width`` (fraction of |mean|) instead of the
            absolute half-width.

    Returns:
        The figure (one axes per outcome), with a dashed ``1/sqrt(n)``
        reference line anchored at each panel's first point. Zero or NaN
        half-widths (a constant outcome, n < 2) cannot sit on a log axis and
        are left out.
    """
    col = "rel_half_width" if relative else "half_width"
    outs = list(pd.unique(adequacy_table["outcome"]))
    if not outs:
        raise ValueError("adequacy table is empty")
    by = _group_columns(adequacy_table, stats.CI_COLUMNS, None)
    fig, axes = plt.subplots(
        1,
        len(outs),
        figsize=(4.6 * len(outs) + 1.8, 3.8),
        squeeze=False,
        layout="constrained",
    )
    markers = ("o", "s", "^", "D", "v", "P", "X", "*")
    handles: dict[str, Line2D] = {}
    for ax, o in zip(axes[0], outs, strict=True):
        t = adequacy_table[adequacy_table["outcome"] == o]
        labels = pd.Series(_group_labels(t, by), index=t.index)
        first = None
        ns_all: set[int] = set()
        ys_all: list[float] = []
        for k, lab in enumerate(pd.unique(labels)):
            g = t[labels == lab].sort_values("n")
            v = g[col].to_numpy(dtype=float)
            n = g["n"].to_numpy(dtype=float)
            ok = np.isfinite(v) & (v > 0)
            if not ok.any():
                continue
            (line,) = ax.plot(
                n[ok],
                v[ok],
                color=OKABE_ITO[k % len(OKABE_ITO)],
                ls=STYLES[k % len(STYLES)],
                marker=markers[k % len(markers)],
                ms=4,
                lw=1.4,
                label=lab,
            )
            handles.setdefault(lab, line)
            ns_all.update(int(x) for x in n[ok])
            ys_all.extend(v[ok].tolist())
            if first is None:
                first = (n[ok][0], v[ok][0])
        ax.set_xscale("log")
        ax.set_yscale("log")
        if first is not None:
            nn = np.array(sorted(ns_all), dtype=float)
            ref = first[1] * np.sqrt(first[0] / nn)
            ax.plot(nn, ref, color="#777777", ls="--", lw=0.9, label="∝ 1/√n")
            ax.xaxis.set_major_locator(FixedLocator(nn))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("replications n")
        ax.set_ylabel("CI half-width / |mean|" if relative else "CI half-width (outcome units)")
        if ys_all:
            ticks = _log_ticks(min(ys_all), max(ys_all))
            ax.yaxis.set_major_locator(FixedLocator(ticks))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _num(v)))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(o)
    handles["∝ 1/√n"] = Line2D([], [], color="#777777", ls="--", lw=0.9, label="∝ 1/√n")
    fig.legend(
        handles=list(handles.values()),
        title=" / ".join(by) if by else None,
        loc="outside right upper",
        frameon=False,
    )
    level = adequacy_table.attrs.get("level", 0.95)
    fig.suptitle(f"Replication adequacy: {_ci_level_text(level)} half-width vs replications")
    return fig


__all__ = [
    "plot_alluvial",
    "plot_grey_prevalence",
    "plot_heatmap",
    "plot_outcome_bars",
    "plot_paired_differences",
    "plot_replication_adequacy",
    "plot_shares_ci",
    "portfolio_flows",
]
