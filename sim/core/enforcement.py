"""Enforcement of a platform against fake reviews: audits, penalties, sweeps, fund holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from . import kernels as kn
from .calendar import Calendar, days_to_weeks
from .config import EnforcementConfig
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


def audit_probabilities(
    base: float,
    level: float,
    evidence: np.ndarray,
    degree_ratio: np.ndarray,
    targeting: str,
    targeting_strength: float,
    hub_targeting: float,
) -> np.ndarray:
    """Per-store audit probability this week.

    ``a_s = min(1, a * I(t) * w_s / mean(w))`` with ``w_s = (1 + k [fake live]) (1 + h d_s)``
    under risk targeting (``w_s = 1 + h d_s`` under random targeting), ``d_s``
    the firm's association degree over the mean degree. Normalising by the mean
    keeps the expected number of audits (the budget) independent of targeting.
    """
    w = np.ones(evidence.shape[0])
    if targeting == "risk" and targeting_strength > 0:
        w += targeting_strength * evidence
    if hub_targeting > 0:
        w *= 1.0 + hub_targeting * degree_ratio
    mean = w.mean() if w.size else 1.0
    return np.minimum(1.0, base * level * w / mean)


def detect(
    audited: np.ndarray, evidence: np.ndarray, u: np.ndarray, tpr: float, fpr: float
) -> np.ndarray:
    """Audit outcome: a store with live fake reviews is caught with the true-positive
    rate, an honest one flagged with the false-positive rate (``u`` uniform draws)."""
    return audited & np.where(evidence, u < tpr, u < fpr)


def penalty_for_strike(strikes: np.ndarray, ladder: list[str]) -> np.ndarray:
    """Status code after the k-th strike: ``ladder[min(k, len) - 1]`` (last step repeats)."""
    codes = np.array([PENALTY_CODE[p] for p in ladder], dtype=np.int8)
    return codes[np.minimum(strikes, len(ladder)) - 1]


class EnforcementPolicy(mesa.Agent):
    """One platform's enforcement policy; its ``step`` applies the week's enforcement."""

    def __init__(
        self, model: MarketModel, platform_index: int, cfg: EnforcementConfig, cal: Calendar
    ):
        super().__init__(model)
        self.platform_index = platform_index
        self.cfg = cfg
        self.start_step = cal.first_step_on_or_after(cfg.start_date)
        self.lag_weeks = days_to_weeks(cfg.review_deletion_lag_days)
        self.hold_weeks = days_to_weeks(cfg.fund_hold_days)
        self.level = 0.0

    def step(self) -> None:
        """Delete lagged fake reviews, end suspensions, audit, penalise, sweep.

        Order: (1) deletion of reviews bought ``lag`` weeks ago (while the policy
        is in force), (2) suspensions that end are reinstated or turned into bans,
        (3) audits and penalties on the penalty ladder, (4) related-account
        sweeps of the other stores of firms banned in (2) or (3), (5) false links
        that suspend unrelated stores, in number ~ Binomial(bans, p_link).
        """
        m, c, p = self.model, self.cfg, self.platform_index
        t = m.t
        rng = m.rng_enforcement
        st = m.stores
        status = st.status
        self.level = intensity(
            t, self.start_step, c.baseline_intensity, c.ramp_weeks, c.escalation_per_year
        )
        # Only this platform's store rows are read or written below; each selection
        # keeps store order, so every draw meets the same store as a full-table mask.
        deleting = c.review_deletion_rate > 0 and self.level > 0 and t >= self.lag_weeks
        auditing = c.audit_probability_per_week > 0 and self.level > 0
        if not (deleting or auditing or m.n_susp[p] > 0):
            return  # nothing to delete, audit or end: no draw is skipped
        ids = m.store_ids_on(p)

        # (1) deletion after the lag: reviews bought in week t - lag (only while the
        # policy is in force, so a policy that has not started changes nothing)
        if deleting:
            ring = st.ring[(t - self.lag_weeks) % m.ring_weeks]
            on_p = ids[ring[ids] > 0]
            if on_p.size:
                deleted = ring[on_p] * c.review_deletion_rate
                st.fake_live[on_p] = np.maximum(0.0, st.fake_live[on_p] - deleted)
                # a deleted campaign is no evidence any more (clip float residue)
                st.fake_live[on_p[st.fake_live[on_p] < 1e-9]] = 0.0

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
            honest = swept[st.fake_live[swept] <= 0]
            m.rec_add("swept_honest", p, m.firms.origin[st.firm[honest]])
            self._ban(swept, CAUSE_RELATED)

        # (5) false links: unrelated stores caught in the sweep's net.
        if ban.size and c.false_link_probability > 0:
            k = int(rng.binomial(ban.size, c.false_link_probability))
            pool = kn.select_status(ids, status, ACTIVE, WARNED)
            if k and pool.size:
                victims = rng.choice(pool, size=min(k, pool.size), replace=False)
                m.rec_add("false_links", p, m.firms.origin[st.firm[victims]])
                self._suspend(victims)

    def _audit(self, live: np.ndarray) -> np.ndarray:
        """Audit ``live`` stores, apply the penalty ladder; return the stores banned."""
        m, c, p = self.model, self.cfg, self.platform_index
        st = m.stores
        evidence = st.fake_live[live] > 0
        prob = audit_probabilities(
            c.audit_probability_per_week,
            self.level,
            evidence,
            m.degree_ratio[st.firm[live]],
            c.targeting,
            c.targeting_strength,
            c.hub_targeting,
        )
        u = m.rng_enforcement.random((2, live.size))
        audited = u[0] < prob
        caught = detect(audited, evidence, u[1], c.true_positive_rate, c.false_positive_rate)
        origin = m.firms.origin[st.firm[live]]
        m.rec_add("audits", p, origin[audited])
        m.rec_add("detections", p, origin[caught & evidence])
        m.rec_add("false_positives", p, origin[caught & ~evidence])
        m.audit_cost[p] += audited.sum() * c.cost_per_audit_usd
        hit = live[caught]
        if hit.size == 0:
            return hit
        # Detection deletes the store's fake reviews at once and the inflated rating with them.
        st.fake_live[hit] = 0.0
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
        m = self.model
        m.penalised[m.stores.firm[idx], self.platform_index] = True

    def _freeze(self, idx: np.ndarray, forfeit: np.ndarray | None) -> None:
        """Move ``held_weeks_of_sales`` of net sales from the firm's cash into a hold
        released after ``fund_hold_days`` (or lost, if ``forfeit``)."""
        m, c = self.model, self.cfg
        st = m.stores
        amount = c.held_weeks_of_sales * np.maximum(st.net_sales[idx], 0.0)
        np.subtract.at(m.firms.cash, st.firm[idx], amount)
        st.frozen[idx] += amount
        st.release[idx] = m.t + self.hold_weeks
        if forfeit is not None:
            st.forfeit[idx] |= forfeit
        m.rec_add("frozen_new_usd", self.platform_index, m.firms.origin[st.firm[idx]], amount)

    def _suspend(self, idx: np.ndarray) -> None:
        if idx.size == 0:
            return
        m, c = self.model, self.cfg
        st = m.stores
        m.set_status(idx, SUSPENDED)
        st.suspended_until[idx] = m.t + max(1, round(c.suspension_weeks))
        m.rec_add("new_suspensions", self.platform_index, m.firms.origin[st.firm[idx]])
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
        m.rec_add("new_bans", self.platform_index, m.firms.origin[firms])
