"""Mesa's own tools on MarketModel: the data collector, batch_run, SolaraViz plot components.

Runs on the Mesa of the environment: 3.3.1 under Python 3.11, the newest 3.x under
3.12 (CI runs this file on both). Where the two Mesa versions differ (how
``batch_run`` passes seeds), the test takes the path of the version at hand.
"""

from __future__ import annotations

import math

import mesa
import numpy as np
import pandas as pd
import pytest
from conftest import ENFORCED, SMALL, compose, step_all

from sim.core.config import ConfigError
from sim.core.model import MarketModel
from sim.core.presets import override_value, settings_overrides
from sim.core.reporters import reporter_names
from sim.engine.runner import flows_frame, summarize, timeseries_frame

# Mesa 3.3's SolaraViz module trips solara's rules-of-hooks check when imported (Mesa's code)
pytestmark = pytest.mark.filterwarnings("ignore:.*use_state. found despite early return")

MESA = tuple(int(x) for x in mesa.__version__.split(".")[:2])
# batch_run gained its own ``rng`` argument in Mesa 3.4 and overwrites an "rng" parameter
BATCH_RNG_ARGUMENT = MESA >= (3, 4)

# 150 firms, 2 spin-up weeks, 13 recorded weeks: a run well under a second
TINY = {"merchants.count": 150, "time.spinup_weeks": 2, "time.end_date": "2020-03-30"}


def _batch(parameters: dict, seeds: list[int] | None = None, **kw) -> pd.DataFrame:
    """``mesa.batch_run`` on MarketModel, seeds passed the way this Mesa wants them."""
    parameters = dict(parameters)
    if seeds is not None:
        if BATCH_RNG_ARGUMENT:
            kw["rng"] = seeds
        else:
            parameters["rng"] = seeds
    rows = mesa.batch_run(MarketModel, parameters=parameters, display_progress=False, **kw)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------- data collector


def test_datacollector_rows_are_the_recorded_weeks():
    """One row per simulated week; each column equals the outputs it summarises."""
    model = MarketModel(compose(*ENFORCED))
    step_all(model)
    df = model.datacollector.get_model_vars_dataframe()
    names = model.platform_names
    assert list(df.columns) == reporter_names(names)
    assert len(df) == model.n_steps == model.steps
    np.testing.assert_array_equal(df["week"], np.arange(model.n_steps) - model.spinup)
    dates = model.calendar.dates().astype(str)
    assert list(df["date"]) == list(dates)

    ts = timeseries_frame(model)
    rec = df[df["week"] >= 0].set_index("week")
    assert len(rec) == ts["step"].nunique()
    listed = ts.pivot_table(index="step", columns=["platform", "origin"], values="listed_merchants")
    for p in names:
        for o in ("CN", "other"):
            np.testing.assert_array_equal(
                rec[f"listed_merchants_{p}_{o}"], listed[(p, o)].loc[rec.index]
            )
    by_p = ts.groupby(["step", "platform"])[["grey_stores", "active_stores"]].sum()
    for p in names:
        g = by_p.xs(p, level="platform")
        expect = (g["grey_stores"] / g["active_stores"].where(g["active_stores"] > 0)).to_numpy()
        np.testing.assert_allclose(rec[f"grey_share_{p}"], expect, rtol=1e-12, equal_nan=True)
    amazon = listed["amazon"]
    np.testing.assert_allclose(
        rec["cn_share_of_amazon_sellers"], amazon["CN"] / amazon.sum(axis=1), rtol=1e-12
    )
    # the last row is the run's summary at its end
    summary = summarize(model, ts, flows_frame(model), 0.0)
    last = df.iloc[-1]
    assert summary["stores_banned"] > 0
    assert math.isclose(last["stores_banned"], summary["stores_banned"], rel_tol=1e-9)
    for o in ("CN", "other"):
        assert math.isclose(
            last[f"multihoming_share_{o}"], summary[f"multihoming_share_{o}_end"], rel_tol=1e-12
        )
    assert math.isclose(
        last["cn_share_of_amazon_sellers"], summary["cn_share_of_amazon_sellers_end"], rel_tol=1e-12
    )
    stats = model.firm_stats[model.t]
    assert math.isclose(last["multihoming_share"], stats[:, 2].sum() / stats[:, 1].sum())
    # bans are counted from start_date, 0 in the spin-up; never decreasing
    assert (df.loc[df["week"] < 0, "stores_banned"] == 0).all()
    assert (np.diff(df["stores_banned"]) >= -1e-9).all()


def test_collecting_changes_nothing_in_the_outputs():
    """The reporters only read: a run whose collector is emptied has the same tables."""
    cfg = compose(*SMALL)
    a, b = MarketModel(cfg), MarketModel(cfg)
    b.datacollector = mesa.DataCollector()  # no reporters: collect() does nothing
    step_all(a)
    step_all(b)
    pd.testing.assert_frame_equal(timeseries_frame(a), timeseries_frame(b))
    pd.testing.assert_frame_equal(flows_frame(a), flows_frame(b))


def test_platform_without_stores_has_no_grey_share():
    """Before its launch a platform has no active store: its grey share is NaN, not 0."""
    model = MarketModel(**TINY)
    for _ in range(3):
        model.step()
    row = model.datacollector.get_model_vars_dataframe().iloc[-1]
    launched = {p.name: p.launched(model.t) for p in model.platform_agents}
    assert not launched["temu"] and launched["amazon"]
    assert math.isnan(row["grey_share_temu"]) and row["listed_merchants_temu_CN"] == 0
    assert 0 < row["grey_share_amazon"] < 1


# ------------------------------------------------------- config through keywords


def test_overrides_and_keywords_compose_like_compose_config():
    model = MarketModel(
        overrides=["policy=none"], **{"merchants.count": 150, "time.spinup_weeks": 2}
    )
    expect = compose("policy=none", "merchants.count=150", "time.spinup_weeks=2")
    assert model.cfg == expect
    assert model.cfg.policy.name == "none" and model.cfg.merchants.count == 150


def test_keyword_values_become_override_text():
    assert override_value("k", np.float64(0.05)) == "0.05"
    assert override_value("k", np.int64(7)) == "7"
    assert override_value("k", True) == "true"
    assert override_value("k", None) == "null"
    assert override_value("k", "none") == "none"  # a preset name stays a plain word
    assert override_value("k", "2021-04-26") == "2021-04-26"
    assert override_value("k", "true") == "'true'"  # a string, not a boolean
    assert override_value("k", "it's") == "'it\\'s'"
    assert override_value("k", ["warning", "ban"]) == "[warning,ban]"
    assert settings_overrides({"policy": "none", "merchants.count": 500}) == [
        "policy=none",
        "merchants.count=500",
    ]
    ladder = ["warning", "ban"]
    model = MarketModel(**TINY, **{"policy.enforcement.amazon.penalty_ladder": ladder})
    assert model.cfg.policy.enforcement["amazon"].penalty_ladder == ladder


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"merchants.cout": 5}, "merchants.cout: unknown key; allowed keys under merchants: count"),
        ({"merchants.count": -5}, "merchants.count"),
        ({"policy": "strict"}, "policy: unknown preset 'strict'; choose one of"),
        ({"merchants.count": {"a": 1}}, "merchants.count: cannot use a dict as a value"),
        ({"overrides": "policy=none"}, "overrides: expected a list of strings"),
        ({"rng": "abc"}, "rng: expected an integer root seed"),
        ({"config": "default"}, None),  # checked below: config with overrides
    ],
)
def test_bad_keywords_give_one_clear_error(kwargs, message):
    if "config" in kwargs:
        with pytest.raises(ConfigError, match="pass either config or overrides, not both"):
            MarketModel(compose(*SMALL), **{"merchants.count": 100})
        return
    with pytest.raises(ConfigError) as err:
        MarketModel(**kwargs)
    assert str(err.value).startswith(message.split(";")[0])
    assert message in str(err.value)


# ------------------------------------------------------------------- batch_run


def test_batch_run_sweeps_dotted_keys_and_seeds():
    df = _batch({**TINY, "policy": ["none", "crackdown_2021"]}, seeds=[1, 2])
    assert len(df) == 4  # 2 policies x 2 seeds, the last week of each run
    assert set(df["policy"]) == {"none", "crackdown_2021"}
    assert set(df["rng"]) == {1, 2}
    weeks = MarketModel(**TINY).calendar.n_recorded
    assert (df["week"] == weeks - 1).all() and (df["date"] == "2020-03-30").all()
    # a seed is a seed: each run equals the model built directly with that rng
    for rng in (1, 2):
        direct = MarketModel(rng=rng, **TINY, policy="none")
        direct.run()
        want = direct.datacollector.get_model_vars_dataframe().iloc[-1]
        got = df[(df["rng"] == rng) & (df["policy"] == "none")].iloc[0]
        for col in reporter_names(direct.platform_names):
            assert got[col] == want[col] or (math.isnan(got[col]) and math.isnan(want[col]))
    shares = df.groupby("rng")["listed_merchants_amazon_CN"].first()
    assert shares[1] != shares[2]  # different seeds, different runs


def test_batch_run_every_week_and_replicates_on_any_mesa():
    """``replicate`` (or ``seed``) as a parameter varies the streams on every Mesa 3.x."""
    df = _batch({**TINY, "replicate": [0, 1]}, data_collection_period=1)
    n_steps = MarketModel(**TINY).n_steps
    assert len(df) == 2 * n_steps
    for _, run in df.groupby("replicate"):
        assert list(run["week"]) == list(range(-2, n_steps - 2))
    last = df.groupby("replicate")["listed_merchants_amazon_CN"].last()
    assert last[0] != last[1]


def test_batch_run_stops_on_a_bad_key():
    with pytest.raises(ConfigError, match=r"merchants\.cout: unknown key"):
        _batch({**TINY, "merchants.cout": [5]})


# ------------------------------------------------------------ SolaraViz plots


@pytest.fixture(scope="module")
def stepped_model():
    model = MarketModel(**TINY)
    for _ in range(6):
        model.step()
    return model


def test_matplotlib_plot_component_draws_the_reporters(stepped_model, monkeypatch):
    solara = pytest.importorskip("solara")
    from mesa.visualization import make_plot_component

    drawn = []
    original = solara.FigureMatplotlib

    def capture(fig, *args, **kwargs):
        drawn.append(fig)
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(solara, "FigureMatplotlib", capture)
    df = stepped_model.datacollector.get_model_vars_dataframe()
    for measure in ("cn_share_of_amazon_sellers", ["grey_share_amazon", "grey_share_ebay"]):
        component, page = make_plot_component(measure)
        assert page == 0
        solara.render(component(stepped_model), handle_error=False)
        ax = drawn[-1].axes[0]
        names = [measure] if isinstance(measure, str) else measure
        assert len(ax.get_lines()) == len(names)
        for line, name in zip(ax.get_lines(), names, strict=True):
            np.testing.assert_allclose(line.get_ydata(), df[name])
            assert len(line.get_ydata()) == 6


def test_altair_plot_component_and_page(stepped_model):
    solara = pytest.importorskip("solara")
    import ipywidgets
    from mesa.visualization import SolaraViz, make_plot_component

    component, _ = make_plot_component(
        {"multihoming_share_CN": "tab:red", "multihoming_share_other": "tab:blue"},
        backend="altair",
    )
    _, rc = solara.render(component(stepped_model), handle_error=False)
    (chart,) = [w for w in rc.find(ipywidgets.Widget).widgets if type(w).__name__ == "VegaLite"]
    spec = str(chart.spec)
    last = stepped_model.datacollector.get_model_vars_dataframe()["multihoming_share_CN"].iloc[-1]
    assert "multihoming_share_CN" in spec and repr(float(last))[:8] in spec
    # the whole page builds around the model, a control per dotted key
    page = SolaraViz(
        stepped_model,
        components=[make_plot_component("stores_banned")],
        model_params={"merchants.count": {"type": "SliderInt", "value": 150, "min": 100,
                                          "max": 500, "step": 50, "label": "Merchants"}},
    )  # fmt: skip
    solara.render(page, handle_error=False)
