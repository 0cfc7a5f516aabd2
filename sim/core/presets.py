"""Presets for ``MarketModel()`` built without a config: the defaults, or overrides.

The presets are YAML files composed by Hydra in the engine layer; this is the
one place the core reaches up to it, lazily, so that ``MarketModel()`` and
``MarketModel(overrides=[...], **settings)`` (the keyword form that
``mesa.batch_run`` uses) work out of the box. Code that builds a model from a
config never comes here.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .config import ConfigError, SimConfig

# values Hydra reads as the same word unquoted (no quoting needed, nothing to misread)
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*|\d{4}-\d{2}-\d{2}")
_WORDS = {"true", "false", "null", "nan", "inf"}


def default_sim_config() -> SimConfig:
    """Compose ``configs/config.yaml`` with no overrides."""
    from sim.engine.compose import compose_config

    return compose_config([])


def override_value(key: str, value: Any) -> str:
    """``value`` written as a Hydra override value (``key`` names it in errors).

    Numbers and booleans as YAML scalars, strings quoted unless a plain word
    (preset names stay plain: ``policy=none``), lists and tuples as ``[a,b]``.

    Raises:
        ConfigError: a value of another type (dicts, objects).
    """
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()  # numpy scalars (np.linspace in a batch_run grid)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in _WORDS:
            return value
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list | tuple):
        return "[" + ",".join(override_value(key, v) for v in value) + "]"
    raise ConfigError(
        f"{key}: cannot use a {type(value).__name__} as a value; give a number, "
        "true/false, a string or a list"
    )


def settings_overrides(settings: Mapping[str, Any]) -> list[str]:
    """Keyword settings (``{"merchants.count": 500, "policy": "none"}``) as Hydra overrides."""
    return [f"{key}={override_value(key, value)}" for key, value in settings.items()]


def compose_with(overrides: Sequence[str] | None, settings: Mapping[str, Any]) -> SimConfig:
    """Compose the presets with ``overrides`` and then the keyword ``settings``.

    Raises:
        ConfigError: ``overrides`` not a list of strings, or the composer's one
            message for a bad key or value.
    """
    from sim.engine.compose import compose_config

    if isinstance(overrides, str) or not all(isinstance(o, str) for o in overrides or []):
        raise ConfigError(
            "overrides: expected a list of strings such as ['policy=none', "
            f"'merchants.count=2000'], got {overrides!r}"
        )
    return compose_config([*(overrides or []), *settings_overrides(settings)])
