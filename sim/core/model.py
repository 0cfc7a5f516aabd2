"""MarketModel: cross-border merchants moving between platforms under enforcement.

An agent-based model of the 2021 Amazon crackdown on review manipulation and
the migration of (mostly Shenzhen-based) sellers to other channels; see
docs/ODD.md for the full description (Grimm et al. 2020 ODD protocol) and
``docs/domain.md`` for the facts it rests on.

Merchants are Mesa agents whose numeric state lives in columnar arrays
(``model.firms``, ``model.stores``); every rule over all merchants is
vectorised. Platforms and enforcement policies are Mesa agents with their own
``step``. The weekly schedule is spelled out in :meth:`MarketModel.step`.
"""

from __future__ import annotations

import gc
import math
import numbers
from collections.abc import Sequence
from typing import Any

import mesa
import numpy as np

from . import demand as demand_rules
from . import kernels as kn
from . import merchants as mr
from . import network as net
from . import population as pop
from . import reporters
from .calendar import Calendar
from .config import (
    KNOWN_PLATFORMS,
    ORIGINS,
    ConfigError,
    EnforcementConfig,
    SimConfig,
    validate,
)
from .enforcement import CAUSE, CAUSES, EnforcementPolicy
from .merchants import best_only
from .metrics import Recorder, grey_share
from .platforms import Platform, split_demand
from .state import (
    ACTIVE,
    BANNED,
    CLOSED,
    SUSPENDED,
    WARNED,
    firm_columns,
    store_columns,
)
from .streams import make_streams

NONE = "none"

# Compaction drops dead store rows once fewer than this share of the rows would be
# kept: every weekly store pass visits dead rows too (order is kept, so the
# outputs do not depend on when it runs; benchmarks.exactness checks it).
COMPACT_KEEP_SHARE = 0.85

# The money ledger (model.ledger): one (steps, origin) array per key, USD weighted by
# omega. Stocks: "cash" (alive firms) and "frozen" (all stores), at the end of the week.
# Flows: cash in/out of the firms (see tests/test_conservation.py for the identities).
LEDGER = (
    "cash",
    "frozen",
    "profit",
    "frozen_new",
    "released",
    "forfeited",
    "onboarding",
    "new_account_cost",
    "subsidies",
    "entrant_cash",
    "exit_cash",
)
LEDGER_METRICS = {
    "frozen_new": "frozen_new_usd",
    "released": "released_usd",
    "forfeited": "forfeited_usd",
}


def default_config() -> SimConfig:
    """The default preset (crackdown_2021, six platforms) without Hydra."""
    from .presets import default_sim_config

    return default_sim_config()


def configured(overrides: Sequence[str] | None, settings: dict[str, Any]) -> SimConfig:
    """The presets composed with ``overrides`` and keyword ``settings`` (see MarketModel)."""
    from .presets import compose_with

    return compose_with(overrides, settings)


def release_model(model: mesa.Model) -> None:
    """Let a finished model be garbage-collected: drop mesa's class-level reference to it.

    Mesa 3.3 numbers agents per model in ``mesa.Agent._ids``, a class attribute
    keyed by the model, so every model ever built stays in memory for the life
    of the process (mesa issue #3179, fixed in later 3.x by mesa PR #3180, which
    removed ``_ids``). A sweep worker running thousands of models then grows
    without bound. Call this once the model will create no more agents (after
    its tables are taken); with newer mesa it does nothing.
    """
    ids = getattr(mesa.Agent, "_ids", None)
    if isinstance(ids, dict):
        ids.pop(model, None)


class MarketModel(mesa.Model):
    """Weekly model of merchants, platforms and enforcement.

    ``model.datacollector`` (a ``mesa.DataCollector``) collects the headline
    series once per week, spin-up included (columns: :mod:`sim.core.reporters`),
    so Mesa's ``batch_run`` and SolaraViz plot components work on the model.

    Args:
        config: a validated :class:`SimConfig`; None means the default preset
            (with ``overrides`` and ``kwargs`` applied).
        rng: None to seed from ``config.seed`` and ``config.replicate``; an
            int to use as the root seed instead of ``config.seed``.
        overrides: Hydra overrides as on the command line, composed over the
            presets (``["policy=none", "merchants.count=2000"]``); only without
            ``config``.
        **kwargs: more overrides as keywords, a dotted key or preset group
            per keyword, e.g. ``MarketModel(**{"policy": "none",
            "merchants.count": 2000})``: the form in which ``mesa.batch_run``
            passes its ``parameters`` (and SolaraViz its controls). Applied
            after ``overrides``; only without ``config``. (Named ``kwargs``
            because Mesa 3.3's SolaraViz accepts extra keywords only under
            that name.)

    Raises:
        ConfigError: an unknown key, a value out of range, or ``config``
            together with overrides (one message naming the key).
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        rng: int | None = None,
        *,
        overrides: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if config is not None and (overrides or kwargs):
            given = ", ".join([*(["overrides"] if overrides else []), *kwargs])
            raise ConfigError(
                f"{given}: pass either config or overrides, not both (compose the config "
                "with compose_config(overrides) instead)"
            )
        if overrides or kwargs:
            config = configured(overrides, kwargs)
        cfg = validate(config if config is not None else default_config())
        if rng is not None and (isinstance(rng, bool) or not isinstance(rng, numbers.Integral)):
            raise ConfigError(
                f"rng: expected an integer root seed, or None for the config's seed; "
                f"got {type(rng).__name__}"
            )
        seed = cfg.seed if rng is None else int(rng)
        streams = make_streams(seed, cfg.replicate)
        super().__init__(rng=streams["mesa"])
        self.cfg = cfg
        self.rng_network = streams["network"]
        self.rng_demand = streams["demand"]
        self.rng_enforcement = streams["enforcement"]
        self.rng_decisions = streams["decisions"]
        self.rng_entry = streams["entry"]
        self.rng_pieces = streams["pieces"]
        self.rng_reentry = streams["reentry"]
        self._reentry_due: list[tuple[int, np.ndarray]] = []  # (week, old firm rows)
        self.reentered = 0

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
        # what a merchant expects a penalty's fund hold to cost comes from the policy in
        # force; a policy that has not started (intensity 0) counts as no policy
        # (the inert schema default), so presets stay paired with none before their start
        inert = EnforcementPolicy.inert_terms()
        self._hold_terms = np.array(
            [[e.cfg.held_weeks_of_sales, e.forfeit_share] for e in self.enforcers]
        ).reshape(-1, 2)
        self._hold_inert = np.array(inert)
        self.held_weeks = np.full(len(self.enforcers), inert[0])
        self.forfeit_share = np.full(len(self.enforcers), inert[1])
        self.evidence_keep = np.array([e.evidence_keep for e in self.enforcers])
        self.suspicion_keep = np.array([e.suspicion_keep for e in self.enforcers])

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
        self.fulfilment = np.array([p.cfg.fulfilment_ads_rate for p in self.platform_agents])
        self.holiday = np.array([p.cfg.new_seller_fee_holiday_weeks for p in self.platform_agents])
        self.vetting = np.array([p.cfg.vetting_pass_probability for p in self.platform_agents])
        self.referral = np.array([p.referral_rate for p in self.platform_agents])
        self.willingness = np.array(
            [cfg.merchants.origins[o].new_platform_propensity for o in ORIGINS]
        )
        self.platform_demand = np.zeros(len(self.platform_agents))
        # entry windows per origin as (first step, last step, multiplier)
        self.entry_windows = [
            [
                (
                    self.calendar.first_step_on_or_after(w.start_date),
                    self.calendar.last_step_on_or_before(w.end_date),
                    w.multiplier,
                )
                for w in cfg.merchants.origins[name].entry_windows
            ]
            for name in ORIGINS
        ]
        # platforms whose sellers run their own listings and may buy reviews (not managed)
        self.sellers_review = np.array([not p.managed for p in self.platform_agents])
        # buyers' experienced value and fake-review harm per platform (_consumers)
        self.consumer_value = np.zeros(len(self.platform_agents))
        self.harm_per_order = np.zeros(len(self.platform_agents))
        self.harm_usd = np.zeros(len(self.platform_agents))
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
        shares = [cfg.merchants.origins[o].share for o in ORIGINS]
        counts = _split_count(n0, shares)
        self.n0_by_origin = counts
        self.scale = cfg.merchants.scale  # mean real firms per model firm
        self.real_by_origin = [cfg.merchants.real_firms * sh for sh in shares]
        self.designs = [
            pop.Design.solve(
                self.real_by_origin[o],
                counts[o],
                cfg.merchants.origins[name].size_pareto_alpha,
                cfg.merchants.origins[name].size_max,
                cfg.merchants.sampling_tail_share,
            )
            for o, name in enumerate(ORIGINS)
        ]
        self.member_coef = [0.0, 0.0]
        self.firms = firm_columns(self.P, n0 + 16)
        self.stores = store_columns(self.ring_weeks, int(n0 * 1.5) + 16)
        self.stores_opened = 0
        self.agent_of_row: dict[int, Merchant] = {}
        self.listed = np.zeros((self.firms.capacity, self.P), dtype=bool)
        self.n_susp = np.zeros(self.P, dtype=np.int64)  # suspended stores per platform
        self._close_rows: list[np.ndarray] = []  # firm rows with stores marked for closing
        self._died: list[np.ndarray] = []  # firm rows that exited this week
        self._settle = np.empty(0, dtype=np.int64)  # ... and last week (booked once more)
        self._alive_key = None  # cache of alive_rows()
        self._store_groups = None  # live store indices grouped by platform (enforcement)
        self._keep_rows = -1  # rows compaction would keep, counted by _record
        self._npow = np.zeros(0)  # store_count_factor(n) by store count n
        self.audit_cost = np.zeros(self.P)  # this week's enforcement cost per platform, USD
        self._joined_mass = np.zeros(self.P)  # weight of this week's joiners per platform
        self.exposure = np.zeros((self.P, 0), dtype=np.int32)  # live stores as enforcement began
        self._alloc_week_buffers()
        self._alloc_store_scratch()
        self.ledger = {k: np.zeros((self.n_steps, 2)) for k in LEDGER}
        sizes, weights = [], []
        # origins x platforms open to them in week 0 (launched; managed ones admit some)
        admits = np.stack([p.admits(0) for p in self.platform_agents], axis=1)
        for o, name in enumerate(ORIGINS):
            oc = cfg.merchants.origins[name]
            # one stream per origin: changing the mix leaves the other origin's draws alone
            attrs = mr.draw_attributes(
                oc,
                counts[o],
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
            u = attrs.pop("u_listing")[:, self.known_index]
            listing = (u < prob) & admits[o]
            rows = self._add_firms(o, attrs, born=-1)
            self._make_agents(np.arange(rows.start, rows.stop))
            self.firms.cash[rows] = mr.initial_cash(attrs["size"], oc, d.gmv_per_firm_per_week_usd)
            for p in range(self.P):
                on = np.arange(rows.start, rows.stop)[listing[:, p]]
                self._open_stores(
                    on, p, 1 + self.firms.extra_stores[on].astype(np.int64), opened=-1
                )
            sizes.append(attrs["size"])
            weights.append(attrs["weight"])
        self.subsidy_min_size = pop.weighted_quantile(
            np.concatenate(sizes) if sizes else np.zeros(0),
            np.concatenate(weights) if weights else np.zeros(0),
            cfg.incentives.own_store_subsidy_min_size_quantile,
        )
        self.firms.risk[:, : self.firms.n] = b.initial_perceived_risk
        f = self.firms
        # model firms at the start: the sample plus the members split out of it
        self.n_initial = int(f.n)
        alive = np.arange(f.n)
        # association members in real firms (target: 2,600+ in Shenzhen, SCMP 2021)
        self.members_real_start = float(f.weight[alive][f.member[alive]].sum() * self.scale)
        self.ledger_start = {
            "cash": np.bincount(
                f.origin[alive], weights=f.weight[alive] * f.cash[alive], minlength=2
            ).astype(np.float64),
            "frozen": np.zeros(2),
        }

        # ----------------------------------------------------------- network
        self.edges = np.empty((0, 2), dtype=np.int64)
        self._wired = 0
        self._rewire()

        n = self.firms.n
        self.listed[:n] = self._listed_now()
        # model-firm equivalents, as recorded every week (kernels.record_firms)
        self.listed_count = (self.listed[:n] * self.firms.weight[:n, None]).sum(axis=0)
        self.platform_weight_total = np.zeros(self.P)
        self.recorder = Recorder(self.n_steps, self.P)
        # per week and origin: alive firms, listed anywhere, on 2+ platforms, platform memberships
        self.firm_stats = np.zeros((self.n_steps, 2, 4))
        # per week, association members on Amazon (real-firm weights): grey and all
        # active or warned stores, alive members ever banned there, alive members
        # (summary outcomes at dated marks; not part of the timeseries)
        self.member_stats = np.zeros((self.n_steps, 4))
        self._member_amazon = (
            self.platform_names.index("amazon") if "amazon" in self.platform_names else -1
        )
        # summed in the record passes (kernels.record_stores, record_firms) when there
        # are members: the same sums as member_amazon_stats, without a pass of their own
        self._member_platform = self._member_amazon if self.members_real_start > 0 else -1
        self.merchant_steps = 0
        self.store_steps = 0
        # migration flows, one (n, 6) float array per week with changes:
        # step, origin, from, to, cause, merchants (see _record_flows)
        self.flow_chunks: list[np.ndarray] = []
        self.entered = 0
        self.exited = 0
        self.split = 0  # firm rows split off joiners (population.split_pieces)

        # Mesa's data collector: one row per week, read from the week's recorded
        # values (reporters.week_row); collected at the end of every step
        self._report_cache: tuple[int, dict] | None = None
        self._report_names = reporters.reporter_names(self.platform_names)[2:]  # numeric
        self._bans_before: float | None = None  # banned stores at the end of the spin-up
        self.datacollector = mesa.DataCollector(
            model_reporters=reporters.model_reporters(self.platform_names)
        )

    # ------------------------------------------------------------------ setup

    def _alloc_week_buffers(self) -> None:
        """Per-firm weekly buffers, sized to the firm table (re-made when it grows)."""
        n = self.firms.capacity
        self.hits = np.zeros((n, self.P), dtype=np.int16)  # stores penalised this week
        self.banned_now = np.zeros((n, self.P), dtype=bool)
        self.loss_cause = np.full((n, self.P), CAUSE["voluntary"], dtype=np.int8)
        self.gain_cause = np.full((n, self.P), CAUSE["join"], dtype=np.int8)
        self.degree_ratio = np.zeros(n)
        # per (firm, platform): store rows below this index close at the next
        # apply (deferred closing, see _close_pairs); campaign cost per pair
        # (platform-major: the store loops visit them platform by platform)
        self.close_mark = np.zeros((self.P, n), dtype=np.int32)
        self.ns_pair = np.zeros((self.P, n))
        self.camp_pair = np.zeros((self.P, n))

    def _alloc_store_scratch(self) -> None:
        """Per-store scratch arrays of the weekly loops (sized to the store table)."""
        cap = self.stores.capacity
        self._live_idx = np.zeros(cap, dtype=np.int32)
        self._n_live_idx = 0
        self._week_live = getattr(self, "_week_live", 0)
        self._rating_fac = np.zeros(cap)
        self._scratch_cap = cap

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
        f.weight[rows] = attrs["weight"] / self.scale  # omega_f, model-firm equivalents
        f.born[rows] = born
        b = self.cfg.behaviour
        # constants per firm that the weekly rules use (same numpy expressions as the rules)
        f.prop_eff[rows] = mr.effective_propensity(
            attrs["propensity"], attrs["quality"], b.reference_rating, b.reputation_weakness_slope
        )
        f.price_weight[rows] = demand_rules.price_factor(attrs["price"], b.price_sensitivity)
        return rows

    def _make_agents(self, rows: np.ndarray) -> None:
        """Create the Mesa ``Merchant`` views of new firm rows (row order)."""
        make = mr.Merchant
        agents = self.agent_of_row
        # the cyclic garbage collector would walk all live agents again and again
        # while a million are created; nothing here makes cycles worth collecting
        enabled = gc.isenabled()
        gc.disable()
        try:
            for r in rows.tolist():
                agents[r] = make(self, r)
        finally:
            if enabled:
                gc.enable()

    def _grow_week_buffers(self) -> None:
        names = (
            "hits",
            "banned_now",
            "loss_cause",
            "gain_cause",
            "degree_ratio",
        )
        old = [getattr(self, k) for k in names]
        listed = self.listed
        close_mark = self.close_mark
        self._alloc_week_buffers()
        for name, prev in zip(names, old, strict=True):
            getattr(self, name)[: prev.shape[0]] = prev
        self.close_mark[:, : close_mark.shape[1]] = close_mark
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
        if self.stores.capacity != self._scratch_cap:
            self._alloc_store_scratch()
        self._store_groups = None
        self.stores_opened += total
        st = self.stores
        st.firm[sl] = np.repeat(firms, n_each)
        st.platform[sl] = p
        st.status[sl] = ACTIVE
        st.opened[sl] = opened
        kn.add_stores(firms, p, np.ascontiguousarray(n_each), self.firms.n_live, self.firms.n_act)
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
        # rows split off a wired firm inherit its ties (_split): they are not new
        wired = (members < self._wired) | f.piece[members]
        new = members[~wired]
        old = members[wired]
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
        self._set_adjacency()

    def _set_adjacency(self) -> None:
        """Adjacency of the ties and each firm's degree over the mean degree of the
        alive members (hub-targeted audits, 7.7)."""
        f = self.firms
        n = f.n
        members = np.flatnonzero(f.alive[:n] & f.member[:n])
        self.adj = net.adjacency(self.edges, f.capacity)
        degree = np.asarray(self.adj.sum(axis=1)).ravel()
        mean_deg = degree[members].mean() if members.size else 0.0
        self.degree_ratio = np.zeros(f.capacity)
        if mean_deg > 0:
            self.degree_ratio[: degree.size] = degree / mean_deg

    def _row_uniforms(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """One uniform per firm row ``0..n-1``, alive or not.

        The rows of the sample and the entrants take theirs from ``rng`` in row
        order, the rows split off joiners (``piece``) from the pieces stream: the
        number of splits differs between scenarios, and must not shift the other
        rows' draws (common random numbers, ODD "Random streams").
        """
        if self.split == 0:
            return rng.random(n)
        piece = self.firms.piece[:n]
        k = int(piece.sum())
        u = np.empty(n)
        u[~piece] = rng.random(n - k)
        u[piece] = self.rng_pieces.random(k)
        return u

    # ------------------------------------------------------------- helpers

    def _live_counts(self, highest: int) -> np.ndarray:
        """Stores per (firm, platform) with status in ACTIVE..``highest`` (codes are ordered).

        Read from the counters that :meth:`set_status` keeps (WARNED: active and
        warned stores; SUSPENDED: all live stores).
        """
        n = self.firms.n
        if highest == WARNED:
            return self.firms.n_act[:, :n].T
        if highest == SUSPENDED:
            return self.firms.n_live[:, :n].T
        raise ValueError("highest must be WARNED or SUSPENDED")

    def _listed_now(self) -> np.ndarray:
        """Firms x platforms: has an active, warned or suspended store."""
        return self.firms.n_live[:, : self.firms.n].T > 0

    def alive_rows(self) -> np.ndarray:
        """Row indices of the alive firms (ascending), cached until a firm enters or exits.

        The weekly firm loops visit these rows only: a dead firm's row holds no
        store and takes part in nothing (its cash, profit and perceived risk are
        never read again; see docs/performance.md).
        """
        f = self.firms
        key = (f.n, self.entered, self.exited)
        if self._alive_key != key:
            self._alive = np.flatnonzero(f.alive[: f.n])
            self._alive_key = key
        return self._alive

    def set_status(self, idx: np.ndarray, code: int) -> None:
        """Set the status of stores ``idx`` to ``code``, keeping the store counters in step.

        Every status change goes through here (enforcement, joins, closing), so the
        per-(firm, platform) counts of live and active stores never need a scan.
        """
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size:
            st, f = self.stores, self.firms
            kn.set_status(
                st.status, st.firm, st.platform, idx, code, f.n_live, f.n_act, self.n_susp
            )

    def live_store_ids_on(self, p: int) -> np.ndarray:
        """Indices of the live (active, warned, suspended) store rows on platform ``p``
        (ascending), as of the first call this week; cached until rows change.

        For enforcement, which reads and writes only its own platform's stores and
        only live ones: a closed or banned store never becomes live again, and no
        store opens during the enforcement phase, so every live store of ``p`` when
        its enforcer runs is in this list, in store order.
        """
        st = self.stores
        key = (self.t, st.n)
        if self._store_groups is None or self._store_groups[0] != key:
            order, start = kn.group_live_by_platform(st.status, st.platform, st.n, self.P)
            self._store_groups = (key, order, start)
        _, order, start = self._store_groups
        return order[start[p] : start[p + 1]]

    def _close_pairs(self, rows: np.ndarray, pairs: np.ndarray) -> None:
        """Close the live stores of firm ``rows[k]`` on every platform where ``pairs[k]``.

        The counters drop at once; the store rows themselves are marked and closed
        in one pass (:meth:`_apply_closes`) before store statuses are next read.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return
        f = self.firms
        kn.mark_close(
            rows, np.ascontiguousarray(pairs), f.n_live, f.n_act, self.close_mark, self.stores.n
        )
        self._close_rows.append(rows)

    def _apply_closes(self) -> None:
        """Close the store rows marked by :meth:`_close_pairs`."""
        if not self._close_rows:
            return
        st = self.stores
        kn.apply_closes(st.status, st.firm, st.platform, st.n, self.close_mark, self.n_susp)
        self._clear_close_marks()

    def _clear_close_marks(self) -> None:
        for rows in self._close_rows:
            self.close_mark[:, rows] = 0
        self._close_rows = []

    def rec_firms(self, name: str, platform: int, rows: np.ndarray, amount=None) -> None:
        """Count this week's events of firms ``rows`` on ``platform`` by origin, each firm
        weighted by ``omega_f`` (times ``amount`` per event, e.g. USD, when given)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size:
            w = self.firms.weight[rows]
            if amount is not None:
                w = w * amount
            self.recorder.add(name, self.t, platform, self.firms.origin[rows], w)

    def _ban_at_opening(self, platform: int, stores: np.ndarray) -> None:
        """Ban new stores caught at opening by the related-account check (a first closure)."""
        self.set_status(stores, BANNED)
        self.rec_closed(platform, stores)

    def rec_closed(self, platform: int, idx: np.ndarray) -> None:
        """Record stores ``idx`` suspended or banned this week as ``stores_closed`` if this
        is their first closure: the count of distinct stores closed, whereas
        ``new_suspensions + new_bans`` counts a store suspended twice, or suspended and
        later banned, each time."""
        idx = np.asarray(idx, dtype=np.int64)
        st = self.stores
        first = idx[~st.closed[idx]]
        st.closed[first] = True
        self.rec_stores("stores_closed", platform, first)

    def rec_stores(self, name: str, platform: int, idx: np.ndarray, amount=None) -> None:
        """As :meth:`rec_firms` for events of stores ``idx`` (weighted by their firm)."""
        self.rec_firms(name, platform, self.stores.firm[np.asarray(idx, dtype=np.int64)], amount)

    def book(self, key: str, rows: np.ndarray, amount: np.ndarray | float) -> None:
        """Add ``sum_f omega_f amount_f`` by origin to this week's money ledger ``key``."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size:
            f = self.firms
            w = f.weight[rows] * np.broadcast_to(amount, rows.shape)
            self.ledger[key][self.t] += np.bincount(f.origin[rows], weights=w, minlength=2)

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
        6. merchants update perceived risk from own and peers' penalties (per store-week);
        7. merchants react to bans (new accounts) and review their platform
           portfolio (join, leave, own web store, exit);
        8. broke firms and an exogenous hazard exit; new firms enter;
        9. weekly metrics and migration flows are recorded; the data collector
           takes the week's row from them (``model.datacollector``).
        """
        self.t = self.steps - 1
        if self.t >= self.n_steps:
            raise RuntimeError(
                f"the run has {self.n_steps} weeks; step {self.t + 1} is past its end"
            )
        self._settle = np.concatenate(self._died) if self._died else np.empty(0, np.int64)
        self._died = []
        self._reset_week()
        self._campaigns()
        for platform in self.platform_agents:
            platform.step()
        self._demand_and_accounts()
        self._snapshot_exposure()
        for enforcer in self.enforcers:
            enforcer.step()
        self._record_lost_to_bans()
        self._policy_in_force()
        self._release_funds()
        self._learn_risk()
        self._portfolio_decisions()
        self._entry_and_exit()
        self._record()
        self._compact_stores()
        self.datacollector.collect(self)
        self.running = self.t + 1 < self.n_steps

    def _compact_stores(self) -> None:
        """Drop closed stores and banned ones with no funds pending, when they are many."""
        st = self.stores
        n = st.n
        kept = self._keep_rows if self._keep_rows >= 0 else n  # counted by _record
        self._keep_rows = -1
        if n > 1024 and kept < COMPACT_KEEP_SHARE * n:
            status = st.status[:n]
            keep = ((status != CLOSED) & (status != BANNED)) | (st.frozen[:n] > 0)
            st.keep(keep)
            self._store_groups = None

    def run(self) -> MarketModel:
        """Step to the end of the configured horizon."""
        while self.running:
            self.step()
        return self

    def _reset_week(self) -> None:
        n = self.firms.n
        self.hits[:n] = 0
        self.banned_now[:n] = False
        self._joined_mass[:] = 0.0
        self.loss_cause[:n] = CAUSE["voluntary"]
        self.gain_cause[:n] = CAUSE["join"]
        self.audit_cost[:] = 0.0
        # this week's fee schedule applies to every decision of the week
        gm = self.cfg.merchants.gross_margin_rate
        for p in self.platform_agents:
            p.set_fees(self.t)
            self.margin[p.index] = max(0.0, p.margin_rate(gm))
            self.referral[p.index] = p.referral_rate

    # ----------------------------------------------------- 1. grey practice

    def _campaigns(self) -> None:
        """Each live store decides on a fake-review campaign; ratings and review stocks move.

        Per active or warned store ``s`` of firm ``f`` on ``p`` (merchants.py):
        ``g_f`` = ``effective_propensity``, reviews = ``campaign_reviews``,
        ``K_s`` = reviews x (price (1 - gross margin) + commission),
        ``p_hat`` = ``perceived_detection(r_fp)``, buy when ``campaign_decision``;
        then ``update_inflation`` (0 for stores not live), the fake reviews on the
        page, the evidence an audit can find and the platform's suspicion record
        (``age_evidence``) and this week's slot of the deletion ring. ``K_s`` is
        charged to the firm's profit on ``p`` in phase 4. One compiled pass over
        the stores (``kernels.campaigns``).
        """
        b = self.cfg.behaviour
        st, f = self.stores, self.firms
        n = st.n
        self._n_live_idx = self._week_live = kn.campaigns(
            n,
            st.status,
            st.firm,
            st.platform,
            st.gmv,
            st.inflation,
            st.fake_live,
            st.evidence,
            st.suspicion,
            st.ring[self.t % self.ring_weeks],
            st.campaign,
            self.camp_pair,
            self._live_idx,
            f.prop_eff,
            f.price,
            f.risk,
            self.margin,
            self.cfg.merchants.gross_margin_rate,
            b.fake_reviews_per_order,
            b.min_fake_reviews_per_week,
            b.fake_review_commission_usd,
            b.risk_salience,
            self.lift,
            b.campaign_horizon_weeks,
            b.sanction_weeks_of_profit,
            b.fake_inflation_persistence,
            b.fake_rating_gain_stars,
            self.evidence_keep,
            self.suspicion_keep,
            f.quality,
            b.rating_sensitivity_per_star,
            self._rating_fac,
            st.net_sales,
            self.sellers_review,
        )
        self._live_idx_key = (self.t, n)

    # ------------------------------------------------- 3-4. demand, accounts

    def _demand_and_accounts(self) -> None:
        """Buyers split demand over platforms and stores; firms book sales, fees and profit.

        ``D_p`` = ``split_demand`` (logit over platform appeal, lognormal noise);
        store weight ``w_s`` = ``demand.store_weight``, platform total
        ``W_p = sum_s omega_f w_s`` and per-real-firm sales ``demand.allocate_sales``;
        fees ``platforms.store_fees``; net sales ``platforms.net_sales``; profit per
        platform ``merchants.channel_profit``; cash ``+= sum_p pi_fp``; loss streaks;
        each platform's sales-weighted fake-review prevalence for its trust.
        """
        cfg, b = self.cfg, self.cfg.behaviour
        st, f = self.stores, self.firms
        n = st.n
        weights = np.array([p.weight for p in self.platform_agents])
        growth = demand_rules.demand_growth(
            cfg.demand.growth_per_year, self.calendar.years_since_start(self.t)
        )
        total = demand_rules.total_demand(self.n0, cfg.demand.gmv_per_firm_per_week_usd, growth)
        noise = demand_rules.demand_noise(
            self.rng_demand.standard_normal(self.P), cfg.demand.noise_sd
        )
        d = split_demand(total, weights, noise)
        self.consumer_share = weights / weights.sum() if weights.sum() > 0 else np.zeros(self.P)
        for p in self.platform_agents:
            p.demand = float(d[p.index])
        self.platform_demand = d

        if getattr(self, "_live_idx_key", None) != (self.t, n):
            self._campaigns_index()
        k = self._n_live_idx
        idx = self._live_idx
        # store weights: the rating factor of the displayed ratings left by phase 1 (the
        # rule's numpy body on the array: vectorised exp), count factors from a table
        exp_rating = demand_rules.rating_factor.py_func(
            self._rating_fac[:k], b.rating_sensitivity_per_star
        )
        w = np.empty(k)
        totals = np.zeros(self.P)
        while True:
            need = kn.store_weights(
                idx, k, st.firm, st.platform, f.size, f.weight, f.n_act, self._npow,
                exp_rating, f.price_weight, w, totals,
            )  # fmt: skip
            if need < 0:
                break
            size = max(2 * need + 2, 64)
            self._npow = kn.count_factors(size, b.store_count_exponent)
        self.platform_weight_total = totals
        ref = np.array([p.referral_rate for p in self.platform_agents])
        ful = np.array([p.cfg.fulfilment_ads_rate for p in self.platform_agents])
        self._fee_revenue = np.zeros((self.P, 2))
        num = np.zeros(self.P)
        den = np.zeros(self.P)
        true_w = np.zeros(self.P)
        kn.store_accounts(
            n, idx, k, st.firm, st.platform, f.origin, f.weight, w, totals, d,
            st.fee_holiday_until,
            self.t, ref, ful, self.per_order, self.fixed_week, f.price,
            cfg.merchants.gross_margin_rate, st.inflation, max(b.fake_rating_gain_stars, 1e-12),
            st.gmv, st.net_sales, self.ns_pair, self._fee_revenue, num, den,
            b.rating_sensitivity_per_star, true_w,
        )  # fmt: skip
        self._consumers(totals, true_w, num, den)
        # channel_costs' k^gamma for k = 0..P channels
        kpow = kn.channel_cost_factors(self.P, b.channel_cost_exponent)
        # alive firms, and those that exited last week (booked once more: their rows
        # then hold zero profit and costs, and stay so: nothing of theirs changes)
        book = np.concatenate([self.alive_rows(), self._settle])
        booked = np.zeros(2)
        kn.firm_accounts(
            book, self.listed, f.n_act, self.ns_pair, self.camp_pair, self.running_cost, kpow,
            self.fixed_week, f.profit, f.running_cost, f.cash, f.loss_weeks, f.origin,
            f.weight, booked,
        )  # fmt: skip
        self.ledger["profit"][self.t] += booked
        # fake-review prevalence seen by buyers (sales-weighted inflation share)
        for p in self.platform_agents:
            p.prevalence = float(num[p.index] / den[p.index]) if den[p.index] > 0 else 0.0

    def _consumers(self, totals, true_w, num, den) -> None:
        """Buyers' experienced value and harm from fake reviews per platform (ODD 7.5 b).

        ``Ibar_p`` is the GMV-weighted mean inflation (``num / den`` in units of
        ``fake_rating_gain_stars``); ``W*_p / W_p`` from the true-rating weights
        ``true_w``; ``demand.harm_per_order``, ``demand.experienced_value``
        (real units: ``scale W_p``) and ``demand.utils_to_usd`` on the
        platform's GMV ``den`` (model units, as the ``gmv`` column).
        """
        b = self.cfg.behaviour
        gain = max(b.fake_rating_gain_stars, 1e-12)
        mean_infl = np.divide(num, den, out=np.zeros(self.P), where=den > 0) * gain
        ratio = np.divide(true_w, totals, out=np.zeros(self.P), where=totals > 0)
        beta_r = b.rating_sensitivity_per_star
        self.harm_per_order = demand_rules.harm_per_order(ratio, mean_infl, beta_r)
        self.consumer_value = demand_rules.experienced_value(totals * self.scale, mean_infl, beta_r)
        self.harm_usd = demand_rules.utils_to_usd(self.harm_per_order, den, b.price_sensitivity)

    def _campaigns_index(self) -> None:
        """Index of live stores when ``_campaigns`` did not run this week (tests, tools)."""
        st = self.stores
        n = st.n
        live = np.flatnonzero((st.status[:n] == ACTIVE) | (st.status[:n] == WARNED))
        self._live_idx[: live.size] = live
        self._n_live_idx = self._week_live = live.size
        self._rating_fac[: live.size] = self.firms.quality[st.firm[live]] + st.inflation[live]
        dead = np.ones(n, dtype=bool)
        dead[live] = False
        st.gmv[:n][dead] = 0.0
        st.net_sales[:n][dead] = 0.0
        self._live_idx_key = (self.t, n)

    # --------------------------------------------------------- 5. funds

    def _release_funds(self) -> None:
        """Frozen funds due this week go back to the firm's cash (or are forfeited:
        ban with forfeiture, or the firm has exited)."""
        st, f = self.stores, self.firms
        rel = np.zeros((self.P, 2))
        lost = np.zeros((self.P, 2))
        kn.release_due(
            st.n, st.frozen, st.release, st.forfeit, st.firm, st.platform, f.origin, f.weight,
            f.alive, self.t, f.cash, rel, lost,
        )  # fmt: skip
        R = self.recorder.data
        R["released_usd"][self.t] += rel
        R["forfeited_usd"][self.t] += lost

    # ---------------------------------------------------- 6. risk learning

    def _snapshot_exposure(self) -> None:
        """Live stores per (platform, firm) as enforcement begins: this week's exposure."""
        n = self.firms.n
        self.exposure = self.firms.n_live[:, :n].copy()

    def _policy_in_force(self) -> None:
        """The hold terms merchants weigh this week: their platform's, where it enforces."""
        on = np.array([e.level > 0 for e in self.enforcers])
        terms = np.where(on[:, None], self._hold_terms, self._hold_inert[None, :])
        self.held_weeks = terms[:, 0].copy()
        self.forfeit_share = terms[:, 1].copy()

    def _record_lost_to_bans(self) -> None:
        """Firms whose last live store on a platform was banned this week (before any
        new account): the firms a platform "banned off" (Amazon's count of sellers)."""
        R = self.recorder.data
        if not R["new_bans"][self.t].any():
            return
        n = self.firms.n
        # only the few firms banned somewhere this week (ascending, as a full-table mask)
        hit = np.flatnonzero(self.banned_now[:n].any(axis=1))
        lost = self.banned_now[hit] & (self.firms.n_live[:, hit].T == 0)
        for p in range(self.P):
            self.rec_firms("firms_lost_to_bans", p, hit[lost[:, p]])

    def _learn_risk(self) -> None:
        """Perceived per-store penalty rates move toward this week's observed rate.

        ``merchants.pooled_penalty_rate`` over the firm's own exposed stores and,
        for members, its association peers' (``kernels.learn_risk``), then
        ``merchants.update_risk``.
        """
        b = self.cfg.behaviour
        f = self.firms
        adj = self.adj
        kn.learn_risk(
            self.alive_rows(), adj.indptr, adj.indices, self.hits, self.exposure, f.member,
            f.risk, b.risk_learning_rate, b.peer_weight,
        )  # fmt: skip

    # ---------------------------------------------------- 7. portfolio

    def _prospects(self, rows: np.ndarray, listed: np.ndarray, n_active: np.ndarray) -> dict:
        """The numbers a reviewing firm weighs, per platform (merchants.py holds the rules).

        Expected sales at this week's demand against the other stores
        (``expected_sales``), expected profit, perceived hazard, loss if penalised
        and risk-adjusted value (one compiled pass, ``kernels.prospects``), the
        enforcement loss on current channels (``expected_enforcement_loss``) and
        the firm's honest weight.
        """
        b, f = self.cfg.behaviour, self.firms
        quality = f.quality[rows]
        prospective = np.where(n_active > 0, n_active, 1 + f.extra_stores[rows, None])
        # n^theta stays a numpy power (its SIMD pow is not libm's, bit for bit)
        count_pow = np.power(prospective, b.store_count_exponent)
        prop = mr.effective_propensity(
            f.propensity[rows], quality, b.reference_rating, b.reputation_weakness_slope
        )
        running = mr.marginal_channel_costs(listed, self.running_cost, b.channel_cost_exponent)
        others = self.platform_weight_total + self._joined_mass
        shape = (rows.size, self.P)
        w_new, est, hazard = np.empty(shape), np.empty(shape), np.empty(shape)
        profit, loss, value = np.empty(shape), np.empty(shape), np.empty(shape)
        kn.prospects(
            np.asarray(rows, dtype=np.int64), np.ascontiguousarray(n_active, dtype=np.int64),
            prospective, count_pow, f.size, f.quality, f.price, f.weight, prop, f.risk, others,
            self.platform_demand, running, self.margin, self.fixed_week, self.per_order,
            self.referral, self.fulfilment, self.held_weeks, self.forfeit_share, self.onboarding,
            b.rating_sensitivity_per_star, b.price_sensitivity, b.store_count_exponent,
            b.collateral_risk_share, b.risk_salience, b.sanction_weeks_of_profit,
            w_new, est, hazard, profit, loss, value, self.sellers_review,
        )  # fmt: skip
        return {
            "rows": rows,
            "listed": listed,
            "omega": f.weight[rows],
            "price": f.price[rows],
            "prospective": prospective,
            "w_new": w_new,
            "others": others,
            "est": est,
            "hazard": hazard,
            "running": running,
            "profit": profit,
            "value": value,
            "at_risk": mr.expected_enforcement_loss(hazard, loss, listed),
            # origins x platforms: who may join this week (managed platforms admit some)
            "admits": np.stack([p.admits(self.t) for p in self.platform_agents], axis=1),
        }

    def _one_off(self, rows: np.ndarray, prospective: np.ndarray):
        """One-off cost and cash of joining each platform now.

        Returns ``(cost, cash_in, gov)``: onboarding cost ``O_q n_fq``; the cash
        received on joining (platform subsidy and, on the own-store platform, the
        public subsidy for eligible firms); and the public subsidy alone (paid
        once per firm).
        """
        f, inc = self.firms, self.cfg.incentives
        t = self.t
        subsidy = np.array([p.subsidy for p in self.platform_agents])  # in force this week
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
        return cost, cash_in, gov

    def _join_terms(self, pros, cost, cash_in, willing, pr=slice(None), q=slice(None)):
        """The inputs of ``merchants.join_value_at`` after the expected sales
        (``merchants.JOIN_TERMS``), for the firms x platforms matrix of ``pros``
        (default) or for (firm, platform) pairs ``(pr, q)`` (index arrays)."""
        b = self.cfg.behaviour
        if isinstance(q, slice):
            n, running, hazard = pros["prospective"], pros["running"], pros["hazard"]
            price, at_risk = pros["price"][:, None], pros["at_risk"][:, None]
            wil, c, ci = willing[:, None], cost, cash_in
        else:
            n, running = pros["prospective"][pr, q], pros["running"][pr, q]
            hazard = pros["hazard"][pr, q]
            price, at_risk = pros["price"][pr], pros["at_risk"][pr]
            wil, c, ci = willing[pr], cost[pr, q], cash_in[pr, q]
        return (
            price,
            n,
            self.margin[q],
            self.fixed_week[q],
            self.per_order[q],
            running,
            self.referral[q],
            self.fulfilment[q],
            hazard,
            b.sanction_weeks_of_profit,
            self.held_weeks[q],
            self.forfeit_share[q],
            self.onboarding[q],
            at_risk,
            b.reliance_aversion,
            b.planning_horizon_weeks,
            wil,
            c,
            ci,
            self.holiday[q],
        )

    def _choose_joins(self, pros, eligible, cost, cash_in, willing, u_vetting):
        """Which platform each firm joins: at most one, among ``eligible`` (firms x platforms).

        Values (``merchants.join_value_at``) are taken at the seller base each
        platform will have once this week's joiners have joined
        (``merchants.anticipated_base``: firms anticipate one another, each
        candidate weighted by its chance to be chosen, ``merchants.choice_probability``).
        The candidates are the eligible (firm, platform) pairs with a positive value
        at the current base (a larger base lowers the expected sales). Those
        still positive at the anticipated base pass vetting when
        ``u_vetting < vetting_pass_probability``; among them the one with the
        highest value is joined (``best_only``). Returns the joins, the
        platforms each firm wanted (before vetting) and the anticipated base
        per platform.
        """
        j = mr.join_value_at(pros["est"], *self._join_terms(pros, cost, cash_in, willing))
        pr, pq = np.nonzero(eligible & (j > 0))
        anticipated = pros["others"].astype(np.float64)  # no candidates: the current base
        if pr.size:
            w_new = pros["w_new"][pr, pq]
            omega = pros["omega"][pr]
            demand = self.platform_demand[pq]
            terms = self._join_terms(pros, cost, cash_in, willing, pr, pq)
            matrix = np.column_stack([np.broadcast_to(t, pr.shape) for t in terms])
            # per row, so only the rows with a candidate are evaluated
            cand_rows, pos = np.unique(pr, return_inverse=True)
            chance = mr.choice_probability(
                eligible[cand_rows] & (j[cand_rows] > 0), j[cand_rows], self.vetting
            )[pos, pq]
            mass = chance * omega * w_new
            base = pros["others"].astype(np.float64)
            anticipated = mr.anticipated_base(
                base, pq, mass, demand, w_new, omega, matrix, 40, 1e-6
            )
            others = np.maximum(anticipated[pq] - mass, base[pq])
            est = mr.expected_sales(demand, w_new, others, omega)
            j = j.copy()
            j[pr, pq] = mr.join_value_at(est, *terms)
        wish = eligible & (j > 0)
        join = best_only(wish & (u_vetting < self.vetting[None, :]), j)
        return join, wish, anticipated

    def _portfolio_decisions(self) -> None:
        """Phase 7: banned firms react, then a random share of firms review their channels.

        (a) a new account after a ban, (b) join at most one platform, (c) leave
        platforms whose value is negative, (d) exit when nothing is left or worth
        joining. The rules are in merchants.py; this method applies them.
        """
        b, f = self.cfg.behaviour, self.firms
        n = f.n
        rng = self.rng_decisions
        alive = f.alive[:n]

        # Banned firms that lost the platform review at once; others by chance.
        u_review = self._row_uniforms(rng, n)  # one draw per firm row, alive or not
        rows = kn.review_rows(
            self.alive_rows(), u_review, b.portfolio_review_probability_per_week,
            self.banned_now, f.n_live,
        )  # fmt: skip
        if rows.size == 0:
            return
        listed = f.n_live[:, rows].T > 0  # firms x platforms listing of rows, before the review
        n_active = f.n_act[:, rows].T.astype(np.int64)
        pros = self._prospects(rows, listed, n_active)
        profit, value = pros["profit"], pros["value"]
        u = rng.random((rows.size, self.P, 2))
        # (a) new account after a ban on the same platform
        ban_rows = self.banned_now[rows] & ~listed & alive[rows, None]
        reopen = (
            ban_rows
            & (u[..., 0] < b.new_account_attempt_probability)
            & mr.new_account_worth_it(
                profit, b.planning_horizon_weeks, b.new_account_cost_usd, f.cash[rows, None]
            )
        )
        for p in range(self.P):
            pos = np.flatnonzero(reopen[:, p])
            who = rows[pos]
            if who.size == 0:
                continue
            f.cash[who] -= b.new_account_cost_usd
            self.book("new_account_cost", who, b.new_account_cost_usd)
            new = self._open_stores(who, p, 1, opened=self.t)
            det = self.enforcers[p].cfg.new_account_detection_probability
            caught = u[reopen[:, p], p, 1] < det
            self._ban_at_opening(p, new[caught])
            self.rec_firms("new_accounts", p, who)
            self.rec_firms("new_accounts_caught", p, who[caught])
            self.rec_firms("new_bans", p, who[caught])
            self.gain_cause[who[~caught], p] = CAUSE["new_account"]
            listed[pos[~caught], p] = True
        # (b) join platforms
        cost, cash_in, gov = self._one_off(rows, pros["prospective"])
        willing = self.willingness[f.origin[rows]]
        eligible = (
            ~listed
            & pros["admits"][f.origin[rows]]
            & (f.cash[rows, None] + cash_in >= cost)
            & ~ban_rows
        )
        rv = rng.random((rows.size, self.P))
        join, wish, anticipated = self._choose_joins(pros, eligible, cost, cash_in, willing, rv)
        # (c) leave platforms whose value is negative (loss-making for a while or too risky);
        # applied before the joins, so that a joiner split into rows leaves with all of them
        lw = f.loss_weeks[rows]
        leave = mr.leave_decision(listed, value, lw, b.leave_threshold_weeks, profit)
        self._apply_leaves(rows, leave)
        self._apply_joins(rows, join, pros, cost, cash_in, gov, anticipated)
        # (d) firms left with no store and nothing worth joining exit (a failed
        # vetting is not a reason to exit: they try again at their next review)
        now = f.n_live[:, rows].T > 0
        stranded = rows[~now.any(axis=1) & ~wish.any(axis=1)]
        self._exit(stranded)

    def _apply_joins(self, rows, join, pros, cost, cash_in, gov, anticipated) -> np.ndarray:
        """Open stores for the joins; pay onboarding; receive platform and public subsidies.

        A joiner that stands for several real firms and would hold more than
        ``merchants.split_share`` of the platform's anticipated sales weight is
        first split into equal rows (``population.split_pieces``, :meth:`_split`);
        all of them join. A firm that was banned on the platform before comes
        back under a new account, which the related-account check catches with
        ``new_account_detection_probability`` (the new stores are banned at once).
        The joiners' weight is added to the platform's base for the rest of the week.
        Returns, per row of ``rows``, an array of the rows split off it (empty if none).
        """
        f = self.firms
        split_off = [np.empty(0, dtype=np.int64)] * rows.size
        for p in range(self.P):
            who = join[:, p]
            if not who.any():
                continue
            self._joined_mass[p] += float((pros["omega"][who] * pros["w_new"][who, p]).sum())
            pos = np.flatnonzero(who)
            k = pop.split_pieces(
                pros["omega"][pos] * self.scale,
                pros["omega"][pos] * pros["w_new"][pos, p],
                float(anticipated[p]),
                self.cfg.merchants.split_share,
            )
            if (k > 1).any():
                many = pos[k > 1]
                kids = self._split(rows[many], k[k > 1])
                for i, c in zip(many.tolist(), kids, strict=True):
                    split_off[i] = c
                pos = np.concatenate([pos, np.repeat(many, k[k > 1] - 1)])
                firms = np.concatenate([rows[who], *kids])
            else:
                firms = rows[pos]
            if p == self.own_store:
                f.subsidised[firms[gov[pos] > 0]] = True
            f.cash[firms] += cash_in[pos, p] - cost[pos, p]
            self.book("onboarding", firms, cost[pos, p])
            self.book("subsidies", firms, cash_in[pos, p])
            n_new = np.asarray(pros["prospective"][pos, p], dtype=np.int64)
            new = self._open_stores(firms, p, n_new, opened=self.t)
            self.rec_firms("joins", p, firms)
            self.rec_firms("subsidy_usd", p, firms, cash_in[pos, p])
            back = f.ever_banned[firms, p]
            if back.any():
                det = self.enforcers[p].cfg.new_account_detection_probability
                caught = back & (self.rng_decisions.random(firms.size) < det)
                self._ban_at_opening(p, new[np.repeat(caught, n_new)])
                self.gain_cause[firms[back & ~caught], p] = CAUSE["new_account"]
                self.rec_firms("new_accounts", p, firms[back])
                self.rec_firms("new_accounts_caught", p, firms[caught])
                self.rec_firms("new_bans", p, np.repeat(firms[caught], n_new[caught]))
        return split_off

    def _split(self, parents: np.ndarray, k: np.ndarray) -> list[np.ndarray]:
        """Split firm row ``parents[i]`` into ``k[i]`` rows of equal weight (``k >= 2``).

        Super-individual splitting (Parry & Bithell 2012): the new rows are
        copies of their parent, which keeps ``1 / k`` of its weight: attributes,
        cash, perceived risk and this week's state, and a copy of every store it
        has (status, strikes, ratings, fake reviews, evidence, held funds; all
        per real firm; closed stores while they hold funds), so every weighted
        total is unchanged. From then on each
        row draws its own decisions. The copies inherit their parent's ties
        in the association network (``_inherit_ties``) and take their per-row
        draws from the pieces stream (``_row_uniforms``).
        Returns the new rows of each parent.
        """
        f, st = self.firms, self.stores
        self._apply_closes()  # stores marked for closing are closed before they are copied
        reps = np.asarray(k, dtype=np.int64) - 1
        f.weight[parents] /= k
        cap = f.capacity
        new = f.copy_rows(np.repeat(parents, reps))
        if f.capacity != cap:
            self._grow_week_buffers()
        src = np.repeat(parents, reps)
        rows = np.arange(new.start, new.stop)
        f.piece[rows] = True
        for buf in (self.hits, self.banned_now, self.loss_cause, self.gain_cause, self.listed):
            buf[rows] = buf[src]
        for buf in (self.ns_pair, self.camp_pair):
            buf[:, rows] = buf[:, src]
        # copies of the parents' stores (closed ones only while they still hold funds)
        first = np.full(f.n, -1, dtype=np.int64)
        count = np.zeros(f.n, dtype=np.int64)
        first[parents] = new.start + np.cumsum(reps) - reps
        count[parents] = reps
        n = st.n
        keep = (st.status[:n] != CLOSED) | (st.frozen[:n] > 0)
        mine = np.flatnonzero((count[st.firm[:n]] > 0) & keep)
        if mine.size:
            per, owner = _fan_out(first, count, st.firm[mine])
            cap = st.capacity
            copies = st.copy_rows(np.repeat(mine, per))
            if st.capacity != cap:
                self._alloc_store_scratch()
            st.firm[copies] = owner
            self._store_groups = None
            self.n_susp += np.bincount(
                st.platform[copies][st.status[copies] == SUSPENDED], minlength=self.P
            )
        self._inherit_ties(first, count)
        self.split += rows.size
        self._alive_key = None
        self._make_agents(rows)
        return np.split(rows, np.cumsum(reps)[:-1])

    def _inherit_ties(self, first: np.ndarray, count: np.ndarray) -> None:
        """New rows ``first[r] .. first[r] + count[r] - 1`` split off row ``r`` get a copy of
        each of ``r``'s ties (association peers), then degrees are recomputed."""
        e = self.edges
        if e.size == 0:
            return
        grown = []
        for a, b in ((0, 1), (1, 0)):
            mine = np.flatnonzero(count[e[:, a]] > 0)  # ties of split rows (either end)
            if mine.size == 0:
                continue
            per, child = _fan_out(first, count, e[mine, a])
            out = np.empty((child.size, 2), dtype=e.dtype)
            out[:, a] = child
            out[:, b] = np.repeat(e[mine, b], per)
            grown.append(out)
        if grown:
            self.edges = np.concatenate([e, *grown])
            self._set_adjacency()

    def _apply_leaves(self, rows, leave) -> None:
        """Close the stores of the platforms the firms in ``rows`` leave."""
        if not leave.any():
            return
        self._close_pairs(rows, leave)
        for p in range(self.P):
            who = rows[leave[:, p]]
            self.loss_cause[who, p] = CAUSE["voluntary"]
            self.rec_firms("leaves", p, who)

    def _exit(self, rows: np.ndarray) -> None:
        """Firms in ``rows`` leave the market: stores closed, agent removed."""
        if rows.size == 0:
            return
        f = self.firms
        rows = rows[f.alive[rows]]
        was_listed = f.n_live[:, rows].T > 0
        self._close_pairs(rows, np.ones((rows.size, self.P), dtype=bool))
        f.alive[rows] = False
        self._died.append(rows)
        self._alive_key = None
        self.book("exit_cash", rows, f.cash[rows])
        lc = self.loss_cause[rows]
        self.loss_cause[rows] = np.where(self.banned_now[rows], lc, CAUSE["exit"])
        for p in range(self.P):
            self.rec_firms("exits", p, rows[was_listed[:, p]])
        self.exited += rows.size
        q = self.cfg.behaviour.reentry_probability
        if q > 0:
            # a firm that had a store banned may come back as a new legal entity (7.9);
            # its own stream, drawn only when the option is on
            was_banned = rows[f.ever_banned[rows].any(axis=1)]
            if was_banned.size:
                back = was_banned[self.rng_reentry.random(was_banned.size) < q]
                if back.size:
                    due = self.t + self.cfg.behaviour.reentry_delay_weeks
                    self._reentry_due.append((due, back))
        agents = self.agent_of_row
        for r in rows.tolist():
            agents.pop(r).remove()

    # ------------------------------------------------------ 8. entry, exit

    def _entry_and_exit(self) -> None:
        """Exits (hazard, bankruptcy), then entrants drawn from each origin's design."""
        cfg, f = self.cfg, self.firms
        n = f.n
        # exogenous hazard and bankruptcy
        u = self._row_uniforms(self.rng_entry, n)  # one draw per firm row, alive or not
        leaving = kn.leaving_rows(
            self.alive_rows(), u, cfg.merchants.exit_hazard_per_week, f.cash,
            cfg.merchants.bankruptcy_cash_weeks, f.running_cost,
        )  # fmt: skip
        self._exit(leaving)
        # entrants: a Poisson sample of the origin's design (expected real entrants
        # entry_rate x real firms x demand growth); candidates that join nothing never enter
        growth = demand_rules.demand_growth(
            cfg.demand.growth_per_year, self.calendar.years_since_start(self.t)
        )
        for o, name in enumerate(ORIGINS):
            oc = cfg.merchants.origins[name]
            rate = oc.entry_rate_per_week * mr.entry_multiplier(self.entry_windows[o], self.t)
            k = int(self.rng_entry.poisson(rate * self.n0_by_origin[o] * growth))
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
            self._enter(o, attrs)
        self._reenter()
        if self.t % self.cfg.network.rewire_every_weeks == 0 and f.n > self._wired:
            self._rewire()

    def _reenter(self) -> None:
        """Firms that exited after a ban come back as new legal entities (ODD 7.9).

        A copy of the old model firm (same real firms, size, quality, price,
        propensity and extra stores; not an association member) enters like an
        entrant (fresh initial cash, chooses its first platform by ``J_fq``), but
        keeps its perceived risk and its predecessor's ban flags, so that joining
        a platform it was banned on goes through the related-account check (7.7).
        """
        due = [rows for week, rows in self._reentry_due if week == self.t]
        if not due:
            return
        self._reentry_due = [(w, r) for w, r in self._reentry_due if w != self.t]
        old = np.concatenate(due)
        f = self.firms
        for o in range(len(ORIGINS)):
            rows = old[f.origin[old] == o]
            if rows.size == 0:
                continue
            attrs = {
                "size": f.size[rows].copy(),
                "weight": f.weight[rows] * self.scale,
                "quality": f.quality[rows].copy(),
                "price": f.price[rows].copy(),
                "propensity": f.propensity[rows].copy(),
                "extra_stores": f.extra_stores[rows].copy(),
                "member": np.zeros(rows.size, dtype=bool),
            }
            self._enter(o, attrs, predecessors=rows)

    def _enter(
        self, origin: int, attrs: dict[str, np.ndarray], predecessors: np.ndarray | None = None
    ) -> None:
        """Candidate firms evaluate platforms like a portfolio review; joiners enter.

        ``predecessors``: for new legal entities of exited firms (``_reenter``), the
        old rows, whose perceived risk and ban flags they keep.
        """
        f, b = self.firms, self.cfg.behaviour
        oc = self.cfg.merchants.origins[ORIGINS[origin]]
        rows = self._add_firms(origin, attrs, born=self.t)
        idx = np.arange(rows.start, rows.stop)
        if predecessors is None:
            # entrants start from the (real-firm) mean perceived risk of the firms alive now
            mean_risk, n_alive = kn.mean_alive_rows(f.risk, f.weight, self.alive_rows(), rows.start)
            f.risk[:, idx] = mean_risk[:, None] if n_alive > 0 else b.initial_perceived_risk
        else:
            f.risk[:, idx] = f.risk[:, predecessors]
            f.ever_banned[idx] = f.ever_banned[predecessors]
        f.cash[idx] = mr.initial_cash(f.size[idx], oc, self.cfg.demand.gmv_per_firm_per_week_usd)
        none = np.zeros((idx.size, self.P), dtype=bool)
        pros = self._prospects(idx, none, np.zeros((idx.size, self.P), dtype=np.int64))
        cost, cash_in, gov = self._one_off(idx, pros["prospective"])
        eligible = pros["admits"][origin][None, :] & (f.cash[idx, None] + cash_in >= cost)
        rv = self.rng_entry.random((idx.size, self.P))
        willing = np.full(idx.size, oc.new_platform_propensity)
        join, _, anticipated = self._choose_joins(pros, eligible, cost, cash_in, willing, rv)
        joiners = join.any(axis=1)
        stay = idx[joiners]
        self.book("entrant_cash", stay, f.cash[stay])
        self._make_agents(stay)
        split_off = self._apply_joins(idx, join, pros, cost, cash_in, gov, anticipated)
        f.alive[idx[~joiners]] = False  # candidates who join nothing never enter
        self._alive_key = None
        for p in range(self.P):
            who = np.flatnonzero(join[:, p])
            rows_p = np.concatenate([idx[who], *(split_off[i] for i in who)])
            self.gain_cause[rows_p] = CAUSE["entry"]
            self.rec_firms("entries", p, rows_p)
        self.entered += stay.size
        if predecessors is not None:
            self.reentered += stay.size

    # ---------------------------------------------------------- 9. record

    def _record(self) -> None:
        """Weekly stocks by (platform, origin), firm counts and platform-set changes.

        Store stocks (active, warned, suspended, grey stores, GMV, frozen funds,
        live fake reviews, sales-weighted rating inflation) are summed in one
        pass over the stores; listings, multi-homing and flows in one pass over
        the firms (``kernels.record_stores``, ``kernels.record_firms``).
        """
        t, f, st, R = self.t, self.firms, self.stores, self.recorder.data
        P = self.P
        acc = np.zeros((8, P, 2))
        # association members on Amazon: [grey, on, banned, members] (member_amazon_stats)
        mem = np.zeros(4)
        # the week's pending closes (_apply_closes) are applied in the same pass
        closing = bool(self._close_rows)
        self._keep_rows = kn.record_stores(
            st.n, st.status, st.firm, st.platform, f.origin, f.weight, st.campaign, st.gmv,
            st.frozen, st.fake_live, st.inflation, acc, closing, self.close_mark, self.n_susp,
            f.member, self._member_platform, mem[:2],
        )  # fmt: skip
        if closing:
            self._clear_close_marks()
        stats = np.zeros((2, 4))
        lm = np.zeros((P, 2))
        mm = np.zeros((P, 2))
        flows = np.zeros((2, P + 1, P + 1, len(CAUSES)))
        alive = self.alive_rows()
        seen = [alive, *self._died]  # rows that may have changed listings
        kn.record_firms(
            np.concatenate(seen), f.n_live, self.listed, f.alive, f.origin, f.weight,
            self.loss_cause, self.gain_cause, stats, lm, mm, flows, P,
            f.member, f.ever_banned, self._member_platform, mem[2:],
        )  # fmt: skip
        self.listed_count = lm.sum(axis=1)
        self.firm_stats[t] = stats
        R["listed_merchants"][t] = lm
        R["multihomed_merchants"][t] = mm
        R["alive_merchants"][t] = stats[:, 0][None, :]
        active = acc[0] + acc[1]
        R["active_stores"][t] = active
        R["warned_stores"][t] = acc[1]
        R["suspended_stores"][t] = acc[2]
        self.merchant_steps += int(alive.size)  # model firms (work done), not weighted
        # active or warned stores as the week began (phase 1; the scratch count
        # _n_live_idx is reset when the store table grows later in the week)
        self.store_steps += int(self._week_live + self.n_susp.sum())
        R["banned_stores"][t] = R["new_bans"][: t + 1].sum(axis=0)
        grey = acc[3]
        R["grey_stores"][t] = grey
        R["grey_share"][t] = grey_share(grey, active)
        R["gmv"][t] = acc[4]
        R["frozen_usd"][t] = acc[5]
        R["fake_reviews_live"][t] = acc[6]
        infl_w = acc[7]
        R["rating_inflation"][t] = np.divide(
            infl_w, R["gmv"][t], out=np.zeros_like(infl_w), where=R["gmv"][t] > 0
        )
        R["fee_revenue"][t] = self._fee_revenue
        # the money ledger: stocks at the end of the week, and the flows booked by the
        # accounts that are recorded per platform (sum over platforms, by origin)
        L = self.ledger
        L["cash"][t] = np.bincount(
            f.origin[alive], weights=f.weight[alive] * f.cash[alive], minlength=2
        )
        L["frozen"][t] = acc[5].sum(axis=0)
        for key, metric in LEDGER_METRICS.items():
            L[key][t] = R[metric][t].sum(axis=0)
        for p in self.platform_agents:
            i = p.index
            R["consumer_share"][t, i] = self.consumer_share[i]
            R["trust"][t, i] = p.trust
            R["referral_fee_rate"][t, i] = p.referral_rate
            R["enforcement_intensity"][t, i] = self.enforcers[i].level
            R["enforcement_cost_usd"][t, i] = self.audit_cost[i]
            R["consumer_value"][t, i] = self.consumer_value[i]
            R["consumer_harm_per_order"][t, i] = self.harm_per_order[i]
            R["consumer_harm_usd"][t, i] = self.harm_usd[i]
            R["new_seller_subsidy_usd"][t, i] = p.subsidy
            # fees of both origins minus enforcement cost and the platform's subsidies
            # (its subsidy in force per join; the public own-store subsidy is not its)
            R["platform_net_revenue_usd"][t, i] = (
                self._fee_revenue[i].sum() - self.audit_cost[i] - p.subsidy * R["joins"][t, i].sum()
            )
        self._record_flows(flows)
        if self._member_platform >= 0:
            self.member_stats[t] = mem

    def member_amazon_stats(self) -> np.ndarray:
        """Association members on Amazon now, in model-firm weights ``omega_f``.

        ``[grey, on, banned, members]``: the members' active or warned Amazon
        stores that bought fake reviews this week (``grey``) and all of them
        (``on``); the alive members that have had an Amazon store banned (the ban
        memory ``ever_banned``, ODD 7.8) and all alive members. Recorded every
        week in ``member_stats`` (``sim.engine.runner`` takes its shares at the
        summary's dates).
        """
        f, st = self.firms, self.stores
        return kn.record_members(
            st.n, st.status, st.firm, st.platform, st.campaign,
            f.n, f.alive, f.member, f.weight, f.ever_banned, self._member_amazon,
        )  # fmt: skip

    def _record_flows(self, flows: np.ndarray) -> None:
        """Platform-set changes of firms this week as (from, to, cause) counts.

        A firm that lost platforms L and gained G adds ``1/|G|`` to each
        ``(p, q)`` pair; with no gain it adds 1 to ``(p, none)`` with the cause of
        the loss, with no loss 1 to ``(none, q)`` (cause "entry" for new firms).
        ``flows[origin, from, to, cause]`` was summed firm by firm in row order
        (``kernels.record_firms``); rows are kept sorted by (origin, from, to, cause).
        """
        o, a, b_, c = np.nonzero(flows)
        if o.size == 0:
            return
        chunk = np.empty((o.size, 6))
        chunk[:, 0] = self.t
        chunk[:, 1] = o
        chunk[:, 2] = a
        chunk[:, 3] = b_
        chunk[:, 4] = c
        chunk[:, 5] = flows[o, a, b_, c]
        self.flow_chunks.append(chunk)

    @property
    def flow_rows(self) -> list[tuple[int, int, int, int, int, float]]:
        """Flows so far as (step, origin, from, to, cause, merchants) tuples."""
        return [
            (int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), float(r[5]))
            for ch in self.flow_chunks
            for r in ch
        ]

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
        arr = (np.concatenate(self.flow_chunks) if self.flow_chunks else np.zeros((0, 6))).reshape(
            -1, 6
        )
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
            "initial_merchants": int(self.n_initial),
            "entered_merchants": int(self.entered),
            "exited_merchants": int(self.exited),
            "reentered_merchants": int(self.reentered),
            "split_merchants": int(self.split),
            "alive_merchants": int(self.firms.alive[: self.firms.n].sum()),
            "stores_opened": int(self.stores_opened),
            "live_stores": int(
                ((st.status[: st.n] >= ACTIVE) & (st.status[: st.n] <= SUSPENDED)).sum()
            ),
            "steps": int(self.t + 1),
            "spinup_steps": int(min(self.spinup, self.t + 1)),
            "recorded_steps": int(max(self.t + 1 - self.spinup, 0)),
        }


def _fan_out(first: np.ndarray, count: np.ndarray, owner: np.ndarray):
    """Items owned by rows ``owner`` (a store, a tie end), one copy per row split off
    each owner: rows ``first[r] .. first[r] + count[r] - 1`` were split off row ``r``.
    Returns the copies per item and the new row of each copy (items in order)."""
    per = count[owner]
    offset = np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)
    return per, np.repeat(first[owner], per) + offset


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
