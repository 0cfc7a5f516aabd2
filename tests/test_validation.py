"""Validation targets, measures, pass/fail and the validation command at tiny size."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import compose
from PIL import Image

from sim.core.config import ConfigError
from sim.engine.compose import compose_sweep
from sim.engine.sweep import expand, simulate
from sim.validation import measures, run
from sim.validation.__main__ import main
from sim.validation.targets import fit_distance, load_targets, validation_table

TINY = [
    "profile.merchants=60",
    "replications=2",
    "profile.spinup_weeks=2",
    "profile.end_date=2022-06-27",
    "executor.workers=1",
    "progress=false",
]


def test_targets_file_covers_the_issue_patterns():
    ts = load_targets()
    ids = {t.id for t in ts.targets}
    assert {
        "cn_share_amazon_before_crackdown",
        "cn_share_amazon_end_2021",
        "cn_share_amazon_new_high_2023",
        "cn_amazon_stores_closed_2021_real",
        "cn_firms_banned_off_amazon_2021_real",
        "multihoming_cn_end_2023",
        "amazon_top_1000_gmv_share",
        "amazon_top_10000_gmv_share",
        "campaign_sales_lift",
        "campaign_rating_gain",
        "campaign_lift_residual_4_weeks",
        "review_deletion_lag_days",
        "temu_seller_growth",
        "tiktok_shop_seller_growth",
        "ebay_seller_share_change",
    } <= ids
    assert sum(t.use == "holdout" for t in ts.targets) >= 2
    for t in ts.targets:
        lo, hi = t.accepted
        assert lo <= hi and t.source and t.unit


def test_accepted_band_and_judge():
    ts = load_targets()
    t = ts.by_id("cn_share_amazon_before_crackdown")  # [0.37, 0.43] +- 0.03
    assert t.accepted == pytest.approx((0.34, 0.46))
    assert t.judge(0.40) == "pass" and t.judge(0.4599) == "pass"
    assert t.judge(0.461) == "fail" and t.judge(0.2) == "fail"
    assert t.judge(float("nan")) == "not measured"
    f = ts.by_id("cn_amazon_stores_closed_2021_real")  # [50k, 100k], factor 3
    assert f.accepted == pytest.approx((50000 / 3, 300000))
    g = ts.by_id("temu_seller_growth")  # [0, inf)
    assert g.accepted == (0.0, math.inf) and g.judge(1e9) == "pass" and g.judge(-0.01) == "fail"
    # distance: 0 inside the observed range, gap / tolerance outside (log units for factors)
    assert t.distance(0.40) == 0.0 and t.distance(0.46) == pytest.approx(1.0)
    assert t.distance(0.31) == pytest.approx(2.0)
    assert f.distance(300000) == pytest.approx(1.0) and f.distance(75000) == 0.0
    assert g.distance(-0.01) == 2.0 and math.isnan(g.distance(float("nan")))


def test_validation_table_from_synthetic_values():
    ts = load_targets()
    values = pd.DataFrame(
        {
            # mean 0.40: pass; CI from the three values
            "cn_share_amazon_before_crackdown": [0.39, 0.40, 0.41],
            # mean 0.50: outside [0.28, 0.38]: fail
            "cn_share_amazon_end_2021": [0.49, 0.50, 0.51],
            # mean 20,000 inside [16,667, 300,000]: pass
            "cn_amazon_stores_closed_2021_real": [10000.0, 20000.0, 30000.0],
            # not measurable (e.g. past the horizon): n/a
            "ebay_consumer_share_end_2025": [np.nan, np.nan, np.nan],
        }
    )
    table = validation_table(ts, values).set_index("id")
    assert table.loc["cn_share_amazon_before_crackdown", "status"] == "pass"
    assert table.loc["cn_share_amazon_end_2021", "status"] == "fail"
    assert table.loc["cn_amazon_stores_closed_2021_real", "status"] == "pass"
    assert table.loc["ebay_consumer_share_end_2025", "status"] == "not measured"
    assert table.loc["multihoming_cn_end_2023", "status"] == "not measured"  # no values at all
    # fit distance: RMS over the measured fit targets
    d_end = (0.50 - 0.35) / 0.03
    d_closed = math.log(50000 / 20000) / math.log(3.0)
    assert table.loc["cn_share_amazon_end_2021", "distance"] == pytest.approx(d_end)
    assert table.loc["cn_amazon_stores_closed_2021_real", "distance"] == pytest.approx(d_closed)
    expected = math.sqrt((0.0 + d_end**2 + d_closed**2) / 3)
    assert fit_distance(table.reset_index()) == pytest.approx(expected)
    r = table.loc["cn_share_amazon_before_crackdown"]
    half = 4.302652729911275 * 0.01 / math.sqrt(3)  # t_{0.975, 2} sd / sqrt(n)
    assert r["n"] == 3 and r["mean"] == pytest.approx(0.40)
    assert r["ci_low"] == pytest.approx(0.40 - half) and r["ci_high"] == pytest.approx(0.40 + half)


def test_bad_targets_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text(
        "targets:\n"
        "  - {id: a, pattern: P1, description: d, source: s, quantity: 'summary:x', unit: u,"
        " use: fit, observed: 1, observed_range: [0, 2], tolerance: {kind: absolute, value: 0}}\n"
    )
    with pytest.raises(ConfigError, match="at least two targets out of the fit"):
        load_targets(bad)
    bad.write_text(
        "targets:\n"
        "  - {id: a, pattern: P1, description: d, source: s, quantity: 'measure:nope', unit: u,"
        " use: fit, observed: 1, observed_range: [0, 2], tolerance: {kind: absolute, value: 0}}\n"
    )
    with pytest.raises(ConfigError, match="unknown measure 'nope'"):
        load_targets(bad)


def test_top_k_share_is_exact_on_a_hand_built_population():
    v = np.array([1.0, 5.0, 2.0, 2.0])  # total 10, sorted 5, 2, 2, 1
    assert measures.top_k_share(v, 100, 100) == pytest.approx(0.5)  # one model firm
    assert measures.top_k_share(v, 150, 100) == pytest.approx(0.6)  # 1.5 model firms
    assert measures.top_k_share(v, 1e6, 100) == pytest.approx(1.0)
    assert math.isnan(measures.top_k_share(np.zeros(3), 1, 1))
    # unequal weights: the top seller is one real firm, the others stand for 10 each
    w = np.array([10.0, 1.0, 10.0, 10.0])  # values per real firm: 1, 5, 2, 2; total 55
    assert measures.top_k_share(v, 1, w) == pytest.approx(5 / 55)
    assert measures.top_k_share(v, 6, w) == pytest.approx((5 + 5 * 2) / 55)
    assert measures.top_k_share(v, 21, w) == pytest.approx(45 / 55)


def test_an_old_targets_file_with_reference_merchants_is_refused(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("reference_merchants: 5000\ntargets: []\n")
    with pytest.raises(ConfigError, match="real_firms"):
        load_targets(bad)


def test_campaign_effect_follows_the_rules_closed_form():
    cfg = compose()
    b = cfg.behaviour
    eff = measures.campaign_effect(cfg)
    d, rho = b.fake_rating_gain_stars, b.fake_inflation_persistence
    path = [d * (1 - rho**k) for k in (1, 2, 3)]  # 23 days -> 3 campaign weeks
    assert eff["campaign_rating_gain_stars"] == pytest.approx(np.mean(path))
    # one store among 201 equal ones: its share changes by exp(beta I) / (200 + exp(beta I))
    n = measures.MICRO_RIVALS
    lift = [
        (
            math.exp(b.rating_sensitivity_per_star * i)
            / (n + math.exp(b.rating_sensitivity_per_star * i))
        )
        * (n + 1)
        - 1
        for i in path
    ]
    assert eff["campaign_sales_lift"] == pytest.approx(np.mean(lift))
    assert eff["review_deletion_lag_days"] == 98.0  # round(100 / 7) = 14 weeks


def test_validation_run_function_keeps_the_default_outputs():
    sweep = compose_sweep("validation", [*TINY[:1], "profile.spinup_weeks=2"])
    _, specs = expand(sweep)
    spec = specs[0]
    a, b = simulate(spec), run.simulate(spec)
    pd.testing.assert_frame_equal(a["timeseries"], b["timeseries"])
    pd.testing.assert_frame_equal(a["flows"], b["flows"])
    extra = b["summary"].pop("validation")
    assert {"amazon_top_1000_gmv_share_end_2021", "campaign_sales_lift"} <= set(extra)
    for k in ("wall_time_s",):
        a["summary"].pop(k), b["summary"].pop(k)
    assert a["summary"] == b["summary"]


def test_validation_command_at_tiny_size(tmp_path, capsys):
    rc = main([*TINY, f"results_dir={tmp_path}"])
    assert rc == 0
    root = tmp_path / "validation"
    out = capsys.readouterr().out
    assert "| target |" in out
    table = pd.read_csv(root / "validation_table.csv")
    assert (root / "validation_table.md").read_text().count("\n| `") == len(load_targets().targets)
    assert set(table["status"]) <= {"pass", "fail", "not measured"}
    # pass/fail follows the mean and the accepted band
    for r in table.to_dict("records"):
        if np.isfinite(r["mean"]):
            inside = r["accept_low"] <= r["mean"] <= r["accept_high"]
            assert r["status"] == ("pass" if inside else "fail"), r["id"]
        else:
            assert r["status"] == "not measured"
    # the run ends mid-2022: end-2023 and 2025 targets are not measurable
    st = table.set_index("id")["status"]
    assert st["ebay_consumer_share_end_2025"] == "not measured"
    assert st["cn_share_amazon_new_high_2023"] == "not measured"
    runs = pd.read_csv(root / "validation_runs.csv")
    assert len(runs) == 2
    png = root / "figures" / "model_vs_observed.png"
    assert png.exists() and png.with_suffix(".pdf").exists()
    meta = json.loads(Image.open(png).text["Description"])
    assert meta["experiment"] == "validation" and "git_sha" in meta
    # resume: nothing reruns; --report-only rebuilds from the store
    png.unlink()
    assert main([*TINY, f"results_dir={tmp_path}", "--report-only"]) == 0
    assert png.exists()


def test_validation_command_bad_override(tmp_path, capsys):
    assert main(["replications=0", f"results_dir={tmp_path}"]) == 2
    assert capsys.readouterr().err.startswith("error: experiment.replications: must be at least 1")


@pytest.mark.slow
def test_default_preset_meets_the_fitted_targets(tmp_path):
    """Calibrated default preset, 5,000 firms, 2020-2025, seeds 0-2 (fixed): the bands hold.

    Tolerances are the accepted bands of targets.yaml. The top-1,000 GMV share
    is left out (noisy at 3 replications). The targets the default preset is
    known to miss since model v2 part 1 (docs/validation.md) are checked to stay
    failing in the documented direction, so a change shows up here either way.
    """
    rc = main(
        [
            "profile=paper",
            "replications=3",
            "executor.workers=2",
            "progress=false",
            f"results_dir={tmp_path}",
        ]
    )
    assert rc == 0
    table = pd.read_csv(tmp_path / "validation" / "validation_table.csv").set_index("id")
    must_pass = [
        "cn_share_amazon_before_crackdown",
        "cn_share_amazon_drop_2021",
        "cn_amazon_stores_closed_2021_real",
        "cn_firms_banned_off_amazon_2021_real",
        "stores_closed_per_firm_banned_2021",
        "amazon_sellers_elsewhere_other_end_2021",
        "multihoming_cn_end_2023",
        "amazon_top_10000_gmv_share",
        "campaign_sales_lift",
        "campaign_rating_gain",
        "campaign_lift_residual_4_weeks",
        "review_deletion_lag_days",
        "temu_seller_growth",
        "tiktok_shop_seller_growth",
        "ebay_seller_share_change",
        "ebay_consumer_share_end_2025",
    ]
    failed = [i for i in must_pass if table.loc[i, "status"] != "pass"]
    assert not failed, table.loc[failed, ["mean", "accept_low", "accept_high"]]
    # the known misses of model v2 part 1 (calibration is redone in "Evidence v2"),
    # in their documented direction: the 2021 drop is too shallow, no recovery
    assert table.loc["cn_share_amazon_end_2021", "mean"] > 0.38
    assert table.loc["cn_share_amazon_new_high_2023", "mean"] < 0
