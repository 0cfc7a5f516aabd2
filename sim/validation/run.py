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

from typing import Any

from sim.engine.sweep import RunSpec, simulate_with

from .measures import instance_measures

MEASURE_DATE = "2021-12-31"


def simulate(spec: RunSpec) -> dict[str, Any]:
    """Run one spec; return its tables and summary with ``validation`` measures."""
    return simulate_with(spec, instance_measures, MEASURE_DATE, "validation")
