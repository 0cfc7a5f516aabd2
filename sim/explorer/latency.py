"""Step latency of the explorer page, server side: ``python -m sim.explorer.latency``.

Times what one click on Step costs the server at a given population: the week of
both markets (the what-if and its baseline) plus drawing what the open tab shows, as
``solara.FigureMatplotlib`` does (PNG at 80 dpi): the compare tab (Page 0: headline
table of both runs, the two difference figures, the commands) or the what-if tab
(Page 1: three figures). Prints the median and 90th percentile over the weeks
measured (default: 5,000 firms, weeks 60-100, i.e. across the 2021 crackdown start).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

from matplotlib.figure import Figure

from . import components as C
from .model import ExplorerModel


def _png(fig: Figure) -> None:
    fig.savefig(io.BytesIO(), format="png", dpi=80)


def render_compare(model: ExplorerModel) -> None:
    """What the compare tab (Page 0) draws after a step."""
    C.headline_html(model.market, model.baseline)
    _png(C.effect_sellers_figure(model.market, model.baseline))
    _png(C.effect_grey_figure(model.market, model.baseline))
    C.reproduce_html(model)


def render_whatif(model: ExplorerModel) -> None:
    """What the what-if tab (Page 1) draws after a step."""
    for draw in (C.shares_figure, C.grey_figure, C.flows_figure):
        _png(draw(model.market))


TABS: dict[str, Callable[[ExplorerModel], None]] = {
    "compare": render_compare,
    "whatif": render_whatif,
}


def measure(
    merchants: int = 5000, skip: int = 60, weeks: int = 40, tab: str = "compare"
) -> dict[str, float]:
    """Median / p90 seconds per week: both markets' step, one market's, the render, the sum.

    The what-if moves the audit probability (0.02), so that the two markets differ.
    """
    render = TABS[tab]
    model = ExplorerModel(merchants=merchants, audit_probability=0.02)
    for _ in range(skip):
        model.step()
    steps, whatif_steps, renders = [], [], []
    for _ in range(weeks):
        t0 = time.perf_counter()
        model.market.step()
        t1 = time.perf_counter()
        model.baseline.step()
        t2 = time.perf_counter()
        render(model)
        t3 = time.perf_counter()
        whatif_steps.append(t1 - t0)
        steps.append(t2 - t0)
        renders.append(t3 - t2)
    total = [a + b for a, b in zip(steps, renders, strict=True)]

    def p90(x: list[float]) -> float:
        return statistics.quantiles(x, n=10)[-1]

    return {
        "step_median_s": statistics.median(steps),
        "one_market_step_median_s": statistics.median(whatif_steps),
        "render_median_s": statistics.median(renders),
        "total_median_s": statistics.median(total),
        "total_p90_s": p90(total),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--merchants", type=int, default=5000)
    ap.add_argument("--skip", type=int, default=60, help="weeks stepped before measuring")
    ap.add_argument("--weeks", type=int, default=40, help="weeks measured")
    ap.add_argument("--tab", choices=sorted(TABS), default="compare", help="the tab drawn")
    ns = ap.parse_args()
    out = measure(ns.merchants, ns.skip, ns.weeks, ns.tab)
    print(f"{ns.merchants} firms, weeks {ns.skip}-{ns.skip + ns.weeks}, {ns.tab} tab:")
    for key, value in out.items():
        print(f"  {key:26s} {value * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
