"""``python -m sim.analysis.compare``: pairing checks, differences, formats, headers, legend."""

from __future__ import annotations

import json
import shutil

import matplotlib.colors as mcolors
import numpy as np
import pytest
import yaml

from sim.analysis import compare, figures
from sim.engine.compose import compose_config
from sim.engine.provenance import config_dict
from sim.engine.runner import run, write_run

# 150 firms, 2 spin-up weeks, recorded to the end of 2021: past the crackdown start (2021-04-26)
TINY = ["merchants.count=150", "time.spinup_weeks=2", "time.end_date=2021-12-27"]


def _write(root, name, overrides):
    cfg = compose_config([*TINY, *overrides])
    d = root / name
    write_run(run(cfg), d)
    # what python -m sim stores beside the tables: the composed configuration
    (d / ".hydra").mkdir()
    plain = json.loads(json.dumps(config_dict(cfg)))
    (d / ".hydra" / "config.yaml").write_text(yaml.safe_dump(plain, sort_keys=False))
    return d


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {
        "crackdown": _write(root, "crackdown", []),
        "none": _write(root, "none", ["policy=none"]),
        "other_seed": _write(root, "other_seed", ["seed=7"]),
    }


def _cli(capsys, *args):
    code = compare.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _row(table: str, key: str) -> list[str]:
    line = next(ln for ln in table.splitlines() if ln.startswith(key + " "))
    return line.split()[1:]


def test_paired_runs_no_warning_and_a_difference_column(runs, tmp_path, capsys):
    code, out, err = _cli(capsys, runs["crackdown"], runs["none"], "--out", tmp_path)
    assert code == 0
    assert "warning" not in err
    header = out.splitlines()[0].split()
    assert header == ["crackdown_2021", "none", "crackdown_2021", "-", "none"]
    a = json.loads((runs["crackdown"] / "summary.json").read_text())
    b = json.loads((runs["none"] / "summary.json").read_text())
    key = "cn_share_of_amazon_sellers_before_crackdown"
    # paired: identical before the crackdown, so the difference there is exactly 0
    assert a[key] == b[key]
    assert _row(out, key) == [f"{a[key]:.3f}", f"{b[key]:.3f}", "0.000"]
    key = "cn_share_of_amazon_sellers_end_2021"
    assert a[key] != b[key]
    assert _row(out, key) == [f"{a[key]:.3f}", f"{b[key]:.3f}", f"{a[key] - b[key]:+.3f}"]
    assert a["stores_banned"] > 0 == b["stores_banned"]
    assert _row(out, "stores_banned")[1] == "0"  # a whole count, printed as an integer
    assert (tmp_path / "platform_shares.png").exists()
    assert (tmp_path / "headlines.json").exists()


def test_baseline_option_chooses_the_reference(runs, tmp_path, capsys):
    code, out, _ = _cli(
        capsys, runs["crackdown"], runs["none"], "--baseline", "crackdown_2021", "--out", tmp_path
    )
    assert code == 0 and "none - crackdown_2021" in out.splitlines()[0]
    code, _, err = _cli(
        capsys, runs["crackdown"], runs["none"], "--baseline", "x", "--out", tmp_path
    )
    assert code == 2 and "--baseline 'x': not a run" in err


def test_warns_when_seed_or_replicate_differ(runs, tmp_path, capsys):
    code, _, err = _cli(capsys, runs["other_seed"], runs["none"], "--out", tmp_path)
    assert code == 0
    assert "warning: runs not paired:" in err
    assert "seed 7, replicate 0" in err and "seed 20210425, replicate 0" in err
    # only the seed: the configurations agree outside the policy
    assert "beyond the policy" not in err


def test_warns_when_config_differs_beyond_the_policy(runs, tmp_path, capsys):
    changed = tmp_path / "more_firms"
    shutil.copytree(runs["none"], changed)
    cfg_path = changed / ".hydra" / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["merchants"]["count"] = 300
    cfg["platforms"]["temu"]["referral_fee_rate"] = 0.2
    cfg["policy"]["enforcement"]["amazon"]["audit_probability_per_week"] = 0.5  # the treatment
    cfg_path.write_text(yaml.safe_dump(cfg))
    _, _, err = _cli(capsys, runs["crackdown"], changed, "--out", tmp_path / "out")
    assert "differ beyond the policy: merchants.count (150 vs 300)" in err
    assert "platforms.temu.referral_fee_rate" in err
    assert "audit_probability" not in err
    assert "random streams" not in err
    # no stored configuration: said, not silently skipped
    (changed / ".hydra" / "config.yaml").unlink()
    _, _, err = _cli(capsys, runs["crackdown"], changed, "--out", tmp_path / "out")
    assert "cannot check that crackdown_2021 and none differ only in the policy" in err


def test_warns_when_code_differs():
    labels = ["a", "b"]
    summaries = [{"seed": 1, "replicate": 0}] * 2
    configs = [{"seed": 1, "merchants": {"count": 5}}] * 2
    same = [{"source_sha256": "x"}, {"source_sha256": "x"}]
    assert compare.pairing_problems(labels, summaries, configs, same) == []
    other = [{"source_sha256": "x"}, {"source_sha256": "y"}]
    (msg,) = compare.pairing_problems(labels, summaries, configs, other)
    assert "different model code" in msg


def test_counts_print_as_integers_and_shares_with_decimals():
    f = compare.format_value
    assert f("stores_banned", 0.0) == "0"
    assert f("stores_banned", 12.0) == "12"
    assert f("stores_banned", 7) == "7"
    assert f("stores_banned", 96.977) == "97.0"
    assert f("stores_banned", -3.0, signed=True) == "-3"
    assert f("stores_banned", 3.0, signed=True) == "+3"
    assert f("grey_share_amazon_end_2021", 0.0) == "0.000"
    assert f("grey_share_amazon_end_2021", 0.45678) == "0.457"
    assert f("grey_share_amazon_end_2021", -0.0123, signed=True) == "-0.012"
    assert f("stores_banned", None) == compare.MISSING
    assert f("stores_banned", float("nan")) == compare.MISSING


def test_runs_sharing_a_policy_get_distinct_headers(runs, tmp_path, capsys):
    # two crackdown_2021 runs, and two directories with the same name in different places
    twin = tmp_path / "elsewhere" / "crackdown"
    shutil.copytree(runs["crackdown"], twin)
    code, out, _ = _cli(capsys, runs["crackdown"], runs["other_seed"], twin, "--out", tmp_path)
    assert code == 0
    header = out.splitlines()[0]
    labels = compare.run_labels(
        [runs["crackdown"], runs["other_seed"], twin],
        [{"policy": "crackdown_2021"}] * 3,
    )
    assert len(set(labels)) == 3
    assert labels[1] == "crackdown_2021 (other_seed)"
    assert labels[0].endswith("/crackdown)") and labels[2] == "crackdown_2021 (elsewhere/crackdown)"
    for lab in labels:
        assert lab in header
    stored = json.loads((tmp_path / "headlines.json").read_text())
    assert sorted(stored) == sorted(labels)
    # given labels that collide are told apart too
    assert compare.run_labels(["a", "b"], [{}, {}], ["x", "x"]) == ["x (a)", "x (b)"]
    assert compare.run_labels(["d/a", "d/a"], [{}, {}], ["x", "x"]) == ["x (d/a) #1", "x (d/a) #2"]


def _distance(c1: str, c2: str) -> float:
    return float(np.linalg.norm(np.subtract(mcolors.to_rgb(c1), mcolors.to_rgb(c2))))


def test_run_legend_uses_no_platform_colour(runs):
    ts = {k: figures.load_run(runs[k])[0] for k in ("crackdown", "none")}
    fig = figures.plot_platform_shares(ts)
    run_legend = next(leg for leg in fig.legends if leg.get_title().get_text() == "run")
    platform_colours = [*figures.PLATFORM_COLORS.values(), figures._color("unknown")]
    handles = run_legend.legend_handles if hasattr(run_legend, "legend_handles") else []
    assert len(handles) == 2
    for h in handles:
        colour = mcolors.to_hex(h.get_color())
        assert min(_distance(colour, c) for c in platform_colours) > 0.3, colour
    # and the platform legend still shows the platforms in their own colours
    platform_legend = next(leg for leg in fig.legends if leg is not run_legend)
    for h, text in zip(platform_legend.legend_handles, platform_legend.get_texts(), strict=True):
        assert mcolors.to_hex(h.get_color()) == figures.PLATFORM_COLORS[text.get_text()]
