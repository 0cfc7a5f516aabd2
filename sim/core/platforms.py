"""Platforms: fee schedules, buyer appeal and the split of demand across platforms."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from .calendar import Calendar
from .config import ORIGINS, PlatformConfig
from .jit import rule

if TYPE_CHECKING:
    from .model import MarketModel

WEEKS_PER_MONTH = 52.0 / 12.0


def referral_rate_at(
    cfg: PlatformConfig, windows: list[tuple[int, int, float]], step: int
) -> float:
    """Referral fee rate in week ``step``: the last promotion window covering it, else the base.

    ``r_p(t) = r_promo`` if ``start <= t <= end`` for a promotion, else ``r_p``.
    """
    rate = cfg.referral_fee_rate
    for start, end, promo_rate in windows:
        if start <= step <= end:
            rate = promo_rate
    return rate


def launch_ramp(step: int, launch_step: int, ramp_weeks: float) -> float:
    """Share of full buyer appeal reached ``step - launch_step`` weeks after launch.

    ``ramp(t) = 0`` before launch, ``min(1, (t - L + 1) / ramp_weeks)`` after
    (1 at once when ``ramp_weeks`` is 0).
    """
    if step < launch_step:
        return 0.0
    if ramp_weeks <= 0:
        return 1.0
    return min(1.0, (step - launch_step + 1) / ramp_weeks)


def platform_appeal(
    appeal: float,
    growth_per_year: float,
    weeks_since_launch: float,
    ramp: float,
    variety_ratio: float,
    elasticity: float,
    trust: float,
) -> float:
    """Buyer-side logit weight of a platform.

    ``W_p = a_p (1 + g_p)^(weeks/52) * ramp_p * (V_p / N0)^eta_p * trust_p``,
    ``weeks`` counted from the later of launch and the start of the run,
    where ``V_p`` is the number of listed sellers last week (floored at 1% of
    the initial firms ``N0``, so an empty platform can still attract its first
    sellers), ``eta_p`` the cross-side network-effect elasticity
    (Rochet & Tirole 2003) and ``trust_p`` in [0, 1].
    """
    if ramp <= 0.0 or appeal <= 0.0:
        return 0.0
    growth = (1.0 + growth_per_year) ** (max(weeks_since_launch, 0.0) / 52.0)
    return appeal * growth * ramp * variety_ratio**elasticity * trust


def update_trust(trust: float, prevalence: float, sensitivity: float, rate: float) -> float:
    """Buyer trust moves toward ``1 - kappa * phi``, clipped to [0, 1].

    ``tau_{t+1} = tau_t + mu ((1 - kappa phi_t)^+ - tau_t)`` with ``phi`` the
    sales-weighted fake-review prevalence of the platform.
    """
    target = max(0.0, 1.0 - sensitivity * prevalence)
    return min(1.0, max(0.0, trust + rate * (target - trust)))


@rule
def store_fees(
    gmv, referral_rate, fee_holiday, fulfilment_rate, per_order_fee, price, fixed_fee_week
):
    """Platform charges of a store this week (USD).

    ``fee_s = [not holiday] r_p(t) G_s + f_p G_s + o_p G_s / price_f + F_p``:
    referral fee (waived in a new-seller fee holiday), fulfilment and ads,
    per-order fee and the subscription per store and week.

    Args (positional): G_s, r_p(t), holiday (bool), f_p, o_p, price, F_p.
    """
    referral = 0.0 if fee_holiday else gmv * referral_rate
    return referral + gmv * fulfilment_rate + per_order_fee * gmv / price + fixed_fee_week


@rule
def net_sales(gmv, gross_margin, fees):
    """Sales net of cost of goods and platform charges: ``N_s = gm G_s - fee_s`` (USD)."""
    return gmv * gross_margin - fees


@rule
def responsive_subsidy(base, per_shortfall, target_ratio, ratio, cap):
    """New-seller subsidy that answers a seller count behind the rivals' (ODD 7.6), USD/join.

    ``S_p = max(S0, min(S_max, S0 + beta_S max(0, (rho* - rho_p) / rho*)))``
    with ``rho_p = N_p / max_{q != p} N_q`` the platform's listed firms over its
    largest rival's last week and ``rho*`` the ratio it aims for (1: match the
    leader): the further behind, the more it pays a new seller, up to
    ``S_max``, never less than its base subsidy ``S0``. With several responding
    platforms each one's subsidy draws sellers from the others and moves their
    ratios: a subsidy race can emerge.
    """
    shortfall = max(0.0, (target_ratio - ratio) / target_ratio)
    return max(base, min(cap, base + per_shortfall * shortfall))


def split_demand(total: float, weights: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Single-homing buyers choose a platform by logit on appeal.

    ``D_p = D_t * W_p / sum_q W_q * noise_p``; all zero when no platform is open.
    """
    s = weights.sum()
    if s <= 0.0:
        return np.zeros_like(weights)
    return total * weights / s * noise


class Platform(mesa.Agent):
    """A marketplace: its fee schedule, buyer appeal, trust and this week's demand."""

    def __init__(self, model: MarketModel, index: int, cfg: PlatformConfig, cal: Calendar):
        super().__init__(model)
        self.index = index
        self.cfg = cfg
        self.name = cfg.name
        self.launch_step = cal.first_step_on_or_after(cfg.launch_date)
        self.semi_managed_step = cal.first_step_on_or_after(cfg.semi_managed_date)
        self.windows = [
            (
                cal.first_step_on_or_after(p.start_date),
                cal.last_step_on_or_before(p.end_date),
                p.referral_fee_rate,
            )
            for p in cfg.promotions
        ]
        self.fixed_fee_per_week = cfg.fixed_fee_per_month_usd / WEEKS_PER_MONTH
        self.trust = 1.0
        self.weight = 0.0  # buyer appeal W_p this week
        self.demand = 0.0  # buyer demand D_p this week, USD
        self.referral_rate = cfg.referral_fee_rate
        self.prevalence = 0.0  # sales-weighted fake-review prevalence last week
        self.subsidy = cfg.new_seller_subsidy_usd  # new-seller subsidy in force, USD per join
        self.subsidy_step = cal.first_step_on_or_after(cfg.subsidy_response_start)

    def launched(self, step: int) -> bool:
        """True from the launch week on."""
        return step >= self.launch_step

    @property
    def managed(self) -> bool:
        """A managed platform runs listings and reviews: its sellers never buy reviews."""
        return self.cfg.business_model == "managed"

    def admits(self, step: int) -> np.ndarray:
        """Which origins (``ORIGINS`` order) may join in week ``step``.

        Every origin from the launch on for a marketplace; for a managed platform
        its ``admitted_origins`` until ``semi_managed_date``, every origin after.
        None before the launch.
        """
        if not self.launched(step):
            return np.zeros(len(ORIGINS), dtype=bool)
        if not self.managed or step >= self.semi_managed_step:
            return np.ones(len(ORIGINS), dtype=bool)
        return np.array([o in self.cfg.admitted_origins for o in ORIGINS])

    def margin_rate(self, gross_margin: float) -> float:
        """Seller's contribution per USD of sales: gross margin minus variable take."""
        return gross_margin - self.referral_rate - self.cfg.fulfilment_ads_rate

    def set_fees(self, step: int) -> None:
        """Apply the fee schedule of week ``step`` (called at the start of the week).

        Also the new-seller subsidy: fixed, or under ``subsidy_response:
        seller_share`` from ``subsidy_response_start`` on (once launched),
        ``responsive_subsidy`` of last week's listed firms over the largest
        rival's.
        """
        self.referral_rate = referral_rate_at(self.cfg, self.windows, step)
        c = self.cfg
        if c.subsidy_response == "seller_share" and step >= self.subsidy_step:
            if not self.launched(step):
                return
            listed = self.model.listed_count
            rivals = np.delete(listed, self.index)
            lead = float(rivals.max()) if rivals.size else 0.0
            ratio = float(listed[self.index]) / lead if lead > 0 else c.subsidy_target_ratio
            self.subsidy = responsive_subsidy.py_func(
                c.new_seller_subsidy_usd,
                c.subsidy_response_usd,
                c.subsidy_target_ratio,
                ratio,
                c.subsidy_max_usd,
            )

    def step(self) -> None:
        """Update trust and buyer appeal for this week (demand is split by the model)."""
        m = self.model
        t = m.t
        self.trust = update_trust(
            self.trust,
            self.prevalence,
            self.cfg.trust_sensitivity,
            m.cfg.demand.trust_adjustment_rate,
        )
        variety = max(float(m.listed_count[self.index]), 0.01 * m.n0) / max(m.n0, 1)
        self.weight = platform_appeal(
            self.cfg.consumer_appeal,
            self.cfg.appeal_growth_per_year,
            t - max(self.launch_step, m.calendar.spinup),
            launch_ramp(t, self.launch_step, self.cfg.launch_ramp_weeks),
            variety,
            self.cfg.network_effect_elasticity,
            self.trust,
        )
