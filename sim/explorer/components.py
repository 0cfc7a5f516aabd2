"""Live components of the explorer page: matplotlib figures drawn from the recorder.

Each ``*_figure`` function is pure (market in, :class:`matplotlib.figure.Figure` out)
and draws only the recorded weeks (spin-up excluded); the solara components wrap
them. Figures are built with :class:`Figure` directly (no pyplot state), so no figure
outlives its render.
"""

from __future__ import annotations

import html
import math

import numpy as np
import solara
from matplotlib.figure import Figure

from sim.analysis.figures import PLATFORM_COLORS
from sim.core.metrics import ORIGIN_NAMES
from sim.core.model import MarketModel

from .model import ExplorerModel, headline, recorded

FLOW_WEEKS = 12  # migration view: moves of the last this many weeks
PLOT_SIZE = (6.4, 3.4)  # inches; fixed margins (a layout engine doubles the draw time)


def _color(p: str) -> str:
    return PLATFORM_COLORS.get(p, "#777777")


def _dates(market: MarketModel) -> np.ndarray:
    first = market.spinup
    n = max(market.t + 1 - first, 0)
    return np.array(market.calendar.dates()[first : first + n], dtype="datetime64[D]")


def _time_axis(ax, market: MarketModel) -> None:
    """Whole recorded horizon on the x axis, so the lines grow week by week."""
    dates = market.calendar.dates()
    ax.set_xlim(np.datetime64(dates[market.spinup], "D"), np.datetime64(dates[-1], "D"))
    ax.tick_params(labelsize=8)
    for label in ax.get_xticklabels():
        label.set_rotation(30)


def _crackdown(ax, market: MarketModel) -> None:
    enf = market.cfg.policy.enforcement.get("amazon")
    if enf is not None and enf.audit_probability_per_week > 0:
        ax.axvline(np.datetime64(enf.start_date), color="#b00", lw=0.8, ls=":", zorder=0)


def shares_figure(market: MarketModel) -> Figure:
    """Share of each origin's live firms listed on each platform, per week."""
    fig = Figure(figsize=(PLOT_SIZE[0], PLOT_SIZE[1] * 1.15))
    fig.subplots_adjust(left=0.1, right=0.98, top=0.92, bottom=0.22, wspace=0.06)
    axes = fig.subplots(1, 2, sharey=True)
    dates = _dates(market)
    listed = recorded(market, "listed_merchants")
    alive = recorded(market, "alive_merchants")
    for o, ax in enumerate(axes):
        for p, name in enumerate(market.platform_names):
            den = alive[:, p, o]
            share = np.divide(listed[:, p, o], den, out=np.zeros_like(den), where=den > 0)
            ax.plot(dates, share, color=_color(name), lw=1.4, label=name)
        _crackdown(ax, market)
        ax.set_title(f"{ORIGIN_NAMES[o]} firms", fontsize=10)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        _time_axis(ax, market)
    axes[0].set_ylabel("share listed on platform")
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc="lower center",
        ncol=6,
        fontsize=8,
        frameon=False,
    )
    return fig


def grey_figure(market: MarketModel) -> Figure:
    """Share of each platform's active stores that bought fake reviews, per week."""
    fig = Figure(figsize=PLOT_SIZE)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.96, bottom=0.15)
    ax = fig.subplots()
    dates = _dates(market)
    grey = recorded(market, "grey_stores").sum(axis=2)
    active = recorded(market, "active_stores").sum(axis=2)
    for p, name in enumerate(market.platform_names):
        den = active[:, p]
        share = np.divide(grey[:, p], den, out=np.zeros_like(den), where=den > 0)
        ax.plot(dates, share, color=_color(name), lw=1.4, label=name)
    _crackdown(ax, market)
    ax.set_ylabel("grey share of active stores")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    _time_axis(ax, market)
    ax.legend(fontsize=7, ncol=3, frameon=False)
    return fig


def flow_matrix(market: MarketModel, weeks: int = FLOW_WEEKS) -> np.ndarray:
    """Firms moving ``from`` (rows) ``to`` (columns) in the last ``weeks`` recorded weeks.

    Rows and columns: the platforms in configuration order, then ``none`` (entry or
    exit). Both origins; weighted as in ``flows.parquet`` (docs/outputs.md).
    """
    P = len(market.platform_names)
    out = np.zeros((P + 1, P + 1))
    chunks = [c.reshape(-1, 6) for c in market.flow_chunks if len(c)]
    if not chunks:
        return out
    arr = np.concatenate(chunks)
    lo = max(market.t + 1 - weeks, market.spinup)
    arr = arr[arr[:, 0] >= lo]
    np.add.at(out, (arr[:, 2].astype(np.int64), arr[:, 3].astype(np.int64)), arr[:, 5])
    return out


def flows_figure(market: MarketModel, weeks: int = FLOW_WEEKS) -> Figure:
    """Heat map of moves between platforms in the last ``weeks`` weeks (model firms)."""
    names = [*market.platform_names, "none"]
    m = flow_matrix(market, weeks)
    fig = Figure(figsize=PLOT_SIZE)
    fig.subplots_adjust(left=0.2, right=0.98, top=0.91, bottom=0.27)
    ax = fig.subplots()
    ax.imshow(np.log1p(m), cmap="Oranges", aspect="auto")
    ax.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("to (none = exit)")
    ax.set_ylabel("from (none = entry / join)")
    ax.set_title(f"moves between platforms, last {weeks} weeks (model firms)", fontsize=10)
    top = m.max() if m.size else 0
    for i in range(len(names)):
        for j in range(len(names)):
            if m[i, j] > 0:
                dark = math.log1p(m[i, j]) > 0.6 * math.log1p(top)
                ax.text(
                    j,
                    i,
                    f"{m[i, j]:.0f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
    return fig


def _fmt(value: float, money: bool = False) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if money:
        return f"${value / 1e6:,.1f}m"
    return f"{value:,.0f}"


HEADLINE_ROWS = (
    ("week", "week (from Jan 2020)", False),
    ("date", "date", False),
    ("stores_suspended", "stores suspended (total)", False),
    ("stores_banned", "stores banned (total)", False),
    ("honest_stores_penalised", "honest stores penalised (total)", False),
    ("frozen_funds_usd_real", "funds frozen now (real-world USD)", True),
    ("own_web_stores_CN", "own web stores, CN firms", False),
    ("own_web_stores", "own web stores, all firms", False),
    ("cn_share_of_amazon_sellers", "CN share of Amazon sellers", False),
)


def headline_html(market: MarketModel) -> str:
    """The headline numbers as an HTML table (ids ``h-<key>`` for tests and scripts)."""
    h = headline(market)
    rows = []
    for key, label, money in HEADLINE_ROWS:
        v = h[key]
        if key == "cn_share_of_amazon_sellers":
            text = "-" if math.isnan(v) else f"{v:.1%}"
        elif isinstance(v, str):
            text = v
        else:
            text = _fmt(v, money)
        rows.append(
            f"<tr><td>{html.escape(label)}</td>"
            f'<td id="h-{key}" style="text-align:right;padding-left:1.5em">'
            f"{html.escape(text)}</td></tr>"
        )
    return (
        '<table class="explorer-headline" style="font-size:13px;line-height:1.15">'
        + "".join(rows)
        + "</table>"
    )


def _plot(fig: Figure, name: str, market: MarketModel) -> None:
    weeks = max(market.t + 1 - market.spinup, 0)
    with solara.Column(classes=[f"explorer-{name}"]):
        solara.FigureMatplotlib(fig, format="png", dpi=80)
        solara.Text(f"{name}: {weeks} weeks shown", classes=[f"explorer-{name}-caption"])


# The page components are plain functions of the model: SolaraViz wraps each in a
# component that re-renders after every step (mesa's update counter).


def Headline(model: ExplorerModel):
    """Config message (if the last Reset was rejected) and the headline table."""
    with solara.Card("Headline numbers"):
        if model.error:
            solara.Error(
                f"Rejected: {model.error}. The model shown is the previous one, unchanged.",
                classes=["explorer-error"],
            )
        solara.HTML(tag="div", unsafe_innerHTML=headline_html(model.market))
        solara.Text(
            "config: " + " ".join(model.overrides),
            classes=["explorer-config"],
            style={"font-size": "11px", "color": "#666"},
        )


def SellerShares(model: ExplorerModel):
    """Platform seller shares over time by origin."""
    with solara.Card("Platform reach by origin"):
        _plot(shares_figure(model.market), "shares", model.market)


def Migration(model: ExplorerModel):
    """Moves between platforms in the last weeks."""
    with solara.Card("Migration between platforms"):
        _plot(flows_figure(model.market), "flows", model.market)


def GreyPrevalence(model: ExplorerModel):
    """Grey-practice prevalence by platform."""
    with solara.Card("Fake-review prevalence by platform"):
        _plot(grey_figure(model.market), "grey", model.market)
