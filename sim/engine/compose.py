"""Compose a validated :class:`SimConfig` from the Hydra presets in ``configs/``.

Hydra composes YAML presets over the dataclass schema (registered here in
Hydra's ConfigStore as ``sim_schema``), OmegaConf checks keys and types, and
:func:`sim.core.config.validate` checks ranges and cross-field rules. Every
failure becomes one :class:`ConfigError` that names the key and what is allowed.
"""

from __future__ import annotations

import contextlib
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


#: Longest run of non-space characters echoed in a message; longer ones are cut.
MAX_ECHO = 80


def clip(text: str) -> str:
    """Cut long values in a message: ``'xxxx…' (20000 characters)``."""

    def cut(m: re.Match) -> str:
        word = m.group(0)
        tail = re.search(r"['\"]?[;:,.)\]]*$", word).group(0)
        quote = tail[:1] if tail[:1] in ("'", '"') else ""
        lead = word[:1] if word[:1] in ("'", '"') else ""
        n = len(word) - len(lead) - len(tail)  # the value itself, without quotes
        return f"{word[:40]}…{quote} ({n} characters){tail[len(quote) :]}"

    return re.sub(rf"\S{{{MAX_ECHO + 1},}}", cut, text)


def _schema_classes() -> dict[str, type]:
    import dataclasses

    from sim.core import config as c

    from . import design, sweep

    out = {}
    for mod in (c, design, sweep):
        for name, obj in vars(mod).items():
            if isinstance(obj, type) and dataclasses.is_dataclass(obj):
                out[name] = obj
    return out


def _fields_of(cls_name: str) -> list[str]:
    import dataclasses

    cls = _schema_classes().get(cls_name)
    return [f.name for f in dataclasses.fields(cls)] if cls else []


def _example(key: str) -> str:
    return {"merchants": "merchants.count=1000", "fail_fast": "fail_fast=true"}.get(
        key, "merchants.count=1000"
    )


def check_overrides(overrides: list[str], sweep: bool = False) -> None:
    """Our checks of each override before Hydra composes (parse, deletions, preset names).

    Raises:
        ConfigError: an override that cannot be parsed (naming its key), a
            deletion (``~key``: it would silently leave schema defaults), or a
            preset name that is not one of the group's presets.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    top = ", ".join(allowed_sweep_keys("") if sweep else allowed_keys(""))
    for text in overrides:
        key, eq, value = text.partition("=")
        key = key.strip()
        if not eq and not key.startswith("~"):
            raise ConfigError(
                clip(
                    f"{key or repr(text)}: not an override; write key=value, e.g. "
                    f"{_example('')}; top-level keys: {top}"
                )
            )
        try:
            ov = parser.parse_overrides([text])[0]
        except (HydraException, ValueError) as exc:
            name = key.lstrip("+~")
            if "!!" in value:
                why = "YAML tags such as !!python/... are not accepted (values are plain data)"
            elif "int_max_str_digits" in str(exc) or "digits" in str(exc):
                why = "a number with that many digits is not allowed"
            else:
                why = (
                    "write plain values (numbers, true/false, words, [lists]) and quote "
                    f"anything else, e.g. {name}='...'"
                )
            raise ConfigError(clip(f"{name}: cannot read the value {value!r}; {why}")) from None
        name = ov.key_or_group
        if ov.is_delete():
            if (
                not sweep
                and name == "platform"
                and re.fullmatch(r"platforms\.\w+", ov.package or "")
            ):
                continue  # the documented way to drop a platform: ~platform@platforms.temu
            raise ConfigError(
                clip(
                    f"{ov.get_key_element()}: removing a config entry is not allowed (the run "
                    "would silently fall back to schema defaults); choose a preset or set "
                    "keys instead, e.g. policy=none"
                    + ("" if sweep else "; only ~platform@platforms.<name> drops a platform")
                )
            )
        if name.startswith("hydra") or not (CONFIG_DIR / name).is_dir():
            continue
        values = list(ov.sweep_string_iterator()) if ov.is_sweep_override() else [ov.value()]
        opts = group_options(name)
        for v in values:
            if not isinstance(v, str) or v not in opts:
                raise ConfigError(
                    clip(f"{name}: unknown preset {str(v)!r}; choose one of {', '.join(opts)}")
                )


def multirun_expansions(overrides: list[str]) -> list[list[str]]:
    """Override lists that together try every value of every swept key (``-m`` mode).

    The first list takes the first value of each swept key; each further list
    changes one key to another of its values. Raises ConfigError for an
    override that cannot be parsed.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    check_overrides([o for o in overrides if not o.lstrip("+~").startswith("hydra")])
    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(overrides)
    except HydraException as exc:  # pragma: no cover - check_overrides parsed each one
        raise _friendly(exc) from None
    firsts, choices = [], []
    for text, ov in zip(overrides, parsed, strict=True):
        if ov.is_sweep_override():
            vals = list(ov.sweep_string_iterator())
            firsts.append(f"{ov.get_key_element()}={vals[0]}")
            choices.append((len(firsts) - 1, ov.get_key_element(), vals[1:]))
        else:
            firsts.append(text)
    out = [firsts]
    for i, key, vals in choices:
        for v in vals:
            trial = list(firsts)
            trial[i] = f"{key}={v}"
            out.append(trial)
    return out


def _friendly(exc: BaseException, sweep: bool = False) -> ConfigError:
    """Turn a Hydra/OmegaConf exception into one ConfigError naming key and allowed values."""
    return ConfigError(clip(str(_friendly_raw(exc, sweep))))


def _friendly_raw(exc: BaseException, sweep: bool = False) -> ConfigError:
    text = str(exc)
    causes = []
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(causes) < 4:
        causes.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    full = "\n".join([text, *causes])
    ov = re.search(r"(?:Error merging override|Could not override) '?([^'\s=]+)", full)
    ovkey = ov.group(1).lstrip("+~") if ov else None
    m = re.search(r"Invalid type assigned: (\w+) is not a subclass of (\w+)", full)
    fk = re.search(r"full_key: ([\w.\[\]]+)", full)
    if m and ovkey and not ovkey.startswith(("platforms.", "policy.enforcement.")):
        cls, fields = m.group(2), ", ".join(_fields_of(m.group(2)))
        full_key = fk.group(1) if fk else ovkey
        if ovkey == full_key or (
            not ovkey.endswith("." + full_key.split(".")[-1])
            and (ovkey.count(".") <= full_key.count("."))
        ):
            return ConfigError(
                f"{ovkey}: is a group of settings ({cls}), not a single value; set one of its "
                f"keys, e.g. {ovkey}.<key>=...; keys: {fields}"
            )
        parent, _, last = ovkey.rpartition(".")
        return ConfigError(f"{ovkey}: {last!r} is not a key of {parent} ({cls}); keys: {fields}")
    m = re.search(
        r"Key '([^']+)' is not in struct\s+full_key: ([\w.]+)\s+reference_type=Dict", full
    )
    if m and m.group(2).endswith("origins." + m.group(1)):
        from sim.core.config import ORIGINS

        return ConfigError(f"{m.group(2)}: unknown origin; choose {' or '.join(ORIGINS)}")
    if m and m.group(2).endswith("design.parameters." + m.group(1)):
        return ConfigError(
            f"{m.group(2)}: not a parameter of this design; parameters (dotted model keys with "
            "lower/upper or levels) are declared in configs/experiment/<name>.yaml"
        )
    v = re.search(r"Value '([^']*)' is not a valid (\w+)", full)
    if v and fk:
        hint = "; use true or false" if v.group(2) == "bool" else ""
        return ConfigError(f"{fk.group(1)}: {v.group(1)!r} is not a valid {v.group(2)}{hint}")
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
    if ovkey:
        return ConfigError(f"{ovkey}: {first.strip()}")
    return ConfigError(f"bad configuration: {first.strip()}")


def _added_keys(node: Any, path: str = "") -> tuple[str, list[str]] | None:
    """The first key that is not a field of its schema dataclass, with the allowed fields.

    Hydra's ``+key=value`` (and ``++key=value``) adds a key even under a
    structured config, and ``OmegaConf.to_object`` then drops it without a word,
    so a typo such as ``+merchants.cout=5`` would silently run the defaults.
    """
    import dataclasses

    from omegaconf import DictConfig, ListConfig, OmegaConf

    if not isinstance(node, DictConfig | ListConfig) or node._is_none() or node._is_missing():
        return None
    if isinstance(node, ListConfig):
        for i, item in enumerate(node):
            found = _added_keys(item, f"{path}[{i}]")
            if found:
                return found
        return None
    kind = OmegaConf.get_type(node)
    fields = [f.name for f in dataclasses.fields(kind)] if dataclasses.is_dataclass(kind) else None
    for key in node.keys():
        full = f"{path}.{key}" if path else str(key)
        if fields is not None and key not in fields:
            return full, fields
        found = _added_keys(node._get_node(key), full)
        if found:
            return found
    return None


def _added_key_error(cfg: Any) -> ConfigError | None:
    """One ConfigError naming a key added with ``+`` that the schema lacks (None if none)."""
    found = _added_keys(cfg)
    if not found:
        return None
    key, allowed = found
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    where = f"under {parent}" if parent else "at the top level"
    return ConfigError(clip(f"{key}: unknown key; allowed keys {where}: {', '.join(allowed)}"))


def to_sim_config(cfg: Any) -> SimConfig:
    """Convert a composed OmegaConf config (schema-typed) to a validated SimConfig."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        if OmegaConf.is_config(cfg):
            added = _added_key_error(cfg)
            if added is not None:
                raise added
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
    import yaml
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    register_schema()
    overrides = list(overrides or [])
    check_overrides(overrides)
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(config_name=CONFIG_NAME, overrides=overrides)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise _friendly(exc) from None
    try:
        return to_sim_config(cfg)
    except ConfigError as exc:
        raise ConfigError(clip(str(exc))) from None


def _yaml_error(exc: Exception) -> ConfigError:
    """A preset file that is not plain YAML data: name the file, line and problem."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = "a preset file"
    if mark is not None:
        name = Path(str(mark.name))
        with contextlib.suppress(ValueError):
            name = name.relative_to(CONFIG_DIR.parent)
        where = f"{name}, line {mark.line + 1}, column {mark.column + 1}"
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    tag = re.search(r"tag '?(tag:yaml.org,2002:[^'\s]+|![^'\s]*)", str(exc))
    if tag:
        problem = (
            f"the tag {tag.group(1).replace('tag:yaml.org,2002:', '!!')} is not allowed "
            "(presets are plain YAML data; nothing in them is executed)"
        )
    return ConfigError(clip(f"{where}: {problem}"))


def compose_sweep(experiment: str, overrides: list[str] | None = None):
    """Compose ``configs/sweep.yaml`` with ``experiment=<name>`` and Hydra overrides.

    Example: ``compose_sweep("certainty_severity", ["profile=paper", "executor=dask"])``.

    Raises:
        ConfigError: unknown experiment, profile, executor or key; wrong type.
    """
    import yaml
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from .sweep import SweepConfig

    register_schema()
    ov = [f"experiment={experiment}", *(overrides or [])]
    check_overrides(ov, sweep=True)
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(config_name="sweep", overrides=ov)
        added = _added_key_error(cfg)
        obj = OmegaConf.to_object(cfg)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise _friendly(exc, sweep=True) from None
    if added is not None:
        raise added
    if not isinstance(obj, SweepConfig):
        raise ConfigError("sweep configuration does not follow the SweepConfig schema")
    return obj
