"""Plot run time vs merchants (log-log) for the engine and the per-agent reference.

    .venv/bin/python -m benchmarks.plot results/benchmarks/final.json \
        --before results/benchmarks/baseline_engine_runs.json --out docs/performance_scaling.png

Reads one or more JSON files written by ``python -m benchmarks.suite`` (runs of
the same implementation and size in later files replace earlier ones) and
draws the wall time of one run (365 weekly steps) against ``merchants.count``,
with a dashed line of slope 1 (cost linear in merchants) through the engine's
largest run. Reference points measured by the suite are drawn solid; where the
reference was not run at a size, the suite's linear extrapolation (if any) is
drawn hollow and dotted, and labelled as such.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(paths: list[str]) -> dict[tuple[str, int], dict]:
    """Runs keyed by (implementation, merchants); later files win. Reference times
    that the suite extrapolated are kept under the implementation "reference (est.)"."""
    runs: dict[tuple[str, int], dict] = {}
    for p in paths:
        data = json.loads(Path(p).read_text())
        for r in data["runs"]:
            runs[(r["impl"], int(r["merchants"]))] = r
        for n, x in (data.get("reference_extrapolated") or {}).items():
            runs[("reference (est.)", int(n))] = {"run_s": x["run_s"]}
    return runs


def figure(runs: dict[tuple[str, int], dict], before: dict[tuple[str, int], dict] | None = None):
    """The log-log figure of run time vs merchants (``before``: engine runs of older code)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.6), dpi=110)
    styles = {
        "engine": ("o-", "engine (columnar + numba)"),
        "reference": ("s-", "per-agent Mesa reference"),
    }
    for impl, (style, label) in styles.items():
        pts = sorted((n, r["run_s"]) for (i, n), r in runs.items() if i == impl)
        if pts:
            ax.plot([n for n, _ in pts], [t for _, t in pts], style, label=label)
            for n, t in pts:
                ax.annotate(
                    f"{t:.3g} s", (n, t), textcoords="offset points", xytext=(4, -10), fontsize=7
                )
    if before:
        pts = sorted((n, r["run_s"]) for (i, n), r in before.items() if i == "engine")
        ax.plot(
            [n for n, _ in pts], [t for _, t in pts], "^--", color="grey", label="engine, before"
        )
    est = sorted((n, r["run_s"]) for (i, n), r in runs.items() if i == "reference (est.)")
    ref = sorted((n, r["run_s"]) for (i, n), r in runs.items() if i == "reference")
    if est and ref:
        pts = [ref[-1], *est]
        ax.plot(
            [n for n, _ in pts],
            [t for _, t in pts],
            "s:",
            color="tab:orange",
            mfc="none",
            label="reference, extrapolated (linear in merchant-steps)",
        )
    eng = sorted((n, r["run_s"]) for (i, n), r in runs.items() if i == "engine")
    if eng:
        n1, t1 = eng[-1]
        xs = [min(n for n, _ in eng), n1]
        ax.plot(xs, [t1 * x / n1 for x in xs], "k:", lw=0.8, label="linear in merchants")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("merchants (merchants.count)")
    ax.set_ylabel("wall time of one run, s (365 weeks)")
    ax.set_title("Time vs merchants, one core", fontsize=10)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+", help="suite JSON files")
    ap.add_argument("--out", default="docs/performance_scaling.png")
    ap.add_argument("--before", nargs="*", default=[], help="suite JSON of older code")
    ns = ap.parse_args(argv)
    fig = figure(load(ns.json), load(ns.before) if ns.before else None)
    out = Path(ns.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
