"""Study 1: certainty vs severity of enforcement (audit probability x penalty, deletion lag).

Question: does grey practice respond more to the chance of being caught or to
the size of the penalty (Becker 1968), and what does each cost Amazon in
sellers? Sweep: ``configs/experiment/certainty_severity.yaml``.

    python -m experiments.certainty_severity [profile=paper] [executor=dask ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments._common import main, param, save_figure

AUDIT = param("policy.enforcement.amazon.audit_probability_per_week")
SEVERITY = param("behaviour.sanction_weeks_of_profit")


def make_figures(root: Path, sweep) -> list[Path]:
    """Phase diagrams (heatmaps) per deletion lag; replication adequacy."""
    from sim.analysis import stats, sweep_figures
    from sim.analysis.load import load_summary

    summary = load_summary(root)
    if summary.empty:
        return []
    # outcomes dated after the end of a short horizon are absent: skip them
    outcomes = [o for o in sweep.experiment.outcomes if o in summary]
    # grey share and CN seller share at end-2021 and end-2023 (the lag acts slowly);
    # on a horizon that ends before them, the first two outcomes there are
    shares = [o for o in outcomes if o.startswith(("grey_share_amazon", "cn_share_of_amazon"))]
    mapped = shares or outcomes[:2]
    out = []
    for scenario, part in summary.groupby("scenario", sort=False):
        for outcome in mapped:
            fig = sweep_figures.plot_heatmap(
                part,
                AUDIT,
                SEVERITY,
                outcome,
                title=f"{outcome}\n{scenario or 'all runs'}: certainty (x) vs severity (y)",
            )
            out += save_figure(fig, root, f"heatmap_{outcome}_{scenario}", sweep)
    adequacy = (
        stats.replication_adequacy(summary, outcomes[0], by=["scenario", "point_id"])
        if outcomes
        else None
    )
    if adequacy is not None and adequacy.empty:  # one replication: no interval to show
        print("replication adequacy: needs at least 2 replications per point; figure skipped")
    elif adequacy is not None:
        out += save_figure(
            sweep_figures.plot_replication_adequacy(adequacy), root, "replication_adequacy", sweep
        )
    return out


if __name__ == "__main__":
    sys.exit(main("certainty_severity", make_figures))
