"""Load a sweep's stored results as tidy DataFrames (never reruns the model).

Only the runs of the sweep's current design (``design.json``) are returned, and
only data parts named by a successful manifest row are read.

    from sim.analysis.load import load_summary, load_timeseries
    summary = load_summary("results/certainty_severity")   # one row per run, params + outcomes
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.engine.store import Store


def _current_runs(store: Store) -> set[str] | None:
    design = store.read_json("design.json")
    if design is None:
        return None
    return {r["run_id"] for r in design.get("runs", [])}


def load_manifest(root: str | Path, current: bool = True) -> pd.DataFrame:
    """One row per run (its latest attempt): status, error, duration, host, params."""
    store = Store(root)
    man = store.read_manifest()
    runs = _current_runs(store) if current else None
    if runs is not None and len(man):
        man = man[man["run_id"].isin(runs)].reset_index(drop=True)
    return man


def _with_params(df: pd.DataFrame, man: pd.DataFrame) -> pd.DataFrame:
    if not len(df):
        return df
    params = [c for c in man.columns if c.startswith("param.")]
    return df.merge(man[["run_id", *params]], on="run_id", how="left")


def _load(root: str | Path, table: str, columns: list[str] | None, params: bool) -> pd.DataFrame:
    store = Store(root)
    man = load_manifest(root)
    if not len(man):
        return pd.DataFrame()
    runs = set(man.loc[man["status"] == "ok", "run_id"])
    df = store.read_table(table, runs=runs, columns=columns)
    if params:
        df = _with_params(df, man)
    return df


def load_summary(root: str | Path) -> pd.DataFrame:
    """One row per successful run: run_id, point_id, scenario, replicate, ``param.*``, outcomes."""
    df = _load(root, "summary", None, params=True)
    return df.sort_values("run_id", ignore_index=True) if len(df) else df


def load_timeseries(root: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Weekly rows of every successful run (``columns``: a subset to read)."""
    cols = None if columns is None else ["point_id", "scenario", "replicate", *columns]
    return _load(root, "timeseries", cols, params=False)


def load_flows(root: str | Path) -> pd.DataFrame:
    """Migration flows of every successful run."""
    return _load(root, "flows", None, params=False)


def load_portfolios(root: str | Path) -> pd.DataFrame:
    """Firms by platform portfolio at the two snapshot dates, per successful run."""
    return _load(root, "portfolios", None, params=False)


def failures(root: str | Path) -> pd.DataFrame:
    """Runs whose latest attempt failed, with their error text."""
    man = load_manifest(root)
    if not len(man):
        return man
    return man[man["status"] == "failed"].reset_index(drop=True)
