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
    del cfg.platforms["temu"]
    _raises(cfg, "policy.enforcement.temu", "amazon")
    cfg = compose("policy=none")
    del cfg.platforms["amazon"]
    _raises(cfg, "merchants.origins.CN.initial_listing_probability.amazon", "ebay")
    cfg = compose()
    cfg.platforms.clear()
    _raises(cfg, "platforms", "amazon")


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
