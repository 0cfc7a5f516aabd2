"""Sweep figures (sim.analysis.sweep_figures): the artists drawn match the tables given.

Synthetic tidy frames shaped like the sweep engine's (run keys plus the
docs/outputs.md columns), so these tests need neither the model nor files.
"""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.patches import PathPatch, Rectangle
from PIL import Image

from sim.analysis import figures, stats
from sim.analysis import sweep_figures as sf

PLATFORMS = ("amazon", "ebay", "shopify")


def make_ts(scenarios=("none", "crackdown_2021"), reps=3, weeks=12, seed=0) -> pd.DataFrame:
    """Weekly timeseries of several runs: run keys, platform, origin and the counts used."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2021-01-04", periods=weeks, freq="7D")
    rows = []
    for k, scen in enumerate(scenarios):
        for rep in range(reps):
            for step, date in enumerate(dates):
                for p in PLATFORMS:
                    for origin in ("CN", "other"):
                        listed = float(rng.integers(20, 60))
                        active = 2 * listed
                        rows.append(
                            {
                                "run_id": f"{scen}-{rep}",
                                "point_id": k,
                                "scenario": scen,
                                "replicate": rep,
                                "step": step,
                                "date": date,
                                "platform": p,
                                "origin": origin,
                                "listed_merchants": listed,
                                "alive_merchants": 100.0,
                                "active_stores": active,
                                "grey_stores": float(rng.integers(0, int(active) // 3)),
                            }
                        )
    return pd.DataFrame(rows)


def make_portfolios() -> pd.DataFrame:
    """Two replicates of CN portfolio transitions (and one 'other' row to ignore)."""
    rows = [
        # rep 0
        ("r0", 0, "amazon", "amazon", 10),
        ("r0", 0, "amazon", "amazon+ebay", 4),
        ("r0", 0, "amazon+ebay", "ebay", 2),
        ("r0", 0, "ebay", "exited", 1),
        ("r0", 0, "entered", "shopify", 3),
        ("r0", 0, "temu", "temu", 1),
        # rep 1: no amazon -> amazon+ebay move
        ("r1", 1, "amazon", "amazon", 12),
        ("r1", 1, "amazon+ebay", "ebay", 2),
        ("r1", 1, "ebay", "exited", 3),
        ("r1", 1, "entered", "shopify", 1),
        ("r1", 1, "temu", "none", 1),
    ]
    df = pd.DataFrame(
        rows, columns=["run_id", "replicate", "portfolio_from", "portfolio_to", "merchants"]
    )
    df["merchants"] = df["merchants"].astype(float)
    df["scenario"] = "crackdown_2021"
    df["origin"] = "CN"
    other = df.iloc[[0]].assign(origin="other", merchants=99.0)
    return pd.concat([df, other], ignore_index=True)


def bands(ax) -> list:
    return [c for c in ax.collections if isinstance(c, PolyCollection) and c.get_gid() == "ci_band"]


def mean_lines(ax) -> list:
    return [ln for ln in ax.get_lines() if ln.get_gid() == "mean_line"]


# ---------------------------------------------------------------------------
# time series with CI bands


def test_shares_ci_panels_bands_and_means():
    ts = make_ts()
    fig = sf.plot_shares_ci(ts)
    assert len(fig.axes) == 3  # reach CN, reach other, CN share of sellers
    for ax in fig.axes:
        assert len(bands(ax)) == 2 * len(PLATFORMS)  # scenarios x platforms
        assert len(mean_lines(ax)) == 2 * len(PLATFORMS)
        assert ax.get_ylim() == (0.0, 1.0)
    assert len(fig.legends) == 2  # platforms (colour, marker) and scenarios (line style)
    # the first CN-reach line is scenario 'none', amazon: its y equals the table's mean
    expected = stats.time_series_ci(
        stats.reach(ts), "reach", ("scenario", "date", "platform", "origin")
    )
    want = expected.query("scenario == 'none' and platform == 'amazon' and origin == 'CN'")
    line = mean_lines(fig.axes[0])[0]
    np.testing.assert_allclose(line.get_ydata(), want["mean"].to_numpy())
    styles = {ln.get_linestyle() for ln in mean_lines(fig.axes[0])}
    assert len(styles) == 2  # one line style per scenario
    matplotlib.pyplot.close(fig)


def test_shares_ci_single_replicate_has_no_band_and_too_many_scenarios_refused():
    fig = sf.plot_shares_ci(make_ts(reps=1), scenarios=["none"])
    assert all(len(bands(ax)) == 0 for ax in fig.axes)
    assert all(len(mean_lines(ax)) == len(PLATFORMS) for ax in fig.axes)
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="at most 4"):
        sf.plot_shares_ci(make_ts(scenarios=tuple("abcde"), reps=2, weeks=3))
    with pytest.raises(ValueError, match="not in the data"):
        sf.plot_shares_ci(make_ts(), scenarios=["escalating"])


def test_grey_prevalence_one_panel_per_scenario():
    ts = make_ts(scenarios=("none", "crackdown_2021", "escalating"))
    fig = sf.plot_grey_prevalence(ts)
    assert len(fig.axes) == 3  # 2 x 2 grid, spare cell removed
    assert [ax.get_title() for ax in fig.axes] == [
        "scenario: none",
        "scenario: crackdown_2021",
        "scenario: escalating",
    ]
    for ax in fig.axes:
        assert len(bands(ax)) == len(PLATFORMS)
    prev = stats.time_series_ci(
        stats.grey_prevalence(ts), "grey_prevalence", ("scenario", "date", "platform")
    )
    want = prev.query("scenario == 'escalating' and platform == 'ebay'")["mean"].to_numpy()
    np.testing.assert_allclose(mean_lines(fig.axes[2])[1].get_ydata(), want)
    matplotlib.pyplot.close(fig)


# ---------------------------------------------------------------------------
# alluvial


def test_portfolio_flows_mean_counts_missing_pairs_as_zero():
    flows = sf.portfolio_flows(make_portfolios(), origin="CN")
    got = flows.set_index(["portfolio_from", "portfolio_to"])["merchants"]
    assert got[("amazon", "amazon")] == 11.0
    assert got[("amazon", "amazon+ebay")] == 2.0  # 4 in r0, absent (0) in r1
    assert got[("ebay", "exited")] == 2.0
    assert got[("temu", "temu")] == 0.5
    assert flows.attrs["n_runs"] == 2
    assert len(flows) == 7


def test_alluvial_one_ribbon_per_nonzero_pair_and_labels():
    fig = sf.plot_alluvial(make_portfolios(), origin="CN", top=8)
    ax = fig.axes[0]
    ribbons = [p for p in ax.patches if isinstance(p, PathPatch) and p.get_gid() == "ribbon"]
    assert len(ribbons) == 7
    # ribbon heights at the left end equal the flows (stacked, in model firms)
    heights = sorted(p.get_path().vertices[0, 1] - p.get_path().vertices[7, 1] for p in ribbons)
    assert heights == pytest.approx(sorted([11.0, 2.0, 2.0, 2.0, 2.0, 0.5, 0.5]))
    nodes = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid() == "node"]
    left = {"amazon", "amazon+ebay", "ebay", "entered", "temu"}
    right = {"amazon", "amazon+ebay", "ebay", "exited", "shopify", "temu", "none"}
    assert len(nodes) == len(left) + len(right)
    texts = [t.get_text() for t in ax.texts]
    assert "AMZ  (13)" in texts  # left total for amazon: 11 + 2 (whole above 10)
    assert "AMZ+eBay  (2.0)" in texts and "exited  (2.0)" in texts
    matplotlib.pyplot.close(fig)


def test_alluvial_lumps_small_portfolios():
    fig = sf.plot_alluvial(make_portfolios(), top=1, abbreviate=False)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("other portfolios") for t in texts)
    assert not any(t.startswith("amazon+ebay") for t in texts)
    flows = sf.portfolio_flows(make_portfolios(), top=1)
    ribbons = [p for p in ax.patches if p.get_gid() == "ribbon"]
    assert len(ribbons) == len(flows) == 6  # two pairs merged into other->other
    assert flows["merchants"].sum() == pytest.approx(20.0)  # lumping keeps every firm
    matplotlib.pyplot.close(fig)


def test_alluvial_needs_one_scenario():
    two = pd.concat([make_portfolios(), make_portfolios().assign(scenario="none")])
    with pytest.raises(ValueError, match="scenario"):
        sf.plot_alluvial(two)
    fig = sf.plot_alluvial(two, scenario="none")
    matplotlib.pyplot.close(fig)


# ---------------------------------------------------------------------------
# heatmap


def grid_summary() -> pd.DataFrame:
    xs, ys = [0.0, 0.01, 0.02, 0.05], [0.0, 500.0, 1000.0]
    rows = [
        {"param.a.audit_probability_per_week": x, "param.b.subsidy_usd": y, "replicate": r}
        for x in xs
        for y in ys
        for r in range(2)
    ]
    df = pd.DataFrame(rows)
    df["stores_banned"] = 1000 * df.iloc[:, 0] + df.iloc[:, 1] / 100 + df["replicate"]
    return df


def test_heatmap_grid_shape_values_and_labels():
    df = grid_summary()
    fig = sf.plot_heatmap(
        df, "param.a.audit_probability_per_week", "param.b.subsidy_usd", "stores_banned"
    )
    ax = fig.axes[0]
    img = ax.images[0].get_array()
    assert img.shape == (3, 4)  # (levels of y, levels of x)
    assert img[2, 3] == pytest.approx(1000 * 0.05 + 10 + 0.5)  # mean of the two replicates
    labels = [t for t in ax.texts if t.get_gid() == "cell_label"]
    assert len(labels) == 12
    assert fig.axes[1].get_ylabel() == "stores_banned"  # colour bar names the outcome
    assert ax.get_xlabel() == "a.audit_probability_per_week"
    matplotlib.pyplot.close(fig)


def test_heatmap_missing_cell_is_blank():
    df = grid_summary()
    df = df[~((df.iloc[:, 0] == 0.05) & (df.iloc[:, 1] == 0.0))]
    fig = sf.plot_heatmap(df, df.columns[0], df.columns[1], "stores_banned")
    ax = fig.axes[0]
    assert ax.images[0].get_array().mask[0, 3]
    assert len([t for t in ax.texts if t.get_gid() == "cell_label"]) == 11
    matplotlib.pyplot.close(fig)


def test_heatmap_bins_for_continuous_samples():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"param.x": rng.uniform(0, 1, 200), "param.y": rng.uniform(0, 10, 200)})
    df["out"] = df["param.x"] + df["param.y"]
    with pytest.raises(ValueError, match="bins"):
        sf.plot_heatmap(df, "param.x", "param.y", "out")
    fig = sf.plot_heatmap(df, "param.x", "param.y", "out", bins=3)
    assert fig.axes[0].images[0].get_array().shape == (3, 3)
    matplotlib.pyplot.close(fig)
    fig = sf.plot_heatmap(df, "param.x", "param.y", "out", bins=(4, [0, 5, 10]), agg="median")
    assert fig.axes[0].images[0].get_array().shape == (2, 4)
    assert fig.axes[1].get_ylabel() == "out (median)"
    matplotlib.pyplot.close(fig)


# ---------------------------------------------------------------------------
# scenario comparisons and adequacy


def summary_frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    common = rng.normal(0, 1, 6)
    rows = []
    for k, scen in enumerate(("none", "crackdown_2021", "escalating")):
        for rep in range(6):
            rows.append(
                {
                    "run_id": f"{scen}-{rep}",
                    "scenario": scen,
                    "replicate": rep,
                    "stores_banned": 100 * k + 10 * common[rep] + rng.normal(0, 1),
                    "cn_share_of_amazon_sellers_end_2021": 0.4 - 0.05 * k + 0.01 * common[rep],
                }
            )
    return pd.DataFrame(rows)


def test_outcome_bars_heights_and_errors():
    ci = stats.mean_ci(summary_frame(), ["stores_banned"], "scenario")
    fig = sf.plot_outcome_bars(ci, "stores_banned")
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 3
    assert [b.get_height() for b in bars] == pytest.approx(ci["mean"].tolist())
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == ci["scenario"].tolist()
    assert len(ax.containers) == 2  # bars and error bars
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="not in the table"):
        sf.plot_outcome_bars(ci, "grey_share_amazon_end_2021")


def test_paired_forest_rows_and_panels():
    outs = ["stores_banned", "cn_share_of_amazon_sellers_end_2021"]
    table = stats.paired_differences(summary_frame(), outs, "none")
    fig = sf.plot_paired_differences(table)
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left") for ax in panels] == outs
    for ax in panels:
        labels = sorted(t.get_text() for t in ax.get_yticklabels())
        assert labels == ["crackdown_2021 − none", "escalating − none"]
        assert len(ax.texts) == 2  # numbers beside each row
    matplotlib.pyplot.close(fig)


def test_replication_adequacy_log_log():
    ad = stats.replication_adequacy(summary_frame(), "stores_banned", "scenario")
    fig = sf.plot_replication_adequacy(ad)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 3 + 1  # one per scenario and the 1/sqrt(n) reference
    matplotlib.pyplot.close(fig)
    fig = sf.plot_replication_adequacy(ad, relative=True)
    assert fig.axes[0].get_ylabel() == "CI half-width / |mean|"
    matplotlib.pyplot.close(fig)


# ---------------------------------------------------------------------------
# every figure renders and saves with provenance


def _all_figures():
    ts = make_ts()
    summ = summary_frame()
    return {
        "shares": lambda: sf.plot_shares_ci(ts),
        "grey": lambda: sf.plot_grey_prevalence(ts),
        "alluvial": lambda: sf.plot_alluvial(make_portfolios()),
        "heatmap": lambda: sf.plot_heatmap(
            grid_summary(),
            "param.a.audit_probability_per_week",
            "param.b.subsidy_usd",
            "stores_banned",
        ),
        "bars": lambda: sf.plot_outcome_bars(
            stats.mean_ci(summ, "stores_banned", "scenario"), "stores_banned"
        ),
        "paired": lambda: sf.plot_paired_differences(
            stats.paired_differences(summ, "stores_banned", "none")
        ),
        "adequacy": lambda: sf.plot_replication_adequacy(
            stats.replication_adequacy(summ, "stores_banned", "scenario")
        ),
    }


def test_every_figure_saves_png_and_pdf_with_provenance(tmp_path):
    prov = {"git_sha": "abc123", "git_dirty": False, "experiment": "crackdown_sweep"}
    for name, build in _all_figures().items():
        written = figures.save(build(), tmp_path / name, prov, formats=("png", "pdf"))
        png, pdf = written
        assert png.suffix == ".png" and pdf.suffix == ".pdf"
        with Image.open(png) as im:
            assert json.loads(im.text["Description"]) == prov
            assert im.size[0] > 500 and im.size[1] > 300
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and b"/Subject" in data and b"abc123" in data
