"""Sensitivity, step 2: Sobol indices of the parameters the Morris screening ranked highest.

First-order and total indices (SALib, Saltelli sample) on outcomes averaged
over replications, bootstrap 95% intervals, and a sample-adequacy check (no
significantly negative index). Sweep: ``configs/experiment/sensitivity_sobol.yaml``.

    python -m experiments.sensitivity_sobol [profile=paper] [executor.workers=2]

Writes ``figures/sobol.{png,pdf}``, ``sobol_indices.csv``, ``sobol_ranking.csv`` and
``sobol_adequacy.csv``; prints the adequacy verdict.
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments._common import main, save_figure


def make_figures(root: Path, sweep) -> list[Path]:
    """Sobol indices per outcome, ranking, adequacy table and the index figure."""
    from sim.analysis import sensitivity
    from sim.analysis.load import load_summary

    summary = load_summary(root)
    if summary.empty:
        return []
    indices = sensitivity.sobol_indices(root, summary, list(sweep.experiment.outcomes))
    if indices.empty:
        return []
    adequacy = sensitivity.sample_adequacy(indices)
    out = []
    for name, frame in (
        ("sobol_indices.csv", indices),
        ("sobol_ranking.csv", sensitivity.ranking(indices, "ST")),
        ("sobol_adequacy.csv", adequacy),
    ):
        frame.to_csv(root / name, index=False)
        out.append(root / name)
    for r in adequacy.to_dict("records"):
        verdict = (
            "adequate"
            if r["adequate"]
            else "TOO SMALL (significantly negative indices, CIs wider than +-0.25, "
            "or first-order indices summing significantly above 1)"
        )
        print(
            f"sample for {r['outcome']}: {verdict}; widest CI +-{r['max_conf_half_width']:.2f}; "
            f"sum of S1 {r['sum_S1']:.2f}"
        )
    out += save_figure(sensitivity.plot_sobol(indices), root, "sobol", sweep)
    return out


if __name__ == "__main__":
    sys.exit(main("sensitivity_sobol", make_figures))
