"""Sweep engine: designs, executors agree, crash safety and resume, failures as data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.load import failures, load_manifest, load_summary, load_timeseries
from sim.core.config import ConfigError
from sim.core.model import MarketModel
from sim.engine import testing
from sim.engine.compose import compose_sweep
from sim.engine.design import DesignConfig, ParameterSpec, design_points
from sim.engine.store import Store
from sim.engine.sweep import InertLeverWarning, expand, run_sweep
from sim.engine.testing import FAIL_MARK

ROOT = Path(__file__).resolve().parents[1]
AUDIT = "policy.enforcement.amazon.audit_probability_per_week"
SALIENCE = "behaviour.risk_salience"

TINY = [
    "profile.merchants=120",
    "profile.replications=2",
    "profile.end_date=2021-09-27",
    "profile.spinup_weeks=4",
    "progress=false",
]


def tiny_sweep(tmp_path, *extra, experiment="certainty_severity"):
    sweep = compose_sweep(experiment, [*TINY, f"results_dir={tmp_path}", *extra])
    sweep.experiment.scenarios = {}
    sweep.experiment.baseline_scenario = ""
    sweep.experiment.design = DesignConfig(
        kind="grid",
        parameters={
            AUDIT: ParameterSpec(levels=[0.01, 0.05]),
            SALIENCE: ParameterSpec(levels=[2.0, 5.0]),
        },
    )
    return sweep


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    keys = [
        c
        for c in ("run_id", "step", "platform", "origin", "from_platform", "to_platform", "cause")
        if c in df
    ]
    return df.sort_values(keys).reset_index(drop=True)


def _tables(root: Path) -> dict[str, pd.DataFrame]:
    summ = load_summary(root).drop(columns=["wall_time_s"])
    return {"summary": _sorted(summ), "timeseries": _sorted(load_timeseries(root))}


# ------------------------------------------------------------------- designs


def test_grid_is_full_factorial_and_crossed_with_scenarios():
    d = DesignConfig(
        kind="grid",
        parameters={"a": ParameterSpec(levels=[1, 2, 3]), "b": ParameterSpec(lower=0.0, upper=1.0)},
        grid_levels=2,
    )
    pts = design_points(d, ["s1", "s2"])
    assert len(pts) == 2 * 3 * 2
    assert [p.point_id for p in pts] == list(range(12))
    assert {p.scenario for p in pts} == {"s1", "s2"}
    assert {(p.params["a"], p.params["b"]) for p in pts if p.scenario == "s1"} == {
        (a, b) for a in (1, 2, 3) for b in (0.0, 1.0)
    }


@pytest.mark.parametrize("kind", ["lhs", "sobol", "morris"])
def test_samplers_stay_in_bounds_and_are_reproducible(kind):
    d = DesignConfig(
        kind=kind,
        samples=8,
        parameters={"a": ParameterSpec(lower=0.1, upper=0.5), "b": ParameterSpec(lower=2, upper=9)},
    )
    pts = design_points(d, [])
    again = design_points(d, [])
    assert [p.params for p in pts] == [p.params for p in again]
    a = np.array([p.params["a"] for p in pts])
    b = np.array([p.params["b"] for p in pts])
    assert len(pts) >= 8
    assert a.min() >= 0.1 and a.max() <= 0.5 and b.min() >= 2 and b.max() <= 9
    if kind == "lhs":  # one point per stratum of each axis
        strata = np.floor((a - 0.1) / 0.4 * 8).clip(0, 7)
        assert sorted(strata) == list(range(8))


LAG = "policy.enforcement.amazon.review_deletion_lag_days"


def _lag_study(tmp_path, *base: str, strengths=None):
    """certainty_severity (its scenarios vary Amazon's deletion lag 30/100/300 days)
    with a one-point design, or a grid over Amazon's targeting strength."""
    sweep = compose_sweep("certainty_severity", [*TINY, f"results_dir={tmp_path}"])
    sweep.experiment.base = [*sweep.experiment.base, *base]
    levels = strengths or [4.0]
    key = "policy.enforcement.amazon.targeting_strength"
    sweep.experiment.design = DesignConfig(
        kind="grid", parameters={key: ParameterSpec(levels=levels)}
    )
    return sweep


def _expand_warnings(sweep) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expand(sweep)
    return [str(w.message) for w in caught if issubclass(w.category, InertLeverWarning)]


def test_a_deletion_lag_study_under_random_audits_warns_once(tmp_path):
    """The deletion lag acts only through risk-targeted audits (ODD 7.2): a study that
    varies it where audits are random gets one warning naming the lever and why."""
    # the preset study: risk targeting at strength 4, no warning
    assert _expand_warnings(_lag_study(tmp_path)) == []
    # random audits: one warning, naming the platform's lag and its values
    got = _expand_warnings(_lag_study(tmp_path, "policy.enforcement.amazon.targeting=random"))
    assert len(got) == 1
    assert f"{LAG} (30, 100, 300)" in got[0] and "targeting=random" in got[0]
    assert "certainty_severity" in got[0] and "ODD.md 7.2" in got[0]
    # a design that also varies the strength warns for its strength-0 runs only
    got = _expand_warnings(_lag_study(tmp_path, strengths=[0.0, 4.0]))
    assert len(got) == 1 and f"{LAG} (30, 100, 300)" in got[0]
    # a constant lag under random audits, with the rate varied instead
    sweep = _lag_study(tmp_path, "policy.enforcement.amazon.targeting=random")
    sweep.experiment.scenarios = {
        "keep": ["policy.enforcement.amazon.review_deletion_rate=0.9"],
        "none": ["policy.enforcement.amazon.review_deletion_rate=0"],
    }
    sweep.experiment.baseline_scenario = "keep"
    got = _expand_warnings(sweep)
    assert len(got) == 1
    assert "review_deletion_rate (0, 0.9)" in got[0] and LAG not in got[0]


def test_replicate_k_has_the_same_initial_population_in_every_scenario(tmp_path):
    sweep = compose_sweep("unilateral_coordinated", [*TINY, f"results_dir={tmp_path}"])
    _, specs = expand(sweep)
    by_rep: dict[int, list] = {}
    for s in specs:
        by_rep.setdefault(s.replicate, []).append(s)
    for group in by_rep.values():
        assert len({s.scenario for s in group}) > 1
        assert len({s.config.seed for s in group}) == 1
        firms = [MarketModel(s.config).firms for s in group]
        for f in firms[1:]:
            for col in ("size", "quality", "price", "propensity", "origin", "member"):
                np.testing.assert_array_equal(f.view(col), firms[0].view(col), err_msg=col)
    assert len(by_rep) == 2


# -------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"policy.enforcement.amazon.audit_probability": ParameterSpec(0.0, 1.0)}, "unknown"),
        ({AUDIT: ParameterSpec(0.5, 0.1)}, "greater than upper"),
    ],
    ids=["unknown_parameter", "lower_above_upper"],
)
def test_bad_design_is_one_clear_error_before_anything_runs(tmp_path, spec, needle):
    sweep = tiny_sweep(tmp_path)
    sweep.experiment.design = DesignConfig(kind="grid", parameters=spec)
    with pytest.raises(ConfigError) as err:
        run_sweep(sweep)
    assert f"design.parameters.{next(iter(spec))}" in str(err.value)
    assert needle in str(err.value)
    assert not (tmp_path / "certainty_severity").exists()


def test_zero_replications_is_rejected(tmp_path):
    sweep = tiny_sweep(tmp_path, "profile.replications=0")
    with pytest.raises(ConfigError, match=r"replications: must be at least 1"):
        run_sweep(sweep)


def test_unknown_experiment_and_profile_name_the_choices(tmp_path):
    with pytest.raises(ConfigError, match=r"experiment: unknown preset 'nope'"):
        compose_sweep("nope", [])
    with pytest.raises(ConfigError, match=r"profile: unknown preset 'huge'.*paper"):
        compose_sweep("certainty_severity", ["profile=huge"])


def test_unreachable_dask_address_is_one_clear_error(tmp_path):
    sweep = tiny_sweep(
        tmp_path,
        "executor=dask",
        "executor.address=tcp://127.0.0.1:9",
        "executor.connect_timeout_s=2",
    )
    with pytest.raises(ConfigError, match=r"executor\.address: cannot reach a Dask scheduler"):
        run_sweep(sweep)
    assert not (tmp_path / "certainty_severity").exists()  # nothing written, not even a folder


# ------------------------------------------------ executors give equal stores


def test_one_worker_two_workers_and_dask_store_identical_results(tmp_path):
    stores = {}
    for label, extra in {
        "w1": ["executor.workers=1"],
        "w2": ["executor.workers=2", "executor.chunk_size=1"],
        "dask": ["executor=dask", "executor.workers=2"],
    }.items():
        sweep = tiny_sweep(tmp_path / label, *extra)
        report = run_sweep(sweep)
        assert (report.done, report.failed, report.skipped) == (8, 0, 0)
        stores[label] = _tables(tmp_path / label / "certainty_severity")
    for label in ("w2", "dask"):
        for name, df in stores[label].items():
            pd.testing.assert_frame_equal(df, stores["w1"][name], obj=f"{label}/{name}")


# ------------------------------------------------------- resume, failures


def test_rerun_skips_finished_runs_and_duplicates_nothing(tmp_path):
    sweep = tiny_sweep(tmp_path, "executor.workers=1")
    first = run_sweep(sweep)
    second = run_sweep(sweep)
    assert first.done == 8 and second.skipped == 8 and second.done == 0
    summ = load_summary(tmp_path / "certainty_severity")
    assert len(summ) == 8 and summ["run_id"].is_unique


def test_failing_point_is_recorded_and_the_rest_completes_then_retried(tmp_path, monkeypatch):
    sweep = tiny_sweep(tmp_path, "executor.workers=1", "executor.chunk_size=1")
    sweep.experiment.design.parameters[SALIENCE] = ParameterSpec(levels=[2.0, FAIL_MARK])
    sweep.run_function = "sim.engine.testing:fail_on_marked_point"
    report = run_sweep(sweep)
    assert (report.done, report.failed) == (4, 4)
    bad = failures(tmp_path / "certainty_severity")
    assert len(bad) == 4
    assert bad["error"].str.contains("injected failure at design point").all()
    assert (bad[f"param.{SALIENCE}"] == FAIL_MARK).all()
    # re-running retries only the failed runs (they fail again: attempt 2)
    again = run_sweep(sweep)
    assert (again.skipped, again.failed) == (4, 4)
    assert (failures(tmp_path / "certainty_severity")["attempt"] == 2).all()
    # with the failure gone (same run function: it is part of the run id), the
    # retry succeeds and nothing is duplicated
    monkeypatch.setattr(testing, "FAIL_MARK", -1.0)
    third = run_sweep(sweep)
    assert (third.done, third.failed, third.skipped) == (4, 0, 4)
    assert len(load_summary(tmp_path / "certainty_severity")) == 8


def test_fail_fast_stops_after_the_first_failure(tmp_path):
    sweep = tiny_sweep(tmp_path, "executor.workers=1", "executor.chunk_size=1", "fail_fast=true")
    sweep.experiment.design.parameters[AUDIT] = ParameterSpec(levels=[0.01])
    sweep.experiment.design.parameters[SALIENCE] = ParameterSpec(levels=[FAIL_MARK, 2.0])
    sweep.run_function = "sim.engine.testing:fail_on_marked_point"
    report = run_sweep(sweep)
    assert report.failed == 1
    assert report.done + report.failed < 4


def test_orphan_parts_of_a_killed_chunk_are_never_read(tmp_path):
    sweep = tiny_sweep(tmp_path, "executor.workers=1")
    run_sweep(sweep)
    root = tmp_path / "certainty_severity"
    before = _tables(root)
    # a chunk killed after its data parts were written but before its manifest part
    orphan = root / "summary" / "part-deadbeefdeadbeef.parquet"
    load_summary(root).head(2).to_parquet(orphan)
    (root / "timeseries" / ".part-x.parquet.tmp").write_text("half-written")
    after = _tables(root)
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name])
    with Store(root).lock() as store:
        store.prepare()  # a resumed sweep cleans them up (under the writer lock)
    assert not orphan.exists()
    assert not list((root / "timeseries").glob(".*.tmp"))


def _wait_for_parts(path: Path, n: int, timeout: float) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if len(list(path.glob("part-*.parquet"))) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} manifest parts after {timeout} s")


def test_sigkill_mid_sweep_then_rerun_equals_an_uninterrupted_run(tmp_path):
    args = [
        *TINY,
        "executor.workers=1",
        "executor.chunk_size=1",
        "experiment.scenarios={}",
        "experiment.baseline_scenario=''",
    ]
    cmd = [sys.executable, "-m", "experiments.certainty_severity", *args]
    killed = tmp_path / "killed"
    clean = tmp_path / "clean"
    proc = subprocess.Popen(
        [*cmd, f"results_dir={killed}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_parts(killed / "certainty_severity" / "manifest", 2, timeout=120)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    n_before = len(load_manifest(killed / "certainty_severity"))
    assert 0 < n_before < 16
    subprocess.run([*cmd, f"results_dir={killed}"], cwd=ROOT, check=True, capture_output=True)
    subprocess.run([*cmd, f"results_dir={clean}"], cwd=ROOT, check=True, capture_output=True)
    a, b = _tables(killed / "certainty_severity"), _tables(clean / "certainty_severity")
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)
    assert load_manifest(killed / "certainty_severity")["run_id"].is_unique


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_hydra_multirun_dirs_gather_into_sweep_tables(tmp_path, launcher):
    from sim import compose_config, run
    from sim.engine.gather import gather

    common = ["merchants.count=100", "time.end_date=2020-06-29", "time.spinup_weeks=2"]
    cmd = [
        sys.executable,
        "-m",
        "sim",
        "-m",
        f"hydra/launcher={launcher}",
        "policy=none,crackdown_2021",
        *common,
        f"hydra.sweep.dir={tmp_path / 'mr'}",
    ]
    if launcher == "joblib":
        cmd.append("hydra.launcher.n_jobs=2")
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    assert gather(tmp_path / "mr", tmp_path / "store") == 2
    assert gather(tmp_path / "mr", tmp_path / "store") == 0  # nothing duplicated
    summ = load_summary(tmp_path / "store")
    assert sorted(summ["param.policy"]) == ["crackdown_2021", "none"]
    ts = load_timeseries(tmp_path / "store")
    for policy in ("none", "crackdown_2021"):
        expected = run(compose_config([f"policy={policy}", *common])).timeseries
        rid = summ.loc[summ["param.policy"] == policy, "run_id"].item()
        got = ts[ts["run_id"] == rid].drop(columns=["run_id", "point_id", "scenario", "replicate"])
        got = got.sort_values(["step", "platform", "origin"]).reset_index(drop=True)
        exp = expected.sort_values(["step", "platform", "origin"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got[exp.columns], exp, check_dtype=False)
