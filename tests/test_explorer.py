"""The explorer page's model, levers and figures (no browser; see test_explorer_browser)."""

from __future__ import annotations

import html
import inspect
import math
import re

import numpy as np
import pandas as pd
import pytest

from sim.core.config import ConfigError
from sim.engine.compose import compose_config
from sim.engine.provenance import config_hash
from sim.engine.runner import run, timeseries_frame
from sim.explorer import components as C
from sim.explorer.model import (
    DEFAULTS,
    LEVER,
    LEVERS,
    ExplorerModel,
    PageModel,
    Session,
    baseline_overrides,
    model_params,
    overrides,
    parse_command,
    shell_command,
)

BASE = ["merchants.count=5000", "seed=20210425", "replicate=0"]


def test_untouched_levers_keep_the_preset():
    assert overrides() == ["policy=crackdown_2021", *BASE]
    # escalating keeps its own escalation until the lever is moved
    cfg = compose_config(overrides(policy="escalating"))
    assert cfg.policy.enforcement["amazon"].escalation_per_year == 0.5


def test_moved_levers_reach_the_config():
    ovr = overrides(
        crackdown_start="2020-06-01",
        escalation_per_year=0.3,
        audit_probability=0.05,
        penalty_ladder="warning, ban",
        suspension_weeks=12,
        false_positive_rate=0.02,
        rival_fee=0.05,
        rival_subsidy=1500,
        own_store_subsidy=0,
        merchants=800,
        seed="7",
        replicate="3",
    )
    cfg = compose_config(ovr)
    amazon = cfg.policy.enforcement["amazon"]
    assert amazon.start_date == "2020-06-01"
    assert amazon.escalation_per_year == 0.3
    assert amazon.audit_probability_per_week == 0.05
    assert amazon.penalty_ladder == ["warning", "ban"]
    assert amazon.suspension_weeks == 12
    assert amazon.false_positive_rate == 0.02
    assert cfg.platforms["tiktok_shop"].referral_fee_rate == 0.05
    assert cfg.platforms["tiktok_shop"].new_seller_subsidy_usd == 1500
    assert cfg.incentives.own_store_subsidy_usd == 0
    assert (cfg.merchants.count, cfg.seed, cfg.replicate) == (800, 7, 3)


def test_every_lever_is_a_keyword_with_a_control():
    params = inspect.signature(ExplorerModel.__init__).parameters
    controls = model_params()
    for lever in LEVERS:
        assert params[lever.name].default == DEFAULTS[lever.name]
        assert controls[lever.name]["value"] == DEFAULTS[lever.name]
        assert controls[lever.name]["type"] in {"SliderFloat", "SliderInt", "Select", "InputText"}
    assert set(controls["policy"]["values"]) >= {"none", "crackdown_2021"}


def test_model_starts_after_spinup_and_steps_weekly():
    m = ExplorerModel(merchants=300)
    assert m.error is None
    assert m.market.t + 1 == m.market.spinup
    assert C.headline(m.market)["week"] == 0
    for _ in range(3):
        m.step()
    h = C.headline(m.market)
    assert h["week"] == 3 and h["date"] == "2020-01-20"
    assert 0 < h["cn_share_of_amazon_sellers"] < 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"crackdown_start": "2021-02-30"}, "policy.enforcement.amazon.start_date: '2021-02-30'"),
        ({"seed": "abc"}, "seed: 'abc' is not a valid integer"),
        ({"penalty_ladder": "jail"}, "penalty_ladder: 'jail' is not allowed"),
        ({"crackdown_start": "2021-01-01 seed=3"}, ""),
    ],
)
def test_rejected_value_keeps_the_running_model(values, message):
    session = Session()
    good = ExplorerModel(merchants=300, session=session)
    for _ in range(4):
        good.step()
    before = {k: v.copy() for k, v in good.market.recorder.data.items()}
    bad = ExplorerModel(merchants=300, session=session, **values)
    assert bad.error and message in bad.error
    with pytest.raises(ConfigError):
        compose_config(overrides(merchants=300, **values))
    assert bad.market is good.market and bad.market.t == good.market.t
    assert bad.baseline is good.baseline and bad.baseline.t == good.baseline.t
    assert all(np.array_equal(before[k], v) for k, v in bad.market.recorder.data.items())
    assert bad.overrides == good.overrides
    assert bad.baseline_overrides == good.baseline_overrides
    bad.step()  # the previous model keeps running from where it was
    assert C.headline(bad.market)["week"] == 5 and C.headline(bad.baseline)["week"] == 5


def test_replaced_markets_are_released():
    """Mesa 3.3 keeps every model with agents in ``Agent._ids``: a Reset lets both go."""
    import mesa

    session = Session()
    first = ExplorerModel(merchants=300, session=session)
    old = (first.market, first.baseline)
    ExplorerModel(merchants=300, seed="5", session=session)
    ids = getattr(mesa.Agent, "_ids", None)
    if isinstance(ids, dict):  # Mesa 3.3; later versions keep no such table
        assert not any(m in ids for m in old)
        assert session.market in ids and session.baseline in ids


def test_unknown_baseline_is_rejected_like_a_config_value():
    session = Session()
    good = ExplorerModel(merchants=300, session=session)
    bad = ExplorerModel(merchants=300, session=session, compare_against="yesterday")
    assert bad.error and "compare_against: 'yesterday' is not allowed" in bad.error
    assert bad.market is good.market


def test_crackdown_lever_changes_the_numbers():
    calm = ExplorerModel(merchants=500)
    hard = ExplorerModel(merchants=500, crackdown_start="2020-01-06", audit_probability=0.1)
    for _ in range(12):
        calm.step()
        hard.step()
    hc, hh = C.headline(calm.market), C.headline(hard.market)
    assert hc["stores_suspended"] == 0 and hc["stores_banned"] == 0
    assert hh["stores_suspended"] > 0 and hh["frozen_funds_usd_real"] > 0


def test_flow_matrix_matches_flow_table():
    m = ExplorerModel(merchants=400)
    for _ in range(20):
        m.step()
    mat = C.flow_matrix(m.market, weeks=8)
    cols = m.market.flow_columns()
    names = [*m.market.platform_names, "none"]
    keep = cols["step"] >= 20 - 8
    expect = np.zeros_like(mat)
    for f, t, n in zip(
        cols["from_platform"][keep], cols["to_platform"][keep], cols["merchants"][keep], strict=True
    ):
        expect[names.index(f), names.index(t)] += n
    assert mat.sum() > 0
    np.testing.assert_allclose(mat, expect)


def test_figures_and_table_draw_at_week_zero_and_later():
    m = ExplorerModel(merchants=300)
    for _ in range(2):
        for f in (C.shares_figure, C.flows_figure, C.grey_figure):
            fig = f(m.market)
            assert fig.axes
        for f in (C.effect_sellers_figure, C.effect_grey_figure):
            assert f(m.market, m.baseline).axes
        table = C.headline_html(m.market)
        assert 'id="h-stores_banned"' in table and 'id="h-frozen_funds_usd_real"' in table
        table = C.headline_html(m.market, m.baseline)
        assert 'id="b-stores_banned"' in table and 'id="d-stores_banned"' in table
        assert 'id="cmd-whatif-cli"' in C.reproduce_html(m)
        m.step()
    # grey share plotted is grey / active stores of the platform
    ax = C.grey_figure(m.market).axes[0]
    line = ax.get_lines()[0]
    g = C.recorded(m.market, "grey_stores")[:, 0].sum(axis=1)
    a = C.recorded(m.market, "active_stores")[:, 0].sum(axis=1)
    np.testing.assert_allclose(line.get_ydata(), g / a)
    assert not math.isnan(float(line.get_ydata()[-1]))


def test_app_module_builds_the_page():
    from sim.explorer import app
    from sim.explorer.__main__ import command

    assert callable(app.Page)
    cmd = command("127.0.0.1", 8765)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and "--production" in cmd


@pytest.mark.parametrize("tab", ["compare", "whatif"])
def test_latency_probe_measures_step_and_render(tab):
    from sim.explorer.latency import measure

    out = measure(merchants=300, skip=1, weeks=3, tab=tab)
    assert 0 < out["one_market_step_median_s"] <= out["step_median_s"]
    assert out["step_median_s"] <= out["total_median_s"] <= out["total_p90_s"]


# --- the comparison: a what-if and its baseline, common random numbers -------------


def test_baseline_is_the_preset_without_the_moved_levers():
    values = {"audit_probability": 0.05, "rival_fee": 0.05, "seed": "7", "replicate": "2"}
    same = ["merchants.count=5000", "seed=7", "replicate=2"]
    assert baseline_overrides("preset", **values) == ["policy=crackdown_2021", *same]
    # policy=none drops the enforcement levers and keeps the market ones
    assert baseline_overrides("none", **values) == [
        "policy=none",
        "platforms.tiktok_shop.referral_fee_rate=0.05",
        *same,
    ]
    assert baseline_overrides("preset", policy="escalating")[0] == "policy=escalating"
    with pytest.raises(ValueError, match="compare_against"):
        baseline_overrides("last_year")


def _same_markets(a, b) -> bool:
    return a.t == b.t and all(
        np.array_equal(a.recorder.data[k], b.recorder.data[k], equal_nan=True)
        for k in a.recorder.data
    )


@pytest.mark.parametrize(
    ("values", "acts"),
    [
        # the moved levers act from the (moved) crackdown start, 2020-04-06: week 14
        ({"crackdown_start": "2020-04-06", "audit_probability": 0.05}, 14),
        # against policy=none, the preset itself acts from its start (moved to 2020-03-02)
        ({"crackdown_start": "2020-03-02", "compare_against": "none"}, 9),
    ],
)
def test_difference_is_exactly_zero_until_a_lever_acts(values, acts):
    m = ExplorerModel(merchants=300, **values)
    assert m.error is None and not m.same_config
    assert m.market.cfg.seed == m.baseline.cfg.seed
    assert m.market.cfg.replicate == m.baseline.cfg.replicate
    for _ in range(acts - 1):
        m.step()
    assert m.week == acts - 1
    assert _same_markets(m.market, m.baseline)  # every recorded number, bit for bit
    d = C.differences(m.market, m.baseline)
    assert all(np.all(np.nan_to_num(v) == 0) for v in d.values())
    table = C.headline_html(m.market, m.baseline)
    assert re.search(r'id="d-stores_suspended"[^>]*><b>0</b>', table)
    assert re.search(r'id="d-cn_share_of_amazon_sellers"[^>]*><b>0 pp</b>', table)
    for _ in range(4):
        m.step()
    d = C.differences(m.market, m.baseline)
    assert d["stores_suspended"][-1] != 0 or np.nanmax(np.abs(d["grey_share_pp"])) > 0
    assert not _same_markets(m.market, m.baseline)


def test_same_config_pair_stays_identical():
    m = ExplorerModel(merchants=300, seed="11")
    assert m.same_config and m.market is not m.baseline
    for _ in range(6):
        m.step()
    assert _same_markets(m.market, m.baseline)


def test_page_model_takes_the_page_controls():
    session = Session()
    session.controls = {**session.controls, "merchants": 300, "audit_probability": 0.02}
    session.controls["compare_against"] = "none"
    m = PageModel(session=session)
    assert "policy.enforcement.amazon.audit_probability_per_week=0.02" in m.overrides
    assert m.baseline_overrides[0] == "policy=none" and m.compare_against == "none"


def test_run_to_date_steps_both_to_the_week_of_the_date():
    m = ExplorerModel(merchants=300, audit_probability=0.05)
    assert m.run_to("2020-03-04") == 9  # a Wednesday: the week that starts 2020-03-02
    assert C.headline(m.market)["date"] == "2020-03-02" == C.headline(m.baseline)["date"]
    assert m.week == 9 and m.steps == 9
    stepped = ExplorerModel(merchants=300, audit_probability=0.05)
    for _ in range(9):
        stepped.step()
    assert _same_markets(m.market, stepped.market)
    assert _same_markets(m.baseline, stepped.baseline)
    assert m.run_to("2020-03-02") == 0  # already there
    # an earlier date starts both again: the same weeks as stepping there
    assert m.run_to("2020-01-20") == 3 and m.week == 3 and m.steps == 3
    for _ in range(6):
        stepped.step()
    m.run_to("2020-04-13")
    assert _same_markets(m.market, stepped.market)
    assert _same_markets(m.baseline, stepped.baseline)


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("2021-02-30", "'2021-02-30' is not a date: use YYYY-MM-DD"),
        ("next week", "'next week' is not a date"),
        ("2019-12-31", "2019-12-31 is outside the run: the run's weeks go from 2020-01-06"),
        ("2026-01-05", "2026-01-05 is outside the run"),
    ],
)
def test_run_to_a_bad_date_says_why_and_leaves_the_markets(date, message):
    m = ExplorerModel(merchants=300)
    m.step()
    with pytest.raises(ValueError, match=re.escape(message)):
        m.run_to(date)
    assert m.week == 1 and m.baseline.t == m.market.t


def test_run_to_the_last_week_stops_at_the_horizon():
    m = ExplorerModel(merchants=300)
    m.run_to("2026-01-04")  # the last day of the last week
    assert not m.running and C.headline(m.market)["date"] == "2025-12-29"
    assert m.baseline.t == m.market.t == m.market.n_steps - 1


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"audit_probability": 0.05, "compare_against": "none", "rival_subsidy": 1500},
        {"penalty_ladder": "warning, ban", "crackdown_start": "2020-06-01", "seed": "9"},
        {"policy": "escalating", "escalation_per_year": 1.2, "replicate": "4"},
    ],
)
def test_copy_as_command_reproduces_the_page_config(values):
    m = ExplorerModel(merchants=300, **values)
    assert m.error is None
    c = m.commands()
    for side, market in (("whatif", m.market), ("baseline", m.baseline)):
        ovr = parse_command(c[f"{side}_cli"])
        assert config_hash(compose_config(ovr)) == config_hash(market.cfg)
        call = c[f"{side}_python"]
        assert config_hash(eval(call, {"compose_config": compose_config})) == config_hash(
            market.cfg
        )
    if "penalty_ladder" in values:  # [..] is quoted for the shell
        assert "'policy.enforcement.amazon.penalty_ladder=[warning,ban]'" in c["whatif_cli"]
    # the Python snippet on the page runs as it is
    snippet = C.reproduce_html(m).split('id="cmd-python"')[1].split(">", 1)[1].split("</pre>")[0]
    ns: dict = {}
    exec(html.unescape(snippet), ns)
    assert config_hash(ns["whatif"]) == config_hash(m.market.cfg)
    assert config_hash(ns["baseline"]) == config_hash(m.baseline.cfg)


def test_copied_command_reproduces_the_page_run():
    """The runner, given the command's config, simulates the very weeks the page shows."""
    m = ExplorerModel(merchants=300, audit_probability=0.05, crackdown_start="2020-02-03")
    m.run_to("2020-04-27")
    cfg = compose_config(parse_command(m.commands()["whatif_cli"]))
    result = run(cfg, steps=m.market.t + 1)
    pd.testing.assert_frame_equal(result.timeseries, timeseries_frame(m.market))


def test_shell_command_round_trip_and_refusal():
    ovr = ["policy=none", "policy.enforcement.amazon.penalty_ladder=[warning,ban]", "seed=3"]
    assert parse_command(shell_command(ovr)) == ovr
    with pytest.raises(ValueError, match="not a 'python -m sim' command"):
        parse_command("python -m sim.explorer --port 1")


# --- the lever panel ---------------------------------------------------------------


def test_slider_rounding_of_an_off_grid_preset_value_is_no_move():
    audit = LEVER["audit_probability"]  # preset 0.006056 on a 0.005 grid
    assert C._snapped(audit, 0.006056, 0.005)  # what the slider reports when drawn
    assert not C._snapped(audit, 0.006056, 0.01)  # a real move
    assert not C._snapped(audit, 0.005, 0.005)
    assert not C._snapped(LEVER["rival_fee"], 0.08, 0.08)
    assert not C._snapped(LEVER["seed"], "1", "2")


def test_lever_captions_show_the_value_in_force():
    v = dict(DEFAULTS)
    assert C.lever_caption(LEVER["audit_probability"], v) == "0.006056 (preset)"
    assert C.lever_caption(LEVER["own_store_subsidy"], v) == "310,000 (preset)"
    v["audit_probability"] = 0.05
    assert C.lever_caption(LEVER["audit_probability"], v) == "0.05 (moved)"
    v = {**DEFAULTS, "policy": "escalating"}  # an unmoved lever keeps the preset's value
    assert C.lever_caption(LEVER["escalation_per_year"], v) == (
        "0.5 (escalating preset; control not moved)"
    )
    assert C.lever_caption(LEVER["merchants"], v) == "5,000"
