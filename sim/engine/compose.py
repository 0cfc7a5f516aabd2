"""Compose a validated :class:`SimConfig` from the Hydra presets in ``configs/``.

Hydra composes YAML presets over the dataclass schema (registered here in
Hydra's ConfigStore as ``sim_schema``), OmegaConf checks keys and types, and
:func:`sim.core.config.validate` checks ranges and cross-field rules. Every
failure becomes one :class:`ConfigError` that names the key and what is allowed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sim.core.config import KNOWN_PLATFORMS as KNOWN
from sim.core.config import ConfigError, SimConfig, validate

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
CONFIG_NAME = "config"
_REGISTERED = False


def register_schema() -> None:
    """Register the model and sweep schemas with Hydra's ConfigStore (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    from hydra.core.config_store import ConfigStore

    from .sweep import SweepConfig

    ConfigStore.instance().store(name="sim_schema", node=SimConfig)
    ConfigStore.instance().store(name="sweep_schema", node=SweepConfig)
    _REGISTERED = True


def group_options(group: str) -> list[str]:
    """Preset names available in a config group (e.g. ``policy``)."""
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def allowed_keys(path: str) -> list[str]:
    """Child keys the schema allows under a dotted ``path`` ('' for the top)."""
    import dataclasses

    from sim.core import config as c

    node: Any = SimConfig()
    dict_items = {
        "platforms": c.PlatformConfig(),
        "origins": c.OriginConfig(),
        "enforcement": c.EnforcementConfig(),
    }
    parts = [p for p in path.split(".") if p]
    i = 0
    while i < len(parts):
        name = parts[i]
        if name in dict_items and dataclasses.is_dataclass(node) and hasattr(node, name):
            node = dict_items[name]
            i += 2  # skip the dict key (platform or origin name)
            continue
        if not dataclasses.is_dataclass(node) or not hasattr(node, name):
            return []
        node = getattr(node, name)
        i += 1
    if dataclasses.is_dataclass(node):
        return [f.name for f in dataclasses.fields(node)]
    return []


def allowed_sweep_keys(path: str) -> list[str]:
    """Child keys the sweep schema allows under a dotted ``path``."""
    import dataclasses

    from .sweep import SweepConfig

    node: Any = SweepConfig()
    for name in [p for p in path.split(".") if p]:
        if not dataclasses.is_dataclass(node) or not hasattr(node, name):
            return []
        node = getattr(node, name)
    return [f.name for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node) else []


def _friendly(exc: BaseException, sweep: bool = False) -> ConfigError:
    """Turn a Hydra/OmegaConf exception into one ConfigError naming key and allowed values."""
    text = str(exc)
    cause = exc.__cause__ or exc.__context__
    full = text + ("\n" + str(cause) if cause else "")
    m = re.search(r"Could not find '([\w/]+)/([^']+)'", full) or re.search(
        r"In '[^']*': Could not find '([\w/]+)/([^']+)'", full
    )
    if m:
        group, name = m.group(1), m.group(2)
        opts = group_options(group)
        return ConfigError(f"{group}: unknown preset {name!r}; choose one of {', '.join(opts)}")
    m = re.search(r"Key '([^']+)' not in '\w+'\s+full_key: ([\w.\[\]]+)", full)
    if m:
        key = m.group(2)
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        allowed = allowed_sweep_keys(parent) if sweep else allowed_keys(parent)
        where = f"under {parent}" if parent else "at the top level"
        hint = f"; allowed keys {where}: {', '.join(allowed)}" if allowed else ""
        if key == "merchants.scale":
            hint = (
                "; the real firms per model firm are derived (merchants.real_firms / "
                "merchants.count): set merchants.real_firms instead" + hint
            )
        return ConfigError(f"{key}: unknown key{hint}")
    m = re.search(r"override '?\+?platforms\.(\w+)", full)
    if m and (m.group(1) not in KNOWN or "not in struct" in full):
        return ConfigError(
            f"platforms.{m.group(1)}: unknown platform; add one with "
            f"platform@platforms.<name>=<preset>, <name> one of {', '.join(KNOWN)}"
        )
    m = re.search(r"override '?\+?policy\.enforcement\.(\w+)", full)
    if m and (m.group(1) not in KNOWN or "not a subclass" in full or "not in struct" in full):
        name = m.group(1)
        if name not in KNOWN:
            return ConfigError(
                f"policy.enforcement.{name}: unknown platform; choose from {', '.join(KNOWN)}"
            )
        return ConfigError(
            f"policy.enforcement.{name}: not in this policy preset; every preset lists all "
            f"platforms, so set its keys without '+', e.g. "
            f"policy.enforcement.{name}.audit_probability_per_week=0.1"
        )
    m = re.search(r"An item is already at '([^']+)'", full)
    if m:
        return ConfigError(f"{m.group(1)}: already set; override it without '+'")
    m = re.search(r"full_key: ([\w.\[\]]+)", full)
    v = re.search(r"Value '([^']*)' (?:of type '\w+' )?could not be converted to (\w+)", full)
    if m and v:
        return ConfigError(f"{m.group(1)}: {v.group(1)!r} is not a valid {v.group(2).lower()}")
    if m:
        first = full.strip().splitlines()[0]
        return ConfigError(f"{m.group(1)}: {first}")
    first = next((ln for ln in full.strip().splitlines() if ln.strip()), full)
    return ConfigError(f"bad configuration: {first.strip()}")


def to_sim_config(cfg: Any) -> SimConfig:
    """Convert a composed OmegaConf config (schema-typed) to a validated SimConfig."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        if OmegaConf.is_config(cfg):
            cfg = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:
        raise _friendly(exc) from None
    if not isinstance(cfg, SimConfig):
        raise ConfigError("configuration does not follow the SimConfig schema")
    return validate(cfg)


def compose_config(overrides: list[str] | None = None) -> SimConfig:
    """Compose the default preset plus Hydra ``overrides`` into a validated SimConfig.

    Example: ``compose_config(["policy=none", "merchants.count=1000", "seed=7"])``.

    Raises:
        ConfigError: one message naming the offending key and what is allowed.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    register_schema()
    overrides = list(overrides or [])
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(config_name=CONFIG_NAME, overrides=overrides)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise _friendly(exc) from None
    return to_sim_config(cfg)


def compose_sweep(experiment: str, overrides: list[str] | None = None):
    """Compose ``configs/sweep.yaml`` with ``experiment=<name>`` and Hydra overrides.

    Example: ``compose_sweep("certainty_severity", ["profile=paper", "executor=dask"])``.

    Raises:
        ConfigError: unknown experiment, profile, executor or key; wrong type.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from .sweep import SweepConfig

    register_schema()
    ov = [f"experiment={experiment}", *(overrides or [])]
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(config_name="sweep", overrides=ov)
        obj = OmegaConf.to_object(cfg)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise _friendly(exc, sweep=True) from None
    if not isinstance(obj, SweepConfig):
        raise ConfigError("sweep configuration does not follow the SweepConfig schema")
    return obj
