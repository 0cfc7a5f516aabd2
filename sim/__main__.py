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

#: Hydra flags after which no run happens (help, info) or the config is not ours.
_NO_RUN = ("--help", "-h", "--hydra-help", "--info", "--version", "--shell-completion", "-sc")
_OTHER_CONFIG = ("--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd")
#: Hydra flags that take a value (``--cfg job``); the value is not an override.
_WITH_VALUE = ("--cfg", "-c", "--package", "-p", "--experimental-rerun")


def _prevalidate(argv: list[str]) -> str | None:
    """Compose the overrides before Hydra starts, for one clean error message.

    Also in multirun mode (``-m``: every value of every swept key is tried) and
    with ``--cfg``; nothing is written before this passes.
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


def _task(cfg) -> None:
    import logging

    from hydra.core.hydra_config import HydraConfig

    from sim.analysis import figures
    from sim.engine.compose import to_sim_config
    from sim.engine.runner import crackdown_date, run, write_run
    from sim.engine.sweep import require_merchants

    try:
        config = to_sim_config(cfg)
        require_merchants(config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    out = Path(HydraConfig.get().runtime.output_dir)
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
    s = result.summary
    print(
        f"{config.policy.name}: {s['steps']} weeks, {config.merchants.count} firms "
        f"({s['initial_merchants']} rows with the association members split out; "
        f"+{s['entered_merchants']} entered, +{s['split_merchants']} split off joiners, "
        f"-{s['exited_merchants']} exited), "
        f"{s['stores_opened']} stores, {s['wall_time_s']:.2f} s simulated; wrote {out}"
    )


def main() -> None:
    """Entry point: validate, then hand over to Hydra."""
    err = _prevalidate(sys.argv[1:])
    if err is not None:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    import hydra

    from sim.engine.compose import CONFIG_DIR, CONFIG_NAME, register_schema

    register_schema()
    hydra.main(config_path=str(CONFIG_DIR), config_name=CONFIG_NAME, version_base="1.3")(_task)()


if __name__ == "__main__":
    main()
