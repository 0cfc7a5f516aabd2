"""Run functions that fail on purpose, for testing sweeps (failure recording, fail_fast).

Used through the sweep's ``run_function`` key, e.g.
``run_function=sim.engine.testing:fail_on_marked_point``.
"""

from __future__ import annotations

from typing import Any

from .sweep import RunSpec, simulate

# A design value that marks a point to fail (tests put it in a grid's levels).
FAIL_MARK = 13.0


def fail_on_marked_point(spec: RunSpec) -> dict[str, Any]:
    """Like :func:`sim.engine.sweep.simulate`, but raise for a point with a value == FAIL_MARK."""
    if any(v == FAIL_MARK for v in spec.params.values()):
        raise RuntimeError(f"injected failure at design point {spec.point_id}")
    return simulate(spec)
