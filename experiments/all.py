"""Rebuild every study's results and figures: ``python -m experiments.all [overrides]``.

    python -m experiments.all                 # profile=quick: every study, a few minutes on 2 cores
    python -m experiments.all profile=paper   # the paper figures (hours on 2 cores; see README)
    python -m experiments.all --figures-only  # redraw from stored results, no simulation

Each study resumes: runs already stored are skipped, so an interrupted rebuild
continues where it stopped. Overrides apply to every study.
"""

from __future__ import annotations

import importlib
import sys
import time

STUDIES = (
    "certainty_severity",
    "unilateral_coordinated",
    "subsidy_race",
    "collateral_damage",
    "association_network",
)


def main(argv: list[str] | None = None) -> int:
    from experiments._common import main as run_study

    args = list(sys.argv[1:] if argv is None else argv)
    t0 = time.perf_counter()
    worst = 0
    for name in STUDIES:
        module = importlib.import_module(f"experiments.{name}")
        print(f"== {name}", flush=True)
        worst = max(worst, run_study(name, module.make_figures, args))
        if worst == 2:
            return 2
    print(f"all studies done in {time.perf_counter() - t0:.0f} s")
    return worst


if __name__ == "__main__":
    sys.exit(main())
