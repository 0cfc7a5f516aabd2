"""The engine against the per-agent reference model in a larger world (slow).

The same test as ``test_reference_equivalence.py`` (Mann-Whitney U per
outcome, Bonferroni at a family-wise 0.01) at 300 sampled firms, about 400
rows with the association members split out (~10 min on one core). It lives in
its own file so that pytest-xdist (``--dist loadfile``) runs it on a worker of
its own instead of after the small-world test.
"""

from __future__ import annotations

import pytest
from test_reference_equivalence import LARGER_WORLD, _check


@pytest.mark.slow
def test_engine_and_reference_agree_in_a_larger_world():
    _check(LARGER_WORLD)
