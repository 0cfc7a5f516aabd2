"""Compare stored runs: ``python -m sim.analysis.compare RUN_DIR [RUN_DIR ...]``.

Reads each run directory written by ``python -m sim`` (never reruns the model),
overlays their platform shares in one figure and prints their headline
numbers side by side. Example::

    python -m sim hydra.run.dir=results/runs/crackdown
    python -m sim policy=none hydra.run.dir=results/runs/none
    python -m sim.analysis.compare results/runs/crackdown results/runs/none --out results/compare
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim.analysis import figures

HEADLINES = (
    "cn_share_of_amazon_sellers_before_crackdown",
    "cn_share_of_amazon_sellers_end_2021",
    "cn_share_of_amazon_sellers_end_2023",
    "cn_merchants_on_amazon_before_crackdown",
    "cn_merchants_on_amazon_end_2021",
    "multihoming_share_CN_before_crackdown",
    "multihoming_share_CN_end_2023",
    "own_web_stores_CN_before_crackdown",
    "own_web_stores_CN_end_2023",
    "grey_share_amazon_before_crackdown",
    "grey_share_amazon_end_2021",
    "stores_banned",
    "honest_stores_penalised",
)


def headline_table(summaries: dict[str, dict]) -> str:
    """Fixed-width text table of the headline numbers of each run."""
    labels = list(summaries)
    width = max(len(k) for k in HEADLINES)
    lines = [" " * width + "".join(f"{lab:>16}" for lab in labels)]
    for key in HEADLINES:
        cells = []
        for lab in labels:
            v = summaries[lab].get(key)
            cells.append(f"{'-':>16}" if v is None else f"{v:>16.3f}")
        lines.append(f"{key:<{width}}" + "".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run directories written by python -m sim")
    ap.add_argument("--labels", nargs="*", help="one label per run (default: the policy name)")
    ap.add_argument("--out", default="results/compare", help="folder for the figure")
    ns = ap.parse_args(argv)
    series, summaries = {}, {}
    for i, run_dir in enumerate(ns.runs):
        d = Path(run_dir)
        if not (d / "timeseries.parquet").exists():
            print(f"error: {d} has no timeseries.parquet (not a run directory)", file=sys.stderr)
            return 2
        ts, _, summary = figures.load_run(d)
        label = ns.labels[i] if ns.labels and i < len(ns.labels) else summary.get("policy", d.name)
        if label in series:
            label = f"{label} ({d.name})"
        series[label], summaries[label] = ts, summary
    start = next(iter(summaries.values())).get("crackdown_start")
    prov = {"runs": [str(Path(r).resolve()) for r in ns.runs]}
    out = Path(ns.out)
    paths = figures.save(
        figures.plot_platform_shares(series, start), out / "platform_shares", prov, ("png", "pdf")
    )
    print(headline_table(summaries))
    (out / "headlines.json").write_text(json.dumps(summaries, indent=2, sort_keys=True) + "\n")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
