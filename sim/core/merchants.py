"""Merchants (firms): attributes, the grey-practice decision, risk learning, portfolio choice.

The functions here are the merchant rules, vectorised over rows of the firm
and store tables; ``MarketModel.step`` calls them in the order given in
docs/ODD.md. ``Merchant`` is the Mesa agent: a thin view on one firm row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np
from scipy import special, stats

from .config import OriginConfig
from .jit import kernel, rule
from .population import Design, expected_size, size_at
from .state import STATUS_NAMES

if TYPE_CHECKING:
    from .model import MarketModel

# Initial cash is counted in weeks of expected sales at this net margin.
CASH_MARGIN = 0.10
MAX_EXTRA_STORES = 2000


class Merchant(mesa.Agent):
    """A firm. Its state lives in ``model.firms`` row ``row``; this object is a view."""

    def __init__(self, model: MarketModel, row: int) -> None:
        super().__init__(model)
        self.row = row

    @property
    def origin(self) -> str:
        """ "CN" or "other"."""
        return ("CN", "other")[int(self.model.firms.origin[self.row])]

    @property
    def alive(self) -> bool:
        """False once the firm has exited."""
        return bool(self.model.firms.alive[self.row])

    @property
    def cash(self) -> float:
        """Cash in USD (frozen funds excluded)."""
        return float(self.model.firms.cash[self.row])

    @property
    def size(self) -> float:
        """Demand weight (median firm = 1)."""
        return float(self.model.firms.size[self.row])

    @property
    def perceived_risk(self) -> dict[str, float]:
        """Perceived weekly penalty rate per platform."""
        r = self.model.firms.risk[:, self.row]
        return {p.name: float(r[p.index]) for p in self.model.platform_agents}

    def stores(self) -> list[dict]:
        """This firm's stores (all statuses but closed) as dicts."""
        st = self.model.stores
        idx = np.flatnonzero((st.firm[: st.n] == self.row) & (st.status[: st.n] > 0))
        names = [p.name for p in self.model.platform_agents]
        return [
            {
                "platform": names[st.platform[i]],
                "status": STATUS_NAMES[st.status[i]],
                "strikes": int(st.strikes[i]),
                "rating_inflation": float(st.inflation[i]),
                "fake_reviews_live": float(st.fake_live[i]),
                "frozen_usd": float(st.frozen[i]),
            }
            for i in idx
        ]

    @property
    def platforms(self) -> list[str]:
        """Platforms where the firm has a live (active, warned or suspended) store."""
        listed = self.model.listed[self.row]
        return [p.name for p in self.model.platform_agents if listed[p.index]]


# ------------------------------------------------------------------ attributes


def draw_attributes(
    oc: OriginConfig,
    n: int,
    rng: np.random.Generator,
    n_known_platforms: int,
    design: Design,
    initial: bool,
) -> dict[str, np.ndarray]:
    """Draw ``n`` model firms of one origin by inverse transforms of fixed base draws.

    Every firm consumes the same base draws whatever the parameters, so a
    parameter change moves attributes monotonically under common random numbers.

    - position ``v`` in the real size distribution and weight ``w`` (real firms the
      model firm stands for) from the sampling ``design`` (population.py): the
      stratified sample for the ``initial`` population, a Poisson sample for
      entrants; size ``x = x(v)``, a Pareto law with median 1 truncated at
      ``size_max``;
    - quality ``q ~ N(mu_q, sd_q)`` clipped to [1, 5];
    - price log-normal with mean ``mu_p`` and coefficient of variation ``cv``;
    - propensity ``~ Beta(m c, (1 - m) c)`` (mean m, concentration c);
    - extra stores ``~ Poisson(lambda sqrt(size))`` (capped);
    - ``u_member``, the uniform compared with the membership probability
      (population.member_probability); one listing draw per known platform.
    """
    u = rng.random((n, 5 + n_known_platforms))
    z = rng.standard_normal((n, 2))
    alpha = oc.size_pareto_alpha
    v, weight = design.stratified(u[:, 0]) if initial else design.poisson(u[:, 0])
    size = np.asarray(size_at(v, alpha, oc.size_max), dtype=np.float64)
    quality = np.clip(oc.quality_mean + oc.quality_sd * z[:, 0], 1.0, 5.0)
    s2 = np.log1p(oc.price_cv**2)
    price = np.exp(np.log(oc.price_mean_usd) - s2 / 2 + np.sqrt(s2) * z[:, 1])
    m, c = oc.grey_propensity_mean, oc.grey_propensity_concentration
    if m <= 0.0 or m >= 1.0:
        propensity = np.full(n, float(np.clip(m, 0.0, 1.0)))
    else:
        propensity = special.betaincinv(m * c, (1.0 - m) * c, u[:, 1])
    lam = oc.stores_per_platform_mean * np.sqrt(size)
    extra = np.where(lam > 0, stats.poisson.ppf(u[:, 2], np.maximum(lam, 1e-12)), 0.0)
    return {
        "size": size,
        "weight": weight,
        "quality": quality,
        "price": price,
        "propensity": propensity,
        "extra_stores": np.minimum(np.nan_to_num(extra), MAX_EXTRA_STORES).astype(np.int16),
        "u_member": u[:, 3],
        "u_listing": u[:, 5:],
    }


def entry_multiplier(windows: list[tuple[int, int, float]], step: int) -> float:
    """Factor on an origin's entry rate in week ``step``: the multiplier of the last
    window ``(first, last, m)`` that covers it, else 1 (ODD 7.9)."""
    out = 1.0
    for first, last, m in windows:
        if first <= step <= last:
            out = m
    return out


def initial_cash(size: np.ndarray, oc: OriginConfig, gmv_per_firm_week: float) -> np.ndarray:
    """Initial cash: ``capital_weeks * (d / E[x]) * x_f * 0.10`` (USD).

    ``capital_weeks_of_sales`` weeks of expected sales at a 10% net margin, with
    ``d / E[x]`` the weekly sales of a firm of size 1 (``E[x]`` the mean real size).
    """
    per_size = gmv_per_firm_week / expected_size(oc.size_pareto_alpha, oc.size_max)
    return oc.capital_weeks_of_sales * per_size * size * CASH_MARGIN


# ------------------------------------------------------------- grey practice


def effective_propensity(
    propensity: np.ndarray, quality: np.ndarray, reference: float, slope: float
) -> np.ndarray:
    """Propensity raised by weak reputation (Luca & Zervas 2016).

    ``g_f = clip(g0_f + s * max(0, R_ref - q_f), 0, 1)``.
    """
    return np.clip(propensity + slope * np.maximum(0.0, reference - quality), 0.0, 1.0)


@rule
def campaign_reviews(gmv, price, per_order, minimum):
    """Fake reviews a store would buy in a campaign week: ``n_s = max(n_min, nu * G_s / price_f)``.

    Args (positional): last week's sales ``G_s`` (USD), price (USD/order),
    ``nu`` (reviews/order), ``n_min`` (reviews/week).
    """
    return max(minimum, per_order * gmv / price)


@rule
def campaign_cost(reviews, price, gross_margin, commission):
    """Cost of a campaign week: ``K_s = n_s * (price_f * (1 - gm) + k_rev)`` (USD).

    Each fake review is a refunded purchase (the product at cost of goods) plus
    the broker's commission (He, Hollenbeck & Proserpio 2022: $5-10).
    """
    return reviews * (price * (1.0 - gross_margin) + commission)


@rule
def campaign_decision(
    prop_eff, contribution, review_cost, perceived_detection, lift, horizon, sanction
):
    """Buy fake reviews this week when the expected gain beats cost plus expected penalty.

    ``g_f * L * H * c_s - K_s > min(1, p_hat) * S * c_s`` where ``c_s`` is the
    store's weekly contribution (sales x margin, USD/week), ``L = exp(beta_r Delta) - 1``
    the sales lift of a campaign (He, Hollenbeck & Proserpio 2022: +12.5%),
    ``H`` the weeks of lift credited, ``K_s`` the cost of the reviews (USD),
    ``p_hat`` the perceived weekly detection probability and ``S`` the weeks
    of contribution lost if caught (Becker 1968).

    Args (positional): g_f, c_s, K_s, p_hat, L, H, S.
    """
    gain = prop_eff * lift * horizon * contribution
    penalty = min(1.0, perceived_detection) * sanction * contribution
    return gain - review_cost > penalty


@rule
def update_inflation(inflation, campaign, gain_stars, persistence):
    """Rating inflation: ``I_{t+1} = rho I_t + (1 - rho) Delta [campaign]`` (stars).

    Steady state ``Delta`` while a campaign runs; after it, the boost halves
    every week at ``rho = 0.5`` and is gone within about 4 weeks (He et al. 2022).
    """
    return persistence * inflation + (1.0 - persistence) * gain_stars * (1.0 if campaign else 0.0)


@rule
def age_evidence(stock, added, retention):
    """A decaying stock: ``E <- lambda E + added`` (reviews).

    Evidence an audit can find: every fake review bought adds one, and the
    stock fades with retention ``lambda = 0.5^(1 / half_life)`` per week
    (``evidence_half_life_weeks``; reviewer accounts and purchase patterns age).
    The same rule ages the platform's record of deleted reviews (suspicion,
    ``suspicion_half_life_weeks``) with ``added = 0``.
    """
    return retention * stock + added


# ------------------------------------------------------------- risk learning


@rule
def pooled_penalty_rate(own_hits, own_exposure, peer_hits, peer_exposure, peer_weight):
    """This week's observed penalty rate per store-week, pooled over own and peers' stores.

    ``x_fp = (h_fp + w sum_j h_jp) / (e_fp + w sum_j e_jp)`` with ``h`` the
    stores penalised on ``p`` this week and ``e`` the stores exposed (live when
    enforcement began), ``j`` over the firm's association ties and ``w`` the
    weight of a peer's store-week relative to one of the firm's own
    (``peer_weight`` for members, 0 for others). Unit: penalties per store and
    week. A member without exposed peers learns exactly as a non-member; with
    peers it pools their observations with its own. Returns -1 when nothing was
    observed (no exposure).
    """
    den = own_exposure + peer_weight * peer_exposure
    if den <= 0.0:
        return -1.0
    return min(1.0, (own_hits + peer_weight * peer_hits) / den)


@rule
def update_risk(risk, signal, rate):
    """Perceived weekly penalty rate per store: ``r <- r + alpha (x - r)``.

    Exponential smoothing of the observed rate (Korobow, Johnson & Axtell 2007);
    no observation this week (``x < 0``) leaves ``r`` unchanged.
    """
    if signal < 0.0:
        return risk
    return risk + rate * (signal - risk)


@rule
def perceived_detection(risk, salience):
    """Perceived detection probability per campaign week: ``p_hat = min(1, k r)``."""
    return min(1.0, salience * risk)


# ----------------------------------------------------------- portfolio choice


@rule
def channel_cost_factor(channels, exponent):
    """``k^gamma``: each channel's running cost multiplier on a firm with ``k`` channels
    (``k = 0`` counts as 1)."""
    return max(channels, 1.0) ** exponent


@rule
def channel_profit(net_sales, channel_cost, campaign_cost):
    """Weekly profit on a platform: ``pi_fp = sum_s N_s - C_p k_f^gamma - K_fp`` (USD/week)."""
    return (net_sales - channel_cost) - campaign_cost


def channel_costs(listed: np.ndarray, cost: np.ndarray, exponent: float) -> np.ndarray:
    """Weekly running cost of each listed channel: ``C_p k_f^gamma`` (firms x platforms).

    ``k_f`` is the number of channels the firm is on; ``gamma > 0`` makes each
    extra channel costlier to run (management attention, staff), which limits
    multi-homing.
    """
    k = listed.sum(axis=1, keepdims=True).astype(np.float64)
    return np.where(listed, cost[None, :] * channel_cost_factor(k, exponent), 0.0)


def marginal_channel_costs(listed: np.ndarray, cost: np.ndarray, exponent: float) -> np.ndarray:
    """Running cost attributable to each channel (firms x platforms).

    Listed ``p``: its current cost ``C_p k^gamma``. Unlisted ``q``: the cost of
    running it as channel ``k + 1`` plus the extra cost it puts on the others,
    ``C_q (k+1)^gamma + sum_{p listed} C_p ((k+1)^gamma - k^gamma)``.
    """
    k = listed.sum(axis=1, keepdims=True).astype(np.float64)
    now = np.power(np.maximum(k, 1.0), exponent)
    nxt = np.power(k + 1.0, exponent)
    base = np.where(listed, cost[None, :], 0.0).sum(axis=1, keepdims=True)
    extra = base * (nxt - np.where(k > 0, now, 0.0))
    return np.where(listed, cost[None, :] * now, cost[None, :] * nxt + extra)


@rule
def risk_exposure(propensity, collateral_share):
    """Exposure to enforcement per store: ``e_f = g_f + (1 - g_f) c_coll``.

    The effective propensity to manipulate plus, for the honest remainder, a
    collateral share (false positives, related-account sweeps, false links).
    """
    return propensity + (1.0 - propensity) * collateral_share


@rule
def new_account_worth_it(profit, horizon_weeks, account_cost, cash):
    """A banned firm opens a new account when ``H pi_fp - c_new > 0`` and ``cash_f > c_new``."""
    return horizon_weeks * profit - account_cost > 0.0 and cash > account_cost


@rule
def leave_decision(listed, value, loss_weeks, threshold_weeks, profit):
    """Leave a platform whose risk-adjusted value is negative.

    ``leave_fp = [listed] [V_fp < 0] ([L_f >= L_leave] or [pi_fp > 0])``: a
    loss-making channel is left after ``L_leave`` weeks of losses in a row, a
    profitable one whose perceived enforcement loss outweighs its profit at once
    (reliance has become too risky).
    """
    return listed and value < 0.0 and (loss_weeks >= threshold_weeks or profit > 0.0)


@rule
def bankrupt(cash, cash_weeks, running_cost):
    """A firm is bankrupt when ``cash_f < -B C_f`` (``B`` weeks of its running cost in debt)."""
    return cash < -cash_weeks * running_cost


@rule
def expected_weekly_profit(
    est_gmv, price, n_stores, margin_rate, fixed_fee_week, per_order_fee, running_cost
):
    """Expected weekly profit on a platform (USD/week).

    ``pi_fp = G_fp m_p - n_fp F_p - o_p G_fp / price_f - C_p`` with ``G`` the
    expected sales, ``m_p`` gross margin minus the platform's variable take,
    ``F_p`` the fixed fee per store and week, ``o_p`` the per-order fee and
    ``C_p`` the firm's own running cost of being on the platform.

    Args (positional; arrays broadcast): G, price, n, m_p, F_p, o_p, C_p.
    """
    return (
        est_gmv * margin_rate
        - n_stores * fixed_fee_week
        - per_order_fee * est_gmv / price
        - running_cost
    )


@rule
def expected_payout(
    est_gmv, price, n_stores, referral_rate, fulfilment_rate, per_order_fee, fixed_fee_week
):
    """Expected weekly payout balance on a platform: sales minus the platform's charges.

    ``P_fp = G_fp - fee(G_fp)`` with the charges of ``platforms.store_fees`` on
    the expected sales of the firm's ``n_fp`` stores (no fee holiday); this is
    what a fund hold freezes (enforcement.hold_amount).

    Args (positional): G, price, n, r_p, f_p, o_p, F_p.
    """
    fees = est_gmv * referral_rate + est_gmv * fulfilment_rate + per_order_fee * est_gmv / price
    return est_gmv - (fees + n_stores * fixed_fee_week)


@rule
def penalty_hazard(p_hat, exposure):
    """Perceived weekly chance of a penalty per store: ``h_fp = min(1, p_hat_fp e_f)``.

    ``e_f`` is the firm's exposure: its effective propensity to manipulate plus,
    for the honest remainder, a collateral share (false positives, sweeps).
    Unit: penalties per store and week, like the perceived rate ``r`` it derives from.
    """
    return min(1.0, p_hat * exposure)


@rule
def penalty_loss(profit, payout, n_stores, sanction_weeks, held_weeks, forfeit_share, onboarding):
    """What penalties on all of a firm's stores on a platform would cost (USD).

    ``K_fp = S pi_fp^+ + phi_p h_p P_fp^+ + O_p n_fp``: lost profit for ``S``
    weeks, the part of the held payout (``h_p`` weeks of ``P_fp``) expected to
    be lost for good (``phi_p = enforcement.expected_forfeit_share``: most holds
    are released) and the cost of rebuilding the stores. The expected weekly
    loss is ``h_fp K_fp`` with ``h_fp`` the per-store hazard: each of the
    ``n_fp`` stores carries ``K_fp / n_fp`` of it.

    Args (positional): pi, P, n, S, h_p, phi_p, O_p.
    """
    return (
        sanction_weeks * max(profit, 0.0)
        + forfeit_share * held_weeks * max(payout, 0.0)
        + onboarding * n_stores
    )


@rule
def risk_adjusted_value(profit, hazard, loss):
    """Weekly value of being listed: expected profit minus expected enforcement loss.

    ``V_fp = pi_fp - h_fp K_fp``; negative when the perceived hazard exceeds
    about ``1 / S`` per week for a profitable firm (reliance becomes too risky).
    """
    return profit - hazard * loss


@rule
def insurance_value(profit, exposure_loss, aversion):
    """Weekly value of adding a channel as insurance against losing the current ones.

    ``B_fq = psi min(pi_fq^+, X_f)`` with ``X_f = sum_{p listed} h_fp K_fp``
    (:func:`expected_enforcement_loss`) the expected weekly enforcement loss on
    the firm's current channels: the more it relies on risky platforms, the
    more a new channel is worth (SCMP 2021).
    """
    return aversion * min(max(profit, 0.0), exposure_loss)


def expected_enforcement_loss(hazard: np.ndarray, loss: np.ndarray, listed: np.ndarray):
    """``X_f = sum_{p listed} h_fp K_fp`` per firm (sums over the last axis, platforms)."""
    return np.where(listed, hazard * loss, 0.0).sum(axis=-1)


@rule
def join_value(value, insurance, horizon_weeks, willingness, one_off_cost, one_off_gain):
    """Value of opening stores on a platform now (USD).

    ``J_fq = H (omega_o V_fq + B_fq) - O_q n + subsidies + fee holiday``.

    Args (positional): V, B, H, omega_o, one-off cost, one-off gain.
    """
    return horizon_weeks * (willingness * value + insurance) - one_off_cost + one_off_gain


@rule
def join_value_at(
    est_gmv,
    price,
    n_stores,
    margin_rate,
    fixed_fee_week,
    per_order_fee,
    running_cost,
    referral_rate,
    fulfilment_rate,
    hazard,
    sanction_weeks,
    held_weeks,
    forfeit_share,
    onboarding,
    exposure_loss,
    aversion,
    horizon_weeks,
    willingness,
    one_off_cost,
    cash_in,
    holiday_weeks,
):
    """:func:`join_value` of a platform at expected sales ``G`` (the rules above composed).

    ``pi`` (:func:`expected_weekly_profit`), ``P`` (:func:`expected_payout`),
    ``K`` (:func:`penalty_loss`), ``V`` (:func:`risk_adjusted_value`), ``B``
    (:func:`insurance_value`) and ``J`` with the one-off gain ``cash_in + hol
    r_p G`` (the referral fees a fee holiday saves). One compiled call per
    evaluation: the anticipated-base search evaluates it many times a week.
    """
    profit = expected_weekly_profit(
        est_gmv, price, n_stores, margin_rate, fixed_fee_week, per_order_fee, running_cost
    )
    payout = expected_payout(
        est_gmv, price, n_stores, referral_rate, fulfilment_rate, per_order_fee, fixed_fee_week
    )
    loss = penalty_loss(
        profit, payout, n_stores, sanction_weeks, held_weeks, forfeit_share, onboarding
    )
    value = risk_adjusted_value(profit, hazard, loss)
    insurance = insurance_value(profit, exposure_loss, aversion)
    gain = cash_in + holiday_weeks * referral_rate * est_gmv
    return join_value(value, insurance, horizon_weeks, willingness, one_off_cost, gain)


@rule
def expected_sales(demand, own_weight, base, weight):
    """Expected weekly sales per real firm on a platform (USD/week).

    ``G^_fp = D_p w^_fp / (W'_p + omega_f w^_fp)``: the firm's honest weight
    ``w^`` (its prospective stores at true quality) against the platform's
    other stores ``W'_p`` (this week's total weight without the firm's own
    stores, or the anticipated base of :func:`anticipated_base` for a join),
    where the firm's own super-individual counts ``omega_f`` times.
    """
    return demand * own_weight / max(base + weight * own_weight, 1e-300)


#: The inputs of :func:`join_value_at` after the expected sales, in order: the columns
#: of the ``terms`` matrix of :func:`anticipated_base`.
JOIN_TERMS = (
    "price",
    "n_stores",
    "margin_rate",
    "fixed_fee_week",
    "per_order_fee",
    "running_cost",
    "referral_rate",
    "fulfilment_rate",
    "hazard",
    "sanction_weeks",
    "held_weeks",
    "forfeit_share",
    "onboarding",
    "exposure_loss",
    "aversion",
    "horizon_weeks",
    "willingness",
    "one_off_cost",
    "cash_in",
    "holiday_weeks",
)


@kernel
def _pair_join_value(est, t):
    return join_value_at(
        est, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11], t[12],
        t[13], t[14], t[15], t[16], t[17], t[18], t[19],
    )  # fmt: skip


@kernel
def _joining_mass(at, base, pair_platform, pair_mass, demand, own_weight, weight, terms, out):
    for p in range(out.size):
        out[p] = 0.0
    for k in range(pair_platform.size):
        q = pair_platform[k]
        # the others' base: the anticipated base less the pair's own expected mass
        others = max(at[q] - pair_mass[k], base[q])
        est = expected_sales(demand[k], own_weight[k], others, weight[k])
        if _pair_join_value(est, terms[k]) > 0.0:
            out[q] += pair_mass[k]


@kernel
def anticipated_base(
    base, pair_platform, pair_mass, demand, own_weight, weight, terms, iterations, rtol
):
    """Seller base each platform will have after this week's joins, as joiners anticipate it.

    Firms that review in the same week do not each expect a platform's whole
    unmet demand (the launch-week rush): they anticipate one another. For
    platform ``q`` with base weight ``W_q``, the anticipated base is the
    smallest ``W >= W_q`` with ``W_q + sum_{f joins at W} omega_f w^_fq <= W``:
    a join decided at that base is still worth it when every other firm that
    would join at it does (free entry among this week's movers). A candidate
    (firm, platform) pair ``k`` (platform ``pair_platform[k]``) adds its
    expected mass ``pair_mass[k] = pi_k omega_f w^_fq`` (``pi_k`` the chance the
    firm picks ``q``, :func:`choice_probability`) and joins at ``W`` when
    :func:`join_value_at` is positive at the expected sales
    :func:`expected_sales` ``(demand[k], own_weight[k], max(W - pair_mass[k],
    W_q), weight[k])``: against the others, its own stores counted once, with
    the other inputs of :func:`join_value_at` in row ``k`` of ``terms`` (columns
    :data:`JOIN_TERMS`). Found by bisection for all platforms at once: at most
    ``iterations`` halvings, until the bracket is within ``rtol`` of the base.
    """
    P = base.size
    lo = base.copy()
    hi = base.copy()
    for k in range(pair_platform.size):
        hi[pair_platform[k]] += pair_mass[k]
    mass = np.zeros(P)
    _joining_mass(lo, base, pair_platform, pair_mass, demand, own_weight, weight, terms, mass)
    for p in range(P):
        if mass[p] <= 0.0:
            hi[p] = lo[p]  # nobody joins at the current base: nothing to anticipate
    mid = hi.copy()
    for _ in range(iterations):
        done = True
        for p in range(P):
            if hi[p] - lo[p] > rtol * hi[p]:
                mid[p] = 0.5 * (lo[p] + hi[p])
                done = False
            else:
                mid[p] = hi[p]
        if done:
            break
        _joining_mass(mid, base, pair_platform, pair_mass, demand, own_weight, weight, terms, mass)
        for p in range(P):
            if hi[p] - lo[p] > rtol * hi[p]:
                if base[p] + mass[p] <= mid[p]:
                    hi[p] = mid[p]
                else:
                    lo[p] = mid[p]
    return hi


def choice_probability(candidate: np.ndarray, value: np.ndarray, vetting: np.ndarray):
    """Chance that each candidate platform is the one a firm joins (firms x platforms).

    Each candidate passes vetting independently with probability ``v_q``
    (``vetting``, per platform) and the firm joins the best that passes
    (:func:`best_only`): ``pi_fq = v_q prod_{q' candidate, J_fq' > J_fq} (1 - v_q')``
    (ties broken by platform order, as ``best_only`` does). Rows sum to the
    chance the firm joins anything, at most 1; non-candidates get 0. So a firm
    that would consider several platforms adds its mass to each only in the
    share it is expected to choose it.
    """
    P = value.shape[1]
    masked = np.where(candidate, value, -np.inf)
    order = np.argsort(-masked, axis=1, kind="stable")
    cand_sorted = np.take_along_axis(candidate, order, axis=1)
    v_sorted = np.where(cand_sorted, vetting[order], 0.0)
    fail = np.cumprod(1.0 - v_sorted, axis=1)
    before = np.concatenate([np.ones((value.shape[0], 1)), fail[:, : P - 1]], axis=1)
    prob = np.zeros(value.shape)
    np.put_along_axis(prob, order, v_sorted * before, axis=1)
    return prob


def best_only(eligible: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Keep, per row, only the eligible column with the highest value.

    A firm opens at most one new channel per review: it must afford the
    onboarding cost, and expansion is gradual.
    """
    masked = np.where(eligible, value, -np.inf)
    best = np.argmax(masked, axis=1)
    out = np.zeros_like(eligible)
    rows = np.flatnonzero(eligible.any(axis=1))
    out[rows, best[rows]] = True
    return out
