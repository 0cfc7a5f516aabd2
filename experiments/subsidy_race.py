"""Study 3: the subsidy race (own-store and TikTok Shop subsidies, then an Amazon fee hike).

Sweep: ``configs/experiment/subsidy_race.yaml``.

    python -m experiments.subsidy_race [profile=paper] [executor=dask ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments._common import main, param, save_figure

OWN = param("incentives.own_store_subsidy_usd")
TIKTOK = param("platforms.tiktok_shop.new_seller_subsidy_usd")


def make_figures(root: Path, sweep) -> list[Path]:
    """Heatmaps of where CN sellers end up over the two subsidies, per fee scenario."""
    from sim.analysis import stats, sweep_figures
    from sim.analysis.load import load_portfolios, load_summary

    summary = load_summary(root)
    if summary.empty:
        return []
    # outcomes dated after the end of a short horizon are absent: skip them
    outcomes = [o for o in sweep.experiment.outcomes if o in summary]
    out = []
    for scenario, part in summary.groupby("scenario", sort=False):
        for outcome in (
            "own_web_stores_CN_end_2023",
            "platform_seller_counts_end.tiktok_shop",
            "cn_share_of_amazon_sellers_end",
        ):
            if outcome not in part:
                continue
            fig = sweep_figures.plot_heatmap(
                part, OWN, TIKTOK, outcome, title=f"{outcome}\n({scenario})"
            )
            out += save_figure(fig, root, f"heatmap_{outcome}_{scenario}", sweep)
    exp = sweep.experiment
    paired = stats.paired_differences(
        summary, outcomes, baseline=(exp.baseline_scenario, 0), by=["scenario", "point_id"]
    )
    # one figure per contrast: the fee hike (with the subsidies' own effects under the
    # 2020 fees, as before) and the responding rivals, each against the 2020 fees
    rivals = paired["scenario"] == "rivals_respond"
    for name, part in (
        ("paired_fee_hike", paired[~rivals]),
        ("paired_rivals_respond", paired[rivals]),
    ):
        if len(part):
            out += save_figure(sweep_figures.plot_paired_differences(part), root, name, sweep)
    port = load_portfolios(root)
    if len(port):
        fig = sweep_figures.plot_alluvial(port, origin="CN", scenario=exp.baseline_scenario)
        out += save_figure(fig, root, "alluvial_CN", sweep)
    return out


if __name__ == "__main__":
    sys.exit(main("subsidy_race", make_figures))
