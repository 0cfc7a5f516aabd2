"""Within-platform buyer choice: logit on displayed rating and price."""

from __future__ import annotations

import numpy as np

# Subtracted inside exp() so weights stay finite for any rating in [1, 5 + inflation].
_RATING_SHIFT = 5.0


def store_weight(
    size: np.ndarray,
    n_stores: np.ndarray,
    displayed_rating: np.ndarray,
    price: np.ndarray,
    rating_sensitivity: float,
    price_sensitivity: float,
    store_exponent: float,
) -> np.ndarray:
    """Logit weight of a store in its platform's buyer choice.

    ``w_s = size_f * n_fp^(theta - 1) * exp(beta_r (R_s - 5) - beta_p ln price_f)``

    ``R_s`` is the displayed rating (true quality plus fake inflation), ``n_fp``
    the firm's active stores on the platform: a firm's stores together weigh
    ``size_f * n^theta``, so extra stores add shelf space with diminishing
    returns (``theta`` in [0, 1]).
    """
    return (
        size
        * np.power(np.maximum(n_stores, 1), store_exponent - 1.0)
        * np.exp(rating_sensitivity * (displayed_rating - _RATING_SHIFT))
        * np.power(price, -price_sensitivity)
    )


def allocate(
    demand: np.ndarray, platform: np.ndarray, weight: np.ndarray, n_platforms: int
) -> tuple[np.ndarray, np.ndarray]:
    """Share each platform's demand among its stores in proportion to weight.

    ``GMV_s = D_p * w_s / sum_{s' on p} w_s'``. Returns store GMV and each
    platform's weight total ``W_p`` (0 where a platform has no active store,
    whose demand is then lost).
    """
    totals = np.bincount(platform, weights=weight, minlength=n_platforms)
    safe = np.where(totals > 0, totals, 1.0)
    return demand[platform] * weight / safe[platform], totals
