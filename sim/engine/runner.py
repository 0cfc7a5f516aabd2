"""Single runs: simulate a config, return tidy tables, write the contract files.

``run(config)`` keeps everything in memory (no files); ``write_run(result, dir)``
writes ``timeseries.parquet``, ``flows.parquet``, ``summary.json`` and
``provenance.json`` into a run directory (contract: docs/architecture.md).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.config import EnforcementConfig, SimConfig, validate
from sim.core.model import MarketModel, release_model

from .provenance import config_hash, provenance


@dataclass
class RunResult:
    """Tables and scalar outcomes of one run.

    Attributes:
        timeseries: one row per (step, platform, origin); see docs/outputs.md.
        flows: one row per (step, origin, from_platform, to_platform, cause).
        summary: scalar outcomes (JSON-serialisable).
        config: the validated config that produced them.
    """

    timeseries: pd.DataFrame
    flows: pd.DataFrame
    summary: dict[str, Any]
    config: SimConfig
    started: float = field(default=0.0, repr=False)
    ended: float = field(default=0.0, repr=False)


CONTRACT_TIMESERIES = (
    "step",
    "date",
    "platform",
    "origin",
    "listed_merchants",
    "active_stores",
    "suspended_stores",
    "banned_stores",
    "grey_share",
    "gmv",
    "fee_revenue",
)


def timeseries_frame(model: MarketModel) -> pd.DataFrame:
    """The model's weekly metrics as a tidy DataFrame (contract columns first)."""
    cols = model.timeseries_columns()
    order = [*CONTRACT_TIMESERIES, *(c for c in cols if c not in CONTRACT_TIMESERIES)]
    df = pd.DataFrame({c: cols[c] for c in order})
    df["date"] = pd.to_datetime(df["date"])
    for c in ("platform", "origin"):
        df[c] = df[c].astype("string")
    return df


def flows_frame(model: MarketModel) -> pd.DataFrame:
    """The model's migration flows as a tidy DataFrame."""
    df = pd.DataFrame(model.flow_columns())
    df["date"] = pd.to_datetime(df["date"])
    for c in ("origin", "from_platform", "to_platform", "cause"):
        df[c] = df[c].astype("string")
    return df[["step", "date", "origin", "from_platform", "to_platform", "merchants", "cause"]]


# Amazon's 2021 crackdown began in the week of 26 April 2021 (Marketplace Pulse 2021).
REFERENCE_CRACKDOWN_DATE = "2021-04-26"


def crackdown_date(cfg: SimConfig) -> str:
    """Start of the earliest enforcement that does something, else the 2021 reference date.

    Summaries of paired runs (e.g. ``policy=none`` vs ``crackdown_2021``) are
    taken at the same dates, so a run without enforcement uses the reference.
    """
    inert = EnforcementConfig()
    starts = [
        e.start_date
        for name, e in cfg.policy.enforcement.items()
        if name in cfg.platforms and e != inert and e.audit_probability_per_week > 0
    ]
    return min(starts) if starts else REFERENCE_CRACKDOWN_DATE


def run(config: SimConfig | None = None, *, steps: int | None = None) -> RunResult:
    """Simulate ``config`` (default preset if None) and return its tables; writes no files.

    Args:
        config: a SimConfig (validated here); None for the default preset.
        steps: stop after this many weeks (default: the whole horizon).
    """
    if config is None:
        from .compose import compose_config

        config = compose_config([])
    validate(config)
    started = time.time()
    t0 = time.perf_counter()
    model = MarketModel(config)
    n = model.n_steps if steps is None else min(int(steps), model.n_steps)
    for _ in range(n):
        model.step()
    wall = time.perf_counter() - t0
    ts = timeseries_frame(model)
    fl = flows_frame(model)
    summary = summarize(model, ts, fl, wall)
    release_model(model)
    return RunResult(ts, fl, summary, config, started=started, ended=time.time())


def _share(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def _member_outcomes(model: MarketModel, t: int, label: str) -> dict[str, float]:
    """Association members on Amazon in week ``t`` (model step), keys ending in ``_label``.

    The peer network and hub-targeted audits act on members only (ODD 7.3,
    7.7, 7.10), 2,600 of 500,000 real firms by default: too few to move a
    market-wide share beyond noise. Both shares are over real firms and
    stores (model units weighted by ``omega_f``; ``MarketModel.member_stats``,
    recorded at the end of every week), NaN without members:

    - ``grey_share_amazon_members_<label>``: of the members' active or warned
      Amazon stores, the share that bought fake reviews that week;
    - ``banned_share_amazon_members_<label>``: of the alive members, the share
      that have had an Amazon store banned (the ban memory ``ever_banned`` of
      ODD 7.8, spin-up included).
    """
    grey, on, banned, members = model.member_stats[t]
    return {
        f"grey_share_amazon_members_{label}": _share(grey, on),
        f"banned_share_amazon_members_{label}": _share(banned, members),
    }


def summarize(model: MarketModel, ts: pd.DataFrame, fl: pd.DataFrame, wall: float) -> dict:
    """Scalar outcomes of a run (model units unless the name says ``_real``)."""
    cfg = model.cfg
    scale = cfg.merchants.scale
    cal = model.calendar
    last = model.t
    counts = model.counts()
    out: dict[str, Any] = {
        "wall_time_s": round(wall, 4),
        "seed": cfg.seed,
        "replicate": cfg.replicate,
        "policy": cfg.policy.name,
        "scale_real_firms_per_model_firm": scale,
        **counts,
        "store_steps": int(model.store_steps),
        "merchant_steps": int(model.merchant_steps),
    }
    start = crackdown_date(cfg)
    marks = {
        "before_crackdown": cal.first_step_on_or_after(start) - 1,
        "end_2021": cal.last_step_on_or_before("2021-12-31"),
        "end_2023": cal.last_step_on_or_before("2023-12-31"),
        "end": last,
    }
    out["crackdown_start"] = start
    amazon = "amazon" in model.platform_names
    # platforms other than Amazon where sellers can buy reviews (not managed, e.g. Temu)
    marketplaces = [p.name for p in model.platform_agents if p.name != "amazon" and not p.managed]
    for label, t in marks.items():
        if not model.spinup <= t <= last:
            continue
        week = ts[ts["step"] == t - model.spinup]
        if amazon:
            a = week[week["platform"] == "amazon"].set_index("origin")
            out[f"cn_share_of_amazon_sellers_{label}"] = _share(
                a.loc["CN", "listed_merchants"], a["listed_merchants"].sum()
            )
            out[f"cn_merchants_on_amazon_{label}"] = float(a.loc["CN", "listed_merchants"])
            out[f"grey_share_amazon_{label}"] = _share(
                a["grey_stores"].sum(), a["active_stores"].sum()
            )
            out.update(_member_outcomes(model, t, label))
        # grey practice off Amazon (displacement, ODD 7.1): the other marketplaces, both
        # origins and each origin, over their active stores
        off = week[week["platform"].isin(marketplaces)]
        out[f"grey_share_off_amazon_{label}"] = _share(
            off["grey_stores"].sum(), off["active_stores"].sum()
        )
        for name in ("CN", "other"):
            o_rows = off[off["origin"] == name]
            out[f"grey_share_off_amazon_{name}_{label}"] = _share(
                o_rows["grey_stores"].sum(), o_rows["active_stores"].sum()
            )
        fs = model.firm_stats[t]
        for o, name in enumerate(("CN", "other")):
            out[f"multihoming_share_{name}_{label}"] = _share(fs[o, 2], fs[o, 1])
        if model.own_store >= 0:
            own = week[week["platform"] == model.platform_names[model.own_store]]
            out[f"own_web_stores_CN_{label}"] = float(
                own.loc[own["origin"] == "CN", "listed_merchants"].sum()
            )
    tot = ts.groupby("platform")[
        [
            "new_bans",
            "new_suspensions",
            "stores_closed",
            "detections",
            "false_positives",
            "false_links",
            "swept_honest",
            "frozen_new_usd",
            "forfeited_usd",
            "fee_revenue",
            "gmv",
        ]
    ].sum()
    out["association_members_real_start"] = float(model.members_real_start)
    out["stores_banned"] = float(tot["new_bans"].sum())
    out["stores_banned_real"] = float(tot["new_bans"].sum() * scale)
    out["stores_suspended"] = float(tot["new_suspensions"].sum())
    out["stores_closed"] = float(tot["stores_closed"].sum())
    out["stores_closed_real"] = float(tot["stores_closed"].sum() * scale)
    out["honest_stores_penalised"] = float(
        tot[["false_positives", "false_links", "swept_honest"]].sum().sum()
    )
    out["frozen_funds_usd_real"] = float(tot["frozen_new_usd"].sum() * scale)
    out["forfeited_funds_usd_real"] = float(tot["forfeited_usd"].sum() * scale)
    if amazon:
        # firms whose last Amazon store was banned, counted as the ban happens (also when
        # the firm opens a new account the same week, which leaves no flow)
        lost = ts[ts["platform"] == "amazon"]
        out["firms_lost_amazon_to_bans"] = float(lost["firms_lost_to_bans"].sum())
        out["cn_firms_lost_amazon_to_bans"] = float(
            lost.loc[lost["origin"] == "CN", "firms_lost_to_bans"].sum()
        )
    for p, row in tot.iterrows():
        out[f"fee_revenue_usd_real_{p}"] = float(row["fee_revenue"] * scale)
    # platform columns are the same on both origin rows: count one of them
    one = ts[ts["origin"] == "CN"].groupby("platform", sort=False)
    for p, v in one["platform_net_revenue_usd"].sum().items():
        out[f"platform_net_revenue_usd_real_{p}"] = float(v * scale)
    # (NaN when buyers ignore price: behaviour.price_sensitivity = 0, demand.utils_to_usd)
    harm = ts[ts["origin"] == "CN"].groupby("platform", sort=False)["consumer_harm_usd"].sum()
    if cfg.behaviour.price_sensitivity <= 0:
        harm[:] = math.nan
    out["consumer_harm_usd_real"] = float(harm.sum(skipna=False) * scale)
    for p, v in harm.items():
        out[f"consumer_harm_usd_real_{p}"] = float(v * scale)
    final = ts[ts["step"] == ts["step"].max()]
    out["platform_seller_counts_end"] = {
        str(p): float(v) for p, v in final.groupby("platform")["listed_merchants"].sum().items()
    }
    # NaN is not JSON: store it as null
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def write_run(
    result: RunResult, run_dir: str | Path, extra_provenance: dict | None = None
) -> list[Path]:
    """Write the contract files of one run into ``run_dir``; return their paths.

    Each file is written to a temporary name and renamed, so a killed run never
    leaves a half-written file under a contract name.
    """
    d = Path(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in (("timeseries.parquet", result.timeseries), ("flows.parquet", result.flows)):
        tmp = d / f".{name}.tmp"
        frame.to_parquet(tmp, index=False)
        tmp.replace(d / name)
        paths.append(d / name)
    prov = provenance(result.config, result.started, result.ended)
    if extra_provenance:
        prov.update(extra_provenance)
    for name, obj in (("summary.json", result.summary), ("provenance.json", prov)):
        tmp = d / f".{name}.tmp"
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")
        tmp.replace(d / name)
        paths.append(d / name)
    return paths


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


__all__ = ["RunResult", "config_hash", "run", "write_run"]
