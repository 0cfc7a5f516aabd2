"""Every preset composes and runs; the Python API of architecture.md."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, SMALL, compose

import sim
from sim.core.config import ConfigError
from sim.engine.compose import compose_config, group_options

CONTRACT_TIMESERIES = [
    "step",
    "date",
    "platform",
    "origin",
    "listed_merchants",
    "active_stores",
    "suspended_stores",
    "banned_stores",
    "grey_share",
    "gmv",
    "fee_revenue",
]
CONTRACT_FLOWS = ["step", "origin", "from_platform", "to_platform", "merchants", "cause"]
ALL_PLATFORMS = ["amazon", "ebay", "aliexpress", "shopify", "temu", "tiktok_shop"]

# ---------------------------------------------------------------- presets


def test_preset_groups_are_the_files_on_disk():
    assert group_options("policy") == sorted(
        p.stem for p in (REPO / "configs" / "policy").glob("*.yaml")
    )
    assert {"none", "crackdown_2021", "coordinated", "escalating"} <= set(group_options("policy"))
    assert group_options("population") == ["shenzhen_mix"]
    assert sorted(group_options("platform")) == sorted(ALL_PLATFORMS)


ENFORCED_ON = {
    "none": set(),
    "crackdown_2021": {"amazon"},
    "escalating": {"amazon"},
    # every marketplace; not Temu, a managed platform whose sellers cannot buy reviews
    "coordinated": set(ALL_PLATFORMS) - {"temu"},
}


@pytest.mark.parametrize("policy", group_options("policy"))
def test_every_policy_preset_composes_and_runs(policy):
    cfg = compose(f"policy={policy}", *SMALL)
    assert cfg.policy.name == policy
    if policy in ENFORCED_ON:
        enforcing = {
            name for name, e in cfg.policy.enforcement.items() if e.audit_probability_per_week > 0
        }
        assert enforcing == ENFORCED_ON[policy]
    res = sim.run(cfg, steps=6)
    assert res.summary["policy"] == policy
    assert res.summary["steps"] == 6
    assert res.timeseries["step"].max() == 1  # 4 spin-up weeks, then 2 recorded
    assert res.timeseries["gmv"].sum() > 0


def test_escalating_and_coordinated_presets_carry_their_levers():
    esc = compose("policy=escalating")
    assert esc.policy.enforcement["amazon"].escalation_per_year == 0.5
    assert esc.policy.enforcement["amazon"].start_date == "2021-04-26"
    coord = compose("policy=coordinated")
    crack = compose("policy=crackdown_2021")
    amazon = crack.policy.enforcement["amazon"]
    for name in ENFORCED_ON["coordinated"]:
        # every marketplace enforces like Amazon's (calibrated) 2021 crackdown
        e = coord.policy.enforcement[name]
        assert e.start_date == "2021-04-26"
        assert e.audit_probability_per_week == amazon.audit_probability_per_week > 0
        assert e.reinstatement_probability == amazon.reinstatement_probability
    assert amazon.baseline_intensity == 0.0
    assert coord.policy.enforcement["temu"].audit_probability_per_week == 0.0


def test_population_preset_composes_and_runs():
    cfg = compose("population=shenzhen_mix")
    assert cfg.merchants.count == 5000
    assert cfg.merchants.origins["CN"].share == pytest.approx(0.37)
    assert cfg.merchants.origins["other"].share == pytest.approx(0.63)
    cfg.merchants.count = 200
    res = sim.run(cfg, steps=3)
    # 200 sampled, plus the association members split out of them (docs/ODD.md, section 5)
    assert res.summary["initial_merchants"] > 200


def test_platform_presets_are_named_after_their_key():
    cfg = compose()
    assert list(cfg.platforms) == ALL_PLATFORMS
    for key, p in cfg.platforms.items():
        assert p.name == key
    assert cfg.platforms["temu"].launch_date == "2022-09-01"
    assert [pr.referral_fee_rate for pr in cfg.platforms["tiktok_shop"].promotions] == [
        0.0,
        0.02,
        0.06,
    ]


@pytest.mark.parametrize("removed", ["temu", "tiktok_shop"])
def test_removing_a_platform(removed):
    cfg = compose("policy=crackdown_2021", f"~platform@platforms.{removed}", *SMALL)
    assert removed not in cfg.platforms and len(cfg.platforms) == 5
    res = sim.run(cfg, steps=8)
    assert set(res.timeseries["platform"]) == set(ALL_PLATFORMS) - {removed}
    assert removed not in res.summary["platform_seller_counts_end"]


def test_removing_a_platform_the_policy_enforces_on_is_an_error():
    with pytest.raises(ConfigError, match=r"policy\.enforcement\.tiktok_shop") as err:
        compose_config(["policy=coordinated", "~platform@platforms.tiktok_shop"])
    assert "amazon" in str(err.value)  # names the platforms that are allowed


# --------------------------------------------------------------- Python API


def test_public_names():
    from sim import MarketModel, SimConfig, compose_config, run  # noqa: F401

    assert isinstance(compose_config(list(SMALL)), SimConfig)
    assert MarketModel is sim.core.model.MarketModel


@pytest.fixture(scope="module")
def small_result():
    return sim.run(compose(*SMALL))


def test_run_returns_contract_tables(small_result):
    res = small_result
    assert isinstance(res, sim.RunResult)
    ts, fl = res.timeseries, res.flows
    assert isinstance(ts, pd.DataFrame) and isinstance(fl, pd.DataFrame)
    assert ts.columns[: len(CONTRACT_TIMESERIES)].tolist() == CONTRACT_TIMESERIES
    assert set(CONTRACT_FLOWS) <= set(fl.columns)
    assert pd.api.types.is_datetime64_any_dtype(ts["date"])
    assert pd.api.types.is_integer_dtype(ts["step"])
    # tidy: one row per (step, platform, origin)
    assert not ts.duplicated(["step", "platform", "origin"]).any()
    assert len(ts) == 52 * 6 * 2
    assert set(ts["origin"]) == {"CN", "other"}
    assert set(ts["platform"]) == set(ALL_PLATFORMS)
    assert set(fl["from_platform"]) | set(fl["to_platform"]) <= {*ALL_PLATFORMS, "none"}
    assert len(fl) > 0


def test_run_summary_is_plain_json(small_result):
    s = small_result.summary
    assert isinstance(s, dict)
    text = json.dumps(s, allow_nan=False)
    assert json.loads(text) == s
    c = (
        s["alive_merchants"]
        - s["initial_merchants"]
        - s["entered_merchants"]
        - s["split_merchants"]
    )
    assert c == -s["exited_merchants"]
    assert s["initial_merchants"] > 200  # members split out of the 200 sampled
    assert s["recorded_steps"] == 52 and s["spinup_steps"] == 4
    assert set(s["platform_seller_counts_end"]) == set(ALL_PLATFORMS)


def test_run_writes_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sim.run(sim.compose_config(list(SMALL)), steps=3)
    assert list(tmp_path.iterdir()) == []


def test_run_validates_its_config():
    cfg = compose(*SMALL)
    cfg.merchants.count = -1
    with pytest.raises(ConfigError, match=r"^merchants\.count"):
        sim.run(cfg)
    with pytest.raises(ConfigError, match=r"^merchants\.count"):
        sim.MarketModel(cfg)


def test_market_model_without_config_uses_the_default_preset():
    m = sim.MarketModel()
    assert m.cfg == compose_config([])
    assert m.cfg.policy.name == "crackdown_2021"
    assert m.n0 == 5000 and m.P == 6
    assert m.calendar.n_recorded == 313 and m.spinup == 52


def test_merchant_agents_are_views_on_alive_firms(small_cfg):
    from sim.core.merchants import Merchant
    from sim.core.platforms import Platform

    m = sim.MarketModel(small_cfg)
    for _ in range(20):
        m.step()
    merchants = list(m.agents_by_type[Merchant])
    alive = np.flatnonzero(m.firms.alive[: m.firms.n])
    assert len(merchants) == alive.size
    assert sorted(a.row for a in merchants) == alive.tolist()
    assert len(list(m.agents_by_type[Platform])) == 6
    assert m.counts()["exited_merchants"] + m.counts()["entered_merchants"] > 0
    for a in merchants[:50]:
        f = a.row
        assert a.alive
        assert a.cash == m.firms.cash[f]
        assert a.size == m.firms.size[f]
        assert a.origin == ("CN", "other")[m.firms.origin[f]]
        assert a.platforms == [p for i, p in enumerate(m.platform_names) if m.listed[f, i]]
        assert set(a.perceived_risk) == set(m.platform_names)
        live = [s for s in a.stores() if s["status"] in ("active", "warned", "suspended")]
        assert {s["platform"] for s in live} == set(a.platforms)
