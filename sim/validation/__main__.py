"""``python -m sim.validation [profile=quick|paper] [replications=N] [overrides] [--report-only]``.

Runs (or resumes) the validation sweep (``configs/experiment/validation.yaml``:
the default preset over replications) into ``<results_dir>/validation/`` and
writes ``validation_table.md``, ``validation_table.csv``,
``validation_runs.csv`` and ``figures/model_vs_observed.{png,pdf}`` there.
Any sweep override works (``executor.workers=2``, ``results_dir=...``,
``profile.merchants=2000``); ``replications=N`` is short for
``experiment.replications=N``. Exit status: 0 when every run succeeded, 1 when
runs failed, 2 for a bad configuration (pass or fail of targets does not change it).
"""

from __future__ import annotations

import sys

from sim.core.config import ConfigError

RUN_FUNCTION = "sim.validation.run:simulate"


def main(argv: list[str] | None = None) -> int:
    """Run the validation sweep and write its report; return the exit status."""
    from sim.engine.compose import compose_sweep
    from sim.engine.store import StoreError
    from sim.engine.sweep import experiment_dir, run_sweep

    from .report import write_report
    from .targets import load_targets

    args = list(sys.argv[1:] if argv is None else argv)
    report_only = "--report-only" in args
    overrides = [f"run_function={RUN_FUNCTION}"]
    for a in args:
        if a == "--report-only":
            continue
        overrides.append(f"experiment.{a}" if a.startswith("replications=") else a)
    failed = 0
    try:
        targets = load_targets()
        sweep = compose_sweep("validation", overrides)
        if not report_only:
            report = run_sweep(sweep)
            print(report.line())
            failed = report.failed
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    root = experiment_dir(sweep)
    for path in write_report(root, targets, sweep):
        print(f"wrote {path}")
    md = root / "validation_table.md"
    if md.exists():
        print(md.read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
