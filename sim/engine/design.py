"""Experiment designs: parameters declared as data, sampled into design points.

A design names model parameters (dotted config keys) with bounds or levels and
a kind: ``grid`` (full factorial), ``lhs`` (Latin hypercube), ``sobol``
(Saltelli sample for Sobol indices, SALib), ``morris`` (elementary-effects
trajectories, SALib) or ``scenarios`` (named override sets only). Named
scenarios are crossed with the design points; replications are crossed with
both. The design never touches the random seed: replicate ``k`` of every
point runs on the same streams (common random numbers).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.core.config import ConfigError, SimConfig, validate

KINDS = ("grid", "lhs", "sobol", "morris", "scenarios")


@dataclass
class ParameterSpec:
    """One swept parameter: bounds (continuous) or explicit levels."""

    lower: float | None = None
    upper: float | None = None
    levels: list[Any] | None = None
    integer: bool = False
    log: bool = False


@dataclass
class DesignConfig:
    """How design points are generated."""

    kind: str = "grid"
    parameters: dict[str, ParameterSpec] = field(default_factory=dict)
    grid_levels: int = 3  # levels per bounded parameter in a grid
    samples: int = 8  # lhs: points; sobol: base samples N; morris: trajectories
    morris_levels: int = 4
    seed: int = 12345  # sampling seed of the design (never the model's seed)


@dataclass
class DesignPoint:
    """A point of the design: parameter values and the scenario it belongs to."""

    point_id: int
    scenario: str
    params: dict[str, Any]


# --------------------------------------------------------------- config paths


def _resolve(cfg: Any, key: str) -> tuple[Any, str]:
    """Parent object and last name of a dotted key (dicts and dataclasses)."""
    parts = key.split(".")
    node = cfg
    for i, name in enumerate(parts[:-1]):
        if isinstance(node, dict):
            if name not in node:
                raise KeyError(".".join(parts[: i + 1]))
            node = node[name]
        elif dataclasses.is_dataclass(node) and hasattr(node, name):
            node = getattr(node, name)
        else:
            raise KeyError(".".join(parts[: i + 1]))
    last = parts[-1]
    if isinstance(node, dict):
        if last not in node:
            raise KeyError(key)
    elif not (dataclasses.is_dataclass(node) and hasattr(node, last)):
        raise KeyError(key)
    return node, last


def get_value(cfg: SimConfig, key: str) -> Any:
    """Value of a dotted config key (``platforms.amazon.referral_fee_rate``)."""
    node, last = _resolve(cfg, key)
    return node[last] if isinstance(node, dict) else getattr(node, last)


def set_value(cfg: SimConfig, key: str, value: Any) -> None:
    """Set a dotted config key in place, keeping the field's numeric type."""
    node, last = _resolve(cfg, key)
    old = node[last] if isinstance(node, dict) else getattr(node, last)
    if isinstance(old, bool):
        value = bool(value)
    elif isinstance(old, int):
        value = round(value)
    elif isinstance(old, float):
        value = float(value)
    if isinstance(node, dict):
        node[last] = value
    else:
        setattr(node, last, value)


def apply_params(base: SimConfig, params: dict[str, Any], seed: int, replicate: int) -> SimConfig:
    """A validated copy of ``base`` with the design values, seed and replicate set."""
    cfg = copy.deepcopy(base)
    for key, value in params.items():
        set_value(cfg, key, value)
    cfg.seed = seed
    cfg.replicate = replicate
    return validate(cfg)


def check_design(design: DesignConfig, base: SimConfig) -> None:
    """Validate a design against the model schema before anything runs.

    Raises:
        ConfigError: unknown kind or parameter, non-numeric target, missing or
            inverted bounds, empty levels, too few samples.
    """
    if design.kind not in KINDS:
        raise ConfigError(
            f"experiment.design.kind: {design.kind!r} is not allowed; choose one of "
            f"{', '.join(KINDS)}"
        )
    if design.kind == "scenarios" and design.parameters:
        raise ConfigError("experiment.design.parameters: a 'scenarios' design takes no parameters")
    if design.kind != "scenarios" and not design.parameters:
        raise ConfigError(
            f"experiment.design.parameters: a {design.kind!r} design needs parameters"
        )
    for key, spec in design.parameters.items():
        where = f"experiment.design.parameters.{key}"
        try:
            current = get_value(base, key)
        except KeyError as exc:
            raise ConfigError(
                f"{where}: unknown model parameter (no config key {exc.args[0]!r}); "
                "use a dotted key of the model config, e.g. "
                "policy.enforcement.amazon.audit_probability_per_week"
            ) from None
        if isinstance(current, bool) or not isinstance(current, int | float):
            if not spec.levels:
                raise ConfigError(f"{where}: not numeric; give explicit levels")
        if spec.levels is not None:
            if len(spec.levels) == 0:
                raise ConfigError(f"{where}.levels: must not be empty")
            if design.kind != "grid":
                raise ConfigError(f"{where}.levels: only a grid design takes levels")
            continue
        if spec.lower is None or spec.upper is None:
            raise ConfigError(f"{where}: give lower and upper bounds (or levels for a grid)")
        if spec.lower > spec.upper:
            raise ConfigError(
                f"{where}: lower bound {spec.lower} is greater than upper bound {spec.upper}"
            )
        if spec.log and spec.lower <= 0:
            raise ConfigError(f"{where}: log scale needs a positive lower bound")
    if design.kind in ("lhs", "sobol", "morris") and design.samples < 1:
        raise ConfigError(f"experiment.design.samples: must be at least 1, got {design.samples}")
    if design.kind == "grid" and design.grid_levels < 1:
        raise ConfigError(
            f"experiment.design.grid_levels: must be at least 1, got {design.grid_levels}"
        )


def _scale(u: np.ndarray, spec: ParameterSpec) -> np.ndarray:
    lo, hi = float(spec.lower), float(spec.upper)
    if spec.log:
        x = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
    else:
        x = lo + u * (hi - lo)
    if spec.integer:
        return np.round(x)
    # 12 significant digits: exp/log round trips leave noise such as 0.005000000000000002
    return np.array([float(f"{v:.12g}") for v in np.atleast_1d(x)])


def _levels(spec: ParameterSpec, n: int) -> list[Any]:
    if spec.levels is not None:
        return list(spec.levels)
    u = np.linspace(0.0, 1.0, n) if n > 1 else np.array([0.5])
    return [v.item() for v in _scale(u, spec)]


def _salib_problem(names: list[str], specs: list[ParameterSpec]) -> dict:
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def unit_sample(design: DesignConfig, names: list[str]) -> np.ndarray:
    """Design points in the unit cube (rows: points) for lhs, sobol and morris."""
    d = len(names)
    if design.kind == "lhs":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=d, seed=design.seed).random(design.samples)
    specs = [design.parameters[n] for n in names]
    problem = _salib_problem(names, specs)
    if design.kind == "sobol":
        from SALib.sample import sobol as sobol_sample

        n = 2 ** math.ceil(math.log2(max(design.samples, 2)))  # Sobol' sequences want 2^k
        return sobol_sample.sample(problem, n, calc_second_order=False, seed=design.seed)
    if design.kind == "morris":
        from SALib.sample import morris as morris_sample

        return morris_sample.sample(
            problem, design.samples, num_levels=design.morris_levels, seed=design.seed
        )
    raise ValueError(design.kind)


def design_points(design: DesignConfig, scenarios: list[str]) -> list[DesignPoint]:
    """All design points crossed with the scenarios (``[""]`` when there are none).

    Points are numbered in design order; the same design and scenarios always
    give the same points.
    """
    names = sorted(design.parameters)
    if design.kind == "scenarios":
        rows: list[dict[str, Any]] = [{}]
    elif design.kind == "grid":
        axes = [_levels(design.parameters[n], design.grid_levels) for n in names]
        rows = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
    else:
        u = unit_sample(design, names)
        cols = [_scale(u[:, j], design.parameters[n]) for j, n in enumerate(names)]
        rows = [{n: cols[j][i].item() for j, n in enumerate(names)} for i in range(u.shape[0])]
    points = []
    for scenario in scenarios or [""]:
        for row in rows:
            points.append(DesignPoint(len(points), scenario, dict(row)))
    return points


def to_unit(design: DesignConfig, name: str, values: np.ndarray) -> np.ndarray:
    """Map parameter values back to the unit interval (for SALib analysis)."""
    spec = design.parameters[name]
    lo, hi = float(spec.lower), float(spec.upper)
    if spec.log:
        return (np.log(values) - np.log(lo)) / (np.log(hi) - np.log(lo))
    return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
