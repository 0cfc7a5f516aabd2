"""The default preset for ``MarketModel()`` with no config.

The presets are YAML files composed by Hydra in the engine layer; this is the
one place the core reaches up to it, lazily, so that ``MarketModel()`` works
out of the box. Code that builds a model from a config never comes here.
"""

from __future__ import annotations

from .config import SimConfig


def default_sim_config() -> SimConfig:
    """Compose ``configs/config.yaml`` with no overrides."""
    from sim.engine.compose import compose_config

    return compose_config([])
