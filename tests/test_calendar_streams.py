"""Calendar (weeks and dates, spin-up), random streams, and small model helpers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import compose
from numpy.testing import assert_array_equal

from sim.core.calendar import Calendar, days_to_weeks
from sim.core.model import MarketModel, _split_count, best_only
from sim.core.streams import STREAM_KEYS, make_streams
from sim.engine.runner import run

# ------------------------------------------------------------------ calendar


def _calendar(spinup: int, start="2020-01-06", end="2020-12-28") -> Calendar:
    cfg = compose(f"time.spinup_weeks={spinup}", f"time.start_date={start}", f"time.end_date={end}")
    return Calendar(cfg)


def test_calendar_spinup_offset():
    cal = _calendar(52)
    assert cal.origin == dt.date(2019, 1, 7)  # 52 weeks before 2020-01-06
    assert cal.date(0) == dt.date(2019, 1, 7)
    assert cal.date(52) == dt.date(2020, 1, 6)
    assert cal.n_recorded == 52  # 2020-01-06 .. 2020-12-28 inclusive
    assert cal.n_steps == 104
    assert cal.years_since_start(52) == 0.0
    assert cal.years_since_start(104) == 1.0
    assert cal.years_since_start(0) == -1.0


def test_calendar_without_spinup_and_dates_array():
    cal = _calendar(0)
    assert cal.origin == dt.date(2020, 1, 6)
    dates = cal.dates()
    assert dates.dtype == np.dtype("datetime64[D]")
    assert dates.size == cal.n_steps == 52
    assert dates[0] == np.datetime64("2020-01-06")
    assert dates[-1] == np.datetime64("2020-12-28")
    assert (np.diff(dates) == np.timedelta64(7, "D")).all()


def test_calendar_rounding_of_dates_to_weeks():
    cal = _calendar(0)
    # 2020-01-14 is a Tuesday: first week on or after is 2020-01-20 (step 2)
    assert cal.first_step_on_or_after("2020-01-14") == 2
    assert cal.last_step_on_or_before("2020-01-14") == 1
    assert cal.first_step_on_or_after("2020-01-13") == 1
    assert cal.last_step_on_or_before("2020-01-13") == 1
    assert cal.first_step_on_or_after("2019-12-30") == -1
    assert cal.first_step_on_or_after(dt.date(2021, 1, 4)) == 52


def test_calendar_single_week_run():
    cal = _calendar(3, end="2020-01-06")
    assert cal.n_recorded == 1 and cal.n_steps == 4


def test_days_to_weeks():
    assert days_to_weeks(90) == 13
    assert days_to_weeks(100) == 14
    assert days_to_weeks(28) == 4
    assert days_to_weeks(0) == 0
    assert days_to_weeks(-14) == 0


def test_recorded_steps_start_at_start_date_after_spinup():
    res = run(compose("merchants.count=50", "time.spinup_weeks=5", "time.end_date=2020-03-30"))
    ts, summary = res.timeseries, res.summary
    assert ts["step"].min() == 0
    assert ts.loc[ts.step == 0, "date"].unique().tolist() == [np.datetime64("2020-01-06")]
    assert ts["step"].max() == 12
    assert summary["spinup_steps"] == 5 and summary["recorded_steps"] == 13
    assert summary["steps"] == 18
    assert len(ts) == 13 * 6 * 2


def test_model_refuses_to_step_past_its_horizon():
    m = MarketModel(
        compose("merchants.count=20", "time.spinup_weeks=0", "time.end_date=2020-01-13")
    )
    m.step()
    m.step()
    assert not m.running
    with pytest.raises(RuntimeError, match="2 weeks"):
        m.step()


# ------------------------------------------------------------------- streams


def test_streams_follow_the_documented_seed_sequence():
    streams = make_streams(7, 3)
    assert set(streams) == set(STREAM_KEYS)
    for name, key in STREAM_KEYS.items():
        ref = np.random.Generator(np.random.PCG64(np.random.SeedSequence(7, spawn_key=(3, key))))
        assert_array_equal(streams[name].random(5), ref.random(5))


def test_streams_are_deterministic_and_independent():
    a, b = make_streams(1, 0), make_streams(1, 0)
    first = {name: g.random(8) for name, g in a.items()}
    for name, g in b.items():
        assert_array_equal(g.random(8), first[name])
    draws = list(first.values())
    for i in range(len(draws)):
        for j in range(i + 1, len(draws)):
            assert not np.array_equal(draws[i], draws[j])
    # drawing from one stream leaves the others untouched
    c = make_streams(1, 0)
    c["demand"].random(1000)
    for name in STREAM_KEYS:
        if name != "demand":
            assert_array_equal(c[name].random(8), first[name])


@pytest.mark.parametrize("name", sorted(STREAM_KEYS))
def test_streams_differ_by_replicate_and_seed(name):
    base = make_streams(1, 0)[name].random(8)
    assert not np.array_equal(make_streams(1, 1)[name].random(8), base)
    assert not np.array_equal(make_streams(2, 0)[name].random(8), base)
    # seed 0 is a seed like any other (never treated as "no seed")
    zero = make_streams(0, 0)[name].random(8)
    assert_array_equal(zero, make_streams(0, 0)[name].random(8))
    assert not np.array_equal(zero, base)


# ------------------------------------------------------------- model helpers


def test_best_only_keeps_the_best_eligible_column():
    eligible = np.array(
        [[True, True, False], [False, False, False], [True, False, True], [False, True, False]]
    )
    value = np.array([[1.0, 5.0, 9.0], [3.0, 2.0, 1.0], [-4.0, 10.0, -1.0], [0.0, -7.0, 3.0]])
    got = best_only(eligible, value)
    # row 0: 9 is not eligible; row 2: 10 is not eligible; row 3: only column 1
    assert_array_equal(
        got,
        [[False, True, False], [False, False, False], [False, False, True], [False, True, False]],
    )
    assert got.dtype == bool


def test_best_only_ties_go_to_the_first_column():
    got = best_only(np.array([[True, True]]), np.array([[2.0, 2.0]]))
    assert_array_equal(got, [[True, False]])


@pytest.mark.parametrize(
    ("total", "shares", "expected"),
    [
        (10, [0.37, 0.63], [4, 6]),
        (10, [1 / 3, 1 / 3, 1 / 3], [4, 3, 3]),
        (5000, [0.37, 0.63], [1850, 3150]),
        (1, [0.37, 0.63], [0, 1]),
        (0, [0.37, 0.63], [0, 0]),
        (7, [1.0, 0.0], [7, 0]),
        (7, [0.0, 1.0], [0, 7]),
        (100, [0.29, 0.71], [29, 71]),  # 100 * 0.29 = 28.999999999999996
    ],
)
def test_split_count_largest_remainder(total, shares, expected):
    got = _split_count(total, shares)
    assert got == expected
    assert sum(got) == total
