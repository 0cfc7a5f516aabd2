"""MarketModel: cross-border merchants moving between platforms under enforcement.

An agent-based model of the 2021 Amazon crackdown on review manipulation and
the migration of (mostly Shenzhen-based) sellers to other channels; see
docs/ODD.md for the full description (Grimm et al. 2020 ODD protocol) and
``../shared/domain.md`` for the facts it rests on.

Merchants are Mesa agents whose numeric state lives in columnar arrays
(``model.firms``, ``model.stores``); every rule over all merchants is
vectorised. Platforms and enforcement policies are Mesa agents with their own
``step``. The weekly schedule is spelled out in :meth:`MarketModel.step`.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from . import demand as demand_rules
from . import merchants as mr
from . import network as net
from .calendar import Calendar
from .config import KNOWN_PLATFORMS, ORIGINS, EnforcementConfig, SimConfig, validate
from .enforcement import CAUSE, CAUSES, EnforcementPolicy
from .metrics import Recorder, grey_share
from .platforms import Platform, split_demand
from .state import (
    ACTIVE,
    BANNED,
    CLOSED,
    SUSPENDED,
    WARNED,
    count_by_pair,
    firm_columns,
    store_columns,
)
from .streams import make_streams

NONE = "none"


def default_config() -> SimConfig:
    """The default preset (crackdown_2021, six platforms) without Hydra."""
    from .presets import default_sim_config

    return default_sim_config()


class MarketModel(mesa.Model):
    """Weekly model of merchants, platforms and enforcement.

    Args:
        config: a validated :class:`SimConfig`; None means the default preset.
        rng: None to seed from ``config.seed`` and ``config.replicate``; an
            int to use as the root seed instead of ``config.seed``.
    """

    def __init__(self, config: SimConfig | None = None, rng: int | None = None) -> None:
        cfg = validate(config if config is not None else default_config())
        seed = cfg.seed if rng is None else int(rng)
        streams = make_streams(seed, cfg.replicate)
        super().__init__(rng=streams["mesa"])
        self.cfg = cfg
        self.rng_network = streams["network"]
        self.rng_demand = streams["demand"]
        self.rng_enforcement = streams["enforcement"]
        self.rng_decisions = streams["decisions"]
        self.rng_entry = streams["entry"]

        self.calendar = Calendar(cfg)
        self.n_steps = self.calendar.n_steps
        self.t = -1  # current week (0-based); -1 before the first step
        self.platform_agents: list[Platform] = [
            Platform(self, i, pc, self.calendar) for i, pc in enumerate(cfg.platforms.values())
        ]
        self.P = len(self.platform_agents)
        self.platform_names = [p.name for p in self.platform_agents]
        self.known_index = np.array([KNOWN_PLATFORMS.index(n) for n in self.platform_names])
        self.enforcers: list[EnforcementPolicy] = [
            EnforcementPolicy(
                self, i, cfg.policy.enforcement.get(name, EnforcementConfig()), self.calendar
            )
            for i, name in enumerate(self.platform_names)
        ]
        self.ring_weeks = max(e.lag_weeks for e in self.enforcers) + 1
        self.held_weeks = np.array([e.cfg.held_weeks_of_sales for e in self.enforcers])

        b, d = cfg.behaviour, cfg.demand
        self.lift = math.exp(b.rating_sensitivity_per_star * b.fake_rating_gain_stars) - 1.0
        self.margin = np.zeros(self.P)
        self.fixed_week = np.array([p.fixed_fee_per_week for p in self.platform_agents])
        self.per_order = np.array([p.cfg.per_order_fee_usd for p in self.platform_agents])
        self.running = True
        self.running_cost = np.array(
            [p.cfg.running_cost_per_week_usd for p in self.platform_agents]
        )
        self.onboarding = np.array([p.cfg.onboarding_cost_usd for p in self.platform_agents])
        self.own_store = (
            self.platform_names.index(cfg.incentives.own_store_platform)
            if cfg.incentives.own_store_platform in self.platform_names
            else -1
        )
        self.subsidy_window = (
            self.calendar.first_step_on_or_after(cfg.incentives.own_store_subsidy_start),
            self.calendar.last_step_on_or_before(cfg.incentives.own_store_subsidy_end),
        )

        # ------------------------------------------------------- population
        n0 = cfg.merchants.count
        self.n0 = n0
        counts = _split_count(n0, [cfg.merchants.origins[o].share for o in ORIGINS])
        self.n0_by_origin = counts
        self.firms = firm_columns(self.P, n0 + 16)
        self.stores = store_columns(self.ring_weeks, int(n0 * 1.5) + 16)
        self.stores_opened = 0
        self.agent_of_row: dict[int, Merchant] = {}
        self.listed = np.zeros((0, self.P), dtype=bool)
        self._alloc_week_buffers()
        sizes = []
        for o, name in enumerate(ORIGINS):
            # one stream per origin: changing the mix leaves the other origin's draws alone
            attrs = mr.draw_attributes(
                cfg.merchants.origins[name],
                counts[o],
                streams[f"population_{name}"],
                len(KNOWN_PLATFORMS),
            )
            oc = cfg.merchants.origins[name]
            prob = np.array(
                [oc.initial_listing_probability.get(n, 0.0) for n in self.platform_names]
            )
            u = attrs.pop("u_listing")[:, self.known_index]
            launched = np.array([p.launched(0) for p in self.platform_agents])
            listing = (u < prob) & launched
            rows = self._add_firms(o, attrs, born=-1)
            self._make_agents(np.arange(rows.start, rows.stop))
            cash_scale = d.gmv_per_firm_per_week_usd / mr.expected_size(oc.size_pareto_alpha)
            self.firms.cash[rows] = (
                oc.capital_weeks_of_sales * cash_scale * attrs["size"] * mr.CASH_MARGIN
            )
            for p in range(self.P):
                on = np.arange(rows.start, rows.stop)[listing[:, p]]
                self._open_stores(
                    on, p, 1 + self.firms.extra_stores[on].astype(np.int64), opened=-1
                )
            sizes.append(attrs["size"])
        all_sizes = np.concatenate(sizes) if sizes else np.zeros(0)
        self.subsidy_min_size = (
            float(np.quantile(all_sizes, cfg.incentives.own_store_subsidy_min_size_quantile))
            if all_sizes.size
            else math.inf
        )
        self.firms.risk[: self.firms.n] = b.initial_perceived_risk

        # ----------------------------------------------------------- network
        self.edges = np.empty((0, 2), dtype=np.int64)
        self._wired = 0
        self._rewire()

        self.listed = self._listed_now()
        self.listed_count = self.listed.sum(axis=0).astype(np.float64)
        self.platform_weight_total = np.zeros(self.P)
        self.recorder = Recorder(self.n_steps, self.P)
        # per week and origin: alive firms, listed anywhere, on 2+ platforms, platform memberships
        self.firm_stats = np.zeros((self.n_steps, 2, 4))
        self.merchant_steps = 0
        self.store_steps = 0
        self.flow_rows: list[tuple[int, int, int, int, int, float]] = []
        self.entered = 0
        self.exited = 0

    # ------------------------------------------------------------------ setup

    def _alloc_week_buffers(self) -> None:
        n = self.firms.capacity
        self.penalised = np.zeros((n, self.P), dtype=bool)
        self.banned_now = np.zeros((n, self.P), dtype=bool)
        self.loss_cause = np.full((n, self.P), CAUSE["voluntary"], dtype=np.int8)
        self.gain_cause = np.full((n, self.P), CAUSE["join"], dtype=np.int8)
        self.degree_ratio = np.zeros(n)
        self.audit_cost = np.zeros(self.P)

    def _add_firms(self, origin: int, attrs: dict[str, np.ndarray], born: int) -> slice:
        k = attrs["size"].shape[0]
        cap = self.firms.capacity
        rows = self.firms.append(k)
        if self.firms.capacity != cap:
            self._grow_week_buffers()
        f = self.firms
        f.alive[rows] = True
        f.origin[rows] = origin
        for key in ("size", "quality", "price", "propensity", "extra_stores", "member"):
            getattr(f, key)[rows] = attrs[key]
        f.born[rows] = born
        return rows

    def _make_agents(self, rows: np.ndarray) -> None:
        """Create the Mesa ``Merchant`` views of new firm rows (row order)."""
        for r in rows:
            self.agent_of_row[int(r)] = mr.Merchant(self, int(r))

    def _grow_week_buffers(self) -> None:
        old = (self.penalised, self.banned_now, self.loss_cause, self.gain_cause, self.degree_ratio)
        listed = self.listed
        self._alloc_week_buffers()
        for new, prev in zip(
            (self.penalised, self.banned_now, self.loss_cause, self.gain_cause, self.degree_ratio),
            old,
            strict=True,
        ):
            new[: prev.shape[0]] = prev
        self.listed = np.zeros((self.firms.capacity, self.P), dtype=bool)
        self.listed[: listed.shape[0]] = listed
        if hasattr(self, "adj"):
            self.adj.resize((self.firms.capacity, self.firms.capacity))

    def _open_stores(
        self, firms: np.ndarray, p: int, n_each: np.ndarray, opened: int
    ) -> np.ndarray:
        """Open ``n_each[i]`` active stores for ``firms[i]`` on platform ``p``."""
        firms = np.asarray(firms, dtype=np.int64)
        n_each = np.broadcast_to(np.asarray(n_each, dtype=np.int64), firms.shape)
        total = int(n_each.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        sl = self.stores.append(total)
        self.stores_opened += total
        st = self.stores
        st.firm[sl] = np.repeat(firms, n_each)
        st.platform[sl] = p
        st.status[sl] = ACTIVE
        st.opened[sl] = opened
        holiday = self.platform_agents[p].cfg.new_seller_fee_holiday_weeks
        # a store first sells the week after it opens: weeks opened+1 .. opened+H are fee-free
        st.fee_holiday_until[sl] = opened + round(holiday) + 1 if opened >= 0 else -1
        return np.arange(sl.start, sl.stop)

    def _rewire(self) -> None:
        """Wire members not yet in the network (all at start; entrants periodically)."""
        cfg = self.cfg.network
        f = self.firms
        n = f.n
        members = np.flatnonzero(f.alive[:n] & f.member[:n])
        new = members[members >= self._wired]
        old = members[members < self._wired]
        weights_old = net.tie_weights(f.size[old], cfg)
        if cfg.topology != "none" and cfg.mean_degree > 0 and new.size:
            # the first wiring draws both ends by weight; entrants attach to everyone
            pool = np.concatenate([old, new])
            w = np.concatenate([weights_old, net.tie_weights(f.size[new], cfg)])
            k = round(new.size * cfg.mean_degree / 2)
            first = old.size == 0
            edges = net.draw_edges(
                new, pool, w, k, self.rng_network, new_weight=w if first else None
            )
            self.edges = np.concatenate([self.edges, edges])
        self._wired = n
        self.adj = net.adjacency(self.edges, f.capacity)
        degree = np.asarray(self.adj.sum(axis=1)).ravel()
        mean_deg = degree[members].mean() if members.size else 0.0
        self.degree_ratio = np.zeros(f.capacity)
        if mean_deg > 0:
            self.degree_ratio[: degree.size] = degree / mean_deg

    # ------------------------------------------------------------- helpers

    def _live_counts(self, highest: int) -> np.ndarray:
        """Stores per (firm, platform) with status in ACTIVE..``highest`` (codes are ordered)."""
        st = self.stores
        n = st.n
        status = st.status[:n]
        mask = (status >= ACTIVE) & (status <= highest)
        return count_by_pair(st.firm[:n][mask], st.platform[:n][mask], self.firms.n, self.P)

    def _listed_now(self) -> np.ndarray:
        """Firms x platforms: has an active, warned or suspended store."""
        return self._live_counts(SUSPENDED) > 0

    def rec_add(self, name: str, platform: int, origins: np.ndarray, weights=None) -> None:
        """Count events of this week by origin (used by agents and rules)."""
        self.recorder.add(name, self.t, platform, origins, weights)

    def date(self, step: int | None = None):
        """Calendar date of ``step`` (default: the current week)."""
        return self.calendar.date(self.t if step is None else step)

    # ---------------------------------------------------------------- step

    def step(self) -> None:
        """Advance one week. The schedule (see docs/ODD.md, "Process overview"):

        0. (start of week) this week's fee schedules apply;
        1. merchants decide on fake-review campaigns (grey practice);
        2. platforms update trust and buyer appeal (``Platform.step``);
        3. consumers split demand across platforms, then across stores (logit);
        4. merchants book sales, fees, costs and cash;
        5. enforcement: review deletion, suspensions ending, audits, penalties,
           related-account sweeps, false links (``EnforcementPolicy.step``);
           frozen funds due are released;
        6. merchants update perceived risk from own and peers' penalties;
        7. merchants react to bans (new accounts) and review their platform
           portfolio (join, leave, own web store, exit);
        8. broke firms and an exogenous hazard exit; new firms enter;
        9. weekly metrics and migration flows are recorded.
        """
        self.t = self.steps - 1
        if self.t >= self.n_steps:
            raise RuntimeError(
                f"the run has {self.n_steps} weeks; step {self.t + 1} is past its end"
            )
        listed_before = self.listed[: self.firms.n].copy()
        self._reset_week()
        self._campaigns()
        for platform in self.platform_agents:
            platform.step()
        self._demand_and_accounts()
        for enforcer in self.enforcers:
            enforcer.step()
        self._release_funds()
        self._learn_risk()
        self._portfolio_decisions()
        self._entry_and_exit()
        self._record(listed_before)
        self._compact_stores()
        self.running = self.t + 1 < self.n_steps

    def _compact_stores(self) -> None:
        """Drop closed stores and banned ones with no funds pending, when they are many."""
        st = self.stores
        n = st.n
        status = st.status[:n]
        keep = ((status != CLOSED) & (status != BANNED)) | (st.frozen[:n] > 0)
        if n > 1024 and keep.sum() < 0.6 * n:
            st.keep(keep)

    def run(self) -> MarketModel:
        """Step to the end of the configured horizon."""
        while self.running:
            self.step()
        return self

    def _reset_week(self) -> None:
        n = self.firms.n
        self.penalised[:n] = False
        self.banned_now[:n] = False
        self.loss_cause[:n] = CAUSE["voluntary"]
        self.gain_cause[:n] = CAUSE["join"]
        self.audit_cost[:] = 0.0
        # this week's fee schedule applies to every decision of the week
        gm = self.cfg.merchants.gross_margin_rate
        for p in self.platform_agents:
            p.set_fees(self.t)
            self.margin[p.index] = max(0.0, p.margin_rate(gm))

    # ----------------------------------------------------- 1. grey practice

    def _campaigns(self) -> None:
        b = self.cfg.behaviour
        st, f = self.stores, self.firms
        n = st.n
        status = st.status[:n]
        live = (status == ACTIVE) | (status == WARNED)
        idx = np.flatnonzero(live)
        campaign = np.zeros(n, dtype=bool)
        if idx.size:
            firm = st.firm[idx]
            plat = st.platform[idx]
            prop = mr.effective_propensity(
                f.propensity[firm], f.quality[firm], b.reference_rating, b.reputation_weakness_slope
            )
            contribution = st.gmv[idx] * self.margin[plat]
            reviews = mr.campaign_reviews(
                st.gmv[idx], f.price[firm], b.fake_reviews_per_order, b.min_fake_reviews_per_week
            )
            review_cost = reviews * (
                f.price[firm] * (1.0 - self.cfg.merchants.gross_margin_rate)
                + b.fake_review_commission_usd
            )
            p_hat = mr.perceived_detection(f.risk[firm, plat], b.risk_salience)
            decide = mr.campaign_decision(
                prop,
                contribution,
                review_cost,
                p_hat,
                self.lift,
                b.campaign_horizon_weeks,
                b.sanction_weeks_of_profit,
            )
            campaign[idx] = decide
            bought = np.zeros(n)
            bought[idx] = np.where(decide, reviews, 0.0)
            cost = np.where(decide, review_cost, 0.0)
            self._campaign_cost = count_by_pair(firm, plat, f.n, self.P, cost)
        else:
            self._campaign_cost = np.zeros((f.n, self.P))
            bought = np.zeros(n)
        st.campaign[:n] = campaign
        st.inflation[:n] = mr.update_inflation(
            st.inflation[:n], campaign, b.fake_rating_gain_stars, b.fake_inflation_persistence
        )
        st.inflation[:n][~live] = 0.0
        st.fake_live[:n] += bought
        st.ring[:n, self.t % self.ring_weeks] = bought

    # ------------------------------------------------- 3-4. demand, accounts

    def _demand_and_accounts(self) -> None:
        cfg, b = self.cfg, self.cfg.behaviour
        st, f = self.stores, self.firms
        n = st.n
        weights = np.array([p.weight for p in self.platform_agents])
        total = (
            self.n0
            * cfg.demand.gmv_per_firm_per_week_usd
            * (1.0 + cfg.demand.growth_per_year) ** self.calendar.years_since_start(self.t)
        )
        sd = cfg.demand.noise_sd
        noise = np.exp(sd * self.rng_demand.standard_normal(self.P) - sd * sd / 2.0)
        d = split_demand(total, weights, noise)
        self.consumer_share = weights / weights.sum() if weights.sum() > 0 else np.zeros(self.P)
        for p in self.platform_agents:
            p.demand = float(d[p.index])

        status = st.status[:n]
        live = (status == ACTIVE) | (status == WARNED)
        idx = np.flatnonzero(live)
        firm, plat = st.firm[idx], st.platform[idx]
        n_active = count_by_pair(firm, plat, f.n, self.P)
        self.n_active = n_active
        w = demand_rules.store_weight(
            f.size[firm],
            n_active[firm, plat],
            f.quality[firm] + st.inflation[idx],
            f.price[firm],
            b.rating_sensitivity_per_star,
            b.price_sensitivity,
            b.store_count_exponent,
        )
        gmv, self.platform_weight_total = demand_rules.allocate(d, plat, w, self.P)
        st.gmv[:n] = 0.0
        st.net_sales[:n] = 0.0
        st.gmv[idx] = gmv
        ref = np.array([p.referral_rate for p in self.platform_agents])
        ful = np.array([p.cfg.fulfilment_ads_rate for p in self.platform_agents])
        holiday = st.fee_holiday_until[idx] > self.t
        referral = np.where(holiday, 0.0, gmv * ref[plat])
        fees = (
            referral
            + gmv * ful[plat]
            + self.per_order[plat] * gmv / f.price[firm]
            + self.fixed_week[plat]
        )
        net_sales = gmv * cfg.merchants.gross_margin_rate - fees
        st.net_sales[idx] = net_sales
        self._fees = fees
        self._fee_firm, self._fee_plat = firm, plat
        listed = self.listed[: f.n]
        profit = count_by_pair(firm, plat, f.n, self.P, net_sales)
        profit -= mr.channel_costs(
            listed, self.running_cost, self.cfg.behaviour.channel_cost_exponent
        )
        profit -= self._campaign_cost
        f.profit[: f.n] = profit
        f.running_cost[: f.n] = mr.channel_costs(
            listed, self.running_cost, self.cfg.behaviour.channel_cost_exponent
        ).sum(axis=1) + (n_active * self.fixed_week).sum(axis=1)
        f.cash[: f.n] += profit.sum(axis=1)
        # consecutive loss-making weeks per listed platform
        lw = f.loss_weeks[: f.n]
        lw[:] = np.where(listed & (profit < 0), lw + 1, 0)
        # fake-review prevalence seen by buyers (sales-weighted inflation share)
        infl_share = st.inflation[idx] / max(b.fake_rating_gain_stars, 1e-12)
        num = np.bincount(plat, weights=gmv * infl_share, minlength=self.P)
        den = np.bincount(plat, weights=gmv, minlength=self.P)
        for p in self.platform_agents:
            p.prevalence = float(num[p.index] / den[p.index]) if den[p.index] > 0 else 0.0

    # --------------------------------------------------------- 5. funds

    def _release_funds(self) -> None:
        st, f = self.stores, self.firms
        n = st.n
        due = np.flatnonzero((st.frozen[:n] > 0) & (st.release[:n] <= self.t))
        if due.size == 0:
            return
        amount = st.frozen[due]
        firm = st.firm[due]
        back = ~st.forfeit[due] & f.alive[firm]
        np.add.at(f.cash, firm[back], amount[back])
        plat = st.platform[due]
        for p in range(self.P):
            on = plat == p
            self.rec_add("released_usd", p, f.origin[firm[on & back]], amount[on & back])
            self.rec_add("forfeited_usd", p, f.origin[firm[on & ~back]], amount[on & ~back])
        st.frozen[due] = 0.0
        st.forfeit[due] = False

    # ---------------------------------------------------- 6. risk learning

    def _learn_risk(self) -> None:
        b = self.cfg.behaviour
        f = self.firms
        n = f.n
        pen = self.penalised[:n]
        # peers "seen" on p: listed there this week (before or after enforcement)
        seen = np.zeros((f.capacity, self.P), dtype=bool)
        seen[:n] = self._listed_now() | self.listed[:n] | pen
        peer = mr.peer_penalty_share(self.adj, self.penalised, seen)[:n]
        f.risk[:n] = mr.update_risk(
            f.risk[:n],
            pen.astype(np.float64),
            peer,
            f.member[:n],
            b.risk_learning_rate,
            b.peer_weight,
        )

    # ---------------------------------------------------- 7. portfolio

    def _value_matrices(self, rows: np.ndarray, listed: np.ndarray, n_active: np.ndarray):
        """Expected weekly profit, risk-adjusted value and insurance value for ``rows``."""
        b, f = self.cfg.behaviour, self.firms
        t = self.t
        size, quality, price = f.size[rows], f.quality[rows], f.price[rows]
        prospective = np.where(n_active > 0, n_active, 1 + f.extra_stores[rows, None])
        w_new = demand_rules.store_weight(
            size[:, None],
            1,
            quality[:, None],
            price[:, None],
            b.rating_sensitivity_per_star,
            b.price_sensitivity,
            b.store_count_exponent,
        ) * np.power(prospective, b.store_count_exponent)
        w_cur = np.where(n_active > 0, w_new, 0.0)
        demand = np.array([p.demand for p in self.platform_agents])
        denom = np.maximum(self.platform_weight_total - w_cur + w_new, 1e-300)
        est = demand * w_new / denom
        launched = np.array([p.launched(t) for p in self.platform_agents])
        profit = mr.expected_weekly_profit(
            est,
            price,
            prospective,
            self.margin,
            self.fixed_week,
            self.per_order,
            mr.marginal_channel_costs(listed, self.running_cost, b.channel_cost_exponent),
        )
        prop = mr.effective_propensity(
            f.propensity[rows], quality, b.reference_rating, b.reputation_weakness_slope
        )
        exposure = prop + (1.0 - prop) * b.collateral_risk_share
        hazard = mr.penalty_hazard(mr.perceived_detection(f.risk[rows], b.risk_salience), exposure)
        loss = mr.penalty_loss(
            profit,
            est * self.margin,
            prospective,
            b.sanction_weeks_of_profit,
            self.held_weeks,
            self.onboarding,
        )
        value = mr.risk_adjusted_value(profit, hazard, loss)
        insurance = mr.insurance_value(profit, hazard, loss, listed, b.reliance_aversion)
        return est, prospective, profit, value, insurance, launched

    def _one_off(self, rows: np.ndarray, prospective: np.ndarray, est: np.ndarray):
        """One-off cost and gains of joining each platform now.

        Returns ``(cost, gain, cash_in, gov)``: onboarding cost; the value of
        joining beyond the weekly profit (platform subsidy, the referral fees a
        fee holiday saves, the public own-store subsidy); the cash received on
        joining (subsidies only); and the public subsidy alone (paid once per firm).
        """
        f, inc = self.firms, self.cfg.incentives
        t = self.t
        subsidy = np.array([p.cfg.new_seller_subsidy_usd for p in self.platform_agents])
        holiday = np.array([p.cfg.new_seller_fee_holiday_weeks for p in self.platform_agents])
        ref = np.array([p.referral_rate for p in self.platform_agents])
        cost = self.onboarding * prospective
        cash_in = np.broadcast_to(subsidy, cost.shape).copy()
        gov = np.zeros(rows.size)
        if self.own_store >= 0 and self.subsidy_window[0] <= t <= self.subsidy_window[1]:
            eligible = (
                (f.origin[rows] == ORIGINS.index(inc.own_store_subsidy_origin))
                & (f.size[rows] >= self.subsidy_min_size)
                & ~f.subsidised[rows]
            )
            gov = np.where(eligible, inc.own_store_subsidy_usd, 0.0)
            cash_in[:, self.own_store] += gov
        gain = cash_in + holiday * ref * est  # fee-holiday value: referral fees not paid
        return cost, gain, cash_in, gov

    def _portfolio_decisions(self) -> None:
        b, f, st = self.cfg.behaviour, self.firms, self.stores
        n = f.n
        rng = self.rng_decisions
        listed = self._listed_now()
        n_active = self._live_counts(WARNED)
        alive = f.alive[:n]

        # Banned firms that lost the platform react first: a new account, maybe caught.
        lost_to_ban = self.banned_now[:n] & ~listed & alive[:, None]
        review = alive & (
            (rng.random(n) < b.portfolio_review_probability_per_week) | lost_to_ban.any(1)
        )
        rows = np.flatnonzero(review)
        if rows.size == 0:
            return
        est, prospective, profit, value, insurance, launched = self._value_matrices(
            rows, listed[rows], n_active[rows]
        )
        u = rng.random((rows.size, self.P, 2))
        # (a) new account after a ban on the same platform
        ban_rows = lost_to_ban[rows]
        reopen = (
            ban_rows
            & (u[..., 0] < b.new_account_attempt_probability)
            & (b.planning_horizon_weeks * profit - b.new_account_cost_usd > 0)
            & (f.cash[rows, None] > b.new_account_cost_usd)
        )
        for p in range(self.P):
            who = rows[reopen[:, p]]
            if who.size == 0:
                continue
            f.cash[who] -= b.new_account_cost_usd
            new = self._open_stores(who, p, 1, opened=self.t)
            det = self.enforcers[p].cfg.new_account_detection_probability
            caught = u[reopen[:, p], p, 1] < det
            st.status[new[caught]] = BANNED
            origin = f.origin[who]
            self.rec_add("new_accounts", p, origin)
            self.rec_add("new_accounts_caught", p, origin[caught])
            self.rec_add("new_bans", p, origin[caught])
            self.gain_cause[who[~caught], p] = CAUSE["new_account"]
            listed[who[~caught], p] = True
        # (b) join platforms
        cur = listed[rows]
        cost, gain, cash_in, gov = self._one_off(rows, prospective, est)
        willing = np.array(
            [self.cfg.merchants.origins[ORIGINS[o]].new_platform_propensity for o in range(2)]
        )[f.origin[rows]]
        j = mr.join_value(value, insurance, b.planning_horizon_weeks, willing, cost, gain)
        vetting = np.array([p.cfg.vetting_pass_probability for p in self.platform_agents])
        rv = rng.random((rows.size, self.P))
        join = (
            ~cur & launched[None, :] & (j > 0) & (f.cash[rows, None] + cash_in >= cost) & ~ban_rows
        )
        wish = join.copy()
        join = best_only(join & (rv < vetting[None, :]), j)
        # (c) leave platforms whose value is negative (loss-making for a while or too risky)
        lw = f.loss_weeks[rows]
        leave = cur & (value < 0) & ((lw >= b.leave_threshold_weeks) | (profit > 0))
        self._apply_joins(rows, join, prospective, cost, cash_in, gov)
        self._apply_leaves(rows, leave)
        # (d) firms left with no store and nothing worth joining exit (a failed
        # vetting is not a reason to exit: they try again at their next review)
        now = self._listed_now()
        stranded = rows[~now[rows].any(axis=1) & ~wish.any(axis=1)]
        self._exit(stranded)

    def _apply_joins(self, rows, join, prospective, cost, cash_in, gov) -> None:
        """Open stores for the joins; pay onboarding; receive platform and public subsidies.

        A firm that was banned on the platform before comes back under a new
        account, which the related-account check catches with
        ``new_account_detection_probability`` (the new stores are banned at once).
        """
        f, st = self.firms, self.stores
        for p in range(self.P):
            who = join[:, p]
            if not who.any():
                continue
            firms = rows[who]
            if p == self.own_store:
                f.subsidised[firms[gov[who] > 0]] = True
            f.cash[firms] += cash_in[who, p] - cost[who, p]
            n_new = np.asarray(prospective[who, p], dtype=np.int64)
            new = self._open_stores(firms, p, n_new, opened=self.t)
            origin = f.origin[firms]
            self.rec_add("joins", p, origin)
            self.rec_add("subsidy_usd", p, origin, cash_in[who, p])
            back = f.ever_banned[firms, p]
            if back.any():
                det = self.enforcers[p].cfg.new_account_detection_probability
                caught = back & (self.rng_decisions.random(firms.size) < det)
                st.status[new[np.repeat(caught, n_new)]] = BANNED
                self.gain_cause[firms[back & ~caught], p] = CAUSE["new_account"]
                self.rec_add("new_accounts", p, origin[back])
                self.rec_add("new_accounts_caught", p, origin[caught])
                self.rec_add("new_bans", p, np.repeat(origin[caught], n_new[caught]))

    def _close_stores(self, pairs: np.ndarray) -> None:
        """Close the live stores of every (firm, platform) pair marked in ``pairs`` (firms x P)."""
        st = self.stores
        n = st.n
        status = st.status[:n]
        mask = (status >= ACTIVE) & (status <= SUSPENDED)
        mask &= pairs[st.firm[:n], st.platform[:n]]
        status[mask] = CLOSED

    def _apply_leaves(self, rows, leave) -> None:
        f = self.firms
        if not leave.any():
            return
        pairs = np.zeros((f.n, self.P), dtype=bool)
        pairs[rows] = leave
        self._close_stores(pairs)
        for p in range(self.P):
            who = rows[leave[:, p]]
            self.loss_cause[who, p] = CAUSE["voluntary"]
            self.rec_add("leaves", p, f.origin[who])

    def _exit(self, rows: np.ndarray) -> None:
        """Firms in ``rows`` leave the market: stores closed, agent removed."""
        if rows.size == 0:
            return
        f = self.firms
        rows = rows[f.alive[rows]]
        pairs = np.zeros((f.n, self.P), dtype=bool)
        pairs[rows] = True
        was_listed = self._listed_now()[rows]
        self._close_stores(pairs)
        f.alive[rows] = False
        lc = self.loss_cause[rows]
        self.loss_cause[rows] = np.where(self.banned_now[rows], lc, CAUSE["exit"])
        origin = f.origin[rows]
        for p in range(self.P):
            self.rec_add("exits", p, origin[was_listed[:, p]])
        self.exited += rows.size
        for r in rows:
            self.agent_of_row.pop(int(r)).remove()

    # ------------------------------------------------------ 8. entry, exit

    def _entry_and_exit(self) -> None:
        cfg, f = self.cfg, self.firms
        n = f.n
        alive = f.alive[:n]
        # exogenous hazard and bankruptcy
        u = self.rng_entry.random(n)
        broke = f.cash[:n] < -cfg.merchants.bankruptcy_cash_weeks * f.running_cost[:n]
        leaving = np.flatnonzero(alive & ((u < cfg.merchants.exit_hazard_per_week) | broke))
        self._exit(leaving)
        # entrants: candidates join the platforms worth joining, the rest never enter
        growth = (1.0 + cfg.demand.growth_per_year) ** self.calendar.years_since_start(self.t)
        for o, name in enumerate(ORIGINS):
            oc = cfg.merchants.origins[name]
            k = int(self.rng_entry.poisson(oc.entry_rate_per_week * self.n0_by_origin[o] * growth))
            if k == 0:
                continue
            attrs = mr.draw_attributes(oc, k, self.rng_entry, len(KNOWN_PLATFORMS))
            attrs.pop("u_listing")
            self._enter(o, attrs)
        if self.t % self.cfg.network.rewire_every_weeks == 0 and f.n > self._wired:
            self._rewire()

    def _enter(self, origin: int, attrs: dict[str, np.ndarray]) -> None:
        """Candidate firms evaluate platforms like a portfolio review; joiners enter."""
        f, b, d = self.firms, self.cfg.behaviour, self.cfg.demand
        oc = self.cfg.merchants.origins[ORIGINS[origin]]
        rows = self._add_firms(origin, attrs, born=self.t)
        idx = np.arange(rows.start, rows.stop)
        alive_old = f.alive[: rows.start]
        f.risk[idx] = (
            f.risk[: rows.start][alive_old].mean(axis=0)
            if alive_old.any()
            else (b.initial_perceived_risk)
        )
        cash_scale = d.gmv_per_firm_per_week_usd / mr.expected_size(oc.size_pareto_alpha)
        f.cash[idx] = oc.capital_weeks_of_sales * cash_scale * f.size[idx] * mr.CASH_MARGIN
        zeros = np.zeros((idx.size, self.P))
        est, prospective, _, value, insurance, launched = self._value_matrices(
            idx, zeros.astype(bool), zeros
        )
        cost, gain, cash_in, gov = self._one_off(idx, prospective, est)
        j = mr.join_value(
            value,
            insurance,
            b.planning_horizon_weeks,
            np.full(idx.size, oc.new_platform_propensity),
            cost,
            gain,
        )
        vetting = np.array([p.cfg.vetting_pass_probability for p in self.platform_agents])
        rv = self.rng_entry.random((idx.size, self.P))
        join = launched[None, :] & (j > 0) & (f.cash[idx, None] + cash_in >= cost) & (rv < vetting)
        join = best_only(join, j)
        joiners = join.any(axis=1)
        self._apply_joins(idx, join, prospective, cost, cash_in, gov)
        stay = idx[joiners]
        f.alive[idx[~joiners]] = False  # candidates who join nothing never enter
        self._make_agents(stay)
        self.gain_cause[stay] = CAUSE["entry"]
        for p in range(self.P):
            self.rec_add("entries", p, f.origin[idx[join[:, p]]])
        self.entered += stay.size

    # ---------------------------------------------------------- 9. record

    def _record(self, listed_before: np.ndarray) -> None:
        t, f, st, R = self.t, self.firms, self.stores, self.recorder.data
        n = f.n
        listed = self._listed_now()
        self.listed = np.zeros((f.capacity, self.P), dtype=bool)
        self.listed[:n] = listed
        self.listed_count = listed.sum(axis=0).astype(np.float64)
        origin = f.origin[:n]
        alive = f.alive[:n]
        k = listed.sum(axis=1)
        multi = k >= 2
        for o in range(2):
            of = origin == o
            self.firm_stats[t, o] = (
                (of & alive).sum(),
                (of & (k > 0)).sum(),
                (of & multi).sum(),
                k[of].sum(),
            )
            R["listed_merchants"][t, :, o] = listed[of].sum(axis=0)
            R["multihomed_merchants"][t, :, o] = listed[of & multi].sum(axis=0)
            R["alive_merchants"][t, :, o] = (of & alive).sum()
        ns = st.n
        so = origin[st.firm[:ns]] if ns else np.zeros(0, dtype=np.int8)
        key = st.platform[:ns].astype(np.int64) * 2 + so
        status = st.status[:ns]
        pp2 = self.P * 2

        def by_key(mask, weights=None):
            w = None if weights is None else weights[mask]
            out = np.bincount(key[mask], weights=w, minlength=pp2).astype(np.float64, copy=False)
            return out.reshape(self.P, 2)

        active = by_key(status == ACTIVE) + by_key(status == WARNED)
        R["active_stores"][t] = active
        R["warned_stores"][t] = by_key(status == WARNED)
        R["suspended_stores"][t] = by_key(status == SUSPENDED)
        self.merchant_steps += int(alive.sum())
        self.store_steps += int(active.sum() + R["suspended_stores"][t].sum())
        R["banned_stores"][t] = R["new_bans"][: t + 1].sum(axis=0)
        grey = by_key(st.campaign[:ns] & ((status == ACTIVE) | (status == WARNED)))
        R["grey_stores"][t] = grey
        R["grey_share"][t] = grey_share(grey, active)
        R["gmv"][t] = by_key(np.ones(ns, dtype=bool), st.gmv[:ns])
        R["frozen_usd"][t] = by_key(st.frozen[:ns] > 0, st.frozen[:ns])
        R["fake_reviews_live"][t] = by_key(
            (status >= ACTIVE) & (status <= SUSPENDED), st.fake_live[:ns]
        )
        gmv = st.gmv[:ns]
        infl_w = by_key(np.ones(ns, dtype=bool), st.inflation[:ns] * gmv)
        R["rating_inflation"][t] = np.divide(
            infl_w, R["gmv"][t], out=np.zeros_like(infl_w), where=R["gmv"][t] > 0
        )
        fo = origin[self._fee_firm]
        fee_key = self._fee_plat.astype(np.int64) * 2 + fo
        R["fee_revenue"][t] = np.bincount(fee_key, weights=self._fees, minlength=pp2).reshape(
            self.P, 2
        )
        for p in self.platform_agents:
            i = p.index
            R["consumer_share"][t, i] = self.consumer_share[i]
            R["trust"][t, i] = p.trust
            R["referral_fee_rate"][t, i] = p.referral_rate
            R["enforcement_intensity"][t, i] = self.enforcers[i].level
            R["enforcement_cost_usd"][t, i] = self.audit_cost[i]
        self._record_flows(listed_before, listed[: listed_before.shape[0]], listed)

    def _record_flows(self, before: np.ndarray, after_old: np.ndarray, after: np.ndarray) -> None:
        """Platform-set changes of firms this week as (from, to, cause) counts.

        A firm that lost platforms L and gained G adds ``1/|G|`` to each
        ``(p, q)`` pair; with no gain it adds 1 to ``(p, none)`` with the cause of
        the loss, with no loss 1 to ``(none, q)`` (cause "entry" for new firms).
        """
        n_old = before.shape[0]
        prev = np.zeros_like(after)
        prev[:n_old] = before
        lost = prev & ~after
        gained = ~prev & after
        rows = np.flatnonzero(lost.any(axis=1) | gained.any(axis=1))
        if rows.size == 0:
            return
        f = self.firms
        L, G = lost[rows], gained[rows]
        nG = G.sum(axis=1)
        origin = f.origin[rows]
        lc = self.loss_cause[rows]
        gc = self.gain_cause[rows]
        none = self.P
        acc: dict[tuple[int, int, int, int], float] = {}

        def add(o, a, b_, c, w):
            for key, val in zip(zip(o, a, b_, c, strict=True), w, strict=True):
                key = tuple(int(x) for x in key)
                acc[key] = acc.get(key, 0.0) + float(val)

        r, p = np.nonzero(L & (nG == 0)[:, None])
        add(origin[r], p, np.full(r.size, none), lc[r, p], np.ones(r.size))
        nL = L.sum(axis=1)
        r, q = np.nonzero(G & (nL == 0)[:, None])
        add(origin[r], np.full(r.size, none), q, gc[r, q], np.ones(r.size))
        both = np.flatnonzero((nL > 0) & (nG > 0))
        if both.size:
            r, p, q = np.nonzero(L[both][:, :, None] & G[both][:, None, :])
            rr = both[r]
            add(origin[rr], p, q, lc[rr, p], 1.0 / nG[rr])
        for (o, a, b_, c), w in sorted(acc.items()):
            self.flow_rows.append((self.t, o, a, b_, c, w))

    # ------------------------------------------------------------ outputs

    @property
    def spinup(self) -> int:
        """Model steps simulated before ``start_date`` (not recorded in outputs)."""
        return self.calendar.spinup

    def timeseries_columns(self) -> dict[str, np.ndarray]:
        """Tidy columns: one row per (step, platform, origin) for the recorded steps so far.

        ``step`` counts weeks from ``start_date`` (spin-up weeks are not output).
        """
        first = self.spinup
        T = max(self.t + 1 - first, 0)
        P = self.P
        step = np.repeat(np.arange(T), P * 2)
        plat = np.tile(np.repeat(np.arange(P), 2), T)
        origin = np.tile(np.arange(2), T * P)
        out: dict[str, np.ndarray] = {
            "step": step,
            "date": self.calendar.dates()[first + step],
            "platform": np.array(self.platform_names, dtype=object)[plat],
            "origin": np.array(ORIGINS, dtype=object)[origin],
        }
        for name, arr in self.recorder.data.items():
            out[name] = arr[first : first + T].reshape(-1)
        return out

    def flow_columns(self) -> dict[str, np.ndarray]:
        """Tidy flows (recorded steps): step, date, origin, from_platform, to_platform,
        merchants, cause."""
        names = np.array([*self.platform_names, NONE], dtype=object)
        arr = np.array(self.flow_rows, dtype=np.float64).reshape(-1, 6)
        arr = arr[arr[:, 0] >= self.spinup]
        step = arr[:, 0].astype(np.int64)
        return {
            "step": step - self.spinup,
            "date": self.calendar.dates()[step],
            "origin": np.array(ORIGINS, dtype=object)[arr[:, 1].astype(np.int64)],
            "from_platform": names[arr[:, 2].astype(np.int64)],
            "to_platform": names[arr[:, 3].astype(np.int64)],
            "merchants": arr[:, 5],
            "cause": np.array(CAUSES, dtype=object)[arr[:, 4].astype(np.int64)],
        }

    def counts(self) -> dict[str, int]:
        """Firms, stores and weeks simulated so far, spin-up included."""
        st = self.stores
        return {
            "initial_merchants": int(self.n0),
            "entered_merchants": int(self.entered),
            "exited_merchants": int(self.exited),
            "alive_merchants": int(self.firms.alive[: self.firms.n].sum()),
            "stores_opened": int(self.stores_opened),
            "live_stores": int(
                ((st.status[: st.n] >= ACTIVE) & (st.status[: st.n] <= SUSPENDED)).sum()
            ),
            "steps": int(self.t + 1),
            "spinup_steps": int(min(self.spinup, self.t + 1)),
            "recorded_steps": int(max(self.t + 1 - self.spinup, 0)),
        }


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


def _split_count(total: int, shares: list[float]) -> list[int]:
    """Split ``total`` into integer counts by ``shares`` (largest remainder)."""
    raw = [total * s for s in shares]
    counts = [math.floor(x) for x in raw]
    rest = total - sum(counts)
    order = sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])
    for i in order[:rest]:
        counts[i] += 1
    return counts


Merchant = mr.Merchant
