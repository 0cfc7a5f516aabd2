"""Validation targets: loading ``targets.yaml``, measuring runs, judging pass or fail.

A target passes when the mean of its model quantity over replications lies in
the accepted band: the observed range widened by the tolerance (absolute:
``[low - d, high + d]``; factor: ``[low / f, high * f]``). A target whose
quantity cannot be measured (e.g. a date past the run's horizon) is reported
as ``not measured``, neither passed nor failed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.analysis import stats
from sim.core.config import ConfigError

from .measures import MEASURES, RunTables

TARGETS_FILE = Path(__file__).with_name("targets.yaml")
USES = ("fit", "holdout")
#: Columns of the validation table.
TABLE_COLUMNS = (
    "id",
    "pattern",
    "use",
    "description",
    "unit",
    "observed",
    "observed_low",
    "observed_high",
    "accept_low",
    "accept_high",
    "n",
    "mean",
    "ci_low",
    "ci_high",
    "status",
    "distance",
    "source",
)


@dataclass
class Target:
    """One observed pattern and the model quantity it is compared with."""

    id: str
    pattern: str
    description: str
    observed: float | None
    observed_range: tuple[float | None, float | None]
    source: str
    quantity: str
    unit: str
    conversion: str
    tolerance_kind: str
    tolerance: float
    use: str
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> tuple[float, float]:
        """Accepted band ``(low, high)`` (infinite where the range is open)."""
        lo, hi = self.observed_range
        lo = -math.inf if lo is None else float(lo)
        hi = math.inf if hi is None else float(hi)
        if self.tolerance_kind == "factor":
            return lo / self.tolerance, hi * self.tolerance
        return lo - self.tolerance, hi + self.tolerance

    def judge(self, mean: float) -> str:
        """``pass``, ``fail`` or ``not measured`` (mean not finite)."""
        if mean is None or not np.isfinite(mean):
            return "not measured"
        lo, hi = self.accepted
        return "pass" if lo <= mean <= hi else "fail"

    def distance(self, mean: float) -> float:
        """Normalised distance of a model value from the observed range (NaN if not finite).

        0 inside the observed range; outside, the gap to the nearest bound in
        units of the tolerance (in log units for a factor tolerance), so a value
        passes exactly when its distance is at most 1. A zero tolerance (a
        direction only) gives 0 inside and 2 outside.
        """
        if mean is None or not np.isfinite(mean):
            return float("nan")
        lo, hi = self.observed_range
        lo = -math.inf if lo is None else float(lo)
        hi = math.inf if hi is None else float(hi)
        if lo <= mean <= hi:
            return 0.0
        if self.tolerance == 0 or (self.tolerance_kind == "factor" and self.tolerance == 1):
            return 2.0
        bound = lo if mean < lo else hi
        if self.tolerance_kind == "factor":
            if mean <= 0 or bound <= 0:
                return math.inf
            return abs(math.log(mean / bound)) / math.log(self.tolerance)
        return abs(mean - bound) / self.tolerance

    def measure(self, run: RunTables) -> float:
        """The target's model quantity in one run (NaN when not measurable)."""
        kind, _, name = self.quantity.partition(":")
        if kind == "summary":
            v = run.summary.get(name)
            return float("nan") if v is None or pd.isna(v) else float(v)
        return float(MEASURES[name](run, **self.args))


@dataclass
class TargetSet:
    """All targets of a file."""

    targets: list[Target]

    def by_id(self, target_id: str) -> Target:
        """The target named ``target_id``."""
        for t in self.targets:
            if t.id == target_id:
                return t
        raise KeyError(target_id)


def _num(v: Any, where: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ConfigError(f"{where}: {v!r} is not a number")
    return float(v)


def load_targets(path: str | Path | None = None) -> TargetSet:
    """Read and check a targets file (default: the packaged ``targets.yaml``).

    Raises:
        ConfigError: a missing or malformed field, an unknown measure, a
            duplicate id, an inverted range, or fewer than two holdout targets.
    """
    path = Path(path) if path is not None else TARGETS_FILE
    doc = yaml.safe_load(path.read_text())
    if "reference_merchants" in doc:
        raise ConfigError(
            f"{path.name}: reference_merchants is no longer used: the real market is "
            "merchants.real_firms, whatever merchants.count"
        )
    out, seen = [], set()
    for i, t in enumerate(doc.get("targets") or []):
        where = f"{path.name}: targets[{i}]"
        for key in ("id", "pattern", "description", "source", "quantity", "unit", "use"):
            if not isinstance(t.get(key), str) or not t[key]:
                raise ConfigError(f"{where}.{key}: missing or not text")
        where = f"{path.name}: {t['id']}"
        if t["id"] in seen:
            raise ConfigError(f"{where}: duplicate id")
        seen.add(t["id"])
        if t["use"] not in USES:
            raise ConfigError(f"{where}.use: {t['use']!r}; choose one of {USES}")
        kind, _, name = t["quantity"].partition(":")
        if kind not in ("summary", "measure") or not name:
            raise ConfigError(f"{where}.quantity: write 'summary:<key>' or 'measure:<name>'")
        if kind == "measure" and name not in MEASURES:
            raise ConfigError(
                f"{where}.quantity: unknown measure {name!r}; choose one of {sorted(MEASURES)}"
            )
        rng = t.get("observed_range")
        if not isinstance(rng, list) or len(rng) != 2:
            raise ConfigError(f"{where}.observed_range: give [low, high] (null for open)")
        lo, hi = _num(rng[0], f"{where}.observed_range"), _num(rng[1], f"{where}.observed_range")
        if lo is None and hi is None:
            raise ConfigError(f"{where}.observed_range: at least one bound is needed")
        if lo is not None and hi is not None and lo > hi:
            raise ConfigError(f"{where}.observed_range: low {lo} > high {hi}")
        tol = t.get("tolerance") or {}
        tkind, tval = tol.get("kind"), _num(tol.get("value"), f"{where}.tolerance.value")
        if tkind not in ("absolute", "factor") or tval is None:
            raise ConfigError(f"{where}.tolerance: give {{kind: absolute|factor, value: x}}")
        if (tkind == "absolute" and tval < 0) or (tkind == "factor" and tval < 1):
            raise ConfigError(f"{where}.tolerance.value: {tval} (absolute >= 0, factor >= 1)")
        out.append(
            Target(
                id=t["id"],
                pattern=t["pattern"],
                description=t["description"],
                observed=_num(t.get("observed"), f"{where}.observed"),
                observed_range=(lo, hi),
                source=t["source"],
                quantity=t["quantity"],
                unit=t["unit"],
                conversion=str(t.get("conversion", "")),
                tolerance_kind=tkind,
                tolerance=tval,
                use=t["use"],
                args=dict(t.get("args") or {}),
            )
        )
    if sum(t.use == "holdout" for t in out) < 2:
        raise ConfigError(f"{path.name}: keep at least two targets out of the fit (use: holdout)")
    return TargetSet(out)


# ------------------------------------------------------------------ evaluation


def measure_runs(
    targets: TargetSet,
    summary: pd.DataFrame,
    timeseries: pd.DataFrame,
    flows: pd.DataFrame,
) -> pd.DataFrame:
    """Each target's model quantity in each run: one row per (run_id, replicate).

    ``summary``, ``timeseries`` and ``flows`` are the loaders' frames
    (:mod:`sim.analysis.load`); columns of the result are the target ids.
    """
    ts_by = dict(tuple(timeseries.groupby("run_id"))) if len(timeseries) else {}
    fl_by = dict(tuple(flows.groupby("run_id"))) if len(flows) else {}
    empty_fl = pd.DataFrame(columns=["date", "origin", "from_platform", "cause", "merchants"])
    rows = []
    for rec in summary.to_dict("records"):
        rid = rec["run_id"]
        run = RunTables(
            summary=rec,
            timeseries=ts_by.get(rid, timeseries.iloc[0:0]),
            flows=fl_by.get(rid, empty_fl),
            real_factor=float(rec["scale_real_firms_per_model_firm"]),
        )
        row = {"run_id": rid, "replicate": rec.get("replicate")}
        for t in targets.targets:
            row[t.id] = t.measure(run)
        rows.append(row)
    return pd.DataFrame(rows)


def validation_table(targets: TargetSet, values: pd.DataFrame, level: float = 0.95):
    """Per target: observed value and range, accepted band, model mean and CI, status.

    ``values`` has one row per run and one column per target id (as from
    :func:`measure_runs`, or synthetic values in tests).
    """
    ids = [t.id for t in targets.targets if t.id in values]
    ci = stats.mean_ci(values, ids, by=None, level=level).set_index("outcome") if ids else None
    rows = []
    for t in targets.targets:
        lo, hi = t.accepted
        r = ci.loc[t.id] if ci is not None and t.id in ci.index else None
        mean = float(r["mean"]) if r is not None else float("nan")
        rows.append(
            {
                "id": t.id,
                "pattern": t.pattern,
                "use": t.use,
                "description": t.description,
                "unit": t.unit,
                "observed": t.observed,
                "observed_low": t.observed_range[0],
                "observed_high": t.observed_range[1],
                "accept_low": lo,
                "accept_high": hi,
                "n": int(r["n"]) if r is not None else 0,
                "mean": mean,
                "ci_low": float(r["ci_low"]) if r is not None else float("nan"),
                "ci_high": float(r["ci_high"]) if r is not None else float("nan"),
                "status": t.judge(mean),
                "distance": t.distance(mean),
                "source": t.source,
            }
        )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def fit_distance(table: pd.DataFrame, use: str = "fit") -> float:
    """Root-mean-square of the targets' normalised distances (rows with ``use``).

    The calibration's objective (docs/validation.md): 0 when every target's
    mean lies in its observed range, at most 1 when every target passes.
    Targets that cannot be measured are left out.
    """
    d = table.loc[table["use"] == use, "distance"].astype(float)
    d = d[np.isfinite(d)]
    return float(np.sqrt(np.mean(d**2))) if len(d) else float("nan")
