"""Calibration: rejection rule, per-point distances, confirmation sweep, the command."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.core.config import ConfigError
from sim.engine.compose import compose_sweep
from sim.engine.sweep import expand
from sim.validation import calibrate
from sim.validation.targets import load_targets

TINY = [
    "profile.merchants=200",  # enough firms that some lose Amazon to bans by Sept 2021
    "profile.spinup_weeks=2",
    "profile.end_date=2023-12-25",  # the last fit target's date
    "profile.samples=5",
    "executor.workers=1",
    "progress=false",
    "confirm=2",
    "confirm_replications=2",
    "experiment.replications=2",
]


def test_accept_takes_the_smallest_fraction_with_a_minimum_and_ties():
    pts = pd.DataFrame({"distance": [0.9, 0.1, np.nan, 0.5, 0.3, 0.3, 2.0, 0.7, 0.8, 1.0]})
    # 20% of 10 = 2 points, but at least 3: 0.1, 0.3, 0.3 (tie at the threshold kept)
    assert pts.index[calibrate.accept(pts, 0.2)].tolist() == [1, 4, 5]
    # 40%: 4 smallest finite distances
    assert pts.index[calibrate.accept(pts, 0.4)].tolist() == [1, 3, 4, 5]
    # NaN never accepted, even at fraction 1
    assert not calibrate.accept(pts, 1.0)[2]
    assert calibrate.accept(pts, 1.0).sum() == 9
    with pytest.raises(ConfigError, match="accept: must be in"):
        calibrate.accept(pts, 0.0)


def test_point_distances_use_fit_targets_only():
    ts = load_targets()
    fit = [t for t in ts.targets if t.use == "fit"]
    hold = [t for t in ts.targets if t.use == "holdout"]
    rows = []
    for pid, offset in ((0, 0.0), (1, 0.06)):
        for rep in range(2):
            row = {"point_id": pid, "run_id": f"{pid}-{rep}"}
            for t in fit:
                # inside the observed range (point 0) or shifted by `offset` for one target
                lo, hi = t.observed_range
                v = t.observed if t.observed is not None else (lo if lo is not None else hi)
                row[t.id] = float(v)
            row["cn_share_amazon_end_2021"] += offset
            for t in hold:  # a holdout far off must not change the distance
                row[t.id] = 1e9
            rows.append(row)
    pts = calibrate.point_distances(ts, pd.DataFrame(rows)).set_index("point_id")
    assert not any(c.endswith(h.id) for c in pts.columns for h in hold)
    assert pts.loc[0, "distance"] == 0.0 and pts.loc[0, "fit_passed"] == len(fit)
    # 0.33 + 0.06 = 0.39 > 0.35: gap 0.04 over tolerance 0.03, RMS over the fit targets
    expected = math.sqrt(((0.39 - 0.35) / 0.03) ** 2 / len(fit))
    assert pts.loc[1, "distance"] == pytest.approx(expected)
    assert pts.loc[1, "fit_passed"] == len(fit) - 1


def test_confirm_sweep_reruns_points_on_a_fresh_seed():
    sweep = compose_sweep(
        "calibration", ["profile.merchants=60", "profile.samples=3", "experiment.replications=1"]
    )
    points, specs = expand(sweep)
    names = sorted(sweep.experiment.design.parameters)
    frame = pd.DataFrame(
        [{"point_id": p.point_id, **{f"param.{k}": v for k, v in p.params.items()}} for p in points]
    )
    conf = calibrate.confirm_sweep(sweep, frame.iloc[[2, 0]], names, reps=3, seed=77)
    assert conf.experiment.name == "calibration_confirm"
    assert list(conf.experiment.scenarios) == ["point_0002", "point_0000"]
    _, cspecs = expand(conf)
    assert len(cspecs) == 6 and {s.replicate for s in cspecs} == {0, 1, 2}
    by = {s.scenario: s.config for s in cspecs if s.replicate == 0}
    first = by["point_0002"]
    assert first.seed == 77 and sweep.experiment.name == "calibration"  # original untouched
    for k, v in points[2].params.items():
        got = first
        for part in k.split("."):
            got = got[part] if isinstance(got, dict) else getattr(got, part)
        assert got == pytest.approx(v, rel=1e-3)  # 4 significant digits
    # fresh random streams: no (seed, replicate) pair of the search is reused
    assert {(s.config.seed, s.replicate) for s in cspecs}.isdisjoint(
        {(s.config.seed, s.replicate) for s in specs}
    )
    assert {s.config.seed for s in specs} == {sweep_seed(sweep)}


def sweep_seed(sweep) -> int:
    from sim.engine.compose import compose_config

    return compose_config(list(sweep.experiment.base)).seed


def test_yaml_float_reads_back_as_a_float():
    for v in (5e-05, 0.006056, 3.699, 1234567.0, 2.0):
        assert isinstance(yaml.safe_load(f"x: {calibrate.yaml_float(v)}")["x"], float)
        assert yaml.safe_load(f"x: {calibrate.yaml_float(v)}")["x"] == pytest.approx(v, rel=1e-3)


def test_calibration_command_at_tiny_size(tmp_path, capsys):
    rc = calibrate.main([*TINY, f"results_dir={tmp_path}"])
    assert rc == 0
    root = tmp_path / "calibration"
    pts = pd.read_csv(root / "calibration_points.csv")
    assert len(pts) == 5 and pts["accepted"].sum() == 3  # 5% of 5 -> the minimum of 3
    assert pts.loc[pts["accepted"], "distance"].max() <= pts.loc[~pts["accepted"], "distance"].min()
    conf = pd.read_csv(root / "calibration_confirm.csv")
    assert len(conf) == 2 and (conf["replications"] == 2).all()
    chosen = yaml.safe_load((root / "calibrated.yaml").read_text())
    sweep = compose_sweep("calibration", [o for o in TINY if not o.startswith("confirm")])
    design_points, _ = expand(sweep)
    assert set(chosen) == set(sweep.experiment.design.parameters)
    best = int(conf.sort_values("distance")["scenario"].iloc[0].split("_")[1])
    # the chosen values are the design's own point (not a row of the merged tables)
    for k, v in chosen.items():
        assert isinstance(v, float)
        assert v == pytest.approx(design_points[best].params[k], rel=1e-3)
    # and the stored point table pairs every point with its design parameters
    for rec in pts.to_dict("records"):
        for k, v in design_points[int(rec["point_id"])].params.items():
            assert rec[f"param.{k}"] == pytest.approx(v, rel=1e-12)
    post = pd.read_csv(root / "calibration_posterior.csv")
    assert set(post["parameter"]) == set(sweep.experiment.design.parameters)
    assert (root / "figures" / "calibration_posterior.png").exists()
    assert "## Chosen values" in (root / "calibration.md").read_text()
    # resume and report-only give the same tables: nothing reruns, analysis is deterministic
    before = (root / "calibration_points.csv").read_bytes()
    assert calibrate.main([*TINY, f"results_dir={tmp_path}", "--report-only"]) == 0
    assert (root / "calibration_points.csv").read_bytes() == before
    # report-only with another confirmation seed: those runs do not exist, so no choice is
    # made and the previous choice is not left beside the new report
    capsys.readouterr()
    args = [*TINY, f"results_dir={tmp_path}", "--report-only", "confirm_seed=99"]
    assert calibrate.main(args) == 0
    assert "none of this design's runs is stored" in capsys.readouterr().err
    assert not (root / "calibrated.yaml").exists()
    assert "## Chosen values" not in (root / "calibration.md").read_text()
    assert (root / "calibration_points.csv").read_bytes() == before


def test_calibration_refuses_to_choose_without_measurable_targets(tmp_path, capsys):
    short = [o for o in TINY if not o.startswith("profile.end_date")]
    args = [*short, "profile.end_date=2022-06-27", f"results_dir={tmp_path}"]
    assert calibrate.main(args) == 1
    assert "no point has every fit target measured" in capsys.readouterr().err
    pts = pd.read_csv(tmp_path / "calibration" / "calibration_points.csv")
    assert np.isinf(pts["distance"]).all() and not pts["accepted"].any()
    assert not (tmp_path / "calibration" / "calibrated.yaml").exists()


def test_calibration_command_bad_option(tmp_path, capsys):
    assert calibrate.main(["accept=2", f"results_dir={tmp_path}"]) == 2
    assert capsys.readouterr().err.startswith("error: accept: must be in (0, 1]")
    assert calibrate.main(["confirm=many", f"results_dir={tmp_path}"]) == 2
    assert "confirm: expected an integer" in capsys.readouterr().err
    # the confirmation is checked before the search runs
    assert calibrate.main(["confirm_seed=20210425", f"results_dir={tmp_path}"]) == 2
    assert "confirm_seed: must differ" in capsys.readouterr().err
    assert calibrate.main(["confirm_seed=-1", f"results_dir={tmp_path}"]) == 2
    assert "seed" in capsys.readouterr().err
    assert not (tmp_path / "calibration").exists()
