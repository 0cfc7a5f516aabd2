"""``python -m sim [overrides]``: one run of the default scenario into a Hydra run dir.

Examples::

    python -m sim                              # crackdown_2021, 2020-2025, weekly
    python -m sim policy=none seed=7           # the no-enforcement baseline
    python -m sim merchants.count=20000 hydra.run.dir=results/runs/big
    python -m sim -m policy=none,crackdown_2021 replicate=0,1   # Hydra multirun

Writes timeseries.parquet, flows.parquet, summary.json, provenance.json,
.hydra/config.yaml and figures/*.png (see README "Outputs").
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim.core.config import ConfigError

#: Hydra flags after which no run happens (info) or the config is not ours. ``--help``
#: is not among them: it shows the config composed from the overrides, so they are checked.
_NO_RUN = ("--hydra-help", "--info", "--version", "--shell-completion", "-sc")
_OTHER_CONFIG = ("--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd")
#: Hydra flags that take a value (``--cfg job``); the value is not an override.
_WITH_VALUE = ("--cfg", "-c", "--package", "-p", "--experimental-rerun")


def _prevalidate(argv: list[str]) -> str | None:
    """Compose the overrides before Hydra starts, for one clean error message.

    Also in multirun mode (``-m``: every value of every swept key is tried), with
    ``--cfg`` and with ``--help``; nothing is written before this passes.
    """
    overrides, multirun, skip = [], False, False
    for a in argv:
        if skip:
            skip = False
            continue
        flag = a.split("=", 1)[0]
        if flag in _NO_RUN or flag in _OTHER_CONFIG:
            return None
        if a in ("-m", "--multirun"):
            multirun = True
        elif a in _WITH_VALUE:
            skip = True
        elif a.startswith("-"):
            continue  # --resolve, --run, --cfg=job, ...
        elif not a.lstrip("+~").startswith("hydra"):
            overrides.append(a)
    from sim.engine.compose import compose_config, multirun_expansions
    from sim.engine.sweep import require_merchants

    try:
        for trial in multirun_expansions(overrides) if multirun else [overrides]:
            require_merchants(compose_config(trial))
    except ConfigError as exc:
        return str(exc)
    return None


def _first_comment(path: Path) -> str:
    """A preset's one-line description: its first comment, without sources or detail."""
    import re

    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.lstrip("# ").strip()
        if not line.startswith("#"):
            break
        if text and not text.startswith("@package"):
            text = re.sub(r"\s*\([^()]*\)", "", text)  # "(Marketplace Pulse 2021)"
            return re.split(r"[:(]|\.(?:\s|$)", text, maxsplit=1)[0].strip()
    return ""


def presets_help() -> str:
    """The preset groups ``python -m sim`` takes, read from the defaults of configs/config.yaml.

    Shown by ``python -m sim --help`` (the ``sim_presets`` resolver in its template).
    """
    import yaml

    from sim.engine.compose import CONFIG_DIR, CONFIG_NAME, group_options

    defaults = yaml.safe_load((CONFIG_DIR / f"{CONFIG_NAME}.yaml").read_text(encoding="utf-8"))
    chosen: dict[str, list[tuple[str, str]]] = {}  # group -> [(package, default preset)]
    for entry in defaults["defaults"]:
        if isinstance(entry, dict):
            ((key, value),) = entry.items()
            group, _, package = key.partition("@")
            chosen.setdefault(group, []).append((package, value))
    lines = []
    for group in sorted(chosen, key=lambda g: (len(chosen[g]) > 1, g)):  # one-slot groups first
        slots = chosen[group]
        if len(slots) == 1 and not slots[0][0]:
            lines.append(f"{group}=<preset>")
            width = max(len(o) for o in group_options(group)) + 2
            for option in group_options(group):
                mark = "*" if option == slots[0][1] else " "
                desc = _first_comment(CONFIG_DIR / group / f"{option}.yaml")
                lines.append(f"  {option + mark:<{width}} {desc}".rstrip())
        else:  # one slot per package, e.g. platform@platforms.amazon
            prefix = slots[0][0].rpartition(".")[0]
            names = ", ".join(pkg.rpartition(".")[2] for pkg, _ in slots)
            lines.append(f"{group}@{prefix}.<name>=<preset>")
            lines.append(f"  presets: {', '.join(group_options(group))}")
            lines.append(f"  <name>: {names} (each defaults to the preset of its name)")
            last = slots[-1][0]
            lines.append(f"  '~{group}@{last}' drops a {group}")
    lines.append("(* = default)")
    return "\n".join(lines)


def _quiet_matplotlib(out: Path) -> Path | None:
    """Keep matplotlib's font cache inside the run folder and its log lines off the console.

    matplotlib writes its config and font cache under ``~/.config`` or
    ``~/.cache`` on first use (and logs "generated new fontManager"); a run
    writes nothing outside its own folder, so unless ``MPLCONFIGDIR`` is set the
    cache goes to a temporary folder inside the run folder, removed at the end
    (returned; None when nothing was created). Set ``MPLCONFIGDIR`` to keep a
    cache between runs.
    """
    import logging
    import os
    import tempfile

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    if "matplotlib" in sys.modules or os.environ.get("MPLCONFIGDIR"):
        return None
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".matplotlib-", dir=out))
    os.environ["MPLCONFIGDIR"] = str(tmp)
    return tmp


def _pct(summary: dict, key: str) -> str:
    value = summary.get(key)
    return "n/a" if value is None else f"{100 * value:.1f}%"


def closing_lines(summary: dict, policy: str, firms: int, out: Path) -> list[str]:
    """What ``python -m sim`` prints at the end: headline numbers, then counts and folder.

    Every number comes from the run's ``summary`` (docs/outputs.md); "n/a" marks
    a date outside the run's recorded weeks.
    """
    s = summary
    banned = s.get("stores_banned")
    banned_real = s.get("stores_banned_real")
    bans = (
        "n/a" if banned is None else f"{banned_real:,.0f} real-world ({banned:,.1f} at model scale)"
    )
    return [
        f"{policy}: CN share of Amazon's sellers "
        f"{_pct(s, 'cn_share_of_amazon_sellers_before_crackdown')} before the crackdown "
        f"({s.get('crackdown_start')}), "
        f"{_pct(s, 'cn_share_of_amazon_sellers_end_2021')} end-2021, "
        f"{_pct(s, 'cn_share_of_amazon_sellers_end_2023')} end-2023; stores banned: {bans}",
        f"{s['steps']} weeks, {firms} firms "
        f"({s['initial_merchants']} rows with the association members split out; "
        f"+{s['entered_merchants']} entered, +{s['split_merchants']} split off joiners, "
        f"-{s['exited_merchants']} exited), "
        f"{s['stores_opened']} stores, {s['wall_time_s']:.2f} s simulated; wrote {out}",
    ]


def _task(cfg) -> None:
    import logging

    from hydra.core.hydra_config import HydraConfig

    from sim.engine.compose import to_sim_config
    from sim.engine.sweep import require_merchants

    try:
        config = to_sim_config(cfg)
        require_merchants(config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    out = Path(HydraConfig.get().runtime.output_dir)
    mpl_tmp = _quiet_matplotlib(out)
    try:
        _run_and_plot(config, out)
    finally:
        if mpl_tmp is not None:
            import shutil

            shutil.rmtree(mpl_tmp, ignore_errors=True)


def _run_and_plot(config, out: Path) -> None:
    from sim.analysis import figures
    from sim.engine.runner import crackdown_date, run, write_run

    result = run(config)
    write_run(result, out)
    prov = {
        "config_hash": result.summary.get("config_hash"),
        "policy": config.policy.name,
        "seed": config.seed,
        "replicate": config.replicate,
    }
    from sim.engine.provenance import config_hash, git_version

    prov.update(git_version(), config_hash=config_hash(config))
    start = crackdown_date(config)
    figures.save(
        figures.plot_platform_shares({config.policy.name: result.timeseries}, start),
        out / "figures" / "platform_shares",
        prov,
    )
    figures.save(
        figures.plot_migration(result.flows, start),
        out / "figures" / "migration_flows",
        prov,
    )
    for line in closing_lines(result.summary, config.policy.name, config.merchants.count, out):
        print(line)


def main() -> None:
    """Entry point: validate, then hand over to Hydra."""
    err = _prevalidate(sys.argv[1:])
    if err is not None:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    import hydra
    from omegaconf import OmegaConf

    from sim.engine.compose import CONFIG_DIR, CONFIG_NAME, register_schema

    register_schema()
    OmegaConf.register_new_resolver("sim_presets", presets_help, replace=True)  # --help
    hydra.main(config_path=str(CONFIG_DIR), config_name=CONFIG_NAME, version_base="1.3")(_task)()


if __name__ == "__main__":
    main()
