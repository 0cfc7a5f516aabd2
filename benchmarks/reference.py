"""The model's rules written the idiomatic per-agent Mesa way: the engine's peer and oracle.

One Python object per merchant (``RefMerchant``) and per store (``RefStore``),
each with its own ``step``; platforms are the engine's own ``Platform`` agents;
rules called on one agent's numbers use the rule's Python body (``rule.py_func``,
the source the kernels compile), since a compiled ufunc call on scalars costs
microseconds;
enforcement is a per-store loop (``RefEnforcer``). Every rule is the same
function of ``sim/core`` (``campaign_decision``, ``update_inflation``,
``age_evidence``, ``store_weight``, ``allocate_sales``, ``store_fees``,
``audit_probabilities``, ``detection_probability``, ``hold_amount``,
``penalty_for_strike``, ``pooled_penalty_rate``, ``update_risk``,
``expected_sales``, ``join_value``, ...), called per agent on that agent's
own numbers (the anticipated seller base of ``merchants.anticipated_base`` by
its definition, ``bisect_base``); the population is drawn by the same
sampling design (``sim/core/population.py``), each merchant standing for
``omega`` real firms. The weekly schedule is the one of ``MarketModel.step``.

It uses its own random streams in its own order, so it reproduces the engine's
outcomes in distribution, not draw for draw; ``tests/test_reference_equivalence.py``
checks that over replicates. It is written for reading, not for speed: it is
the "natural Mesa model" whose cost the benchmark suite compares against.

    from benchmarks.reference import ReferenceModel
    m = ReferenceModel(compose_config(["merchants.count=200"]))
    m.run(); m.summary()
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from sim.core import demand as dr
from sim.core import enforcement as er
from sim.core import merchants as mr
from sim.core import network as net
from sim.core import platforms as pl
from sim.core import population as pop
from sim.core.calendar import Calendar, days_to_weeks
from sim.core.config import KNOWN_PLATFORMS, ORIGINS, EnforcementConfig, SimConfig, validate
from sim.core.merchants import best_only
from sim.core.model import _split_count
from sim.core.platforms import Platform, split_demand
from sim.core.state import ACTIVE, BANNED, CLOSED, SUSPENDED, WARNED
from sim.core.streams import make_streams

LIVE = (ACTIVE, WARNED, SUSPENDED)


class RefStore(mesa.Agent):
    """One store (account) of a merchant on one platform."""

    def __init__(self, model: ReferenceModel, firm: RefMerchant, platform: int, opened: int):
        super().__init__(model)
        self.firm, self.platform, self.opened = firm, platform, opened
        self.status, self.strikes, self.suspended_until = ACTIVE, 0, 0
        holiday = model.platform_agents[platform].cfg.new_seller_fee_holiday_weeks
        self.fee_holiday_until = opened + round(holiday) + 1 if opened >= 0 else -1
        self.inflation, self.campaign, self.fake_live = 0.0, False, 0.0
        self.evidence = self.suspicion = 0.0
        self.bought: dict[int, float] = {}  # week -> fake reviews bought
        self.gmv = self.net_sales = self.frozen = 0.0
        self.release, self.forfeit, self.weight = 0, False, 0.0
        self.penalised_at = self.frozen_at = 0
        firm.stores.append(self)

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def close(self) -> None:
        """A closed store is gone (the engine compacts it away); its held funds stay held."""
        self.status = CLOSED
        self.firm.stores.remove(self)
        if self.frozen > 0:
            self.model.closed_with_funds.append(self)
        self.remove()

    @property
    def selling(self) -> bool:
        return self.status in (ACTIVE, WARNED)

    def step(self) -> None:
        """Phase 1: decide on a fake-review campaign; update inflation, evidence, suspicion."""
        m, b, f = self.model, self.model.cfg.behaviour, self.firm
        bought = 0.0
        self.campaign = False
        e = m.enforcers[self.platform]
        if self.selling:
            gm = m.cfg.merchants.gross_margin_rate
            prop = f.prop_eff
            reviews = mr.campaign_reviews.py_func(
                self.gmv, f.price, b.fake_reviews_per_order, b.min_fake_reviews_per_week
            )
            cost = mr.campaign_cost.py_func(reviews, f.price, gm, b.fake_review_commission_usd)
            p_hat = mr.perceived_detection.py_func(f.risk[self.platform], b.risk_salience)
            self.campaign = bool(
                mr.campaign_decision.py_func(
                    prop,
                    self.gmv * m.margin[self.platform],
                    cost,
                    p_hat,
                    m.lift,
                    b.campaign_horizon_weeks,
                    b.sanction_weeks_of_profit,
                )
            )
            if self.campaign:
                bought = float(reviews)
                f.campaign_cost[self.platform] += cost
            self.inflation = float(
                mr.update_inflation.py_func(
                    self.inflation,
                    self.campaign,
                    b.fake_rating_gain_stars,
                    b.fake_inflation_persistence,
                )
            )
        else:
            self.inflation = 0.0
        self.fake_live += bought
        self.evidence = float(mr.age_evidence.py_func(self.evidence, bought, e.evidence_keep))
        self.suspicion = float(mr.age_evidence.py_func(self.suspicion, 0.0, e.suspicion_keep))
        self.bought[m.t] = bought
        self.bought.pop(m.t - m.ring_weeks, None)


class RefMerchant(mesa.Agent):
    """A firm: attributes, cash, perceived risk and its stores."""

    def __init__(self, model: ReferenceModel, origin: int, attrs: dict, born: int) -> None:
        super().__init__(model)
        self.origin, self.born, self.alive = origin, born, True
        for key in ("size", "quality", "price", "propensity", "extra_stores", "member"):
            setattr(self, key, attrs[key].item() if hasattr(attrs[key], "item") else attrs[key])
        self.omega = float(attrs["weight"]) / model.scale  # model-firm equivalents
        b = model.cfg.behaviour
        self.prop_eff = float(
            mr.effective_propensity(
                self.propensity, self.quality, b.reference_rating, b.reputation_weakness_slope
            )
        )
        P = model.P
        self.cash = 0.0
        self.risk = np.full(P, model.cfg.behaviour.initial_perceived_risk)
        self.loss_weeks = np.zeros(P, dtype=int)
        self.ever_banned = np.zeros(P, dtype=bool)
        self.profit = np.zeros(P)
        self.campaign_cost = np.zeros(P)
        self.hits = np.zeros(P)  # stores penalised this week
        self.exposure = np.zeros(P)  # live stores as enforcement began
        self.banned_now = np.zeros(P, dtype=bool)
        self.subsidised = False
        self.running_cost = 0.0
        self.stores: list[RefStore] = []
        self.peers: set[RefMerchant] = set()
        self.listed_last_week = np.zeros(P, dtype=bool)

    # -- views
    def listed(self) -> np.ndarray:
        out = np.zeros(self.model.P, dtype=bool)
        for s in self.stores:
            if s.live:
                out[s.platform] = True
        return out

    def n_live(self) -> np.ndarray:
        out = np.zeros(self.model.P)
        for s in self.stores:
            if s.live:
                out[s.platform] += 1
        return out

    def n_selling(self) -> np.ndarray:
        out = np.zeros(self.model.P, dtype=int)
        for s in self.stores:
            if s.selling:
                out[s.platform] += 1
        return out

    # -- phase 4
    def book(self) -> None:
        """Profit per platform, running cost, cash, loss streaks."""
        m, b = self.model, self.model.cfg.behaviour
        net_sales = np.zeros(m.P)
        for s in self.stores:
            if s.selling:
                net_sales[s.platform] += s.net_sales
        listed = self.listed_last_week
        cc = mr.channel_costs(listed[None, :], m.running_cost, b.channel_cost_exponent)[0]
        has = self.n_selling() > 0
        self.profit = np.where(
            has,
            mr.channel_profit(net_sales, cc, self.campaign_cost),
            mr.channel_profit(0.0, cc, 0.0),
        )
        self.running_cost = cc.sum() + (self.n_selling() * m.fixed_week).sum()
        self.cash += self.profit.sum()
        self.loss_weeks = np.where(listed & (self.profit < 0), self.loss_weeks + 1, 0)

    # -- phase 6
    def learn(self) -> None:
        """Perceived per-store penalty rates from own and peers' store-weeks."""
        m, b = self.model, self.model.cfg.behaviour
        ph, pe = np.zeros(m.P), np.zeros(m.P)
        w = b.peer_weight if self.member else 0.0
        if w > 0:
            for j in self.peers:
                ph += j.hits
                pe += j.exposure
        x = mr.pooled_penalty_rate(self.hits, self.exposure, ph, pe, w)
        self.risk = mr.update_risk(self.risk, x, b.risk_learning_rate)

    # -- phase 7 (and entry)
    def prospects(self, listed: np.ndarray, n_selling: np.ndarray) -> dict:
        """The numbers this firm weighs for each platform (the engine's ``_prospects``)."""
        m, b = self.model, self.model.cfg.behaviour
        prospective = np.where(n_selling > 0, n_selling, 1 + self.extra_stores)
        w_new = dr.store_weight(
            self.size,
            1,
            self.quality,
            self.price,
            b.rating_sensitivity_per_star,
            b.price_sensitivity,
            b.store_count_exponent,
        ) * np.power(prospective, b.store_count_exponent)
        w_cur = np.where(n_selling > 0, w_new, 0.0)
        others = m.platform_weight_total + m.joined_mass
        base = np.maximum(others - self.omega * w_cur, 0.0)
        est = mr.expected_sales(m.platform_demand, w_new, base, self.omega)
        prop = mr.effective_propensity(
            self.propensity, self.quality, b.reference_rating, b.reputation_weakness_slope
        )
        exposure = mr.risk_exposure.py_func(prop, b.collateral_risk_share)
        hazard = mr.penalty_hazard(mr.perceived_detection(self.risk, b.risk_salience), exposure)
        running = mr.marginal_channel_costs(
            listed[None, :], m.running_cost, b.channel_cost_exponent
        )[0]
        profit, loss, value = m.channel_values(est, self.price, prospective, running, hazard)
        return {
            "prospective": prospective,
            "w_new": w_new,
            "others": others,
            "est": est,
            "hazard": hazard,
            "running": running,
            "profit": profit,
            "value": value,
            "at_risk": float(mr.expected_enforcement_loss(hazard, loss, listed)),
        }

    def one_off(self, prospective):
        m, inc = self.model, self.model.cfg.incentives
        cost = m.onboarding * prospective
        cash_in = np.array([p.cfg.new_seller_subsidy_usd for p in m.platform_agents], float)
        gov = 0.0
        t = m.t
        if m.own_store >= 0 and m.subsidy_window[0] <= t <= m.subsidy_window[1]:
            if (
                self.origin == ORIGINS.index(inc.own_store_subsidy_origin)
                and self.size >= m.subsidy_min_size
                and not self.subsidised
            ):
                gov = inc.own_store_subsidy_usd
            cash_in[m.own_store] += gov
        return cost, cash_in, gov

    def join_value(self, pros, est, cost, cash_in, q=slice(None)):
        """``merchants.join_value`` on platform(s) ``q`` at expected sales ``est``."""
        m, b = self.model, self.model.cfg.behaviour
        willing = m.cfg.merchants.origins[ORIGINS[self.origin]].new_platform_propensity
        profit, _, value = m.channel_values(
            est, self.price, pros["prospective"][q], pros["running"][q], pros["hazard"][q], q
        )
        insurance = mr.insurance_value(profit, pros["at_risk"], b.reliance_aversion)
        gain = cash_in[q] + m.holiday[q] * m.referral[q] * est
        return mr.join_value(value, insurance, b.planning_horizon_weeks, willing, cost[q], gain)

    def join(
        self, p: int, n_new: int, cost: float, cash_in: float, gov: float, w_new, base
    ) -> None:
        """Join platform ``p``; split first when this firm is too large a share of it."""
        m = self.model
        k = pop.split_pieces(
            np.array([self.omega * m.scale]),
            np.array([self.omega * w_new]),
            float(base[p]),
            m.cfg.merchants.split_share,
        )[0]
        m.joined_mass[p] += self.omega * w_new
        pieces = [self, *self.split(int(k))] if k > 1 else [self]
        for f in pieces:
            f.open_on(p, n_new, cost, cash_in, gov)

    def split(self, k: int) -> list[RefMerchant]:
        """``k - 1`` copies of this firm (state and stores), each of weight ``omega / k``."""
        m = self.model
        self.omega /= k
        attrs = {key: getattr(self, key) for key in ("size", "quality", "price", "propensity")}
        attrs.update(extra_stores=self.extra_stores, member=self.member, weight=0.0)
        kids = []
        for _ in range(k - 1):
            c = RefMerchant(m, self.origin, attrs, self.born)
            for key in ("omega", "prop_eff", "cash", "subsidised", "running_cost", "alive"):
                setattr(c, key, getattr(self, key))
            for key in (
                "risk", "loss_weeks", "ever_banned", "profit", "campaign_cost", "hits",
                "exposure", "banned_now", "listed_last_week",
            ):  # fmt: skip
                setattr(c, key, getattr(self, key).copy())
            closed = [s for s in m.closed_with_funds if s.firm is self]
            for s in [*self.stores, *closed]:
                t = RefStore(m, c, s.platform, s.opened)
                for key in (
                    "status", "strikes", "suspended_until", "fee_holiday_until", "inflation",
                    "campaign", "fake_live", "evidence", "suspicion", "gmv", "net_sales",
                    "frozen", "release", "forfeit", "weight", "penalised_at", "frozen_at",
                ):  # fmt: skip
                    setattr(t, key, getattr(s, key))
                t.bought = dict(s.bought)
                if s.status == CLOSED:  # a closed store still holding funds
                    c.stores.remove(t)
                    m.closed_with_funds.append(t)
                    t.remove()
            c.peers = set(self.peers)  # the pieces inherit the firm's ties
            for j in self.peers:
                j.peers.add(c)
            if self in m.wired:
                m.wired.add(c)
            kids.append(c)
        if self.peers:
            m.set_degree_ratios()
        m.split += k - 1
        return kids

    def open_on(self, p: int, n_new: int, cost: float, cash_in: float, gov: float) -> None:
        m = self.model
        if p == m.own_store and gov > 0:
            self.subsidised = True
        self.cash += cash_in - cost
        new = [RefStore(m, self, p, m.t) for _ in range(n_new)]
        if (
            self.ever_banned[p]
            and m.rng_decisions.random() < m.enforcers[p].cfg.new_account_detection_probability
        ):
            for s in new:
                s.status = BANNED
            m.count_bans(self, len(new))

    def review(self) -> dict | None:
        """Phase 7, first part: decide whether to review; react to bans with a new account."""
        m, b, rng = self.model, self.model.cfg.behaviour, self.model.rng_decisions
        listed = self.listed()
        lost_to_ban = self.banned_now & ~listed
        if not (rng.random() < b.portfolio_review_probability_per_week or lost_to_ban.any()):
            return None
        pros = self.prospects(listed, self.n_selling())
        profit = pros["profit"]
        cur = listed.copy()
        for p in np.flatnonzero(lost_to_ban):  # (a) new account after a ban
            if rng.random() < b.new_account_attempt_probability and mr.new_account_worth_it.py_func(
                profit[p], b.planning_horizon_weeks, b.new_account_cost_usd, self.cash
            ):
                self.cash -= b.new_account_cost_usd
                s = RefStore(m, self, int(p), m.t)
                if rng.random() < m.enforcers[p].cfg.new_account_detection_probability:
                    s.status = BANNED
                    m.count_bans(self, 1)
                else:
                    cur[p] = True
        cost, cash_in, gov = self.one_off(pros["prospective"])
        launched = np.array([p.launched(m.t) for p in m.platform_agents])
        eligible = ~cur & launched & (self.cash + cash_in >= cost) & ~lost_to_ban
        return {
            "firm": self,
            "pros": pros,
            "listed": listed,
            "cur": cur,
            "eligible": eligible,
            "cost": cost,
            "cash_in": cash_in,
            "gov": gov,
            "u_vetting": rng.random(m.P),
        }

    def decide(self, plan: dict, base: np.ndarray) -> None:
        """Phase 7, second part: join (at the anticipated base), leave, exit."""
        m, b = self.model, self.model.cfg.behaviour
        pros, cur = plan["pros"], plan["cur"]
        # candidates (eligible, worth joining at the current base) are valued again at
        # the anticipated base
        j = self.join_value(pros, pros["est"], plan["cost"], plan["cash_in"])
        cand = plan["eligible"] & (j > 0)
        est = sales_at_anticipated(m, plan, base, self.omega)
        j = np.where(cand, self.join_value(pros, est, plan["cost"], plan["cash_in"]), j)
        wish = plan["eligible"] & (j > 0)
        join = best_only((wish & (plan["u_vetting"] < m.vetting))[None, :], j[None, :])[0]
        value, profit = pros["value"], pros["profit"]
        leave = mr.leave_decision(cur, value, self.loss_weeks, b.leave_threshold_weeks, profit)
        for s in list(self.stores):  # leaves first: a joiner split into pieces leaves with all
            if s.live and leave[s.platform]:
                s.close()
        for p in np.flatnonzero(join):
            self.join(
                int(p),
                int(pros["prospective"][p]),
                plan["cost"][p],
                plan["cash_in"][p],
                plan["gov"],
                pros["w_new"][p],
                base,
            )
        if not self.listed().any() and not wish.any():
            self.exit()

    def exit(self) -> None:
        """Leave the market: every store closed (funds still held are forfeited)."""
        for s in list(self.stores):
            s.close()
        self.alive = False
        self.remove()


def anticipated_bases(model: ReferenceModel, plans: list[dict]) -> np.ndarray:
    """``merchants.anticipated_base`` over the candidates of this week's plans."""
    pairs = []
    for plan in plans:
        f, pros = plan["firm"], plan["pros"]
        j0 = f.join_value(pros, pros["est"], plan["cost"], plan["cash_in"])
        cand = plan["eligible"] & (j0 > 0)
        # expected mass: the chance that the firm picks each candidate, times its weight
        chance = mr.choice_probability(cand[None, :], j0[None, :], model.vetting)[0]
        plan["mass"] = chance * f.omega * pros["w_new"]
        for q in np.flatnonzero(cand):
            pairs.append((plan, int(q)))
    start = np.asarray(model.platform_weight_total + model.joined_mass, dtype=float)
    if not pairs:
        return start
    pq = np.array([q for _, q in pairs])
    mass = np.array([p["mass"][q] for p, q in pairs])

    def joins_at(base):
        out = np.zeros(len(pairs), dtype=bool)
        for k, (plan, q) in enumerate(pairs):
            f, pros = plan["firm"], plan["pros"]
            others = max(base[q] - plan["mass"][q], start[q])  # its own stores counted once
            est = mr.expected_sales(model.platform_demand[q], pros["w_new"][q], others, f.omega)
            out[k] = f.join_value(pros, est, plan["cost"], plan["cash_in"], q) > 0
        return out

    return bisect_base(start, pq, mass, joins_at)


def sales_at_anticipated(model, plan: dict, base: np.ndarray, omega: float) -> np.ndarray:
    """Expected sales of a plan's firm on each platform at the anticipated ``base``."""
    pros = plan["pros"]
    others = np.maximum(base - plan.get("mass", 0.0), pros["others"])
    return mr.expected_sales(model.platform_demand, pros["w_new"], others, omega)


def bisect_base(base, pair_platform, pair_mass, joins_at, iterations: int = 40):
    """The definition of ``merchants.anticipated_base``, by plain bisection in numpy.

    The smallest ``W >= W_q`` with ``W_q + sum_{pairs joining at W} mass <= W`` per
    platform; ``joins_at(W)`` gives each candidate pair's decision at bases ``W``.
    Written independently of the engine's compiled kernel (same definition,
    a fixed number of halvings instead of its relative stopping rule).
    """
    P = base.size
    lo = np.asarray(base, dtype=np.float64).copy()
    hi = lo + np.bincount(pair_platform, weights=pair_mass, minlength=P)
    mass0 = np.bincount(pair_platform, weights=pair_mass * joins_at(lo), minlength=P)
    hi = np.where(mass0 > 0, hi, lo)  # nobody joins at the current base: nothing to anticipate
    for _ in range(iterations):
        open_ = hi > lo
        if not open_.any():
            break
        mid = np.where(open_, 0.5 * (lo + hi), hi)
        mass = np.bincount(pair_platform, weights=pair_mass * joins_at(mid), minlength=P)
        ok = base + mass <= mid
        hi = np.where(open_ & ok, mid, hi)
        lo = np.where(open_ & ~ok, mid, lo)
    return hi


class RefEnforcer:
    """One platform's enforcement, store by store (the rules of ``EnforcementPolicy``)."""

    def __init__(self, model: ReferenceModel, p: int, cfg: EnforcementConfig, cal: Calendar):
        self.model, self.p, self.cfg = model, p, cfg
        self.start = cal.first_step_on_or_after(cfg.start_date)
        self.lag = days_to_weeks(cfg.review_deletion_lag_days)
        self.hold = days_to_weeks(cfg.fund_hold_days)
        self.evidence_keep = er.retention(cfg.evidence_half_life_weeks)
        self.suspicion_keep = er.retention(cfg.suspicion_half_life_weeks)
        self.forfeit_share = er.expected_forfeit_share(cfg)
        self.level = 0.0

    def step(self) -> None:
        m, c, p, t, rng = self.model, self.cfg, self.p, self.model.t, self.model.rng_enforcement
        self.level = er.intensity(
            t, self.start, c.baseline_intensity, c.ramp_weeks, c.escalation_per_year
        )
        stores = [s for s in m.all_stores() if s.platform == p]
        if c.review_deletion_rate > 0 and self.level > 0 and t >= self.lag:
            for s in stores:
                old = s.bought.get(t - self.lag, 0.0)
                if old > 0 and s.status in (ACTIVE, WARNED, SUSPENDED):
                    deleted = min(float(np.float32(old)) * c.review_deletion_rate, s.fake_live)
                    s.fake_live -= deleted
                    s.suspicion += deleted  # the evidence stays: the platform keeps it
                    if s.fake_live < 1e-9:
                        s.fake_live = 0.0
        banned = []
        for s in stores:  # suspensions ending
            if s.status == SUSPENDED and s.suspended_until <= t:
                if rng.random() < c.reinstatement_probability:
                    s.status = ACTIVE
                else:
                    self.ban(s, rng)
                    banned.append(s)
        live = [s for s in stores if s.selling]
        if live and c.audit_probability_per_week > 0 and self.level > 0:
            suspicious = np.array(
                [
                    er.suspicion_share.py_func(s.suspicion, c.suspicion_half_saturation_reviews)
                    for s in live
                ]
            )
            degree = np.array([m.degree_ratio.get(s.firm, 0.0) for s in live])
            omega = np.array([s.firm.omega for s in live])
            prob = er.audit_probabilities(
                c.audit_probability_per_week,
                self.level,
                suspicious,
                degree,
                c.targeting,
                c.targeting_strength,
                c.hub_targeting,
                omega,
            )
            for s, a in zip(live, prob, strict=True):
                audited = rng.random() < a
                found = er.detection_probability.py_func(
                    s.evidence,
                    c.true_positive_rate,
                    c.false_positive_rate,
                    c.evidence_half_saturation_reviews,
                )
                if not (audited and rng.random() < found):
                    continue
                s.suspicion += s.fake_live
                s.fake_live = s.inflation = s.evidence = 0.0
                s.strikes += 1
                code = er.penalty_for_strike(np.array([s.strikes]), c.penalty_ladder)[0]
                if code == WARNED:
                    s.status = WARNED
                    self.penalise(s)
                elif code == SUSPENDED:
                    self.suspend(s)
                else:
                    self.ban(s, rng)
                    banned.append(s)
        if banned and c.related_account_sweep_probability > 0:
            firms = {s.firm for s in banned}
            for s in stores:
                if (
                    s.live
                    and s.firm in firms
                    and rng.random() < c.related_account_sweep_probability
                ):
                    self.ban(s, rng)
        if banned and c.false_link_probability > 0:
            pool = [s for s in stores if s.selling]
            if pool:
                real_bans = sum(s.firm.omega for s in banned)
                real_pool = sum(s.firm.omega for s in pool)
                chance = er.false_link_chance.py_func(
                    c.false_link_probability, real_bans, real_pool
                )
                for s in pool:
                    if rng.random() < chance:
                        self.suspend(s)

    def penalise(self, s: RefStore) -> None:
        if s.penalised_at != self.model.t + 1:
            s.penalised_at = self.model.t + 1
            s.firm.hits[self.p] += 1

    def freeze(self, s: RefStore, forfeit: bool) -> None:
        m = self.model
        if s.frozen_at != m.t + 1:
            payout = er.payout_balance(s.gmv, s.net_sales, m.cfg.merchants.gross_margin_rate)
            amount = float(er.hold_amount(self.cfg.held_weeks_of_sales, payout))
            s.firm.cash -= amount
            s.frozen += amount
        s.frozen_at = m.t + 1
        s.release = m.t + self.hold
        s.forfeit |= forfeit

    def suspend(self, s: RefStore) -> None:
        s.status = SUSPENDED
        s.suspended_until = self.model.t + max(1, round(self.cfg.suspension_weeks))
        self.freeze(s, False)
        self.penalise(s)

    def ban(self, s: RefStore, rng) -> None:
        s.status = BANNED
        self.freeze(s, rng.random() < self.cfg.forfeit_on_ban_probability)
        self.penalise(s)
        s.firm.banned_now[self.p] = True
        s.firm.ever_banned[self.p] = True
        self.model.count_bans(s.firm, 1)


class ReferenceModel(mesa.Model):
    """Per-agent version of :class:`sim.core.model.MarketModel` (same config, same schedule)."""

    def __init__(self, config: SimConfig, rng: int | None = None) -> None:
        cfg = validate(config)
        streams = make_streams((cfg.seed if rng is None else rng) + 7919, cfg.replicate)
        super().__init__(rng=streams["mesa"])
        self.cfg = cfg
        self.rng_demand, self.rng_enforcement = streams["demand"], streams["enforcement"]
        self.rng_decisions, self.rng_entry = streams["decisions"], streams["entry"]
        self.rng_network = streams["network"]
        self.calendar = Calendar(cfg)
        self.n_steps, self.t = self.calendar.n_steps, -1
        self.platform_agents = [
            Platform(self, i, pc, self.calendar) for i, pc in enumerate(cfg.platforms.values())
        ]
        self.P = len(self.platform_agents)
        self.platform_names = [p.name for p in self.platform_agents]
        self.enforcers = [
            RefEnforcer(self, i, cfg.policy.enforcement.get(n, EnforcementConfig()), self.calendar)
            for i, n in enumerate(self.platform_names)
        ]
        self.ring_weeks = max(e.lag for e in self.enforcers) + 1
        b = cfg.behaviour
        self.lift = math.exp(b.rating_sensitivity_per_star * b.fake_rating_gain_stars) - 1.0
        self.margin = np.zeros(self.P)
        pa = self.platform_agents
        self.fixed_week = np.array([p.fixed_fee_per_week for p in pa])
        self.per_order = np.array([p.cfg.per_order_fee_usd for p in pa])
        self.running_cost = np.array([p.cfg.running_cost_per_week_usd for p in pa])
        self.onboarding = np.array([p.cfg.onboarding_cost_usd for p in pa])
        self.fulfilment = np.array([p.cfg.fulfilment_ads_rate for p in pa])
        self.holiday = np.array([p.cfg.new_seller_fee_holiday_weeks for p in pa])
        self.vetting = np.array([p.cfg.vetting_pass_probability for p in pa])
        self.referral = np.array([p.referral_rate for p in pa])
        inert = er.EnforcementPolicy.inert_terms()
        self.held_weeks = np.full(self.P, inert[0])
        self.forfeit_share = np.full(self.P, inert[1])
        inc = cfg.incentives
        self.own_store = (
            self.platform_names.index(inc.own_store_platform)
            if inc.own_store_platform in self.platform_names
            else -1
        )
        self.subsidy_window = (
            self.calendar.first_step_on_or_after(inc.own_store_subsidy_start),
            self.calendar.last_step_on_or_before(inc.own_store_subsidy_end),
        )
        self.n0 = cfg.merchants.count
        shares = [cfg.merchants.origins[o].share for o in ORIGINS]
        self.n0_by_origin = _split_count(self.n0, shares)
        self.scale = cfg.merchants.scale
        self.designs = [
            pop.Design.solve(
                cfg.merchants.real_firms * shares[o],
                self.n0_by_origin[o],
                cfg.merchants.origins[name].size_pareto_alpha,
                cfg.merchants.origins[name].size_max,
                cfg.merchants.sampling_tail_share,
            )
            for o, name in enumerate(ORIGINS)
        ]
        self.member_coef = [0.0, 0.0]
        known = np.array([KNOWN_PLATFORMS.index(n) for n in self.platform_names])
        sizes, weights = [], []
        for o, name in enumerate(ORIGINS):
            oc = cfg.merchants.origins[name]
            attrs = mr.draw_attributes(
                oc,
                self.n0_by_origin[o],
                streams[f"population_{name}"],
                len(KNOWN_PLATFORMS),
                self.designs[o],
                initial=True,
            )
            self.member_coef[o] = pop.member_coefficient(
                attrs["size"], attrs["weight"], oc.association_members
            )
            attrs = pop.split_members(
                attrs,
                pop.member_probability(attrs["size"], self.member_coef[o]),
                cfg.merchants.member_row_max_firms,
            )
            prob = np.array(
                [oc.initial_listing_probability.get(n, 0.0) for n in self.platform_names]
            )
            listing = (attrs.pop("u_listing")[:, known] < prob) & np.array(
                [p.launched(0) for p in pa]
            )
            for i in range(attrs["size"].size):
                f = self._new_firm(o, {k: v[i] for k, v in attrs.items()}, born=-1)
                for p in np.flatnonzero(listing[i]):
                    for _ in range(1 + int(f.extra_stores)):
                        RefStore(self, f, int(p), -1)
            sizes.append(attrs["size"])
            weights.append(attrs["weight"])
        self.subsidy_min_size = pop.weighted_quantile(
            np.concatenate(sizes), np.concatenate(weights), inc.own_store_subsidy_min_size_quantile
        )
        self.wired: set[RefMerchant] = set()
        self.degree_ratio: dict[RefMerchant, float] = {}
        self.rewire()
        for f in self.merchants():
            f.listed_last_week = f.listed()
        self.listed_count = self._listed_count()
        self.platform_weight_total = np.zeros(self.P)
        self.platform_demand = np.zeros(self.P)
        self.joined_mass = np.zeros(self.P)
        self.closed_with_funds: list[RefStore] = []
        self.merchant_steps = 0
        self.split = 0  # firms split off joiners (population.split_pieces)
        self.banned_recorded = 0.0
        self.weekly: dict[int, dict] = {}

    # ------------------------------------------------------------- helpers
    def _new_firm(self, origin: int, attrs: dict, born: int) -> RefMerchant:
        f = RefMerchant(self, origin, attrs, born)
        oc = self.cfg.merchants.origins[ORIGINS[origin]]
        f.cash = float(
            mr.initial_cash(np.array([f.size]), oc, self.cfg.demand.gmv_per_firm_per_week_usd)[0]
        )
        return f

    def channel_values(self, est, price, n_stores, running, hazard, q=slice(None)):
        """Expected profit, loss if penalised and value (the engine: ``kernels.prospects``)."""
        b = self.cfg.behaviour
        profit = mr.expected_weekly_profit(
            est, price, n_stores, self.margin[q], self.fixed_week[q], self.per_order[q], running
        )
        payout = mr.expected_payout(
            est,
            price,
            n_stores,
            self.referral[q],
            self.fulfilment[q],
            self.per_order[q],
            self.fixed_week[q],
        )
        loss = mr.penalty_loss(
            profit,
            payout,
            n_stores,
            b.sanction_weeks_of_profit,
            self.held_weeks[q],
            self.forfeit_share[q],
            self.onboarding[q],
        )
        return profit, loss, mr.risk_adjusted_value(profit, hazard, loss)

    def merchants(self) -> list[RefMerchant]:
        return list(self.agents_by_type.get(RefMerchant, []))

    def all_stores(self) -> list[RefStore]:
        return [s for f in self.merchants() for s in f.stores]

    def count_bans(self, firm: RefMerchant, k: int) -> None:
        if self.t >= self.calendar.spinup:
            self.banned_recorded += k * firm.omega

    def _listed_count(self) -> np.ndarray:
        firms = self.merchants()
        if not firms:
            return np.zeros(self.P)
        return np.sum([f.omega * f.listed() for f in firms], axis=0).astype(float)

    def rewire(self) -> None:
        """Chung-Lu ties among members (all at start; entrants every few weeks)."""
        cfg = self.cfg.network
        members = [f for f in self.merchants() if f.member]
        old = [f for f in members if f in self.wired]
        new = [f for f in members if f not in self.wired]
        if cfg.topology != "none" and cfg.mean_degree > 0 and new:
            pool = old + new
            w = net.tie_weights(np.array([f.size for f in pool]), cfg)
            k = round(len(new) * cfg.mean_degree / 2)
            edges = net.draw_edges(
                np.arange(len(old), len(pool)),
                np.arange(len(pool)),
                w,
                k,
                self.rng_network,
                new_weight=w if not old else None,
            )
            for a, b in edges:
                pool[a].peers.add(pool[b])
                pool[b].peers.add(pool[a])
        self.wired.update(members)
        self.set_degree_ratios()

    def set_degree_ratios(self) -> None:
        """Each firm's degree over the mean degree of the alive members."""
        members = [f for f in self.merchants() if f.member]
        deg = {f: len(f.peers) for f in members}
        mean = np.mean(list(deg.values())) if deg else 0.0
        self.degree_ratio = {f: len(f.peers) / mean for f in self.merchants() if mean > 0}

    # ---------------------------------------------------------------- step
    def step(self) -> None:
        """The weekly schedule of ``MarketModel.step``."""
        self.t = self.steps - 1
        firms = self.agents_by_type[RefMerchant]
        gm = self.cfg.merchants.gross_margin_rate
        for p in self.platform_agents:  # 0. fees
            p.set_fees(self.t)
            self.margin[p.index] = max(0.0, p.margin_rate(gm))
            self.referral[p.index] = p.referral_rate
        self.joined_mass[:] = 0.0
        for f in firms:
            f.hits[:] = 0.0
            f.banned_now[:] = False
            f.campaign_cost[:] = 0.0
        self.agents_by_type[RefStore].do("step")  # 1. campaigns
        for p in self.platform_agents:  # 2. trust and appeal
            p.step()
        self.demand()  # 3. demand
        firms.do("book")  # 4. accounts
        for f in firms:  # exposure: live stores as enforcement begins
            f.exposure = f.n_live()
        for e in self.enforcers:  # 5. enforcement, hold terms in force, funds due
            e.step()
        inert = er.EnforcementPolicy.inert_terms()
        for i, e in enumerate(self.enforcers):
            on = e.level > 0
            self.held_weeks[i] = e.cfg.held_weeks_of_sales if on else inert[0]
            self.forfeit_share[i] = e.forfeit_share if on else inert[1]
        self.release_funds()
        firms.do("learn")  # 6. risk learning
        plans = [p for p in (f.review() for f in firms.shuffle()) if p]  # 7. portfolio
        base = anticipated_bases(self, plans)
        for plan in plans:
            plan["firm"].decide(plan, base)
        self.entry_and_exit()  # 8.
        self.record()  # 9.

    def demand(self) -> None:
        cfg, b = self.cfg, self.cfg.behaviour
        weights = np.array([p.weight for p in self.platform_agents])
        growth = dr.demand_growth(
            cfg.demand.growth_per_year, self.calendar.years_since_start(self.t)
        )
        total = dr.total_demand(self.n0, cfg.demand.gmv_per_firm_per_week_usd, growth)
        noise = dr.demand_noise(self.rng_demand.standard_normal(self.P), cfg.demand.noise_sd)
        d = split_demand(total, weights, noise)
        self.platform_demand = d
        for p in self.platform_agents:
            p.demand = float(d[p.index])
        stores = self.all_stores()
        totals, num, den = np.zeros(self.P), np.zeros(self.P), np.zeros(self.P)
        for f in self.merchants():
            n_sel = f.n_selling()
            for s in f.stores:
                s.gmv = s.net_sales = 0.0
                if s.selling:
                    s.weight = float(
                        dr.store_weight.py_func(
                            f.size,
                            n_sel[s.platform],
                            f.quality + s.inflation,
                            f.price,
                            b.rating_sensitivity_per_star,
                            b.price_sensitivity,
                            b.store_count_exponent,
                        )
                    )
                    totals[s.platform] += f.omega * s.weight
        self.platform_weight_total = totals
        for s in stores:
            if not s.selling:
                continue
            p, plat = s.platform, self.platform_agents[s.platform]
            s.gmv = float(dr.allocate_sales.py_func(d[p], s.weight, totals[p]))
            fees = pl.store_fees.py_func(
                s.gmv,
                plat.referral_rate,
                s.fee_holiday_until > self.t,
                plat.cfg.fulfilment_ads_rate,
                self.per_order[p],
                s.firm.price,
                self.fixed_week[p],
            )
            s.net_sales = float(pl.net_sales.py_func(s.gmv, cfg.merchants.gross_margin_rate, fees))
            om = s.firm.omega
            num[p] += om * s.gmv * s.inflation / max(b.fake_rating_gain_stars, 1e-12)
            den[p] += om * s.gmv
        for p in self.platform_agents:
            p.prevalence = num[p.index] / den[p.index] if den[p.index] > 0 else 0.0

    def release_funds(self) -> None:
        for s in [*self.all_stores(), *self.closed_with_funds]:
            if s.frozen > 0 and s.release <= self.t:
                if not s.forfeit and s.firm.alive:
                    s.firm.cash += s.frozen
                s.frozen, s.forfeit = 0.0, False
        self.closed_with_funds = [s for s in self.closed_with_funds if s.frozen > 0]

    def entry_and_exit(self) -> None:
        cfg = self.cfg
        for f in self.merchants():
            broke = mr.bankrupt.py_func(f.cash, cfg.merchants.bankruptcy_cash_weeks, f.running_cost)
            if self.rng_entry.random() < cfg.merchants.exit_hazard_per_week or broke:
                f.exit()
        growth = dr.demand_growth(
            cfg.demand.growth_per_year, self.calendar.years_since_start(self.t)
        )
        for o, name in enumerate(ORIGINS):
            oc = cfg.merchants.origins[name]
            k = int(self.rng_entry.poisson(oc.entry_rate_per_week * self.n0_by_origin[o] * growth))
            if k == 0:
                continue
            attrs = mr.draw_attributes(
                oc, k, self.rng_entry, len(KNOWN_PLATFORMS), self.designs[o], initial=False
            )
            attrs.pop("u_listing")
            attrs = pop.split_members(
                attrs,
                pop.member_probability(attrs["size"], self.member_coef[o]),
                cfg.merchants.member_row_max_firms,
            )
            alive = self.merchants()
            if alive:
                w = np.array([f.omega for f in alive])
                risk = (w[:, None] * np.array([f.risk for f in alive])).sum(axis=0) / w.sum()
            else:
                risk = None
            plans = []
            candidates = []
            for i in range(attrs["size"].size):
                f = self._new_firm(o, {key: v[i] for key, v in attrs.items()}, born=self.t)
                if risk is not None:
                    f.risk = risk.copy()
                candidates.append(f)
                none = np.zeros(self.P, dtype=bool)
                pros = f.prospects(none, np.zeros(self.P, dtype=int))
                cost, cash_in, gov = f.one_off(pros["prospective"])
                launched = np.array([p.launched(self.t) for p in self.platform_agents])
                plans.append(
                    {
                        "firm": f,
                        "pros": pros,
                        "listed": none,
                        "cur": none,
                        "eligible": launched & (f.cash + cash_in >= cost),
                        "cost": cost,
                        "cash_in": cash_in,
                        "gov": gov,
                        "u_vetting": self.rng_entry.random(self.P),
                    }
                )
            base = anticipated_bases(self, plans)
            for plan in plans:
                f, pros = plan["firm"], plan["pros"]
                j = f.join_value(pros, pros["est"], plan["cost"], plan["cash_in"])
                cand = plan["eligible"] & (j > 0)
                est = sales_at_anticipated(self, plan, base, f.omega)
                j = np.where(cand, f.join_value(pros, est, plan["cost"], plan["cash_in"]), j)
                ok = plan["eligible"] & (j > 0) & (plan["u_vetting"] < self.vetting)
                join = best_only(ok[None, :], j[None, :])[0]
                if not join.any():
                    f.alive = False
                    f.remove()  # a candidate that joins nothing never enters
                    continue
                p = int(np.flatnonzero(join)[0])
                f.join(
                    p,
                    int(pros["prospective"][p]),
                    plan["cost"][p],
                    plan["cash_in"][p],
                    plan["gov"],
                    pros["w_new"][p],
                    base,
                )
        if self.t % cfg.network.rewire_every_weeks == 0:
            self.rewire()

    def record(self) -> None:
        firms = self.merchants()
        listed = np.array([f.listed() for f in firms]).reshape(-1, self.P)
        for f, row in zip(firms, listed, strict=True):
            f.listed_last_week = row
        omega = np.array([f.omega for f in firms])
        self.listed_count = (omega[:, None] * listed).sum(axis=0)
        self.merchant_steps += len(firms)
        origin = np.array([f.origin for f in firms], dtype=int)
        k = listed.sum(axis=1)
        amazon = self.platform_names.index("amazon") if "amazon" in self.platform_names else -1
        stores = [s for f in firms for s in f.stores if s.platform == amazon]
        active = sum(s.firm.omega for s in stores if s.selling)
        grey = sum(s.firm.omega for s in stores if s.selling and s.campaign)
        cn = origin == 0
        self.weekly[self.t] = {
            "amazon_cn": float((omega * listed[:, amazon])[cn].sum()) if amazon >= 0 else 0.0,
            "amazon_all": float((omega * listed[:, amazon]).sum()) if amazon >= 0 else 0.0,
            "grey_amazon": grey / active if active else math.nan,
            "multi_cn": float(omega[(k >= 2) & cn].sum()),
            "listed_cn": float(omega[(k > 0) & cn].sum()),
        }

    @property
    def running(self) -> bool:
        return self.t + 1 < self.n_steps

    @running.setter
    def running(self, value) -> None:
        pass  # mesa.Model sets it; the horizon decides

    def run(self) -> ReferenceModel:
        while self.running:
            self.step()
        return self

    def summary(self) -> dict[str, float]:
        """The outcomes the equivalence test compares (names as in the engine's summary)."""
        end21 = self.calendar.last_step_on_or_before("2021-12-31")
        w = self.weekly.get(end21)

        def share(a: float, b: float) -> float:
            return a / b if b > 0 else math.nan

        return {
            "cn_share_of_amazon_sellers_end_2021": share(w["amazon_cn"], w["amazon_all"]),
            "grey_share_amazon_end_2021": w["grey_amazon"],
            "multihoming_share_CN_end_2021": share(w["multi_cn"], w["listed_cn"]),
            "stores_banned": self.banned_recorded,
        }
