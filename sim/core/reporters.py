"""Model-level reporters for ``model.datacollector`` (a ``mesa.DataCollector``).

Mesa's own tools read a model through its data collector: ``batch_run`` takes
each run's rows from ``model.datacollector.model_vars``, and SolaraViz plot
components (``mesa.visualization.make_plot_component("...")``) draw columns of
``model.datacollector.get_model_vars_dataframe()``. The reporters here give
those tools the headline series of the model.

They are cheap: ``MarketModel._record`` already sums the week's stocks and
events into the recorder, so :func:`week_row` only reads the current week's
recorded values (a few dozen numbers) and never goes over firms or stores. The
row is computed once per week and each reporter picks its value from it; a
week's ``collect`` costs about 0.1 ms of CPU whatever the population, most of it
Mesa's own loop over the reporters (docs/outputs.md, "model.datacollector").

One collected row per simulated week, spin-up included, so that row ``i`` is
model week ``t = i`` (``model.steps == i + 1``), which is how ``batch_run``
indexes the rows. ``week`` is negative during the spin-up (``week >= 0`` are the
weeks written to ``timeseries.parquet``, where it is the ``step`` column).

Columns (model units, as in docs/outputs.md):

- ``week``: weeks since ``time.start_date`` (negative during the spin-up);
- ``date``: ISO date of the Monday that starts the week;
- ``cn_share_of_amazon_sellers``: CN firms' share of the firms listed on
  Amazon (NaN without Amazon or with no firm listed);
- ``listed_merchants_<platform>_<origin>``: firms of the origin listed on the
  platform (``listed_merchants`` of the timeseries), one column per platform of
  the run and origin (``CN``, ``other``);
- ``grey_share_<platform>``: share of the platform's active stores (both
  origins) that bought fake reviews this week (NaN where the platform has no
  active store, e.g. before its launch);
- ``multihoming_share``, ``multihoming_share_CN``, ``multihoming_share_other``:
  share of the listed firms (all, or of the origin) listed on two or more
  platforms (NaN with none listed);
- ``stores_banned``: stores banned since ``time.start_date``, summed over
  platforms and origins (0 during the spin-up); in the last week it is
  ``summary.json``'s ``stores_banned``;
- ``consumer_harm_usd``: buyers' loss this week from choosing on inflated
  ratings, summed over platforms (the timeseries' ``consumer_harm_usd``, model
  units; NaN when ``behaviour.price_sensitivity`` = 0).
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

from .config import ORIGINS

if TYPE_CHECKING:  # pragma: no cover
    from .model import MarketModel


def reporter_names(platforms: list[str]) -> list[str]:
    """Column names of the collected rows for a run with ``platforms`` (config order)."""
    names = ["week", "date", "cn_share_of_amazon_sellers"]
    names += [f"listed_merchants_{p}_{o}" for p in platforms for o in ORIGINS]
    names += [f"grey_share_{p}" for p in platforms]
    names += ["multihoming_share", *(f"multihoming_share_{o}" for o in ORIGINS)]
    names.append("stores_banned")
    names.append("consumer_harm_usd")
    return names


def _share(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def week_row(model: MarketModel) -> dict[str, float | int | str]:
    """The reporters' values for the model's current (last recorded) week.

    Reads only the recorder's arrays at week ``model.t`` (and the stock of bans
    at the last spin-up week), cached per week on the model: a few dozen
    numbers, whatever the population (plain Python on them is faster than numpy
    at this size).
    """
    t = model.t
    cached = model._report_cache
    if cached is not None and cached[0] == t:
        return cached[1]
    R = model.recorder.data
    names = model.platform_names
    first = model.spinup
    listed = R["listed_merchants"][t].tolist()  # [platform][origin]
    grey = R["grey_stores"][t].tolist()
    active = R["active_stores"][t].tolist()
    stats = model.firm_stats[t].tolist()  # [origin][alive, listed, multi-homed, memberships]
    if "amazon" in names:
        cn, other = listed[names.index("amazon")]
        values = [_share(cn, cn + other)]
    else:
        values = [math.nan]
    for row in listed:  # platform-major, then origin: the order of reporter_names
        values += row
    values += [_share(g[0] + g[1], a[0] + a[1]) for g, a in zip(grey, active, strict=True)]
    values.append(_share(stats[0][2] + stats[1][2], stats[0][1] + stats[1][1]))
    values += [_share(s[2], s[1]) for s in stats]
    # banned_stores is the running sum of new_bans from the first simulated week:
    # subtract its value at the end of the spin-up
    if t >= first:
        banned = R["banned_stores"]
        if model._bans_before is None:
            model._bans_before = float(banned[first - 1].sum()) if first > 0 else 0.0
        values.append(float(banned[t].sum()) - model._bans_before)
    else:
        values.append(0.0)
    values.append(float(R["consumer_harm_usd"][t, :, 0].sum()))
    out: dict[str, float | int | str] = {
        "week": t - first,
        "date": model.calendar.date(t).isoformat(),
    }
    out.update(zip(model._report_names, values, strict=True))
    model._report_cache = (t, out)
    return out


def report(name: str, model: MarketModel) -> float | int | str:
    """Value of column ``name`` in the model's current week (a model reporter)."""
    return week_row(model)[name]


def model_reporters(platforms: list[str]) -> dict[str, partial]:
    """``mesa.DataCollector`` model reporters: one ``partial(report, name)`` per column.

    Partials of a module-level function (not lambdas), so a model with its
    collector can be pickled.
    """
    return {name: partial(report, name) for name in reporter_names(platforms)}


__all__ = ["model_reporters", "report", "reporter_names", "week_row"]
