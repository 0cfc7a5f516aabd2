"""Memory of the sweep's parent process over a long sweep of tiny runs (issue 15).

    python -m benchmarks.sweep_memory [--runs 2000] [--workers 2] [--executor local|dask]

Runs ``--runs`` runs of 50 firms over a 14-week horizon into a temporary
store and prints the parent's resident memory (RSS, MB) as the sweep goes:
at the start, after every tenth of the runs, and its peak. A leak shows as
RSS that keeps climbing with the number of finished runs; a flat line after
the first few hundred runs (allocator warm-up) is what a bounded sweep gives.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time

import psutil


def main(argv: list[str] | None = None) -> int:
    from sim.engine.compose import compose_sweep
    from sim.engine.sweep import expand, run_sweep

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--executor", default="local", choices=("local", "dask"))
    ns = ap.parse_args(argv)
    me = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        sweep = compose_sweep(
            "certainty_severity",
            [
                "profile.merchants=50",
                "profile.end_date=2020-03-30",
                "profile.spinup_weeks=2",
                "profile.grid_levels=1",
                f"experiment.replications={max(1, ns.runs // 2)}",  # x 2 scenarios
                f"executor={ns.executor}",
                f"executor.workers={ns.workers}",
                "progress=false",
                f"results_dir={tmp}",
            ],
        )
        points, specs = expand(sweep)
        samples: list[tuple[float, float]] = []
        stop = threading.Event()
        root = f"{tmp}/{sweep.experiment.name}/manifest"

        def watch() -> None:
            import os

            while not stop.is_set():
                done = len(os.listdir(root)) if os.path.isdir(root) else 0
                samples.append((done, me.memory_info().rss / 2**20))
                stop.wait(0.5)

        rss0 = me.memory_info().rss / 2**20
        t = threading.Thread(target=watch, daemon=True)
        t0 = time.perf_counter()
        t.start()
        report = run_sweep(sweep, specs, points)
        stop.set()
        t.join()
        wall = time.perf_counter() - t0
        print(report.line())
        print(f"runs {len(specs)}, chunks stored {samples[-1][0] if samples else 0}")
        print(f"RSS at start {rss0:.0f} MB")
        chunks = max(s[0] for s in samples) or 1
        for tenth in range(1, 11):
            upto = [r for c, r in samples if c <= chunks * tenth / 10]
            if upto:
                print(f"  after {tenth * 10:3d}% of the chunks: {upto[-1]:.0f} MB")
        print(f"RSS peak {max(r for _, r in samples):.0f} MB; wall {wall:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
