"""Agent-based model of cross-border merchants moving between e-commerce platforms.

Public API (see ../README.md):

    from sim import MarketModel, SimConfig, compose_config, run
    cfg = compose_config(["policy=none", "merchants.count=2000"])
    result = run(cfg)          # RunResult: .timeseries, .flows (DataFrames), .summary (dict)

Names are imported lazily so that ``import sim`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "MarketModel", "RunResult", "SimConfig", "compose_config", "run"]
__version__ = "0.2.0"

_WHERE = {
    "MarketModel": "sim.core.model",
    "Merchant": "sim.core.merchants",
    "SimConfig": "sim.core.config",
    "ConfigError": "sim.core.config",
    "compose_config": "sim.engine.compose",
    "run": "sim.engine.runner",
    "RunResult": "sim.engine.runner",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
