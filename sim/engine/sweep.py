"""Sweeps: declarative experiments run in chunks on local processes or Dask, resumable.

An experiment (``configs/experiment/<name>.yaml``) declares base model
overrides, named scenarios, a design (:mod:`sim.engine.design`) and the
number of replications; a profile (``configs/profile/``) sets the scale
(``quick`` for CI and a first look, ``paper`` for the figures) and an executor
(``configs/executor/``) where runs go. :func:`run_sweep` expands everything
into runs, skips the ones already stored, dispatches the rest in chunks,
stores each chunk as it finishes (:mod:`sim.engine.store`) and reports
progress. Seeds: every run uses the experiment's root ``seed`` and its
replicate index; the design point never enters the seed (common random numbers).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import os
import platform
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.config import ConfigError, SimConfig

from .design import DesignConfig, DesignPoint, apply_params, check_design, design_points
from .provenance import config_hash, git_version, package_versions
from .store import Store

PLATFORM_ORDER = ("amazon", "ebay", "aliexpress", "shopify", "temu", "tiktok_shop")


# --------------------------------------------------------------------- schema


@dataclass
class ProfileConfig:
    """Scale of an experiment: ``quick`` (minutes on 2 cores) or ``paper``."""

    name: str = "quick"
    merchants: int = 400
    replications: int = 3
    end_date: str = "2023-12-25"
    spinup_weeks: int = 26
    samples: int | None = None  # overrides design.samples when set
    grid_levels: int | None = None  # overrides design.grid_levels when set


@dataclass
class ExecutorConfig:
    """Where runs execute: ``local`` processes or a ``dask`` cluster."""

    kind: str = "local"
    workers: int | None = None  # None: all cores (local) / all cores of a LocalCluster (dask)
    address: str | None = None  # dask scheduler address; None starts a LocalCluster
    chunk_size: int = 0  # runs per task; 0 chooses ~4 chunks per worker (at most 16 runs)
    connect_timeout_s: float = 10.0


@dataclass
class ExperimentConfig:
    """A study: base overrides, scenarios, design, replications, outcomes."""

    name: str = "experiment"
    description: str = ""
    base: list[str] = field(default_factory=list)
    scenarios: dict[str, list[str]] = field(default_factory=dict)
    baseline_scenario: str = ""
    design: DesignConfig = field(default_factory=DesignConfig)
    replications: int | None = None  # None: the profile's
    outcomes: list[str] = field(default_factory=list)
    snapshot_dates: list[str] = field(default_factory=lambda: ["2021-04-19", "2022-12-26"])


@dataclass
class SweepConfig:
    """Everything an experiment script needs."""

    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    results_dir: str = "results"
    fail_fast: bool = False
    progress: bool = True
    run_function: str = "sim.engine.sweep:simulate"


@dataclass
class RunSpec:
    """One run to execute: its id, place in the design and full model config."""

    run_id: str
    point_id: int
    scenario: str
    replicate: int
    params: dict[str, Any]
    config: SimConfig
    snapshot_dates: list[str]


# ------------------------------------------------------------------ expansion


def profile_overrides(profile: ProfileConfig) -> list[str]:
    """Model overrides implied by a profile."""
    return [
        f"merchants.count={profile.merchants}",
        f"time.end_date={profile.end_date}",
        f"time.spinup_weeks={profile.spinup_weeks}",
    ]


def expand(sweep: SweepConfig) -> tuple[list[DesignPoint], list[RunSpec]]:
    """Validate the experiment and expand it into design points and runs.

    Raises:
        ConfigError: before anything runs, naming the offending key.
    """
    from .compose import compose_config

    exp, prof = sweep.experiment, sweep.profile
    reps = exp.replications if exp.replications is not None else prof.replications
    if reps < 1:
        raise ConfigError(f"replications: must be at least 1, got {reps}")
    if sweep.executor.kind not in ("local", "dask"):
        raise ConfigError(
            f"executor.kind: {sweep.executor.kind!r} is not allowed; choose local or dask"
        )
    if sweep.executor.workers is not None and sweep.executor.workers < 1:
        raise ConfigError(f"executor.workers: must be at least 1, got {sweep.executor.workers}")
    design = dataclasses.replace(exp.design)
    if prof.samples is not None:
        design.samples = prof.samples
    if prof.grid_levels is not None:
        design.grid_levels = prof.grid_levels
    scenarios = list(exp.scenarios) or [""]
    if exp.baseline_scenario and exp.baseline_scenario not in exp.scenarios:
        raise ConfigError(
            f"experiment.baseline_scenario: {exp.baseline_scenario!r} is not a scenario; "
            f"choose one of {', '.join(exp.scenarios)}"
        )
    bases: dict[str, SimConfig] = {}
    for s in scenarios:
        try:
            bases[s] = compose_config(
                [*exp.base, *profile_overrides(prof), *exp.scenarios.get(s, [])]
            )
        except ConfigError as exc:
            where = f"experiment.scenarios.{s}" if s else "experiment.base"
            raise ConfigError(f"{where}: {exc}") from None
    check_design(design, bases[scenarios[0]])
    points = design_points(design, list(exp.scenarios))
    specs = []
    for pt in points:
        base = bases[pt.scenario or ""]
        for rep in range(reps):
            try:
                cfg = apply_params(base, pt.params, base.seed, rep)
            except ConfigError as exc:
                raise ConfigError(f"design point {pt.point_id} {pt.params}: {exc}") from None
            run_id = config_hash(cfg)[:16]
            specs.append(
                RunSpec(run_id, pt.point_id, pt.scenario, rep, pt.params, cfg, exp.snapshot_dates)
            )
    return points, specs


# ----------------------------------------------------------------- one run


def portfolio_key(row: np.ndarray, names: list[str]) -> str:
    """Platform portfolio of a firm as 'amazon+ebay' (fixed platform order), 'none' if empty."""
    picked = [n for n in PLATFORM_ORDER if n in names and row[names.index(n)]]
    return "+".join(picked) if picked else "none"


def _snapshot(model) -> dict[str, np.ndarray]:
    n = model.firms.n
    return {
        "alive": model.firms.alive[:n].copy(),
        "listed": model.listed[:n].copy(),
        "origin": model.firms.origin[:n].copy(),
    }


def portfolio_transitions(model, first: dict, second: dict) -> pd.DataFrame:
    """Firms by (origin, portfolio at the first snapshot, portfolio at the second)."""
    names = model.platform_names
    n1 = first["alive"].shape[0]
    n2 = second["alive"].shape[0]
    rows: dict[tuple[str, str, str], float] = {}
    origins = ("CN", "other")
    for i in range(n2):
        was = i < n1 and first["alive"][i]
        now = second["alive"][i]
        if not was and not now:
            continue
        a = portfolio_key(first["listed"][i], names) if was else "entered"
        b = portfolio_key(second["listed"][i], names) if now else "exited"
        key = (origins[int(second["origin"][i])], a, b)
        rows[key] = rows.get(key, 0.0) + 1.0
    return pd.DataFrame(
        [(o, a, b, m) for (o, a, b), m in sorted(rows.items())],
        columns=["origin", "portfolio_from", "portfolio_to", "merchants"],
    )


def simulate(spec: RunSpec) -> dict[str, Any]:
    """Run one spec; return its tables and summary (the default run function)."""
    return simulate_with(spec)


def simulate_with(
    spec: RunSpec,
    measure: Callable[[Any], dict[str, Any]] | None = None,
    measure_date: str | None = None,
    key: str = "measures",
) -> dict[str, Any]:
    """Run one spec as :func:`simulate` does, optionally measuring the live model once.

    With ``measure``, it is called on the model after the last step on or before
    ``measure_date``; its dict goes into the summary under ``key`` (the store
    flattens it to ``<key>.<name>`` columns) and its time is left out of the
    run's wall time. Tables and the rest of the summary are those of
    :func:`simulate`, bit for bit.
    """
    from sim.core.model import MarketModel, release_model

    from .runner import flows_frame, summarize, timeseries_frame

    t0 = time.perf_counter()
    model = MarketModel(spec.config)
    cal = model.calendar
    snap_steps = [cal.last_step_on_or_before(d) for d in spec.snapshot_dates[:2]]
    measure_step = cal.last_step_on_or_before(measure_date) if measure else None
    snaps: list[dict] = []
    extra: dict[str, Any] = {}
    measure_time = 0.0
    while model.running:
        model.step()
        if model.t in snap_steps:
            snaps.append(_snapshot(model))
        if model.t == measure_step:
            m0 = time.perf_counter()
            extra = measure(model)
            measure_time = time.perf_counter() - m0
    wall = time.perf_counter() - t0 - measure_time
    ts = timeseries_frame(model)
    fl = flows_frame(model)
    summary = summarize(model, ts, fl, wall)
    if extra:
        summary[key] = extra
    port = None
    if len(snaps) == 2:
        port = portfolio_transitions(model, snaps[0], snaps[1])
        port.insert(0, "date_to", pd.Timestamp(cal.date(snap_steps[1])))
        port.insert(0, "date_from", pd.Timestamp(cal.date(snap_steps[0])))
    release_model(model)
    return {"timeseries": ts, "flows": fl, "summary": summary, "portfolios": port}


def _resolve_function(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _flat(summary: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in summary.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                out[f"{k}.{kk}"] = vv
        else:
            out[k] = v
    return out


def run_chunk(specs: list[RunSpec], run_function: str) -> list[dict[str, Any]]:
    """Execute a chunk of runs (in a worker); a failing run is returned as data."""
    fn = _resolve_function(run_function)
    host = socket.gethostname()
    out = []
    for spec in specs:
        t0 = time.perf_counter()
        try:
            res = fn(spec)
            status, error = "ok", None
        except Exception:  # a model failure is a result, not a crash of the sweep
            res, status, error = None, "failed", traceback.format_exc()
        out.append(
            {
                "spec": spec,
                "status": status,
                "error": error,
                "duration_s": time.perf_counter() - t0,
                "host": host,
                "result": res,
            }
        )
    return out


# ---------------------------------------------------------------- executors


def _chunks(specs: list[RunSpec], size: int) -> list[list[RunSpec]]:
    return [specs[i : i + size] for i in range(0, len(specs), size)]


def chunk_size(n_runs: int, workers: int, configured: int) -> int:
    """Runs per task: configured, or about four chunks per worker (1..16 runs)."""
    if configured > 0:
        return configured
    return max(1, min(16, math.ceil(n_runs / max(1, 4 * workers))))


class LocalExecutor:
    """Runs chunks in local worker processes (in-process with one worker)."""

    def __init__(self, workers: int | None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool = None

    def __enter__(self) -> LocalExecutor:
        if self.workers > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"))
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def map_unordered(self, chunks, run_function):
        if self._pool is None:
            for c in chunks:
                yield run_chunk(c, run_function)
            return
        from concurrent.futures import as_completed

        futures = [self._pool.submit(run_chunk, c, run_function) for c in chunks]
        for fut in as_completed(futures):
            yield fut.result()


class DaskExecutor:
    """Runs chunks on a Dask cluster: ``address`` or a new LocalCluster of processes."""

    def __init__(self, workers: int | None, address: str | None, timeout: float) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.address = address
        self.timeout = timeout
        self.client = None
        self.cluster = None

    def __enter__(self) -> DaskExecutor:
        from distributed import Client, LocalCluster

        if self.address:
            try:
                self.client = Client(self.address, timeout=f"{self.timeout}s")
            except (OSError, TimeoutError) as exc:
                raise ConfigError(
                    f"executor.address: cannot reach a Dask scheduler at {self.address!r} "
                    f"within {self.timeout:g} s ({type(exc).__name__}); start one with "
                    "`dask scheduler` or leave executor.address unset for a LocalCluster"
                ) from None
            n = len(self.client.scheduler_info().get("workers", {}))
            self.workers = max(n, 1)
        else:
            self.cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=40,
            )
            self.client = Client(self.cluster)
        return self

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def map_unordered(self, chunks, run_function):
        from distributed import as_completed

        futures = [self.client.submit(run_chunk, c, run_function, pure=False) for c in chunks]
        for fut in as_completed(futures):
            yield fut.result()


def make_executor(cfg: ExecutorConfig):
    """The executor named by ``cfg.kind``."""
    if cfg.kind == "dask":
        return DaskExecutor(cfg.workers, cfg.address, cfg.connect_timeout_s)
    return LocalExecutor(cfg.workers)


# ------------------------------------------------------------------- sweep


@dataclass
class SweepReport:
    """What a sweep did."""

    total: int
    done: int
    failed: int
    skipped: int
    wall_s: float
    root: Path

    def line(self) -> str:
        """One-line summary: runs done, failed, skipped, wall time, runs per second."""
        rate = self.done / self.wall_s if self.wall_s > 0 else float("nan")
        return (
            f"{self.root.name}: {self.done} done, {self.failed} failed, {self.skipped} skipped "
            f"of {self.total} runs in {self.wall_s:.1f} s ({rate:.2f} runs/s)"
        )


def experiment_dir(sweep: SweepConfig) -> Path:
    """``<results_dir>/<experiment name>``."""
    return Path(sweep.results_dir) / sweep.experiment.name


def _manifest_row(item: dict[str, Any], attempt: int) -> dict[str, Any]:
    spec: RunSpec = item["spec"]
    row = {
        "run_id": spec.run_id,
        "point_id": spec.point_id,
        "scenario": spec.scenario,
        "replicate": spec.replicate,
        "seed": spec.config.seed,
        "status": item["status"],
        "error": item["error"],
        "duration_s": item["duration_s"],
        "host": item["host"],
        "finished_utc": pd.Timestamp.now(tz="UTC").isoformat(),
        "attempt": attempt,
    }
    for k, v in spec.params.items():
        row[f"param.{k}"] = v
    return row


def _tag(df: pd.DataFrame | None, spec: RunSpec) -> pd.DataFrame | None:
    if df is None:
        return None
    df = df.drop(columns=[c for c in ("run_id", "point_id", "scenario", "replicate") if c in df])
    df.insert(0, "replicate", spec.replicate)
    df.insert(0, "scenario", spec.scenario)
    df.insert(0, "point_id", spec.point_id)
    df.insert(0, "run_id", spec.run_id)
    return df


def run_sweep(
    sweep: SweepConfig, specs: list[RunSpec] | None = None, points: list[DesignPoint] | None = None
) -> SweepReport:
    """Run (or resume) a sweep; store results chunk by chunk; return a report.

    Runs already stored with status "ok" are skipped, failed ones retried.
    With ``fail_fast`` the sweep stops after the first failed chunk is stored.
    """
    if specs is None:
        points, specs = expand(sweep)
    root = experiment_dir(sweep)
    store = Store(root)
    store.prepare()
    manifest = store.read_manifest()
    attempts = (
        dict(zip(manifest["run_id"], manifest["attempt"], strict=True)) if len(manifest) else {}
    )
    done = store.done_runs()
    todo = [s for s in specs if s.run_id not in done]
    store.write_json(
        "design.json",
        {
            "experiment": dataclasses.asdict(sweep.experiment),
            "profile": dataclasses.asdict(sweep.profile),
            "points": [dataclasses.asdict(p) for p in points or []],
            "runs": [
                {
                    "run_id": s.run_id,
                    "point_id": s.point_id,
                    "scenario": s.scenario,
                    "replicate": s.replicate,
                }
                for s in specs
            ],
        },
    )
    started = time.time()
    executor = make_executor(sweep.executor)
    n_done = n_failed = 0
    t0 = time.perf_counter()
    with executor as ex:
        size = chunk_size(len(todo), ex.workers, sweep.executor.chunk_size)
        chunks = _chunks(todo, size)
        bar = _progress(len(todo), sweep.progress, root.name)
        try:
            for items in ex.map_unordered(chunks, sweep.run_function):
                rows, tables = [], {"timeseries": [], "flows": [], "summary": [], "portfolios": []}
                for item in items:
                    spec = item["spec"]
                    rows.append(_manifest_row(item, attempts.get(spec.run_id, 0) + 1))
                    res = item["result"]
                    if item["status"] == "ok":
                        tables["timeseries"].append(_tag(res["timeseries"], spec))
                        tables["flows"].append(_tag(res["flows"], spec))
                        tables["portfolios"].append(_tag(res.get("portfolios"), spec))
                        tables["summary"].append(_tag(pd.DataFrame([_flat(res["summary"])]), spec))
                store.write_chunk(rows, tables)
                ok = sum(r["status"] == "ok" for r in rows)
                n_done += ok
                n_failed += len(rows) - ok
                bar.update(len(rows))
                if sweep.fail_fast and n_failed:
                    break
        finally:
            bar.close()
    wall = time.perf_counter() - t0
    if todo or store.read_json("provenance.json") is None:
        # a resume with nothing left to run keeps the provenance of the runs it found
        store.write_json("provenance.json", _sweep_provenance(sweep, started, len(specs)))
    return SweepReport(len(specs), n_done, n_failed, len(specs) - len(todo), wall, root)


def _progress(total: int, enabled: bool, label: str):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=label,
        unit="run",
        disable=not enabled or total == 0,
        file=sys.stderr,
        smoothing=0.1,
    )


def _sweep_provenance(sweep: SweepConfig, started: float, n_runs: int) -> dict[str, Any]:
    return {
        **git_version(),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "started_utc": pd.Timestamp(started, unit="s", tz="UTC").isoformat(),
        "ended_utc": pd.Timestamp.now(tz="UTC").isoformat(),
        "experiment": sweep.experiment.name,
        "profile": sweep.profile.name,
        "executor": dataclasses.asdict(sweep.executor),
        "runs": n_runs,
        "command": " ".join(sys.argv),
    }
