"""Live components of the explorer page: matplotlib figures drawn from the recorder.

Each ``*_figure`` function is pure (market(s) in, :class:`matplotlib.figure.Figure`
out) and draws only the recorded weeks (spin-up excluded); the solara components wrap
them. Figures are built with :class:`Figure` directly (no pyplot state), so no figure
outlives its render. :func:`difference_figure` draws what-if minus baseline; the other
figures draw the what-if. :func:`LeverPanel` is the page's control panel (sidebar).
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import solara
from matplotlib.figure import Figure
from mesa.visualization.utils import force_update

from sim.analysis.figures import PLATFORM_COLORS
from sim.core.metrics import ORIGIN_NAMES
from sim.core.model import MarketModel
from sim.engine.provenance import config_hash

from .model import (
    BASELINE_NOTES,
    BASELINES,
    DEFAULTS,
    LEVER,
    LEVERS,
    ExplorerModel,
    Lever,
    Session,
    group_options,
    headline,
    moved,
    preset_values,
    recorded,
)

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


def _crackdown(ax, market: MarketModel, color: str = "#b00") -> None:
    enf = market.cfg.policy.enforcement.get("amazon")
    if enf is not None and enf.audit_probability_per_week > 0:
        ax.axvline(np.datetime64(enf.start_date), color=color, lw=0.8, ls=":", zorder=0)


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


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def cn_share_of_amazon(market: MarketModel) -> np.ndarray:
    """CN firms' share of the firms listed on Amazon, per recorded week (NaN: none listed)."""
    a = recorded(market, "listed_merchants")[:, market.platform_names.index("amazon")]
    return _ratio(a[:, 0], a.sum(axis=1))


def grey_share(market: MarketModel) -> np.ndarray:
    """Grey share of each platform's active stores, per recorded week: (weeks, platforms)."""
    return _ratio(
        recorded(market, "grey_stores").sum(axis=2), recorded(market, "active_stores").sum(axis=2)
    )


def cumulative(market: MarketModel, name: str) -> np.ndarray:
    """Running total of metric ``name`` (all platforms and origins) over the recorded weeks."""
    return np.cumsum(recorded(market, name).sum(axis=(1, 2)))


def differences(whatif: MarketModel, baseline: MarketModel) -> dict[str, np.ndarray]:
    """What-if minus baseline, per recorded week, of the series the difference view draws.

    ``cn_share_amazon_pp`` and ``grey_share_pp`` (weeks, platforms) in percentage
    points; ``stores_banned`` and ``stores_suspended`` so far, in model stores.
    """
    n = min(whatif.t, baseline.t) + 1 - whatif.spinup
    n = max(n, 0)
    return {
        "cn_share_amazon_pp": 100 * (cn_share_of_amazon(whatif) - cn_share_of_amazon(baseline))[:n],
        "grey_share_pp": 100 * (grey_share(whatif) - grey_share(baseline))[:n],
        "stores_banned": (cumulative(whatif, "new_bans") - cumulative(baseline, "new_bans"))[:n],
        "stores_suspended": (
            cumulative(whatif, "new_suspensions") - cumulative(baseline, "new_suspensions")
        )[:n],
    }


def _zero_line(ax) -> None:
    ax.axhline(0, color="black", lw=0.8, zorder=1)


def _effect_axes(ax, whatif: MarketModel, baseline: MarketModel, unit: str) -> None:
    _zero_line(ax)
    _crackdown(ax, whatif)
    _crackdown(ax, baseline, color="#888888")
    ax.set_ylabel(f"difference ({unit})", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    _time_axis(ax, whatif)


def effect_sellers_figure(whatif: MarketModel, baseline: MarketModel) -> Figure:
    """What-if minus baseline: CN share of Amazon sellers (pp), stores banned / suspended."""
    fig = Figure(figsize=(PLOT_SIZE[0], PLOT_SIZE[1] * 1.1))
    fig.subplots_adjust(left=0.12, right=0.8, top=0.93, bottom=0.14, hspace=0.45)
    axes = fig.subplots(2, 1, sharex=True)
    d = differences(whatif, baseline)
    dates = _dates(whatif)[: len(d["stores_banned"])]
    axes[0].plot(dates, d["cn_share_amazon_pp"], color="#c0392b", lw=1.4, label="CN share")
    axes[0].set_title("CN share of Amazon sellers, percentage points", fontsize=9)
    axes[1].plot(dates, d["stores_banned"], color="#7b241c", lw=1.4, label="banned")
    axes[1].plot(dates, d["stores_suspended"], color="#7b241c", lw=1, ls="--", label="suspended")
    axes[1].set_title("stores banned / suspended so far, model stores", fontsize=9)
    for ax, unit in zip(axes, ("pp", "stores"), strict=True):
        _effect_axes(ax, whatif, baseline, unit)
    return fig


def effect_grey_figure(whatif: MarketModel, baseline: MarketModel) -> Figure:
    """What-if minus baseline: grey share of active stores by platform (pp)."""
    fig = Figure(figsize=PLOT_SIZE)
    fig.subplots_adjust(left=0.12, right=0.8, top=0.92, bottom=0.15)
    ax = fig.subplots()
    d = differences(whatif, baseline)
    dates = _dates(whatif)[: len(d["stores_banned"])]
    for p, name in enumerate(whatif.platform_names):
        ax.plot(dates, d["grey_share_pp"][:, p], color=_color(name), lw=1.2, label=name)
    ax.set_title("grey share of active stores (fake reviews), percentage points", fontsize=9)
    _effect_axes(ax, whatif, baseline, "pp")
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


def _cell(key: str, v: Any, money: bool) -> str:
    if key == "cn_share_of_amazon_sellers":
        return "-" if math.isnan(v) else f"{v:.1%}"
    if isinstance(v, str):
        return v
    return _fmt(v, money)


def _diff_cell(key: str, a: Any, b: Any, money: bool) -> str:
    """What-if minus baseline, signed ('0' when equal)."""
    if isinstance(a, str) or isinstance(b, str):
        return ""
    d = a - b
    if math.isnan(d):
        return "-"
    if key == "cn_share_of_amazon_sellers":
        return "0 pp" if d == 0 else f"{100 * d:+.1f} pp"
    if d == 0:
        return "0"
    if money:
        return ("+" if d > 0 else "-") + f"${abs(d) / 1e6:,.1f}m"
    return f"{d:+,.0f}"


_TD = 'style="text-align:right;padding-left:1.2em"'


def headline_html(market: MarketModel, baseline: MarketModel | None = None) -> str:
    """The headline numbers as an HTML table (ids ``h-<key>`` for tests and scripts).

    With ``baseline``: two more columns, the baseline (``b-<key>``) and what-if minus
    baseline (``d-<key>``).
    """
    h = headline(market)
    b = headline(baseline) if baseline is not None else None
    rows = []
    if b is not None:
        rows.append(
            f"<tr><th></th><th {_TD}>what-if</th><th {_TD}>baseline</th>"
            f"<th {_TD}>difference</th></tr>"
        )
    for key, label, money in HEADLINE_ROWS:
        cells = f'<td id="h-{key}" {_TD}>{html.escape(_cell(key, h[key], money))}</td>'
        if b is not None:
            cells += f'<td id="b-{key}" {_TD}>{html.escape(_cell(key, b[key], money))}</td>'
            diff = _diff_cell(key, h[key], b[key], money)
            cells += f'<td id="d-{key}" {_TD}><b>{html.escape(diff)}</b></td>'
        rows.append(f"<tr><td>{html.escape(label)}</td>{cells}</tr>")
    return (
        '<table class="explorer-headline" style="font-size:12px;line-height:1.1">'
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


def _small(text: str, classes: list[str] | None = None) -> None:
    """A line of small grey text (a block of its own)."""
    solara.HTML(
        tag="div",
        unsafe_innerHTML=html.escape(text),
        classes=classes or [],
        style="font-size:11px;color:#666;line-height:1.3;margin-top:4px",
    )


def Headline(model: ExplorerModel):
    """Config message (if the last Reset was rejected) and the what-if / baseline table."""
    with solara.Card("Headline numbers"):
        if model.error:
            solara.Error(
                f"Rejected: {model.error}. The model shown is the previous one, unchanged.",
                classes=["explorer-error"],
            )
        if model.same_config:
            solara.HTML(
                tag="div",
                unsafe_innerHTML="What-if and baseline are the same config, so every difference "
                "is zero: move a lever and press Reset, or compare against policy=none.",
                classes=["explorer-same-config"],
                style="font-size:12px;color:#b35900;line-height:1.3;margin-bottom:4px",
            )
        solara.HTML(tag="div", unsafe_innerHTML=headline_html(model.market, model.baseline))
        _small(BASELINE_NOTES[model.compare_against], ["explorer-baseline-note"])
        _small("what-if: " + " ".join(model.overrides), ["explorer-config"])
        _small("baseline: " + " ".join(model.baseline_overrides), ["explorer-baseline-config"])


def EffectSellers(model: ExplorerModel):
    """Difference view: CN share of Amazon sellers, stores banned and suspended."""
    with solara.Card("Effect on sellers: what-if minus baseline"):
        _plot(effect_sellers_figure(model.market, model.baseline), "effect", model.market)


def EffectGrey(model: ExplorerModel):
    """Difference view: fake-review (grey) prevalence by platform."""
    with solara.Card("Effect on fake reviews: what-if minus baseline"):
        _plot(effect_grey_figure(model.market, model.baseline), "effect-grey", model.market)


@solara.component
def RunToDate(model: solara.Reactive[ExplorerModel]):
    """'Run to date' (sidebar): step both markets to the week that contains a date."""
    date = solara.use_reactive("2021-12-27")
    # (model, message, is_error): a message belongs to the model it was about
    message = solara.use_reactive((None, "", False))
    current = model.value

    def run() -> None:
        m = model.value
        try:
            n = m.run_to(date.value)
        except ValueError as exc:
            message.set((m, str(exc), True))
        else:
            h = headline(m.market)
            text = f"Ran {n} weeks to {date.value.strip()}: now at week {h['week']} ({h['date']})."
            message.set((m, text, False))
        force_update()

    with solara.Card("Run to date", classes=["explorer-runto"]):
        solara.InputText(
            "Run both to the week of (YYYY-MM-DD)", value=date, continuous_update=False
        )
        solara.Button("Run to date", on_click=run, color="primary")
        owner, text, bad = message.value
        if owner is current and text:
            if bad:
                solara.Error(text, dense=True, classes=["explorer-runto-error"])
            else:
                solara.Success(text, dense=True, classes=["explorer-runto-done"])
        _small(
            "Steps the what-if and its baseline together to the week that contains the "
            "date; an earlier date starts both again (the same configs give the same weeks)."
        )


_COPY_JS = (
    "var t=document.getElementById('{id}').innerText;"
    "var b=this;function done(){{b.innerText='Copied';"
    "setTimeout(function(){{b.innerText='Copy'}},1500)}}"
    "if(navigator.clipboard){{navigator.clipboard.writeText(t).then(done)}}"
    "else{{var r=document.createRange();"
    "r.selectNodeContents(document.getElementById('{id}'));"
    "var s=getSelection();s.removeAllRanges();s.addRange(r);"
    "document.execCommand('copy');done()}}"
)
_PRE = (
    "margin:1px 0 4px 0;padding:3px 5px;background:#f4f4f4;font-size:11px;"
    "white-space:pre;overflow-x:auto"
)
_HASH = (
    "display:block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;"
    "font-size:10px;padding:0;background:none"
)


def _copyable(id_: str, text: str) -> str:
    js = html.escape(_COPY_JS.format(id=id_), quote=True)
    return (
        '<div style="display:flex;align-items:flex-start;gap:6px">'
        f'<pre id="{id_}" style="{_PRE};flex:1;min-width:0">{html.escape(text)}</pre>'
        f'<button class="explorer-copy" data-for="{id_}" onclick="{js}" '
        'style="font-size:11px;padding:2px 6px;border:1px solid #999;border-radius:3px">'
        "Copy</button></div>"
    )


def reproduce_html(model: ExplorerModel) -> str:
    """The commands that reproduce the page's two runs, each with a Copy button."""
    c = model.commands()
    snippet = (
        "from sim.engine.compose import compose_config\n"
        f"whatif = {c['whatif_python']}\n"
        f"baseline = {c['baseline_python']}"
    )
    return (
        '<div style="font-size:12px">'
        "<div>What-if, from a shell in the repository:</div>"
        + _copyable("cmd-whatif-cli", c["whatif_cli"])
        + "<div>Baseline (same seed and replicate):</div>"
        + _copyable("cmd-baseline-cli", c["baseline_cli"])
        + "<div>Both configs in Python (then sim.engine.runner.run(whatif)):</div>"
        + _copyable("cmd-python", snippet)
        + '<div style="font-size:10px;color:#666">config SHA-256 (config_hash in '
        "provenance.json), what-if then baseline:"
        f'<code id="hash-whatif" style="{_HASH}">{config_hash(model.market.cfg)}</code>'
        f'<code id="hash-baseline" style="{_HASH}">{config_hash(model.baseline.cfg)}</code>'
        "</div></div>"
    )


def Reproduce(model: ExplorerModel):
    """'Copy as command': the ``python -m sim`` lines and ``compose_config`` calls."""
    with solara.Card("Copy as command"):
        solara.HTML(tag="div", unsafe_innerHTML=reproduce_html(model), classes=["explorer-cmd"])
        _small(
            "python -m sim runs all of 2020-2025 into results/runs/; the weeks shown here "
            "are its first weeks (the run is deterministic)."
        )


def SellerShares(model: ExplorerModel):
    """Platform seller shares over time by origin (the what-if)."""
    with solara.Card("What-if: platform reach by origin"):
        _plot(shares_figure(model.market), "shares", model.market)


def Migration(model: ExplorerModel):
    """Moves between platforms in the last weeks (the what-if)."""
    with solara.Card("What-if: migration between platforms"):
        _plot(flows_figure(model.market), "flows", model.market)


def GreyPrevalence(model: ExplorerModel):
    """Grey-practice prevalence by platform (the what-if)."""
    with solara.Card("What-if: fake-review prevalence by platform"):
        _plot(grey_figure(model.market), "grey", model.market)


# --- the control panel (sidebar) ---------------------------------------------------


def display(lever: Lever, value: Any) -> str:
    """A lever value as the panel shows it (``0.05``, ``310,000``, ``2021-04-26``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if lever.kind == "SliderInt" or (float(value).is_integer() and abs(value) >= 1000):
        return f"{round(value):,}"
    return f"{value:g}"


def lever_caption(lever: Lever, values: dict[str, Any]) -> str:
    """The value a lever puts in force, and whether it was moved or is the preset's.

    Levers left at their defaults keep the preset's own value (see
    :func:`sim.explorer.model.overrides`), which the caption shows.
    """
    value = values[lever.name]
    if lever.always:
        return display(lever, value)
    if lever.name in moved(**values):
        return f"{display(lever, value)} (moved)"
    policy = values.get("policy", DEFAULTS["policy"])
    try:
        preset = preset_values(str(policy))[lever.name]
    except Exception:  # an unknown preset: the Reset will say so
        return display(lever, value)
    if str(display(lever, preset)) == str(display(lever, value)):
        return f"{display(lever, value)} (preset)"
    return f"{display(lever, preset)} ({policy} preset; control not moved)"


def _snapped(lever: Lever, current: Any, new: Any) -> bool:
    """True when ``new`` is only a slider's rounding of ``current`` to its step grid.

    A Vuetify slider reports its value rounded to the grid as soon as it is drawn
    (the calibrated audit probability 0.006056 becomes 0.005): that is no lever move.
    """
    if not lever.kind.startswith("Slider") or lever.step is None or lever.lo is None:
        return False
    try:
        cur, val = float(current), float(new)
    except (TypeError, ValueError):
        return False
    grid = lever.lo + round((cur - lever.lo) / lever.step) * lever.step
    on_grid = math.isclose(grid, cur, rel_tol=1e-9, abs_tol=1e-12)
    return not on_grid and math.isclose(val, grid, rel_tol=1e-9, abs_tol=1e-12)


@solara.component
def LeverPanel(session: Session):
    """The what-if levers with their values shown, applied on Reset (``session.controls``)."""
    values = solara.use_reactive(dict(session.controls))

    def setter(name: str):
        def set_value(v: Any) -> None:
            if name in LEVER and _snapped(LEVER[name], values.value[name], v):
                return  # the slider rounding an off-grid preset value: not a move
            new = {**values.value, name: v}
            values.set(new)
            session.controls = new

        return set_value

    v = values.value
    labels = {key: f"{label}" for key, label in BASELINES.items()}
    by_label = {label: key for key, label in labels.items()}
    with solara.Card("What-if levers", classes=["explorer-levers"]):
        _small("Applied on Reset (Controls, above). Each slider's value follows its name.")
        with solara.Div(classes=["lever-compare_against"]):
            solara.Select(
                "Compare against (baseline)",
                value=labels[v.get("compare_against", "preset")],
                values=list(labels.values()),
                on_value=lambda label: setter("compare_against")(by_label[label]),
            )
        for lever in LEVERS:
            caption = lever_caption(lever, v)
            with solara.Div(classes=[f"lever-{lever.name}"]):
                if lever.kind.startswith("Slider"):
                    slider = solara.SliderFloat if lever.kind == "SliderFloat" else solara.SliderInt
                    solara.Text(
                        f"{lever.label}: {caption}",
                        classes=["lever-label"],
                        style={"font-size": "13px"},
                    )
                    slider(
                        "",
                        value=v[lever.name],
                        min=lever.lo,
                        max=lever.hi,
                        step=lever.step,
                        on_value=setter(lever.name),
                        thumb_label=False,
                    )
                elif lever.kind == "Select":
                    solara.Select(
                        lever.label,
                        value=v[lever.name],
                        values=list(lever.values or group_options("policy")),
                        on_value=setter(lever.name),
                    )
                else:
                    solara.InputText(
                        lever.label,
                        value=str(v[lever.name]),
                        on_value=setter(lever.name),
                        continuous_update=False,
                    )
                if not lever.kind.startswith("Slider") and "preset;" in caption:
                    _small(f"in force: {caption}", ["lever-label"])
