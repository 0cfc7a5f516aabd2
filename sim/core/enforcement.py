"""Enforcement of a platform against fake reviews: audits, penalties, sweeps, fund holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from . import kernels as kn
from .calendar import Calendar, days_to_weeks
from .config import EnforcementConfig
from .jit import kernel, rule
from .state import ACTIVE, BANNED, SUSPENDED, WARNED

if TYPE_CHECKING:
    from .model import MarketModel

# Causes of a firm losing (or gaining) a platform, used in flows.
CAUSES = ("entry", "exit", "ban", "related_account", "voluntary", "join", "new_account")
CAUSE = {name: i for i, name in enumerate(CAUSES)}
CAUSE_BAN = CAUSE["ban"]
CAUSE_RELATED = CAUSE["related_account"]
PENALTY_CODE = {"warning": WARNED, "suspension": SUSPENDED, "ban": BANNED}


def intensity(
    step: int, start: int, baseline: float, ramp_weeks: float, escalation: float
) -> float:
    """Enforcement intensity in week ``step`` (1 = full configured audit rate).

    ``I(t) = b`` before the start ``s``; then ``b + (1 - b) min(1, (t - s + 1) / ramp)``;
    after the ramp, multiplied by ``(1 + e)^((t - s + 1 - ramp) / 52)`` (escalation).
    """
    if step < start:
        return baseline
    since = step - start + 1
    level = baseline + (1.0 - baseline) * (1.0 if ramp_weeks <= 0 else min(1.0, since / ramp_weeks))
    extra_weeks = since - max(ramp_weeks, 0.0)
    if extra_weeks > 0 and escalation > 0:
        level *= (1.0 + escalation) ** (extra_weeks / 52.0)
    return level


@rule
def response_multiplier(current, prevalence, target, elasticity, lowest, highest, rate):
    """Responsive enforcement: the multiplier of the scheduled intensity (ODD 7.7).

    ``M <- M + a (clip((phi / phi*)^eps, M_lo, M_hi) - M)``: the platform
    knows this week's fake-review prevalence ``phi`` (the sales-weighted share
    of inflated ratings, 7.2: an assumption, see ODD 4 Sensing) and moves its
    enforcement budget a share ``a`` of the way towards a multiplier that is 1
    at the tolerated prevalence ``phi*``, higher above it and lower below it,
    within ``[M_lo, M_hi]``. The intensity is then ``I(t) M``.
    """
    ratio = prevalence / target
    aim = ratio**elasticity if ratio > 0.0 else (1.0 if elasticity == 0.0 else 0.0)
    aim = min(max(aim, lowest), highest)
    return current + rate * (aim - current)


def decay_factor(step: int, decay_start: int, half_life_weeks: float, floor: float) -> float:
    """Wind-down of a campaign: the share of the scheduled intensity still applied.

    ``1`` before the decay's start ``d``; from it ``phi + (1 - phi) 0.5^((t - d) /
    h)`` with floor ``phi`` and half-life ``h`` weeks (ODD 7.7).
    """
    if step < decay_start:
        return 1.0
    return floor + (1.0 - floor) * 0.5 ** ((step - decay_start) / half_life_weeks)


def audit_probabilities(
    base: float,
    level: float,
    suspicious: np.ndarray,
    degree_ratio: np.ndarray,
    targeting: str,
    targeting_strength: float,
    hub_targeting: float,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Per-store audit probability this week.

    ``a_s = min(1, a * I(t) * w_s / mean(w))`` with ``w_s = (1 + k sigma_s) (1 + h d_s)``
    under risk targeting (``w_s = 1 + h d_s`` under random targeting), ``d_s``
    the firm's association degree over the mean degree and ``sigma_s`` in
    [0, 1] how suspicious the store is (:func:`suspicion_share` of the
    platform's decayed record of the fake reviews it deleted from, or found in,
    the store): risk targeting uses only what the platform can know, and more
    of it draws more audits. The mean is over real stores (each model store
    counts ``weight`` times), so the expected number of audits (the budget)
    does not depend on targeting.
    """
    w = np.ones(suspicious.shape[0])
    if targeting == "risk" and targeting_strength > 0:
        w += targeting_strength * suspicious
    if hub_targeting > 0:
        w *= 1.0 + hub_targeting * degree_ratio
    if w.size == 0:
        mean = 1.0
    elif weight is None:
        mean = w.mean()
    else:
        mean = float((w * weight).sum() / weight.sum()) if weight.sum() > 0 else 1.0
    return np.minimum(1.0, base * level * w / mean)


@rule
def suspicion_share(suspicion, half_saturation):
    """How suspicious a store looks to its platform: ``sigma_s = U_s / (U_s + U_half)``.

    ``U_s`` is the platform's decayed record of the fake reviews it deleted from,
    or found in, the store (reviews); ``U_half`` the record at which a store
    draws half the extra audit weight of risk targeting. A store with no record
    is not suspicious at all; one with a long one is fully suspicious.
    """
    return suspicion / (suspicion + half_saturation) if suspicion > 0.0 else 0.0


@rule
def detection_probability(evidence, true_positive_rate, false_positive_rate, half_saturation):
    """Chance that an audit flags a store: ``fpr + (tpr - fpr) E / (E + E_half)``.

    ``E`` is the evidence an audit can find (fake reviews bought, aged,
    ``merchants.age_evidence``; deleting a review does not erase it); a store
    with none is flagged only by mistake, one with much at the true-positive
    rate; ``E_half`` is the evidence at which half the difference is reached.
    So a store that stops buying grows less detectable as its evidence fades.
    """
    share = evidence / (evidence + half_saturation) if evidence > 0.0 else 0.0
    return false_positive_rate + (true_positive_rate - false_positive_rate) * share


@rule
def false_link_chance(false_link_probability, real_bans, real_pool):
    """Chance that a selling store is wrongly linked to one of this week's bans:
    ``c = min(1, p_link B / N)``.

    ``B`` is the real stores the platform banned this week when suspensions
    ended and after audits (steps 2-3 of ``EnforcementPolicy.step``, not the
    related-account sweep), ``N`` the real active or warned stores it could
    link to them (``N > 0``), ``p_link`` the false links per real ban
    (``false_link_probability``): each of the ``N`` stores is linked with
    chance ``c``, so the expected real victims are ``p_link B`` (capped at
    ``N``). A linked store is suspended.
    """
    return min(1.0, false_link_probability * real_bans / real_pool)


#: Evidence (reviews) from which a store counts as cheating in the outputs (``is_guilty``).
GUILTY_EVIDENCE = 1.0


@rule
def is_guilty(evidence):
    """Whether a store counts as cheating: ``E_s >= 1``, at least one fake review's
    trace left (bought recently enough: the evidence fades with its half-life).

    Labels penalties as true or false positives (``detections``,
    ``false_positives``, ``swept_honest``); it does not enter any decision. A
    store that stopped buying becomes honest once its evidence has faded below
    one review, although a few undeleted fake reviews may stay on its page.
    """
    return evidence >= GUILTY_EVIDENCE


def detect(audited: np.ndarray, u: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """Audit outcome: an audited store is flagged when its uniform draw is below
    its detection probability (:func:`detection_probability`)."""
    return audited & (u < probability)


@rule
def payout_balance(gmv, net_sales, gross_margin):
    """What the platform owes a store for a week: sales minus its charges (USD).

    ``P_s = G_s - fee_s = N_s + (1 - gm) G_s`` (the cost of goods was the seller's).
    """
    return net_sales + (1.0 - gross_margin) * gmv


@rule
def hold_amount(held_weeks, payout):
    """Funds frozen by a suspension or ban: ``A_s = h max(P_s, 0)`` (USD), the payout
    balance of ``h`` weeks (Amazon's 14-day payout cycle)."""
    return held_weeks * max(payout, 0.0)


# The rules above per store of an index list, compiled: called on arrays from numpy,
# a rule's ufunc would have numba build its loop wrapper in every process (~0.1 s
# each; only the scalar rules are cached on disk). Same rule, same numbers.


@kernel
def _suspicion_shares(suspicion, idx, half_saturation):
    """:func:`suspicion_share` of the stores ``idx``."""
    out = np.empty(idx.size)
    for k in range(idx.size):
        out[k] = suspicion_share(suspicion[idx[k]], half_saturation)
    return out


@kernel
def _detection_probabilities(evidence, idx, true_positive_rate, false_positive_rate, half):
    """:func:`detection_probability` of the stores ``idx``."""
    out = np.empty(idx.size)
    for k in range(idx.size):
        out[k] = detection_probability(
            evidence[idx[k]], true_positive_rate, false_positive_rate, half
        )
    return out


@kernel
def _hold_amounts(gmv, net_sales, idx, gross_margin, held_weeks, fresh):
    """:func:`hold_amount` of the payout (:func:`payout_balance`) of the stores ``idx``;
    0 where not ``fresh``."""
    out = np.empty(idx.size)
    for k in range(idx.size):
        i = idx[k]
        a = hold_amount(held_weeks, payout_balance(gmv[i], net_sales[i], gross_margin))
        out[k] = a if fresh[k] else 0.0
    return out


def expected_forfeit_share(cfg: EnforcementConfig) -> float:
    """Expected share of a hold lost for good, given a first penalty (policy-derived).

    The first rung of the penalty ladder decides: a warning holds nothing
    (0); a suspension ends in a ban with probability ``1 - reinstatement``,
    which forfeits with ``forfeit_on_ban_probability``; a ban forfeits with
    ``forfeit_on_ban_probability``. Released funds cost nothing (no
    discounting), so only this share of a hold is a loss.
    """
    first = cfg.penalty_ladder[0] if cfg.penalty_ladder else "warning"
    if first == "warning":
        return 0.0
    if first == "suspension":
        return (1.0 - cfg.reinstatement_probability) * cfg.forfeit_on_ban_probability
    return cfg.forfeit_on_ban_probability


def penalty_for_strike(strikes: np.ndarray, ladder: list[str]) -> np.ndarray:
    """Status code after the k-th strike: ``ladder[min(k, len) - 1]`` (last step repeats)."""
    codes = np.array([PENALTY_CODE[p] for p in ladder], dtype=np.int8)
    return codes[np.minimum(strikes, len(ladder)) - 1]


def retention(half_life_weeks: float) -> float:
    """Weekly retention ``0.5^(1 / half_life)`` of a stock with the given half-life."""
    return 0.5 ** (1.0 / half_life_weeks)


class EnforcementPolicy(mesa.Agent):
    """One platform's enforcement policy; its ``step`` applies the week's enforcement."""

    def __init__(
        self, model: MarketModel, platform_index: int, cfg: EnforcementConfig, cal: Calendar
    ):
        super().__init__(model)
        self.platform_index = platform_index
        self.cfg = cfg
        self.start_step = cal.first_step_on_or_after(cfg.start_date)
        self.decay_step = cal.first_step_on_or_after(cfg.decay_start_date)
        self.lag_weeks = days_to_weeks(cfg.review_deletion_lag_days)
        self.hold_weeks = days_to_weeks(cfg.fund_hold_days)
        self.evidence_keep = retention(cfg.evidence_half_life_weeks)
        self.suspicion_keep = retention(cfg.suspicion_half_life_weeks)
        self.forfeit_share = expected_forfeit_share(cfg)
        self.level = 0.0
        self.multiplier = 1.0  # responsive enforcement (response_multiplier); 1 when fixed

    @staticmethod
    def inert_terms() -> tuple[float, float]:
        """Held weeks and expected forfeited share of the inert default policy."""
        cfg = EnforcementConfig()
        return cfg.held_weeks_of_sales, expected_forfeit_share(cfg)

    def step(self) -> None:
        """Delete lagged fake reviews, end suspensions, audit, penalise, sweep.

        Order: (1) deletion of reviews bought ``lag`` weeks ago (while the policy
        is in force) from the stores an audit can still reach: they leave the
        page and enter the store's suspicion record; (2) suspensions that end are reinstated or
        turned into bans; (3) audits and penalties on the penalty ladder;
        (4) related-account sweeps of the other stores of firms banned in (2) or
        (3); (5) false links that suspend unrelated stores.
        """
        m, c, p = self.model, self.cfg, self.platform_index
        t = m.t
        rng = m.rng_enforcement
        st = m.stores
        status = st.status
        scheduled = intensity(
            t, self.start_step, c.baseline_intensity, c.ramp_weeks, c.escalation_per_year
        ) * decay_factor(t, self.decay_step, c.decay_half_life_weeks, c.decay_floor)
        if c.response == "prevalence" and scheduled > 0:
            # responsive enforcement, only while the schedule is in force (so a preset
            # stays paired with policy=none before its start)
            self.multiplier = response_multiplier.py_func(
                self.multiplier,
                m.platform_agents[p].prevalence,
                c.response_target_prevalence,
                c.response_elasticity,
                c.response_min_multiplier,
                c.response_max_multiplier,
                c.response_adjustment_rate,
            )
        self.level = scheduled * self.multiplier
        # Only this platform's store rows are read or written below; each selection
        # keeps store order, so every draw meets the same store as a full-table mask.
        deleting = c.review_deletion_rate > 0 and self.level > 0 and t >= self.lag_weeks
        auditing = c.audit_probability_per_week > 0 and self.level > 0
        if not (deleting or auditing or m.n_susp[p] > 0):
            return  # nothing to delete, audit or end: no draw is skipped
        ids = m.live_store_ids_on(p)  # every store a step below can select

        # (1) deletion after the lag: reviews bought in week t - lag (only while the
        # policy is in force, so a policy that has not started changes nothing)
        if deleting:
            ring = st.ring[(t - self.lag_weeks) % m.ring_weeks]
            on_p = ids[ring[ids] > 0]
            # closed and banned stores are never audited again: nothing to delete there
            on_p = on_p[(status[on_p] >= ACTIVE) & (status[on_p] <= SUSPENDED)]
            if on_p.size:
                batch = ring[on_p].astype(np.float64)
                # at most what is still on the page (a detection removed it all)
                deleted = np.minimum(c.review_deletion_rate * batch, st.fake_live[on_p])
                st.fake_live[on_p] -= deleted
                # the platform keeps what it deleted: the evidence stays for an audit to
                # find, and the deletion is a signal that draws audits (risk targeting)
                st.suspicion[on_p] += deleted
                st.fake_live[on_p[st.fake_live[on_p] < 1e-9]] = 0.0  # float residue
                m.rec_stores("reviews_deleted", p, on_p, deleted)

        # (2) suspensions ending this week.
        banned = [np.empty(0, dtype=np.int64)]
        if m.n_susp[p] > 0:
            ending = kn.ending_suspensions(ids, status, st.suspended_until, t)
            if ending.size:
                back = rng.random(ending.size) < c.reinstatement_probability
                m.set_status(ending[back], ACTIVE)
                self._ban(ending[~back], CAUSE_BAN)
                banned.append(ending[~back])

        # (3) audits of active and warned stores.
        if auditing:
            live = kn.select_status(ids, status, ACTIVE, WARNED)
            if live.size:
                banned.append(self._audit(live))

        # (4) related-account sweep: each other live store of a firm banned this week on p.
        ban = np.concatenate(banned)
        if ban.size and c.related_account_sweep_probability > 0:
            banned_firm = np.zeros(m.firms.n, dtype=bool)
            banned_firm[st.firm[ban]] = True
            live = kn.select_status(ids, status, ACTIVE, SUSPENDED)
            cand = live[banned_firm[st.firm[live]]]
            swept = cand[rng.random(cand.size) < c.related_account_sweep_probability]
            honest = swept[~is_guilty(st.evidence[swept])]
            m.rec_stores("swept_honest", p, honest)
            self._ban(swept, CAUSE_RELATED)

        # (5) false links: each active or warned store of the platform is wrongly linked
        # to one of this week's bans with the chance (false_link_chance) that makes the
        # expected number of real victims p_link x (real stores banned in steps 2-3)
        if ban.size and c.false_link_probability > 0:
            pool = kn.select_status(ids, status, ACTIVE, WARNED)
            if pool.size:
                omega = m.firms.weight
                real_bans = float(omega[st.firm[ban]].sum())
                real_pool = float(omega[st.firm[pool]].sum())
                chance = false_link_chance(c.false_link_probability, real_bans, real_pool)
                victims = pool[rng.random(pool.size) < chance]
                m.rec_stores("false_links", p, victims)
                self._suspend(victims)

    def _audit(self, live: np.ndarray) -> np.ndarray:
        """Audit ``live`` stores, apply the penalty ladder; return the stores banned."""
        m, c, p = self.model, self.cfg, self.platform_index
        st = m.stores
        firms = st.firm[live]
        omega = m.firms.weight[firms]
        prob = audit_probabilities(
            c.audit_probability_per_week,
            self.level,
            _suspicion_shares(st.suspicion, live, c.suspicion_half_saturation_reviews),
            m.degree_ratio[firms],
            c.targeting,
            c.targeting_strength,
            c.hub_targeting,
            omega,
        )
        u = m.rng_enforcement.random((2, live.size))
        audited = u[0] < prob
        found = _detection_probabilities(
            st.evidence,
            live,
            c.true_positive_rate,
            c.false_positive_rate,
            c.evidence_half_saturation_reviews,
        )
        caught = detect(audited, u[1], found)
        guilty = is_guilty(st.evidence[live])  # before detection wipes the evidence
        m.rec_stores("audits", p, live[audited])
        m.rec_stores("detections", p, live[caught & guilty])
        m.rec_stores("false_positives", p, live[caught & ~guilty])
        m.audit_cost[p] += float(omega[audited].sum()) * c.cost_per_audit_usd
        hit = live[caught]
        if hit.size == 0:
            return hit
        # Detection deletes the store's fake reviews at once, with the inflated rating and the
        # evidence; the platform remembers them (suspicion).
        st.suspicion[hit] += st.fake_live[hit]
        st.fake_live[hit] = 0.0
        st.evidence[hit] = 0.0
        st.inflation[hit] = 0.0
        st.strikes[hit] += 1
        outcome = penalty_for_strike(st.strikes[hit], c.penalty_ladder)
        warn, susp, ban = hit[outcome == WARNED], hit[outcome == SUSPENDED], hit[outcome == BANNED]
        m.set_status(warn, WARNED)
        self._mark_penalised(warn)
        self._suspend(susp)
        self._ban(ban, CAUSE_BAN)
        return ban

    # ----------------------------------------------------------------- helpers

    def _mark_penalised(self, idx: np.ndarray) -> None:
        """Count each store penalised this week once for its firm's risk learning."""
        m = self.model
        st = m.stores
        new = idx[st.penalised_at[idx] != m.t + 1]
        st.penalised_at[new] = m.t + 1
        np.add.at(m.hits[:, self.platform_index], st.firm[new], 1)

    def _freeze(self, idx: np.ndarray, forfeit: np.ndarray | None) -> None:
        """Hold ``held_weeks_of_sales`` weeks of the store's payout balance, released after
        ``fund_hold_days`` (or lost, if ``forfeit``). A store is frozen once a week:
        a second penalty in the same week only moves the release date."""
        m, c = self.model, self.cfg
        st = m.stores
        fresh = st.frozen_at[idx] != m.t + 1
        amount = _hold_amounts(
            st.gmv,
            st.net_sales,
            idx,
            m.cfg.merchants.gross_margin_rate,
            c.held_weeks_of_sales,
            fresh,
        )
        np.subtract.at(m.firms.cash, st.firm[idx], amount)
        st.frozen[idx] += amount
        st.frozen_at[idx] = m.t + 1
        st.release[idx] = m.t + self.hold_weeks
        if forfeit is not None:
            st.forfeit[idx] |= forfeit
        m.rec_stores("frozen_new_usd", self.platform_index, idx, amount)

    def _suspend(self, idx: np.ndarray) -> None:
        if idx.size == 0:
            return
        m, c = self.model, self.cfg
        st = m.stores
        m.set_status(idx, SUSPENDED)
        st.suspended_until[idx] = m.t + max(1, round(c.suspension_weeks))
        m.rec_stores("new_suspensions", self.platform_index, idx)
        m.rec_closed(self.platform_index, idx)
        self._freeze(idx, None)
        self._mark_penalised(idx)

    def _ban(self, idx: np.ndarray, cause: int) -> None:
        if idx.size == 0:
            return
        m, c = self.model, self.cfg
        st = m.stores
        m.set_status(idx, BANNED)
        forfeit = m.rng_enforcement.random(idx.size) < c.forfeit_on_ban_probability
        self._freeze(idx, forfeit)
        self._mark_penalised(idx)
        firms = st.firm[idx]
        m.banned_now[firms, self.platform_index] = True
        m.firms.ever_banned[firms, self.platform_index] = True
        m.loss_cause[firms, self.platform_index] = cause
        m.rec_stores("new_bans", self.platform_index, idx)
        m.rec_closed(self.platform_index, idx)
