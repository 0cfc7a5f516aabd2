"""``python -m sim`` end to end into a temporary run dir."""

from __future__ import annotations

import json
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


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    proc = run_cli(*OVERRIDES, f"hydra.run.dir={out}")
    return proc, out


def test_cli_exits_cleanly(cli_run):
    proc, _ = cli_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "crackdown_2021" in proc.stdout and "300 firms" in proc.stdout


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
