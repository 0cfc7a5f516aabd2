"""Study 4: collateral damage of related-account sweeps and fund holds.

Related-account sweeps and fund holds at several false-positive rates: how many
honest stores are punished, and do honest firms multi-home as insurance?

Sweep: ``configs/experiment/collateral_damage.yaml``.

    python -m experiments.collateral_damage [profile=paper] [executor=dask ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments._common import main, param, save_figure

FPR = param("policy.enforcement.amazon.false_positive_rate")
SWEEP = param("policy.enforcement.amazon.related_account_sweep_probability")


def make_figures(root: Path, sweep) -> list[Path]:
    """Honest stores punished and insurance multi-homing over the two levers."""
    from sim.analysis import sweep_figures
    from sim.analysis.load import load_summary

    summary = load_summary(root)
    if summary.empty:
        return []
    out = []
    for scenario, part in summary.groupby("scenario", sort=False):
        for outcome in (
            "honest_stores_penalised",
            "multihoming_share_other_end_2023",
            "frozen_funds_usd_real",
        ):
            if outcome not in part:
                continue
            fig = sweep_figures.plot_heatmap(
                part, FPR, SWEEP, outcome, title=f"{outcome}\n({scenario})"
            )
            out += save_figure(fig, root, f"heatmap_{outcome}_{scenario}", sweep)
    return out


if __name__ == "__main__":
    sys.exit(main("collateral_damage", make_figures))
