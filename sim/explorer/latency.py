"""Step latency of the explorer page, server side: ``python -m sim.explorer.latency``.

Times what one click on Step costs the server at a given population: the model's
week plus drawing the page's three figures to PNG (as ``solara.FigureMatplotlib``
does) and the headline table. Prints the median and 90th percentile over the weeks
measured (default: 5,000 firms, weeks 60-100, i.e. after the 2021 crackdown starts).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

from . import components as C
from .model import ExplorerModel


def measure(merchants: int = 5000, skip: int = 60, weeks: int = 40) -> dict[str, float]:
    """Median / p90 seconds of a model step, of the render, and of both, per week."""
    model = ExplorerModel(merchants=merchants)
    for _ in range(skip):
        model.step()
    steps, renders = [], []
    for _ in range(weeks):
        t0 = time.perf_counter()
        model.step()
        t1 = time.perf_counter()
        for draw in (C.shares_figure, C.flows_figure, C.grey_figure):
            draw(model.market).savefig(io.BytesIO(), format="png", dpi=80)
        C.headline_html(model.market)
        t2 = time.perf_counter()
        steps.append(t1 - t0)
        renders.append(t2 - t1)
    total = [a + b for a, b in zip(steps, renders, strict=True)]

    def p90(x: list[float]) -> float:
        return statistics.quantiles(x, n=10)[-1]

    return {
        "step_median_s": statistics.median(steps),
        "render_median_s": statistics.median(renders),
        "total_median_s": statistics.median(total),
        "total_p90_s": p90(total),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--merchants", type=int, default=5000)
    ap.add_argument("--skip", type=int, default=60, help="weeks stepped before measuring")
    ap.add_argument("--weeks", type=int, default=40, help="weeks measured")
    ns = ap.parse_args()
    out = measure(ns.merchants, ns.skip, ns.weeks)
    print(f"{ns.merchants} firms, weeks {ns.skip}-{ns.skip + ns.weeks}:")
    for key, value in out.items():
        print(f"  {key:16s} {value * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
