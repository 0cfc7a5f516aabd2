"""Compiled loops (numba) behind the weekly phases of :class:`~sim.core.model.MarketModel`.

Each kernel fuses several numpy passes over the store or firm table into one
loop. They are written to give bit-identical results to the numpy expressions
they replace (see docs/performance.md, "Exactness"):

- every floating-point expression keeps the operand order of the rule it
  implements (numba compiles without ``fastmath``, so no reassociation and no
  FMA contraction);
- sums run in store-index order, as ``np.bincount`` does, and row sums over
  the (at most 6) platforms run left to right, as numpy reduces rows shorter
  than 8;
- transcendental functions (``exp``, ``power``) are *not* evaluated here: the
  caller evaluates them with numpy (whose SIMD implementations may differ from
  libm in the last bit) and passes the results in.

The rule functions with their equations stay in ``merchants.py``,
``demand.py`` and ``enforcement.py``; the docstrings here say which equation a
kernel evaluates. Kernels are compiled on first use and cached on disk
(``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}

# Store status codes (same as state.py; numba needs plain module constants).
CLOSED, ACTIVE, WARNED, SUSPENDED, BANNED = 0, 1, 2, 3, 4


# ----------------------------------------------------------------- counters


@njit(**_JIT)
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


@njit(**_JIT)
def add_stores(firms, p, n_each, n_live, n_act):
    """Counters for ``n_each[k]`` new active stores of ``firms[k]`` on platform ``p``."""
    for k in range(firms.size):
        n_live[p, firms[k]] += n_each[k]
        n_act[p, firms[k]] += n_each[k]


@njit(**_JIT)
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


@njit(**_JIT)
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


@njit(**_JIT)
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


@njit(**_JIT)
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


@njit(**_JIT)
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


@njit(**_JIT)
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
    camp_cost,
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
):
    """Grey-practice decision of every live store and the review stock it leaves.

    Evaluates ``campaign_reviews``, ``perceived_detection``, ``campaign_decision``
    and ``update_inflation`` (merchants.py) per store, in store order. Writes the
    live-store index list into ``live_idx`` and returns how many there are.
    """
    c_infl = (1.0 - rho) * gain_stars
    k = 0
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
            contribution = g * margin[p]
            reviews = max(minimum, per_order * g / pr)
            review_cost = reviews * (pr * (1.0 - gross_margin) + commission)
            p_hat = min(1.0, salience * risk[f, p])
            gain = prop_eff[f] * lift * horizon * contribution
            penalty = min(1.0, p_hat) * sanction * contribution
            decide = gain - review_cost > penalty
            if decide:
                bought = reviews
                cost = review_cost
            inflation[i] = rho * inflation[i] + c_infl * (1.0 if decide else 0.0)
        else:
            inflation[i] = 0.0
        campaign_flag[i] = decide
        camp_cost[i] = cost
        fake_live[i] += bought
        ring_slot[i] = bought
    return k


# ------------------------------------------------- 3-4. demand and accounts


@njit(**_JIT)
def rating_args(live_idx, k, firm, quality, inflation, beta_r, shift, out):
    """``beta_r (R_s - 5)`` with ``R_s = q_f + I_s`` per live store (exp taken by numpy)."""
    for j in range(k):
        i = live_idx[j]
        out[j] = beta_r * ((quality[firm[i]] + inflation[i]) - shift)


@njit(**_JIT)
def store_weights(
    live_idx, k, firm, platform, size, n_act, npow, exp_rating, price_pow, weights, totals
):
    """``w_s = size_f n_fp^(theta-1) exp(.) price_f^(-beta_p)`` and ``W_p = sum w_s``.

    ``npow[n]`` holds ``max(n, 1)^(theta - 1)``; returns -1, or the first store
    count that ``npow`` does not cover (the caller extends it and calls again).
    """
    for j in range(k):
        i = live_idx[j]
        f = firm[i]
        na = n_act[platform[i], f]
        if na >= npow.size:
            return na
    for p in range(totals.size):
        totals[p] = 0.0
    for j in range(k):
        i = live_idx[j]
        f = firm[i]
        p = platform[i]
        w = size[f] * npow[n_act[p, f]] * exp_rating[j] * price_pow[f]
        weights[j] = w
        totals[p] += w
    return -1


@njit(**_JIT)
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
    camp_cost,
    ns_pair,
    camp_pair,
    fee_rev,
    prev_num,
    prev_den,
):
    """Store sales, fees and net sales; sums per (firm, platform) and per platform.

    ``GMV_s = D_p w_s / W_p`` (``allocate``); fees = referral (none in a fee
    holiday) + fulfilment/ads + per-order + fixed; ``net = GMV m - fees``.
    """
    for i in range(n):
        gmv[i] = 0.0
        net_sales[i] = 0.0
    for j in range(k):
        i = live_idx[j]
        ns_pair[platform[i], firm[i]] = 0.0
        camp_pair[platform[i], firm[i]] = 0.0
    for j in range(k):
        i = live_idx[j]
        f = firm[i]
        p = platform[i]
        tot = totals[p]
        safe = tot if tot > 0 else 1.0
        g = demand[p] * weights[j] / safe
        gmv[i] = g
        referral = 0.0 if fee_holiday_until[i] > t else g * ref[p]
        fees = referral + g * ful[p] + per_order[p] * g / price[f] + fixed_week[p]
        ns = g * gross_margin - fees
        net_sales[i] = ns
        fee_rev[p, origin[f]] += fees
        ns_pair[p, f] += ns
        camp_pair[p, f] += camp_cost[i]
        prev_num[p] += g * (inflation[i] / infl_scale)
        prev_den[p] += g


@njit(**_JIT)
def firm_accounts(
    n,
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
    for f in range(n):
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
                pr = ns_pair[p, f] - cc
                pr = pr - camp_pair[p, f]
            else:
                pr = 0.0 - cc
                pr = pr - 0.0
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


@njit(**_JIT)
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


@njit(**_JIT)
def learn_risk(n, indptr, indices, penalised, seen_now, listed_prev, member, risk, rate, peer_w):
    """``r <- r + alpha (x - r)``, ``x = (1 - w) own + w peer`` (``update_risk``), with
    ``peer = hits / max(1, seen)`` over association ties (``peer_penalty_share``)."""
    P = risk.shape[1]
    hits = np.zeros(P)
    seen = np.zeros(P)
    for f in range(n):
        for p in range(P):
            hits[p] = 0.0
            seen[p] = 0.0
        for e in range(indptr[f], indptr[f + 1]):
            j = indices[e]
            for p in range(P):
                pen = penalised[j, p]
                if pen:
                    hits[p] += 1.0
                if pen or seen_now[p, j] > 0 or listed_prev[j, p]:
                    seen[p] += 1.0
        w = peer_w if member[f] else 0.0
        for p in range(P):
            own = 1.0 if penalised[f, p] else 0.0
            peer = hits[p] / max(seen[p], 1.0)
            signal = (1.0 - w) * own + w * peer
            r = risk[f, p]
            risk[f, p] = r + rate * (signal - r)


# ------------------------------------------------------------- 9. record


@njit(**_JIT)
def record_stores(
    n, status, firm, platform, origin, campaign, gmv, frozen, fake_live, inflation, acc
):
    """Store stocks per (platform, origin), summed in store order.

    ``acc[k]`` rows: 0 active, 1 warned, 2 suspended, 3 grey, 4 gmv, 5 frozen,
    6 fake reviews live, 7 inflation x gmv; returns the number of rows that
    compaction would keep."""
    keep = 0
    for i in range(n):
        s = status[i]
        p = platform[i]
        o = origin[firm[i]]
        if s == ACTIVE:
            acc[0, p, o] += 1.0
        elif s == WARNED:
            acc[1, p, o] += 1.0
        elif s == SUSPENDED:
            acc[2, p, o] += 1.0
        if campaign[i] and (s == ACTIVE or s == WARNED):
            acc[3, p, o] += 1.0
        g = gmv[i]
        acc[4, p, o] += g
        fz = frozen[i]
        if fz > 0:
            acc[5, p, o] += fz
        if ACTIVE <= s <= SUSPENDED:
            acc[6, p, o] += fake_live[i]
        acc[7, p, o] += inflation[i] * g
        if (s != CLOSED and s != BANNED) or fz > 0:
            keep += 1
    return keep


@njit(**_JIT)
def record_firms(
    n, n_old, n_live, listed, alive, origin, loss_cause, gain_cause, stats, lm, mm, flows, none
):
    """Listings, firm counts and platform-set changes (flows) of every firm row.

    ``listed`` holds last week's listings on entry and this week's on return.
    ``stats[o]``: alive, listed anywhere, on 2+ platforms, memberships;
    ``lm``/``mm``: listed and multi-homed merchants per (platform, origin);
    ``flows[o, from, to, cause]``: as ``MarketModel._record_flows`` explains.
    Returns the number of firms whose platform set changed.
    """
    P = n_live.shape[0]
    now = np.zeros(P, dtype=np.bool_)
    lost = np.zeros(P, dtype=np.bool_)
    gained = np.zeros(P, dtype=np.bool_)
    changed = 0
    for f in range(n):
        o = origin[f]
        kk = 0
        nL = 0
        nG = 0
        for p in range(P):
            x = n_live[p, f] > 0
            now[p] = x
            if x:
                kk += 1
            before = listed[f, p] if f < n_old else False
            lost[p] = before and not x
            gained[p] = x and not before
            if lost[p]:
                nL += 1
            if gained[p]:
                nG += 1
            listed[f, p] = x
        if alive[f]:
            stats[o, 0] += 1
        if kk > 0:
            stats[o, 1] += 1
        if kk >= 2:
            stats[o, 2] += 1
        stats[o, 3] += kk
        for p in range(P):
            if now[p]:
                lm[p, o] += 1
                if kk >= 2:
                    mm[p, o] += 1
        if nL == 0 and nG == 0:
            continue
        changed += 1
        if nG == 0:
            for p in range(P):
                if lost[p]:
                    flows[o, p, none, loss_cause[f, p]] += 1.0
        elif nL == 0:
            for q in range(P):
                if gained[q]:
                    flows[o, none, q, gain_cause[f, q]] += 1.0
        else:
            share = 1.0 / nG
            for p in range(P):
                if lost[p]:
                    for q in range(P):
                        if gained[q]:
                            flows[o, p, q, loss_cause[f, p]] += share
    return changed


# ------------------------------------------------------------ 8. entrants


@njit(**_JIT)
def mean_alive_rows(x, alive, n):
    """Column means of ``x[:n][alive[:n]]`` (numpy's order: rows added one by one)."""
    P = x.shape[1]
    s = np.zeros(P)
    c = 0
    for f in range(n):
        if alive[f]:
            c += 1
            for p in range(P):
                s[p] += x[f, p]
    for p in range(P):
        s[p] = s[p] / c
    return s, c


# ------------------------------------------------------------- 7. portfolio


@njit(**_JIT)
def review_mask(n, u, prob, alive, banned_now, n_live):
    """Alive firms that review their portfolio: by chance (``u < prob``) or because a
    ban this week cost them a platform (banned there and no live store left)."""
    P = n_live.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    for f in range(n):
        if not alive[f]:
            continue
        r = u[f] < prob
        if not r:
            for p in range(P):
                if banned_now[f, p] and n_live[p, f] == 0:
                    r = True
                    break
        out[f] = r
    return out
