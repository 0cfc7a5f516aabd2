"""Per-week aggregate metrics, kept as (step, platform, origin) arrays.

Only aggregates are recorded (never per-agent rows), so memory is
``steps x platforms x 2`` per metric whatever the population. Counts and sums
over firms and stores weigh each model firm by ``omega_f`` (model-firm
equivalents: real firms / ``merchants.scale``).
"""

from __future__ import annotations

import numpy as np

ORIGIN_NAMES = ("CN", "other")

# Counted during the week (events).
EVENT_METRICS = (
    "audits",
    "detections",
    "false_positives",
    "false_links",
    "swept_honest",
    "new_bans",
    "new_suspensions",
    "stores_closed",
    "new_accounts",
    "new_accounts_caught",
    "firms_lost_to_bans",
    "reviews_deleted",
    "frozen_new_usd",
    "forfeited_usd",
    "released_usd",
    "joins",
    "leaves",
    "entries",
    "exits",
    "subsidy_usd",
)
# Measured at the end of the week (stocks and flows of money).
STOCK_METRICS = (
    "listed_merchants",
    "multihomed_merchants",
    "active_stores",
    "warned_stores",
    "suspended_stores",
    "banned_stores",
    "grey_stores",
    "grey_share",
    "gmv",
    "fee_revenue",
    "frozen_usd",
    "fake_reviews_live",
    "rating_inflation",
    "alive_merchants",
)
# Properties of a platform, repeated on both origin rows.
PLATFORM_METRICS = (
    "consumer_share",
    "trust",
    "referral_fee_rate",
    "enforcement_intensity",
    "enforcement_cost_usd",
    "consumer_value",
    "consumer_harm_per_order",
    "consumer_harm_usd",
    "new_seller_subsidy_usd",
    "platform_net_revenue_usd",
)
ALL_METRICS = EVENT_METRICS + STOCK_METRICS + PLATFORM_METRICS


class Recorder:
    """Holds one ``(n_steps, n_platforms, 2)`` float array per metric."""

    def __init__(self, n_steps: int, n_platforms: int) -> None:
        self.n_steps = n_steps
        self.data = {name: np.zeros((n_steps, n_platforms, 2)) for name in ALL_METRICS}

    def add(self, name: str, step: int, platform: int, origins: np.ndarray, weights=None) -> None:
        """Add counts (or ``weights``) of events by origin to ``name`` at (step, platform)."""
        if origins.size:
            self.data[name][step, platform] += np.bincount(origins, weights=weights, minlength=2)


def grey_share(grey: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Share of active stores that bought fake reviews this week (0 where none active).

    Both are sums of firm weights taken in different orders, so the ratio is
    clipped to 1 against rounding.
    """
    share = np.divide(grey, active, out=np.zeros_like(grey, dtype=np.float64), where=active > 0)
    return np.minimum(share, 1.0)


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """Weighted mean, 0 when the weights sum to 0."""
    total = weights.sum()
    return float((values * weights).sum() / total) if total > 0 else 0.0
