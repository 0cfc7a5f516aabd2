"""``python -m sim`` end to end into a temporary run dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO, compose

from sim.engine.provenance import config_hash
from sim.engine.runner import CONTRACT_TIMESERIES, run

PNG = b"\x89PNG\r\n\x1a\n"
OVERRIDES = ["merchants.count=300"]


def run_cli(*args: str, timeout: float = 120, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One run as on a fresh machine: matplotlib has no config or font cache yet."""
    out = tmp_path_factory.mktemp("cli") / "run"
    home = tmp_path_factory.mktemp("xdg")
    env = {k: v for k, v in os.environ.items() if k != "MPLCONFIGDIR"}
    env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"))
    proc = run_cli(*OVERRIDES, f"hydra.run.dir={out}", env=env)
    proc.xdg = home
    return proc, out


def test_cli_exits_cleanly(cli_run):
    proc, _ = cli_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "crackdown_2021" in proc.stdout and "300 firms" in proc.stdout


def test_cli_closing_line_gives_the_headline_numbers(cli_run):
    """CN share of Amazon's sellers at three marks and stores banned, from summary.json."""
    proc, out = cli_run
    s = json.loads((out / "summary.json").read_text())
    headline = proc.stdout.strip().splitlines()[-2]
    for label in ("before_crackdown", "end_2021", "end_2023"):
        value = s[f"cn_share_of_amazon_sellers_{label}"]
        assert f"{100 * value:.1f}%" in headline, (label, headline)
    assert f"{s['stores_banned_real']:,.0f} real-world" in headline
    assert f"({s['stores_banned']:,.1f} at model scale)" in headline
    assert proc.stdout.strip().splitlines()[-1].endswith(f"wrote {out}")


def test_closing_lines_mark_dates_outside_the_run():
    from sim.__main__ import closing_lines

    summary = {
        "crackdown_start": "2021-04-26",
        "cn_share_of_amazon_sellers_before_crackdown": 0.4123,
        "stores_banned": 2.0,
        "stores_banned_real": 5000.0,
        **dict.fromkeys(("steps", "initial_merchants", "entered_merchants"), 1),
        **dict.fromkeys(("split_merchants", "exited_merchants", "stores_opened"), 1),
        "wall_time_s": 0.5,
    }
    head, _ = closing_lines(summary, "none", 10, REPO / "x")
    assert head == (
        "none: CN share of Amazon's sellers 41.2% before the crackdown (2021-04-26), "
        "n/a end-2021, n/a end-2023; stores banned: 5,000 real-world (2.0 at model scale)"
    )


def test_cli_first_run_is_quiet_and_writes_only_its_folder(cli_run):
    """No matplotlib font-cache lines, nothing under the (empty) user config and cache."""
    proc, out = cli_run
    assert "matplotlib" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert "font" not in (proc.stdout + proc.stderr).lower()
    assert not proc.stderr.strip(), proc.stderr
    assert not list(proc.xdg.rglob("*")), list(proc.xdg.rglob("*"))
    assert not [p.name for p in out.iterdir() if "matplotlib" in p.name]


def test_help_lists_what_python_m_sim_takes():
    """Only the groups of configs/config.yaml's defaults, each preset, our own header."""
    import yaml

    from sim.engine.compose import CONFIG_DIR, group_options

    proc = run_cli("--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "powered by Hydra" not in text and "Powered by Hydra" not in text
    assert text.startswith("python -m sim: one run of the seller-migration model")
    presets = text.split("== Presets (group=preset) ==")[1].split("== Config")[0]
    for sweep_group in ("executor", "experiment", "profile"):
        assert sweep_group not in presets, presets
    defaults = yaml.safe_load((CONFIG_DIR / "config.yaml").read_text())["defaults"]
    groups = {next(iter(d)).split("@")[0] for d in defaults if isinstance(d, dict)}
    assert groups == {"population", "platform", "policy"}
    for group in groups:
        for option in group_options(group):
            assert option in presets, (group, option)
    assert "policy=<preset>" in presets and "crackdown_2021*" in presets
    assert "platform@platforms.<name>=<preset>" in presets
    assert "seed: 20210425" in text  # the composed config, as Hydra shows it


def test_every_preset_the_help_lists_is_accepted():
    from sim.__main__ import presets_help
    from sim.engine.compose import compose_config, group_options

    text = presets_help()
    for group in ("policy", "population"):
        assert f"{group}=<preset>" in text
        for option in group_options(group):
            assert compose_config([f"{group}={option}", "merchants.count=100"])
    assert compose_config(["platform@platforms.ebay=ebay", "~platform@platforms.temu"])


def test_help_shows_the_overridden_scenario():
    proc = run_cli("--help", "policy=none", "merchants.count=300", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "This run: policy=none," in proc.stdout
    assert "300 model firms" in proc.stdout
    assert "  count: 300" in proc.stdout


def test_cfg_job_prints_what_the_run_uses(cli_run):
    """``--cfg job`` composes and checks exactly like a run and prints that config."""
    _, out = cli_run
    proc = run_cli("--cfg", "job", *OVERRIDES, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout) == yaml.safe_load(
        (out / ".hydra" / "config.yaml").read_text()
    )


@pytest.mark.parametrize(
    "name",
    [
        "timeseries.parquet",
        "flows.parquet",
        "summary.json",
        "provenance.json",
        ".hydra/config.yaml",
        "figures/platform_shares.png",
        "figures/migration_flows.png",
    ],
)
def test_cli_writes_contract_files(cli_run, name):
    _, out = cli_run
    path = out / name
    assert path.is_file(), name
    assert path.stat().st_size > 0
    if name.endswith(".png"):
        assert path.read_bytes()[:8] == PNG


def test_cli_leaves_no_temporary_files(cli_run):
    _, out = cli_run
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_cli_provenance(cli_run):
    _, out = cli_run
    prov = json.loads((out / "provenance.json").read_text())
    for key in ("git_sha", "git_dirty", "config_hash", "seed", "replicate", "packages"):
        assert key in prov, key
    assert prov["seed"] == 20210425 and prov["replicate"] == 0
    assert prov["config_hash"] == config_hash(compose(*OVERRIDES))
    assert isinstance(prov["git_dirty"], bool)
    assert isinstance(prov["git_sha"], str) and len(prov["git_sha"]) == 40
    for pkg in ("mesa", "numpy", "hydra-core", "pandas"):
        assert prov["packages"][pkg], pkg


def test_cli_hydra_config_records_the_overrides(cli_run):
    _, out = cli_run
    cfg = yaml.safe_load((out / ".hydra" / "config.yaml").read_text())
    assert cfg["merchants"]["count"] == 300
    assert cfg["policy"]["name"] == "crackdown_2021"
    assert "hydra" not in cfg


def test_cli_outputs_equal_the_python_api(cli_run):
    """Same config, same seed: the files hold exactly what ``run`` returns."""
    _, out = cli_run
    api = run(compose(*OVERRIDES))
    ts = pd.read_parquet(out / "timeseries.parquet")
    fl = pd.read_parquet(out / "flows.parquet")
    assert ts.columns[: len(CONTRACT_TIMESERIES)].tolist() == list(CONTRACT_TIMESERIES)
    pd.testing.assert_frame_equal(ts, api.timeseries, check_dtype=False, check_exact=True)
    pd.testing.assert_frame_equal(fl, api.flows, check_dtype=False, check_exact=True)
    summary = json.loads((out / "summary.json").read_text())
    expected = json.loads(json.dumps(api.summary))
    summary.pop("wall_time_s")
    expected.pop("wall_time_s")
    assert summary == expected
    # 300 sampled, plus the association members split out of them (docs/ODD.md, section 5)
    assert summary["initial_merchants"] > 300
