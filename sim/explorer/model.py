"""The explorer's model: Mesa-style keyword parameters over a validated :class:`SimConfig`.

SolaraViz rebuilds its model as ``ExplorerModel(**control_values)`` on Reset. The
control values become Hydra overrides (:func:`overrides`), composed and validated by
:func:`compose_config`; a value the config rejects leaves the previous markets, still
running and untouched, and keeps the config's message in :attr:`ExplorerModel.error`
for the page to show.

Every :class:`ExplorerModel` runs two markets in step: the what-if (the levers as
set) and its baseline (:func:`baseline_overrides`: the same run with the moved
levers back at the preset's values, or with ``policy=none``), with the same seed and
replicate, so that their difference is the levers' effect (common random numbers:
exactly zero until a lever first acts).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import shlex
import threading
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np

from sim.core.config import ConfigError, SimConfig
from sim.core.model import MarketModel, release_model
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
    Lever("replicate", "Replicate (seed stream)", "replicate", "InputText", always=True),
)
LEVER = {lever.name: lever for lever in LEVERS}

#: What the what-if is compared against (keyword ``compare_against``): key -> page label.
BASELINES: dict[str, str] = {
    "preset": "the preset with no lever moved",
    "none": "no enforcement (policy=none)",
}
#: What each baseline means, shown on the page under the difference view.
BASELINE_NOTES: dict[str, str] = {
    "preset": (
        "Baseline: the same preset, merchants, seed and replicate with no lever moved: "
        "each difference is the effect of the levers you moved."
    ),
    "none": (
        "Baseline: the same run with policy=none (no enforcement; the market levers, "
        "TikTok Shop fee and subsidy and own-store subsidy, as in the what-if): each "
        "difference is the effect of the enforcement policy, the preset and its levers."
    ),
}


def lever_values(cfg: SimConfig) -> dict[str, Any]:
    """The value of every lever in ``cfg``, as the page's controls show it."""
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
        "replicate": str(cfg.replicate),
    }


#: Control defaults: the values of the default preset (``compose_config([])``).
DEFAULTS: dict[str, Any] = lever_values(compose_config([]))


@functools.lru_cache(maxsize=16)
def preset_values(policy: str) -> dict[str, Any]:
    """Lever values of policy preset ``policy`` (what an unmoved lever leaves in force)."""
    return lever_values(compose_config([f"policy={policy}"]))


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


def moved(**values: Any) -> dict[str, Any]:
    """The levers in ``values`` moved away from their defaults (``always`` levers excluded)."""
    return {
        name: v
        for name, v in values.items()
        if name in LEVER and not LEVER[name].always and not _same(v, DEFAULTS[name])
    }


def baseline_overrides(compare_against: str = "preset", **values: Any) -> list[str]:
    """Hydra overrides of the baseline that the what-if ``values`` are compared with.

    Same merchants, seed and replicate as the what-if (common random numbers), and:

    - ``preset``: the same policy preset with every lever back at the preset's value;
    - ``none``: ``policy=none``, keeping the moved market levers (the keys outside
      ``policy.``), so that only the enforcement differs.

    Raises:
        ValueError: ``compare_against`` is not a key of :data:`BASELINES`.
    """
    if compare_against not in BASELINES:
        raise ValueError(
            f"compare_against: {compare_against!r} is not allowed; use one of {sorted(BASELINES)}"
        )
    keep = {n: v for n, v in values.items() if n in LEVER and LEVER[n].always}
    if compare_against == "none":
        keep.update(
            {n: v for n, v in moved(**values).items() if not LEVER[n].key.startswith("policy")}
        )
        keep["policy"] = "none"
    return overrides(**keep)


def shell_command(ovr: list[str]) -> str:
    """The ``python -m sim`` line that runs config ``ovr`` (each override shell-quoted)."""
    return " ".join(["python -m sim", *(shlex.quote(o) for o in ovr)])


def python_call(ovr: list[str]) -> str:
    """The ``compose_config`` call (Python) that gives config ``ovr``."""
    return f"compose_config({ovr!r})"


def parse_command(line: str) -> list[str]:
    """The overrides of a :func:`shell_command` line (its inverse, for scripts and tests)."""
    words = shlex.split(line)
    if words[:3] != ["python", "-m", "sim"]:
        raise ValueError(f"not a 'python -m sim' command: {line!r}")
    return words[3:]


def model_params() -> dict[str, dict[str, Any]]:
    """SolaraViz ``model_params`` for :class:`ExplorerModel`, in the order of :data:`LEVERS`.

    For SolaraViz's own control panel (e.g. in a notebook); the page has its own panel
    (:func:`sim.explorer.components.LeverPanel`), which shows each slider's value.
    """
    params: dict[str, dict[str, Any]] = {
        "compare_against": {
            "type": "Select",
            "label": "Compare against (baseline)",
            "value": "preset",
            "values": list(BASELINES),
        }
    }
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
    """Per-browser-session holder of the last pair of markets built from a valid config.

    ``controls``: the page's current control values (keywords of :class:`ExplorerModel`),
    applied on the next Reset.
    """

    def __init__(self) -> None:
        self.market: MarketModel | None = None
        self.baseline: MarketModel | None = None
        self.overrides: list[str] = []
        self.baseline_overrides: list[str] = []
        self.compare_against = "preset"
        self.controls: dict[str, Any] = {**DEFAULTS, "compare_against": "preset"}
        self.lock = threading.RLock()  # Play (a thread), Step and Run to date share the markets


def build_market(ovr: list[str]) -> MarketModel:
    """Compose ``ovr``, build the market and simulate its unrecorded spin-up.

    Raises:
        ConfigError: the config's own message for a rejected value.
    """
    market = MarketModel(compose_config(ovr))
    while market.running and market.t + 1 < market.spinup:
        market.step()
    return market


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _release(*markets: MarketModel | None) -> None:
    """Let replaced markets be garbage-collected (Mesa 3.3 keeps every model otherwise)."""
    for market in markets:
        if market is not None:
            release_model(market)


def target_step(market: MarketModel, date: str) -> int:
    """Model step of the week that contains ``date`` (YYYY-MM-DD), within the recorded run.

    Raises:
        ValueError: ``date`` is not a date, or lies outside the recorded weeks (a message
            for the page that names the allowed range).
    """
    text = str(date).strip()
    first = market.calendar.date(market.spinup)
    last = market.calendar.date(market.n_steps - 1)
    end = last + dt.timedelta(days=6)
    span = f"the run's weeks go from {first} to {last} (the week of {last} ends {end})"
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date: use YYYY-MM-DD; {span}") from None
    if day < first or day > end:
        raise ValueError(f"{day} is outside the run: {span}")
    return market.calendar.last_step_on_or_before(day)


class ExplorerModel(mesa.Model):
    """A what-if :class:`MarketModel` and its baseline behind keyword parameters.

    Each keyword is a lever of :data:`LEVERS` (defaults: the default preset);
    ``compare_against`` picks the baseline (:data:`BASELINES`, :func:`baseline_overrides`).
    Both markets have the same seed and replicate and step together. ``session``
    carries the last valid pair across Resets: when the config rejects a value,
    :attr:`market` and :attr:`baseline` are the previous ones, unchanged, and
    :attr:`error` holds the message (``None`` when the values were accepted).
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
        replicate: str = DEFAULTS["replicate"],
        compare_against: str = "preset",
        session: Session | None = None,
    ) -> None:
        super().__init__()
        values = {k: v for k, v in locals().items() if k in DEFAULTS}
        self.session = session if session is not None else Session()
        self.error: str | None = None
        built = None
        try:
            ovr = overrides(**values)
            base = baseline_overrides(compare_against, **values)
            built = (build_market(ovr), build_market(base), ovr, base)
        except (ConfigError, ValueError) as exc:
            self.error = str(exc)
        except Exception as exc:  # never let a control value take the page down
            self.error = f"could not build the model: {exc}"
        s = self.session
        with s.lock:
            if built is not None:
                _release(s.market, s.baseline)
                s.market, s.baseline, s.overrides, s.baseline_overrides = built
                s.compare_against = compare_against
            elif s.market is None:
                ovr = overrides()
                s.market, s.baseline = build_market(ovr), build_market(ovr)
                s.overrides, s.baseline_overrides = ovr, list(ovr)
                s.compare_against = "preset"
            self._adopt()

    def _adopt(self) -> None:
        s = self.session
        self.market: MarketModel = s.market
        self.baseline: MarketModel = s.baseline
        self.overrides: list[str] = s.overrides
        self.baseline_overrides: list[str] = s.baseline_overrides
        self.compare_against: str = s.compare_against
        self.running = self.market.running

    @property
    def same_config(self) -> bool:
        """True when the what-if and the baseline are one config (every difference is 0)."""
        return self.overrides == self.baseline_overrides

    @property
    def week(self) -> int:
        """Recorded weeks simulated so far (0 before the first Step)."""
        return max(self.market.t + 1 - self.market.spinup, 0)

    def _step_both(self) -> None:
        for market in (self.market, self.baseline):
            if market.running:
                market.step()
        self.running = self.market.running

    def step(self) -> None:
        """Advance both markets one week (does nothing past the end of the horizon)."""
        with self.session.lock:
            self._step_both()

    def run_to(self, date: str) -> int:
        """Step both markets until the last simulated week is the one containing ``date``.

        A date before the current week starts both markets again (the same configs, so
        the same weeks: the run is deterministic) and steps them forward. Returns the
        number of weeks stepped.

        Raises:
            ValueError: ``date`` is not YYYY-MM-DD or lies outside the recorded run
                (:func:`target_step`); the markets are untouched.
        """
        with self.session.lock:
            target = target_step(self.market, date)
            n = 0
            if target < self.market.t:
                s = self.session
                fresh = build_market(s.overrides), build_market(s.baseline_overrides)
                _release(s.market, s.baseline)
                s.market, s.baseline = fresh
                self._adopt()
                self.steps = 0
            while self.market.running and self.market.t < target:
                self._step_both()
                self.steps += 1  # as Mesa's step wrapper counts a Step click
                n += 1
            return n

    def commands(self) -> dict[str, str]:
        """``python -m sim`` lines and ``compose_config`` calls of the what-if and baseline."""
        return {
            "whatif_cli": shell_command(self.overrides),
            "whatif_python": python_call(self.overrides),
            "baseline_cli": shell_command(self.baseline_overrides),
            "baseline_python": python_call(self.baseline_overrides),
        }


class PageModel(ExplorerModel):
    """The page's model: :class:`ExplorerModel` with the values of the page's own controls.

    SolaraViz rebuilds it on Reset as ``PageModel(session=...)``; the lever values come
    from ``session.controls``, which the page's control panel sets (Mesa's own control
    panel shows no slider values, so the page has its own).
    """

    def __init__(self, session: Session | None = None) -> None:
        session = session if session is not None else Session()
        super().__init__(**session.controls, session=session)


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
