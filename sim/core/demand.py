"""Within-platform buyer choice: logit on displayed rating and price.

The store weight is the product of four factors, each a rule of its own so
that the compiled store loop can take the constant ones from tables
(``kernels.store_weights``) while computing exactly the same numbers as
:func:`store_weight` on arrays.
"""

from __future__ import annotations

import numpy as np

from .jit import rule

# Subtracted inside exp() so weights stay finite for any rating in [1, 5 + inflation].
RATING_SHIFT = 5.0


def demand_growth(growth_per_year: float, years: float) -> float:
    """Growth factor of cross-border demand since ``start_date``: ``(1 + g_D)^years``."""
    return (1.0 + growth_per_year) ** years


def total_demand(firms: int, gmv_per_firm_week: float, growth: float) -> float:
    """Total weekly demand in model units (USD / scale): ``D_t = N0 d (1 + g_D)^years``.

    ``N0 = merchants.count`` model firms of ``d`` USD each: ``real_firms * d``
    real USD divided by ``merchants.scale``, so per-real-firm sales do not
    depend on the resolution.
    """
    return firms * gmv_per_firm_week * growth


def demand_noise(z: np.ndarray, sd: float) -> np.ndarray:
    """Mean-one log-normal weekly noise per platform: ``eps_p = exp(sigma z_p - sigma^2/2)``."""
    return np.exp(sd * z - sd * sd / 2.0)


@rule
def store_count_factor(n_stores, store_exponent):
    """``n^(theta - 1)`` for a firm with ``n`` active stores on the platform (0 counts as 1)."""
    return max(n_stores, 1) ** (store_exponent - 1.0)


@rule
def rating_factor(displayed_rating, rating_sensitivity):
    """``exp(beta_r (R_s - 5))``: buyers' weight on the displayed rating ``R_s`` (stars)."""
    return np.exp(rating_sensitivity * (displayed_rating - RATING_SHIFT))


@rule
def price_factor(price, price_sensitivity):
    """``price^(-beta_p)``: buyers' weight on price (USD/order)."""
    return price ** (-price_sensitivity)


@rule
def store_weight_from_factors(size, count_factor, rating_factor_, price_factor_):
    """``w_s = x_f * n^(theta-1) * exp(beta_r (R_s - 5)) * price^(-beta_p)`` from its factors."""
    return size * count_factor * rating_factor_ * price_factor_


@rule
def store_weight(
    size, n_stores, displayed_rating, price, rating_sensitivity, price_sensitivity, store_exponent
):
    """Logit weight of a store in its platform's buyer choice.

    ``w_s = x_f * n_fp^(theta - 1) * exp(beta_r (R_s - 5) - beta_p ln price_f)``

    ``R_s`` is the displayed rating (true quality plus fake inflation, stars),
    ``n_fp`` the firm's active stores on the platform: a firm's stores together
    weigh ``x_f * n^theta``, so extra stores add shelf space with diminishing
    returns (``theta`` in [0, 1]).

    Args (positional): size, n_stores, displayed_rating, price, beta_r, beta_p, theta.
    """
    return store_weight_from_factors(
        size,
        store_count_factor(n_stores, store_exponent),
        rating_factor(displayed_rating, rating_sensitivity),
        price_factor(price, price_sensitivity),
    )


@rule
def allocate_sales(demand, weight, total_weight):
    """Store sales: ``G_s = D_p * w_s / W_p`` (USD/week; ``W_p = 0`` sells nothing)."""
    return demand * weight / (total_weight if total_weight > 0 else 1.0)


def allocate(
    demand: np.ndarray, platform: np.ndarray, weight: np.ndarray, n_platforms: int
) -> tuple[np.ndarray, np.ndarray]:
    """Share each platform's demand among its stores in proportion to weight.

    ``GMV_s = D_p * w_s / sum_{s' on p} w_s'`` (:func:`allocate_sales`). Returns
    store GMV and each platform's weight total ``W_p`` (0 where a platform has
    no active store, whose demand is then lost).
    """
    totals = np.bincount(platform, weights=weight, minlength=n_platforms)
    return allocate_sales(demand[platform], weight, totals[platform]), totals
