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


# ------------------------------------------------------- consumers: welfare and harm


@rule
def true_weight_factor(inflation_stars, rating_sensitivity):
    """``exp(-beta_r I_s)``: a store's logit weight at its true rating over its displayed one.

    ``I_s`` is the store's rating inflation (displayed minus true rating, stars);
    1 for a store without fake reviews.
    """
    if inflation_stars == 0.0:
        return 1.0
    return np.exp(-rating_sensitivity * inflation_stars)


@rule
def harm_per_order(true_over_displayed, mean_inflation, rating_sensitivity):
    """Buyers' loss from choosing on displayed ratings, utils per buyer (Leggett 2002).

    A buyer spends a fixed budget at one store, chosen by logit: store ``s``
    gets the share ``pi_s = w_s / W_p`` of the platform's spending (its GMV
    share: ``demand.allocate_sales``; Anderson, de Palma & Thisse 1992 for the
    fixed-budget logit). Buyers choose on the displayed rating
    ``R_s = q_f + I_s`` but experience the true rating ``q_f``:
    decision utility ``v_s``, experienced utility ``v_s - beta_r I_s``. Expected
    experienced utility is ``ln W_p - beta_r Ibar_p`` (``Ibar_p = sum_s pi_s
    I_s``, the GMV-weighted mean inflation); choosing on the true ratings would
    give ``ln W*_p`` with ``W*_p = sum_s w_s exp(-beta_r I_s)``. The loss is

    ``h_p = ln(W*_p / W_p) + beta_r Ibar_p = ln sum_s pi_s exp(-beta_r I_s) +
    beta_r sum_s pi_s I_s >= 0`` (Jensen's inequality; 0 without inflation).

    Args: ``W*_p / W_p`` (``true_over_displayed``), ``Ibar_p`` (stars), ``beta_r``.
    Returns 0 for a platform without sales (``true_over_displayed <= 0``).
    """
    if true_over_displayed <= 0.0:
        return 0.0
    return max(np.log(true_over_displayed) + rating_sensitivity * mean_inflation, 0.0)


@rule
def experienced_value(weight_total_real, mean_inflation, rating_sensitivity):
    """Buyers' expected experienced utility per buyer on a platform (utils).

    ``V_p = ln(scale W_p) - beta_r Ibar_p``: the logit inclusive value over the
    platform's real stores (``scale W_p``, weights of ``demand.store_weight``)
    minus what the inflation misleads buyers into (:func:`harm_per_order`). Its
    zero is a buyer facing one store of weight 1 (size 1, one store, true
    rating 5 stars, price 1 USD), so only differences are meaningful: between
    scenarios, platforms or weeks. 0 for a platform without stores (its buyers'
    demand is lost, ODD 7.4), as other shares of an empty platform are 0.
    """
    if weight_total_real <= 0.0:
        return 0.0
    return np.log(weight_total_real) - rating_sensitivity * mean_inflation


@rule
def utils_to_usd(utils_per_order, gmv, price_sensitivity):
    """Money value of a utility loss per buyer, over a week's spending (USD/week).

    With a fixed budget ``y`` spent at price ``p``, utility rises with
    ``beta_p ln(y / p)``, so a loss of ``Delta`` utils is the loss of a share
    ``1 - exp(-Delta / beta_p)`` of the budget (compensating variation); over the
    platform's spending (GMV ``G_p``) that is ``G_p (1 - exp(-Delta / beta_p))``,
    about ``G_p Delta / beta_p`` for a small loss. NaN when ``beta_p = 0``
    (buyers who ignore price put no money value on utility).
    """
    if price_sensitivity <= 0.0:
        return np.nan
    return gmv * (1.0 - np.exp(-utils_per_order / price_sensitivity))
