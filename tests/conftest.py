"""Shared fixtures: small, fast worlds composed from the real presets.

Composing through Hydra costs ~0.2 s, so composed configs are cached by their
overrides and every caller gets a deep copy it may modify freely.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import numpy as np
import pytest

from sim.core.config import SimConfig
from sim.engine.compose import compose_config

REPO = Path(__file__).resolve().parents[1]

# 200 firms, 4 weeks of spin-up, one recorded year: ~0.2 s per run.
SMALL = ("merchants.count=200", "time.spinup_weeks=4", "time.end_date=2020-12-28")

# Enforcement on Amazon from the first week, strong enough to produce many
# warnings, suspensions, bans and fund holds within a year.
ENFORCED = (
    *SMALL,
    "policy.enforcement.amazon.start_date=2019-12-09",
    "policy.enforcement.amazon.audit_probability_per_week=0.2",
)


@functools.lru_cache(maxsize=64)
def _compose_cached(overrides: tuple[str, ...]) -> SimConfig:
    return compose_config(list(overrides))


def compose(*overrides: str) -> SimConfig:
    """``compose_config`` with caching; returns a fresh deep copy."""
    return copy.deepcopy(_compose_cached(tuple(overrides)))


@pytest.fixture
def small_cfg() -> SimConfig:
    """Default preset at 200 firms, 4 spin-up weeks, recorded through 2020."""
    return compose(*SMALL)


@pytest.fixture
def enforced_cfg() -> SimConfig:
    """Like ``small_cfg`` with a strong Amazon crackdown running from week 0."""
    return compose(*ENFORCED)


def step_all(model, hook=None):
    """Step ``model`` to its end, calling ``hook(model)`` after every week."""
    while model.running:
        model.step()
        if hook is not None:
            hook(model)
    return model


def no_compaction(model):
    """Keep store rows in place so that store indices are stable across weeks.

    Compaction only drops closed stores and banned ones without funds; turning
    it off changes no rule, it only lets a test follow one store over time.
    """
    model._compact_stores = lambda: None
    return model


def firm_arrays(model) -> dict[str, np.ndarray]:
    """Copies of the used part of every firm column."""
    f = model.firms
    return {name: f.view(name).copy() for name in f._spec}
