"""Gather Hydra multirun folders of ``python -m sim -m ...`` into a sweep store.

    python -m sim -m policy=none,crackdown_2021 replicate=0,1,2 hydra.sweep.dir=results/multirun/x
    python -m sim.engine.gather results/multirun/x --name policy_pairs   # -> results/policy_pairs/

The result has the layout of a sweep (manifest, partitioned Parquet, design.json),
so ``sim.analysis.load`` and the sweep figures read it the same way. Each job's
overrides (``.hydra/overrides.yaml``) become ``param.<key>`` columns; jobs that
differ only in ``seed``/``replicate`` share a design point. Gathering again
adds only jobs not gathered before.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
import yaml

from .provenance import code_key
from .store import Store, StoreError
from .sweep import PLAIN_NAME, _flat

SEED_KEYS = ("seed", "replicate")


def _value(text: str):
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def read_job(job: Path) -> dict | None:
    """One finished job folder as (overrides, summary, provenance, tables); None if incomplete."""
    needed = ("summary.json", "provenance.json", "timeseries.parquet", "flows.parquet")
    if not all((job / n).exists() for n in needed):
        return None
    ov_file = job / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(ov_file.read_text()) if ov_file.exists() else []
    params = {}
    for item in overrides or []:
        key, _, val = str(item).partition("=")
        if key.startswith("hydra") or key in SEED_KEYS:
            continue
        params[key.lstrip("+~")] = _value(val)
    return {
        "job": job,
        "params": params,
        "summary": json.loads((job / "summary.json").read_text()),
        "provenance": json.loads((job / "provenance.json").read_text()),
    }


def gather(multirun_dir: str | Path, root: str | Path, wait_s: float = 0.0) -> int:
    """Add every finished job under ``multirun_dir`` to the store at ``root``; return how many.

    Holds the store's writer lock (waiting up to ``wait_s`` seconds for another
    writer). Each manifest row records the code version from the job's
    ``provenance.json``.
    """
    store = Store(root)
    with store.lock(wait_s, hint="--wait <seconds>"):
        return _gather(multirun_dir, store)


def _gather(multirun_dir: str | Path, store: Store) -> int:
    jobs = [
        j
        for j in (read_job(p.parent) for p in sorted(Path(multirun_dir).rglob("summary.json")))
        if j is not None
    ]
    store.prepare()
    done = store.done_runs()
    point_ids: dict[str, int] = {}
    runs, added = [], 0
    for j in jobs:
        key = json.dumps(j["params"], sort_keys=True)
        pid = point_ids.setdefault(key, len(point_ids))
        run_id = j["provenance"]["config_hash"][:16]
        rep = int(j["summary"].get("replicate", 0))
        runs.append({"run_id": run_id, "point_id": pid, "scenario": "", "replicate": rep})
        if run_id in done:
            continue
        tag = {"run_id": run_id, "point_id": pid, "scenario": "", "replicate": rep}

        def tagged(df: pd.DataFrame, tag=tag) -> pd.DataFrame:
            df = df.drop(columns=[c for c in tag if c in df])
            for i, (k, v) in enumerate(tag.items()):
                df.insert(i, k, v)
            return df

        row = {
            **tag,
            "seed": j["summary"].get("seed"),
            "status": "ok",
            "error": None,
            "duration_s": j["summary"].get("wall_time_s"),
            "host": j["provenance"].get("host"),
            "finished_utc": j["provenance"].get("ended_utc"),
            "attempt": 1,
            **_code(j["provenance"]),
            **{f"param.{k}": v for k, v in j["params"].items()},
        }
        store.write_chunk(
            [row],
            {
                "timeseries": [tagged(pd.read_parquet(j["job"] / "timeseries.parquet"))],
                "flows": [tagged(pd.read_parquet(j["job"] / "flows.parquet"))],
                "summary": [tagged(pd.DataFrame([_flat(j["summary"])]))],
            },
        )
        added += 1
    store.write_json(
        "design.json",
        {
            "gathered_from": str(multirun_dir),
            "runs": runs,
            "points": [{"point_id": v, "params": json.loads(k)} for k, v in point_ids.items()],
        },
    )
    return added


def _code(prov: dict) -> dict:
    code = {
        "git_sha": prov.get("git_sha"),
        "git_dirty": prov.get("git_dirty"),
        "source_sha256": prov.get("source_sha256"),
        "packages": json.dumps(prov.get("packages"), sort_keys=True),
        "python": prov.get("python"),
    }
    return {**code, "code_key": code_key(code)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("multirun_dir", help="a Hydra multirun folder (hydra.sweep.dir)")
    ap.add_argument("--name", help="store name (default: the multirun folder's name)")
    ap.add_argument("--results-dir", default="results")
    ap.add_argument("--wait", type=float, default=0.0, help="seconds to wait for another writer")
    ns = ap.parse_args(argv)
    src = Path(ns.multirun_dir)
    if not src.is_dir():
        print(f"error: {src} is not a folder", file=sys.stderr)
        return 2
    name = ns.name or src.name
    if not PLAIN_NAME.fullmatch(name) or name in (".", ".."):
        print(
            f"error: --name: {name!r} is not a plain name (letters, digits, _ - .)", file=sys.stderr
        )
        return 2
    root = Path(ns.results_dir) / name
    try:
        n = gather(src, root, ns.wait)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"gathered {n} new runs into {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
