"""Shared entry point of the study scripts: compose, run (resume), analyse, plot.

Every study accepts Hydra overrides, e.g.::

    python -m experiments.certainty_severity profile=paper executor=dask executor.workers=8
    python -m experiments.collateral_damage results_dir=/scratch/me/results fail_fast=true
    python -m experiments.subsidy_race --figures-only     # rebuild figures from stored results
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from sim.core.config import ConfigError


def main(
    experiment: str,
    make_figures: Callable[[Path, object], list[Path]],
    argv: list[str] | None = None,
) -> int:
    """Compose ``experiment`` with overrides, run or resume its sweep, write its figures."""
    from sim.engine.compose import compose_sweep
    from sim.engine.store import StoreError
    from sim.engine.sweep import check_sweep, experiment_dir, run_sweep

    args = list(sys.argv[1:] if argv is None else argv)
    figures_only = "--figures-only" in args
    overrides = [a for a in args if a != "--figures-only"]
    try:
        sweep = compose_sweep(experiment, overrides)
        if figures_only:
            check_sweep(sweep)
        else:
            report = run_sweep(sweep)
            print(report.line())
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    root = experiment_dir(sweep)
    try:
        written = make_figures(root, sweep)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"error: results_dir: cannot write figures to {root / 'figures'} "
            f"({exc.strerror or type(exc).__name__}); choose a writable folder with "
            "results_dir=<folder>",
            file=sys.stderr,
        )
        return 2
    for path in written:
        print(f"wrote {path}")
    if not figures_only and report.failed:
        print(f"{report.failed} runs failed; see {root / 'manifest'} (re-run to retry them)")
        return 1
    return 0


def save_figure(fig, root: Path, name: str, sweep) -> list[Path]:
    """Save ``fig`` as ``<root>/figures/<name>.png`` and ``.pdf`` with provenance metadata."""
    from sim.analysis.figures import save
    from sim.engine.provenance import figure_provenance

    prov = figure_provenance(root, sweep.experiment.name, sweep.profile.name)
    return save(fig, root / "figures" / name, prov, ("png", "pdf"))


def param(key: str) -> str:
    """Column name of a design parameter in the summary frame."""
    return f"param.{key}"
