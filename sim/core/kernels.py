"""Compiled loops (numba) behind the weekly phases of :class:`~sim.core.model.MarketModel`.

Each kernel fuses several passes over the store or firm table into one loop
and evaluates the model's rules by calling them: the rules are small compiled
ufuncs in ``merchants.py``, ``demand.py``, ``platforms.py`` and
``enforcement.py`` (see :mod:`sim.core.jit`), each with its equation in its
docstring, and the same objects are what the tests test and what numpy code
calls on arrays. The kernels hold no equation of their own, only the
bookkeeping around the rules:

- sums run in store-index order, as ``np.bincount`` does, and row sums over
  the (at most 6) platforms run left to right, as numpy reduces rows shorter
  than 8, so a kernel gives the same numbers as the numpy expression it
  replaces (numba compiles without ``fastmath``: no reassociation);
- factors that are constant over a week (``n^(theta-1)`` per store count,
  ``k^gamma`` per channel count, a firm's price factor) are evaluated once by
  the same rule on an array and looked up per store.

Kernels are compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numpy as np

from . import platforms as pl
from .demand import (
    allocate_sales,
    store_count_factor,
    store_weight,
    store_weight_from_factors,
    true_weight_factor,
)
from .jit import kernel
from .merchants import (
    age_evidence,
    bankrupt,
    campaign_cost,
    campaign_decision,
    campaign_reviews,
    channel_cost_factor,
    channel_profit,
    expected_payout,
    expected_sales,
    expected_weekly_profit,
    penalty_hazard,
    penalty_loss,
    perceived_detection,
    pooled_penalty_rate,
    risk_adjusted_value,
    risk_exposure,
    update_inflation,
    update_risk,
)

# Store status codes (same as state.py; numba needs plain module constants).
CLOSED, ACTIVE, WARNED, SUSPENDED, BANNED = 0, 1, 2, 3, 4


# ----------------------------------------------------------------- counters


@kernel
def set_status(status, firm, platform, idx, code, n_live, n_act, n_susp):
    """Set ``status[idx] = code`` and keep the per-(firm, platform) counters of live
    (active..suspended) and active (active, warned) stores and the per-platform
    count of suspended stores in step."""
    for k in range(idx.size):
        i = idx[k]
        old = status[i]
        if old == code:
            continue
        f = firm[i]
        p = platform[i]
        if ACTIVE <= old <= SUSPENDED:
            n_live[p, f] -= 1
        if old == ACTIVE or old == WARNED:
            n_act[p, f] -= 1
        if old == SUSPENDED:
            n_susp[p] -= 1
        if ACTIVE <= code <= SUSPENDED:
            n_live[p, f] += 1
        if code == ACTIVE or code == WARNED:
            n_act[p, f] += 1
        if code == SUSPENDED:
            n_susp[p] += 1
        status[i] = code


@kernel
def add_stores(firms, p, n_each, n_live, n_act):
    """Counters for ``n_each[k]`` new active stores of ``firms[k]`` on platform ``p``."""
    for k in range(firms.size):
        n_live[p, firms[k]] += n_each[k]
        n_act[p, firms[k]] += n_each[k]


@kernel
def mark_close(rows, pairs, n_live, n_act, close_mark, horizon):
    """Mark the live stores of ``(rows[k], p)`` where ``pairs[k, p]`` for closing.

    Counters drop at once; the store rows below ``horizon`` are closed by
    :func:`apply_closes` before anything reads store statuses again."""
    P = n_live.shape[0]
    for k in range(rows.size):
        f = rows[k]
        for p in range(P):
            if pairs[k, p] and n_live[p, f] > 0:
                n_live[p, f] = 0
                n_act[p, f] = 0
                close_mark[p, f] = horizon


@kernel
def apply_closes(status, firm, platform, n, close_mark, n_susp):
    """Close the live stores of marked (firm, platform) pairs opened before the mark."""
    for i in range(n):
        s = status[i]
        if ACTIVE <= s <= SUSPENDED:
            h = close_mark[platform[i], firm[i]]
            if i < h:
                if s == SUSPENDED:
                    n_susp[platform[i]] -= 1
                status[i] = CLOSED


@kernel
def select_status(ids, status, lo, hi):
    """``ids[(status[ids] >= lo) & (status[ids] <= hi)]`` (order kept)."""
    out = np.empty(ids.size, dtype=np.int64)
    k = 0
    for j in range(ids.size):
        s = status[ids[j]]
        if lo <= s <= hi:
            out[k] = ids[j]
            k += 1
    return out[:k]


@kernel
def group_live_by_platform(status, platform, n, n_platforms):
    """Indices of the live (active..suspended) stores grouped by platform, ascending
    within each: ``(order, start)``. Closed and banned rows, a large share of the
    table between compactions, are left out: no enforcement step reads them."""
    start = np.zeros(n_platforms + 1, dtype=np.int64)
    for i in range(n):
        s = status[i]
        if ACTIVE <= s <= SUSPENDED:
            start[platform[i] + 1] += 1
    for p in range(n_platforms):
        start[p + 1] += start[p]
    pos = start[:-1].copy()
    order = np.empty(start[n_platforms], dtype=np.int64)
    for i in range(n):
        s = status[i]
        if ACTIVE <= s <= SUSPENDED:
            p = platform[i]
            order[pos[p]] = i
            pos[p] += 1
    return order, start


@kernel
def ending_suspensions(ids, status, until, t):
    """Suspended stores among ``ids`` whose suspension ends by week ``t``."""
    out = np.empty(ids.size, dtype=np.int64)
    k = 0
    for j in range(ids.size):
        i = ids[j]
        if status[i] == SUSPENDED and until[i] <= t:
            out[k] = i
            k += 1
    return out[:k]


# ------------------------------------------------------------ 1. campaigns


@kernel
def campaigns(
    n,
    status,
    firm,
    platform,
    gmv,
    inflation,
    fake_live,
    evidence,
    suspicion,
    ring_slot,
    campaign_flag,
    camp_pair,
    live_idx,
    prop_eff,
    price,
    risk,
    margin,
    gross_margin,
    per_order,
    minimum,
    commission,
    salience,
    lift,
    horizon,
    sanction,
    rho,
    gain_stars,
    evidence_keep,
    suspicion_keep,
    quality,
    beta_r,
    rating_fac,
    net_sales,
    sellers_review,
):
    """Grey-practice decision of every live store and the review stock it leaves.

    Evaluates ``campaign_reviews``, ``campaign_cost``, ``perceived_detection``,
    ``campaign_decision`` and ``update_inflation`` (merchants.py) per store, in
    store order, and ages the evidence and suspicion of every live store
    (``age_evidence``, retention per platform; closed and banned stores are
    never audited again, so theirs are left as they were). Writes the live-store index
    list into ``live_idx`` and returns how many there are; for phase 3 it also
    leaves the displayed rating ``R_s = q_f + I_s`` of each live store in
    ``rating_fac`` (the caller turns it into ``demand.rating_factor`` on the
    whole array, where numpy's vectorised ``exp`` is several times faster than
    a scalar one per store) and zeroes last week's sales of stores that no
    longer sell. The campaign cost ``K`` is summed per (platform, firm) into
    ``camp_pair`` (zero on entry), store by store in store order, in a register
    while consecutive stores share the pair.
    """
    k = 0
    cp = -1
    cf = -1
    s_camp = 0.0
    for i in range(n):
        s = status[i]
        p = platform[i]
        live = s == ACTIVE or s == WARNED
        bought = 0.0
        decide = False
        cost = 0.0
        if live:
            live_idx[k] = i
            k += 1
            f = firm[i]
            g = gmv[i]
            pr = price[f]
            reviews = campaign_reviews(g, pr, per_order, minimum)
            review_cost = campaign_cost(reviews, pr, gross_margin, commission)
            p_hat = perceived_detection(risk[p, f], salience)
            # on a managed platform (``sellers_review`` false) the platform runs listings
            # and reviews: its sellers never buy reviews
            decide = sellers_review[p] and campaign_decision(
                prop_eff[f], g * margin[p], review_cost, p_hat, lift, horizon, sanction
            )
            if decide:
                bought = reviews
                cost = review_cost
            if p != cp or f != cf:
                if cp >= 0:
                    camp_pair[cp, cf] = s_camp
                cp = p
                cf = f
                s_camp = camp_pair[p, f]
            s_camp += cost
            infl = update_inflation(inflation[i], decide, gain_stars, rho)
            inflation[i] = infl
            rating_fac[k - 1] = quality[f] + infl  # displayed rating R_s
        else:
            inflation[i] = 0.0
            gmv[i] = 0.0
            net_sales[i] = 0.0
        campaign_flag[i] = decide
        if ACTIVE <= s <= SUSPENDED:  # closed and banned stores are never audited again
            # written without a branch on ``bought`` (a campaign is a coin flip to the
            # branch predictor); adding +0 to a non-negative stock changes no bit
            fake_live[i] += bought
            evidence[i] = age_evidence(evidence[i], bought, evidence_keep[p])
            su = suspicion[i]
            if su > 0.0:
                suspicion[i] = age_evidence(su, 0.0, suspicion_keep[p])
        ring_slot[i] = bought
    if cp >= 0:
        camp_pair[cp, cf] = s_camp
    return k


# ------------------------------------------------- 3-4. demand and accounts


@kernel
def count_factors(size, exponent):
    """``demand.store_count_factor(n)`` for store counts ``n = 0 .. size - 1``.

    This and :func:`channel_cost_factors` evaluate a rule over a small table in a
    cached loop: the rule's ufunc on an array would have numba build its loop
    wrapper in every process (~0.1 s each). Same rule, same numbers.
    """
    out = np.empty(size)
    for n in range(size):
        out[n] = store_count_factor(n, exponent)
    return out


@kernel
def channel_cost_factors(n_platforms, exponent):
    """``merchants.channel_cost_factor(k)`` (``k^gamma``) for ``k = 0 .. n_platforms``."""
    out = np.empty(n_platforms + 1)
    for k in range(n_platforms + 1):
        out[k] = channel_cost_factor(float(k), exponent)
    return out


@kernel
def store_weights(
    live_idx, k, firm, platform, size, weight, n_act, npow, rating_fac, price_fac, weights, totals
):
    """``w_s`` (``demand.store_weight_from_factors``) and ``W_p = sum_s omega_f w_s``.

    ``omega_f`` is the firm's weight in model-firm equivalents (a model firm
    stands for ``omega_f * scale`` identical real firms, each selling ``G_s``).
    ``npow[n]`` holds ``demand.store_count_factor(n)``; returns -1, or a store
    count that ``npow`` does not cover (the caller extends it and calls again).
    """
    for p in range(totals.size):
        totals[p] = 0.0
    for j in range(k):
        i = live_idx[j]
        f = firm[i]
        p = platform[i]
        na = n_act[p, f]
        if na >= npow.size:
            return na
        w = store_weight_from_factors(size[f], npow[na], rating_fac[j], price_fac[f])
        weights[j] = w
        totals[p] += weight[f] * w
    return -1


@kernel
def store_accounts(
    n,
    live_idx,
    k,
    firm,
    platform,
    origin,
    weight,
    weights,
    totals,
    demand,
    fee_holiday_until,
    t,
    ref,
    ful,
    per_order,
    fixed_week,
    price,
    gross_margin,
    inflation,
    infl_scale,
    gmv,
    net_sales,
    ns_pair,
    fee_rev,
    prev_num,
    prev_den,
    beta_r,
    true_w,
):
    """Store sales, fees and net sales; sums per (firm, platform) and per platform.

    Per real firm: ``G_s = D_p w_s / W_p`` (``demand.allocate_sales``), fees
    (``platforms.store_fees``; none in a fee holiday's referral part) and
    ``N_s`` (``platforms.net_sales``). Platform sums (fee revenue per origin,
    the sales-weighted prevalence terms, ``true_w``: ``W*_p = sum_s omega_f w_s
    demand.true_weight_factor(I_s)`` for the consumer harm) weigh each store by
    its firm's ``omega_f``. ``ns_pair`` must be zero on entry (``firm_accounts`` clears
    what it reads). Running sums stay in registers while consecutive stores
    share a key; each run starts from the stored value, so every sum is still
    taken store by store in store order. Stores not selling had their sales
    zeroed by ``campaigns``.
    """
    cp = -1  # current (platform, firm) run
    cf = -1
    s_ns = 0.0
    cq = -1  # current platform run
    s_num = 0.0
    s_den = 0.0
    s_tw = 0.0
    co = -1  # current (platform, origin) run
    s_fee = 0.0
    for j in range(k):
        i = live_idx[j]
        f = firm[i]
        p = platform[i]
        o = origin[f]
        om = weight[f]
        g = allocate_sales(demand[p], weights[j], totals[p])
        gmv[i] = g
        fees = pl.store_fees(
            g, ref[p], fee_holiday_until[i] > t, ful[p], per_order[p], price[f], fixed_week[p]
        )
        ns = pl.net_sales(g, gross_margin, fees)
        net_sales[i] = ns
        if p != cp or f != cf:
            if cp >= 0:
                ns_pair[cp, cf] = s_ns
            cp = p
            cf = f
            s_ns = ns_pair[p, f]
        s_ns += ns
        if p != cq:
            if cq >= 0:
                prev_num[cq] = s_num
                prev_den[cq] = s_den
                true_w[cq] = s_tw
            cq = p
            s_num = prev_num[p]
            s_den = prev_den[p]
            s_tw = true_w[p]
        s_num += om * g * (inflation[i] / infl_scale)
        s_den += om * g
        s_tw += om * weights[j] * true_weight_factor(inflation[i], beta_r)
        po = p * 2 + o
        if po != co:
            if co >= 0:
                fee_rev[co // 2, co % 2] = s_fee
            co = po
            s_fee = fee_rev[p, o]
        s_fee += om * fees
    if cp >= 0:
        ns_pair[cp, cf] = s_ns
    if cq >= 0:
        prev_num[cq] = s_num
        prev_den[cq] = s_den
        true_w[cq] = s_tw
    if co >= 0:
        fee_rev[co // 2, co % 2] = s_fee


@kernel
def firm_accounts(
    rows,
    listed,
    n_act,
    ns_pair,
    camp_pair,
    running_cost_p,
    kpow,
    fixed_week,
    profit,
    running_cost,
    cash,
    loss_weeks,
    origin,
    weight,
    booked,
):
    """Weekly profit per platform, running cost, cash and loss streaks of every firm.

    ``pi_fp = net_fp - C_p k_f^gamma [listed] - K_fp`` (``merchants.channel_profit``),
    running cost ``sum_p C_p k^gamma + sum_p n_fp F_p``, cash ``+= sum_p pi_fp``.
    ``booked[o]`` adds ``sum_f omega_f sum_p pi_fp`` by origin (the money ledger).
    """
    P = listed.shape[1]
    for r in range(rows.size):
        f = rows[r]
        kk = 0
        for p in range(P):
            if listed[f, p]:
                kk += 1
        scale = kpow[kk]
        cc_sum = 0.0
        fix_sum = 0.0
        psum = 0.0
        for p in range(P):
            lst = listed[f, p]
            cc = running_cost_p[p] * scale if lst else 0.0
            na = n_act[p, f]
            if na > 0:
                pr = channel_profit(ns_pair[p, f], cc, camp_pair[p, f])
                ns_pair[p, f] = 0.0  # cleared for next week's store_accounts
                camp_pair[p, f] = 0.0
            else:
                pr = channel_profit(0.0, cc, 0.0)
            profit[f, p] = pr
            cc_sum += cc
            fix_sum += na * fixed_week[p]
            psum += pr
            if lst and pr < 0:
                loss_weeks[f, p] = loss_weeks[f, p] + 1
            else:
                loss_weeks[f, p] = 0
        running_cost[f] = cc_sum + fix_sum
        cash[f] += psum
        booked[origin[f]] += weight[f] * psum


# ----------------------------------------------------------- 5. funds due


@kernel
def release_due(
    n, frozen, release, forfeit, firm, platform, origin, weight, alive, t, cash, rel, lost
):
    """Release frozen funds due by week ``t`` (or forfeit them); weighted sums per
    (platform, origin). A hold is per real store: the firm's cash gets ``Z_s``."""
    for i in range(n):
        a = frozen[i]
        if a > 0 and release[i] <= t:
            f = firm[i]
            if not forfeit[i] and alive[f]:
                cash[f] += a
                rel[platform[i], origin[f]] += weight[f] * a
            else:
                lost[platform[i], origin[f]] += weight[f] * a
            frozen[i] = 0.0
            forfeit[i] = False


# ---------------------------------------------------------- 6. risk learning


@kernel
def learn_risk(rows, indptr, indices, hits, exposure, member, risk, rate, peer_w):
    """Perceived per-store penalty rates from own and peers' store-weeks (``update_risk``).

    For firm ``f`` and platform ``p``: own penalised stores ``h_fp`` out of
    ``e_fp`` stores exposed (live when enforcement began this week), and the
    sums over its association ties ``sum_j h_jp``, ``sum_j e_jp``; the signal
    is ``merchants.pooled_penalty_rate`` (peers count with weight ``w`` for
    members, 0 for others). A week with no exposure leaves ``r_fp`` unchanged.
    ``hits`` is (firms, platforms), ``exposure`` (platforms, firms).
    """
    P = risk.shape[0]
    ph = np.zeros(P)
    pe = np.zeros(P)
    for r in range(rows.size):
        f = rows[r]
        for p in range(P):
            ph[p] = 0.0
            pe[p] = 0.0
        w = peer_w if member[f] else 0.0
        if w > 0.0:
            for e in range(indptr[f], indptr[f + 1]):
                j = indices[e]
                for p in range(P):
                    ph[p] += hits[j, p]
                    pe[p] += exposure[p, j]
        for p in range(P):
            x = pooled_penalty_rate(float(hits[f, p]), float(exposure[p, f]), ph[p], pe[p], w)
            risk[p, f] = update_risk(risk[p, f], x, rate)


# ------------------------------------------------------------- 9. record


@kernel
def record_stores(
    n,
    status,
    firm,
    platform,
    origin,
    weight,
    campaign,
    gmv,
    frozen,
    fake_live,
    inflation,
    acc,
    closing,
    close_mark,
    n_susp,
    member,
    member_platform,
    mem,
):
    """Store stocks per (platform, origin), each store weighted by its firm's ``omega_f``.

    ``acc[k]`` rows: 0 active, 1 warned, 2 suspended, 3 grey, 4 gmv, 5 frozen,
    6 fake reviews live, 7 inflation x gmv; returns the number of rows that
    compaction would keep. Sums run in registers while consecutive stores share
    (platform, origin), starting from the stored value (store order kept).

    With ``closing``, each store row is first closed as :func:`apply_closes`
    would (same rule, same row: it reads nothing of other rows), so the
    pending closes of the week cost no pass of their own.

    ``mem`` (2 values) receives what :func:`record_members` sums over the
    stores for platform ``member_platform`` (-1: none): association members'
    grey and all active or warned stores, in row order."""
    keep = 0
    cur = -1
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    for i in range(n):
        s = status[i]
        if closing and ACTIVE <= s <= SUSPENDED and i < close_mark[platform[i], firm[i]]:
            if s == SUSPENDED:
                n_susp[platform[i]] -= 1
            s = CLOSED
            status[i] = CLOSED
        if (s == CLOSED or s == BANNED) and frozen[i] <= 0.0 and gmv[i] == 0.0:
            # a dead row with no funds held and no sales this week adds only zeros
            # (its inflation is zero too); skip its firm's look-ups. Sums start at +0
            # and add non-negative terms, so leaving out a +0 changes no bit.
            continue
        p = platform[i]
        f = firm[i]
        o = origin[f]
        om = weight[f]
        key = p * 2 + o
        if key != cur:
            if cur >= 0:
                q, r = cur // 2, cur % 2
                acc[0, q, r] = a0
                acc[1, q, r] = a1
                acc[2, q, r] = a2
                acc[3, q, r] = a3
                acc[4, q, r] = a4
                acc[5, q, r] = a5
                acc[6, q, r] = a6
                acc[7, q, r] = a7
            cur = key
            a0 = acc[0, p, o]
            a1 = acc[1, p, o]
            a2 = acc[2, p, o]
            a3 = acc[3, p, o]
            a4 = acc[4, p, o]
            a5 = acc[5, p, o]
            a6 = acc[6, p, o]
            a7 = acc[7, p, o]
        if s == ACTIVE:
            a0 += om
        elif s == WARNED:
            a1 += om
        elif s == SUSPENDED:
            a2 += om
        if p == member_platform and member[f] and (s == ACTIVE or s == WARNED):
            mem[1] += om
            if campaign[i]:
                mem[0] += om
        if campaign[i] and (s == ACTIVE or s == WARNED):
            a3 += om
        g = gmv[i]
        a4 += om * g
        fz = frozen[i]
        if fz > 0:
            a5 += om * fz
        if ACTIVE <= s <= SUSPENDED:
            a6 += om * fake_live[i]
        a7 += om * inflation[i] * g
        if (s != CLOSED and s != BANNED) or fz > 0:
            keep += 1
    if cur >= 0:
        q, r = cur // 2, cur % 2
        acc[0, q, r] = a0
        acc[1, q, r] = a1
        acc[2, q, r] = a2
        acc[3, q, r] = a3
        acc[4, q, r] = a4
        acc[5, q, r] = a5
        acc[6, q, r] = a6
        acc[7, q, r] = a7
    return keep


@kernel
def record_members(ns, status, firm, platform, campaign, n, alive, member, weight, banned, p):
    """Association members on platform ``p``: ``[grey, on, banned, members]`` in weights.

    ``on``: active or warned stores of members on ``p`` (``grey``: those with a
    campaign), each weighted by its firm's ``omega_f``; ``members``: alive
    members, ``banned``: those of them with ``banned[f, p]`` (the ban memory).
    Sums run in row order."""
    out = np.zeros(4)
    for i in range(ns):
        s = status[i]
        if platform[i] == p and (s == ACTIVE or s == WARNED):
            f = firm[i]
            if member[f]:
                out[1] += weight[f]
                if campaign[i]:
                    out[0] += weight[f]
    for f in range(n):
        if alive[f] and member[f]:
            out[3] += weight[f]
            if banned[f, p]:
                out[2] += weight[f]
    return out


@kernel
def record_firms(
    rows,
    n_live,
    listed,
    alive,
    origin,
    weight,
    loss_cause,
    gain_cause,
    stats,
    lm,
    mm,
    flows,
    none,
    member,
    banned,
    member_platform,
    memf,
):
    """Listings, firm counts and platform-set changes (flows) of every firm row.

    Every firm counts with its weight ``omega_f`` (model-firm equivalents).
    ``listed`` holds last week's listings on entry (none for rows that entered
    this week; those split off a firm this week carry their parent's) and this
    week's on return.
    ``stats[o]``: alive, listed anywhere, on 2+ platforms, memberships;
    ``lm``/``mm``: listed and multi-homed merchants per (platform, origin);
    ``flows[o, from, to, cause]``: as ``MarketModel._record_flows`` explains,
    summed firm by firm in row order. ``memf`` (2 values) receives what
    :func:`record_members` sums over the firms for platform ``member_platform``
    (-1: none): alive members ever banned there and all alive members (``rows``
    must list the alive rows in ascending order first). Returns the number of
    firms whose platform set changed.
    """
    P = n_live.shape[0]
    hist = np.zeros((2, 1 << P))
    n_alive = np.zeros(2)
    changed = 0
    for r in range(rows.size):
        f = rows[r]
        o = origin[f]
        om = weight[f]
        if alive[f]:
            n_alive[o] += om
            if member_platform >= 0 and member[f]:
                memf[1] += om
                if banned[f, member_platform]:
                    memf[0] += om
        mask = 0
        before = 0
        for p in range(P):
            if n_live[p, f] > 0:
                mask |= 1 << p
            if listed[f, p]:
                before |= 1 << p
        hist[o, mask] += om
        if mask == before:
            continue
        changed += 1
        lost = before & ~mask
        gained = mask & ~before
        nL = 0
        nG = 0
        for p in range(P):
            listed[f, p] = ((mask >> p) & 1) == 1
            nL += (lost >> p) & 1
            nG += (gained >> p) & 1
        if nG == 0:
            for p in range(P):
                if (lost >> p) & 1:
                    flows[o, p, none, loss_cause[f, p]] += om
        elif nL == 0:
            for q in range(P):
                if (gained >> q) & 1:
                    flows[o, none, q, gain_cause[f, q]] += om
        else:
            share = om / nG
            for p in range(P):
                if (lost >> p) & 1:
                    for q in range(P):
                        if (gained >> q) & 1:
                            flows[o, p, q, loss_cause[f, p]] += share
    for o in range(2):
        stats[o, 0] += n_alive[o]
        for mask in range(1 << P):
            c = hist[o, mask]
            if c == 0:
                continue
            kk = 0
            for p in range(P):
                kk += (mask >> p) & 1
            if kk > 0:
                stats[o, 1] += c
            if kk >= 2:
                stats[o, 2] += c
            stats[o, 3] += kk * c
            for p in range(P):
                if (mask >> p) & 1:
                    lm[p, o] += c
                    if kk >= 2:
                        mm[p, o] += c
    return changed


# ------------------------------------------------------------ 8. entrants


@kernel
def leaving_rows(alive_rows, u, hazard, cash, cash_weeks, running_cost):
    """Alive firms that exit this week: the exogenous hazard (``u < hazard``) or
    ``merchants.bankrupt``; ascending, as ``alive_rows``. Dead rows are not visited."""
    out = np.empty(alive_rows.size, dtype=np.int64)
    k = 0
    for r in range(alive_rows.size):
        f = alive_rows[r]
        if u[f] < hazard or bankrupt(cash[f], cash_weeks, running_cost[f]):
            out[k] = f
            k += 1
    return out[:k]


@kernel
def mean_alive_rows(x, weight, alive_rows, n):
    """Weighted means over alive rows ``f < n`` of ``x[p, f]`` per ``p`` (real-firm means)."""
    P = x.shape[0]
    s = np.zeros(P)
    c = 0.0
    end = 0  # alive_rows is ascending: rows below n are a prefix
    while end < alive_rows.size and alive_rows[end] < n:
        end += 1
    for r in range(end):
        c += weight[alive_rows[r]]
    # one platform at a time: x[p] is one row of the (platforms, firms) table, so
    # this walks it in order instead of touching P distant rows per firm; each
    # sum still runs over the firms in row order
    for p in range(P):
        acc = 0.0
        for r in range(end):
            f = alive_rows[r]
            acc += weight[f] * x[p, f]
        s[p] = acc
    if c > 0:
        for p in range(P):
            s[p] = s[p] / c
    return s, c


# ------------------------------------------------------------- 7. portfolio


@kernel
def review_rows(alive_rows, u, prob, banned_now, n_live):
    """Alive firms that review their portfolio: by chance (``u < prob``) or because a
    ban this week cost them a platform (banned there and no live store left)."""
    P = n_live.shape[0]
    out = np.empty(alive_rows.size, dtype=np.int64)
    k = 0
    for r in range(alive_rows.size):
        f = alive_rows[r]
        hit = u[f] < prob
        if not hit:
            for p in range(P):
                if banned_now[f, p] and n_live[p, f] == 0:
                    hit = True
                    break
        if hit:
            out[k] = f
            k += 1
    return out[:k]


@kernel
def prospects(
    rows,
    n_active,
    prospective,
    count_pow,
    size,
    quality,
    price,
    weight,
    prop,
    risk,
    others,
    demand,
    running,
    margin,
    fixed_week,
    per_order,
    referral,
    fulfilment,
    held_weeks,
    forfeit_share,
    onboarding,
    beta_r,
    beta_p,
    theta,
    collateral,
    salience,
    sanction,
    w_new,
    est,
    hazard,
    profit,
    loss,
    value,
    sellers_review,
):
    """Per (reviewing firm ``rows[r]``, platform ``p``): the numbers of ``MarketModel._prospects``.

    The honest weight of the firm's prospective stores ``w_new`` (``demand.store_weight``
    of one store at true quality times ``count_pow = n^theta``, evaluated by numpy),
    expected sales against the platform's other stores (``merchants.expected_sales``;
    base ``max(W'_p - omega_f w_cur, 0)``, ``w_cur`` the weight of the stores it has),
    perceived hazard (``perceived_detection``, ``risk_exposure`` of the effective
    propensity ``prop[r]``, ``penalty_hazard``; on a managed platform, where sellers
    cannot buy reviews (``sellers_review`` false), the exposure is the collateral share
    alone: ``risk_exposure(0, c_coll)``), expected profit, payout, loss if
    penalised and risk-adjusted value (``expected_weekly_profit``,
    ``expected_payout``, ``penalty_loss``, ``risk_adjusted_value``). One fused pass
    instead of a dozen (firms x platforms) numpy temporaries; each element is the
    same rule on the same inputs, so the numbers are those of the ufuncs on arrays.
    """
    P = others.size
    for r in range(rows.size):
        f = rows[r]
        om = weight[f]
        pr = price[f]
        w_one = store_weight(size[f], 1, quality[f], pr, beta_r, beta_p, theta)
        exposure = risk_exposure(prop[r], collateral)
        honest = risk_exposure(0.0, collateral)  # no review to buy: collateral only
        for p in range(P):
            wn = w_one * count_pow[r, p]
            w_new[r, p] = wn
            w_cur = wn if n_active[r, p] > 0 else 0.0
            x = others[p] - om * w_cur
            base = x if (x >= 0.0 or x != x) else 0.0  # np.maximum(x, 0.0)
            g = expected_sales(demand[p], wn, base, om)
            est[r, p] = g
            h = penalty_hazard(
                perceived_detection(risk[p, f], salience),
                exposure if sellers_review[p] else honest,
            )
            hazard[r, p] = h
            n = prospective[r, p]
            pi = expected_weekly_profit(
                g, pr, n, margin[p], fixed_week[p], per_order[p], running[r, p]
            )
            pay = expected_payout(g, pr, n, referral[p], fulfilment[p], per_order[p], fixed_week[p])
            k = penalty_loss(pi, pay, n, sanction, held_weeks[p], forfeit_share[p], onboarding[p])
            profit[r, p] = pi
            loss[r, p] = k
            value[r, p] = risk_adjusted_value(pi, h, k)
