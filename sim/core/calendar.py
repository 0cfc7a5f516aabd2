"""Weekly calendar: step t is the week starting ``origin + 7 t`` days.

The run simulates ``spinup_weeks`` before ``start_date`` (so the initial
population can settle) and records from ``start_date`` on: ``origin =
start_date - 7 * spinup_weeks`` days and recorded step ``s`` is model step
``spinup + s``.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from .config import SimConfig, parse_date

DAYS_PER_WEEK = 7


class Calendar:
    """Map between steps (weeks) and calendar dates."""

    def __init__(self, cfg: SimConfig) -> None:
        self.start = parse_date(cfg.time.start_date, "time.start_date")
        self.end = parse_date(cfg.time.end_date, "time.end_date")
        self.spinup = int(cfg.time.spinup_weeks)
        self.origin = self.start - dt.timedelta(days=DAYS_PER_WEEK * self.spinup)
        self.n_recorded = (self.end - self.start).days // DAYS_PER_WEEK + 1
        self.n_steps = self.spinup + self.n_recorded

    def date(self, step: int) -> dt.date:
        """Date of the first day of week ``step``."""
        return self.origin + dt.timedelta(days=DAYS_PER_WEEK * step)

    def first_step_on_or_after(self, date: str | dt.date) -> int:
        """First step whose week starts on or after ``date`` (may be <0 or >n_steps)."""
        days = (parse_date(date, "date") - self.origin).days
        return math.ceil(days / DAYS_PER_WEEK)

    def last_step_on_or_before(self, date: str | dt.date) -> int:
        """Last step whose week starts on or before ``date``."""
        days = (parse_date(date, "date") - self.origin).days
        return math.floor(days / DAYS_PER_WEEK)

    def dates(self) -> np.ndarray:
        """Week-start dates of all model steps (spin-up included) as ``datetime64[D]``."""
        return np.datetime64(self.origin, "D") + DAYS_PER_WEEK * np.arange(self.n_steps)

    def years_since_start(self, step: int) -> float:
        """Years from ``start_date`` to week ``step`` (negative during spin-up)."""
        return (step - self.spinup) / 52.0


def days_to_weeks(days: float) -> int:
    """Round a duration in days to whole weeks (at least 0)."""
    return max(0, round(days / DAYS_PER_WEEK))
