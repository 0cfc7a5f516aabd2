"""Random streams: one root seed and a replicate index, fixed sub-streams.

``SeedSequence(seed, spawn_key=(replicate, k))`` for a fixed key ``k`` per
process, so replicate r has the same initial population in every scenario
(common random numbers) and processes never share draws. The design point
never enters the seed.
"""

from __future__ import annotations

import numpy as np

STREAM_KEYS: dict[str, int] = {
    "population_CN": 0,
    "network": 1,
    "demand": 2,
    "enforcement": 3,
    "decisions": 4,
    "entry": 5,
    "mesa": 6,
    "population_other": 7,
    "pieces": 8,
    "reentry": 9,
}


def make_streams(seed: int, replicate: int) -> dict[str, np.random.Generator]:
    """Return one independent ``numpy.random.Generator`` per named process."""
    return {
        name: np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(replicate, key)))
        )
        for name, key in STREAM_KEYS.items()
    }
