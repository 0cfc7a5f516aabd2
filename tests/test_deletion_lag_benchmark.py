"""benchmarks/deletion_lag.py (the deletion-lag table of docs/validation.md) on hand-made runs."""

from __future__ import annotations

import math

import pytest

from benchmarks import deletion_lag as dl


def test_paired_t_hand_values():
    mean, t = dl.paired_t([1.0, 2.0, 4.0], [0.0, 0.0, 1.0])  # differences 1, 2, 3
    assert mean == pytest.approx(2.0)
    assert t == pytest.approx(2.0 / (1.0 / math.sqrt(3)))
    assert dl.paired_t([1.0, 2.0], [0.0, 1.0]) == (1.0, math.inf)
    assert dl.paired_t([1.0, math.nan, 3.0], [1.0, 0.0, 3.0]) == (0.0, 0.0)
    assert math.isnan(dl.paired_t([1.0], [0.0])[1])


def test_table_has_each_lag_and_the_paired_contrasts():
    runs = [
        {
            "lag": lag,
            "replicate": rep,
            "grey_share_amazon_end_2021": 0.4,
            "grey_share_amazon_end_2023": 0.2 + lag / 10_000 + rep / 1000,
            "cn_share_of_amazon_sellers_end_2021": math.nan,
            "stores_banned_real": 100_000.0 - lag * 10 + rep,
        }
        for lag in (30, 100, 300)
        for rep in range(3)
    ]
    lines = dl.table(runs, [30, 100, 300], against=100).splitlines()
    assert [ln.split(" |")[0] for ln in lines[2:]] == [
        "| 30 days",
        "| 100 days (reference)",
        "| 300 days",
        "| 30 - 100, paired t",
        "| 300 - 100, paired t",
        "| 30 - 300, paired t",
    ]
    cells = [c.strip() for c in lines[-1].strip("| ").split(" | ")]
    assert cells[1] == "+0.000 (t = 0.0)"  # identical in every pair
    assert cells[2].startswith("-0.027 (t = ")  # 0.003 - 0.030 in every pair
    assert cells[3] == "nan (t = nan)"  # not reached by the run
    assert cells[4].startswith("+2,700 (t = ")  # (30 - 300) x -10 real stores
