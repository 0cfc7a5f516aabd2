"""Study 2: unilateral vs coordinated enforcement. Does grey practice move or fall?

Scenarios none / unilateral (Amazon's 2021 crackdown) / coordinated (every
platform), paired by replicate (common random numbers).
Sweep: ``configs/experiment/unilateral_coordinated.yaml``.

    python -m experiments.unilateral_coordinated [profile=paper] [executor=dask ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments._common import main, save_figure

TS_COLUMNS = [
    "step",
    "date",
    "platform",
    "origin",
    "listed_merchants",
    "alive_merchants",
    "active_stores",
    "grey_stores",
]


def make_figures(root: Path, sweep) -> list[Path]:
    """Shares with CI bands, grey prevalence by platform, paired differences, alluvial."""
    from sim.analysis import stats, sweep_figures
    from sim.analysis.load import load_portfolios, load_summary, load_timeseries

    summary = load_summary(root)
    if summary.empty:
        return []
    # outcomes dated after the end of a short horizon are absent: skip them
    outcomes = [o for o in sweep.experiment.outcomes if o in summary]
    exp = sweep.experiment
    ts = load_timeseries(root, columns=TS_COLUMNS)
    out = []
    out += save_figure(sweep_figures.plot_shares_ci(ts), root, "platform_shares_ci", sweep)
    out += save_figure(sweep_figures.plot_grey_prevalence(ts), root, "grey_prevalence", sweep)
    ci = stats.mean_ci(summary, outcomes, by="scenario")
    for outcome in outcomes:
        fig = sweep_figures.plot_outcome_bars(ci, outcome, by="scenario")
        out += save_figure(fig, root, f"bars_{outcome}", sweep)
    paired = stats.paired_differences(summary, outcomes, baseline=exp.baseline_scenario)
    out += save_figure(
        sweep_figures.plot_paired_differences(paired), root, "paired_differences", sweep
    )
    port = load_portfolios(root)
    for scenario in ("unilateral", "coordinated"):
        if len(port) and scenario in set(port["scenario"]):
            fig = sweep_figures.plot_alluvial(port, origin="CN", scenario=scenario)
            out += save_figure(fig, root, f"alluvial_CN_{scenario}", sweep)
    return out


if __name__ == "__main__":
    sys.exit(main("unilateral_coordinated", make_figures))
