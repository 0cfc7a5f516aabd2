"""Sensitivity, step 1: Morris screening of behavioural and enforcement parameters.

Which of 20 parameters move the headline outcomes at all? Elementary effects
(SALib) on outcomes averaged over replications; the ranking chooses the
parameters of the Sobol step. Sweep: ``configs/experiment/sensitivity_morris.yaml``.

    python -m experiments.sensitivity_morris [profile=paper] [executor.workers=2]

Writes ``figures/morris.{png,pdf}``, ``morris_indices.csv`` and ``morris_ranking.csv``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments._common import main, save_figure


def make_figures(root: Path, sweep) -> list[Path]:
    """Morris indices per outcome, their ranking, and the mu*-sigma figure."""
    from sim.analysis import sensitivity
    from sim.analysis.load import load_summary

    summary = load_summary(root)
    if summary.empty:
        return []
    indices = sensitivity.morris_indices(root, summary, list(sweep.experiment.outcomes))
    if indices.empty:
        return []
    out = []
    for name, frame in (
        ("morris_indices.csv", indices),
        ("morris_ranking.csv", sensitivity.ranking(indices, "mu_star")),
    ):
        frame.to_csv(root / name, index=False)
        out.append(root / name)
    out += save_figure(sensitivity.plot_morris(indices), root, "morris", sweep)
    return out


if __name__ == "__main__":
    sys.exit(main("sensitivity_morris", make_figures))
