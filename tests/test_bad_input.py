"""Bad configs stop before any run with one message naming the key and what is allowed."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from conftest import REPO, compose

from sim.core.config import ConfigError, PlatformConfig, validate
from sim.engine.compose import compose_config

# (override, key the message must name, fragments that say what is allowed)
BAD = {
    "unknown_key": ("merchants.cout=5", "merchants.cout", ["count", "real_firms", "origins"]),
    "wrong_type": ("merchants.count=abc", "merchants.count", ["integer"]),
    "probability_above_one": (
        "policy.enforcement.amazon.audit_probability_per_week=1.5",
        "policy.enforcement.amazon.audit_probability_per_week",
        ["[0, 1]"],
    ),
    "negative_count": ("merchants.count=-5", "merchants.count", ["[0, "]),
    "negative_fee": (
        "platforms.amazon.referral_fee_rate=-0.1",
        "platforms.amazon.referral_fee_rate",
        ["[0, 1]"],
    ),
    "end_before_start": ("time.end_date=2019-01-01", "time.end_date", ["2020-01-06"]),
    "unknown_preset": ("policy=foo", "policy", ["crackdown_2021", "none", "coordinated"]),
    "unknown_platform": (
        "+platforms.walmart.name=walmart",
        "platforms.walmart",
        ["amazon", "tiktok_shop"],
    ),
    "bad_penalty": (
        "policy.enforcement.amazon.penalty_ladder=[warning,death]",
        "policy.enforcement.amazon.penalty_ladder",
        ["death", "warning", "suspension", "ban"],
    ),
    "bad_targeting": (
        "policy.enforcement.amazon.targeting=psychic",
        "policy.enforcement.amazon.targeting",
        ["random", "risk"],
    ),
    # Hydra's "+" adds a key even under the schema; OmegaConf then dropped it silently
    "added_unknown_key": ("+merchants.cout=5", "merchants.cout", ["count", "real_firms"]),
}


def _check_message(message: str, key: str, allowed: list[str]) -> None:
    """Messages read ``<key>: <what is wrong and what is allowed>``."""
    message = message.removeprefix("error: ")
    assert message.startswith(key), message
    for fragment in allowed:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize("case", sorted(BAD))
def test_compose_config_raises_config_error_naming_the_key(case):
    override, key, allowed = BAD[case]
    with pytest.raises(ConfigError) as err:
        compose_config([override])
    _check_message(str(err.value), key, allowed)


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_stops_with_one_clear_message(case, tmp_path):
    override, key, allowed = BAD[case]
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "sim", override, f"hydra.run.dir={run_dir}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    _check_message(lines[0], key, allowed)
    assert proc.stdout.strip() == ""
    assert not run_dir.exists()  # stopped before anything was written


# Further spellings of the same user errors: the contract says "one clear message
# naming the key and the allowed range" for unknown platform names too.
@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("platforms.walmart.name=walmart", "platforms.walmart"),
        (
            "+policy.enforcement.walmart.audit_probability_per_week=0.1",
            "policy.enforcement.walmart",
        ),
    ],
    ids=["platform_without_plus", "enforcement_for_unknown_platform"],
)
def test_unknown_platform_in_other_spellings(override, key):
    with pytest.raises(ConfigError) as err:
        compose_config([override])
    _check_message(str(err.value), key, ["amazon", "ebay", "tiktok_shop"])


def test_adding_enforcement_for_a_platform_by_override():
    override = "+policy.enforcement.amazon.audit_probability_per_week=0.1"
    try:
        cfg = compose_config(["policy=none", override])
    except ConfigError as exc:
        assert str(exc).startswith("policy.enforcement.amazon"), str(exc)
    else:
        assert cfg.policy.enforcement["amazon"].audit_probability_per_week == 0.1


# ------------------------------------------------------- validate() directly


def _raises(cfg, key: str, *allowed: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    _check_message(str(err.value), key, list(allowed))


def test_validate_accepts_the_default_and_returns_it():
    cfg = compose()
    assert validate(cfg) is cfg


def test_validate_promotion_ending_before_it_starts():
    cfg = compose()
    cfg.platforms["tiktok_shop"].promotions[1].end_date = "2023-12-01"  # starts 2024-01-01
    _raises(cfg, "platforms.tiktok_shop.promotions[1].end_date", "start_date")


def test_validate_platform_name_must_match_key():
    cfg = compose()
    cfg.platforms["amazon"].name = "ebay"
    _raises(cfg, "platforms.amazon.name", "amazon")


def test_validate_unknown_platform_entry():
    cfg = compose()
    cfg.platforms["walmart"] = PlatformConfig(name="amazon")
    _raises(cfg, "platforms.walmart", "amazon", "tiktok_shop")


def test_validate_origin_shares_must_sum_to_one():
    cfg = compose()
    cfg.merchants.origins["CN"].share = 0.5
    _raises(cfg, "merchants.origins", "sum to 1")


@pytest.mark.parametrize(
    ("path", "value", "key", "allowed"),
    [
        (("merchants", "count"), True, "merchants.count", "integer"),
        (("merchants", "count"), 2.5, "merchants.count", "integer"),
        (("merchants", "count"), -1, "merchants.count", "[0, "),
        (("demand", "noise_sd"), math.nan, "demand.noise_sd", "finite"),
        (("demand", "noise_sd"), "0.1", "demand.noise_sd", "number"),
        (("time", "spinup_weeks"), 521, "time.spinup_weeks", "[0, 520]"),
        (("time", "start_date"), "2020-02-30", "time.start_date", "YYYY-MM-DD"),
        (("network", "topology"), "ring", "network.topology", "scale_free"),
        (("seed",), -3, "seed", "[0, "),
    ],
)
def test_validate_field_ranges_and_types(path, value, key, allowed):
    cfg = compose()
    obj = cfg
    for name in path[:-1]:
        obj = getattr(obj, name)
    setattr(obj, path[-1], value)
    _raises(cfg, key, allowed)


def test_validate_enforcement_fields():
    cfg = compose()
    cfg.policy.enforcement["amazon"].penalty_ladder = []
    _raises(cfg, "policy.enforcement.amazon.penalty_ladder", "warning")
    cfg = compose()
    cfg.policy.enforcement["amazon"].true_positive_rate = 1.01
    _raises(cfg, "policy.enforcement.amazon.true_positive_rate", "[0, 1]")


def test_validate_cross_references_to_platforms():
    cfg = compose("policy=coordinated")
    del cfg.platforms["tiktok_shop"]
    _raises(cfg, "policy.enforcement.tiktok_shop", "amazon")
    cfg = compose("policy=none")
    del cfg.platforms["amazon"]
    _raises(cfg, "merchants.origins.CN.initial_listing_probability.amazon", "ebay")
    cfg = compose()
    cfg.platforms.clear()
    _raises(cfg, "platforms", "amazon")


def test_validate_entry_window_dates():
    with pytest.raises(ConfigError, match=r"entry_windows\[0\]\.end_date: 2021-01-04 is before"):
        compose(
            'merchants.origins.CN.entry_windows=[{start_date: "2022-01-03", '
            'end_date: "2021-01-04"}]'
        )
    with pytest.raises(ConfigError, match="multiplier"):
        compose("merchants.origins.CN.entry_windows=[{multiplier: -1}]")


def test_validate_subsidy_window_and_type():
    cfg = compose()
    cfg.incentives.own_store_subsidy_end = "2021-01-01"
    _raises(cfg, "incentives.own_store_subsidy_end")
    with pytest.raises(ConfigError, match="SimConfig"):
        validate({"merchants": {"count": 5}})


def test_enforcement_key_of_any_platform_can_be_overridden_without_plus():
    cfg = compose_config(["policy=none", "policy.enforcement.ebay.audit_probability_per_week=0.1"])
    assert cfg.policy.enforcement["ebay"].audit_probability_per_week == 0.1
    assert cfg.policy.enforcement["amazon"].audit_probability_per_week == 0.0


# ------------------------------------------- issue 15: more bad input, one message each

LONG = "9" * 20_000
MORE = {
    "yaml_tag_in_value": ("seed=!!python/x", "seed", ["!!python", "not accepted"]),
    "unquoted_unicode": ("policy.name=日本", "policy.name", ["quote"]),
    "value_for_a_group": (
        "merchants=5",
        "merchants",
        ["count", "real_firms", "not a single value"],
    ),
    "no_equals_sign": ("foo", "foo", ["key=value", "merchants"]),
    "unknown_origin": ("merchants.origins.XX.share=0.5", "merchants.origins.XX", ["CN", "other"]),
    "preset_path": ("policy=../config", "policy", ["crackdown_2021", "none", "coordinated"]),
    "delete_group": ("~merchants", "~merchants", ["not allowed"]),
    "delete_policy": ("~policy", "~policy", ["not allowed", "policy=none"]),
    "date_without_dashes": ("time.start_date=20200106", "time.start_date", ["YYYY-MM-DD"]),
    "iso_week_date": ("time.start_date=2020-W02-1", "time.start_date", ["YYYY-MM-DD"]),
    "huge_number": (f"seed={LONG}", "seed", ["(20000 characters)"]),
    "huge_word": (f"merchants.count=x{LONG}", "merchants.count", ["(20001 characters)"]),
}


@pytest.mark.parametrize("case", sorted(MORE))
def test_more_bad_overrides_name_the_key(case):
    override, key, allowed = MORE[case]
    with pytest.raises(ConfigError) as err:
        compose_config([override])
    _check_message(str(err.value), key, allowed)
    assert len(str(err.value)) < 400  # a long value is never echoed in full


def test_dropping_a_platform_is_still_allowed():
    cfg = compose_config(["policy=none", "~platform@platforms.temu"])
    assert "temu" not in cfg.platforms


SWEEP_BAD = {
    "bool": (["fail_fast=maybe"], "fail_fast", ["true or false"]),
    "param_key": (
        ["+experiment.design.parameters.foo.bar=1"],
        "experiment.design.parameters.foo.bar",
        ["lower", "upper", "levels"],
    ),
    "design_kind": (
        ["experiment.design.kind=nope"],
        "experiment.design.kind",
        ["grid, lhs, sobol, morris, scenarios"],
    ),
    "profile_merchants": (["profile.merchants=-5"], "profile.merchants", ["[0, "]),
    "profile_end_date": (["profile.end_date=2019-01-01"], "profile.end_date", ["2020-01-06"]),
    "zero_merchants": (["profile.merchants=0"], "profile.merchants", ["at least 1"]),
    "chunk_size": (["executor.chunk_size=-1"], "executor.chunk_size", ["at least 0"]),
    "name_escape": (["experiment.name=../escape"], "experiment.name", ["plain name"]),
    "name_absolute": (["experiment.name=/tmp/abs"], "experiment.name", ["plain name"]),
    "foreign_run_function": (
        ["run_function=nosuchmodule:f"],
        "run_function",
        ["sim.engine.sweep:simulate", "allow_custom_run_function=true"],
    ),
    "missing_run_function": (
        ["run_function=nosuchmodule:f", "allow_custom_run_function=true"],
        "run_function",
        ["cannot import", "nosuchmodule"],
    ),
    "snapshot_date": (
        ["experiment.snapshot_dates=[20210419,2022-12-26]"],
        "experiment.snapshot_dates[0]",
        ["YYYY-MM-DD"],
    ),
    "delete_in_sweep": (["~experiment.base"], "~experiment.base", ["not allowed"]),
    "code_change_option": (["on_code_change=mix"], "on_code_change", ["stop, separate"]),
    "lock_wait": (["lock_wait_s=-1"], "lock_wait_s", ["at least 0"]),
    "added_unknown_key": (["+profile.mercants=5"], "profile.mercants", ["merchants"]),
}


@pytest.mark.parametrize("case", sorted(SWEEP_BAD))
def test_bad_sweep_overrides_name_the_key(case):
    from sim.engine.compose import compose_sweep
    from sim.engine.sweep import expand

    overrides, key, allowed = SWEEP_BAD[case]
    with pytest.raises(ConfigError) as err:
        expand(compose_sweep("certainty_severity", overrides))
    _check_message(str(err.value), key, allowed)
    assert "(" not in str(err.value).split(";")[-1] or case != "design_kind"  # no tuple repr


def _study(tmp_path, capsys, *args: str) -> tuple[int, str, str]:
    from experiments import certainty_severity
    from experiments._common import main

    rc = main("certainty_severity", certainty_severity.make_figures, [*args])
    out, err = capsys.readouterr()
    return rc, out, err


TINY_STUDY = [
    "profile.merchants=100",
    "profile.end_date=2021-06-28",
    "profile.spinup_weeks=2",
    "progress=false",
    "executor.workers=1",
    "experiment.scenarios={}",
    "experiment.baseline_scenario=''",
    "profile.grid_levels=1",  # one design point
]


@pytest.mark.parametrize(
    "override",
    ["run_function=nosuchmodule:f", "experiment.name=../escape", "executor.chunk_size=-1"],
)
def test_study_stops_before_writing_anything(tmp_path, capsys, override):
    results = tmp_path / "results"
    rc, out, err = _study(tmp_path, capsys, *TINY_STUDY, f"results_dir={results}", override)
    assert rc == 2 and out == ""
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert not results.exists() and list(tmp_path.iterdir()) == []


def test_one_replication_runs_and_skips_only_the_adequacy_figure(tmp_path, capsys):
    rc, out, err = _study(
        tmp_path, capsys, *TINY_STUDY, "profile.replications=1", f"results_dir={tmp_path}"
    )
    assert rc == 0, err
    # one design point in each of the study's three deletion-lag scenarios
    assert "3 done, 0 failed" in out and "figure skipped" in out and "Traceback" not in err
    assert list((tmp_path / "certainty_severity" / "figures").glob("heatmap_*.png"))


def test_unwritable_results_dir_is_one_message(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rc, out, err = _study(tmp_path, capsys, *TINY_STUDY, f"results_dir={blocker / 'sub'}")
    assert rc == 2 and "Traceback" not in err and out == ""
    assert err.startswith("error: results_dir: cannot write to") and err.count("\n") == 1, err
    # figures only, into a store whose figures/ cannot be written
    assert _study(tmp_path, capsys, *TINY_STUDY, f"results_dir={tmp_path}")[0] == 0
    figs = tmp_path / "certainty_severity" / "figures"
    for f in figs.iterdir():
        f.unlink()
    figs.rmdir()
    figs.write_text("in the way")
    rc, _, err = _study(tmp_path, capsys, *TINY_STUDY, f"results_dir={tmp_path}", "--figures-only")
    assert rc == 2 and err.startswith("error: results_dir: cannot write figures"), err


def test_broken_or_tagged_preset_yaml_is_one_config_error(tmp_path, monkeypatch):
    import shutil

    from sim.engine import compose as compose_mod

    configs = tmp_path / "configs"
    shutil.copytree(compose_mod.CONFIG_DIR, configs)
    marker = tmp_path / "executed"
    (configs / "policy" / "broken.yaml").write_text("name: broken\nenforcement: [unclosed\n")
    (configs / "policy" / "tagged.yaml").write_text(
        f"name: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    monkeypatch.setattr(compose_mod, "CONFIG_DIR", configs)
    with pytest.raises(ConfigError) as err:
        compose_config(["policy=broken"])
    assert str(err.value).startswith("configs/policy/broken.yaml, line "), str(err.value)
    with pytest.raises(ConfigError) as err:
        compose_config(["policy=tagged"])
    msg = str(err.value)
    assert msg.startswith("configs/policy/tagged.yaml, line 1"), msg
    assert "!!python/object/apply:os.system is not allowed" in msg
    assert not marker.exists()


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["-m", "merchants.count=-5,10"], "merchants.count"),
        (["-m", "merchants.cout=5"], "merchants.cout"),
        (["--cfg", "job", "merchants.count=abc"], "merchants.count"),
        (["~merchants"], "~merchants"),
        (["merchants.count=0"], "merchants.count"),
        (["--cfg", "job", "+merchants.cout=5"], "merchants.cout"),
        (["--cfg", "job", "++foo=1"], "foo"),
        (["--help", "merchants.cout=5"], "merchants.cout"),
    ],
    ids=[
        "multirun_bad_value",
        "multirun_unknown_key",
        "cfg_job",
        "delete",
        "zero_merchants",
        "cfg_job_added_key",
        "cfg_job_force_added_key",
        "help",
    ],
)
def test_cli_multirun_and_cfg_get_the_one_line_error(tmp_path, args, key):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            *args,
            f"hydra.run.dir={tmp_path / 'run'}",
            f"hydra.sweep.dir={tmp_path / 'multi'}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}:"), proc.stderr
    assert list(tmp_path.iterdir()) == []  # no multirun.yaml, no run dir
