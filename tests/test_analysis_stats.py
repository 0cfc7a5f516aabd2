"""Statistics across replications (sim.analysis.stats): exact values on hand-made frames.

The t-quantiles below are literal constants (Student t tables), so a slip in
degrees of freedom or in the two-sided level shows up as a wrong number, not as
the same call made twice.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from sim import compose_config, run
from sim.analysis import stats

T975_DF3 = 3.182446305284263  # t_{0.975, 3}
T95_DF3 = 2.353363434801823  # t_{0.95, 3}
T975_DF2 = 4.302652729749464  # t_{0.975, 2}


@pytest.fixture
def two_scenarios() -> pd.DataFrame:
    """Baseline and treatment, four replicates each, plus a one-run scenario."""
    return pd.DataFrame(
        {
            "run_id": [f"r{i}" for i in range(9)],
            "scenario": ["base"] * 4 + ["treat"] * 4 + ["solo"],
            "replicate": [0, 1, 2, 3, 0, 1, 2, 3, 0],
            "y": [10.0, 12.0, 11.0, 15.0, 11.0, 14.0, 11.0, 18.0, 5.0],
            "z": [1.0, np.nan, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0, np.nan],
        }
    )


# ---------------------------------------------------------------------------
# mean_ci


def test_mean_ci_exact_values():
    df = pd.DataFrame({"g": ["a"] * 4, "y": [1.0, 2.0, 3.0, 4.0]})
    out = stats.mean_ci(df, "y", "g")
    assert list(out.columns) == ["g", *stats.CI_COLUMNS]
    row = out.iloc[0]
    sd = math.sqrt(5.0 / 3.0)
    assert row["n"] == 4
    assert row["mean"] == pytest.approx(2.5, abs=1e-15)
    assert row["sd"] == pytest.approx(sd, rel=1e-14)
    assert row["se"] == pytest.approx(sd / 2.0, rel=1e-14)
    assert row["half_width"] == pytest.approx(T975_DF3 * sd / 2.0, rel=1e-12)
    assert row["ci_low"] == pytest.approx(2.5 - T975_DF3 * sd / 2.0, rel=1e-12)
    assert row["ci_high"] == pytest.approx(2.5 + T975_DF3 * sd / 2.0, rel=1e-12)


def test_mean_ci_level_changes_the_quantile():
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0]})
    out = stats.mean_ci(df, "y", None, level=0.90)
    assert out["half_width"].iloc[0] == pytest.approx(T95_DF3 * math.sqrt(5 / 3) / 2, rel=1e-12)
    assert list(out.columns) == list(stats.CI_COLUMNS)


def test_mean_ci_n1_nan_and_all_nan_groups(two_scenarios):
    out = stats.mean_ci(two_scenarios, ["y", "z"], "scenario")
    # sorted by group, outcomes in the order given
    assert out[["scenario", "outcome"]].values.tolist() == [
        ["base", "y"],
        ["base", "z"],
        ["solo", "y"],
        ["solo", "z"],
        ["treat", "y"],
        ["treat", "z"],
    ]
    solo_y = out[(out.scenario == "solo") & (out.outcome == "y")].iloc[0]
    assert solo_y["n"] == 1 and solo_y["mean"] == 5.0
    assert all(np.isnan(solo_y[c]) for c in ("sd", "se", "ci_low", "ci_high", "half_width"))
    solo_z = out[(out.scenario == "solo") & (out.outcome == "z")].iloc[0]
    assert solo_z["n"] == 0 and np.isnan(solo_z["mean"])


def test_mean_ci_drops_nan_per_outcome(two_scenarios):
    out = stats.mean_ci(two_scenarios, ["y", "z"], "scenario")
    base_z = out[(out.scenario == "base") & (out.outcome == "z")].iloc[0]
    assert base_z["n"] == 3
    assert base_z["mean"] == pytest.approx(8.0 / 3.0)
    assert base_z["half_width"] == pytest.approx(T975_DF2 * base_z["sd"] / math.sqrt(3))
    base_y = out[(out.scenario == "base") & (out.outcome == "y")].iloc[0]
    assert base_y["n"] == 4  # the NaN in z does not remove the row for y


def test_mean_ci_zero_spread_gives_zero_width():
    out = stats.mean_ci(pd.DataFrame({"y": [2.0, 2.0, 2.0]}), "y", [])
    assert out["half_width"].iloc[0] == 0.0
    assert out["ci_low"].iloc[0] == out["ci_high"].iloc[0] == 2.0


def test_mean_ci_two_keys_and_none_values():
    df = pd.DataFrame(
        {
            "scenario": ["a", "a", "a", "a"],
            "param.x": [0.1, 0.1, 0.2, 0.2],
            "y": pd.Series([1, 3, None, 7], dtype=object),  # JSON null arrives as None
        }
    )
    out = stats.mean_ci(df, "y", ["scenario", "param.x"])
    assert out["param.x"].tolist() == [0.1, 0.2]
    assert out["n"].tolist() == [2, 1]
    assert out["mean"].tolist() == [2.0, 7.0]


def test_mean_ci_rejects_bad_input(two_scenarios):
    with pytest.raises(KeyError, match="nope"):
        stats.mean_ci(two_scenarios, "nope", "scenario")
    with pytest.raises(ValueError, match="level"):
        stats.mean_ci(two_scenarios, "y", "scenario", level=95)
    with pytest.raises(TypeError, match="scenario"):
        stats.mean_ci(two_scenarios, "scenario", None)


# ---------------------------------------------------------------------------
# paired differences


def test_paired_differences_hand_computed(two_scenarios):
    out = stats.paired_differences(two_scenarios, "y", baseline="base")
    assert list(out.columns) == ["scenario", *stats.PAIRED_COLUMNS]
    row = out[out.scenario == "treat"].iloc[0]
    d = np.array([1.0, 2.0, 0.0, 3.0])  # treat - base, replicate by replicate
    sd = math.sqrt(5.0 / 3.0)
    assert row["baseline"] == "base" and row["outcome"] == "y"
    assert row["n_pairs"] == 4
    assert row["mean_group"] == 13.5 and row["mean_baseline"] == 12.0
    assert row["mean_diff"] == pytest.approx(d.mean())
    assert row["sd_diff"] == pytest.approx(sd)
    assert row["half_width"] == pytest.approx(T975_DF3 * sd / 2.0)
    ref = sps.ttest_rel([11, 14, 11, 18], [10, 12, 11, 15])
    assert row["t_stat"] == pytest.approx(ref.statistic)
    assert row["p_value"] == pytest.approx(ref.pvalue)
    var_a, var_b = np.var([11, 14, 11, 18], ddof=1), np.var([10, 12, 11, 15], ddof=1)
    assert row["variance_reduction"] == pytest.approx(1.0 - (5.0 / 3.0) / (var_a + var_b))
    # Welch from the same runs: df from Welch-Satterthwaite, n = 4 per side
    va, vb = var_a / 4, var_b / 4
    dfw = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 3)
    welch = sps.t.ppf(0.975, dfw) * math.sqrt(va + vb)
    assert row["welch_half_width"] == pytest.approx(welch)
    assert row["ci_narrowing"] == pytest.approx(1.0 - row["half_width"] / welch)
    assert row["ci_narrowing"] > 0.5


def test_paired_differences_uses_common_replicates_only(two_scenarios):
    df = two_scenarios[~((two_scenarios.scenario == "treat") & (two_scenarios.replicate == 3))]
    row = stats.paired_differences(df, "y", "base").set_index("scenario").loc["treat"]
    assert row["n_pairs"] == 3
    assert row["mean_diff"] == pytest.approx(1.0)  # (1 + 2 + 0) / 3
    assert row["mean_baseline"] == pytest.approx(11.0)  # replicate 3 of base left out
    assert row["half_width"] == pytest.approx(T975_DF2 * 1.0 / math.sqrt(3))


def test_paired_differences_single_pair_and_nan_pairs(two_scenarios):
    out = stats.paired_differences(two_scenarios, ["y", "z"], "base").set_index(
        ["scenario", "outcome"]
    )
    solo = out.loc[("solo", "y")]
    assert solo["n_pairs"] == 1 and solo["mean_diff"] == -5.0
    assert np.isnan(solo["half_width"]) and np.isnan(solo["p_value"])
    # z: base replicate 1 is NaN, so treat pairs on replicates 0, 2, 3
    tz = out.loc[("treat", "z")]
    assert tz["n_pairs"] == 3
    assert tz["mean_diff"] == pytest.approx(((1 - 1) + (1 - 3) + (1 - 4)) / 3)
    assert out.loc[("solo", "z")]["n_pairs"] == 0


def test_crn_pairs_reduce_variance():
    rng = np.random.default_rng(7)
    common = rng.normal(0, 5.0, 30)  # what replicate k's seeds do in every scenario
    base = 100 + common + rng.normal(0, 0.5, 30)
    treat = 103 + common + rng.normal(0, 0.5, 30)
    indep = 103 + rng.normal(0, 5.0, 30)
    df = pd.DataFrame(
        {
            "scenario": ["base"] * 30 + ["treat"] * 30 + ["indep"] * 30,
            "replicate": list(range(30)) * 3,
            "y": np.concatenate([base, treat, indep]),
        }
    )
    out = stats.paired_differences(df, "y", "base").set_index("scenario")
    assert out.loc["treat", "variance_reduction"] > 0.9
    assert out.loc["treat", "half_width"] < 0.3 * out.loc["treat", "welch_half_width"]
    assert out.loc["treat", "ci_low"] > 0  # the +3 effect is detected when paired
    assert abs(out.loc["indep", "variance_reduction"]) < 0.5  # no correlation to exploit


def test_paired_constant_differences():
    df = pd.DataFrame(
        {
            "scenario": ["b"] * 3 + ["same"] * 3 + ["shift"] * 3,
            "replicate": [0, 1, 2] * 3,
            "y": [1.0, 2.0, 4.0, 1.0, 2.0, 4.0, 3.0, 4.0, 6.0],
        }
    )
    out = stats.paired_differences(df, "y", "b").set_index("scenario")
    assert out.loc["same", "mean_diff"] == 0 and out.loc["same", "half_width"] == 0
    assert np.isnan(out.loc["same", "p_value"])  # identical runs: no test to make
    assert out.loc["shift", "t_stat"] == math.inf and out.loc["shift", "p_value"] == 0
    assert out.loc["shift", "variance_reduction"] == 1.0


def test_paired_by_two_columns():
    df = pd.DataFrame(
        {
            "scenario": ["a", "a", "a", "a", "b", "b"],
            "point_id": [0, 0, 1, 1, 0, 0],
            "replicate": [0, 1, 0, 1, 0, 1],
            "y": [1.0, 2.0, 3.0, 5.0, 2.0, 2.0],
        }
    )
    out = stats.paired_differences(df, "y", ("a", 0), by=["scenario", "point_id"])
    assert out[["scenario", "point_id"]].values.tolist() == [["a", 1], ["b", 0]]
    assert out["mean_diff"].tolist() == [2.5, 0.5]
    with pytest.raises(ValueError, match="point_id"):  # ambiguous without point_id
        stats.paired_differences(df, "y", "a")


def test_paired_differences_errors(two_scenarios):
    with pytest.raises(ValueError, match="not found"):
        stats.paired_differences(two_scenarios, "y", "nobody")
    with pytest.raises(KeyError):
        stats.paired_differences(two_scenarios, "y", "base", pair_on="seed")


# ---------------------------------------------------------------------------
# replication adequacy


def _alternating(n: int) -> pd.DataFrame:
    # 0, 1, 0, 1, ...: the first-n sd settles near 0.5, so the half-width falls with n
    return pd.DataFrame({"scenario": "s", "replicate": np.arange(n), "y": np.arange(n) % 2 + 1.0})


def test_adequacy_half_width_shrinks_with_n():
    out = stats.replication_adequacy(_alternating(25), "y", "scenario")
    assert out["n"].tolist() == [2, 3, 5, 10, 20, 25]  # default ns, plus all available
    hw = out["half_width"].to_numpy()
    assert np.all(np.diff(hw) < 0)
    row = out[out.n == 2].iloc[0]
    assert row["mean"] == 1.5
    assert row["half_width"] == pytest.approx(sps.t.ppf(0.975, 1) * math.sqrt(0.5) / math.sqrt(2))
    assert row["rel_half_width"] == pytest.approx(row["half_width"] / 1.5)


def test_adequacy_uses_first_replicates_in_order():
    df = _alternating(6).sample(frac=1.0, random_state=3)  # rows shuffled
    df.loc[df.replicate == 0, "y"] = 100.0
    out = stats.replication_adequacy(df, "y", None, ns=[2, 4, 9])
    assert out["n"].tolist() == [2, 4]  # 9 > available: skipped
    assert out.iloc[0]["mean"] == pytest.approx((100.0 + 2.0) / 2)  # replicates 0 and 1


def test_adequacy_per_group_sizes():
    df = pd.concat([_alternating(10), _alternating(4).assign(scenario="t")])
    out = stats.replication_adequacy(df, "y", "scenario", ns=[2, 4, 10])
    assert out.groupby("scenario")["n"].apply(list).to_dict() == {"s": [2, 4, 10], "t": [2, 4]}
    with pytest.raises(ValueError, match="point_id"):
        stats.replication_adequacy(pd.concat([df, df]), "y", "scenario")


def _brute_force_n(sd: float, mean: float, rel: float, level: float = 0.95) -> int:
    """First n = 2, 3, ... with t_{n-1} sd / sqrt(n) <= rel |mean|, by exhaustive search."""
    n = np.arange(2, 40_000, dtype=float)
    ok = sps.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n) <= rel * abs(mean)
    assert ok.any()
    return int(n[np.argmax(ok)])


@pytest.mark.parametrize("values", [[10.0, 12.0, 11.0, 15.0], [1.0, 2.0, 3.0, 4.0, 20.0]])
def test_replications_needed_matches_brute_force_and_is_monotone(values):
    df = pd.DataFrame({"replicate": range(len(values)), "y": values})
    sd, m = float(np.std(values, ddof=1)), float(np.mean(values))
    needed = []
    for rel in (0.5, 0.2, 0.1, 0.05, 0.02):
        out = stats.replications_needed(df, "y", None, rel_precision=rel)
        n = out["n_needed"].iloc[0]
        assert n == _brute_force_n(sd, m, rel)
        assert out["adequate"].iloc[0] == (len(values) >= n)
        needed.append(n)
    assert needed == sorted(needed) and needed[-1] > needed[0]


def test_replications_needed_edge_cases():
    df = pd.DataFrame(
        {
            "g": ["zero_mean", "zero_mean", "const", "const", "one"],
            "replicate": [0, 1, 0, 1, 0],
            "y": [-1.0, 1.0, 3.0, 3.0, 2.0],
        }
    )
    out = stats.replications_needed(df, "y", "g").set_index("g")
    assert np.isnan(out.loc["zero_mean", "n_needed"])
    assert out.loc["const", "n_needed"] == 2 and out.loc["const", "adequate"]
    assert np.isnan(out.loc["one", "n_needed"]) and not out.loc["one", "adequate"]
    with pytest.raises(ValueError):
        stats.replications_needed(df, "y", "g", rel_precision=0)


# ---------------------------------------------------------------------------
# time series and derived series


def _tiny_ts() -> pd.DataFrame:
    rows = []
    for rep, (a_cn, a_ot) in enumerate([(3, 1), (5, 3), (4, 2)]):
        for step, date in enumerate(pd.to_datetime(["2021-01-04", "2021-01-11"])):
            for platform, cn, ot in (("amazon", a_cn + step, a_ot), ("ebay", 0, 0)):
                for origin, listed in (("CN", cn), ("other", ot)):
                    rows.append(
                        {
                            "run_id": f"s-{rep}",
                            "point_id": 0,
                            "scenario": "s",
                            "replicate": rep,
                            "step": step,
                            "date": date,
                            "platform": platform,
                            "origin": origin,
                            "listed_merchants": float(listed),
                            "alive_merchants": 10.0 if origin == "CN" else 0.0,
                            "active_stores": float(2 * listed),
                            "grey_stores": float(listed if origin == "CN" else 0),
                        }
                    )
    return pd.DataFrame(rows)


def test_reach_and_cn_share_and_grey_prevalence():
    ts = _tiny_ts()
    r = stats.reach(ts)
    assert len(r) == len(ts)
    cn_amazon = r[(r.platform == "amazon") & (r.origin == "CN") & (r.replicate == 0)]
    assert cn_amazon["reach"].tolist() == [0.3, 0.4]
    assert r[r.origin == "other"]["reach"].isna().all()  # no live 'other' firms
    s = stats.cn_share_of_platform(ts)
    assert len(s) == 3 * 2 * 2  # runs x weeks x platforms
    amz = s[(s.platform == "amazon") & (s.replicate == 1)]["cn_share"].tolist()
    assert amz == [5 / 8, 6 / 9]
    assert s[s.platform == "ebay"]["cn_share"].isna().all()
    g = stats.grey_prevalence(ts)
    amz = g[(g.platform == "amazon") & (g.replicate == 0)]["grey_prevalence"].tolist()
    assert amz == [3 / 8, 4 / 10]  # (grey CN + grey other) / (active CN + active other)
    assert g[g.platform == "ebay"]["grey_prevalence"].isna().all()


def test_time_series_ci_across_replications():
    s = stats.cn_share_of_platform(_tiny_ts())
    out = stats.time_series_ci(s, "cn_share", ("scenario", "date", "platform"))
    first = out[(out.platform == "amazon")].iloc[0]
    vals = [3 / 4, 5 / 8, 4 / 6]
    assert first["n"] == 3
    assert first["mean"] == pytest.approx(np.mean(vals))
    assert first["half_width"] == pytest.approx(
        T975_DF2 * np.std(vals, ddof=1) / math.sqrt(3), rel=1e-12
    )
    assert out[out.platform == "ebay"]["n"].eq(0).all()


def test_time_series_ci_refuses_mixed_dimensions():
    with pytest.raises(ValueError, match="origin"):
        stats.time_series_ci(_tiny_ts(), "listed_merchants", ("scenario", "date", "platform"))


# ---------------------------------------------------------------------------
# the real model: common random numbers make pre-crackdown differences exactly zero


@pytest.fixture(scope="module")
def real_summary() -> pd.DataFrame:
    rows = []
    for policy in ("none", "crackdown_2021"):
        cfg = compose_config(
            [
                f"policy={policy}",
                "merchants.count=200",
                "time.spinup_weeks=4",
                "time.end_date=2021-12-27",
            ]
        )
        for rep in range(3):
            summary = run(dataclasses.replace(cfg, replicate=rep)).summary
            scalars = {k: v for k, v in summary.items() if not isinstance(v, dict)}
            rows.append({"run_id": f"{policy}-{rep}", "scenario": policy, **scalars})
    return pd.DataFrame(rows)


def test_real_runs_paired_before_and_after_crackdown(real_summary):
    out = stats.paired_differences(
        real_summary,
        ["cn_share_of_amazon_sellers_before_crackdown", "stores_banned"],
        baseline="none",
    ).set_index("outcome")
    before = out.loc["cn_share_of_amazon_sellers_before_crackdown"]
    assert before["n_pairs"] == 3
    assert before["mean_diff"] == 0 and before["half_width"] == 0  # identical until the crackdown
    after = out.loc["stores_banned"]
    assert after["mean_diff"] > 0  # the crackdown bans stores; policy none bans none
    ci = stats.mean_ci(real_summary, "stores_banned", "scenario").set_index("scenario")
    assert ci.loc["none", "mean"] == 0 and ci.loc["crackdown_2021", "n"] == 3
