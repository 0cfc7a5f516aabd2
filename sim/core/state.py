"""Columnar state: one row per firm (merchant) and one row per store.

Rows are appended (entry, new stores) into arrays that grow geometrically;
firm rows are never reused (a dead firm keeps its row, ``alive`` false), so a
``Merchant`` agent's row index is stable for the whole run. Store rows of
closed stores are compacted away now and then; nothing outside the store table
keeps store indices across steps.
"""

from __future__ import annotations

import numpy as np

# Store status codes (int8). CLOSED rows are free and get compacted away.
CLOSED, ACTIVE, WARNED, SUSPENDED, BANNED = 0, 1, 2, 3, 4
STATUS_NAMES = ("closed", "active", "warned", "suspended", "banned")


class Columns:
    """A set of equally long numpy columns with amortised O(1) append.

    A column is ``(dtype, shape)`` (one ``shape`` block per row, row-major) or
    ``(dtype, shape, "T")``: stored transposed, as ``(*shape, capacity)``, so
    that one of its slots over all rows is contiguous (``col[k, :n]``).
    """

    _spec: dict[str, tuple[np.dtype, tuple[int, ...], bool]]

    def __init__(self, spec: dict[str, tuple], capacity: int, growth: float = 2.0) -> None:
        self.growth = float(growth)  # capacity factor when full
        self._spec = {
            k: (np.dtype(v[0]), tuple(v[1]), len(v) > 2 and v[2] == "T") for k, v in spec.items()
        }
        self.n = 0
        self.capacity = max(int(capacity), 16)
        for name, (dtype, shape, tr) in self._spec.items():
            dims = (*shape, self.capacity) if tr else (self.capacity, *shape)
            setattr(self, name, np.zeros(dims, dtype=dtype))

    def _grow(self, need: int) -> None:
        new_cap = max(need, int(self.growth * self.capacity))
        for name, (dtype, shape, tr) in self._spec.items():
            old = getattr(self, name)
            if tr:
                arr = np.zeros((*shape, new_cap), dtype=dtype)
                arr[..., : self.n] = old[..., : self.n]
            else:
                arr = np.zeros((new_cap, *shape), dtype=dtype)
                arr[: self.n] = old[: self.n]
            setattr(self, name, arr)
        self.capacity = new_cap

    def append(self, k: int) -> slice:
        """Reserve ``k`` zeroed rows at the end and return their slice."""
        if self.n + k > self.capacity:
            self._grow(self.n + k)
        sl = slice(self.n, self.n + k)
        self.n += k
        return sl

    def copy_rows(self, src: np.ndarray) -> slice:
        """Append copies of rows ``src`` (every column) and return the new rows' slice."""
        src = np.asarray(src, dtype=np.int64)
        sl = self.append(src.size)
        for name, (_, _, tr) in self._spec.items():
            col = getattr(self, name)
            if tr:
                col[..., sl] = col[..., src]
            else:
                col[sl] = col[src]
        return sl

    def view(self, name: str) -> np.ndarray:
        """The used part of column ``name`` (rows last for a transposed column)."""
        if self._spec[name][2]:
            return getattr(self, name)[..., : self.n]
        return getattr(self, name)[: self.n]

    def keep(self, mask: np.ndarray) -> None:
        """Keep only rows where ``mask`` is true (order preserved)."""
        k = int(mask.sum())
        for name, (_, _, tr) in self._spec.items():
            col = getattr(self, name)
            if tr:
                col[..., :k] = col[..., : self.n][..., mask]
                col[..., k : self.n] = 0
            else:
                col[:k] = col[: self.n][mask]
                col[k : self.n] = 0
        self.n = k


def firm_columns(n_platforms: int, capacity: int) -> Columns:
    """Firm (merchant) table. Units in comments; money in USD."""
    p = (n_platforms,)
    return Columns(
        {
            "alive": (np.bool_, ()),
            "origin": (np.int8, ()),  # 0 = CN, 1 = other
            "size": (np.float64, ()),  # demand weight (Pareto), median 1
            # omega: real firms this model firm stands for, in model-firm equivalents
            # (real firms / merchants.scale); every count and sum over firms is weighted by it
            "weight": (np.float64, ()),
            "quality": (np.float64, ()),  # true quality, stars 1-5
            "price": (np.float64, ()),  # USD per order
            "propensity": (np.float64, ()),  # grey-practice propensity in [0, 1]
            "extra_stores": (np.int16, ()),  # stores beyond the first it opens per platform
            "cash": (np.float64, ()),  # USD
            "member": (np.bool_, ()),  # trade-association member
            # split off a joiner (MarketModel._split): its per-row draws come from the
            # "pieces" stream, so splitting never shifts the other rows' draws
            "piece": (np.bool_, ()),
            "subsidised": (np.bool_, ()),  # has received the public own-store subsidy
            "born": (np.int32, ()),  # step of entry (-1 for the initial population)
            # perceived weekly penalty rate per platform; transposed (risk[p, row]) like n_live
            "risk": (np.float64, p, "T"),
            "loss_weeks": (np.int16, p),  # consecutive weeks with negative profit on p
            "ever_banned": (np.bool_, p),  # had a store banned on p (re-entry is checked)
            "profit": (np.float64, p),  # last week's profit on p, USD
            "running_cost": (np.float64, ()),  # last week's fixed + running costs, USD
            # derived, kept so the weekly loops need not recompute them (constants per firm):
            "prop_eff": (np.float64, ()),  # effective grey propensity (effective_propensity)
            "price_weight": (np.float64, ()),  # price ** -price_sensitivity (store_weight)
            # store counters, kept in step with every status change (MarketModel.set_status),
            # transposed (n_live[p, row]) because the store loops visit them platform by platform:
            "n_live": (np.int32, p, "T"),  # active, warned or suspended stores on p
            "n_act": (np.int32, p, "T"),  # active or warned stores on p
        },
        capacity,
    )


def store_columns(ring_weeks: int, capacity: int) -> Columns:
    """Store (account) table."""
    return Columns(
        {
            "firm": (np.int32, ()),  # firm row (int32: half the bytes per store pass)
            "platform": (np.int8, ()),
            "status": (np.int8, ()),
            "strikes": (np.int16, ()),
            "opened": (np.int32, ()),
            "suspended_until": (np.int32, ()),
            "fee_holiday_until": (np.int32, ()),
            "inflation": (np.float64, ()),  # displayed minus true rating, stars
            "campaign": (np.bool_, ()),  # bought fake reviews this week
            "fake_live": (np.float64, ()),  # fake reviews on the page (bought, not deleted)
            "evidence": (np.float64, ()),  # aged fake reviews an audit can find (reviews)
            "suspicion": (np.float64, ()),  # platform's decayed record of deleted reviews
            "penalised_at": (np.int32, ()),  # 1 + week of the last penalty (0: never)
            "frozen_at": (np.int32, ()),  # 1 + week of the last fund freeze (0: never)
            "closed": (np.bool_, ()),  # ever suspended or banned (distinct closures)
            # fake reviews bought, by week mod ring_weeks; transposed: ring[slot, row]
            "ring": (np.float32, (ring_weeks,), "T"),
            "gmv": (np.float64, ()),  # last week's sales, USD
            "net_sales": (np.float64, ()),  # last week's sales net of fees and COGS, USD
            "frozen": (np.float64, ()),  # USD held by the platform
            "release": (np.int32, ()),  # step the frozen funds are released
            "forfeit": (np.bool_, ()),  # frozen funds will not come back
        },
        capacity,
        growth=1.5,  # store capacity is invisible to the model: grow by less to save memory
    )


def pair_index(firm: np.ndarray, platform: np.ndarray, n_platforms: int) -> np.ndarray:
    """Flat index of (firm, platform) pairs into an (n_firms, n_platforms) array."""
    return firm * n_platforms + platform


def count_by_pair(
    firm: np.ndarray, platform: np.ndarray, n_firms: int, n_platforms: int, weights=None
) -> np.ndarray:
    """Sum ``weights`` (or count) per (firm, platform): an (n_firms, n_platforms) array."""
    flat = np.bincount(
        pair_index(firm, platform, n_platforms), weights=weights, minlength=n_firms * n_platforms
    )
    if weights is not None:  # bincount of an empty array is int64 even with weights
        flat = flat.astype(np.float64, copy=False)
    return flat.reshape(n_firms, n_platforms)
