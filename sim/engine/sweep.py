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
import hashlib
import importlib
import json
import math
import os
import platform
import re
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.config import ConfigError, SimConfig

from .design import DesignConfig, DesignPoint, apply_params, check_design, design_points
from .provenance import code_key, code_version, config_dict, git_version, package_versions
from .store import FORMAT, TABLES, Store, StoreError

PLATFORM_ORDER = ("amazon", "ebay", "aliexpress", "shopify", "temu", "tiktok_shop")

#: The project's run functions; another ``module:function`` needs
#: ``allow_custom_run_function=true`` (importing it runs its module's code).
RUN_FUNCTIONS = (
    "sim.engine.sweep:simulate",
    "sim.validation.run:simulate",
    "sim.engine.testing:fail_on_marked_point",
)
ON_CODE_CHANGE = ("stop", "separate")
#: Experiment names become folder names: plain names only (no paths).
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


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
    allow_custom_run_function: bool = False  # true: any importable module:function
    lock_wait_s: float = 0.0  # wait this long for another writer of the store (0: stop)
    on_code_change: str = "stop"  # stop | separate (see docs/experiments.md)


class CodeChanged(StoreError):
    """Stored runs of this design were made by other code; the sweep will not mix them."""


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


def run_identity(
    cfg: SimConfig, snapshot_dates: list[str], run_function: str, code: str | None = None
) -> str:
    """Run id: 16 hex digits of the SHA-256 of everything that determines a run's stored outputs.

    That is the full model config (seed and replicate included), the snapshot
    dates, the stored tables and format, the run function, and with
    ``on_code_change=separate`` the code key (:func:`sim.engine.provenance.code_key`).
    """
    blob = json.dumps(
        {
            "config": config_dict(cfg),
            "snapshot_dates": list(snapshot_dates),
            "tables": list(TABLES),
            "format": FORMAT,
            "run_function": run_function,
            "code": code,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def check_sweep(sweep: SweepConfig) -> None:
    """Checks of the sweep's own keys (before any model config is composed).

    Raises:
        ConfigError: naming the key and what is allowed.
    """
    from sim.core.config import parse_date

    name = sweep.experiment.name
    if not PLAIN_NAME.fullmatch(name) or name in (".", ".."):
        raise ConfigError(
            f"experiment.name: {name!r} is not a plain name; use letters, digits, '_', '-' "
            "and '.' only (it names the folder <results_dir>/<name>/; choose the folder "
            "with results_dir=...)"
        )
    ex = sweep.executor
    if ex.kind not in ("local", "dask"):
        raise ConfigError(f"executor.kind: {ex.kind!r} is not allowed; choose local or dask")
    if ex.workers is not None and ex.workers < 1:
        raise ConfigError(
            f"executor.workers: must be at least 1 (or null: all cores), got {ex.workers}"
        )
    if ex.chunk_size < 0:
        raise ConfigError(
            f"executor.chunk_size: must be at least 0 (0: automatic), got {ex.chunk_size}"
        )
    if not ex.connect_timeout_s > 0:
        raise ConfigError(
            f"executor.connect_timeout_s: must be above 0 seconds, got {ex.connect_timeout_s}"
        )
    if not sweep.lock_wait_s >= 0:
        raise ConfigError(f"lock_wait_s: must be at least 0 seconds, got {sweep.lock_wait_s}")
    if sweep.on_code_change not in ON_CODE_CHANGE:
        raise ConfigError(
            f"on_code_change: {sweep.on_code_change!r} is not allowed; choose one of "
            f"{', '.join(ON_CODE_CHANGE)}"
        )
    for i, d in enumerate(sweep.experiment.snapshot_dates):
        parse_date(d, f"experiment.snapshot_dates[{i}]")
    resolve_run_function(sweep.run_function, sweep.allow_custom_run_function)


def resolve_run_function(path: str, allow_custom: bool = False) -> Callable:
    """The run function named ``module:function``, checked before anything runs.

    Raises:
        ConfigError: not one of :data:`RUN_FUNCTIONS` (unless ``allow_custom``),
            malformed, not importable or not callable.
    """
    if path not in RUN_FUNCTIONS and not allow_custom:
        raise ConfigError(
            f"run_function: {path!r} is not one of the project's run functions "
            f"({', '.join(RUN_FUNCTIONS)}); set allow_custom_run_function=true to run "
            "your own module:function (its module is imported and run)"
        )
    module, sep, name = path.partition(":")
    if not sep or not module or not name.isidentifier():
        raise ConfigError(f"run_function: {path!r} is not of the form module:function")
    try:
        fn = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ConfigError(f"run_function: cannot import module {module!r} ({exc})") from None
    except AttributeError:
        raise ConfigError(f"run_function: module {module!r} has no {name!r}") from None
    if not callable(fn):
        raise ConfigError(f"run_function: {path!r} is not callable")
    return fn


#: Model keys a profile sets, so that an error on one of them names the profile key.
PROFILE_KEYS = {
    "merchants.count": "profile.merchants",
    "time.end_date": "profile.end_date",
    "time.spinup_weeks": "profile.spinup_weeks",
}


def _blame_profile(message: str, prof: ProfileConfig) -> str | None:
    """A model-config error caused by a profile value, reworded to name the profile key."""
    key = message.split(":", 1)[0]
    if key not in PROFILE_KEYS:
        return None
    return f"{PROFILE_KEYS[key]}: {message} (the profile sets {key})"


def require_merchants(cfg: SimConfig, key: str = "merchants.count") -> None:
    """Entry points need at least one firm: with none the market stays empty.

    Raises:
        ConfigError: ``merchants.count`` is 0.
    """
    if cfg.merchants.count < 1:
        raise ConfigError(
            f"{key}: 0 firms gives an empty market (entry is a share of the initial firms, "
            "so none ever enters); use at least 1"
        )


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
    check_sweep(sweep)
    reps = exp.replications if exp.replications is not None else prof.replications
    if reps < 1:
        where = "experiment." if exp.replications is not None else "profile."
        where += "replications"
        raise ConfigError(f"{where}: must be at least 1, got {reps}")
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
            blamed = _blame_profile(str(exc), prof)
            if blamed:
                raise ConfigError(blamed) from None
            where = f"experiment.scenarios.{s}" if s else "experiment.base"
            raise ConfigError(f"{where}: {exc}") from None
        if bases[s].merchants.count < 1:
            require_merchants(bases[s], "profile.merchants")
    check_design(design, bases[scenarios[0]])
    code = code_key(code_version()) if sweep.on_code_change == "separate" else None
    points = design_points(design, list(exp.scenarios))
    specs = []
    for pt in points:
        base = bases[pt.scenario or ""]
        for rep in range(reps):
            try:
                cfg = apply_params(base, pt.params, base.seed, rep)
            except ConfigError as exc:
                raise ConfigError(f"design point {pt.point_id} {pt.params}: {exc}") from None
            run_id = run_identity(cfg, exp.snapshot_dates, sweep.run_function, code)
            specs.append(
                RunSpec(run_id, pt.point_id, pt.scenario, rep, pt.params, cfg, exp.snapshot_dates)
            )
    message = inert_deletion_message([s.config for s in specs])
    if message:
        warnings.warn(f"experiment {exp.name}: {message}", InertLeverWarning, stacklevel=2)
    return points, specs


class InertLeverWarning(UserWarning):
    """A sweep varies a lever that cannot change the model's outcomes where it is varied."""


#: Deletion levers that act on outcomes only through risk-targeted audits (ODD 7.2).
DELETION_KEYS = ("review_deletion_lag_days", "review_deletion_rate")


def inert_deletion_message(configs: list[SimConfig]) -> str | None:
    """Why varying review deletion cannot change these runs' outcomes, or None.

    Deleting fake reviews removes them from the page (reported only:
    ``fake_reviews_live``, ``reviews_deleted``) and feeds the platform's
    suspicion record, which only risk-targeted audits read (ODD 7.2, 7.7). On a
    platform whose audits are random (``targeting=random``, or ``risk`` with
    ``targeting_strength`` 0) the deletion lag and rate therefore change no
    other output. Returns one message naming every platform on which
    ``review_deletion_lag_days`` or ``review_deletion_rate`` takes more than one
    value among the runs with random audits there; None when there is none.
    One pass over the runs' configs.
    """
    values: dict[tuple[str, str], set[float]] = {}
    for cfg in configs:
        for name, enf in cfg.policy.enforcement.items():
            if enf.targeting == "risk" and enf.targeting_strength > 0:
                continue
            for key in DELETION_KEYS:
                values.setdefault((name, key), set()).add(float(getattr(enf, key)))
    varied = [
        f"policy.enforcement.{name}.{key} ({', '.join(f'{v:g}' for v in sorted(vals))})"
        for (name, key), vals in values.items()
        if len(vals) > 1
    ]
    if not varied:
        return None
    return (
        f"the design varies {'; '.join(varied)} in runs whose audits on that platform are "
        "not risk-targeted (targeting=random or targeting_strength=0). Review deletion acts "
        "on outcomes only through the suspicion record that risk-targeted audits use, so "
        "these runs differ only in reviews_deleted and fake_reviews_live (docs/ODD.md 7.2); "
        "set targeting=risk with targeting_strength > 0 to study the deletion lag or rate"
    )


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
    # checked in the parent by check_sweep; a worker only imports it
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
    code = code_version()  # the code of the process that runs them
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
                "code": code,
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
        from concurrent.futures import FIRST_COMPLETED, wait

        yield from _bounded(
            chunks,
            lambda c: self._pool.submit(run_chunk, c, run_function),
            lambda pending: wait(pending, return_when=FIRST_COMPLETED).done,
            2 * self.workers,
        )


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
        from distributed import wait

        yield from _bounded(
            chunks,
            lambda c: self.client.submit(run_chunk, c, run_function, pure=False),
            lambda pending: wait(list(pending), return_when="FIRST_COMPLETED").done,
            2 * self.workers,
        )


def _bounded(chunks, submit, wait_any, window: int):
    """Yield chunk results as they finish, with at most ``window`` chunks submitted at once.

    A finished future is dropped as soon as its result is handed over, so the
    parent (and a Dask cluster) holds the results of at most ``window`` chunks,
    not of the whole sweep (a list of all futures kept every result alive).
    """
    queue = list(reversed(chunks))
    pending: set = set()
    while queue or pending:
        while queue and len(pending) < window:
            pending.add(submit(queue.pop()))
        for fut in list(wait_any(pending)):
            pending.discard(fut)
            result = fut.result()
            if hasattr(fut, "release"):
                fut.release()  # Dask: let the worker forget the result
            del fut
            yield result


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
    Nothing is written before the config is checked and the executor is up;
    then the store's writer lock is held until the end.

    Raises:
        ConfigError: a bad config or an unreachable executor (nothing written).
        StoreError: another writer holds the store (``StoreBusy``), the store is
            damaged or not writable, or stored runs of this design were made by
            other code (``CodeChanged``; see ``on_code_change``).
    """
    if specs is None:
        points, specs = expand(sweep)
    else:
        check_sweep(sweep)
    root = experiment_dir(sweep)
    store = Store(root)
    executor = make_executor(sweep.executor)
    with executor as ex, store.lock(sweep.lock_wait_s, hint="lock_wait_s=<seconds>"):
        store.prepare()
        damage = store.verify(checksums=False)
        if not damage.ok:
            raise store.damaged("; ".join(damage.lines()[:3]))
        manifest = store.read_manifest()
        _check_code(store, manifest, specs, sweep)
        attempts = (
            dict(zip(manifest["run_id"], manifest["attempt"], strict=True)) if len(manifest) else {}
        )
        done = set(manifest.loc[manifest["status"] == "ok", "run_id"]) if len(manifest) else set()
        todo = [s for s in specs if s.run_id not in done]
        store.write_json("design.json", _design_doc(sweep, specs, points))
        started = time.time()
        n_done = n_failed = 0
        t0 = time.perf_counter()
        size = chunk_size(len(todo), ex.workers, sweep.executor.chunk_size)
        bar = _progress(len(todo), sweep.progress, root.name)
        try:
            for items in ex.map_unordered(_chunks(todo, size), sweep.run_function):
                rows, tables = [], {name: [] for name in TABLES}
                for item in items:
                    spec = item["spec"]
                    rows.append(_manifest_row(item, attempts.get(spec.run_id, 0) + 1))
                    res = item.pop("result")
                    if item["status"] == "ok":
                        tables["timeseries"].append(_tag(res["timeseries"], spec))
                        tables["flows"].append(_tag(res["flows"], spec))
                        tables["portfolios"].append(_tag(res.get("portfolios"), spec))
                        tables["summary"].append(_tag(pd.DataFrame([_flat(res["summary"])]), spec))
                    del res
                store.write_chunk(rows, tables)
                del items, tables
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
            # a resume with nothing left to run keeps the provenance of the session that ran
            store.write_json(
                "provenance.json", _sweep_provenance(sweep, started, specs, store.read_manifest())
            )
    return SweepReport(len(specs), n_done, n_failed, len(specs) - len(todo), wall, root)


def _design_doc(sweep: SweepConfig, specs: list[RunSpec], points) -> dict[str, Any]:
    return {
        "experiment": dataclasses.asdict(sweep.experiment),
        "profile": dataclasses.asdict(sweep.profile),
        "run_function": sweep.run_function,
        "on_code_change": sweep.on_code_change,
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
    }


def _describe(version: dict[str, Any]) -> str:
    sha = version.get("git_sha")
    git = "no git" if not isinstance(sha, str) else sha[:10]
    if version.get("git_dirty") is True:
        git += " with uncommitted changes"
    src = version.get("source_sha256")
    return f"source {src if isinstance(src, str) else 'unrecorded'} (git {git})"


def _check_code(store: Store, manifest: pd.DataFrame, specs: list[RunSpec], sweep) -> None:
    """Stop before reusing stored runs of this design that other code made.

    Raises:
        CodeChanged: with ``on_code_change=stop`` (the default).
    """
    if not len(manifest):
        return
    ids = {s.run_id for s in specs}
    reused = manifest[(manifest["status"] == "ok") & manifest["run_id"].isin(ids)]
    if not len(reused):
        return
    now = code_version()
    key = code_key(now)
    keys = reused["code_key"] if "code_key" in reused else pd.Series(None, index=reused.index)
    other = reused[keys.fillna("") != key]
    if not len(other):
        return
    first = other.iloc[0].to_dict()
    raise CodeChanged(
        f"{store.root}: {len(other)} of the {len(reused)} stored runs of this design were made "
        f"by other code ({_describe(first)}, packages or Python may differ; now "
        f"{_describe(now)}); they are not mixed with new runs. Re-run with "
        "on_code_change=separate to run the design again under this code, keeping the old "
        "runs apart (loaders read the new ones), or use a fresh results_dir"
    )


def _manifest_row(item: dict[str, Any], attempt: int) -> dict[str, Any]:
    spec: RunSpec = item["spec"]
    code = item.get("code") or {}
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
        "git_sha": code.get("git_sha"),
        "git_dirty": code.get("git_dirty"),
        "source_sha256": code.get("source_sha256"),
        "packages": code.get("packages"),
        "python": code.get("python"),
        "code_key": code_key(code) if code else None,
    }
    for k, v in spec.params.items():
        row[f"param.{k}"] = v
    return row


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


def _sweep_provenance(
    sweep: SweepConfig, started: float, specs: list[RunSpec], manifest: pd.DataFrame
) -> dict[str, Any]:
    """This session's provenance and the code versions of the design's stored runs.

    Each manifest row records the code that made its run; ``code_versions``
    counts the successful runs of the current design per code version.
    """
    versions = []
    if len(manifest) and "code_key" in manifest:
        ids = {s.run_id for s in specs}
        ok = manifest[(manifest["status"] == "ok") & manifest["run_id"].isin(ids)]
        cols = ["code_key", "git_sha", "git_dirty", "source_sha256", "python"]
        for vals, group in ok.groupby(cols, dropna=False, sort=True):
            rec = {c: (None if pd.isna(v) else v) for c, v in zip(cols, vals, strict=True)}
            rec["git_dirty"] = None if rec["git_dirty"] is None else bool(rec["git_dirty"])
            rec["packages"] = json.loads(group["packages"].iloc[0] or "null")
            rec["runs"] = len(group)
            versions.append(rec)
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
        "runs": len(specs),
        "code_versions": versions,
        "command": " ".join(sys.argv),
    }
