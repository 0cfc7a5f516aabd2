"""Configuration schema: plain dataclasses that are the single source of truth.

Every numeric field is declared with :func:`param`, which records its unit,
valid range, meaning and source. :func:`validate` checks a whole
:class:`SimConfig` against those declarations and raises one
:class:`ConfigError` that names the key and what is allowed. The ODD parameter
table (docs/ODD.md) lists every field declared here; a test keeps the two in
step.

Sources are abbreviated; full references are in docs/ODD.md. "[choice]" marks
a modelling choice that stays a parameter with a range, "[est]" an estimate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

ORIGINS: tuple[str, ...] = ("CN", "other")
KNOWN_PLATFORMS: tuple[str, ...] = (
    "amazon",
    "ebay",
    "aliexpress",
    "shopify",
    "temu",
    "tiktok_shop",
)
PENALTIES: tuple[str, ...] = ("warning", "suspension", "ban")
TARGETING: tuple[str, ...] = ("random", "risk")
BUSINESS_MODELS: tuple[str, ...] = ("marketplace", "managed")
ENFORCEMENT_RESPONSES: tuple[str, ...] = ("fixed", "prevalence")
SUBSIDY_RESPONSES: tuple[str, ...] = ("fixed", "seller_share")
TOPOLOGIES: tuple[str, ...] = ("scale_free", "random", "none")


class ConfigError(ValueError):
    """A user error in the configuration: one message naming key and allowed values."""


def param(
    default: Any,
    *,
    unit: str,
    doc: str,
    lo: float | None = None,
    hi: float | None = None,
    source: str = "[choice]",
    choices: tuple[str, ...] | None = None,
) -> Any:
    """Declare a config field with its unit, range, meaning and source."""
    meta = {"unit": unit, "doc": doc, "lo": lo, "hi": hi, "source": source, "choices": choices}
    if isinstance(default, list | dict):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


# --------------------------------------------------------------------------- time


@dataclass
class TimeConfig:
    """Calendar of the run: one step is one week."""

    start_date: str = param(
        "2020-01-06", unit="date", doc="first simulated week (a Monday, ISO date)"
    )
    end_date: str = param(
        "2025-12-29", unit="date", doc="last simulated week (inclusive, ISO date)"
    )
    spinup_weeks: int = param(
        52,
        unit="weeks",
        lo=0,
        hi=520,
        doc="weeks simulated before start_date, not recorded, so that the initial "
        "population settles (fixed calendar: enforcement and launches keep their dates)",
    )


# ---------------------------------------------------------------------- merchants


@dataclass
class EntryWindow:
    """A period in which an origin's entry rate is scaled (surges, recruitment drives)."""

    start_date: str = param("2020-01-06", unit="date", doc="first week of the window")
    end_date: str = param("2099-12-31", unit="date", doc="last week of the window")
    multiplier: float = param(
        1.0, unit="1", lo=0, hi=100, doc="factor on entry_rate_per_week during the window"
    )


@dataclass
class OriginConfig:
    """Attributes of the firms of one origin (mainland China or other)."""

    share: float = param(0.5, unit="fraction", lo=0, hi=1, doc="share of initial firms")
    size_pareto_alpha: float = param(
        1.16,
        unit="1",
        lo=1.01,
        hi=5,
        doc="Pareto tail index of real firm size (demand weight, median 1)",
        source="Marketplace Pulse (top 1k sellers ~25%, top 10k ~57% of Amazon GMV) [est]",
    )
    size_max: float = param(
        4000.0,
        unit="median firms",
        lo=1.0,
        hi=1e9,
        doc="size of the largest real firm (the Pareto law is truncated there): about "
        "$1bn of yearly sales at the default market size, the scale of the largest "
        "Chinese sellers suspended in 2021",
        source="Marketplace Pulse 2021 (a dozen+ suspended sellers with >$1bn combined sales) "
        "[est]",
    )
    capital_weeks_of_sales: float = param(
        26.0,
        unit="weeks",
        lo=0,
        hi=520,
        doc="initial cash in weeks of expected sales at a 10% net margin",
    )
    quality_mean: float = param(
        4.2,
        unit="stars",
        lo=1,
        hi=5,
        doc="mean true product quality (1-5 stars)",
        source="He, Hollenbeck & Proserpio 2022 (ratings ~4.4 incl. inflation)",
    )
    quality_sd: float = param(0.3, unit="stars", lo=0, hi=2, doc="sd of true quality")
    price_mean_usd: float = param(
        25.0,
        unit="USD",
        lo=0.01,
        hi=10_000,
        doc="mean product price",
        source="He et al. 2022 (products $15-40)",
    )
    price_cv: float = param(0.3, unit="1", lo=0, hi=3, doc="coefficient of variation of price")
    grey_propensity_mean: float = param(
        0.5,
        unit="1",
        lo=0,
        hi=1,
        doc="mean grey-practice propensity (Beta distributed, scales the perceived gain)",
        source="He et al. 2022 (>80% of review buyers Chinese) [est]; CN preset [calibrated]",
    )
    grey_propensity_concentration: float = param(
        4.0, unit="1", lo=0.1, hi=1000, doc="Beta concentration a+b of propensity"
    )
    stores_per_platform_mean: float = param(
        0.3,
        unit="stores",
        lo=0,
        hi=100,
        doc="mean extra stores per platform for a median-size firm (Poisson, grows with "
        "sqrt of size); one firm ran 1,135 Amazon stores",
        source="Youkeshu filing 2021 [est]",
    )
    association_members: float = param(
        0.0,
        unit="real firms",
        lo=0,
        hi=1e9,
        doc="trade-association members among this origin's real firms at the start; a "
        "firm's chance of membership is proportional to its size (large sellers join), "
        "min(1, c x), with c set so the expected count matches",
        source="Shenzhen CBEC Association: 2,600+ member companies (SCMP 2021)",
    )
    initial_listing_probability: dict[str, float] = param(  # noqa: RUF009 (returns a field)
        {},
        unit="probability",
        lo=0,
        hi=1,
        doc="probability that an initial firm is listed on each platform in week 0 "
        "(platforms not named: 0)",
    )
    entry_rate_per_week: float = param(
        0.002,
        unit="1/week",
        lo=0,
        hi=1,
        doc="new firms per week as a fraction of the initial firms of this origin",
        source="Marketplace Pulse (~3,300 new Amazon sellers a day) [est]",
    )
    new_platform_propensity: float = param(
        1.0,
        unit="1",
        lo=0,
        hi=100,
        doc="multiplier on the value of joining a platform (willingness to try channels)",
    )
    entry_windows: list[EntryWindow] = field(
        default_factory=list,
        metadata={
            "unit": "-",
            "doc": "periods in which entry_rate_per_week is multiplied (the last window that "
            "covers a week wins); none: the base rate throughout",
            "lo": None,
            "hi": None,
            "source": "[option]: e.g. Amazon's recruitment in China (75% of new sellers "
            "Chinese, January 2021: Marketplace Pulse)",
            "choices": None,
        },
    )


def _default_origins() -> dict[str, OriginConfig]:
    return {"CN": OriginConfig(share=0.4), "other": OriginConfig(share=0.6)}


@dataclass
class MerchantsConfig:
    """The firm population (population presets set these)."""

    count: int = param(
        5000,
        unit="model firms",
        lo=0,
        hi=100_000_000,
        doc="initial model firms (the resolution: each stands for a weighted number of "
        "real firms, see real_firms and sampling_tail_share)",
    )
    real_firms: float = param(
        500_000.0,
        unit="real firms",
        lo=1,
        hi=1e9,
        doc="real cross-border firms in the market at the start (both origins); the model "
        "firms are a weighted sample of them, so outcomes in real units do not depend on "
        "count",
        source="[choice]: the first model version's 5,000 model firms x 100",
    )
    sampling_tail_share: float = param(
        0.05,
        unit="fraction of real firms",
        lo=0,
        hi=1,
        doc="the largest real firms sampled in proportion to size (the top ones "
        "individually); the rest are sampled with equal weights. 0: equal weights",
        source="Horvitz & Thompson 1952; Sarndal et al. 1992 (PPS with certainty units); "
        "Scheffer et al. 1995 (super-individuals) [choice]",
    )
    member_row_max_firms: float = param(
        0.0,
        unit="real firms",
        lo=0,
        hi=1e9,
        doc="association members: no member row stands for more than this many real "
        "firms (their split-off part becomes equal copies); 0: a member row stands for "
        "all of its firm's expected members (up to ~12 real firms at 2,000 model firms)",
        source="[choice]: 1 draws every member as a single firm (about 2,975 member rows "
        "at every size); it does not remove the resolution drift of concentration "
        "effects (validation.md, scale invariance)",
    )
    split_share: float = param(
        0.01,
        unit="fraction of a platform's sales weight",
        lo=1e-4,
        hi=1,
        doc="a model firm standing for several real firms that joins a platform splits into "
        "equal rows (at most one per real firm) so that none holds more than this share of "
        "the platform's anticipated sales weight; a numerical resolution, not behaviour "
        "(1: never split)",
        source="Parry & Bithell 2012 (super-individual splitting) [choice]",
    )
    origins: dict[str, OriginConfig] = field(
        default_factory=_default_origins,
        metadata={
            "unit": "-",
            "doc": "per-origin attributes (keys CN, other)",
            "lo": None,
            "hi": None,
            "source": "[choice]",
            "choices": None,
        },
    )
    gross_margin_rate: float = param(
        0.45,
        unit="fraction of price",
        lo=0,
        hi=1,
        doc="price minus cost of goods, as a share of price",
        source="[est]",
    )
    exit_hazard_per_week: float = param(
        0.002, unit="1/week", lo=0, hi=1, doc="exogenous exit hazard of a firm"
    )
    bankruptcy_cash_weeks: float = param(
        4.0,
        unit="weeks",
        lo=0,
        hi=520,
        doc="a firm exits when cash < -(this many weeks of its running costs)",
    )

    @property
    def scale(self) -> float:
        """Real firms per model-firm equivalent, ``real_firms / count`` (derived, not a key).

        The mean real firms per *sampled* model firm; the association members
        split out of them (population.split_members) add rows, not real firms.

        Counts in the outputs are in model-firm equivalents (real firms / scale);
        multiply by ``scale`` for real firms.
        """
        return float(self.real_firms) / max(int(self.count), 1)


# ---------------------------------------------------------------------- platforms


@dataclass
class FeePromotion:
    """A time-limited referral-fee rate (promotions, fee hikes)."""

    start_date: str = param("2020-01-06", unit="date", doc="first week the rate applies")
    end_date: str = param("2099-12-31", unit="date", doc="last week the rate applies")
    referral_fee_rate: float = param(
        0.0, unit="fraction of GMV", lo=0, hi=1, doc="referral rate during the window"
    )


@dataclass
class PlatformConfig:
    """A marketplace (or, for shopify, own web stores on a software platform)."""

    name: str = param("amazon", unit="-", doc="platform name", choices=KNOWN_PLATFORMS)
    launch_date: str = param("2000-01-01", unit="date", doc="date sellers can join")
    referral_fee_rate: float = param(
        0.15,
        unit="fraction of GMV",
        lo=0,
        hi=1,
        doc="commission on sales",
        source="Amazon referral 8-17%, mostly 15%",
    )
    fulfilment_ads_rate: float = param(
        0.15,
        unit="fraction of GMV",
        lo=0,
        hi=1,
        doc="other platform charges (fulfilment, ads, payments) as a share of sales",
        source="Marketplace Pulse: Amazon total take >50% in 2022 [est]",
    )
    fixed_fee_per_month_usd: float = param(
        39.99, unit="USD/month/store", lo=0, hi=1e6, doc="subscription per store"
    )
    per_order_fee_usd: float = param(0.0, unit="USD/order", lo=0, hi=1e4, doc="fee per order")
    promotions: list[FeePromotion] = field(
        default_factory=list,
        metadata={
            "unit": "-",
            "doc": "referral-rate windows overriding the base rate",
            "lo": None,
            "hi": None,
            "source": "[choice]",
            "choices": None,
        },
    )
    consumer_appeal: float = param(
        1.0,
        unit="1",
        lo=0,
        hi=1e6,
        doc="baseline buyer attractiveness (logit weight across platforms)",
        source="eMarketer / IPC cross-border survey shares [est]",
    )
    appeal_growth_per_year: float = param(
        0.0, unit="1/year", lo=-1, hi=10, doc="growth rate of consumer appeal after launch"
    )
    launch_ramp_weeks: float = param(
        26.0, unit="weeks", lo=0, hi=520, doc="weeks for buyer appeal to ramp up after launch"
    )
    network_effect_elasticity: float = param(
        0.3,
        unit="1",
        lo=0,
        hi=2,
        doc="elasticity of buyer appeal w.r.t. seller variety (cross-side effect)",
        source="Rochet & Tirole 2003; Armstrong 2006 [choice]",
    )
    trust_sensitivity: float = param(
        1.0,
        unit="1",
        lo=0,
        hi=10,
        doc="loss of buyer trust per unit of fake-review prevalence",
        source="Gandhi, Hollenbeck & Li 2025 (consumer harm) [choice]",
    )
    onboarding_cost_usd: float = param(
        2000.0, unit="USD", lo=0, hi=1e8, doc="one-off cost to open a store (listing, compliance)"
    )
    vetting_pass_probability: float = param(
        0.8,
        unit="probability",
        lo=0,
        hi=1,
        doc="chance an application by a legitimate firm passes vetting",
        source="Amazon: ~6% of all attempted registrations passed in 2020 (mostly fraud) [est]",
    )
    running_cost_per_week_usd: float = param(
        150.0,
        unit="USD/week",
        lo=0,
        hi=1e8,
        doc="firm's own cost of operating on the platform (staff, tooling)",
    )
    new_seller_subsidy_usd: float = param(
        0.0, unit="USD", lo=0, hi=1e8, doc="one-off cash the platform pays a new seller"
    )
    new_seller_fee_holiday_weeks: float = param(
        0.0, unit="weeks", lo=0, hi=520, doc="weeks without referral fee for a new store"
    )
    business_model: str = param(
        "marketplace",
        unit="-",
        doc="'marketplace': sellers run their listings and may buy reviews; 'managed': sellers "
        "sell at wholesale to the platform, which sets retail prices and runs listings and "
        "reviews, so no seller-bought reviews (referral_fee_rate is then the wholesale "
        "discount) and only admitted_origins may join until semi_managed_date",
        choices=BUSINESS_MODELS,
        source="Temu's fully managed model (Marketplace Pulse; Jiemian News 2022)",
    )
    admitted_origins: list[str] = field(
        default_factory=lambda: list(ORIGINS),
        metadata={
            "unit": "-",
            "doc": "seller origins a managed platform admits before semi_managed_date (a "
            "fully managed platform recruits suppliers that ship to its warehouses); a "
            "marketplace admits every origin",
            "lo": None,
            "hi": None,
            "source": "[choice]",
            "choices": ORIGINS,
        },
    )
    subsidy_response: str = param(
        "fixed",
        unit="-",
        doc="'fixed': new_seller_subsidy_usd; 'seller_share': from subsidy_response_start "
        "the subsidy rises as the platform's seller count falls short of its largest "
        "rival's (ODD 7.6): several responding platforms can race",
        choices=SUBSIDY_RESPONSES,
    )
    subsidy_response_start: str = param(
        "2021-04-26", unit="date", doc="first week of the subsidy response"
    )
    subsidy_response_usd: float = param(
        10000.0,
        unit="USD",
        lo=0,
        hi=1e8,
        doc="subsidy added per unit of relative shortfall of the seller count below target",
    )
    subsidy_target_ratio: float = param(
        1.0,
        unit="1",
        lo=1e-6,
        hi=100,
        doc="seller count the platform aims for, relative to its largest rival's (1: match "
        "the leader)",
    )
    subsidy_max_usd: float = param(
        10000.0, unit="USD", lo=0, hi=1e8, doc="cap on the responsive subsidy"
    )
    semi_managed_date: str = param(
        "2099-01-01",
        unit="date",
        doc="from this date a managed platform also runs a semi-managed mode open to sellers "
        "of every origin (their own local warehouses); listings and reviews stay the "
        "platform's",
        source="Temu opened to US and European sellers in 2024 (AP, January 2024) [option]",
    )


# -------------------------------------------------------------------- enforcement


@dataclass
class EnforcementConfig:
    """Enforcement of one platform against grey practices."""

    start_date: str = param("2099-01-01", unit="date", doc="date the crackdown begins")
    baseline_intensity: float = param(
        0.0, unit="1", lo=0, hi=1, doc="intensity before start_date (share of full)"
    )
    ramp_weeks: float = param(
        4.0, unit="weeks", lo=0, hi=520, doc="weeks from start to full intensity"
    )
    escalation_per_year: float = param(
        0.0, unit="1/year", lo=0, hi=10, doc="growth of intensity per year after the ramp"
    )
    audit_probability_per_week: float = param(
        0.0,
        unit="probability/week",
        lo=0,
        hi=1,
        doc="chance a store is audited in a week at full intensity",
        source="[choice]; amazon preset [calibrated]",
    )
    targeting: str = param("random", unit="-", doc="who is audited", choices=TARGETING)
    targeting_strength: float = param(
        4.0,
        unit="1",
        lo=0,
        hi=1000,
        doc="extra audit weight of a fully suspicious store, one the platform deleted many "
        "fake reviews from (or caught) recently (risk targeting; scaled by the suspicion "
        "share U / (U + suspicion_half_saturation_reviews))",
    )
    hub_targeting: float = param(
        0.0,
        unit="1",
        lo=0,
        hi=1000,
        doc="extra audit weight per unit of normalised association-network degree",
        source="Andrei, Comer & Koehler 2014 [choice]",
    )
    true_positive_rate: float = param(
        0.8,
        unit="probability",
        lo=0,
        hi=1,
        doc="chance an audit of a manipulating store detects it",
    )
    false_positive_rate: float = param(
        0.01, unit="probability", lo=0, hi=1, doc="chance an audit of an honest store flags it"
    )
    review_deletion_lag_days: float = param(
        100.0,
        unit="days",
        lo=0,
        hi=3650,
        doc="lag between buying fake reviews and their deletion; acts on outcomes only "
        "through risk-targeted audits (under targeting=random or targeting_strength=0 it "
        "changes only reviews_deleted and fake_reviews_live: ODD 7.2)",
        source="He, Hollenbeck & Proserpio 2022 (>100 days)",
    )
    review_deletion_rate: float = param(
        0.0,
        unit="fraction",
        lo=0,
        hi=1,
        doc="share of fake reviews deleted after the lag (acts like the lag only through "
        "risk-targeted audits: ODD 7.2)",
        source="He et al. 2022 (high rate)",
    )
    evidence_half_life_weeks: float = param(
        26.0,
        unit="weeks",
        lo=0.1,
        hi=5200,
        doc="half-life of the evidence a fake review leaves for an audit to find (reviewer "
        "accounts and purchase patterns fade); deleting the review does not erase it",
        source="[choice]: of the order of the >100-day deletion lag (He et al. 2022)",
    )
    evidence_half_saturation_reviews: float = param(
        25.0,
        unit="reviews",
        lo=1e-6,
        hi=1e9,
        doc="identifiable fake reviews at which an audit detects manipulation with half "
        "the difference between the true- and false-positive rates",
        source="[choice]: a campaign buys 5-30 reviews a week",
    )
    suspicion_half_life_weeks: float = param(
        26.0,
        unit="weeks",
        lo=0.1,
        hi=5200,
        doc="half-life of a store's record of deleted fake reviews, which risk targeting "
        "uses to pick stores to audit",
        source="[choice]",
    )
    suspicion_half_saturation_reviews: float = param(
        25.0,
        unit="reviews",
        lo=1e-6,
        hi=1e9,
        doc="deleted (or found) fake reviews on record at which a store draws half the "
        "extra audit weight of risk targeting",
        source="[choice]: as evidence_half_saturation_reviews",
    )
    penalty_ladder: list[str] = field(
        default_factory=lambda: ["warning", "suspension", "ban"],
        metadata={
            "unit": "-",
            "doc": "penalty on the k-th strike (last repeats)",
            "lo": None,
            "hi": None,
            "source": "Amazon seller policies",
            "choices": PENALTIES,
        },
    )
    suspension_weeks: float = param(8.0, unit="weeks", lo=0, hi=520, doc="length of a suspension")
    reinstatement_probability: float = param(
        0.7,
        unit="probability",
        lo=0,
        hi=1,
        doc="chance a suspended store is reinstated at the end (else banned)",
        source="[choice]; amazon preset [calibrated]",
    )
    fund_hold_days: float = param(
        90.0,
        unit="days",
        lo=0,
        hi=3650,
        doc="how long funds are frozen after a penalty",
        source="Amazon related-account policy texts (~90 days)",
    )
    held_weeks_of_sales: float = param(
        2.0,
        unit="weeks",
        lo=0,
        hi=52,
        doc="payout balance frozen by a hold, in weeks of the store's payout (sales minus "
        "the platform's charges)",
        source="Amazon 14-day payout cycle [est]",
    )
    forfeit_on_ban_probability: float = param(
        0.5,
        unit="probability",
        lo=0,
        hi=1,
        doc="chance frozen funds of a banned store are lost",
        source="Amazon policy: repeat violations can lose funds [est]",
    )
    related_account_sweep_probability: float = param(
        0.3,
        unit="probability",
        lo=0,
        hi=1,
        doc="chance a ban also takes each other store of the firm on the platform",
        source="Youkeshu lost 340 of 1,135 stores (~30%), 2021",
    )
    false_link_probability: float = param(
        0.05,
        unit="probability",
        lo=0,
        hi=1,
        doc="per ban, chance an unrelated store is wrongly linked and suspended",
        source="seller consultants' reports 2020 [est]",
    )
    new_account_detection_probability: float = param(
        0.3,
        unit="probability",
        lo=0,
        hi=1,
        doc="chance a new account of a banned firm is caught by the related-account check",
    )
    cost_per_audit_usd: float = param(
        50.0,
        unit="USD/audit",
        lo=0,
        hi=1e6,
        doc="platform's cost of one audit",
        source="Amazon: $900m+ and 12,000 staff on enforcement (2021) [est]",
    )
    decay_start_date: str = param(
        "2099-01-01",
        unit="date",
        doc="from this date the scheduled intensity decays (a campaign that winds down); "
        "2099: never",
    )
    decay_half_life_weeks: float = param(
        52.0, unit="weeks", lo=0.1, hi=5200, doc="half-life of the decay"
    )
    decay_floor: float = param(
        0.0,
        unit="fraction",
        lo=0,
        hi=1,
        doc="share of the intensity at the decay's start that is kept for good",
    )
    response: str = param(
        "fixed",
        unit="-",
        doc="'fixed': intensity follows the schedule; 'prevalence': once the schedule is "
        "in force, it is scaled by a multiplier that follows the fake-review prevalence "
        "the platform observes (ODD 7.7)",
        choices=ENFORCEMENT_RESPONSES,
    )
    response_target_prevalence: float = param(
        0.05,
        unit="fraction of sales",
        lo=1e-6,
        hi=1,
        doc="prevalence the platform tolerates: at it the multiplier's target is 1",
    )
    response_elasticity: float = param(
        1.0,
        unit="1",
        lo=0,
        hi=10,
        doc="elasticity of the target multiplier w.r.t. observed / tolerated prevalence",
    )
    response_adjustment_rate: float = param(
        0.1,
        unit="1/week",
        lo=0,
        hi=1,
        doc="share of the gap to the target multiplier closed each week (budgets adjust slowly)",
    )
    response_min_multiplier: float = param(
        0.25, unit="1", lo=0, hi=1, doc="lowest multiplier of the scheduled intensity"
    )
    response_max_multiplier: float = param(
        4.0, unit="1", lo=1, hi=100, doc="highest multiplier of the scheduled intensity"
    )


@dataclass
class PolicyConfig:
    """A named enforcement policy: per-platform enforcement settings."""

    name: str = param("none", unit="-", doc="policy preset name")
    enforcement: dict[str, EnforcementConfig] = field(
        default_factory=dict,
        metadata={
            "unit": "-",
            "doc": "enforcement per platform (platforms not named: none)",
            "lo": None,
            "hi": None,
            "source": "[choice]",
            "choices": None,
        },
    )


# ---------------------------------------------------------------------- behaviour


@dataclass
class BehaviourConfig:
    """Merchant decision rules."""

    rating_sensitivity_per_star: float = param(
        0.74,
        unit="1/star",
        lo=0,
        hi=20,
        doc="buyer logit weight on displayed rating; exp(0.74*0.16)=1.125 reproduces +12.5% "
        "sales for +0.16 stars",
        source="He, Hollenbeck & Proserpio 2022",
    )
    price_sensitivity: float = param(
        1.5, unit="1", lo=0, hi=20, doc="buyer logit weight on log price"
    )
    store_count_exponent: float = param(
        0.3,
        unit="1",
        lo=0,
        hi=1,
        doc="theta: a firm with n stores on a platform gets n^theta times the demand weight",
    )
    fake_rating_gain_stars: float = param(
        0.2,
        unit="stars",
        lo=0,
        hi=4,
        doc="steady-state rating inflation while a campaign runs",
        source="He et al. 2022 (+0.16 stars over a ~23-day campaign)",
    )
    fake_inflation_persistence: float = param(
        0.5,
        unit="1/week",
        lo=0,
        hi=0.99,
        doc="weekly persistence of rating inflation (gone within ~4 weeks after a campaign)",
        source="He et al. 2022",
    )
    fake_reviews_per_order: float = param(
        0.03,
        unit="reviews/order",
        lo=0,
        hi=10,
        doc="fake reviews bought per order in a campaign week: moving an average rating "
        "takes more reviews the more a store sells",
    )
    min_fake_reviews_per_week: float = param(
        5.0, unit="reviews/week", lo=0, hi=1e5, doc="smallest campaign (reviews per week)"
    )
    fake_review_commission_usd: float = param(
        7.0,
        unit="USD/review",
        lo=0,
        hi=1e4,
        doc="broker commission per review (plus the refunded product cost)",
        source="He et al. 2022 ($5-10)",
    )
    campaign_horizon_weeks: float = param(
        3.699,
        unit="weeks",
        lo=0,
        hi=52,
        doc="weeks of sales lift a merchant credits a campaign",
        source="[calibrated]",
    )
    reputation_weakness_slope: float = param(
        0.8734,
        unit="1/star",
        lo=0,
        hi=10,
        doc="propensity added per star of quality below reference_rating",
        source="Luca & Zervas 2016 (fraud likelier with weak reputation) [calibrated]",
    )
    reference_rating: float = param(
        4.4,
        unit="stars",
        lo=1,
        hi=5,
        doc="rating a merchant regards as competitive",
        source="He et al. 2022 (~4.4)",
    )
    sanction_weeks_of_profit: float = param(
        21.19,
        unit="weeks",
        lo=0,
        hi=520,
        doc="profit a merchant expects to lose if caught (Becker penalty)",
        source="[calibrated]",
    )
    initial_perceived_risk: float = param(
        0.0005,
        unit="penalties/(store week)",
        lo=0,
        hi=1,
        doc="prior perceived penalty rate per store and week (before any observation)",
    )
    risk_learning_rate: float = param(
        0.05, unit="1/week", lo=0, hi=1, doc="weight of this week's signal in perceived risk"
    )
    peer_weight: float = param(
        0.8715,
        unit="1",
        lo=0,
        hi=1,
        doc="weight of a peer's store-week relative to one of the firm's own in the "
        "pooled penalty rate (members only)",
        source="Korobow, Johnson & Axtell 2007; value calibrated on 0.1, where it was a "
        "convex weight of peers' signal vs own [calibrated, semantics changed in 0.2]",
    )
    risk_salience: float = param(
        4.342,
        unit="1",
        lo=0,
        hi=1000,
        doc="perceived detection probability per campaign week per perceived penalty "
        "rate per store-week (observed penalties mostly hit campaigning stores)",
        source="value calibrated on 0.1, where the signal was per firm [calibrated, "
        "semantics changed in 0.2]",
    )
    portfolio_review_probability_per_week: float = param(
        0.1219,
        unit="1/week",
        lo=0,
        hi=1,
        doc="chance a firm reviews its platform portfolio",
        source="[calibrated]",
    )
    planning_horizon_weeks: float = param(
        52.0, unit="weeks", lo=1, hi=1040, doc="weeks over which joining costs are recouped"
    )
    collateral_risk_share: float = param(
        0.2,
        unit="1",
        lo=0,
        hi=1,
        doc="exposure of an honest firm to enforcement losses (false positives, sweeps), "
        "relative to a firm that always manipulates",
        source="seller consultants' reports of wrongful suspensions 2020 [est]",
    )
    channel_cost_exponent: float = param(
        0.5061,
        unit="1",
        lo=0,
        hi=5,
        doc="gamma: a firm on k channels pays each channel's running cost times k^gamma",
        source="[calibrated]",
    )
    reliance_aversion: float = param(
        2.0,
        unit="1",
        lo=0,
        hi=1000,
        doc="value of spreading risk: joining value gained per unit of risk-weighted exposure",
        source="SCMP 2021 (association resolved to cut reliance on Amazon) [choice]",
    )
    leave_threshold_weeks: float = param(
        8.0,
        unit="weeks",
        lo=0,
        hi=520,
        doc="a platform is left when its expected profit is below zero for this many weeks",
    )
    reentry_probability: float = param(
        0.0,
        unit="probability",
        lo=0,
        hi=1,
        doc="chance a firm that leaves the market after having a store banned comes back "
        "as a new legal entity (fresh capital, same products and propensity; ODD 7.9)",
        source="SCMP 2021 (banned merchants came back under new accounts) [option]",
    )
    reentry_delay_weeks: int = param(
        13, unit="weeks", lo=1, hi=520, doc="weeks from the exit to the new entity's entry"
    )
    new_account_attempt_probability: float = param(
        0.5,
        unit="probability",
        lo=0,
        hi=1,
        doc="chance a banned firm tries a new account on the same platform",
        source="SCMP 2021 (banned merchants opened new accounts)",
    )
    new_account_cost_usd: float = param(
        3000.0, unit="USD", lo=0, hi=1e8, doc="cost of a new account (identity, setup)"
    )


# ------------------------------------------------------------------------- demand


@dataclass
class DemandConfig:
    """Aggregate buyer demand."""

    gmv_per_firm_per_week_usd: float = param(
        20000.0,
        unit="USD/week/firm",
        lo=0,
        hi=1e9,
        doc="initial total weekly GMV divided by initial firms (sets market size)",
    )
    growth_per_year: float = param(
        0.10,
        unit="1/year",
        lo=-0.9,
        hi=10,
        doc="growth of total cross-border demand",
        source="[est]",
    )
    noise_sd: float = param(
        0.02, unit="1", lo=0, hi=1, doc="sd of weekly log-normal demand noise per platform"
    )
    trust_adjustment_rate: float = param(
        0.1, unit="1/week", lo=0, hi=1, doc="speed at which buyer trust follows prevalence"
    )


# ------------------------------------------------------------------------ network


@dataclass
class NetworkConfig:
    """Trade-association peer network among member firms."""

    topology: str = param(
        "scale_free",
        unit="-",
        doc="peer network shape (hubs, random or none)",
        choices=TOPOLOGIES,
    )
    mean_degree: float = param(6.0, unit="ties", lo=0, hi=1000, doc="mean ties per member")
    hub_exponent: float = param(
        1.0, unit="1", lo=0, hi=5, doc="how strongly large firms attract ties (scale_free)"
    )
    rewire_every_weeks: int = param(
        13, unit="weeks", lo=1, hi=520, doc="how often entrants are wired into the network"
    )


# --------------------------------------------------------------------- incentives


@dataclass
class IncentivesConfig:
    """Public incentives outside the platforms."""

    own_store_platform: str = param(
        "shopify",
        unit="-",
        doc="platform that stands for own web stores",
        choices=KNOWN_PLATFORMS,
    )
    own_store_subsidy_usd: float = param(
        0.0,
        unit="USD",
        lo=0,
        hi=1e9,
        doc="one-off subsidy per own web store for eligible firms",
        source="Shenzhen: 2m yuan (~$310k) per independent store (SCMP 2021)",
    )
    own_store_subsidy_start: str = param("2021-07-01", unit="date", doc="subsidy available from")
    own_store_subsidy_end: str = param("2023-12-31", unit="date", doc="subsidy available until")
    own_store_subsidy_origin: str = param(
        "CN", unit="-", doc="origin eligible for the subsidy", choices=ORIGINS
    )
    own_store_subsidy_min_size_quantile: float = param(
        0.9,
        unit="quantile",
        lo=0,
        hi=1,
        doc="only firms above this size quantile qualify",
        source="Shenzhen 2021: monthly sales >= $300k (~0.967 quantile at the default "
        "market size), site live before 2019 (Pandaily 2021) [est]",
    )


# ---------------------------------------------------------------------------- top


@dataclass
class SimConfig:
    """The whole configuration of one run."""

    seed: int = param(20210425, unit="-", lo=0, hi=2**63 - 1, doc="root random seed")
    replicate: int = param(0, unit="-", lo=0, hi=2**31 - 1, doc="replicate index (seed stream)")
    time: TimeConfig = field(default_factory=TimeConfig)
    merchants: MerchantsConfig = field(default_factory=MerchantsConfig)
    platforms: dict[str, PlatformConfig] = field(default_factory=dict)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    behaviour: BehaviourConfig = field(default_factory=BehaviourConfig)
    demand: DemandConfig = field(default_factory=DemandConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    incentives: IncentivesConfig = field(default_factory=IncentivesConfig)


# ---------------------------------------------------------------------- validation


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(value: str, key: str) -> dt.date:
    """Parse an ISO date or raise ConfigError naming ``key``."""
    if isinstance(value, dt.date):
        return value
    text = str(value)
    try:
        # fromisoformat also takes 20200106 and 2020-W02-1 (Python 3.11+): only YYYY-MM-DD
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{key}: {text[:40]!r} is not a date; use YYYY-MM-DD") from None


def _check_number(key: str, value: Any, meta: dict, want: type) -> None:
    if want is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok:
        raise ConfigError(f"{key}: {value!r} is not a{'n integer' if want is int else ' number'}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}: {value!r} must be finite")
    lo, hi = meta.get("lo"), meta.get("hi")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{key}: {value!r} is outside the allowed range [{lo}, {hi}]")


def _validate_dataclass(obj: Any, prefix: str) -> None:
    for f in dataclasses.fields(obj):
        key = f"{prefix}{f.name}"
        value = getattr(obj, f.name)
        meta = dict(f.metadata)
        ftype = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        if dataclasses.is_dataclass(value):
            _validate_dataclass(value, key + ".")
        elif ftype == "int":
            _check_number(key, value, meta, int)
        elif ftype == "float":
            _check_number(key, value, meta, float)
        elif ftype == "str":
            if not isinstance(value, str):
                raise ConfigError(f"{key}: {value!r} is not a string")
            if meta.get("unit") == "date":
                parse_date(value, key)
            if meta.get("choices") and value not in meta["choices"]:
                raise ConfigError(
                    f"{key}: {value!r} is not allowed; choose one of {', '.join(meta['choices'])}"
                )
        elif ftype.startswith("list[str]"):
            if not isinstance(value, list) or not value:
                raise ConfigError(f"{key}: must be a non-empty list of {meta.get('choices')}")
            for item in value:
                if item not in meta["choices"]:
                    raise ConfigError(
                        f"{key}: {item!r} is not allowed; choose from {', '.join(meta['choices'])}"
                    )
        elif ftype.startswith("list["):
            for i, item in enumerate(value):
                _validate_dataclass(item, f"{key}[{i}].")
        elif ftype.startswith("dict[str, float]"):
            for k, v in value.items():
                _check_number(f"{key}.{k}", v, meta, float)
        elif ftype.startswith("dict["):
            for k, v in value.items():
                _validate_dataclass(v, f"{key}.{k}.")


def validate(cfg: SimConfig) -> SimConfig:
    """Check ranges, choices, names and cross-field rules; return ``cfg`` unchanged.

    Raises:
        ConfigError: naming the first offending key and what is allowed.
    """
    if not isinstance(cfg, SimConfig):
        raise ConfigError(f"config must be a SimConfig, got {type(cfg).__name__}")
    _validate_dataclass(cfg, "")
    start = parse_date(cfg.time.start_date, "time.start_date")
    end = parse_date(cfg.time.end_date, "time.end_date")
    if end < start:
        raise ConfigError(
            f"time.end_date: {cfg.time.end_date} is before time.start_date {cfg.time.start_date}"
        )
    if not cfg.platforms:
        raise ConfigError(f"platforms: at least one platform is needed; known: {KNOWN_PLATFORMS}")
    for key, p in cfg.platforms.items():
        if key not in KNOWN_PLATFORMS:
            raise ConfigError(
                f"platforms.{key}: unknown platform; choose from {', '.join(KNOWN_PLATFORMS)}"
            )
        if p.name != key:
            raise ConfigError(f"platforms.{key}.name: {p.name!r} must equal its key {key!r}")
        for i, promo in enumerate(p.promotions):
            k = f"platforms.{key}.promotions[{i}]"
            if parse_date(promo.end_date, k + ".end_date") < parse_date(
                promo.start_date, k + ".start_date"
            ):
                raise ConfigError(f"{k}.end_date: {promo.end_date} is before its start_date")
    for key, ec in cfg.policy.enforcement.items():
        if key not in KNOWN_PLATFORMS:
            raise ConfigError(
                f"policy.enforcement.{key}: unknown platform; choose from "
                f"{', '.join(KNOWN_PLATFORMS)}"
            )
        # presets list every known platform; an entry for a platform that is not in
        # this run is allowed only while it does nothing (a policy that enforces
        # on a removed platform is an error, not silently ignored)
        if key not in cfg.platforms and ec != EnforcementConfig():
            raise ConfigError(
                f"policy.enforcement.{key}: enforces on a platform that is not in this run; "
                f"platforms of this run: {', '.join(cfg.platforms)}"
            )
        # a managed platform runs reviews itself: audits there could only hit honest sellers
        if (
            key in cfg.platforms
            and cfg.platforms[key].business_model == "managed"
            and ec.audit_probability_per_week > 0
        ):
            raise ConfigError(
                f"policy.enforcement.{key}.audit_probability_per_week: {key} is a managed "
                "platform (its sellers cannot buy reviews), so audits there would only hit "
                f"honest sellers; set it to 0 or platforms.{key}.business_model=marketplace"
            )
    origins = cfg.merchants.origins
    if set(origins) != set(ORIGINS):
        raise ConfigError(
            f"merchants.origins: keys {sorted(origins)} must be exactly {', '.join(ORIGINS)}"
        )
    for o, oc in origins.items():
        for i, win in enumerate(oc.entry_windows):
            k = f"merchants.origins.{o}.entry_windows[{i}]"
            if parse_date(win.end_date, k + ".end_date") < parse_date(
                win.start_date, k + ".start_date"
            ):
                raise ConfigError(f"{k}.end_date: {win.end_date} is before its start_date")
        for pname in oc.initial_listing_probability:
            if pname not in cfg.platforms:
                raise ConfigError(
                    f"merchants.origins.{o}.initial_listing_probability.{pname}: not a platform "
                    f"of this run; choose from {', '.join(cfg.platforms)}"
                )
    total = math.fsum(oc.share for oc in origins.values())
    if abs(total - 1.0) > 1e-9:
        raise ConfigError(
            f"merchants.origins.*.share: shares must sum to 1 (CN + other), got {total:g}"
        )
    inc = cfg.incentives
    if parse_date(inc.own_store_subsidy_end, "incentives.own_store_subsidy_end") < parse_date(
        inc.own_store_subsidy_start, "incentives.own_store_subsidy_start"
    ):
        raise ConfigError("incentives.own_store_subsidy_end: is before own_store_subsidy_start")
    return cfg


def iter_params(cls: type = SimConfig, prefix: str = "") -> list[tuple[str, dict, Any]]:
    """List ``(key, metadata, default)`` for every leaf parameter of the schema.

    Dict-valued groups are listed with ``<name>`` placeholders (e.g.
    ``platforms.<name>.referral_fee_rate``). Used for the ODD parameter table.
    """
    out: list[tuple[str, dict, Any]] = []
    nested = {
        "TimeConfig": TimeConfig,
        "MerchantsConfig": MerchantsConfig,
        "PolicyConfig": PolicyConfig,
        "BehaviourConfig": BehaviourConfig,
        "DemandConfig": DemandConfig,
        "NetworkConfig": NetworkConfig,
        "IncentivesConfig": IncentivesConfig,
    }
    dict_of = {
        "origins": ("<origin>", OriginConfig),
        "platforms": ("<platform>", PlatformConfig),
        "enforcement": ("<platform>", EnforcementConfig),
    }
    list_of = {"promotions": FeePromotion, "entry_windows": EntryWindow}
    inst = cls()
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        ftype = f.type if isinstance(f.type, str) else str(f.type)
        if ftype in nested:
            out += iter_params(nested[ftype], key + ".")
        elif f.name in dict_of and ftype.startswith("dict[str, ") and "float" not in ftype:
            ph, sub = dict_of[f.name]
            out += iter_params(sub, f"{key}.{ph}.")
        elif f.name in list_of:
            out += iter_params(list_of[f.name], f"{key}[i].")
        else:
            out.append((key, dict(f.metadata), getattr(inst, f.name)))
    return out
