"""Sensitivity analysis: SALib indices from a stored sweep, against known answers.

The sweep engine runs designs whose "model" is a closed-form test function
(run_function extension point, in-process), so the indices have exact or
analytic values: a linear function for Morris (mu* = |slope| per unit range),
the Ishigami function for Sobol (Saltelli 2008: S1 = 0.314, 0.442, 0;
ST = 0.558, 0.442, 0.244). A replicate-dependent offset that cancels in the
mean over replications checks that outcomes are averaged per design point.
Then both study scripts smoke-run on the real model at tiny size.
"""

from __future__ import annotations

import importlib
import json
import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sim.analysis import sensitivity
from sim.analysis.load import load_summary
from sim.engine.compose import compose_sweep
from sim.engine.design import ParameterSpec
from sim.engine.sweep import experiment_dir, run_sweep

KEYS = (
    "behaviour.collateral_risk_share",
    "behaviour.new_account_attempt_probability",
    "behaviour.peer_weight",
)  # all in [0, 1]: the unit value is the parameter
A, B = 7.0, 0.1


def _u(spec) -> list[float]:
    return [float(spec.params[k]) for k in KEYS]


def linear_run(spec):
    """y = 2 u1 + 0 u2 - 1 u3, plus an offset that averages out over replicates 0 and 1."""
    u = _u(spec)
    y = 2.0 * u[0] - 1.0 * u[2] + (0.5 - spec.replicate) * 0.01
    return {"timeseries": None, "flows": None, "portfolios": None, "summary": {"y": y}}


def ishigami_run(spec):
    """Ishigami function on x = -pi + 2 pi u."""
    x = [-math.pi + 2.0 * math.pi * v for v in _u(spec)]
    y = math.sin(x[0]) + A * math.sin(x[1]) ** 2 + B * x[2] ** 4 * math.sin(x[0])
    y += (0.5 - spec.replicate) * 0.01
    return {"timeseries": None, "flows": None, "portfolios": None, "summary": {"y": y}}


def _sweep(tmp_path, kind: str, samples: int, fn: str, reps: int = 2):
    sweep = compose_sweep(
        "sensitivity_morris",
        [
            f"results_dir={tmp_path}",
            "executor.workers=1",
            "progress=false",
            f"profile.replications={reps}",
            "executor.chunk_size=4096",
        ],
    )
    sweep.experiment.name = f"fn_{kind}"
    sweep.experiment.design.kind = kind
    sweep.experiment.design.samples = samples
    sweep.profile.samples = None
    sweep.experiment.design.parameters = {k: ParameterSpec(lower=0.0, upper=1.0) for k in KEYS}
    sweep.run_function = f"test_sensitivity:{fn}"
    sweep.allow_custom_run_function = True  # a test function, explicitly allowed
    report = run_sweep(sweep)
    assert report.failed == 0
    root = experiment_dir(sweep)
    return root, load_summary(root)


def test_morris_recovers_the_slopes_of_a_linear_function(tmp_path):
    root, summary = _sweep(tmp_path, "morris", 6, "linear_run")
    idx = sensitivity.morris_indices(root, summary, ["y"]).set_index("parameter")
    mu_star = idx.loc[list(KEYS), "mu_star"].to_numpy()
    np.testing.assert_allclose(mu_star, [2.0, 0.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(idx.loc[list(KEYS), "mu"].to_numpy(), [2.0, 0.0, -1.0], atol=1e-9)
    np.testing.assert_allclose(idx["sigma"].to_numpy(), 0.0, atol=1e-9)  # no interactions
    assert idx.loc[KEYS[0], "rank"] == 1 and idx.loc[KEYS[1], "rank"] == 3
    rank = sensitivity.ranking(idx.reset_index(), "mu_star")
    assert rank["parameter"].tolist() == [KEYS[0], KEYS[2], KEYS[1]]


def test_sobol_indices_of_the_ishigami_function(tmp_path):
    # one replication: 1,280 runs of the closed form; N = 256 keeps errors below ~0.05
    root, summary = _sweep(tmp_path, "sobol", 256, "ishigami_run", reps=1)
    assert len(summary) == 256 * (3 + 2)
    idx = sensitivity.sobol_indices(root, summary, ["y"]).set_index("parameter")
    s1 = idx.loc[list(KEYS), "S1"].to_numpy()
    st = idx.loc[list(KEYS), "ST"].to_numpy()
    np.testing.assert_allclose(s1, [0.314, 0.442, 0.0], atol=0.08)
    np.testing.assert_allclose(st, [0.558, 0.442, 0.244], atol=0.08)
    assert (idx["S1_conf"] > 0).all() and (idx["S1_conf"] < 0.2).all()
    adequacy = sensitivity.sample_adequacy(idx.reset_index())
    assert adequacy["adequate"].all() and adequacy["significantly_negative"].sum() == 0


def test_adequacy_flags_significantly_negative_indices():
    idx = pd.DataFrame(
        {
            "outcome": ["y", "y"],
            "parameter": ["a", "b"],
            "S1": [0.5, -0.3],
            "S1_conf": [0.1, 0.1],  # -0.3 + 0.1 < 0: significantly negative
            "ST": [0.6, 0.05],
            "ST_conf": [0.1, 0.3],
            "S1_significantly_negative": [False, True],
            "ST_significantly_negative": [False, False],
            "rank": [1, 2],
        }
    )
    a = sensitivity.sample_adequacy(idx).iloc[0]
    assert not a["adequate"] and a["significantly_negative"] == 1 and a["wide_intervals"] == 1
    assert not a["sum_S1_above_one"]


def test_adequacy_flags_first_order_indices_summing_above_one():
    def frame(s1: list[float], conf: float) -> pd.DataFrame:
        n = len(s1)
        return pd.DataFrame(
            {
                "outcome": ["y"] * n,
                "parameter": [f"p{i}" for i in range(n)],
                "S1": s1,
                "S1_conf": [conf] * n,
                "ST": [v + 0.1 for v in s1],
                "ST_conf": [conf] * n,
                "S1_significantly_negative": [False] * n,
                "ST_significantly_negative": [False] * n,
                "rank": list(range(1, n + 1)),
            }
        )

    # sum 1.6, half-width of the sum 0.1 * 2 = 0.2: significantly above 1
    a = sensitivity.sample_adequacy(frame([0.4] * 4, 0.1)).iloc[0]
    assert a["sum_S1_above_one"] and not a["adequate"]
    # sum 1.2 but half-width 0.24 * 2 = 0.48: consistent with <= 1
    b = sensitivity.sample_adequacy(frame([0.3] * 4, 0.24)).iloc[0]
    assert not b["sum_S1_above_one"] and b["adequate"]


def test_analysis_refuses_a_store_that_does_not_match_its_design(tmp_path):
    root, summary = _sweep(tmp_path, "morris", 2, "linear_run")
    bad = summary.copy()
    bad[f"param.{KEYS[0]}"] = 0.123
    with pytest.raises(ValueError, match="do not match"):
        sensitivity.unit_matrix(root, bad)
    with pytest.raises(ValueError, match="without a successful run"):
        sensitivity.point_means(summary[summary["point_id"] > 0], ["y"], 8)


TINY = [
    "profile.merchants=60",
    "profile.replications=1",
    "profile.spinup_weeks=2",
    "profile.end_date=2021-12-27",
    "profile.samples=2",
    "executor.workers=1",
    "progress=false",
]


@pytest.mark.parametrize(
    ("study", "files"),
    [
        ("sensitivity_morris", ["morris_indices.csv", "morris_ranking.csv"]),
        ("sensitivity_sobol", ["sobol_indices.csv", "sobol_adequacy.csv"]),
    ],
)
def test_sensitivity_studies_run_at_tiny_size(tmp_path, study, files):
    module = importlib.import_module(f"experiments.{study}")
    assert module.main(study, module.make_figures, [*TINY, f"results_dir={tmp_path}"]) == 0
    root = tmp_path / study
    for f in files:
        table = pd.read_csv(root / f)
        assert len(table) > 0
    fig = "morris" if "morris" in study else "sobol"
    png = root / "figures" / f"{fig}.png"
    assert png.exists() and png.with_suffix(".pdf").exists()
    meta = json.loads(Image.open(png).text["Description"])
    assert meta["experiment"] == study and meta["design_sha256"]
    design = json.loads((root / "design.json").read_text())
    n_params = len(design["experiment"]["design"]["parameters"])
    assert 10 <= n_params <= 20
