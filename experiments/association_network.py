"""Study 5: the association network (hubs vs random ties) and hub-targeted audits.

Sweep: ``configs/experiment/association_network.yaml``.

    python -m experiments.association_network [profile=paper] [executor=dask ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments._common import main, param, save_figure

HUB = param("policy.enforcement.amazon.hub_targeting")
TS_COLUMNS = ["step", "date", "platform", "origin", "active_stores", "grey_stores"]


def make_figures(root: Path, sweep) -> list[Path]:
    """Outcomes per network and hub targeting; grey prevalence over time per network."""
    from sim.analysis import stats, sweep_figures
    from sim.analysis.load import load_summary, load_timeseries

    summary = load_summary(root)
    if summary.empty:
        return []
    # outcomes dated after the end of a short horizon are absent: skip them
    outcomes = [o for o in sweep.experiment.outcomes if o in summary]
    out = []
    ci = stats.mean_ci(summary, outcomes, by=["scenario", HUB])
    for outcome in outcomes:
        fig = sweep_figures.plot_outcome_bars(ci, outcome, by=["scenario", HUB])
        out += save_figure(fig, root, f"bars_{outcome}", sweep)
    ts = load_timeseries(root, columns=TS_COLUMNS)
    untargeted = set(summary.loc[summary[HUB] == summary[HUB].min(), "point_id"])
    ts = ts[ts["point_id"].isin(untargeted)]
    out += save_figure(sweep_figures.plot_grey_prevalence(ts), root, "grey_prevalence", sweep)
    return out


if __name__ == "__main__":
    sys.exit(main("association_network", make_figures))
