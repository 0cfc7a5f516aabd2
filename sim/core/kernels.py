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
from .demand import allocate_sales, rating_factor, store_weight_from_factors
from .jit import kernel
from .merchants import (
    campaign_cost,
    campaign_decision,
    campaign_reviews,
    channel_profit,
    peer_penalty_share,
    perceived_detection,
    risk_signal,
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
def group_by_platform(platform, n, n_platforms):
    """Store indices grouped by platform (ascending within each): ``(order, start)``."""
    start = np.zeros(n_platforms + 1, dtype=np.int64)
    for i in range(n):
        start[platform[i] + 1] += 1
    for p in range(n_platforms):
        start[p + 1] += start[p]
    pos = start[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
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
    quality,
    beta_r,
    rating_fac,
    net_sales,
):
    """Grey-practice decision of every live store and the review stock it leaves.

    Evaluates ``campaign_reviews``, ``perceived_detection``, ``campaign_decision``
    and ``update_inflation`` (merchants.py) per store, in store order. Writes the
    live-store index list into ``live_idx`` and returns how many there are; for
    phase 3 it also leaves ``demand.rating_factor`` of each live store in
    ``rating_fac`` (``R_s = q_f + I_s``) and zeroes
    last week's sales of stores that no longer sell. The campaign cost ``K``
    is summed per (platform, firm) into ``camp_pair`` (zero on entry), store by
    store in store order, in a register while consecutive stores share the pair.
    """
    k = 0
    cp = -1
    cf = -1
    s_camp = 0.0
    for i in range(n):
        s = status[i]
        live = s == ACTIVE or s == WARNED
        bought = 0.0
        decide = False
        cost = 0.0
        if live:
            live_idx[k] = i
            k += 1
            f = firm[i]
            p = platform[i]
            g = gmv[i]
            pr = price[f]
            reviews = campaign_reviews(g, pr, per_order, minimum)
            review_cost = campaign_cost(reviews, pr, gross_margin, commission)
            p_hat = perceived_detection(risk[p, f], salience)
            decide = campaign_decision(
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
            rating_fac[k - 1] = rating_factor(quality[f] + infl, beta_r)
        else:
            inflation[i] = 0.0
            gmv[i] = 0.0
            net_sales[i] = 0.0
        campaign_flag[i] = decide
        fake_live[i] += bought
        ring_slot[i] = bought
    if cp >= 0:
        camp_pair[cp, cf] = s_camp
    return k


# ------------------------------------------------- 3-4. demand and accounts


@kernel
def store_weights(
    live_idx, k, firm, platform, size, n_act, npow, exp_rating, price_pow, weights, totals
):
    """``w_s = size_f n_fp^(theta-1) exp(.) price_f^(-beta_p)`` and ``W_p = sum w_s``.

    ``npow[n]`` holds ``max(n, 1)^(theta - 1)``; returns -1, or a store count
    that ``npow`` does not cover (the caller extends it and calls again).
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
        w = store_weight_from_factors(size[f], npow[na], exp_rating[j], price_pow[f])
        weights[j] = w
        totals[p] += w
    return -1


@kernel
def store_accounts(
    n,
    live_idx,
    k,
    firm,
    platform,
    origin,
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
):
    """Store sales, fees and net sales; sums per (firm, platform) and per platform.

    ``GMV_s = D_p w_s / W_p`` (``allocate``); fees = referral (none in a fee
    holiday) + fulfilment/ads + per-order + fixed; ``net = GMV m - fees``.
    ``ns_pair`` must be zero on entry (``firm_accounts`` clears what it reads).
    Running sums stay in registers while consecutive stores share a key; each
    run starts from the stored value, so every sum is still taken store by
    store in store order (as ``np.bincount``). Stores not selling had their
    sales zeroed by ``campaigns``.
    """
    cp = -1  # current (platform, firm) run
    cf = -1
    s_ns = 0.0
    cq = -1  # current platform run
    s_num = 0.0
    s_den = 0.0
    co = -1  # current (platform, origin) run
    s_fee = 0.0
    for j in range(k):
        i = live_idx[j]
        f = firm[i]
        p = platform[i]
        o = origin[f]
        tot = totals[p]
        g = allocate_sales(demand[p], weights[j], tot)
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
            cq = p
            s_num = prev_num[p]
            s_den = prev_den[p]
        s_num += g * (inflation[i] / infl_scale)
        s_den += g
        po = p * 2 + o
        if po != co:
            if co >= 0:
                fee_rev[co // 2, co % 2] = s_fee
            co = po
            s_fee = fee_rev[p, o]
        s_fee += fees
    if cp >= 0:
        ns_pair[cp, cf] = s_ns
    if cq >= 0:
        prev_num[cq] = s_num
        prev_den[cq] = s_den
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
):
    """Weekly profit per platform, running cost, cash and loss streaks of every firm.

    ``pi_fp = net_fp - C_p k_f^gamma [listed] - K_fp`` (``channel_costs``),
    running cost ``sum_p C_p k^gamma + sum_p n_fp F_p``, cash ``+= sum_p pi_fp``.
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


# ----------------------------------------------------------- 5. funds due


@kernel
def release_due(n, frozen, release, forfeit, firm, platform, origin, alive, t, cash, rel, lost):
    """Release frozen funds due by week ``t`` (or forfeit them); sums per (platform, origin)."""
    for i in range(n):
        a = frozen[i]
        if a > 0 and release[i] <= t:
            f = firm[i]
            if not forfeit[i] and alive[f]:
                cash[f] += a
                rel[platform[i], origin[f]] += a
            else:
                lost[platform[i], origin[f]] += a
            frozen[i] = 0.0
            forfeit[i] = False


# ---------------------------------------------------------- 6. risk learning


@kernel
def learn_risk(
    n, rows, indptr, indices, penalised, seen_now, listed_prev, member, risk, rate, peer_w
):
    """``r <- r + alpha (x - r)``, ``x = (1 - w) own + w peer`` (``update_risk``), with
    ``peer = hits / max(1, seen)`` over association ties (``peer_penalty_share``).

    A peer is "seen" on ``p`` if it is listed there now (``seen_now``, live
    store counts), was listed last week or was penalised there. Hits and seen
    are whole numbers, so counting them through per-firm bit masks is exact.
    """
    P = risk.shape[0]
    # dead rows hold no store and no penalty: their masks stay 0
    pen = np.zeros(n, dtype=np.uint8)
    seen = np.zeros(n, dtype=np.uint8)
    for r in range(rows.size):
        j = rows[r]
        a = 0
        b = 0
        for p in range(P):
            x = penalised[j, p]
            if x:
                a |= 1 << p
            if x or seen_now[p, j] > 0 or listed_prev[j, p]:
                b |= 1 << p
        pen[j] = a
        seen[j] = b
    hits = np.zeros(P, dtype=np.int64)
    cnt = np.zeros(P, dtype=np.int64)
    for r in range(rows.size):
        f = rows[r]
        for p in range(P):
            hits[p] = 0
            cnt[p] = 0
        for e in range(indptr[f], indptr[f + 1]):
            j = indices[e]
            a = pen[j]
            b = seen[j]
            if a == 0 and b == 0:
                continue
            for p in range(P):
                hits[p] += (a >> p) & 1
                cnt[p] += (b >> p) & 1
        w = peer_w if member[f] else 0.0
        own_mask = pen[f]
        for p in range(P):
            own = 1.0 if (own_mask >> p) & 1 else 0.0
            peer = peer_penalty_share(float(hits[p]), float(cnt[p]))
            risk[p, f] = update_risk(risk[p, f], risk_signal(own, peer, w), rate)


# ------------------------------------------------------------- 9. record


@kernel
def record_stores(
    n, status, firm, platform, origin, campaign, gmv, frozen, fake_live, inflation, acc
):
    """Store stocks per (platform, origin), summed in store order.

    ``acc[k]`` rows: 0 active, 1 warned, 2 suspended, 3 grey, 4 gmv, 5 frozen,
    6 fake reviews live, 7 inflation x gmv; returns the number of rows that
    compaction would keep. Sums run in registers while consecutive stores share
    (platform, origin), starting from the stored value (store order kept)."""
    keep = 0
    cur = -1
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    for i in range(n):
        s = status[i]
        p = platform[i]
        o = origin[firm[i]]
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
            a0 += 1.0
        elif s == WARNED:
            a1 += 1.0
        elif s == SUSPENDED:
            a2 += 1.0
        if campaign[i] and (s == ACTIVE or s == WARNED):
            a3 += 1.0
        g = gmv[i]
        a4 += g
        fz = frozen[i]
        if fz > 0:
            a5 += fz
        if ACTIVE <= s <= SUSPENDED:
            a6 += fake_live[i]
        a7 += inflation[i] * g
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
def record_firms(
    rows, n_old, n_live, listed, alive, origin, loss_cause, gain_cause, stats, lm, mm, flows, none
):
    """Listings, firm counts and platform-set changes (flows) of every firm row.

    ``listed`` holds last week's listings on entry and this week's on return.
    ``stats[o]``: alive, listed anywhere, on 2+ platforms, memberships;
    ``lm``/``mm``: listed and multi-homed merchants per (platform, origin);
    ``flows[o, from, to, cause]``: as ``MarketModel._record_flows`` explains,
    summed firm by firm in row order. Counts (integers) are tallied as a
    histogram of listing sets by origin. Returns the number of firms whose
    platform set changed.
    """
    P = n_live.shape[0]
    hist = np.zeros((2, 1 << P), dtype=np.int64)
    n_alive = np.zeros(2, dtype=np.int64)
    changed = 0
    for r in range(rows.size):
        f = rows[r]
        o = origin[f]
        if alive[f]:
            n_alive[o] += 1
        mask = 0
        before = 0
        for p in range(P):
            if n_live[p, f] > 0:
                mask |= 1 << p
            if f < n_old and listed[f, p]:
                before |= 1 << p
        hist[o, mask] += 1
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
                    flows[o, p, none, loss_cause[f, p]] += 1.0
        elif nL == 0:
            for q in range(P):
                if (gained >> q) & 1:
                    flows[o, none, q, gain_cause[f, q]] += 1.0
        else:
            share = 1.0 / nG
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
def mean_alive_rows(x, alive_rows, n):
    """Means over alive rows ``f < n`` of ``x[p, f]`` per ``p`` (rows added one by one,
    as numpy's ``x[:n][alive].mean(axis=0)`` on the row-major layout)."""
    P = x.shape[0]
    s = np.zeros(P)
    c = 0
    for r in range(alive_rows.size):
        f = alive_rows[r]
        if f >= n:
            break
        c += 1
        for p in range(P):
            s[p] += x[p, f]
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
