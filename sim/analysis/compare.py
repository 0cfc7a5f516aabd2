"""Compare stored runs: ``python -m sim.analysis.compare RUN_DIR [RUN_DIR ...]``.

Reads each run directory written by ``python -m sim`` (never reruns the model),
overlays their platform shares in one figure and prints their headline
numbers side by side, with the difference of each run from the baseline (the
last run unless ``--baseline`` names another). Example::

    python -m sim hydra.run.dir=results/runs/crackdown
    python -m sim policy=none hydra.run.dir=results/runs/none
    python -m sim.analysis.compare results/runs/crackdown results/runs/none --out results/compare

A difference is the policy's effect only when the runs are paired: same seed
and replicate (common random numbers), same configuration apart from the
policy, same code. The command checks this from each run's ``summary.json``,
``.hydra/config.yaml`` and ``provenance.json`` and warns (on stderr) when a pair
is not.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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
# top-level config keys a paired comparison may differ in (the policy is the treatment)
TREATMENT = ("policy",)
MISSING = "n/a"
MAX_LISTED = 6  # differing keys named in one warning


def is_share(key: str) -> bool:
    """Headline keys that are fractions (printed with 3 decimals); the others are counts."""
    return "share" in key


def format_value(key: str, value: Any, signed: bool = False) -> str:
    """One table cell: shares with 3 decimals, whole counts as integers, other counts 1 decimal."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    sign = "+" if signed and value != 0 else ""
    if is_share(key):
        return f"{value:{sign}.3f}"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):{sign}d}"
    return f"{value:{sign}.1f}"


def difference(a: Any, b: Any) -> float | int | None:
    """``a - b``, None when either is missing."""
    if a is None or b is None:
        return None
    return a - b


def headline_table(summaries: Mapping[str, dict], baseline: str | None = None) -> str:
    """Fixed-width text table of the headline numbers of each run.

    With two or more runs, one difference column per run other than ``baseline``
    (default: the last run), headed ``<run> - <baseline>``.
    """
    labels = list(summaries)
    if baseline is None:
        baseline = labels[-1]
    diffs = [lab for lab in labels if lab != baseline] if len(labels) > 1 else []
    headers = [*labels, *(f"{lab} - {baseline}" for lab in diffs)]
    columns = []
    for lab in labels:
        columns.append([format_value(k, summaries[lab].get(k)) for k in HEADLINES])
    for lab in diffs:
        columns.append(
            [
                format_value(
                    k,
                    difference(summaries[lab].get(k), summaries[baseline].get(k)),
                    signed=True,
                )
                for k in HEADLINES
            ]
        )
    width = max(len(k) for k in HEADLINES)
    widths = [
        max(len(h), *(len(c) for c in col)) + 2 for h, col in zip(headers, columns, strict=True)
    ]
    lines = [" " * width + "".join(f"{h:>{w}}" for h, w in zip(headers, widths, strict=True))]
    for i, key in enumerate(HEADLINES):
        cells = "".join(f"{col[i]:>{w}}" for col, w in zip(columns, widths, strict=True))
        lines.append(f"{key:<{width}}" + cells)
    return "\n".join(lines)


def run_labels(dirs: Sequence[Path], summaries: Sequence[dict], given: Sequence[str] = ()) -> list:
    """One distinct column header per run.

    A run's header is its ``--labels`` entry, else its policy name. Runs whose
    headers collide are all told apart by their directory (``policy (dir)``),
    then by the directory's parent, and finally by their position (``#k``).
    """
    base = [
        given[i] if i < len(given) else str(s.get("policy") or Path(d).name)
        for i, (d, s) in enumerate(zip(dirs, summaries, strict=True))
    ]
    labels = list(base)
    for depth in (1, 2):
        counts = {lab: labels.count(lab) for lab in labels}
        if all(c == 1 for c in counts.values()):
            return labels
        labels = [
            f"{b} ({'/'.join(Path(d).resolve().parts[-depth:])})" if counts[lab] > 1 else lab
            for b, lab, d in zip(base, labels, dirs, strict=True)
        ]
    counts = {lab: labels.count(lab) for lab in labels}
    return [f"{lab} #{i + 1}" if counts[lab] > 1 else lab for i, lab in enumerate(labels)]


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): node}


def load_config(run_dir: Path) -> dict | None:
    """The run's composed configuration (``.hydra/config.yaml``), None if not stored."""
    path = Path(run_dir) / ".hydra" / "config.yaml"
    if not path.exists():
        return None
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def pairing_problems(
    labels: Sequence[str],
    summaries: Sequence[dict],
    configs: Sequence[dict | None],
    provenances: Sequence[dict] = (),
    baseline: int = -1,
) -> list[str]:
    """Why a run is not paired with the baseline run (empty when all are paired).

    Paired: the same ``seed`` and ``replicate`` (common random numbers), the same
    configuration outside ``policy`` and the same model source code
    (``source_sha256`` of provenance.json). A run without a stored configuration
    is reported as not checked.
    """
    n = len(labels)
    b = baseline % n
    base_label, base_sum, base_cfg = labels[b], summaries[b], configs[b]
    base_prov = provenances[b] if provenances else {}
    problems = []
    for i in range(n):
        if i == b:
            continue
        lab, s, cfg = labels[i], summaries[i], configs[i]
        ids = [(k, s.get(k), base_sum.get(k)) for k in ("seed", "replicate")]
        if any(x != y for _, x, y in ids):
            mine = ", ".join(f"{k} {x}" for k, x, _ in ids)
            theirs = ", ".join(f"{k} {y}" for k, _, y in ids)
            problems.append(
                f"{lab} ({mine}) and {base_label} ({theirs}) do not share their random "
                "streams: the difference mixes the policy's effect with chance"
            )
        if cfg is None or base_cfg is None:
            missing = lab if cfg is None else base_label
            problems.append(
                f"cannot check that {lab} and {base_label} differ only in the policy: "
                f"{missing} has no .hydra/config.yaml"
            )
        else:
            mine = _flatten({k: v for k, v in cfg.items() if k not in TREATMENT})
            theirs = _flatten({k: v for k, v in base_cfg.items() if k not in TREATMENT})
            keys = sorted(
                k
                for k in mine.keys() | theirs.keys()
                if k not in ("seed", "replicate") and mine.get(k) != theirs.get(k)
            )
            if keys:
                shown = ", ".join(
                    f"{k} ({mine.get(k, MISSING)} vs {theirs.get(k, MISSING)})"
                    for k in keys[:MAX_LISTED]
                )
                more = f" and {len(keys) - MAX_LISTED} more" if len(keys) > MAX_LISTED else ""
                problems.append(
                    f"{lab} and {base_label} differ beyond the policy: {shown}{more}; the "
                    "difference is not the policy's effect alone"
                )
        prov = provenances[i] if provenances else {}
        code = (prov.get("source_sha256"), base_prov.get("source_sha256"))
        if all(code) and code[0] != code[1]:
            problems.append(f"{lab} and {base_label} were made by different model code")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run directories written by python -m sim")
    ap.add_argument("--labels", nargs="*", help="one label per run (default: the policy name)")
    ap.add_argument(
        "--baseline",
        help="label (or 1-based position) of the run the others are compared with (default: last)",
    )
    ap.add_argument("--out", default="results/compare", help="folder for the figure")
    ns = ap.parse_args(argv)
    dirs = [Path(r) for r in ns.runs]
    for d in dirs:
        if not (d / "timeseries.parquet").exists():
            print(f"error: {d} has no timeseries.parquet (not a run directory)", file=sys.stderr)
            return 2
    tables = [figures.load_run(d) for d in dirs]
    summaries_list = [t[2] for t in tables]
    labels = run_labels(dirs, summaries_list, ns.labels or ())
    base = len(labels) - 1
    if ns.baseline is not None:
        if ns.baseline in labels:
            base = labels.index(ns.baseline)
        elif ns.baseline.isdigit() and 1 <= int(ns.baseline) <= len(labels):
            base = int(ns.baseline) - 1
        else:
            print(
                f"error: --baseline {ns.baseline!r}: not a run; give one of "
                f"{', '.join(labels)} or a position 1-{len(labels)}",
                file=sys.stderr,
            )
            return 2
    configs = [load_config(d) for d in dirs]
    provs = [_load_json(d / "provenance.json") for d in dirs]
    for problem in pairing_problems(labels, summaries_list, configs, provs, base):
        print(f"warning: runs not paired: {problem}", file=sys.stderr)
    series = {lab: t[0] for lab, t in zip(labels, tables, strict=True)}
    summaries = dict(zip(labels, summaries_list, strict=True))
    start = summaries_list[0].get("crackdown_start")
    prov = {"runs": [str(d.resolve()) for d in dirs]}
    out = Path(ns.out)
    paths = figures.save(
        figures.plot_platform_shares(series, start), out / "platform_shares", prov, ("png", "pdf")
    )
    print(headline_table(summaries, labels[base]))
    (out / "headlines.json").write_text(json.dumps(summaries, indent=2, sort_keys=True) + "\n")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
