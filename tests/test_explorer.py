"""The explorer page's model, levers and figures (no browser; see test_explorer_browser)."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from sim.core.config import ConfigError
from sim.engine.compose import compose_config
from sim.explorer import components as C
from sim.explorer.model import DEFAULTS, LEVERS, ExplorerModel, Session, model_params, overrides


def test_untouched_levers_keep_the_preset():
    assert overrides() == ["policy=crackdown_2021", "merchants.count=5000", "seed=20210425"]
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
    assert (cfg.merchants.count, cfg.seed) == (800, 7)


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
    assert all(np.array_equal(before[k], v) for k, v in bad.market.recorder.data.items())
    assert bad.overrides == good.overrides
    bad.step()  # the previous model keeps running from where it was
    assert C.headline(bad.market)["week"] == 5


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
        html = C.headline_html(m.market)
        assert 'id="h-stores_banned"' in html and 'id="h-frozen_funds_usd_real"' in html
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


def test_latency_probe_measures_step_and_render():
    from sim.explorer.latency import measure

    out = measure(merchants=300, skip=1, weeks=3)
    assert 0 < out["step_median_s"] <= out["total_median_s"] <= out["total_p90_s"]
