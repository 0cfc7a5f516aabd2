"""The results store never loses, silently shortens or mixes runs (issue 15).

Concurrent writers, damaged parts found by verify and redone after repair,
run ids that cover what a run stores, and runs of other code kept apart.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.analysis.load import load_manifest, load_portfolios, load_summary, load_timeseries
from sim.engine import store as store_mod
from sim.engine import sweep as sweep_mod
from sim.engine.compose import compose_sweep
from sim.engine.design import DesignConfig, ParameterSpec
from sim.engine.store import Store, StoreBusy, StoreError
from sim.engine.sweep import CodeChanged, expand, run_sweep

ROOT = Path(__file__).resolve().parents[1]
AUDIT = "policy.enforcement.amazon.audit_probability_per_week"
TINY = [
    "profile.merchants=100",
    "profile.replications=2",
    "profile.end_date=2021-06-28",
    "profile.spinup_weeks=2",
    "progress=false",
    "executor.workers=1",
    "executor.chunk_size=1",
]


def tiny(tmp_path: Path, *extra: str):
    """Two audit levels x two replications = 4 runs of a few tenths of a second each."""
    sweep = compose_sweep("certainty_severity", [*TINY, f"results_dir={tmp_path}", *extra])
    sweep.experiment.scenarios = {}
    sweep.experiment.baseline_scenario = ""
    sweep.experiment.design = DesignConfig(
        kind="grid", parameters={AUDIT: ParameterSpec(levels=[0.01, 0.05])}
    )
    return sweep


def _tables(root: Path) -> dict[str, pd.DataFrame]:
    summ = load_summary(root).drop(columns=["wall_time_s"])
    ts = load_timeseries(root)
    return {
        "summary": summ.sort_values("run_id", ignore_index=True),
        "timeseries": ts.sort_values(["run_id", "step", "platform", "origin"], ignore_index=True),
    }


def _assert_equal(a: dict, b: dict) -> None:
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


def _part_of(root: Path, run_id: str) -> str:
    man = Store(root).read_manifest()
    return man.loc[man["run_id"] == run_id, "data_part"].item()


# ------------------------------------------------------------ one writer


def test_second_writer_stops_with_one_clear_message(tmp_path):
    sweep = tiny(tmp_path)
    root = tmp_path / "certainty_severity"
    with Store(root).lock():
        with pytest.raises(StoreBusy) as err:
            run_sweep(sweep)
        msg = str(err.value)
        assert "another process is writing this store" in msg and f"pid {os.getpid()}" in msg
        assert "lock_wait_s=" in msg
        sweep.lock_wait_s = 0.3  # waits, then stops with the same message
        t0 = time.monotonic()
        with pytest.raises(StoreBusy, match=r"after waiting 0\.3 s"):
            run_sweep(sweep)
        assert time.monotonic() - t0 >= 0.25
    assert not list((root / "manifest").glob("part-*"))  # nothing was written meanwhile


def test_writing_without_the_lock_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="without the store lock"):
        Store(tmp_path).write_chunk([], {})


def _wait_for_parts(path: Path, n: int, timeout: float) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if len(list(path.glob("part-*.parquet"))) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} manifest parts after {timeout} s")


@pytest.mark.slow
def test_concurrent_writers_some_killed_store_every_run_exactly_once(tmp_path):
    """Three sweeps on one store at once, the first SIGKILLed mid-way, then a fourth."""
    args = [
        *TINY,
        "experiment.scenarios={}",
        "experiment.baseline_scenario=''",
        "profile.grid_levels=2",
        f"results_dir={tmp_path}",
        "lock_wait_s=300",
    ]
    cmd = [sys.executable, "-m", "experiments.certainty_severity", *args]
    root = tmp_path / "certainty_severity"
    procs = []
    for _ in range(3):
        procs.append(
            subprocess.Popen(
                cmd,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        )
    try:
        _wait_for_parts(root / "manifest", 2, timeout=180)
        # kill whichever process holds the lock (the one writing)
        owner = json.loads((root / ".lock.owner").read_text())["pid"]
        victim = next(p for p in procs if p.pid == owner)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        outs = [p.communicate(timeout=300) for p in procs if p is not victim]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    for p, (_, err) in zip([p for p in procs if p is not victim], outs, strict=True):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    _, specs = expand(compose_sweep("certainty_severity", args))
    n = len(specs)
    assert n == 24  # 4 design points x 2 replications x the study's 3 deletion lags
    man = Store(root).read_manifest(latest=False)
    ok = man[man["status"] == "ok"]
    assert sorted(ok["run_id"]) == sorted(s.run_id for s in specs)  # each run once
    assert Store(root).verify().ok
    summ = load_summary(root)
    assert len(summ) == n and summ["run_id"].is_unique
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    assert f"0 done, 0 failed, {n} skipped" in again.stdout


# ---------------------------------------------------- verify and repair


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A finished 4-run store and its tables (the uninterrupted result)."""
    base = tmp_path_factory.mktemp("stored")
    sweep = tiny(base)
    assert run_sweep(sweep).done == 4
    root = base / "certainty_severity"
    return sweep, root, _tables(root)


def _copy(stored, tmp_path):
    import shutil

    sweep, root, tables = stored
    dst = tmp_path / "certainty_severity"
    shutil.copytree(root, dst)
    sweep = tiny(tmp_path)
    return sweep, dst, tables


def test_deleted_and_truncated_parts_are_found_repaired_and_redone(stored, tmp_path, capsys):
    sweep, root, clean = _copy(stored, tmp_path)
    man = Store(root).read_manifest()
    a, b = man["run_id"].iloc[0], man["run_id"].iloc[1]
    summary_part = root / "summary" / f"part-{_part_of(root, a)}.parquet"
    summary_part.write_bytes(summary_part.read_bytes()[:-40])  # truncated
    (root / "timeseries" / f"part-{_part_of(root, b)}.parquet").unlink()  # deleted

    # loaders and a re-run stop with one clear error instead of dropping runs
    with pytest.raises(StoreError, match=r"damaged store: .*repair"):
        load_summary(root)
    with pytest.raises(StoreError, match=r"damaged store: .*missing"):
        load_timeseries(root)
    with pytest.raises(StoreError, match=r"damaged store"):
        run_sweep(sweep)

    assert store_mod.main(["verify", str(root)]) == 1
    out = capsys.readouterr().out
    assert "truncated data part summary/" in out and "missing data part timeseries/" in out
    assert store_mod.main(["repair", str(root)]) == 0
    assert "2 runs marked for re-running" in capsys.readouterr().out
    assert store_mod.main(["verify", str(root)]) == 0
    status = load_manifest(root).set_index("run_id")["status"]
    assert status[a] == status[b] == "damaged"

    report = run_sweep(sweep)
    assert (report.done, report.skipped) == (2, 2)
    _assert_equal(_tables(root), clean)


def test_corrupt_bytes_of_the_same_size_are_found_by_checksum(stored, tmp_path):
    _, root, _ = _copy(stored, tmp_path)
    part = next((root / "flows").glob("part-*.parquet"))
    data = bytearray(part.read_bytes())
    data[10] ^= 0xFF
    part.write_bytes(bytes(data))
    assert Store(root).verify(checksums=False).ok  # same size: only the checksum sees it
    damage = Store(root).verify()
    assert [(t, p) for t, _, p, _ in damage.bad_parts] == [("flows", "corrupt")]


def test_truncated_manifest_part_is_one_clear_error_then_repaired(stored, tmp_path):
    sweep, root, clean = _copy(stored, tmp_path)
    part = sorted((root / "manifest").glob("part-*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:200])
    with pytest.raises(StoreError, match=r"manifest/part-\w+\.parquet cannot be read"):
        load_summary(root)
    damage = Store(root).verify()
    assert [p for p, _ in damage.unreadable_manifest] == [f"manifest/{part.name}"]
    with Store(root).lock() as store:
        store.repair()
    assert (root / "damaged" / f"manifest-{part.name}").exists()
    assert len(load_summary(root)) == 3  # the run it recorded is not done any more
    report = run_sweep(sweep)
    assert (report.done, report.skipped) == (1, 3)
    _assert_equal(_tables(root), clean)


def test_orphans_are_reported_and_never_read(stored, tmp_path):
    _, root, clean = _copy(stored, tmp_path)
    orphan = root / "summary" / "part-deadbeefdeadbeef.parquet"
    load_summary(root).head(1).to_parquet(orphan)
    assert Store(root).verify().orphans == [f"summary/{orphan.name}"]
    assert Store(root).verify().ok  # an orphan loses nothing
    _assert_equal(_tables(root), clean)


# ------------------------------------------- what a run id and a row cover


def test_changed_snapshot_dates_make_new_runs(stored, tmp_path):
    sweep, root, _ = _copy(stored, tmp_path)
    sweep.experiment.snapshot_dates = ["2020-06-29", "2021-03-29"]
    report = run_sweep(sweep)
    assert (report.done, report.skipped) == (4, 0)
    port = load_portfolios(root)
    assert set(port["date_from"].dt.strftime("%Y-%m-%d")) == {"2020-06-29"}
    assert set(port["date_to"].dt.strftime("%Y-%m-%d")) == {"2021-03-29"}


def test_run_id_covers_run_function_and_snapshot_dates(tmp_path):
    sweep = tiny(tmp_path)
    ids = {s.run_id for s in expand(sweep)[1]}
    sweep.run_function = "sim.engine.testing:fail_on_marked_point"
    assert not ids & {s.run_id for s in expand(sweep)[1]}
    sweep = tiny(tmp_path, "experiment.snapshot_dates=[2020-06-29,2021-03-29]")
    assert not ids & {s.run_id for s in expand(sweep)[1]}
    assert ids == {s.run_id for s in expand(tiny(tmp_path))[1]}  # and nothing else changes it


def test_each_row_records_the_code_that_made_it(stored):
    _, root, _ = stored
    man = load_manifest(root)
    assert man["git_sha"].map(lambda s: isinstance(s, str) and len(s) == 40).all()
    assert man["git_dirty"].map(lambda d: isinstance(d, bool)).all()
    pkgs = json.loads(man["packages"].iloc[0])
    assert pkgs["numpy"] and pkgs["mesa"] and pkgs["pandas"]
    assert man["source_sha256"].str.fullmatch(r"[0-9a-f]{16}").all()
    for table in ("summary", "timeseries", "flows"):
        assert (man[f"{table}_bytes"] > 0).all()
        assert man[f"{table}_sha256"].str.fullmatch(r"[0-9a-f]{64}").all()
    prov = json.loads((root / "provenance.json").read_text())
    assert [v["runs"] for v in prov["code_versions"]] == [4]


def test_resume_under_other_code_is_flagged_then_kept_apart(stored, tmp_path, monkeypatch):
    sweep, root, _ = _copy(stored, tmp_path)
    real = sweep_mod.code_version()
    other = {**real, "source_sha256": "0123456789abcdef", "git_dirty": True}
    monkeypatch.setattr(sweep_mod, "code_version", lambda: other)
    with pytest.raises(CodeChanged) as err:
        run_sweep(sweep)
    msg = str(err.value)
    assert "4 of the 4 stored runs of this design were made by other code" in msg
    assert "on_code_change=separate" in msg and "0123456789abcdef" in msg
    old_ids = set(load_summary(root)["run_id"])

    sweep.on_code_change = "separate"
    report = run_sweep(sweep)
    assert (report.done, report.skipped) == (4, 0)
    new = load_summary(root)
    assert len(new) == 4 and not set(new["run_id"]) & old_ids  # loaders read the new runs
    man = Store(root).read_manifest()
    assert (man.loc[man["run_id"].isin(old_ids), "source_sha256"] == real["source_sha256"]).all()
    assert (man.loc[~man["run_id"].isin(old_ids), "source_sha256"] == "0123456789abcdef").all()
    assert run_sweep(sweep).skipped == 4  # the same code resumes
    prov = json.loads((root / "provenance.json").read_text())
    assert [v["source_sha256"] for v in prov["code_versions"]] == ["0123456789abcdef"]


# ------------------------------------------------------------------ memory


@pytest.mark.slow  # ~90 s: a full gc.collect per result in a test process with a large heap
def test_sweep_holds_the_results_of_a_few_chunks_not_of_all(tmp_path):
    """The parent kept every finished future (and its tables) until the sweep ended.

    Now at most ``window`` chunks are in flight and a result is dropped once
    handed over; ``python -m benchmarks.sweep_memory`` measures the effect.
    """
    import gc
    import weakref
    from concurrent.futures import FIRST_COMPLETED, Future, wait

    class Result(dict):
        pass

    live: list[weakref.ref] = []
    in_flight: list[int] = []
    pending_now: set = set()

    def submit(chunk):
        fut = Future()
        res = Result(chunk=chunk)
        live.append(weakref.ref(res))
        fut.set_result(res)
        pending_now.add(fut)
        in_flight.append(len(pending_now))
        return fut

    def wait_any(pending):
        done = wait(pending, return_when=FIRST_COMPLETED).done
        pending_now.difference_update(done)
        return done

    peak_alive = 0
    for res in sweep_mod._bounded(list(range(100)), submit, wait_any, window=4):
        assert isinstance(res, Result)
        del res
        gc.collect()
        peak_alive = max(peak_alive, sum(r() is not None for r in live))
    assert len(live) == 100 and max(in_flight) <= 4
    assert peak_alive <= 4
