"""The explorer's model: Mesa-style keyword parameters over a validated :class:`SimConfig`.

SolaraViz rebuilds its model as ``ExplorerModel(**control_values)`` on Reset. The
control values become Hydra overrides (:func:`overrides`), composed and validated by
:func:`compose_config`; a value the config rejects leaves the previous market, still
running and untouched, and keeps the config's message in :attr:`ExplorerModel.error`
for the page to show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np

from sim.core.config import ConfigError
from sim.core.model import MarketModel
from sim.engine.compose import compose_config, group_options

RIVAL = "tiktok_shop"  # the rival platform whose fee and subsidy are levers


@dataclass(frozen=True)
class Lever:
    """One control of the page.

    Attributes:
        name: keyword argument of :class:`ExplorerModel`.
        label: text next to the control.
        key: dotted config key the value overrides.
        kind: SolaraViz input type (``SliderFloat``, ``SliderInt``, ``Select``, ``InputText``).
        always: pass the value even when it equals the default (population, seed,
            preset); other levers override the preset only when moved, so that a
            preset such as ``escalating`` keeps its own values until a lever is touched.
        lo, hi, step: slider range; ``values``: choices of a Select.
    """

    name: str
    label: str
    key: str
    kind: str
    always: bool = False
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    values: tuple[str, ...] = ()


AMAZON = "policy.enforcement.amazon"
LADDERS = ("suspension, ban", "warning, suspension, ban", "warning, ban", "ban")

LEVERS: tuple[Lever, ...] = (
    Lever("policy", "Policy preset", "policy", "Select", always=True),
    Lever(
        "crackdown_start",
        "Amazon crackdown start (YYYY-MM-DD)",
        f"{AMAZON}.start_date",
        "InputText",
    ),
    Lever(
        "escalation_per_year",
        "Crackdown escalation (intensity growth / year)",
        f"{AMAZON}.escalation_per_year",
        "SliderFloat",
        lo=0.0,
        hi=2.0,
        step=0.1,
    ),
    Lever(
        "audit_probability",
        "Amazon audit probability / week",
        f"{AMAZON}.audit_probability_per_week",
        "SliderFloat",
        lo=0.0,
        hi=0.2,
        step=0.005,
    ),
    Lever(
        "penalty_ladder",
        "Penalty ladder (k-th strike)",
        f"{AMAZON}.penalty_ladder",
        "Select",
        values=LADDERS,
    ),
    Lever(
        "suspension_weeks",
        "Suspension length (weeks)",
        f"{AMAZON}.suspension_weeks",
        "SliderInt",
        lo=0,
        hi=52,
        step=1,
    ),
    Lever(
        "false_positive_rate",
        "False-positive rate (honest stores flagged)",
        f"{AMAZON}.false_positive_rate",
        "SliderFloat",
        lo=0.0,
        hi=0.1,
        step=0.005,
    ),
    Lever(
        "rival_fee",
        "TikTok Shop referral fee rate",
        f"platforms.{RIVAL}.referral_fee_rate",
        "SliderFloat",
        lo=0.0,
        hi=0.3,
        step=0.01,
    ),
    Lever(
        "rival_subsidy",
        "TikTok Shop new-seller subsidy (USD)",
        f"platforms.{RIVAL}.new_seller_subsidy_usd",
        "SliderInt",
        lo=0,
        hi=5000,
        step=100,
    ),
    Lever(
        "own_store_subsidy",
        "Own web store subsidy (USD per store)",
        "incentives.own_store_subsidy_usd",
        "SliderInt",
        lo=0,
        hi=1_000_000,
        step=10_000,
    ),
    Lever(
        "merchants",
        "Merchants (model firms)",
        "merchants.count",
        "SliderInt",
        always=True,
        lo=500,
        hi=20_000,
        step=500,
    ),
    Lever("seed", "Seed", "seed", "InputText", always=True),
)


def _defaults() -> dict[str, Any]:
    """Control defaults: the values of the default preset (``compose_config([])``)."""
    cfg = compose_config([])
    amazon = cfg.policy.enforcement["amazon"]
    rival = cfg.platforms[RIVAL]
    return {
        "policy": cfg.policy.name,
        "crackdown_start": amazon.start_date,
        "escalation_per_year": float(amazon.escalation_per_year),
        "audit_probability": float(amazon.audit_probability_per_week),
        "penalty_ladder": ", ".join(amazon.penalty_ladder),
        "suspension_weeks": round(amazon.suspension_weeks),
        "false_positive_rate": float(amazon.false_positive_rate),
        "rival_fee": float(rival.referral_fee_rate),
        "rival_subsidy": round(rival.new_seller_subsidy_usd),
        "own_store_subsidy": round(cfg.incentives.own_store_subsidy_usd),
        "merchants": int(cfg.merchants.count),
        "seed": str(cfg.seed),
    }


DEFAULTS: dict[str, Any] = _defaults()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return str(a).strip() == str(b).strip()


def _format(lever: Lever, value: Any) -> str:
    if lever.name == "penalty_ladder":
        steps = [s.strip() for s in str(value).split(",") if s.strip()]
        return "[" + ",".join(steps) + "]"
    if isinstance(value, float):
        return repr(round(value, 10))
    return str(value).strip()


def overrides(**values: Any) -> list[str]:
    """Hydra overrides for control ``values`` (missing controls keep their defaults).

    Example: ``overrides(audit_probability=0.05)`` gives
    ``['policy=crackdown_2021', 'policy.enforcement.amazon.audit_probability_per_week=0.05',
    'merchants.count=5000', 'seed=20210425']``.
    """
    out = []
    for lever in LEVERS:
        value = values.get(lever.name, DEFAULTS[lever.name])
        if lever.always or not _same(value, DEFAULTS[lever.name]):
            out.append(f"{lever.key}={_format(lever, value)}")
    return out


def model_params() -> dict[str, dict[str, Any]]:
    """SolaraViz ``model_params`` (the control panel), in the order of :data:`LEVERS`."""
    params: dict[str, dict[str, Any]] = {}
    for lever in LEVERS:
        p: dict[str, Any] = {
            "type": lever.kind,
            "label": lever.label,
            "value": DEFAULTS[lever.name],
        }
        if lever.kind.startswith("Slider"):
            p.update(min=lever.lo, max=lever.hi, step=lever.step)
        if lever.kind == "Select":
            p["values"] = list(lever.values or group_options("policy"))
        params[lever.name] = p
    return params


class Session:
    """Per-browser-session holder of the last market built from a valid config."""

    def __init__(self) -> None:
        self.market: MarketModel | None = None
        self.overrides: list[str] = []


def build_market(ovr: list[str]) -> MarketModel:
    """Compose ``ovr``, build the market and simulate its unrecorded spin-up.

    Raises:
        ConfigError: the config's own message for a rejected value.
    """
    market = MarketModel(compose_config(ovr))
    while market.running and market.t + 1 < market.spinup:
        market.step()
    return market


class ExplorerModel(mesa.Model):
    """A :class:`MarketModel` behind keyword parameters, as SolaraViz expects.

    Each keyword is a lever of :data:`LEVERS` (defaults: the default preset). ``session``
    carries the last valid market across Resets: when the config rejects a value,
    :attr:`market` is that previous market, unchanged, and :attr:`error` holds the
    message (``None`` when the values were accepted).
    """

    def __init__(
        self,
        policy: str = DEFAULTS["policy"],
        crackdown_start: str = DEFAULTS["crackdown_start"],
        escalation_per_year: float = DEFAULTS["escalation_per_year"],
        audit_probability: float = DEFAULTS["audit_probability"],
        penalty_ladder: str = DEFAULTS["penalty_ladder"],
        suspension_weeks: int = DEFAULTS["suspension_weeks"],
        false_positive_rate: float = DEFAULTS["false_positive_rate"],
        rival_fee: float = DEFAULTS["rival_fee"],
        rival_subsidy: int = DEFAULTS["rival_subsidy"],
        own_store_subsidy: int = DEFAULTS["own_store_subsidy"],
        merchants: int = DEFAULTS["merchants"],
        seed: str = DEFAULTS["seed"],
        session: Session | None = None,
    ) -> None:
        super().__init__()
        values = {k: v for k, v in locals().items() if k in DEFAULTS}
        self.session = session if session is not None else Session()
        self.error: str | None = None
        ovr = overrides(**values)
        try:
            market = build_market(ovr)
        except ConfigError as exc:
            market, self.error = None, str(exc)
        except Exception as exc:  # never let a control value take the page down
            market, self.error = None, f"could not build the model: {exc}"
        if market is None:
            if self.session.market is None:
                self.session.market = build_market(overrides())
                self.session.overrides = overrides()
        else:
            self.session.market, self.session.overrides = market, ovr
        self.market: MarketModel = self.session.market
        self.overrides = self.session.overrides
        self.running = self.market.running

    def step(self) -> None:
        """Advance the market one week (does nothing past the end of its horizon)."""
        if self.market.running:
            self.market.step()
        self.running = self.market.running


def recorded(market: MarketModel, name: str) -> np.ndarray:
    """Recorded weeks (spin-up excluded) of metric ``name``: array (weeks, platform, origin)."""
    first = market.spinup
    return market.recorder.data[name][first : max(market.t + 1, first)]


def headline(market: MarketModel) -> dict[str, Any]:
    """Headline numbers of the recorded weeks so far (model units unless ``_real``)."""
    names = market.platform_names
    scale = market.cfg.merchants.scale
    week = max(market.t + 1 - market.spinup, 0)
    out: dict[str, Any] = {
        "week": week,
        "date": str(market.date()) if week else "-",
        "stores_suspended": float(recorded(market, "new_suspensions").sum()),
        "stores_banned": float(recorded(market, "new_bans").sum()),
        "honest_stores_penalised": float(
            sum(
                recorded(market, n).sum()
                for n in ("false_positives", "false_links", "swept_honest")
            )
        ),
        "frozen_funds_usd_real": 0.0,
        "own_web_stores_CN": 0.0,
        "own_web_stores": 0.0,
        "cn_share_of_amazon_sellers": float("nan"),
    }
    if week:
        out["frozen_funds_usd_real"] = float(recorded(market, "frozen_usd")[-1].sum() * scale)
        listed = recorded(market, "listed_merchants")[-1]
        own = market.cfg.incentives.own_store_platform
        if own in names:
            out["own_web_stores_CN"] = float(listed[names.index(own), 0])
            out["own_web_stores"] = float(listed[names.index(own)].sum())
        if "amazon" in names and listed[names.index("amazon")].sum() > 0:
            a = listed[names.index("amazon")]
            out["cn_share_of_amazon_sellers"] = float(a[0] / a.sum())
    return out
