"""Run function of the validation sweep: the default run plus measures on the live model.

``run_function: "sim.validation.run:simulate"`` in ``configs/experiment/validation.yaml``
makes the sweep engine call :func:`simulate` for each replication. It steps the
model exactly as :func:`sim.engine.sweep.simulate` does (same tables, same
summary, bit-identical outputs) and adds, under the summary key
``validation``, the measures that need the model instance
(:func:`sim.validation.measures.instance_measures`, taken after the last week
of 2021). The store flattens them to ``validation.<name>`` columns.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from sim.engine.sweep import RunSpec, _snapshot, portfolio_transitions

from .measures import instance_measures
from .targets import load_targets

MEASURE_DATE = "2021-12-31"


def simulate(spec: RunSpec) -> dict[str, Any]:
    """Run one spec; return its tables and summary with ``validation`` measures."""
    from sim.core.model import MarketModel, release_model
    from sim.engine.runner import flows_frame, summarize, timeseries_frame

    reference = load_targets().reference_merchants
    t0 = time.perf_counter()
    model = MarketModel(spec.config)
    cal = model.calendar
    snap_steps = [cal.last_step_on_or_before(d) for d in spec.snapshot_dates[:2]]
    measure_step = cal.last_step_on_or_before(MEASURE_DATE)
    snaps: list[dict] = []
    extra: dict[str, float] = {}
    measure_time = 0.0
    while model.running:
        model.step()
        if model.t in snap_steps:
            snaps.append(_snapshot(model))
        if model.t == measure_step:
            m0 = time.perf_counter()
            extra = instance_measures(model, reference)
            measure_time = time.perf_counter() - m0
    wall = time.perf_counter() - t0 - measure_time
    ts = timeseries_frame(model)
    fl = flows_frame(model)
    summary = summarize(model, ts, fl, wall)
    if extra:
        summary["validation"] = extra
    port = None
    if len(snaps) == 2:
        port = portfolio_transitions(model, snaps[0], snaps[1])
        port.insert(0, "date_to", pd.Timestamp(cal.date(snap_steps[1])))
        port.insert(0, "date_from", pd.Timestamp(cal.date(snap_steps[0])))
    release_model(model)
    return {"timeseries": ts, "flows": fl, "summary": summary, "portfolios": port}
